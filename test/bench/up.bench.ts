// `ultracloud up` (the single-node dev profile: chainfire, flaredb, iam, prismnet, plasmavmc in one
// process) against a single etcd, the one peer that does a comparable job on this machine: cold
// start on a fresh data directory to "ready" (for us: every component serving; for etcd: its
// client port answering), and the resident set size of the idle process 5 s later. Median of RUNS
// runs (default 5), the two taking turns.
// Needs: etcd-server, and root (prismnet's dataplane). Run: npm run bench -- up
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { median, report, type BenchRow } from './report.ts';

const RUNS = Number(process.env.RUNS ?? 5);
const IDLE_MS = 5_000;
const cli = new URL('../../runtime/cli/ultracloud.ts', import.meta.url).pathname;

interface Sample {
  readonly readyMs: number;
  readonly rssMiB: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  await exited;
}

async function ultracloudUp(run: number): Promise<Sample> {
  const dir = await mkdtemp(join(tmpdir(), 'uc-up-bench-'));
  const base = 40_000 + run * 20;
  const ports = ['chainfire-grpc', 'chainfire-http', 'flaredb-http', 'iam-http', 'plasmavmc-http', 'prismnet-http'].flatMap((name, i) => ['--port', `${name}=${base + 1 + i}`]);
  const t0 = performance.now();
  const child = spawn(process.execPath, [cli, 'up', '--data-dir', join(dir, 'data'), '--control-port', String(base), ...ports], { env: { ...process.env, ULTRACLOUD_LOG_LEVEL: 'warn' } });
  try {
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes('ready in ')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`up exited (${code}): ${seen}`)));
    });
    const readyMs = performance.now() - t0;
    await sleep(IDLE_MS);
    return { readyMs, rssMiB: await rssMiB(child.pid!) };
  } finally {
    await stop(child);
    await rm(dir, { recursive: true, force: true });
  }
}

async function etcd(run: number): Promise<Sample> {
  const dir = await mkdtemp(join(tmpdir(), 'uc-etcd-bench-'));
  const port = 41_000 + run * 2;
  const t0 = performance.now();
  const child = spawn('etcd', ['--data-dir', dir, '--listen-client-urls', `http://127.0.0.1:${port}`, '--advertise-client-urls', `http://127.0.0.1:${port}`, '--listen-peer-urls', `http://127.0.0.1:${port + 1}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${port + 1}`, '--initial-cluster', `default=http://127.0.0.1:${port + 1}`, '--log-level', 'error'], { stdio: 'ignore' });
  try {
    for (;;) {
      if ((await execa('etcdctl', ['--endpoints', `127.0.0.1:${port}`, '--dial-timeout', '200ms', 'endpoint', 'health'], { reject: false, env: { ETCDCTL_API: '3' } })).exitCode === 0) break;
      if (child.exitCode !== null) throw new Error('etcd exited');
    }
    const readyMs = performance.now() - t0;
    await sleep(IDLE_MS);
    return { readyMs, rssMiB: await rssMiB(child.pid!) };
  } finally {
    await stop(child);
    await rm(dir, { recursive: true, force: true });
  }
}

export async function runUpBenches(): Promise<BenchRow[]> {
  const ours: Sample[] = [];
  const peer: Sample[] = [];
  for (let run = 0; run < RUNS; run++) {
    ours.push(await ultracloudUp(run));
    peer.push(await etcd(run));
    process.stderr.write(`run ${run + 1}/${RUNS}: up ${ours.at(-1)!.readyMs.toFixed(0)} ms ${ours.at(-1)!.rssMiB.toFixed(0)} MiB; etcd ${peer.at(-1)!.readyMs.toFixed(0)} ms ${peer.at(-1)!.rssMiB.toFixed(0)} MiB\n`);
  }
  const readyOurs = median(ours.map((s) => s.readyMs));
  const readyPeer = median(peer.map((s) => s.readyMs));
  const rssOurs = median(ours.map((s) => s.rssMiB));
  const rssPeer = median(peer.map((s) => s.rssMiB));
  return [
    { metric: 'cold start to all components ready (ms; ours: 5 components in one process)', ours: readyOurs, peer: readyPeer, peerName: 'etcd 3.4, one store', ratio: readyPeer / readyOurs, goal: '< 3000 ms' },
    { metric: `RSS idle ${IDLE_MS / 1000} s after ready (MiB)`, ours: rssOurs, peer: rssPeer, peerName: 'etcd 3.4, one store', ratio: rssPeer / rssOurs, goal: '< 250 MiB' },
  ];
}

export function reportUp(rows: readonly BenchRow[]): void {
  report('single-node dev profile: `ultracloud up`', rows, `median of ${RUNS} runs`);
}
