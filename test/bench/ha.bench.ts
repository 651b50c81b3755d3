// Failover of the 3-node HA control plane against a 3-node etcd cluster, side by side in one run
// and in the same network namespaces (each node its own address, as separate hosts; see
// test/e2e/netns-lab.ts). A trial: find the leader, SIGKILL it, and time until a write through
// the two survivors succeeds; then restart the victim and wait until it serves again. Both stores
// are driven by the same client (Debian's etcdctl, one process per attempt, with a 250 ms command
// timeout while it waits for the new leader: the figures' resolution), so the client's own cost is
// the same on both sides.
// Needs root, etcd-server and etcd-client. Run: npm run bench -- ha   (TRIALS=10 by default)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { NetnsLab } from '../e2e/netns-lab.ts';
import { median, percentile, report, type BenchRow } from './report.ts';

const TRIALS = Number(process.env.TRIALS ?? 10);
const cli = new URL('../../runtime/cli/ultracloud.ts', import.meta.url).pathname;

interface Cluster {
  readonly name: string;
  readonly endpoint: (i: number) => string;
  readonly auth: string[];
  start(i: number): Promise<void>;
  kill(i: number): Promise<void>;
  stopAll(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function etcdctl(cluster: Cluster, nodes: number[], ...args: string[]) {
  return execa('etcdctl', ['--endpoints', nodes.map(cluster.endpoint).join(','), ...cluster.auth, '--dial-timeout', '1s', '--command-timeout', '1s', ...args], { reject: false, env: { ETCDCTL_API: '3' } });
}

/** One write with a short timeout, so the wait for a new leader is sampled finely. */
function quickPut(cluster: Cluster, nodes: number[], key: string) {
  return execa('etcdctl', ['--endpoints', nodes.map(cluster.endpoint).join(','), ...cluster.auth, '--dial-timeout', '250ms', '--command-timeout', '250ms', 'put', key, 'x'], { reject: false, env: { ETCDCTL_API: '3' } });
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
  await execa(process.execPath, [cli, 'cluster', 'init', '--nodes', '3', '--out', dir, '--profile', 'ha', '--hosts', [0, 1, 2].map((i) => lab.address(i)).join(',')]);
  const children: Array<ChildProcess | undefined> = [];
  const start = async (i: number) => {
    children[i] = daemon(lab, i, [process.execPath, cli, 'node', 'start', '--data-dir', join(dir, `node0${i + 1}`)], { ULTRACLOUD_LOG_LEVEL: 'warn' });
  };
  for (const i of [0, 1, 2]) await start(i);
  const password = (await readFile(join(dir, 'node01', 'admin-token'), 'utf8')).trim();
  return {
    name: 'ultracloud',
    endpoint: (i) => `${lab.address(i)}:2379`,
    auth: ['--user', `root:${password}`],
    start,
    kill: (i) => killProcess(children[i]),
    stopAll: async () => {
      for (const c of children) await killProcess(c);
    },
  };
}

async function etcdCluster(lab: NetnsLab, dir: string): Promise<Cluster> {
  const peers = [0, 1, 2].map((i) => `etcd${i}=http://${lab.address(i)}:2380`).join(',');
  const children: Array<ChildProcess | undefined> = [];
  const start = async (i: number) => {
    const a = lab.address(i);
    children[i] = daemon(lab, i, ['etcd', '--name', `etcd${i}`, '--data-dir', join(dir, `etcd${i}`), '--listen-client-urls', `http://${a}:2379`, '--advertise-client-urls', `http://${a}:2379`, '--listen-peer-urls', `http://${a}:2380`, '--initial-advertise-peer-urls', `http://${a}:2380`, '--initial-cluster', peers, '--initial-cluster-state', 'new', '--log-level', 'error']);
  };
  for (const i of [0, 1, 2]) await start(i);
  return {
    name: 'etcd',
    endpoint: (i) => `${lab.address(i)}:2379`,
    auth: [],
    start,
    kill: (i) => killProcess(children[i]),
    stopAll: async () => {
      for (const c of children) await killProcess(c);
    },
  };
}

async function measure(make: (lab: NetnsLab, dir: string) => Promise<Cluster>): Promise<number[]> {
  const lab = new NetnsLab('hb', 3);
  const dir = await mkdtemp(join(tmpdir(), 'uc-ha-bench-'));
  await lab.create();
  const cluster = await make(lab, dir);
  try {
    await until(`${cluster.name} first write`, async () => (await etcdctl(cluster, [0, 1, 2], 'put', 'warm', 'up')).exitCode === 0);
    const times: number[] = [];
    for (let n = 0; n < TRIALS; n++) {
      times.push(await trial(cluster, n));
      process.stderr.write(`${cluster.name} trial ${n + 1}/${TRIALS}: ${times.at(-1)!.toFixed(0)} ms\n`);
    }
    return times;
  } finally {
    await cluster.stopAll();
    await lab.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function runHaBenches(): Promise<BenchRow[]> {
  const ours = await measure(ultracloudCluster);
  const etcd = await measure(etcdCluster);
  return [
    { metric: `failover: leader SIGKILL → first acknowledged write, median of ${TRIALS} (ms)`, ours: median(ours), peer: median(etcd), peerName: 'etcd 3.4', ratio: median(etcd) / median(ours), goal: '< 2000 ms' },
    { metric: `failover, worst of ${TRIALS} (ms)`, ours: Math.max(...ours), peer: Math.max(...etcd), peerName: 'etcd 3.4', ratio: Math.max(...etcd) / Math.max(...ours) },
    { metric: 'failover p90 (ms)', ours: percentile(ours, 90), peer: percentile(etcd, 90), peerName: 'etcd 3.4', ratio: percentile(etcd, 90) / percentile(ours, 90) },
  ];
}

export function reportHa(rows: readonly BenchRow[]): void {
  report('3-node HA control plane failover, separate network namespaces', rows, `${TRIALS} trials each`);
}
