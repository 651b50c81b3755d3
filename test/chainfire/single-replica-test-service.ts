// A single-replica TEST DOUBLE of ChainfireService: one MvccStore, no Raft, no persistence.
// Commands apply synchronously and a minimal watch hub fans out the events each apply returns.
// It exists so the etcd gRPC server can be tested with real clients before the Raft-backed
// component lands; it is not a product component (no lease expiry, no progress notifications).
import { UltraError } from '../../runtime/errors.ts';
import type { ApplyResult, Command, CommandResponses } from '../../actors/chainfire/core/commands.ts';
import { etcdError } from '../../actors/chainfire/core/errors.ts';
import { boundsContain, keyBounds, toKeyString } from '../../actors/chainfire/core/key-range.ts';
import type { KeyBounds } from '../../actors/chainfire/core/key-range.ts';
import { MvccStore } from '../../actors/chainfire/core/mvcc-store.ts';
import type { MvccStoreOptions } from '../../actors/chainfire/core/mvcc-store.ts';
import type * as T from '../../actors/chainfire/core/types.ts';
import type {
  ChainfireService,
  Member,
  ServerHeader,
  StatusInfo,
  Watch,
  WatchBatch,
  WatchRequest,
} from '../../actors/chainfire/service.ts';

interface Watcher {
  readonly bounds: KeyBounds;
  readonly request: WatchRequest;
  readonly deliver: (batch: WatchBatch) => void;
}

const HEADER: ServerHeader = { cluster_id: 0xc1a1f1e0n, member_id: 0x1234n, raft_term: 1n };

export class SingleReplicaTestService implements ChainfireService {
  readonly store: MvccStore;
  readonly #now: () => number;
  readonly #clientUrl: () => string;
  readonly #watchers = new Set<Watcher>();

  /** `clientUrl` is asked lazily: the server's port is known only after it starts. */
  constructor(now: () => number, clientUrl: () => string, options: MvccStoreOptions = {}) {
    this.store = new MvccStore(options);
    this.#now = now;
    this.#clientUrl = clientUrl;
  }

  /** Live watches: the server must cancel a stream's watches when its client goes away. */
  get watcherCount(): number {
    return this.#watchers.size;
  }

  header(): ServerHeader {
    return HEADER;
  }

  #apply<C extends Command>(command: C): CommandResponses[C['type']] {
    const result: ApplyResult<C['type']> = this.store.apply(command);
    if (!result.ok) throw UltraError.fromData(result.error);
    if (result.events.length > 0) {
      const revision = result.events[0]!.kv.mod_revision;
      for (const watcher of [...this.#watchers]) {
        const events = filterEvents(watcher, result.events);
        if (events.length > 0) watcher.deliver({ revision, events });
      }
    }
    return result.response;
  }

  async range(request: T.RangeRequest): Promise<T.RangeResponse> {
    return this.store.range(request);
  }
  async put(request: T.PutRequest): Promise<T.PutResponse> {
    return this.#apply({ type: 'put', request });
  }
  async deleteRange(request: T.DeleteRangeRequest): Promise<T.DeleteRangeResponse> {
    return this.#apply({ type: 'delete-range', request });
  }
  async txn(request: T.TxnRequest): Promise<T.TxnResponse> {
    return this.#apply({ type: 'txn', request });
  }
  async compact(request: T.CompactionRequest): Promise<T.CompactionResponse> {
    return this.#apply({ type: 'compact', request });
  }
  async leaseGrant(request: T.LeaseGrantRequest): Promise<T.LeaseGrantResponse> {
    return this.#apply({ type: 'lease-grant', request, now_ms: this.#now() });
  }
  async leaseRevoke(request: T.LeaseRevokeRequest): Promise<T.LeaseRevokeResponse> {
    return this.#apply({ type: 'lease-revoke', request });
  }
  async leaseKeepAlive(request: T.LeaseKeepAliveRequest): Promise<T.LeaseKeepAliveResponse> {
    return this.#apply({ type: 'lease-keep-alive', request, now_ms: this.#now() });
  }
  async leaseTimeToLive(request: T.LeaseTimeToLiveRequest): Promise<T.LeaseTimeToLiveResponse> {
    return this.store.leaseTimeToLive(request, this.#now());
  }
  async leaseLeases(): Promise<T.LeaseLeasesResponse> {
    return this.store.leaseLeases();
  }

  async watch(request: WatchRequest, deliver: (batch: WatchBatch) => void): Promise<Watch> {
    const start = request.start_revision ?? 0n;
    if (start > 0n && start < this.store.compactRevision) {
      const compactRevision = this.store.compactRevision;
      throw new UltraError('FailedPrecondition', etcdError('compacted').message, { reason: 'compacted', compactRevision });
    }
    const watcher: Watcher = { bounds: keyBounds(request.key, request.range_end), request, deliver };
    if (start > 0n) {
      // Replay history one revision per batch; apply is synchronous, so nothing slips in between.
      const past = filterEvents(watcher, this.store.eventsSince(start, request.key, request.range_end ?? undefined));
      for (let i = 0; i < past.length; ) {
        const revision = past[i]!.kv.mod_revision;
        let j = i;
        while (j < past.length && past[j]!.kv.mod_revision === revision) j++;
        deliver({ revision, events: past.slice(i, j) });
        i = j;
      }
    }
    this.#watchers.add(watcher);
    return { cancel: () => void this.#watchers.delete(watcher) };
  }

  async memberList(): Promise<readonly Member[]> {
    return [{ ID: HEADER.member_id, name: 'test-replica', peerURLs: [], clientURLs: [this.#clientUrl()], isLearner: false }];
  }

  async status(): Promise<StatusInfo> {
    return {
      version: '3.4.0',
      dbSize: BigInt(this.store.sizeBytes),
      leader: HEADER.member_id,
      raftIndex: this.store.revision,
      raftTerm: HEADER.raft_term,
      raftAppliedIndex: this.store.revision,
      errors: this.store.noSpaceAlarm ? [`memberID:${HEADER.member_id} alarm:NOSPACE`] : [],
      isLearner: false,
    };
  }
}

function filterEvents(watcher: Watcher, events: readonly T.Event[]): T.Event[] {
  const filters = watcher.request.filters ?? [];
  return events
    .filter((e) => !(e.type === 'PUT' ? filters.includes('NOPUT') : filters.includes('NODELETE')))
    .filter((e) => boundsContain(watcher.bounds, toKeyString(e.kv.key)))
    .map((e) => (watcher.request.prev_kv === true || e.prev_kv === undefined ? e : { type: e.type, kv: e.kv }));
}
