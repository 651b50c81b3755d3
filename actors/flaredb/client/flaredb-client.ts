// The flaredb client every other component (and flaredb's own HTTP API) uses: StrongKv for strong
// namespaces, the raw operations for eventual ones, namespace management and the placement
// driver's views. It routes each request by region (a cache filled from the placement driver),
// sends it to the region's leader, and on a routing refusal — not the leader, the region was split,
// the epoch moved on — updates the cache and retries transparently until the deadline. Stores
// refuse before proposing or when applying, so a refused write never took effect and re-sending it
// is safe; a write whose fate is unknown (no answer) is reported, not re-sent.
import type { ActorSystem, ReplyFor } from '../../../runtime/actors/index.ts';
import { defineActor } from '../../../runtime/actors/index.ts';
import { UltraError, isUltraError } from '../../../runtime/errors.ts';
import { internalKey, namespaceRange } from '../core/keyspace.ts';
import type { NamespaceInfo } from '../core/pd-machine.ts';
import { regionErrorOf, type RegionMeta } from '../core/region.ts';
import { checkExpectedVersion, checkKey, checkMode, checkNamespace, checkScan, checkValue, type ConsistencyMode } from '../core/validate.ts';
import { ATTEMPT_TIMEOUT_MS, PdClient, isAmbiguous, outcomeUnknown, sleep, wasUndelivered, type StoreDirectory } from './pd-client.ts';
import { RegionCache, type CachedRegion } from './region-cache.ts';
import { storeRef, type KvMsg, type MoveView, type RawEntry, type RegionInfo, type StoreStatus, type StoreView, type WatchMsg } from '../store/messages.ts';
import type { CasResult, ChangeEvent, ChangeFeed, ScanPage, StrongKv, VersionedEntry } from './strong-kv.ts';

export interface FlaredbClientOptions {
  readonly system: ActorSystem;
  readonly directory: StoreDirectory;
  /** Upper bound on one request, routing retries included (default 10 s). */
  readonly requestTimeoutMs?: number;
  /** Upper bound on ensureStrongNamespace, which components call while the cluster may still be starting (default 60 s). */
  readonly startupTimeoutMs?: number;
}

export interface RawScanPage {
  readonly entries: readonly RawEntry[];
  readonly nextKey?: string;
}

type Routing = 'leader' | 'any';

let watchSeq = 0;
/** How often a change feed asks its store whether it still serves it. */
const FEED_CHECK_MS = 2_000;

export class FlaredbClient implements StrongKv {
  readonly #system: ActorSystem;
  readonly #directory: StoreDirectory;
  readonly #timeoutMs: number;
  readonly #startupTimeoutMs: number;
  readonly #pd: PdClient;
  readonly #cache = new RegionCache();

  constructor(options: FlaredbClientOptions) {
    this.#system = options.system;
    this.#directory = options.directory;
    this.#timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#startupTimeoutMs = options.startupTimeoutMs ?? 60_000;
    this.#pd = new PdClient(options.system, options.directory, this.#timeoutMs);
  }

  // ---- namespaces ------------------------------------------------------------------------------

  /** Creates a namespace; AlreadyExists if the name is taken. */
  async createNamespace(name: string, mode: ConsistencyMode): Promise<NamespaceInfo> {
    checkNamespace(name);
    checkMode(mode);
    const result = await this.#pd.call({ type: 'pd.ns.create', id: this.#system.env.newId(), name, mode }, false);
    if (!result.created) throw new UltraError('AlreadyExists', `namespace '${name}' already exists (${result.namespace.mode})`);
    return result.namespace;
  }

  async ensureStrongNamespace(namespace: string): Promise<void> {
    checkNamespace(namespace);
    const result = await this.#pd.call({ type: 'pd.ns.create', id: this.#system.env.newId(), name: namespace, mode: 'strong' }, false, this.#startupTimeoutMs);
    if (result.namespace.mode !== 'strong') throw new UltraError('FailedPrecondition', `namespace '${namespace}' exists and is ${result.namespace.mode}, not strong`);
  }

  getNamespace(name: string): Promise<NamespaceInfo> {
    checkNamespace(name);
    return this.#pd.call({ type: 'pd.ns.get', name }, true);
  }

  listNamespaces(): Promise<NamespaceInfo[]> {
    return this.#pd.call({ type: 'pd.ns.list' }, true);
  }

  // ---- strong ------------------------------------------------------------------------------------

  async get(namespace: string, key: string): Promise<VersionedEntry | undefined> {
    checkNamespace(namespace);
    checkKey(key);
    const entry = await this.#routed(internalKey(namespace, key), 'leader', true, (r) => ({ type: 'kv.get', region: r.id, epoch: r.epoch, ns: namespace, key }));
    return entry ?? undefined;
  }

  async compareAndSwap(namespace: string, key: string, value: Uint8Array, expectedVersion: number): Promise<CasResult> {
    checkNamespace(namespace);
    checkKey(key);
    checkValue(value);
    checkExpectedVersion(expectedVersion);
    const id = this.#system.env.newId();
    return this.#routed(internalKey(namespace, key), 'leader', false, (r) => ({ type: 'kv.cas', id, region: r.id, epoch: r.epoch, ns: namespace, key, value, expected: expectedVersion }));
  }

  /** Writes `value` whatever the key's version (a strong, unconditional put); returns the new version. */
  async put(namespace: string, key: string, value: Uint8Array): Promise<number> {
    checkNamespace(namespace);
    checkKey(key);
    checkValue(value);
    const id = this.#system.env.newId();
    const result = await this.#routed(internalKey(namespace, key), 'leader', false, (r) => ({ type: 'kv.cas', id, region: r.id, epoch: r.epoch, ns: namespace, key, value, expected: null }));
    return result.version;
  }

  async delete(namespace: string, key: string, expectedVersion?: number): Promise<CasResult> {
    checkNamespace(namespace);
    checkKey(key);
    if (expectedVersion !== undefined) checkExpectedVersion(expectedVersion);
    const id = this.#system.env.newId();
    return this.#routed(internalKey(namespace, key), 'leader', false, (r) => ({ type: 'kv.delete', id, region: r.id, epoch: r.epoch, ns: namespace, key, expected: expectedVersion ?? null }));
  }

  async scan(namespace: string, startKey: string, endKey: string | undefined, limit: number): Promise<ScanPage> {
    checkNamespace(namespace);
    const range = checkScan(startKey, endKey, limit);
    const page = await this.#scanRegions<VersionedEntry>(namespace, range.start, range.end, range.limit, 'leader', (r, from, to, n) => ({ type: 'kv.scan', region: r.id, epoch: r.epoch, ns: namespace, from, to, limit: n }));
    return page.nextKey === undefined ? { entries: page.entries } : { entries: page.entries, nextKey: page.nextKey };
  }

  async watch(namespace: string, prefix: string, onChange: (event: ChangeEvent) => void, onReset: () => void): Promise<ChangeFeed> {
    checkNamespace(namespace);
    if (typeof prefix !== 'string') throw new UltraError('InvalidArgument', 'watch prefix must be a string');
    if (prefix.length > 0) checkKey(prefix, 'watch prefix');
    return startWatch(this, this.#system, this.#directory, namespace, prefix, onChange, onReset, this.#timeoutMs);
  }

  // ---- eventual ----------------------------------------------------------------------------------

  /** Writes `value` (last writer wins by TSO timestamp); returns the write's timestamp. */
  async rawPut(namespace: string, key: string, value: Uint8Array): Promise<bigint> {
    checkNamespace(namespace);
    checkKey(key);
    checkValue(value);
    const result = await this.#routed(internalKey(namespace, key), 'any', true, (r) => ({ type: 'raw.put', region: r.id, epoch: r.epoch, ns: namespace, key, value }));
    return result.ts;
  }

  async rawGet(namespace: string, key: string): Promise<RawEntry | undefined> {
    checkNamespace(namespace);
    checkKey(key);
    const entry = await this.#routed(internalKey(namespace, key), 'any', true, (r) => ({ type: 'raw.get', region: r.id, epoch: r.epoch, ns: namespace, key }));
    return entry ?? undefined;
  }

  /** Deletes the key (a tombstone that wins over older writes); whether this replica had it. */
  async rawDelete(namespace: string, key: string): Promise<boolean> {
    checkNamespace(namespace);
    checkKey(key);
    const result = await this.#routed(internalKey(namespace, key), 'any', true, (r) => ({ type: 'raw.delete', region: r.id, epoch: r.epoch, ns: namespace, key }));
    return result.existed;
  }

  async rawScan(namespace: string, startKey: string, endKey: string | undefined, limit: number): Promise<RawScanPage> {
    checkNamespace(namespace);
    const range = checkScan(startKey, endKey, limit);
    return this.#scanRegions<RawEntry>(namespace, range.start, range.end, range.limit, 'any', (r, from, to, n) => ({ type: 'raw.scan', region: r.id, epoch: r.epoch, ns: namespace, from, to, limit: n }));
  }

  // ---- cluster views -----------------------------------------------------------------------------

  regions(): Promise<RegionInfo[]> {
    return this.#pd.call({ type: 'pd.regions' }, true);
  }

  region(id: number): Promise<RegionInfo> {
    if (!Number.isSafeInteger(id) || id < 1) throw new UltraError('InvalidArgument', `region id must be a positive integer, got ${id}`);
    return this.#pd.call({ type: 'pd.region', id }, true);
  }

  stores(): Promise<StoreView[]> {
    return this.#pd.call({ type: 'pd.stores' }, true);
  }

  /** `count` consecutive timestamps from the oracle; returns the first. */
  tso(count = 1): Promise<bigint> {
    return this.#pd.call({ type: 'pd.tso', count }, true);
  }

  /** Splits a region at `key` (a user key in `namespace`) or, with neither, at its middle key. */
  async splitRegion(id: number, split?: { readonly namespace: string; readonly key: string }): Promise<{ left: RegionMeta; right: RegionMeta }> {
    const key = split === undefined ? null : internalKey(checkNamespace(split.namespace), checkKey(split.key));
    const info = await this.#freshRegion(id);
    return this.#toRegionLeader(info, (timeoutMs, target) => this.#system.ask(storeRef(target), { type: 'region.split', region: id, key }, { timeoutMs }));
  }

  /** Moves a region's leadership to another of its peers. */
  async transferLeader(id: number, to: string): Promise<void> {
    const info = await this.#freshRegion(id);
    if (!info.peers.includes(to)) throw new UltraError('InvalidArgument', `${to} holds no replica of region ${id} (peers: ${info.peers.join(', ')})`);
    await this.#toRegionLeader(info, (timeoutMs, target) => this.#system.ask(storeRef(target), { type: 'region.transfer-leader', region: id, to }, { timeoutMs }));
  }

  /**
   * Starts moving region `id`'s replica from store `from` (a voter) to store `to` (see
   * pd.region.move); resolves once the PD started it — the region's `move` shows it until done.
   */
  async moveRegion(id: number, from: string, to: string): Promise<MoveView> {
    if (!Number.isSafeInteger(id) || id < 1) throw new UltraError('InvalidArgument', `region id must be a positive integer, got ${id}`);
    if (typeof from !== 'string' || typeof to !== 'string' || from === '' || to === '' || from === to) throw new UltraError('InvalidArgument', 'a move needs two different store ids, from and to');
    return this.#pd.call({ type: 'pd.region.move', region: id, from, to }, true);
  }

  /** A store's own view of its replicas. */
  storeStatus(node: string): Promise<StoreStatus> {
    return this.#system.ask(storeRef(node), { type: 'store.status' }, { timeoutMs: ATTEMPT_TIMEOUT_MS });
  }

  /** Forgets every cached route (tests; after a cluster reconfiguration). */
  clearRoutes(): void {
    for (const region of [...this.#cache.all()]) this.#cache.invalidate(region.meta.id);
  }

  /** The PD's view of a region, waiting a little for one a split just created (its report may be in flight). */
  async #freshRegion(id: number): Promise<RegionInfo> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.region(id);
      } catch (error) {
        if (!isUltraError(error, 'NotFound') || attempt >= 20) throw error;
        await sleep(this.#system, 50);
      }
    }
  }

  // ---- routing -----------------------------------------------------------------------------------

  /** The cached route for `key`; asks the PD when there is none, or when the leader must be known and is not. */
  async #locate(key: string, needLeader: boolean): Promise<CachedRegion> {
    const cached = this.#cache.locate(key);
    if (cached !== undefined && (cached.leader !== null || !needLeader)) return cached;
    let info: RegionInfo;
    try {
      info = await this.#pd.call({ type: 'pd.locate', key }, true);
    } catch (error) {
      // The PD's view is only a hint when we already have a route.
      if (cached !== undefined) return cached;
      throw error;
    }
    const meta: RegionMeta = { id: info.id, start: info.start, end: info.end, epoch: info.epoch, peers: info.peers, learners: info.learners ?? [] };
    return this.#cache.put(meta, info.leader) ?? { meta, leader: info.leader };
  }

  /** Where to send: the leader (strong), or for eventual requests this node's replica when it has one. */
  #target(region: CachedRegion, routing: Routing, attempt: number): string {
    const peers = region.meta.peers;
    if (routing === 'any' && attempt === 0 && peers.includes(this.#system.nodeId)) return this.#system.nodeId;
    if (region.leader !== null && (routing === 'leader' || attempt < 2)) return region.leader;
    return peers[attempt % peers.length]!;
  }

  /**
   * Sends the request built for the region holding `key` until it is answered or the deadline
   * passes. `idempotent` requests are also re-sent after ambiguous failures.
   */
  async #routed<Q extends KvMsg>(key: string, routing: Routing, idempotent: boolean, build: (region: RegionMeta) => Q): Promise<ReplyFor<KvMsg, Q>> {
    const env = this.#system.env;
    const deadline = env.monotonicNow() + this.#timeoutMs;
    let lastError: unknown;
    for (let attempt = 0; ; attempt++) {
      const left = deadline - env.monotonicNow();
      if (left <= 0) throw new UltraError('Unavailable', `flaredb: no replica answered in time (${lastError === undefined ? 'timeout' : UltraError.from(lastError).message}); retry, or check \`ultracloud cluster status\``);
      let region: CachedRegion;
      try {
        // A write sent to a guessed (possibly dead) peer could only fail as "outcome unknown": ask the PD who leads.
        region = await this.#locate(key, routing === 'leader' && !idempotent);
      } catch (error) {
        if (!isUltraError(error, 'Unavailable')) throw error;
        lastError = error;
        await sleep(this.#system, Math.min(25 * (attempt + 1), 250));
        continue;
      }
      const target = this.#target(region, routing, attempt);
      try {
        const reply = (await this.#system.ask(storeRef(target), build(region.meta) as never, { timeoutMs: Math.min(left, ATTEMPT_TIMEOUT_MS) })) as ReplyFor<KvMsg, Q>;
        // Only the leader answers strong requests: remember who did.
        if (routing === 'leader') this.#cache.setLeader(region.meta.id, target);
        return reply;
      } catch (error) {
        lastError = error;
        if (await this.#reroute(region, target, error, idempotent, attempt)) continue;
        throw error;
      }
    }
  }

  /** After a failed attempt: updates the routes and says whether to retry (throws when the outcome is unknown). */
  async #reroute(region: CachedRegion, target: string, error: unknown, idempotent: boolean, attempt: number): Promise<boolean> {
    const refusal = regionErrorOf(error);
    if (refusal !== undefined) {
      switch (refusal.kind) {
        case 'not-leader':
          if (refusal.leader !== null && refusal.leader !== target) {
            this.#cache.setLeader(region.meta.id, refusal.leader);
            return true;
          }
          this.#cache.setLeader(region.meta.id, null);
          break;
        case 'epoch-not-match':
        case 'key-not-in-region':
          this.#cache.invalidate(region.meta.id);
          if (refusal.current !== null) this.#cache.put(refusal.current, null);
          break;
        case 'region-not-found':
          this.#cache.setLeader(region.meta.id, null);
          if (attempt % region.meta.peers.length === region.meta.peers.length - 1) this.#cache.invalidate(region.meta.id);
          break;
      }
      await sleep(this.#system, Math.min(10 * (attempt + 1), 200));
      return true;
    }
    if (wasUndelivered(error)) {
      this.#cache.setLeader(region.meta.id, null);
      await sleep(this.#system, Math.min(20 * (attempt + 1), 200));
      return true;
    }
    if (isAmbiguous(error)) {
      if (!idempotent) {
        // Whoever we thought led may be gone: find the leader afresh for the next request.
        this.#cache.setLeader(region.meta.id, null);
        throw outcomeUnknown('flaredb write');
      }
      this.#cache.setLeader(region.meta.id, null);
      await sleep(this.#system, Math.min(20 * (attempt + 1), 200));
      return true;
    }
    return false;
  }

  async #toRegionLeader<R>(info: RegionInfo, send: (timeoutMs: number, target: string) => Promise<R>): Promise<R> {
    const env = this.#system.env;
    const deadline = env.monotonicNow() + this.#timeoutMs;
    let target = info.leader ?? info.peers[0]!;
    for (let attempt = 0; ; attempt++) {
      const left = deadline - env.monotonicNow();
      if (left <= 0) throw new UltraError('Unavailable', `region ${info.id}: no leader answered in time; retry`);
      try {
        return await send(Math.min(left, ATTEMPT_TIMEOUT_MS * 5), target);
      } catch (error) {
        const refusal = regionErrorOf(error);
        if (refusal?.kind === 'not-leader' && refusal.leader !== null && refusal.leader !== target) {
          target = refusal.leader;
          continue;
        }
        if (refusal === undefined && !wasUndelivered(error)) throw error;
        target = info.peers[(attempt + 1) % info.peers.length]!;
        await sleep(this.#system, Math.min(25 * (attempt + 1), 250));
      }
    }
  }

  /** A scan across regions in key order: each region's part in turn, until the page is full. */
  async #scanRegions<E extends { readonly key: string }>(
    namespace: string,
    start: string,
    end: string | undefined,
    limit: number,
    routing: Routing,
    build: (region: RegionMeta, from: string, to: string | null, limit: number) => KvMsg,
  ): Promise<{ entries: E[]; nextKey?: string }> {
    const range = namespaceRange(namespace, start, end);
    const entries: E[] = [];
    let cursor = range.from;
    for (;;) {
      const want = limit - entries.length;
      let regionEnd: string | null = null;
      const page = (await this.#routed(cursor, routing, true, (region) => {
        regionEnd = region.end;
        const to = region.end !== null && region.end < range.to ? region.end : end === undefined ? null : range.to;
        return build(region, cursor, to, want);
      })) as unknown as { entries: E[]; more: boolean };
      entries.push(...page.entries);
      const lastEnd = regionEnd as string | null;
      if (entries.length >= limit) {
        const last = entries[entries.length - 1]!;
        if (page.more) return { entries, nextKey: last.key + '\u0000' };
        if (lastEnd !== null && lastEnd < range.to) return { entries, nextKey: userKeyOf(namespace, lastEnd) };
        return { entries };
      }
      if (lastEnd === null || lastEnd >= range.to) return { entries };
      cursor = lastEnd;
    }
  }
}

function userKeyOf(namespace: string, internal: string): string {
  return internal.slice(namespace.length + 1);
}

/**
 * A change feed: a small actor that subscribes at a store holding the namespace's regions, and
 * re-subscribes (after telling the subscriber to re-list) when that store stops or resets it.
 */
async function startWatch(
  client: FlaredbClient,
  system: ActorSystem,
  directory: StoreDirectory,
  namespace: string,
  prefix: string,
  onChange: (event: ChangeEvent) => void,
  onReset: () => void,
  timeoutMs: number,
): Promise<ChangeFeed> {
  // The namespace must exist and be strong: fail the call itself rather than the feed later.
  const info = await client.getNamespace(namespace);
  if (info.mode !== 'strong') throw new UltraError('FailedPrecondition', `namespace '${namespace}' is eventual; change feeds are for strong namespaces`);
  type FeedMsg = WatchMsg | { readonly type: 'subscribe' } | { readonly type: 'store-gone'; readonly node: string } | { readonly type: 'check' };
  const seq = ++watchSeq;
  const watchId = `${system.nodeId}/${system.env.newId()}/${seq}`;
  let first: ((error?: unknown) => void) | undefined;
  const started = new Promise<void>((resolve, reject) => {
    first = (error) => (error === undefined ? resolve() : reject(error instanceof Error ? error : UltraError.from(error)));
  });
  const feed = defineActor<{ store: string | undefined; attempt: number; subscribed: boolean }, FeedMsg>({
    init(ctx) {
      ctx.tell(ctx.self, { type: 'subscribe' });
      return { store: undefined, attempt: 0, subscribed: false };
    },
    async receive(state, msg, ctx) {
      switch (msg.type) {
        case 'subscribe': {
          const nodes = await directory.nodes();
          const ordered = [...nodes].sort((a, b) => (a === system.nodeId ? -1 : b === system.nodeId ? 1 : 0));
          for (let i = 0; i < ordered.length; i++) {
            const node = ordered[(state.attempt + i) % ordered.length]!;
            try {
              await ctx.ask(storeRef(node), { type: 'watch.subscribe', watchId, ns: namespace, prefix, subscriber: ctx.self as never }, { timeoutMs: Math.min(timeoutMs, ATTEMPT_TIMEOUT_MS) });
              ctx.watch(storeRef(node), () => ({ type: 'store-gone', node }));
              ctx.timers.startPeriodic('check', { type: 'check' }, FEED_CHECK_MS);
              state = { store: node, attempt: 0, subscribed: true };
              if (first !== undefined) {
                first();
                first = undefined;
              } else {
                // A new subscription after losing the old one: events in between may be missed.
                onReset();
              }
              return state;
            } catch (error) {
              if (isUltraError(error) && (error.code === 'NotFound' || error.code === 'FailedPrecondition') && !wasUndelivered(error)) {
                if (first !== undefined && error.code === 'NotFound') {
                  first(error);
                  first = undefined;
                  ctx.stop();
                  return state;
                }
              }
            }
          }
          ctx.timers.startSingle('retry', { type: 'subscribe' }, Math.min(100 * (state.attempt + 1), 1_000));
          return { ...state, attempt: state.attempt + 1, store: undefined };
        }
        case 'check': {
          // A store restarted in place (same ref) has forgotten this feed without terminating.
          if (state.store === undefined) return state;
          const known = await ctx.ask(storeRef(state.store), { type: 'watch.check', watchId }, { timeoutMs: Math.min(timeoutMs, ATTEMPT_TIMEOUT_MS) }).catch(() => undefined);
          if (known !== false) return state;
          ctx.timers.cancel('check');
          ctx.tell(ctx.self, { type: 'subscribe' });
          return { ...state, store: undefined };
        }
        case 'store-gone':
          if (state.store !== msg.node) return state;
          ctx.timers.cancel('check');
          ctx.tell(ctx.self, { type: 'subscribe' });
          return { ...state, store: undefined, attempt: state.attempt + 1 };
        case 'flaredb.watch.events':
          if (msg.watchId === watchId) for (const event of msg.events) onChange(event);
          return state;
        case 'flaredb.watch.reset':
          if (msg.watchId === watchId) onReset();
          return state;
      }
    },
    onStop(state, ctx) {
      if (state.store !== undefined) ctx.tell(storeRef(state.store), { type: 'watch.cancel', watchId });
    },
  });
  // Named after what it follows, so `ultracloud actors` shows whose change feed it is.
  const ref = system.spawn(feed, { name: `flaredb-feed-${namespace}-${seq}` });
  const deadline = system.env.setTimer(timeoutMs, () => {
    if (first !== undefined) {
      first(new UltraError('Unavailable', `flaredb: no store accepted the change feed for '${namespace}' within ${timeoutMs} ms; retry`));
      first = undefined;
      void system.stop(ref);
    }
  });
  try {
    await started;
  } finally {
    deadline.cancel();
  }
  return { cancel: () => void system.stop(ref) };
}
