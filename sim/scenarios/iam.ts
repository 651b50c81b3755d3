// iam (actors/iam) on real flaredb, under partitions, crashes, pauses, slow fsyncs, drifting and skewed clocks
// and a lossy network: revocation takes effect on every node within the staleness bound, also on
// nodes that were cut off when it happened and heal later.
//
// Nodes a, b, c are flaredb voters and iam replicas; d hosts only an access gate, as a node that
// runs a component API but no control plane. Every node runs membership, the receptionist and the
// real access gate (actors/iam/gate/iam-gate.ts), which finds the replicas through the
// receptionist. Setup (under the faults already) creates org o, project o/p, users u0..u6, binds
// u0..u5 to ProjectMember in o/p (u6 gets nothing) and logs each in, retrying until done.
//
// Workload: probes through every node's gate, each authenticating a user's token and authorizing
// compute:instances:create in o/p (a probe records when it started and how it ended); and, at
// random times, revocations: u2 and u4 lose their binding, u3 and u5 have their session revoked,
// each retried through a replica until acknowledged. u0 and u1 are never revoked.
//
// Checked:
// - the bound: no probe that started later than BOUND_MS after a revocation was acknowledged is
//   allowed for the revoked user, on any node — BOUND_MS = the replicas' lag bound + the gates'
//   decision cache age + a margin for clock drift (docs/iam.md derives it);
// - u6, who never had a binding, is never allowed;
// - liveness: after the faults stop, u0/u1 probes are allowed again through every gate.
// Coverage: a revocation acknowledged while some gate could reach no replica, and that gate
// refusing the revoked user after the partition healed; a probe refused as Unavailable.
//
// Disk failures and BUGGIFY are left out for the reasons the flaredb scenario gives (a failed WAL
// write stops a store for good; no BUGGIFY sites).
import { startFlaredb } from '../../actors/flaredb/flaredb-component.ts';
import type { FlaredbClient } from '../../actors/flaredb/client/flaredb-client.ts';
import { inlineHasher } from '../../actors/iam/core/password.ts';
import { createIamGate, type IamGate } from '../../actors/iam/gate/iam-gate.ts';
import { startIam, type Iam } from '../../actors/iam/iam-component.ts';
import type { IamConfig } from '../../actors/iam/service/config.ts';
import type { IamMsg, Mutation, TokenResponse } from '../../actors/iam/protocol.ts';
import { receptionist, RECEPTIONIST_NAME } from '../../runtime/cluster/receptionist.ts';
import { UltraError } from '../../runtime/errors.ts';
import type { Scenario, ScenarioContext, ScenarioVerdict } from '../scenario.ts';
import type { SimNode } from '../cluster.ts';

const VOTERS = ['a', 'b', 'c'] as const;
const NODES = ['a', 'b', 'c', 'd'] as const;
const USERS = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6'] as const;
const NEVER_REVOKED = ['u0', 'u1'];
const BY_BINDING = ['u2', 'u4'];
const BY_SESSION = ['u3', 'u5'];
const UNBOUND = 'u6';
const PASSWORD = 'a simulated password';
const ADMIN_TOKEN = `uc_admin_${'5a'.repeat(32)}`;
const CLUSTER_SECRET = new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${'3c'.repeat(32)}`);

const CONFIG: Partial<IamConfig> = {
  syncIntervalMs: 100,
  maxReplicaLagMs: 400,
  maintainIntervalMs: 1_000,
  fullReloadMs: 2_000,
  auditFlushMs: 250,
  accessTtlSec: 3_600,
  refreshTtlSec: 7_200,
  // Clocks may be skewed by up to two minutes each way.
  skewSec: 300,
  keys: { rotateAfterMs: 3_600_000, publishAheadMs: 200, tokenLifetimeMs: 7_300_000 },
};
const DECISION_CACHE_MS = 300;
const GATE_SYNC_MS = 100;
const ASK_TIMEOUT_MS = 300;
/** The staleness bound: replica lag + gate cache age, plus a margin for ±2 % clock drift on both. */
const BOUND_MS = 400 + DECISION_CACHE_MS + 100;
const PROBE_DEADLINE_MS = 2_000;
/** The workload's own partitions end before liveness mode's quiet phase (durationMs - livenessBoundMs). */
const CUT_UNTIL_MS = 4_000;
const REQUEST_TIMEOUT_MS = 1_000;

const COVERAGE = {
  cutOff: 'a revocation was acknowledged while some gate could reach no iam replica',
  healedRefusal: 'a gate cut off at a revocation refused the revoked user after the heal',
  unavailable: 'a gate answered Unavailable',
  sessionRevoked: 'a revoked session was refused at a gate',
  bindingRevoked: 'a revoked binding was refused at a gate',
} as const;

type Outcome = 'allowed' | 'PermissionDenied' | 'Unauthenticated' | 'Unavailable' | 'other' | 'timeout';

interface Probe {
  readonly node: string;
  readonly user: string;
  readonly startedAt: number;
  outcome: Outcome | undefined;
}

interface Revocation {
  readonly user: string;
  readonly how: 'binding' | 'session';
  ackedAt: number | undefined;
  /** Gates that could reach no replica when it was acknowledged. */
  cutOff: readonly string[];
}

const FAULTS = ['loss', 'duplicate', 'reorder', 'partition', 'one-way-partition', 'slow-link', 'crash', 'pause', 'clock-skew', 'clock-drift', 'slow-fsync'] as const;

export const iam: Scenario = {
  name: 'iam',
  description: 'iam on real flaredb: 3 replicas and 4 access gates under partitions, crashes, pauses, skewed and drifting clocks and a lossy network; a revoked binding or session is refused on every node within the staleness bound, also on nodes that were cut off and healed later',
  faults: FAULTS,
  durationMs: 8_000,
  livenessBoundMs: 3_000,
  run: (ctx) => run(ctx, DECISION_CACHE_MS),
};

/**
 * PLANTED BUG: the gates keep decisions ten times longer than the bound allows for, so a gate cut
 * off from iam honours a revoked binding or session past the bound. Sweeps must find it.
 */
export const iamStaleGate: Scenario = {
  ...iam,
  name: 'iam-stale-gate',
  description: 'PLANTED BUG: the access gates cache decisions for 10× the staleness bound; sweeps must find a revocation honoured too late on a gate that was cut off',
  run: (ctx) => run(ctx, DECISION_CACHE_MS * 10),
};

async function run(ctx: ScenarioContext, gateCacheMs: number): Promise<ScenarioVerdict> {
  const replicas = new Map<string, { readonly incarnation: number; readonly iam: Iam }>();
  const gates = new Map<string, IamGate>();
  const hasher = inlineHasher({ N: 16, r: 1, p: 1 });
  const cluster = ctx.cluster(
    {
      nodes: NODES,
      network: { detectionTimeoutMs: 800, minLatencyMs: 0.5, maxLatencyMs: 5 },
      membership: { seeds: (node) => NODES.filter((n) => n !== node), gossipIntervalMs: 100, suspectTimeoutMs: 500 },
      boot: (node: SimNode) => {
        const registry = node.system.spawnSystem(receptionist({ membership: node.membership! }), { name: RECEPTIONIST_NAME });
        if ((VOTERS as readonly string[]).includes(node.id)) {
          const { client } = startFlaredb(node.system, { nodeId: node.id, voters: VOTERS, backend: node.disk, tickMs: 20, heartbeatTicks: 5, requestTimeoutMs: REQUEST_TIMEOUT_MS, clientTimeoutMs: REQUEST_TIMEOUT_MS });
          const kv: FlaredbClient = client;
          replicas.set(node.id, { incarnation: node.incarnation, iam: startIam(node.system, { kv, receptionist: registry, clusterSecret: CLUSTER_SECRET, hasher, config: CONFIG }) });
        }
        gates.set(node.id, createIamGate({ system: node.system, receptionist: registry, adminToken: ADMIN_TOKEN, syncIntervalMs: GATE_SYNC_MS, askTimeoutMs: ASK_TIMEOUT_MS, view: { decisionCacheMs: gateCacheMs, skewSec: 300 } }));
      },
    },
    { crashable: NODES, pausable: NODES, maxDown: 1 },
  );
  for (const name of Object.values(COVERAGE)) ctx.sometimes(name, false);

  const wait = (ms: number, label: string): Promise<void> => new Promise((resolve) => ctx.after(ms, label, resolve));

  /** Asks a replica on an up node, with a deadline; the error's code on failure. */
  const askReplica = <R>(message: IamMsg, label: string): Promise<{ ok: true; value: R } | { ok: false; code: string; message?: string }> =>
    new Promise((resolve) => {
      const up = VOTERS.filter((id) => cluster.isUp(id));
      const on = up[ctx.random.int(up.length)];
      if (on === undefined) return void ctx.after(50, label, () => resolve({ ok: false, code: 'Unavailable' }));
      let open = true;
      const close = (r: { ok: true; value: R } | { ok: false; code: string; message?: string }): void => {
        if (open) (open = false), resolve(r);
      };
      ctx.after(3_000, `${label} deadline`, () => close({ ok: false, code: 'DeadlineExceeded' }));
      cluster.onNode(on, (node) => {
        const replica = replicas.get(node.id)!.iam.replica;
        node.system.ask(replica, message as never, { timeoutMs: 2_500 }).then(
          (value) => close({ ok: true, value: value as R }),
          (error: unknown) => close({ ok: false, code: UltraError.from(error).code, message: `${on}: ${UltraError.from(error).message}` }),
        );
      });
    });

  /**
   * Retries `message` until it is acknowledged. `done` names the error that means a retry found
   * the work done already: AlreadyExists for a create whose first try may have landed, NotFound
   * for a revocation.
   */
  const until = async <R>(message: IamMsg, label: string, done?: 'AlreadyExists' | 'NotFound'): Promise<R | undefined> => {
    for (;;) {
      const r = await askReplica<R>(message, label);
      if (r.ok) {
        ctx.note(`${label}: done`);
        return r.value;
      }
      if (r.code === done) return undefined;
      ctx.note(`${label}: ${r.code} ${r.message ?? ''}, retrying`);
      await wait(50 + 100 * ctx.random.next(), `${label} retry`);
    }
  };
  const mutate = (mutation: Mutation, label: string): Promise<unknown> => until({ type: 'iam.mutate', by: 'system:admin', mutation }, label, mutation.op.startsWith('create') ? 'AlreadyExists' : 'NotFound');

  // ---- setup, under the faults: the world, then a token per user ----
  const tokens = new Map<string, TokenResponse>();
  const setup = async (): Promise<void> => {
    await mutate({ op: 'create-org', id: 'o' }, 'setup org');
    await mutate({ op: 'create-project', org: 'o', id: 'p' }, 'setup project');
    await Promise.all(
      USERS.map(async (user) => {
        await mutate({ op: 'create-user', id: user, org: 'o', password: PASSWORD }, `setup ${user}`);
        if (user !== UNBOUND) await mutate({ op: 'create-binding', id: `bind-${user}`, principal: { kind: 'user', id: user }, role: 'ProjectMember', scope: { kind: 'project', org: 'o', project: 'p' } }, `setup bind ${user}`);
        const token = await until<TokenResponse>({ type: 'iam.token', request: { grant: 'password', username: user, password: PASSWORD } }, `login ${user}`);
        if (token !== undefined) tokens.set(user, token);
      }),
    );
  };
  const setupDone = ctx.settle(setup(), 60_000);

  // ---- probes through every gate ----
  const probes: Probe[] = [];
  let running = true;
  const probe = (nodeId: string): void => {
    if (!running) return;
    ctx.after(10 + 30 * ctx.random.next(), `probe ${nodeId}`, () => {
      if (tokens.size < USERS.length || !cluster.isUp(nodeId)) return probe(nodeId);
      const user = USERS[ctx.random.int(USERS.length)]!;
      const p: Probe = { node: nodeId, user, startedAt: ctx.now, outcome: undefined };
      probes.push(p);
      const finish = (outcome: Outcome): void => {
        if (p.outcome !== undefined) return;
        p.outcome = outcome;
        if (outcome === 'Unavailable') ctx.sometimes(COVERAGE.unavailable, true);
        if (outcome !== 'allowed') {
          const revoked = revocations.find((r) => r.user === user && r.ackedAt !== undefined && p.startedAt >= r.ackedAt + BOUND_MS);
          if (revoked !== undefined) {
            if (revoked.how === 'session' && outcome === 'Unauthenticated') ctx.sometimes(COVERAGE.sessionRevoked, true);
            if (revoked.how === 'binding' && outcome === 'PermissionDenied') ctx.sometimes(COVERAGE.bindingRevoked, true);
            if (revoked.cutOff.includes(nodeId) && (outcome === 'Unauthenticated' || outcome === 'PermissionDenied')) ctx.sometimes(COVERAGE.healedRefusal, true);
          }
        }
      };
      ctx.after(PROBE_DEADLINE_MS, `probe ${nodeId} deadline`, () => finish('timeout'));
      cluster.onNode(nodeId, (node) => {
        const gate = gates.get(node.id)!;
        const token = tokens.get(user)!.access_token;
        gate
          .authenticate(token)
          .then((caller) => gate.authorize(caller, { action: 'compute:instances:create', resource: { kind: 'instances', org: 'o', project: 'p' } }))
          .then(
            () => finish('allowed'),
            (error: unknown) => {
              const code = UltraError.from(error).code;
              finish(code === 'PermissionDenied' || code === 'Unauthenticated' || code === 'Unavailable' ? code : 'other');
            },
          );
      });
      probe(nodeId);
    });
  };
  for (const id of NODES) probe(id);

  // ---- revocations at random times once set up ----
  const revocations: Revocation[] = [];
  const isolate = (node: string, ms: number): void => {
    const others = NODES.filter((n) => n !== node);
    ctx.note(`workload cuts ${node} off for ${ms.toFixed(0)} ms`);
    for (const o of others) cluster.network.block(node, o), cluster.network.block(o, node);
    ctx.after(ms, `workload heals ${node}`, () => {
      ctx.note(`workload heals ${node}`);
      for (const o of others) cluster.network.unblock(node, o), cluster.network.unblock(o, node);
    });
  };
  const reachesNoReplica = (gateNode: string): boolean => !cluster.isUp(gateNode) || VOTERS.every((r) => r !== gateNode && !cluster.network.isConnected(gateNode, r)) || VOTERS.every((r) => !cluster.isUp(r));
  const revoke = async (): Promise<void> => {
    const order = [...BY_BINDING, ...BY_SESSION].sort(() => ctx.random.next() - 0.5);
    for (const user of order) {
      await wait(100 + 600 * ctx.random.next(), `revoke ${user} later`);
      // Often cut one node off from everyone just before the revocation and heal it well after,
      // so that a gate misses the push and must catch up after the heal (only while the nemesis
      // may still act, so liveness mode's quiet phase stays quiet).
      if (ctx.now < CUT_UNTIL_MS && ctx.random.next() < 0.6) isolate(NODES[ctx.random.int(NODES.length)]!, 300 + 1_500 * ctx.random.next());
      const how = BY_BINDING.includes(user) ? 'binding' : 'session';
      const r: Revocation = { user, how, ackedAt: undefined, cutOff: [] };
      revocations.push(r);
      const mutation: Mutation = how === 'binding' ? { op: 'delete-binding', id: `bind-${user}` } : { op: 'revoke-session', session: tokens.get(user)!.session };
      await mutate(mutation, `revoke ${user}`);
      r.ackedAt = ctx.now;
      r.cutOff = NODES.filter((g) => reachesNoReplica(g));
      ctx.note(`revoked ${user} (${how}) at ${ctx.now.toFixed(1)} ms${r.cutOff.length > 0 ? `; cut off: ${r.cutOff.join(' ')}` : ''}`);
      if (r.cutOff.length > 0) ctx.sometimes(COVERAGE.cutOff, true);
    }
  };

  // The bound, checked as probes finish (and at the end).
  const violations: string[] = [];
  const checkProbes = (): string | undefined => {
    for (const p of probes) {
      if (p.outcome !== 'allowed') continue;
      if (p.user === UNBOUND) return `${p.node} allowed ${UNBOUND}, who has no binding (probe at ${p.startedAt.toFixed(1)} ms)`;
      const r = revocations.find((x) => x.user === p.user && x.ackedAt !== undefined && p.startedAt > x.ackedAt + BOUND_MS);
      if (r !== undefined) return `${p.node} allowed ${p.user} at ${p.startedAt.toFixed(1)} ms, ${(p.startedAt - r.ackedAt!).toFixed(1)} ms after its ${r.how} was revoked (bound ${BOUND_MS} ms)`;
    }
    return undefined;
  };
  ctx.invariant('revocations hold within the bound', checkProbes, 200);

  // Liveness: u0/u1 allowed through each gate.
  for (const id of NODES) ctx.progress(`an unrevoked user allowed through ${id}`, () => probes.filter((p) => p.node === id && p.outcome === 'allowed' && NEVER_REVOKED.includes(p.user)).length);

  const setupWatch = async (): Promise<void> => {
    const done = await setupDone;
    if (done.status === 'ok') void ctx.settle(revoke(), 60_000);
  };
  void setupWatch();
  await ctx.runFor(iam.durationMs);
  ctx.quiesce();
  await ctx.runFor(PROBE_DEADLINE_MS + 500);
  running = false;
  await ctx.runFor(PROBE_DEADLINE_MS + 100);
  const final = checkProbes();
  if (final !== undefined) violations.push(final);
  if (tokens.size < USERS.length) violations.push(`setup did not finish: ${tokens.size}/${USERS.length} users logged in`);
  const done = revocations.filter((r) => r.ackedAt !== undefined).length;
  const allowed = probes.filter((p) => p.outcome === 'allowed').length;
  const refused = probes.filter((p) => p.outcome === 'PermissionDenied' || p.outcome === 'Unauthenticated').length;
  const unavailable = probes.filter((p) => p.outcome === 'Unavailable' || p.outcome === 'timeout').length;
  const epochs = [...replicas.values()].map((r) => r.iam.core.epoch);
  return {
    failures: violations,
    summary: `${probes.length} probes (${allowed} allowed, ${refused} refused, ${unavailable} unavailable/timed out); ${done}/${BY_BINDING.length + BY_SESSION.length} revocations acknowledged; replica epochs ${epochs.join(',')}; bound ${BOUND_MS} ms`,
  };
}
