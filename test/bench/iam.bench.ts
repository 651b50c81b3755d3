// iam's hot paths, each next to a peer measured in the same run:
// - token verification on one core: the access gate's path (GateView.verify: a token seen before
//   is a map lookup plus expiry and revocation checks) against raw Ed25519 signature verification
//   (node:crypto, what verifying every request from scratch costs); and the first-sight path
//   (jwt.ts verifyToken: parse, check, verify) against the same raw verify;
// - cached decisions on one core: the gate's authorize() answered from its decision cache against
//   the same call with the cache off (an in-process ask to the replica's decision point);
// - authorize latency over the network: two nodes (`cluster init --nodes 2`, flaredb and iam on
//   each), node 2 asking node 1's decision point as actor messages over the cluster transport,
//   against an ask of a trivial actor on node 1 (the transport round trip alone); and POST
//   /api/v1/authorize over loopback HTTP against GET /health of the same server.
// Each figure is the median of RUNS runs (default 5) after one warm-up.
// Run: npm run bench -- iam   (or: npx node --expose-gc test/bench/iam.bench.ts)
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineActor, ActorSystem, ANY_INCARNATION, type ActorRef, type Query } from '../../runtime/actors/index.ts';
import { receptionist, RECEPTIONIST_NAME } from '../../runtime/cluster/receptionist.ts';
import { realEnv } from '../../runtime/env/real-env.ts';
import { silentLogger } from '../../runtime/log/logger.ts';
import { clusterInit } from '../../runtime/cli/cluster-init.ts';
import { loadNodeConfig, saveNodeConfig } from '../../runtime/node/node-config.ts';
import { startNode, type RunningNode } from '../../runtime/node/node-daemon.ts';
import { ADMIN_PASSWORD_FILE } from '../../actors/iam/bootstrap.ts';
import { publicJwk, signToken, signingKeyFromSeed, verifyToken, type TokenClaims } from '../../actors/iam/core/jwt.ts';
import { inlineHasher } from '../../actors/iam/core/password.ts';
import { createIamGate } from '../../actors/iam/gate/iam-gate.ts';
import { GateView } from '../../actors/iam/gate/gate-view.ts';
import { startIam } from '../../actors/iam/iam-component.ts';
import { IAM_REPLICA_PATH } from '../../actors/iam/iam-component.ts';
import type { AuthorizeResult, IamMsg, TokenResponse } from '../../actors/iam/protocol.ts';
import { MemoryStrongKv } from '../support/memory-strong-kv.ts';
import { median, percentile, repeatRuns, report, type BenchRow } from './report.ts';

const RUNS = Number(process.env.RUNS ?? 5);
const VERIFY_MS = 1_000;
const TOKENS = 1_000;
const DECISIONS_MS = 1_000;
const NETWORK_ASKS = 3_000;
const HTTP_REQUESTS = 2_000;
const env = realEnv();

/** Calls `op` in a tight loop for `ms`, in batches (so reading the clock costs nothing); returns ops/s. */
function rate(ms: number, op: (i: number) => void): number {
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 1_000; i++) op(n + i);
    n += 1_000;
    now = performance.now();
  }
  return (n / (now - start)) * 1_000;
}

async function rateAsync(ms: number, op: (i: number) => Promise<void>): Promise<number> {
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 500; i++) await op(n + i);
    n += 500;
    // Let timers run between batches, as requests arriving on sockets would (the replica's sync
    // timer must keep confirming it is current).
    await new Promise((r) => setImmediate(r));
    now = performance.now();
  }
  return (n / (now - start)) * 1_000;
}

// ── Token verification ─────────────────────────────────────────────────────

function tokens(): { jwks: { keys: ReturnType<typeof publicJwk>[] }; list: string[] } {
  const key = signingKeyFromSeed('bench', new Uint8Array(32).fill(7));
  const nowSec = Math.floor(Date.now() / 1000);
  const list = Array.from({ length: TOKENS }, (_, i) => {
    const claims: TokenClaims = { iss: 'ultracloud-iam', sub: `user:u${i}`, org: 'acme', project: 'web', scope: 'ultracloud', iat: nowSec, exp: nowSec + 900, jti: `${String(i).padStart(32, '0')}.abc`, typ: 'access' };
    return signToken(claims, key);
  });
  return { jwks: { keys: [publicJwk(key)] }, list };
}

async function verificationRows(): Promise<BenchRow[]> {
  const { jwks, list } = tokens();
  const bytes = list.map((t) => Buffer.from(t, 'latin1'));
  const view = new GateView({ issuer: 'ultracloud-iam', skewSec: 60, decisionCacheMs: 2_000, maxDecisions: 100_000, maxTokens: 10_000 });
  view.applySync({ epoch: 1, revoked: [['0'.repeat(32), Number.MAX_SAFE_INTEGER]], jwks }, performance.now());
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const message = Buffer.from(list[0]!.slice(0, list[0]!.lastIndexOf('.')));
  const signature = sign(null, message, privateKey);
  const runs = await repeatRuns(RUNS, async () => {
    const nowSec = Math.floor(Date.now() / 1000);
    const now = performance.now();
    // Tokens 1..n (token 0's session is revoked, so it would throw). Each is decoded from bytes
    // first, as a server gets it from a request header: a fresh string, hashed anew.
    const cached = rate(VERIFY_MS, (i) => void view.verify(bytes[1 + (i % (TOKENS - 1))]!.toString('latin1'), nowSec, now));
    const raw = rate(VERIFY_MS / 2, () => void verify(null, message, publicKey, signature));
    const cold = rate(VERIFY_MS / 2, (i) => void verifyToken(list[i % TOKENS]!, jwks, nowSec, { skewSec: 60, issuer: 'ultracloud-iam', typ: 'access' }));
    return { cached, raw, cold };
  });
  const raw = median(runs.map((r) => r.raw));
  const cached = median(runs.map((r) => r.cached));
  const cold = median(runs.map((r) => r.cold));
  return [
    { metric: 'token verifications/s/core, gate (token seen before: cache + expiry + revocation check)', ours: cached, peer: raw, peerName: 'raw Ed25519 verify', ratio: cached / raw, goal: '≥ 50 k/s' },
    { metric: 'token verifications/s/core, first sight (parse + checks + Ed25519)', ours: cold, peer: raw, peerName: 'raw Ed25519 verify', ratio: cold / raw },
  ];
}

// ── Cached decisions ──────────────────────────────────────────────────────

async function decisionRows(): Promise<BenchRow[]> {
  const system = new ActorSystem({ nodeId: 'bench', env, log: silentLogger() });
  // A single node: the receptionist needs a membership actor to subscribe to, and none ever reports.
  const membership = system.spawnSystem(defineActor<null, { type: string }>({ init: () => null, receive: (s) => s }), { name: 'membership' });
  const registry = system.spawnSystem(receptionist({ membership: membership as never }), { name: RECEPTIONIST_NAME });
  const iam = startIam(system, { kv: new MemoryStrongKv(), receptionist: registry, clusterSecret: new Uint8Array(32).fill(3), hasher: inlineHasher({ N: 1024, r: 8, p: 1 }) });
  const ask = <R>(message: IamMsg): Promise<R> => system.ask(iam.replica, message as never, { timeoutMs: 10_000 }) as Promise<R>;
  while (!iam.core.isCurrent(env.monotonicNow()) || iam.core.jwks.keys.length === 0) await new Promise((r) => setTimeout(r, 20));
  const mutate = (mutation: object): Promise<unknown> => ask({ type: 'iam.mutate', by: 'system:admin', mutation } as IamMsg);
  await mutate({ op: 'create-org', id: 'acme' });
  await mutate({ op: 'create-project', org: 'acme', id: 'web' });
  await mutate({ op: 'create-user', id: 'alice', org: 'acme', password: 'a bench password' });
  await mutate({ op: 'create-binding', principal: { kind: 'user', id: 'alice' }, role: 'ProjectMember', scope: { kind: 'project', org: 'acme', project: 'web' } });
  const token = await ask<TokenResponse>({ type: 'iam.token', request: { grant: 'password', username: 'alice', password: 'a bench password' } });
  const cachedGate = createIamGate({ system, receptionist: registry, adminToken: `uc_admin_${'0'.repeat(64)}`, name: 'gate-cached', view: { decisionCacheMs: 60_000 } });
  const uncachedGate = createIamGate({ system, receptionist: registry, adminToken: `uc_admin_${'0'.repeat(64)}`, name: 'gate-uncached', view: { decisionCacheMs: 0 } });
  while (!cachedGate.view.hasKeys || !uncachedGate.view.hasKeys) await new Promise((r) => setTimeout(r, 20));
  const caller = await cachedGate.authenticate(token.access_token);
  const request = { action: 'compute:instances:create', resource: { kind: 'instances', org: 'acme', project: 'web' } };
  const runs = await repeatRuns(RUNS, async () => {
    await cachedGate.authorize(caller, request);
    const cached = await rateAsync(DECISIONS_MS, () => cachedGate.authorize(caller, request));
    const uncached = await rateAsync(DECISIONS_MS / 2, () => uncachedGate.authorize(caller, request));
    return { cached, uncached };
  });
  await system.shutdown();
  const cached = median(runs.map((r) => r.cached));
  const uncached = median(runs.map((r) => r.uncached));
  return [{ metric: 'cached decisions/s/core (gate.authorize, cache hit)', ours: cached, peer: uncached, peerName: 'cache off: ask the local decision point', ratio: cached / uncached, goal: '≥ 200 k/s' }];
}

// ── Over the network ───────────────────────────────────────────────────────

type EchoMsg = { readonly type: 'echo' } & Query<number>;
const echo = defineActor<null, EchoMsg>({ init: () => null, receive: (s, m, ctx) => (ctx.reply(m, 1), s) });

async function latencies(n: number, op: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await op();
    out.push((performance.now() - t) * 1_000);
  }
  return out;
}

async function networkRows(): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'uc-iam-bench-'));
  const basePort = 20_000 + Math.floor(Math.random() * 20_000);
  const nodes: RunningNode[] = [];
  try {
    await clusterInit(['--nodes', '2', '--out', dir, '--base-port', String(basePort), '--components', 'flaredb,iam']);
    for (const name of ['node01', 'node02']) {
      const config = loadNodeConfig(join(dir, name));
      saveNodeConfig(config);
      nodes.push(await startNode(config, { log: silentLogger() }));
    }
    const [one, two] = nodes as [RunningNode, RunningNode];
    const iamUrl = one.endpoint.components['iam-http']!;
    let password: string | undefined;
    for (let i = 0; i < 600 && password === undefined; i++) {
      for (const name of ['node01', 'node02']) {
        try {
          password = readFileSync(join(dir, name, ADMIN_PASSWORD_FILE), 'utf8').trim();
        } catch {
          // not bootstrapped yet
        }
      }
      if (password === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    if (password === undefined) throw new Error('iam did not bootstrap');
    let admin: TokenResponse | undefined;
    while (admin === undefined) {
      const r = await fetch(`${iamUrl}/api/v1/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ grant_type: 'password', username: 'admin', password }) });
      if (r.ok) admin = (await r.json()) as TokenResponse;
      else await new Promise((res) => setTimeout(res, 200));
    }
    const remoteReplica: ActorRef<IamMsg> = { node: one.nodeId, path: IAM_REPLICA_PATH, uid: ANY_INCARNATION };
    one.system.spawn(echo, { name: 'echo' });
    const remoteEcho: ActorRef<EchoMsg> = { node: one.nodeId, path: '/user/echo', uid: ANY_INCARNATION };
    const decision = (): Promise<AuthorizeResult> => two.system.ask(remoteReplica, { type: 'iam.authorize', principal: 'user:admin', action: 'compute:instances:create', resource: { kind: 'instances', org: 'acme', project: 'web' } }, { timeoutMs: 5_000 });
    const body = JSON.stringify({ principal: 'user:admin', action: 'compute:instances:create', resource: { kind: 'instances', org: 'acme', project: 'web' } });
    const httpAuthorize = async (): Promise<void> => {
      const r = await fetch(`${iamUrl}/api/v1/authorize`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${admin!.access_token}` }, body });
      if (!r.ok) throw new Error(`authorize: ${r.status}`);
      await r.arrayBuffer();
    };
    const httpHealth = async (): Promise<void> => void (await (await fetch(`${one.endpoint.http}/health`)).arrayBuffer());
    await decision();
    const runs = await repeatRuns(Math.min(RUNS, 3), async () => ({
      decision: await latencies(NETWORK_ASKS, decision),
      echo: await latencies(NETWORK_ASKS, () => two.system.ask(remoteEcho, { type: 'echo' }, { timeoutMs: 5_000 })),
      http: await latencies(HTTP_REQUESTS, httpAuthorize),
      health: await latencies(HTTP_REQUESTS, httpHealth),
    }));
    const p = (key: 'decision' | 'echo' | 'http' | 'health', q: number): number => median(runs.map((r) => percentile(r[key], q)));
    return [
      { metric: 'authorize p50 µs, node → another node\'s decision point (actor ask over the cluster transport)', ours: p('decision', 50), peer: p('echo', 50), peerName: 'ask of a trivial actor, same link', ratio: p('echo', 50) / p('decision', 50) },
      { metric: 'authorize p99 µs, node → another node\'s decision point', ours: p('decision', 99), peer: p('echo', 99), peerName: 'ask of a trivial actor, same link', ratio: p('echo', 99) / p('decision', 99) },
      { metric: 'authorize p50 µs, POST /api/v1/authorize (HTTP, loopback, token checked by the gate)', ours: p('http', 50), peer: p('health', 50), peerName: 'GET /health, same kind of server', ratio: p('health', 50) / p('http', 50) },
      { metric: 'authorize p99 µs, POST /api/v1/authorize (HTTP, loopback, token checked by the gate)', ours: p('http', 99), peer: p('health', 99), peerName: 'GET /health, same kind of server', ratio: p('health', 99) / p('http', 99) },
    ];
  } finally {
    for (const n of nodes.reverse()) await n.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runIamBenches(): Promise<BenchRow[]> {
  return [...(await verificationRows()), ...(await decisionRows()), ...(await networkRows())];
}

if (import.meta.url === `file://${process.argv[1]}`) report('iam', await runIamBenches());
