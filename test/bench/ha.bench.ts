// The 3-node HA control plane against a 3-node etcd cluster, in the same network namespaces (each
// node its own address, as separate hosts; see test/e2e/netns-lab.ts): the UltraCloud nodes from
// `ultracloud cluster init --profile ha --hosts …`, etcd as three processes in the same namespaces.
// Only one cluster runs at a time. etcd's members talk TLS to each other (a CA and one certificate
// for the three addresses, made with openssl), as UltraCloud's nodes always do; for the write
// throughput etcd also authenticates every call (a root user, the client logged in), as chainfire
// always does (see etcdCluster for why the failover trials leave that off).
//
// Failover (HA_PART=failover): a trial finds the leader, SIGKILLs it, and times until a write
// through the two survivors succeeds; then restarts the victim and waits until it serves again.
// Both stores are driven by the same client (Debian's etcdctl, one process per attempt, with a
// 250 ms command timeout while it waits for the new leader: the figures' resolution), so the
// client's own cost is the same on both sides. TRIALS defaults to 10.
//
// Write throughput (HA_PART=throughput): put throughput with 1, 16 and 256 clients in flight
// (100-byte values) and put latency p50/p99 of the sequential run, against each cluster's leader,
// through the same grpc-js etcd v3 client (etcd-kv-client.ts; chainfire's etcd API logged in as
// root with the cluster's admin token). Each run starts a fresh cluster, warms it up and measures
// it; the two take turns run by run (RUNS, default 3), and each figure is the median of the runs.
//
// CLIENT_TLS=1: every client talks TLS to both clusters, each node with a certificate for its
// address from one CA (etcd's --cert-file/--key-file; `cluster init --tls-dir`), as the HA profile
// runs in production (docs/operations.md).
//
// Needs root, etcd-server and etcd-client. Run: npm run bench -- ha   (HA_PART=all by default)
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { NetnsLab } from '../e2e/netns-lab.ts';
import { peerCertificates } from './chainfire.bench.ts';
import { closedLoop, KvEndpoint } from './etcd-kv-client.ts';
import { median, percentile, report, type BenchRow } from './report.ts';
import { nodeCertificates, nodeName } from '../support/test-certificates.ts';

const TRIALS = Number(process.env.TRIALS ?? 10);
const RUNS = Number(process.env.RUNS ?? 3);
const PART = process.env.HA_PART ?? 'all';
const CLIENT_TLS = process.env.CLIENT_TLS === '1';
const SEQUENTIAL_PUTS = 2_000;
/** Puts per run by clients in flight, as in chainfire.bench.ts. */
const CONCURRENT_PUTS: Readonly<Record<number, number>> = { 16: 5_000, 256: 10_000 };
const VALUE_BYTES = 100;
/** Keys written: k0000 … k0999. */
const KEYS = 1_000;
const value = randomBytes(VALUE_BYTES);
const keys = Array.from({ length: KEYS }, (_, i) => Buffer.from(`k${String(i).padStart(4, '0')}`));
const cli = new URL('../../runtime/cli/ultracloud.ts', import.meta.url).pathname;

interface Cluster {
  readonly name: string;
  readonly endpoint: (i: number) => string;
  /** etcd's `root` user's password where the store needs a login (chainfire: the cluster's admin token). */
  readonly rootPassword?: string;
  /** CLIENT_TLS: the CA file that issued the nodes' certificates. */
  readonly caFile?: string;
  start(i: number): Promise<void>;
  kill(i: number): Promise<void>;
  stopAll(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** etcdctl's endpoints, TLS and login for `nodes` of `cluster`. */
const target = (cluster: Cluster, nodes: number[]) => [
  '--endpoints',
  nodes.map((i) => `${cluster.caFile === undefined ? '' : 'https://'}${cluster.endpoint(i)}`).join(','),
  ...(cluster.caFile === undefined ? [] : ['--cacert', cluster.caFile]),
  ...(cluster.rootPassword === undefined ? [] : ['--user', `root:${cluster.rootPassword}`]),
];

function etcdctl(cluster: Cluster, nodes: number[], ...args: string[]) {
  return execa('etcdctl', [...target(cluster, nodes), '--dial-timeout', '1s', '--command-timeout', '1s', ...args], { reject: false, env: { ETCDCTL_API: '3' } });
}

/** One write with a short timeout, so the wait for a new leader is sampled finely. */
function quickPut(cluster: Cluster, nodes: number[], key: string) {
  return execa('etcdctl', [...target(cluster, nodes), '--dial-timeout', '250ms', '--command-timeout', '250ms', 'put', key, 'x'], { reject: false, env: { ETCDCTL_API: '3' } });
}



async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function leaderOf(cluster: Cluster): Promise<number> {
  let leader = -1;
  await until(`${cluster.name} leader`, async () => {
    for (const i of [0, 1, 2]) {
      const r = await etcdctl(cluster, [i], 'endpoint', 'status', '-w', 'json');
      if (r.exitCode !== 0) continue;
      const [s] = JSON.parse(r.stdout) as Array<{ Status: { header: { member_id: number | string }; leader: number | string } }>;
      if (s !== undefined && String(s.Status.leader) === String(s.Status.header.member_id)) {
        leader = i;
        return true;
      }
    }
    return false;
  });
  return leader;
}

/** Milliseconds from SIGKILL of the leader to the first write the survivors acknowledge. */
async function trial(cluster: Cluster, n: number): Promise<number> {
  const leader = await leaderOf(cluster);
  const survivors = [0, 1, 2].filter((i) => i !== leader);
  await cluster.kill(leader);
  const t0 = performance.now();
  for (;;) {
    if ((await quickPut(cluster, survivors, `failover-${n}`)).exitCode === 0) break;
    if (performance.now() - t0 > 60_000) throw new Error(`${cluster.name}: no write within 60 s of the leader kill`);
  }
  const elapsed = performance.now() - t0;
  await cluster.start(leader);
  await until(`${cluster.name} node ${leader} back`, async () => (await etcdctl(cluster, [leader], 'get', `failover-${n}`, '--consistency=s', '--print-value-only')).stdout.trim() === 'x');
  return elapsed;
}

function daemon(lab: NetnsLab, i: number, command: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const [program, ...args] = [...lab.exec(i), ...command];
  return spawn(program!, args, { stdio: 'ignore', env: { ...process.env, ...env } });
}

async function killProcess(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

async function ultracloudCluster(lab: NetnsLab, dir: string): Promise<Cluster> {
  const addresses = [0, 1, 2].map((i) => lab.address(i));
  const caFile = CLIENT_TLS ? (await nodeCertificates(join(dir, 'client-tls'), addresses)).cert : undefined;
  const tlsFlags = caFile === undefined ? [] : ['--tls-dir', join(dir, 'client-tls')];
  await execa(process.execPath, [cli, 'cluster', 'init', '--nodes', '3', '--out', dir, '--profile', 'ha', '--hosts', addresses.join(','), ...tlsFlags]);
  const children: Array<ChildProcess | undefined> = [];
  const start = async (i: number) => {
    children[i] = daemon(lab, i, [process.execPath, cli, 'node', 'start', '--data-dir', join(dir, `node0${i + 1}`)], { ULTRACLOUD_LOG_LEVEL: 'warn' });
  };
  for (const i of [0, 1, 2]) await start(i);
  const password = (await readFile(join(dir, 'node01', 'admin-token'), 'utf8')).trim();
  return {
    name: 'ultracloud',
    endpoint: (i) => `${lab.address(i)}:2379`,
    rootPassword: password,
    ...(caFile === undefined ? {} : { caFile }),
    start,
    kill: (i) => killProcess(children[i]),
    stopAll: async () => {
      for (const c of children) await killProcess(c);
    },
  };
}

/**
 * A 3-node etcd whose members talk TLS to each other, as UltraCloud's nodes always do. With
 * `authenticated`, etcd also checks every call's token and permissions (a root user, the client
 * logged in), as chainfire always does. The failover trials leave that off: their etcdctl logs in
 * anew on every attempt, and etcd's login is a bcrypt check of the password, a cost no client
 * pays per write in practice.
 */
const etcdCluster = (authenticated: boolean): MakeCluster => async (lab, dir) => {
  const addresses = [0, 1, 2].map((i) => lab.address(i));
  const tlsFlags = await peerCertificates(join(dir, 'pki'), addresses);
  const caFile = CLIENT_TLS ? (await nodeCertificates(join(dir, 'client-tls'), addresses)).cert : undefined;
  const peers = addresses.map((a, i) => `etcd${i}=https://${a}:2380`).join(',');
  const children: Array<ChildProcess | undefined> = [];
  const start = async (i: number) => {
    const a = addresses[i]!;
    const client = caFile === undefined ? [] : ['--cert-file', join(dir, 'client-tls', `${nodeName(i)}.crt`), '--key-file', join(dir, 'client-tls', `${nodeName(i)}.key`)];
    const url = `${caFile === undefined ? 'http' : 'https'}://${a}:2379`;
    children[i] = daemon(lab, i, ['etcd', '--name', `etcd${i}`, '--data-dir', join(dir, `etcd${i}`), '--listen-client-urls', url, '--advertise-client-urls', url, ...client, '--listen-peer-urls', `https://${a}:2380`, '--initial-advertise-peer-urls', `https://${a}:2380`, '--initial-cluster', peers, '--initial-cluster-state', 'new', '--log-level', 'error', ...tlsFlags]);
  };
  for (const i of [0, 1, 2]) await start(i);
  const cluster: Cluster = {
    name: 'etcd',
    endpoint: (i) => `${addresses[i]!}:2379`,
    ...(caFile === undefined ? {} : { caFile }),
    start,
    kill: (i) => killProcess(children[i]),
    stopAll: async () => {
      for (const c of children) await killProcess(c);
    },
  };
  if (!authenticated) return cluster;
  await until('etcd first write', async () => (await etcdctl(cluster, [0, 1, 2], 'put', 'warm', 'up')).exitCode === 0);
  const rootPassword = randomBytes(12).toString('hex');
  for (const args of [['user', 'add', `root:${rootPassword}`, '--interactive=false'], ['user', 'grant-role', 'root', 'root'], ['auth', 'enable']]) {
    const r = await etcdctl(cluster, [0, 1, 2], ...args);
    if (r.exitCode !== 0) throw new Error(`etcdctl ${args[0]} ${args[1]}: ${r.stderr}`);
  }
  return { ...cluster, rootPassword };
};

type MakeCluster = (lab: NetnsLab, dir: string) => Promise<Cluster>;

/** Runs `fn` on a fresh cluster in fresh namespaces, once it took a first write; removes everything after. */
async function withCluster<T>(make: MakeCluster, fn: (cluster: Cluster) => Promise<T>): Promise<T> {
  const lab = new NetnsLab('hb', 3);
  const dir = await mkdtemp(join(tmpdir(), 'uc-ha-bench-'));
  await lab.create();
  let cluster: Cluster | undefined;
  try {
    cluster = await make(lab, dir);
    const started = cluster;
    await until(`${started.name} first write`, async () => (await etcdctl(started, [0, 1, 2], 'put', 'warm', 'up')).exitCode === 0);
    return await fn(started);
  } finally {
    await cluster?.stopAll();
    await lab.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
}

// ── Failover ───────────────────────────────────────────────────────────────

const failoverTrials = (make: MakeCluster) =>
  withCluster(make, async (cluster) => {
    const times: number[] = [];
    for (let n = 0; n < TRIALS; n++) {
      times.push(await trial(cluster, n));
      process.stderr.write(`${cluster.name} trial ${n + 1}/${TRIALS}: ${times.at(-1)!.toFixed(0)} ms\n`);
    }
    return times;
  });

async function failoverRows(): Promise<BenchRow[]> {
  const ours = await failoverTrials(ultracloudCluster);
  const etcd = await failoverTrials(etcdCluster(false));
  return [
    { metric: `failover: leader SIGKILL → first acknowledged write, median of ${TRIALS} (ms)`, ours: median(ours), peer: median(etcd), peerName: 'etcd 3.4', ratio: median(etcd) / median(ours), goal: '< 2000 ms' },
    { metric: `failover, worst of ${TRIALS} (ms)`, ours: Math.max(...ours), peer: Math.max(...etcd), peerName: 'etcd 3.4', ratio: Math.max(...etcd) / Math.max(...ours) },
    { metric: 'failover p90 (ms)', ours: percentile(ours, 90), peer: percentile(etcd, 90), peerName: 'etcd 3.4', ratio: percentile(etcd, 90) / percentile(ours, 90) },
  ];
}

// ── Write throughput ───────────────────────────────────────────────────────

interface Sample {
  put1: number;
  latenciesMs: number[];
  put16: number;
  put256: number;
}

async function measureWrites(kv: KvEndpoint): Promise<Sample> {
  const latenciesMs: number[] = [];
  const put1 = await closedLoop(1, SEQUENTIAL_PUTS, async (i) => {
    const s = performance.now();
    await kv.put(keys[i % KEYS]!, 0);
    latenciesMs.push(performance.now() - s);
  });
  const concurrent = (clients: number) => closedLoop(clients, CONCURRENT_PUTS[clients]!, (i, c) => kv.put(keys[i % KEYS]!, c));
  return { put1, latenciesMs, put16: await concurrent(16), put256: await concurrent(256) };
}

/** One run on a fresh cluster: a warm-up that writes every key, then the measured puts against the leader. */
const throughputRun = (make: MakeCluster) =>
  withCluster(make, async (cluster) => {
    const t0 = performance.now();
    const leader = await leaderOf(cluster);
    const kv = new KvEndpoint(cluster.endpoint(leader), value, cluster.caFile === undefined ? undefined : await readFile(cluster.caFile));
    try {
      if (cluster.rootPassword !== undefined) await kv.login('root', cluster.rootPassword);
      // Fresh processes: this also runs their JIT in on both the sequential and the concurrent paths.
      await closedLoop(16, 2 * KEYS, (i, c) => kv.put(keys[i % KEYS]!, c));
      await closedLoop(256, 2 * KEYS, (i, c) => kv.put(keys[i % KEYS]!, c));
      const termBefore = await kv.term();
      const sample = await measureWrites(kv);
      const termAfter = await kv.term();
      const notes = [
        ...(kv.retries > 0 ? [`${kv.retries} requests retried after UNAVAILABLE`] : []),
        ...(termAfter !== termBefore ? [`Raft term ${termBefore} → ${termAfter}: the leader changed`] : []),
      ];
      process.stderr.write(
        `${cluster.name} (leader node ${leader}): ${sample.put1.toFixed(0)}/${sample.put16.toFixed(0)}/${sample.put256.toFixed(0)} puts/s at 1/16/256 clients, ` +
          `p50/p99 ${percentile(sample.latenciesMs, 50).toFixed(2)}/${percentile(sample.latenciesMs, 99).toFixed(2)} ms, ${((performance.now() - t0) / 1000).toFixed(1)} s${notes.map((n) => `, ${n}`).join('')}\n`,
      );
      return sample;
    } finally {
      kv.close();
    }
  });

async function throughputRows(): Promise<BenchRow[]> {
  const clusters = [
    { make: ultracloudCluster, samples: [] as Sample[] },
    { make: etcdCluster(true), samples: [] as Sample[] },
  ];
  for (let run = 0; run < RUNS; run++) {
    process.stderr.write(`write throughput, run ${run + 1}/${RUNS}\n`);
    // Taking turns, so that whatever else the machine does falls on both alike.
    for (const c of run % 2 === 0 ? clusters : [...clusters].reverse()) c.samples.push(await throughputRun(c.make));
  }
  const [ours, etcd] = clusters.map((c) => c.samples) as [Sample[], Sample[]];
  const throughput = (metric: string, pick: (s: Sample) => number): BenchRow => {
    const o = median(ours.map(pick));
    const p = median(etcd.map(pick));
    return { metric, ours: o, peer: p, peerName: 'etcd 3.4', ratio: o / p };
  };
  const latency = (metric: string, q: number): BenchRow => {
    const o = median(ours.map((s) => percentile(s.latenciesMs, q)));
    const p = median(etcd.map((s) => percentile(s.latenciesMs, q)));
    return { metric, ours: o, peer: p, peerName: 'etcd 3.4', ratio: p / o };
  };
  return [
    throughput('3 nodes: put, 1 client (puts/s)', (s) => s.put1),
    throughput('3 nodes: put, 16 clients (puts/s)', (s) => s.put16),
    throughput('3 nodes: put, 256 clients (puts/s)', (s) => s.put256),
    latency('3 nodes: put latency p50, sequential (ms)', 50),
    latency('3 nodes: put latency p99, sequential (ms)', 99),
  ];
}

// ── Entry ──────────────────────────────────────────────────────────────────

export interface HaResults {
  readonly failover?: BenchRow[];
  readonly throughput?: BenchRow[];
}

export async function runHaBenches(): Promise<HaResults> {
  if (!['all', 'failover', 'throughput'].includes(PART)) throw new Error(`HA_PART must be all, failover or throughput, got '${PART}'`);
  return {
    ...(PART === 'throughput' ? {} : { failover: await failoverRows() }),
    ...(PART === 'failover' ? {} : { throughput: await throughputRows() }),
  };
}

export function reportHa(results: HaResults): void {
  const clients = CLIENT_TLS ? ', clients over TLS' : '';
  if (results.failover !== undefined) report(`3-node HA control plane failover, separate network namespaces${clients}`, results.failover, `${TRIALS} trials each`);
  if (results.throughput !== undefined) report(`3-node HA control plane write throughput, separate network namespaces${clients}`, results.throughput, `median of ${RUNS} runs`);
}
