// chainfire (actors/chainfire: etcd's KV API over the Raft group actor, runtime/raft) on 3 or 5
// voters, each node hosting the real component on its simulated disk, under a client workload of
// put, linearizable get, compare-and-set (txn: compare VALUE EQUAL, or VERSION EQUAL 0 for
// "absent", then put) and delete, recorded and checked for linearizability.
//
// A crash loses what the node had not synced, and a restart runs startChainfire again on the same
// disk, as the daemon does: Raft must rebuild the replica from its durable log alone. With the
// disk-loss fault a crash may also destroy the disk: the node restarts empty and rejoining (as
// after `ultracloud node reset`), one such node at a time until it has caught up — two at once
// in a group of three could hold the only copies of committed entries. Clients are
// bound to a node (the etcd endpoint they dial) and move to another running node when a request
// fails. What a client records:
// - ok with the output on success;
// - fail only when the operation certainly had no effect: a read (reads change nothing), or a
//   write the state machine refused with an etcd error (it was committed and rejected, on every
//   replica alike);
// - info (indeterminate) otherwise: timeouts, Unavailable, Aborted, a node that died under it.
//   Aborted ("proposal lost to a leader change") is not taken as "not applied" because the
//   service retries a write after some Unavailable errors, and an earlier attempt may have landed.
//
// A compactor (outside the history: compaction changes no current value) compacts the store's
// history through a random node now and then, so compactions travel the log under the faults too.
//
// Checked: the history is linearizable (a lost acknowledged write shows up as a read that cannot
// be explained; after the faults stop, every key is read through every node so that such a loss
// cannot hide), at most one leader per term, from the god's-eye view of every replica's status,
// and, once every replica has applied the same index after the faults, the same store on each:
// equal HashKV (history, compaction and all), whether a replica got there by replaying its log,
// by catching up or from a snapshot.
// Liveness mode: after the faults stop, a write and a linearizable read through every node succeed
// within livenessBoundMs (a prober runs one such round per node at a time, all run long).
//
// Disk write and read failures are left out: the Raft group actor fails on a failed WAL write (as
// etcd panics on one) and chainfire's supervisor gives up after 10 restarts a minute, so at the
// simulated failure rates a node's chainfire stops for good, which says nothing about the protocol;
// and the disk is read only when a replica opens its log, too rarely for read failures to fire.
// BUGGIFY is left out because neither chainfire nor runtime/raft has a site.
import { startChainfire } from '../../actors/chainfire/chainfire-component.ts';
import type { RaftChainfireService } from '../../actors/chainfire/chainfire-service.ts';
import { etcdReason } from '../../actors/chainfire/core/errors.ts';
import { UltraError } from '../../runtime/errors.ts';
import { HistoryRecorder, checkOperations, kvModel, type KvInput, type KvOutput } from '../../runtime/linearizability/index.ts';
import type { Scenario, ScenarioContext, ScenarioVerdict } from '../scenario.ts';

const NODE_IDS = ['a', 'b', 'c', 'd', 'e'] as const;
const CLIENTS = 4;
const KEYS = ['k1', 'k2', 'k3'] as const;
const TICK_MS = 20;
/** The service's own bound on one request, forwarding and retries included. */
const REQUEST_TIMEOUT_MS = 1_500;
/** A client gives up on a request this long after sending it (the node may have died under it). */
const CLIENT_DEADLINE_MS = REQUEST_TIMEOUT_MS + 500;
const STATUS_PROBE_MS = 100;
const COMPACT_EVERY_MS = 400;
/** Revisions of history the compactor leaves behind the current one. */
const COMPACT_KEEP = 5n;
/** How long after the final reads the replicas may take to apply the same index. */
const CONVERGE_MS = 3_000;
const LIVENESS_PROBE_MS = 200;
const CHECK_MAX_STEPS = 2_000_000;

const COVERAGE = {
  leaderChanged: 'a leader changed',
  caughtUp: 'a crashed replica restarted and caught up',
  recovered: 'a replica that lost its disk caught up and votes again',
  checked: 'the linearizability check finished',
  compacted: 'a compaction was applied',
  converged: 'every replica applied the same index and their stores were compared',
} as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Result = { readonly ok: true; readonly output: KvOutput; readonly incarnation: number } | { readonly ok: false; readonly why: string };

export const chainfire: Scenario = {
  name: 'chainfire',
  description: 'chainfire (etcd KV over Raft) on 3 or 5 voters on simulated disks, under partitions, crashes, pauses, skewed clocks, slow fsyncs and a lossy network, with compactions; the client history is linearizable, there is one leader per term, and every replica ends with the same store',
  faults: ['loss', 'duplicate', 'reorder', 'partition', 'one-way-partition', 'slow-link', 'crash', 'pause', 'clock-skew', 'clock-drift', 'slow-fsync', 'disk-loss'],
  durationMs: 6_000,
  livenessBoundMs: 3_000,
  run,
};

async function run(ctx: ScenarioContext): Promise<ScenarioVerdict> {
  const voters: readonly string[] = NODE_IDS.slice(0, ctx.random.next() < 0.3 ? 5 : 3);
  /** Each node's current chainfire incarnation: what a client dialling that node reaches. */
  const members = new Map<string, { readonly incarnation: number; readonly service: RaftChainfireService }>();
  /**
   * Nodes whose disk was lost and whose replica has not caught up since (the status probe
   * watches), with the incarnation that crashed: only a later one's status counts.
   */
  const lostDisks = new Map<string, number>();
  const cluster = ctx.cluster(
    {
      nodes: voters,
      network: { detectionTimeoutMs: 800, minLatencyMs: 0.5, maxLatencyMs: 5 },
      boot: (node) => {
        const { service } = startChainfire(node.system, { nodeId: node.id, voters, backend: node.disk, tickMs: TICK_MS, leaseCheckMs: 500, requestTimeoutMs: REQUEST_TIMEOUT_MS, rejoining: node.rejoining });
        members.set(node.id, { incarnation: node.incarnation, service });
      },
    },
    // Up to a majority down at once: quorum loss, and every replica's unsynced tail lost, included.
    {
      crashable: voters,
      pausable: voters,
      maxDown: Math.floor(voters.length / 2) + 1,
      loseDisk: (node) => {
        if ([...lostDisks.keys()].some((other) => other !== node)) return false;
        lostDisks.set(node, cluster.node(node).incarnation);
        return true;
      },
    },
  );
  for (const name of Object.values(COVERAGE)) ctx.sometimes(name, false);

  const history = new HistoryRecorder<KvInput, KvOutput>();
  // History times in whole microseconds, as in the register scenario: equal times only ever count
  // as concurrent, so rounding cannot invent a violation.
  const time = (): number => Math.round(ctx.now * 1000) / 1000;
  let completed = 0;

  /** Runs one recorded operation through `nodeId`'s service; always settles (by the client's deadline at the latest). */
  const perform = (clientId: string, nodeId: string, input: KvInput): Promise<Result> =>
    new Promise((resolve) => {
      const opId = history.invoke(clientId, input, time());
      let open = true;
      const close = (result: Result, record: () => void): void => {
        if (!open) return;
        open = false;
        record();
        ctx.note(`${clientId}@${nodeId}: ${kvModel.describeOperation?.(input, result.ok ? result.output : undefined) ?? input.op}${result.ok ? '' : ` failed: ${result.why}`}`);
        resolve(result);
      };
      ctx.after(CLIENT_DEADLINE_MS, `client ${clientId} deadline`, () => close({ ok: false, why: 'no answer' }, () => history.info(opId, time())));
      cluster.onNode(nodeId, (node) => {
        const member = members.get(node.id)!;
        call(member.service, input).then(
          (output) =>
            close({ ok: true, output, incarnation: member.incarnation }, () => {
              history.ok(opId, output, time());
              completed++;
            }),
          (error: unknown) => {
            const definite = input.op === 'get' || etcdReason(error) !== undefined;
            close({ ok: false, why: UltraError.from(error).message }, () => (definite ? history.fail(opId, time()) : history.info(opId, time())));
          },
        );
      });
    });

  const upNode = (): string | undefined => {
    const up = voters.filter((id) => cluster.isUp(id));
    return up.length === 0 ? undefined : up[ctx.random.int(up.length)];
  };

  // The workload: each client sends one request at a time to the node it is bound to.
  let clientsRunning = true;
  /** The latest value any client saw for each key: what CAS expects, so that CAS often succeeds. */
  const lastSeen = new Map<string, string | null>();
  const client = (clientId: string): void => {
    let bound = upNode();
    let written = 0;
    const next = (delayMs: number): void => {
      if (clientsRunning) ctx.after(delayMs, `client ${clientId}`, issue);
    };
    const issue = (): void => {
      if (bound === undefined || !cluster.isUp(bound)) bound = upNode();
      if (bound === undefined) return next(50);
      const key = KEYS[ctx.random.int(KEYS.length)]!;
      const dice = ctx.random.next();
      const input: KvInput =
        dice < 0.4 ? { op: 'get', key }
        : dice < 0.7 ? { op: 'put', key, value: `${clientId}:${++written}` }
        : dice < 0.9 ? { op: 'cas', key, expected: ctx.random.next() < 0.3 ? null : (lastSeen.get(key) ?? null), value: `${clientId}:${++written}` }
        : { op: 'delete', key };
      const node = bound;
      perform(clientId, node, input).then((result) => {
        if (!result.ok) {
          bound = upNode();
          return next(20 + 60 * ctx.random.next());
        }
        const { output } = result;
        if ('value' in output) {
          lastSeen.set(key, output.value);
          ctx.sometimes(COVERAGE.caughtUp, result.incarnation > 1);
        } else if (input.op === 'put' || (input.op === 'cas' && 'ok' in output && output.ok)) lastSeen.set(key, input.value);
        else if (input.op === 'delete') lastSeen.set(key, null);
        next(2 + 20 * ctx.random.next());
      });
    };
    next(5 * ctx.random.next());
  };
  for (let i = 1; i <= CLIENTS; i++) client(`c${i}`);

  const compactor = (): void => {
    if (!clientsRunning) return;
    const id = upNode();
    if (id !== undefined) {
      cluster.onNode(id, (node) => {
        const { service } = members.get(node.id)!;
        service
          .range({ key: encoder.encode(KEYS[0]), serializable: true, count_only: true })
          .then((r) => (r.header.revision > COMPACT_KEEP + 1n ? service.compact({ revision: r.header.revision - COMPACT_KEEP }) : undefined))
          .then(
            (done) => ctx.sometimes(COVERAGE.compacted, done !== undefined),
            () => {},
          );
      });
    }
    ctx.after(COMPACT_EVERY_MS, 'compactor', compactor);
  };
  ctx.after(COMPACT_EVERY_MS, 'compactor', compactor);

  // Liveness: per node, rounds of a write then a linearizable read through it, one round at a time.
  const rounds = new Map<string, number>(voters.map((id) => [id, 0]));
  const probing = new Set<string>();
  let proberRunning = true;
  const probeRound = (id: string, n: number): void => {
    const probeClient = `probe.${id}`;
    const key = `probe/${id}`;
    probing.add(id);
    perform(probeClient, id, { op: 'put', key, value: `${probeClient}:${n}` })
      .then((written) => (written.ok ? perform(probeClient, id, { op: 'get', key }) : written))
      .then((read) => {
        probing.delete(id);
        if (read.ok) rounds.set(id, rounds.get(id)! + 1);
      });
  };
  let probeSeq = 0;
  const prober = (): void => {
    if (!proberRunning) return;
    for (const id of voters) if (cluster.isUp(id) && !probing.has(id)) probeRound(id, ++probeSeq);
    ctx.after(LIVENESS_PROBE_MS, 'workload liveness probe', prober);
  };
  prober();
  for (const id of voters) ctx.progress(`a write and a linearizable read through ${id}`, () => rounds.get(id)!);

  // The god's-eye view of leadership: every running replica's Raft status, every STATUS_PROBE_MS.
  const leaderOfTerm = new Map<number, string>();
  let lastLeader: string | undefined;
  let electionSafety: string | undefined;
  let statusRunning = true;
  const statusProbe = (): void => {
    if (!statusRunning) return;
    for (const id of voters) {
      cluster.onNode(id, (node) => {
        members.get(node.id)!.service.raftStatus().then(
          (view) => {
            const lostAt = lostDisks.get(node.id);
            if (lostAt !== undefined && node.incarnation > lostAt && !view.recovering) {
              lostDisks.delete(node.id);
              ctx.sometimes(COVERAGE.recovered, true);
            }
            if (view.role !== 'leader') return;
            const other = leaderOfTerm.get(view.term);
            if (other === undefined) leaderOfTerm.set(view.term, view.id);
            else if (other !== view.id) electionSafety ??= `both ${other} and ${view.id} led term ${view.term}`;
            ctx.sometimes(COVERAGE.leaderChanged, lastLeader !== undefined && lastLeader !== view.id);
            lastLeader = view.id;
          },
          () => {},
        );
      });
    }
    ctx.after(STATUS_PROBE_MS, 'workload status probe', statusProbe);
  };
  statusProbe();
  ctx.invariant('at most one leader per term', () => electionSafety, 10);

  await ctx.runFor(chainfire.durationMs);
  ctx.quiesce();
  clientsRunning = false;
  proberRunning = false;
  await ctx.runFor(CLIENT_DEADLINE_MS + 100);
  // A final read of every key through every node, so that a lost acknowledged write cannot hide
  // behind the workload's last reads: by now the cluster is whole and every request gets through.
  const finals = await ctx.settle(Promise.all(voters.flatMap((id) => KEYS.map((key) => perform(`final.${id}`, id, { op: 'get', key })))), 2 * CLIENT_DEADLINE_MS * KEYS.length);
  statusRunning = false;

  const failures: string[] = [];
  const diverged = await compareReplicas();
  if (diverged !== undefined) failures.push(diverged);
  const unanswered = finals.status === 'ok' ? finals.value.filter((r) => !r.ok).length : voters.length * KEYS.length;
  if (unanswered > 0) failures.push(`final reads: ${unanswered} of ${voters.length * KEYS.length} got no answer ${CLIENT_DEADLINE_MS + 100} ms after the faults stopped`);
  const ops = history.operations();
  const result = checkOperations(kvModel, ops, { maxSteps: CHECK_MAX_STEPS });
  if (result.result === 'illegal') failures.push(`linearizability: ${result.explanation}`);
  ctx.sometimes(COVERAGE.checked, result.result !== 'unknown');
  const restarts = voters.reduce((n, id) => n + cluster.node(id).incarnation - 1, 0);

  /** Waits until every replica applied the same index, then compares their stores' HashKV; a difference is the failure. */
  async function compareReplicas(): Promise<string | undefined> {
    type ReplicaState = { readonly id: string; readonly applied: number; readonly revision: bigint; readonly hash: number; readonly compact: bigint };
    const read = (id: string): Promise<ReplicaState> =>
      new Promise((resolve, reject) => {
        cluster.onNode(id, (node) => {
          const { service } = members.get(node.id)!;
          Promise.all([service.raftStatus(), service.hashKV(0n)]).then(([status, h]) => resolve({ id, applied: status.applied, revision: h.header.revision, hash: h.hash, compact: h.compact_revision }), reject);
        });
      });
    for (let waited = 0; waited <= CONVERGE_MS; waited += 100) {
      const states = await ctx.settle(Promise.all(voters.map(read)), 100);
      if (states.status === 'ok' && states.value.every((r) => r.applied === states.value[0]!.applied)) {
        ctx.sometimes(COVERAGE.converged, true);
        const describe = (r: ReplicaState): string => `${r.id}: revision ${r.revision}, compacted at ${r.compact}, hash ${r.hash}`;
        const first = states.value[0]!;
        const odd = states.value.find((r) => r.revision !== first.revision || r.hash !== first.hash || r.compact !== first.compact);
        return odd === undefined ? undefined : `replicas diverged at applied index ${first.applied}: ${states.value.map(describe).join('; ')}`;
      }
      await ctx.runFor(100);
    }
    // Not caught up in time: liveness is the liveness mode's to judge; nothing to compare here.
    return undefined;
  }
  return {
    failures,
    summary:
      `${voters.length} voters, ${ops.length} operations (${completed} completed); linearizability ${result.result} after ${result.steps} steps; ` +
      `${leaderOfTerm.size} terms with a leader seen; ${cluster.crashes.length} crashes, ${restarts} restarts`,
  };
}

/** One history operation as the etcd request a client sends, and its response as the model's output. */
async function call(service: RaftChainfireService, input: KvInput): Promise<KvOutput> {
  const key = encoder.encode(input.key);
  switch (input.op) {
    case 'get': {
      const response = await service.range({ key });
      const kv = response.kvs[0];
      return { value: kv === undefined ? null : decoder.decode(kv.value) };
    }
    case 'put':
      await service.put({ key, value: encoder.encode(input.value) });
      return {};
    case 'delete':
      await service.deleteRange({ key });
      return {};
    case 'cas': {
      // "Absent" is etcd's version-0 guard: a VALUE guard fails on a missing key.
      const compare = input.expected === null ? { key, target: 'VERSION', result: 'EQUAL', version: 0n } as const : { key, target: 'VALUE', result: 'EQUAL', value: encoder.encode(input.expected) } as const;
      const response = await service.txn({ compare: [compare], success: [{ request_put: { key, value: encoder.encode(input.value) } }], failure: [] });
      return { ok: response.succeeded };
    }
  }
}
