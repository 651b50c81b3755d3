// chainfire against etcd-server (Debian's etcd 3.4) as its performance peer, side by side in one
// run: the same grpc-js KV client built from the same protos (actors/chainfire/api/proto/) drives
// both, on loopback, with the same durability (etcd's default WAL fsync; chainfire syncs its Raft
// log on every Ready). Two topologies, one after the other: a single node, and three nodes (etcd:
// three processes with --initial-cluster; chainfire: `cluster init --nodes 3`). Every request goes
// to the leader. Figures: put throughput with 1, 16 and 256 clients in flight (100-byte values),
// put latency p50/p99 from the sequential run, and linearizable and serializable Range throughput
// with 64 in flight; and CPU time from /proc (less disturbed by a busy machine than throughput):
// the leader process's per put with 256 clients, and all members' per sequential put (on two
// cores, what a round costs the whole cluster is what makes its slowest puts wait for a core),
// on three nodes also split into the leader's and each follower's.
// Each figure is the median of RUNS runs (default 3: this suite is slow), the stores taking turns
// run by run after one short warm-up each; within a run the sequential puts go in blocks of 200,
// the stores taking turns block by block, so that a machine slowing down for a while slows all of
// them alike (the single-client figures are the ones such spells move most).
// Needs: apt-get install etcd-server (the `etcd` binary on PATH).
// Run: npm run bench -- chainfire   (or: npx node test/bench/chainfire.bench.ts); TOPOLOGY=1 or 3
// measures one topology only.
// Before/after a change, in the same run: CHAINFIRE_BASELINE=DIR, a checkout of the earlier code
// (e.g. `git archive HEAD | tar -x -C DIR`, with node_modules linked in), runs that build as a
// third store taking turns with the other two; its rows are marked [baseline].
// etcd's members talk TLS to each other (a CA and a peer certificate for 127.0.0.1 made with
// openssl, client certificates required), as chainfire's always do (TLS 1.3 between nodes), so the
// three-node comparison charges the encryption to both sides. ETCD_PEER_TLS=0: etcd's peer
// traffic in plain HTTP instead (how this bench ran until 2026-11-27).
// etcd has authentication enabled and the client logged in as root, as chainfire always
// authenticates every call: etcd then checks each request's token and permissions too (the etcd
// server spent 85–125 µs more CPU per sequential put with it in a side-by-side check, 2026-11-27).
// ETCD_AUTH=0: etcd without authentication (how this bench ran until 2026-11-27).
// CLIENT_TLS=1: clients talk TLS to both stores (etcd's --cert-file/--key-file, chainfire's
// node.json `tls`; one certificate for 127.0.0.1 from a CA the client trusts). A baseline build
// must then serve TLS too (2026-11-27 on).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedLoop, KvEndpoint } from './etcd-kv-client.ts';
import { cpuMicros } from './process-cpu.ts';
import { median, percentile, report, type BenchRow } from './report.ts';
import { issueCertificate, makeCa, nodeCertificates, nodeName, type CertificateFiles } from '../support/test-certificates.ts';

const RUNS = Number(process.env.RUNS ?? 3);
/** A checkout of earlier chainfire code to measure side by side (see the header). */
const BASELINE = process.env.CHAINFIRE_BASELINE;
const PEER_TLS = process.env.ETCD_PEER_TLS !== '0';
const ETCD_AUTH = process.env.ETCD_AUTH !== '0';
const CLIENT_TLS = process.env.CLIENT_TLS === '1';
const SEQUENTIAL_PUTS = 2_000;
/** The sequential puts go in this many blocks per store, the stores taking turns (see sequentialPuts). */
const SEQUENTIAL_BLOCKS = 10;
/** Puts per run by clients in flight; kept small enough for chainfire's 3-node run to take about a minute. */
const CONCURRENT_PUTS: Readonly<Record<number, number>> = { 16: 5_000, 256: 10_000 };
const RANGES = 10_000;
const RANGE_CLIENTS = 64;
const VALUE_BYTES = 100;
/** Keys written and read: k0000 … k0999. */
const KEYS = 1_000;
const STARTUP_TIMEOUT_MS = 60_000;

const cli = new URL('../../runtime/cli/ultracloud.ts', import.meta.url).pathname;
const value = randomBytes(VALUE_BYTES);
export const keys = Array.from({ length: KEYS }, (_, i) => Buffer.from(`k${String(i).padStart(4, '0')}`));

// ── Processes ──────────────────────────────────────────────────────────────

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

function start(command: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Output kept for an error message when a process dies or never gets ready. */
function collect(child: ChildProcess): () => string {
  let text = '';
  const keep = (chunk: Buffer) => {
    text = (text + chunk.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return () => text;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function run(command: string, args: string[]): Promise<void> {
  const child = start(command, args);
  const output = collect(child);
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}: ${output()}`);
}

async function until<T>(what: string, attempt: () => Promise<T | undefined>, died: () => string | undefined): Promise<T> {
  const deadline = performance.now() + STARTUP_TIMEOUT_MS;
  let last = '';
  while (performance.now() < deadline) {
    const dead = died();
    if (dead !== undefined) throw new Error(`${what}: ${dead}`);
    try {
      const result = await attempt();
      if (result !== undefined) return result;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out: ${what} (${last})`);
}

/** A running store: the endpoint of its leader, ready for writes. */
export interface Store {
  readonly name: string;
  readonly leader: KvEndpoint;
  /** The leader's process, whose CPU time is measured under load. */
  readonly leaderPid: number;
  /** Every member's process: a sequential put's CPU time is the whole cluster's. */
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

/** Connects to every endpoint, waits for a leader all agree on, and returns the leader's endpoint (the others closed). */
async function findLeader(name: string, endpoints: KvEndpoint[], processes: ChildProcess[], outputs: (() => string)[]): Promise<KvEndpoint> {
  const died = () => {
    const i = processes.findIndex((p) => p.exitCode !== null || p.signalCode !== null);
    return i < 0 ? undefined : `${name} process ${i} exited: ${outputs[i]!()}`;
  };
  const leader = await until(
    `${name}: a leader`,
    async () => {
      const statuses = await Promise.all(endpoints.map((e) => e.status()));
      const leaders = new Set(statuses.map(([, l]) => l));
      if (leaders.size !== 1 || leaders.has('0')) return undefined;
      return endpoints[statuses.findIndex(([self, l]) => self === l)];
    },
    died,
  );
  // The first write also waits out chainfire's no-op of the new term.
  await until(`${name}: a first write`, () => leader.put(keys[0]!, 0), died);
  for (const e of endpoints) if (e !== leader) e.close();
  return leader;
}

/**
 * A CA and one certificate for `addresses` that serves and authenticates every etcd member (ECDSA
 * P-256); returns etcd's flags for TLS between members, client certificates required.
 */
export async function peerCertificates(dir: string, addresses: readonly string[] = ['127.0.0.1']): Promise<string[]> {
  const ca = await makeCa(dir, 'ca');
  const peer = await issueCertificate(dir, 'peer', ca, addresses);
  return ['--peer-cert-file', peer.cert, '--peer-key-file', peer.key, '--peer-trusted-ca-file', ca.cert, '--peer-client-cert-auth'];
}

/** CLIENT_TLS: a CA the client trusts, and each node's certificate for 127.0.0.1 in `dir` (as `cluster init --tls-dir` reads them). */
interface ClientTls {
  readonly ca: Buffer;
  readonly dir: string;
  /** Node `i`'s (0-based) certificate and key files. */
  readonly node: (i: number) => CertificateFiles;
}

async function clientTls(dir: string, nodes: number): Promise<ClientTls> {
  const tlsDir = join(dir, 'client-tls');
  const ca = await nodeCertificates(tlsDir, Array.from({ length: nodes }, () => '127.0.0.1'));
  const node = (i: number) => ({ cert: join(tlsDir, `${nodeName(i)}.crt`), key: join(tlsDir, `${nodeName(i)}.key`) });
  return { ca: await readFile(ca.cert), dir: tlsDir, node };
}

async function startEtcd(nodes: number, basePort: number, dir: string): Promise<Store> {
  const names = Array.from({ length: nodes }, (_, i) => `etcd${i}`);
  const clientPort = (i: number) => basePort + i;
  const peerUrl = (i: number) => `${PEER_TLS ? 'https' : 'http'}://127.0.0.1:${basePort + 10 + i}`;
  const tlsFlags = PEER_TLS ? await peerCertificates(dir) : [];
  const serving = CLIENT_TLS ? await clientTls(dir, nodes) : undefined;
  const clientUrl = (i: number) => `${serving === undefined ? 'http' : 'https'}://127.0.0.1:${clientPort(i)}`;
  const cluster = names.map((n, i) => `${n}=${peerUrl(i)}`).join(',');
  const processes = names.map((n, i) =>
    start('etcd', [
      '--name', n,
      '--data-dir', join(dir, n),
      '--listen-client-urls', clientUrl(i),
      '--advertise-client-urls', clientUrl(i),
      ...(serving === undefined ? [] : ['--cert-file', serving.node(i).cert, '--key-file', serving.node(i).key]),
      '--listen-peer-urls', peerUrl(i),
      '--initial-advertise-peer-urls', peerUrl(i),
      '--initial-cluster', cluster,
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', `bench-${basePort}`,
      '--log-level', 'warn',
      ...tlsFlags,
    ]),
  );
  const outputs = processes.map(collect);
  const endpoints = names.map((_, i) => new KvEndpoint(`127.0.0.1:${clientPort(i)}`, value, serving?.ca));
  const leader = await findLeader(`etcd ×${nodes}`, endpoints, processes, outputs);
  if (ETCD_AUTH) {
    const password = randomBytes(12).toString('hex');
    await leader.call('Auth', 'UserAdd', { name: 'root', password });
    await leader.call('Auth', 'UserGrantRole', { user: 'root', role: 'root' });
    await leader.call('Auth', 'AuthEnable', {});
    await leader.login('root', password);
  }
  return {
    name: 'etcd',
    leader,
    leaderPid: processes[endpoints.indexOf(leader)]!.pid!,
    pids: processes.map((p) => p.pid!),
    async stop() {
      leader.close();
      await Promise.all(processes.map(stop));
    },
  };
}

async function startChainfire(nodes: number, basePort: number, dir: string, ultracloud = cli, name = 'chainfire'): Promise<Store> {
  let dataDirs: string[];
  let grpcPorts: number[];
  const serving = CLIENT_TLS ? await clientTls(dir, nodes) : undefined;
  if (nodes === 1) {
    dataDirs = [join(dir, 'node01')];
    grpcPorts = [basePort + 200];
    const tlsFlags = serving === undefined ? [] : ['--tls-cert', serving.node(0).cert, '--tls-key', serving.node(0).key];
    await run(process.execPath, [ultracloud, 'node', 'init', '--data-dir', dataDirs[0]!, '--components', 'chainfire', '--port', `chainfire-grpc=${grpcPorts[0]}`, '--port', `chainfire-http=${basePort + 300}`, ...tlsFlags]);
  } else {
    const tlsFlags = serving === undefined ? [] : ['--tls-dir', serving.dir];
    await run(process.execPath, [ultracloud, 'cluster', 'init', '--nodes', String(nodes), '--out', dir, '--base-port', String(basePort), '--components', 'chainfire', ...tlsFlags]);
    dataDirs = Array.from({ length: nodes }, (_, i) => join(dir, `node${String(i + 1).padStart(2, '0')}`));
    grpcPorts = dataDirs.map((_, i) => basePort + 200 + i);
  }
  const processes = dataDirs.map((d) => start(process.execPath, [ultracloud, 'node', 'start', '--data-dir', d], { ULTRACLOUD_LOG_LEVEL: 'warn' }));
  const outputs = processes.map(collect);
  await Promise.all(
    processes.map((p, i) =>
      until('chainfire node ready', async () => (outputs[i]!().includes(' ready') ? true : undefined), () => (p.exitCode !== null ? `exited: ${outputs[i]!()}` : undefined)),
    ),
  );
  // The admin token exists once the first node started (cluster init wrote the same one everywhere).
  const password = (await readFile(join(dataDirs[0]!, 'admin-token'), 'utf8')).trim();
  const endpoints = grpcPorts.map((port) => new KvEndpoint(`127.0.0.1:${port}`, value, serving?.ca));
  await Promise.all(endpoints.map((e) => until('chainfire login', () => e.login('root', password).then(() => true), () => undefined)));
  const leader = await findLeader(`${name} ×${nodes}`, endpoints, processes, outputs);
  return {
    name,
    leader,
    leaderPid: processes[endpoints.indexOf(leader)]!.pid!,
    pids: processes.map((p) => p.pid!),
    async stop() {
      leader.close();
      await Promise.all(processes.map(stop));
    },
  };
}

// ── Workloads ──────────────────────────────────────────────────────────────

interface Sequential {
  rate: number;
  latenciesMs: number[];
  /** Every member's CPU µs per put. */
  cpuPerPut: number;
  /** The leader's share of it. */
  leaderCpuPerPut: number;
}

/**
 * SEQUENTIAL_PUTS puts one at a time to each store, in blocks, the stores taking turns block by
 * block: when the machine slows down for a while (a neighbour on the host), it slows all of them
 * alike, where a whole run each would charge it to whichever store had its turn.
 */
async function sequentialPuts(stores: readonly Store[]): Promise<Map<string, Sequential>> {
  const perBlock = SEQUENTIAL_PUTS / SEQUENTIAL_BLOCKS;
  const totals = new Map(stores.map((s) => [s.name, { ms: 0, cpu: 0, leaderCpu: 0, latenciesMs: [] as number[] }]));
  for (let block = 0; block < SEQUENTIAL_BLOCKS; block++) {
    for (let turn = 0; turn < stores.length; turn++) {
      const store = stores[(block + turn) % stores.length]!;
      const total = totals.get(store.name)!;
      // Each member read once: the leader's share and the cluster's total from the same readings.
      const cpuBefore = await Promise.all(store.pids.map((pid) => cpuMicros([pid])));
      const t0 = performance.now();
      for (let i = 0; i < perBlock; i++) {
        const start = performance.now();
        await store.leader.put(keys[(block * perBlock + i) % KEYS]!, 0);
        total.latenciesMs.push(performance.now() - start);
      }
      total.ms += performance.now() - t0;
      const cpuAfter = await Promise.all(store.pids.map((pid) => cpuMicros([pid])));
      const used = cpuAfter.map((after, i) => after - cpuBefore[i]!);
      total.cpu += used.reduce((a, b) => a + b, 0);
      total.leaderCpu += used[store.pids.indexOf(store.leaderPid)]!;
    }
  }
  return new Map([...totals].map(([name, t]) => [name, { rate: SEQUENTIAL_PUTS / (t.ms / 1000), latenciesMs: t.latenciesMs, cpuPerPut: t.cpu / SEQUENTIAL_PUTS, leaderCpuPerPut: t.leaderCpu / SEQUENTIAL_PUTS }]));
}

const concurrentPuts = (kv: KvEndpoint, clients: number) => closedLoop(clients, CONCURRENT_PUTS[clients]!, (i, c) => kv.put(keys[i % KEYS]!, c));
const ranges = (kv: KvEndpoint, serializable: boolean) =>
  closedLoop(RANGE_CLIENTS, RANGES, async (i, c) => {
    const r = await kv.range(keys[(i * 7919) % KEYS]!, serializable, c);
    if ((r.kvs as unknown[]).length !== 1) throw new Error(`${kv.address}: Range found ${(r.kvs as unknown[]).length} keys`);
  });

interface Sample {
  /** The store's share of the sequential puts (sequentialPuts). */
  sequential: Sequential;
  put16: number;
  put256: number;
  /** The leader's CPU µs per put during the 256-client run. */
  cpu256: number;
  linearizable: number;
  serializable: number;
}

/** The rest of a run for one store, after its share of the sequential puts. */
async function measure(kv: KvEndpoint, pid: number, sequential: Sequential): Promise<Sample> {
  const put16 = await concurrentPuts(kv, 16);
  const cpuBefore = await cpuMicros([pid]);
  const put256 = await concurrentPuts(kv, 256);
  const cpu256 = ((await cpuMicros([pid])) - cpuBefore) / CONCURRENT_PUTS[256]!;
  return {
    sequential,
    put16,
    put256,
    cpu256,
    linearizable: await ranges(kv, false),
    serializable: await ranges(kv, true),
  };
}

/** Writes every key (Range then finds one) and warms both paths up a little. */
async function warmUp(kv: KvEndpoint): Promise<void> {
  await closedLoop(16, KEYS, (i, c) => kv.put(keys[i]!, c));
  await closedLoop(RANGE_CLIENTS, 2_000, (i, c) => kv.range(keys[i % KEYS]!, i % 2 === 0, c));
}

/**
 * Runs `fn` on etcd, chainfire and (with CHAINFIRE_BASELINE) the baseline build, `nodes` members
 * each, started in a fresh directory (`fn` may keep files of its own there) and warmed up; stops
 * them and removes the directory afterwards.
 */
export async function withStores<T>(nodes: number, basePort: number, purpose: string, fn: (stores: readonly Store[], dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), `uc-${purpose}-`));
  const stores: Store[] = [];
  try {
    stores.push(await startEtcd(nodes, basePort, join(dir, 'etcd')));
    stores.push(await startChainfire(nodes, basePort + 1000, join(dir, 'chainfire')));
    if (BASELINE !== undefined) stores.push(await startChainfire(nodes, basePort + 1500, join(dir, 'baseline'), join(BASELINE, 'runtime/cli/ultracloud.ts'), 'baseline'));
    for (const s of stores) await warmUp(s.leader);
    return await fn(stores, dir);
  } finally {
    for (const s of stores) await s.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function topology(nodes: number, basePort: number): Promise<BenchRow[]> {
  return withStores(nodes, basePort, `chainfire-bench-${nodes}`, async (stores) => {
    const samples: Record<string, Sample[]> = Object.fromEntries(stores.map((s) => [s.name, []]));
    for (let run = 0; run < RUNS; run++) {
      // Taking turns, so that whatever else the machine does falls on all alike.
      const order = stores.map((_, i) => stores[(i + run) % stores.length]!);
      if (run % 2 === 1) order.reverse();
      const retriesBefore = new Map(stores.map((s) => [s.name, s.leader.retries]));
      const termsBefore = new Map(await Promise.all(stores.map(async (s) => [s.name, await s.leader.term()] as const)));
      const sequentialStart = performance.now();
      const sequential = await sequentialPuts(order);
      process.stderr.write(`  ${nodes} node(s), run ${run + 1}/${RUNS}, sequential puts, all stores: ${((performance.now() - sequentialStart) / 1000).toFixed(1)} s\n`);
      for (const s of order) {
        const t0 = performance.now();
        const termBefore = termsBefore.get(s.name)!;
        samples[s.name]!.push(await measure(s.leader, s.leaderPid, sequential.get(s.name)!));
        const retried = s.leader.retries - retriesBefore.get(s.name)!;
        const termAfter = await s.leader.term();
        const notes = [
          ...(retried > 0 ? [`${retried} requests retried after UNAVAILABLE`] : []),
          ...(termAfter !== termBefore ? [`Raft term ${termBefore} → ${termAfter}: the leader changed`] : []),
        ];
        process.stderr.write(`  ${nodes} node(s), run ${run + 1}/${RUNS}, ${s.name}: ${((performance.now() - t0) / 1000).toFixed(1)} s${notes.map((n) => `, ${n}`).join('')}\n`);
      }
    }
    const m = (name: string, pick: (s: Sample) => number) => median(samples[name]!.map(pick));
    const label = nodes === 1 ? '1 node' : `${nodes} nodes`;
    const rows = (name: string): BenchRow[] => {
      const tag = name === 'chainfire' ? '' : ` [${name}]`;
      const throughput = (metric: string, pick: (s: Sample) => number): BenchRow => {
        const ours = m(name, pick);
        const peer = m('etcd', pick);
        return { metric: `${label}: ${metric}${tag}`, ours, peer, peerName: 'etcd', ratio: ours / peer };
      };
      const lower = (metric: string, pick: (s: Sample) => number): BenchRow => {
        const ours = m(name, pick);
        const peer = m('etcd', pick);
        return { metric: `${label}: ${metric}${tag}`, ours, peer, peerName: 'etcd', ratio: peer / ours };
      };
      const latency = (metric: string, q: number): BenchRow => {
        const ours = m(name, (s) => percentile(s.sequential.latenciesMs, q));
        const peer = m('etcd', (s) => percentile(s.sequential.latenciesMs, q));
        return { metric: `${label}: ${metric}${tag}`, ours, peer, peerName: 'etcd', ratio: peer / ours };
      };
      return [
        throughput('put, 1 client (puts/s)', (s) => s.sequential.rate),
        throughput('put, 16 clients (puts/s)', (s) => s.put16),
        throughput('put, 256 clients (puts/s)', (s) => s.put256),
        lower('leader CPU per put, 256 clients (µs)', (s) => s.cpu256),
        lower('cluster CPU per put, sequential (µs)', (s) => s.sequential.cpuPerPut),
        // Where a round's CPU goes: on the leader (the client's requests, proposing, sending) or on
        // each follower (receiving, persisting, answering).
        ...(nodes === 1
          ? []
          : [
              lower('leader CPU per put, sequential (µs)', (s) => s.sequential.leaderCpuPerPut),
              lower('CPU per put on each follower, sequential (µs)', (s) => (s.sequential.cpuPerPut - s.sequential.leaderCpuPerPut) / (nodes - 1)),
            ]),
        latency('put latency p50, sequential (ms)', 50),
        latency('put latency p99, sequential (ms)', 99),
        throughput(`linearizable range, ${RANGE_CLIENTS} clients (reads/s)`, (s) => s.linearizable),
        throughput(`serializable range, ${RANGE_CLIENTS} clients (reads/s)`, (s) => s.serializable),
      ];
    };
    return [...rows('chainfire'), ...(BASELINE === undefined ? [] : rows('baseline'))];
  });
}

export async function runChainfireBenches(): Promise<BenchRow[]> {
  if (spawnSync('etcd', ['--version']).status !== 0) throw new Error('the chainfire bench needs etcd on PATH: apt-get install etcd-server');
  // Fixed ports below Linux's ephemeral range (32768…) and apart from the e2e tests' (23000…26300):
  // etcd on base…base+12, chainfire's cluster on base+1000…, its etcd API on base+1200…
  const base = 27_000 + (process.pid % 50) * 20;
  const only = process.env.TOPOLOGY;
  return [...(only === '3' ? [] : await topology(1, base)), ...(only === '1' ? [] : await topology(3, base + 2_000))];
}

/** report() with this suite's default RUNS in its heading. */
export function reportChainfire(rows: readonly BenchRow[]): void {
  const before = process.env.RUNS;
  process.env.RUNS = String(RUNS);
  try {
    const peers = PEER_TLS ? 'etcd peers over TLS' : 'etcd peers in plain HTTP';
    report(`chainfire vs etcd-server, ${peers}, etcd authentication ${ETCD_AUTH ? 'on' : 'off'}, clients over ${CLIENT_TLS ? 'TLS' : 'plain h2c'}`, rows);
  } finally {
    if (before === undefined) delete process.env.RUNS;
    else process.env.RUNS = before;
  }
}

if (import.meta.main) {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  reportChainfire(await runChainfireBenches());
}
