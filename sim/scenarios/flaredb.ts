// flaredb (actors/flaredb: multi-Raft regions, the placement driver, strong and eventual
// namespaces) on 3 voters, each node running the real store on its simulated disk, while regions
// split — on their own past a small key threshold, and by a splitter asking for splits at random
// keys — under partitions, crashes, pauses, skewed clocks, slow fsyncs and a lossy network.
//
// Workload and what each client records (history per key, checked for linearizability against the
// versioned register of sim/scenarios/flaredb-model.ts):
// - strong get / compare-and-swap / delete through a client bound to one node (it moves to another
//   running node when a request fails). ok with the output; fail for a read that failed (reads change
//   nothing); info (indeterminate) for a write that failed: flaredb re-sends a write only when it
//   provably had no effect, and reports "outcome unknown" otherwise.
// - eventual raw puts/deletes from every node; after the faults stop every node must read the same
//   value and timestamp for every key, and no acknowledged write may be lost: the surviving write's
//   timestamp is at least the newest acknowledged one's.
// - timestamps from the oracle through every node, across PD leader changes: any two whose calls
//   did not overlap are ordered like the calls (strictly increasing).
// After the faults stop, every strong key is read through every node, so a lost acknowledged write
// cannot hide. Invariant: at most one leader per term in every Raft group (PD and each region),
// from every running store's status.
//
// The `flaredb-moves` variant adds a fourth store (not a control-plane voter) and moves region
// replicas during the same faults: the PD's replica balancer spreads replicas over the four
// stores, and a mover asks for random moves (POST /api/v1/regions/{id}/move) between random
// stores — each a learner added, caught up and promoted, then a voter removed (Raft membership
// changes), with leadership handed away when the source leads. The same checks hold, through
// every store, including the one that started with no region at all.
//
// Disk write/read failures are left out for the reason the chainfire scenario gives (a failed WAL
// write stops the store for good, which tests the supervisor, not the protocol); BUGGIFY has no
// site in flaredb.
import { startFlaredb } from '../../actors/flaredb/flaredb-component.ts';
import { storeMetrics } from '../../actors/flaredb/store/store-actor.ts';
import type { FlaredbClient } from '../../actors/flaredb/client/flaredb-client.ts';
import { UltraError } from '../../runtime/errors.ts';
import { checkOperations, HistoryRecorder } from '../../runtime/linearizability/index.ts';
import type { Scenario, ScenarioContext, ScenarioVerdict } from '../scenario.ts';
import { versionedKvModel, type VersionedInput, type VersionedOutput } from './flaredb-model.ts';

const VOTERS = ['a', 'b', 'c'] as const;
/** The fourth store of the moves variant: it holds replicas only once they are moved there. */
const EXTRA_STORE = 'd';
const MOVER_MS = 300;
const CLIENTS = 4;
const STRONG_KEYS = Array.from({ length: 24 }, (_, i) => `k${String(i).padStart(2, '0')}`);
const EVENTUAL_KEYS = ['e1', 'e2', 'e3', 'e4'] as const;
const TICK_MS = 20;
/** Small regions, so the workload splits them during the faults. */
const SPLIT_KEYS = 5;
const REQUEST_TIMEOUT_MS = 1_500;
const CLIENT_DEADLINE_MS = REQUEST_TIMEOUT_MS + 500;
const STATUS_PROBE_MS = 100;
const SPLITTER_MS = 400;
const TSO_MS = 60;
const CHECK_MAX_STEPS = 2_000_000;
const STRONG = 'meta';
const EVENTUAL = 'cache';

const COVERAGE = {
  split: 'a region split during the faults',
  pdFailover: 'the placement driver changed leader',
  regionLeaderChanged: 'a region changed leader',
  caughtUp: 'a crashed store restarted and served a read',
  leaseRead: 'a leader served a strong read under its lease',
  eventualOverwritten: 'an eventual key was written from two nodes',
  checked: 'the linearizability check finished',
} as const;

const MOVE_COVERAGE = {
  moved: 'a replica move finished during the faults',
  fourth: 'the fourth store held a region replica',
  learner: 'a region had a learner',
} as const;

interface Variant {
  /** Stores besides the voters, and whether replicas move between all of them. */
  readonly extraStores: readonly string[];
  readonly moves: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Result<T> = { readonly ok: true; readonly value: T; readonly incarnation: number } | { readonly ok: false; readonly why: string };

export const flaredb: Scenario = {
  name: 'flaredb',
  description:
    'flaredb (multi-Raft regions, placement driver, strong and eventual namespaces) on 3 voters, splitting regions under partitions, crashes, pauses, skewed clocks, slow fsyncs and a lossy network; strong histories are linearizable per key, eventual namespaces converge, timestamps increase across PD failover',
  faults: ['loss', 'duplicate', 'reorder', 'partition', 'one-way-partition', 'slow-link', 'crash', 'pause', 'clock-skew', 'clock-drift', 'slow-fsync'],
  durationMs: 6_000,
  livenessBoundMs: 4_000,
  run: (ctx) => run(ctx, { extraStores: [], moves: false }),
};

export const flaredbMoves: Scenario = {
  name: 'flaredb-moves',
  description:
    'flaredb on 3 voters and a fourth store, moving region replicas (learner, catch-up, promotion, removal through Raft membership changes; a replica balancer and random admin moves) and splitting regions under partitions, crashes, pauses, skewed clocks, slow fsyncs and a lossy network; the flaredb checks through every store',
  faults: flaredb.faults,
  durationMs: 8_000,
  livenessBoundMs: 6_000,
  run: (ctx) => run(ctx, { extraStores: [EXTRA_STORE], moves: true }),
};

async function run(ctx: ScenarioContext, variant: Variant): Promise<ScenarioVerdict> {
  const voters: readonly string[] = VOTERS;
  /** Every store: the voters, then the stores that only hold moved replicas. */
  const stores: readonly string[] = [...VOTERS, ...variant.extraStores];
  const members = new Map<string, { readonly incarnation: number; readonly client: FlaredbClient }>();
  const cluster = ctx.cluster(
    {
      nodes: stores,
      network: { detectionTimeoutMs: 800, minLatencyMs: 0.5, maxLatencyMs: 5 },
      boot: (node) => {
        const { client } = startFlaredb(node.system, {
          nodeId: node.id,
          voters,
          backend: node.disk,
          tickMs: TICK_MS,
          heartbeatTicks: 5,
          splitKeys: SPLIT_KEYS,
          snapshotEveryEntries: 40,
          requestTimeoutMs: REQUEST_TIMEOUT_MS,
          clientTimeoutMs: REQUEST_TIMEOUT_MS,
          balanceReplicas: variant.moves,
        });
        members.set(node.id, { incarnation: node.incarnation, client });
      },
    },
    { crashable: stores, pausable: stores, maxDown: 2 },
  );
  for (const name of Object.values(COVERAGE)) ctx.sometimes(name, false);
  if (variant.moves) for (const name of Object.values(MOVE_COVERAGE)) ctx.sometimes(name, false);
  const time = (): number => Math.round(ctx.now * 1000) / 1000;
  const upNode = (): string | undefined => {
    const up = stores.filter((id) => cluster.isUp(id));
    return up.length === 0 ? undefined : up[ctx.random.int(up.length)];
  };

  /** Runs `call` on `nodeId`'s current client; settles by the client deadline at the latest. */
  const through = <T>(nodeId: string, label: string, call: (client: FlaredbClient) => Promise<T>): Promise<Result<T>> =>
    new Promise((resolve) => {
      let open = true;
      const close = (result: Result<T>): void => {
        if (!open) return;
        open = false;
        resolve(result);
      };
      ctx.after(CLIENT_DEADLINE_MS, `${label} deadline`, () => close({ ok: false, why: 'no answer' }));
      cluster.onNode(nodeId, (node) => {
        const member = members.get(node.id)!;
        call(member.client).then(
          (value) => close({ ok: true, value, incarnation: member.incarnation }),
          (error: unknown) => close({ ok: false, why: UltraError.from(error).message }),
        );
      });
    });

  // ---- setup: the two namespaces, retried until they exist ----
  const setup = async (): Promise<void> => {
    for (const [name, mode] of [[STRONG, 'strong'], [EVENTUAL, 'eventual']] as const) {
      for (;;) {
        const node = upNode() ?? 'a';
        const result = await through(node, 'setup', (c) => c.createNamespace(name, mode).then(() => true, (e: unknown) => (UltraError.from(e).code === 'AlreadyExists' ? true : Promise.reject(e))));
        if (result.ok) break;
        await new Promise<void>((r) => ctx.after(100, 'setup retry', r));
      }
    }
  };
  const ready = ctx.settle(setup(), 30_000);

  // ---- strong workload ----
  const history = new HistoryRecorder<VersionedInput, VersionedOutput>();
  let completed = 0;
  const perform = (clientId: string, nodeId: string, input: VersionedInput): Promise<Result<VersionedOutput>> => {
    const opId = history.invoke(clientId, input, time());
    return through(nodeId, `client ${clientId}`, (client) => strongCall(client, input)).then((result) => {
      if (result.ok) {
        history.ok(opId, result.value, time());
        completed++;
      } else if (input.op === 'get') history.fail(opId, time());
      else history.info(opId, time());
      ctx.note(`${clientId}@${nodeId}: ${versionedKvModel.describeOperation!(input, result.ok ? result.value : undefined)}${result.ok ? '' : ` failed: ${result.why}`}`);
      return result;
    });
  };
  let running = true;
  const lastVersion = new Map<string, number>();
  const client = (clientId: string): void => {
    let bound = upNode();
    let written = 0;
    const next = (delayMs: number): void => {
      if (running) ctx.after(delayMs, `client ${clientId}`, issue);
    };
    const issue = (): void => {
      if (bound === undefined || !cluster.isUp(bound)) bound = upNode();
      if (bound === undefined) return next(50);
      const key = STRONG_KEYS[ctx.random.int(STRONG_KEYS.length)]!;
      const dice = ctx.random.next();
      const known = lastVersion.get(key) ?? 0;
      const input: VersionedInput =
        dice < 0.4 ? { op: 'get', key }
        : dice < 0.9 ? { op: 'cas', key, expected: ctx.random.next() < 0.2 ? ctx.random.int(3) : known, value: `${clientId}:${++written}` }
        : { op: 'delete', key, expected: ctx.random.next() < 0.5 ? null : known };
      perform(clientId, bound, input).then((result) => {
        if (!result.ok) {
          bound = upNode();
          return next(20 + 60 * ctx.random.next());
        }
        const out = result.value;
        if ('value' in out) {
          lastVersion.set(key, out.version);
          ctx.sometimes(COVERAGE.caughtUp, result.incarnation > 1);
        } else if (input.op === 'cas') lastVersion.set(key, out.version);
        else if (out.succeeded) lastVersion.set(key, 0);
        next(2 + 15 * ctx.random.next());
      });
    };
    next(5 * ctx.random.next());
  };

  // ---- eventual workload ----
  /** Per key: the newest acknowledged write's timestamp, and who wrote it. */
  const ackedTs = new Map<string, bigint>();
  const writers = new Map<string, Set<string>>();
  const eventualWriter = (nodeId: string): void => {
    let n = 0;
    const issue = (): void => {
      if (!running) return;
      if (!cluster.isUp(nodeId)) return void ctx.after(100, `eventual ${nodeId}`, issue);
      const key = EVENTUAL_KEYS[ctx.random.int(EVENTUAL_KEYS.length)]!;
      const del = ctx.random.next() < 0.1;
      const value = `${nodeId}:${++n}`;
      through(nodeId, `eventual ${nodeId}`, (c) => (del ? c.rawDelete(EVENTUAL, key).then(() => null) : c.rawPut(EVENTUAL, key, encoder.encode(value)))).then((result) => {
        if (result.ok && result.value !== null) {
          ctx.note(`eventual ${nodeId}: put ${key}=${value} -> ${result.value}`);
          if ((ackedTs.get(key) ?? -1n) < result.value) ackedTs.set(key, result.value);
          const set = writers.get(key) ?? new Set();
          set.add(nodeId);
          writers.set(key, set);
          ctx.sometimes(COVERAGE.eventualOverwritten, set.size > 1);
        }
        ctx.after(20 + 40 * ctx.random.next(), `eventual ${nodeId}`, issue);
      });
    };
    ctx.after(10, `eventual ${nodeId}`, issue);
  };

  // ---- timestamps ----
  const stamps: Array<{ readonly invoked: number; readonly returned: number; readonly ts: bigint; readonly count: number; readonly node: string }> = [];
  const tsoClient = (): void => {
    const issue = (): void => {
      if (!running) return;
      const node = upNode();
      if (node === undefined) return void ctx.after(TSO_MS, 'tso', issue);
      const invoked = time();
      const count = 1 + ctx.random.int(4);
      through(node, 'tso', (c) => c.tso(count)).then((result) => {
        if (result.ok) stamps.push({ invoked, returned: time(), ts: result.value, count, node });
        ctx.after(TSO_MS * ctx.random.next(), 'tso', issue);
      });
    };
    issue();
  };

  // ---- splitter: splits at random keys, whatever the faults ----
  const splitter = (): void => {
    if (!running) return;
    const node = upNode();
    if (node !== undefined) {
      const key = STRONG_KEYS[ctx.random.int(STRONG_KEYS.length)]!;
      void through(node, 'splitter', async (c) => {
        const regions = await c.regions();
        const target = regions[ctx.random.int(regions.length)]!;
        return c.splitRegion(target.id, { namespace: STRONG, key });
      }).then((result) => ctx.note(`split at ${key}: ${result.ok ? `${result.value.left.id}|${result.value.right.id}` : result.why}`));
    }
    ctx.after(SPLITTER_MS, 'splitter', splitter);
  };

  // ---- mover: replica moves between random stores, whatever the faults ----
  let movesStarted = 0;
  const mover = (): void => {
    if (!running) return;
    const node = upNode();
    if (node !== undefined) {
      void through(node, 'mover', async (c) => {
        const regions = await c.regions();
        const target = regions[ctx.random.int(regions.length)]!;
        const from = target.peers[ctx.random.int(target.peers.length)]!;
        const candidates = stores.filter((id) => !target.peers.includes(id) && !target.learners.includes(id));
        if (candidates.length === 0) return `region ${target.id} is on every store`;
        const to = candidates[ctx.random.int(candidates.length)]!;
        await c.moveRegion(target.id, from, to);
        movesStarted++;
        return `region ${target.id} ${from}→${to}`;
      }).then((result) => ctx.note(`move ${result.ok ? result.value : `refused: ${result.why}`}`));
    }
    ctx.after(MOVER_MS, 'mover', mover);
  };

  // ---- god's-eye view of leadership and splits ----
  const leaderOfTerm = new Map<string, string>();
  const lastLeader = new Map<string, string>();
  let electionSafety: string | undefined;
  let statusRunning = true;
  let maxRegions = 1;
  let maxConfVer = 1;
  const statusProbe = (): void => {
    if (!statusRunning) return;
    for (const id of stores) {
      cluster.onNode(id, (node) => {
        ctx.sometimes(COVERAGE.leaseRead, storeMetrics(node.system).leaseReads.get() > 0);
        members.get(node.id)!.client.storeStatus(node.id).then(
          (status) => {
            maxRegions = Math.max(maxRegions, status.groups.filter((g) => g.region !== undefined).length);
            if (variant.moves) {
              for (const g of status.groups) {
                if (g.region === undefined) continue;
                maxConfVer = Math.max(maxConfVer, g.region.epoch.confVer);
                if (running) ctx.sometimes(MOVE_COVERAGE.moved, g.region.epoch.confVer >= 4);
                ctx.sometimes(MOVE_COVERAGE.learner, g.region.learners.length > 0);
                ctx.sometimes(MOVE_COVERAGE.fourth, status.node === EXTRA_STORE);
              }
            }
            for (const g of status.groups) {
              if (g.role !== 'leader') continue;
              const key = `${g.group}@${g.term}`;
              const other = leaderOfTerm.get(key);
              if (other === undefined) leaderOfTerm.set(key, status.node);
              else if (other !== status.node) electionSafety ??= `both ${other} and ${status.node} led ${g.group} in term ${g.term}`;
              const previous = lastLeader.get(g.group);
              if (previous !== undefined && previous !== status.node) ctx.sometimes(g.group === 'pd' ? COVERAGE.pdFailover : COVERAGE.regionLeaderChanged, true);
              lastLeader.set(g.group, status.node);
            }
          },
          () => {},
        );
      });
    }
    ctx.after(STATUS_PROBE_MS, 'status probe', statusProbe);
  };
  statusProbe();
  ctx.invariant('at most one leader per term in every group', () => electionSafety, 10);

  // Liveness: a strong write and read through every node.
  const rounds = new Map<string, number>(stores.map((id) => [id, 0]));
  const probing = new Set<string>();
  let probeSeq = 0;
  const prober = (): void => {
    if (!running) return;
    for (const id of stores) {
      if (!cluster.isUp(id) || probing.has(id)) continue;
      probing.add(id);
      const key = `probe-${id}`;
      const n = ++probeSeq;
      void through(id, `probe ${id}`, async (c) => {
        const current = await c.get(STRONG, key);
        await c.compareAndSwap(STRONG, key, encoder.encode(String(n)), current?.version ?? 0);
        return c.get(STRONG, key);
      }).then((result) => {
        probing.delete(id);
        if (result.ok) rounds.set(id, rounds.get(id)! + 1);
      });
    }
    ctx.after(200, 'liveness probe', prober);
  };
  for (const id of stores) ctx.progress(`a strong write and read through ${id}`, () => rounds.get(id)!);

  const setupDone = await ready;
  if (setupDone.status !== 'ok') return { failures: ['setup: the namespaces could not be created within 30 s'], summary: 'setup failed' };
  for (let i = 1; i <= CLIENTS; i++) client(`c${i}`);
  for (const id of stores) eventualWriter(id);
  tsoClient();
  splitter();
  if (variant.moves) mover();
  prober();

  await ctx.runFor(flaredb.durationMs);
  ctx.sometimes(COVERAGE.split, maxRegions > 1);
  ctx.quiesce();
  running = false;
  await ctx.runFor(CLIENT_DEADLINE_MS + 100);

  const failures: string[] = [];
  // Final strong reads through every node.
  const finals = await ctx.settle(Promise.all(stores.flatMap((id) => STRONG_KEYS.map((key) => perform(`final.${id}`, id, { op: 'get', key })))), 4 * CLIENT_DEADLINE_MS * STRONG_KEYS.length);
  const unanswered = finals.status === 'ok' ? finals.value.filter((r) => !r.ok).length : stores.length * STRONG_KEYS.length;
  if (unanswered > 0) failures.push(`final strong reads: ${unanswered} of ${stores.length * STRONG_KEYS.length} got no answer after the faults stopped`);

  // Eventual convergence: give replication time, then every node must hold the same winner.
  await ctx.runFor(3_000);
  const eventualFinals = await ctx.settle(Promise.all(stores.flatMap((id) => EVENTUAL_KEYS.map((key) => through(id, `final eventual ${id}`, (c) => c.rawGet(EVENTUAL, key)).then((r) => ({ id, key, r }))))), 4 * CLIENT_DEADLINE_MS);
  if (eventualFinals.status !== 'ok') failures.push('final eventual reads did not finish');
  else {
    for (const key of EVENTUAL_KEYS) {
      const reads = eventualFinals.value.filter((x) => x.key === key);
      const seen = reads.map((x) => (x.r.ok ? (x.r.value === undefined ? 'absent' : `${decoder.decode(x.r.value.value)}@${x.r.value.ts}`) : `error: ${x.r.why}`));
      if (new Set(seen).size !== 1) failures.push(`eventual key ${key} did not converge: ${reads.map((x, i) => `${x.id}=${seen[i]}`).join(', ')}`);
      const acked = ackedTs.get(key);
      const first = reads[0]?.r;
      if (acked !== undefined && first?.ok === true && first.value !== undefined && first.value.ts < acked) failures.push(`eventual key ${key} lost an acknowledged write: ts ${acked} acknowledged, ${first.value.ts} survived`);
    }
  }

  // Timestamps: ordered like non-overlapping calls, and distinct.
  const sorted = [...stamps].sort((x, y) => x.invoked - y.invoked);
  let maxEndedTs = -1n;
  let maxEndedAt = -Infinity;
  const byReturn = [...stamps].sort((x, y) => x.returned - y.returned);
  let j = 0;
  for (const s of sorted) {
    while (j < byReturn.length && byReturn[j]!.returned < s.invoked) {
      const last = byReturn[j]!.ts + BigInt(byReturn[j]!.count - 1);
      if (last > maxEndedTs) {
        maxEndedTs = last;
        maxEndedAt = byReturn[j]!.returned;
      }
      j++;
    }
    if (s.ts <= maxEndedTs) {
      failures.push(`timestamp oracle went back: ${s.ts} (via ${s.node}, called at ${s.invoked}) after ${maxEndedTs} was returned at ${maxEndedAt}`);
      break;
    }
  }
  const seenTs = new Set(stamps.map((s) => s.ts));
  if (seenTs.size !== stamps.length) failures.push('timestamp oracle handed out the same timestamp twice');

  if (failures.length > 0) {
    // Every store's view of its replicas, for the timeline of a failed run.
    for (const id of stores) {
      const status = await through(id, 'final status', (c) => c.storeStatus(id));
      if (!status.ok) continue;
      for (const g of status.value.groups) {
        const r = g.region;
        const where = r === undefined ? '' : ` [${JSON.stringify(r.start)},${JSON.stringify(r.end)}) v${r.epoch.version}/c${r.epoch.confVer} peers=${r.peers.join('')} learners=${r.learners.join('')}`;
        const progress = g.progress === undefined ? '' : ` progress=${Object.entries(g.progress).map(([p, x]) => `${p}:${x.match}/${x.state}`).join(',')}`;
        ctx.note(`final ${id} ${g.group}: ${g.role} t${g.term} leader=${g.leader} commit=${g.commit} applied=${g.applied} last=${g.lastIndex} init=${g.initialized}${where}${progress}`);
      }
    }
  }
  statusRunning = false;
  const ops = history.operations();
  const result = checkOperations(versionedKvModel, ops, { maxSteps: CHECK_MAX_STEPS });
  if (result.result === 'illegal') failures.push(`linearizability: ${result.explanation}`);
  ctx.sometimes(COVERAGE.checked, result.result !== 'unknown');
  const restarts = stores.reduce((n, id) => n + cluster.node(id).incarnation - 1, 0);
  return {
    failures,
    summary:
      `${ops.length} strong operations (${completed} completed), linearizability ${result.result} after ${result.steps} steps; up to ${maxRegions} regions; ` +
      `${stamps.length} timestamp calls; ${leaderOfTerm.size} (group, term) leaders seen; ${cluster.crashes.length} crashes, ${restarts} restarts` +
      (variant.moves ? `; ${movesStarted} moves requested, conf version up to ${maxConfVer}` : ''),
  };
}

async function strongCall(client: FlaredbClient, input: VersionedInput): Promise<VersionedOutput> {
  switch (input.op) {
    case 'get': {
      const entry = await client.get(STRONG, input.key);
      return entry === undefined ? { value: null, version: 0 } : { value: decoder.decode(entry.value), version: entry.version };
    }
    case 'cas':
      return client.compareAndSwap(STRONG, input.key, encoder.encode(input.value), input.expected);
    case 'delete':
      return client.delete(STRONG, input.key, input.expected ?? undefined);
  }
}
