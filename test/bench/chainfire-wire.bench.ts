// A sequential put's time as the client's socket sees it, chainfire against etcd: the server's
// time (from the moment the client's request has left — its writev returned — to the moment it
// starts reading the answer: the whole cluster's work plus loopback) and the client's own time
// (from that read to its next request). `perf trace` records only this process's syscalls, so
// neither store is slowed by the measurement. Tracing the servers instead charges every syscall
// they make, and etcd's Go runtime makes more of them than a Node process does, which flatters us.
// The throughput bench (chainfire.bench.ts) cannot tell these apart: a put's rate mixes both, and
// moves with the machine by more than the differences this one resolves (~10–20 µs).
// One perf session covers the whole measurement: each run gives every store one block of sequential
// puts, the stores taking turns in a rotating order, and before each block the client writes a
// marker (a write to /dev/null whose length names the store) that assigns the exchanges after it.
// Each figure is the median over all puts of all runs.
// Needs root (perf's syscall tracepoints), `perf` (apt-get install linux-perf) and etcd-server.
// Run: npm run bench -- chainfire-wire   (TOPOLOGY=1, the default, or 3; RUNS, default 20;
// CHAINFIRE_BASELINE as in chainfire.bench.ts: an earlier build as a third store, marked [baseline]).
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { keys, withStores, type Store } from './chainfire.bench.ts';
import { percentile, report, type BenchRow } from './report.ts';

const RUNS = Number(process.env.RUNS ?? 20);
const TOPOLOGY = Number(process.env.TOPOLOGY ?? 1);
const PUTS_PER_BLOCK = 100;
/** A marker write's length: MARKER_BYTES + the index of the store whose block follows. */
const MARKER_BYTES = 1_000;
/** perf attaches to this process asynchronously and says nothing when it has; this is ample. */
const PERF_ATTACH_MS = 1_500;

/** One traced request/answer exchange on a socket, in µs. */
interface Exchange {
  readonly serverUs: number;
  /** From the answer to the next request on the same socket; undefined for a block's last put. */
  readonly clientUs: number | undefined;
}

/**
 * The exchanges in a `perf trace` output of this process, by store: a write of a request (≥ 100
 * bytes: a HEADERS and DATA frame; smaller writes are HTTP/2 control frames) and the next read of an
 * answer (≥ 40 bytes: etcd's PING and WINDOW_UPDATE frames, 30 bytes, come first) on the same
 * descriptor, assigned to the store named by the last marker written to `markerFd`.
 */
function exchanges(trace: string, markerFd: number, stores: number): Exchange[][] {
  const out = Array.from({ length: stores }, () => [] as Array<{ serverUs: number; clientUs: number | undefined }>);
  let current: Array<{ serverUs: number; clientUs: number | undefined }> | undefined;
  const sentAt = new Map<string, number>();
  const answeredAt = new Map<string, number>();
  for (const line of trace.split('\n')) {
    const m = /^\s*([\d.]+) \(\s*([\d.]*) ms\): \S+ (writev?|read)\(fd: (\d+),.*=\s+(\d+)\s*$/.exec(line);
    if (m === null) continue;
    const [, at, took, call, fd, result] = m as unknown as [string, string, string, string, string, string];
    const startMs = Number(at);
    const bytes = Number(result);
    if (Number(fd) === markerFd) {
      current = out[bytes - MARKER_BYTES];
      sentAt.clear();
      answeredAt.clear();
    } else if (current === undefined) {
      continue;
    } else if (call !== 'read' && bytes >= 100) {
      const answered = answeredAt.get(fd);
      if (answered !== undefined) {
        current[current.length - 1]!.clientUs = (startMs - answered) * 1000;
        answeredAt.delete(fd);
      }
      sentAt.set(fd, startMs + Number(took || 0));
    } else if (call === 'read' && bytes >= 40 && sentAt.has(fd)) {
      current.push({ serverUs: (startMs - sentAt.get(fd)!) * 1000, clientUs: undefined });
      sentAt.delete(fd);
      answeredAt.set(fd, startMs);
    }
  }
  return out;
}

/** RUNS rounds of PUTS_PER_BLOCK sequential puts to each store while perf traces this process. */
async function tracedRuns(stores: readonly Store[], dir: string): Promise<Exchange[][]> {
  const file = join(dir, 'trace.txt');
  const markerFd = openSync('/dev/null', 'w');
  const marker = Buffer.alloc(MARKER_BYTES + stores.length);
  const perf = spawn('perf', ['trace', '-p', String(process.pid), '-e', 'read,write,writev', '-o', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let perfErrors = '';
  perf.stderr!.on('data', (chunk: Buffer) => (perfErrors += chunk.toString()));
  try {
    await new Promise((r) => setTimeout(r, PERF_ATTACH_MS));
    if (perf.exitCode !== null) throw new Error(`perf trace exited with ${perf.exitCode}: ${perfErrors}`);
    for (let run = 0; run < RUNS; run++) {
      for (let turn = 0; turn < stores.length; turn++) {
        const index = (run + turn) % stores.length;
        writeSync(markerFd, marker, 0, MARKER_BYTES + index);
        for (let i = 0; i < PUTS_PER_BLOCK; i++) await stores[index]!.leader.put(keys[(run * PUTS_PER_BLOCK + i) % keys.length]!, 0);
      }
      if ((run + 1) % 5 === 0) process.stderr.write(`  ${TOPOLOGY} node(s), run ${run + 1}/${RUNS} done\n`);
    }
  } finally {
    const exited = once(perf, 'exit');
    perf.kill('SIGINT');
    await exited;
    closeSync(markerFd);
  }
  const seen = exchanges(await readFile(file, 'utf8'), markerFd, stores.length);
  for (const [i, s] of stores.entries()) {
    // Fewer means perf attached late or the parsing no longer matches this client's syscalls.
    if (seen[i]!.length < RUNS * PUTS_PER_BLOCK * 0.9) throw new Error(`${s.name}: perf saw ${seen[i]!.length} of ${RUNS * PUTS_PER_BLOCK} puts`);
  }
  return seen;
}

export async function runChainfireWireBenches(): Promise<BenchRow[]> {
  for (const [tool, args, install] of [['perf', ['--version'], 'linux-perf'], ['etcd', ['--version'], 'etcd-server']] as const) {
    if (spawnSync(tool, args).status !== 0) throw new Error(`the chainfire-wire bench needs ${tool} on PATH: apt-get install ${install}`);
  }
  if (TOPOLOGY !== 1 && TOPOLOGY !== 3) throw new Error(`TOPOLOGY must be 1 or 3, got ${process.env.TOPOLOGY}`);
  // Ports apart from the chainfire bench's (27000…) and below Linux's ephemeral range (32768…).
  const base = 28_000 + (process.pid % 25) * 20 + (TOPOLOGY === 3 ? 2_000 : 0);
  return withStores(TOPOLOGY, base, 'chainfire-wire', async (stores, dir) => {
    const traced = await tracedRuns(stores, dir);
    const seen = new Map(stores.map((s, i) => [s.name, traced[i]!]));
    const label = TOPOLOGY === 1 ? '1 node' : '3 nodes';
    const server = (name: string, q: number) => percentile(seen.get(name)!.map((e) => e.serverUs), q);
    const client = (name: string) => percentile(seen.get(name)!.flatMap((e) => (e.clientUs === undefined ? [] : [e.clientUs])), 50);
    const rows = (name: string): BenchRow[] => {
      const tag = name === 'chainfire' ? '' : ` [${name}]`;
      // Lower is better for all three: the ratio is etcd's ÷ ours.
      const row = (metric: string, pick: (n: string) => number): BenchRow => {
        const ours = pick(name);
        const peer = pick('etcd');
        return { metric: `${label}: ${metric}${tag}`, ours, peer, peerName: 'etcd', ratio: peer / ours };
      };
      return [
        row('server time per sequential put, p50 (µs)', (n) => server(n, 50)),
        row('server time per sequential put, p90 (µs)', (n) => server(n, 90)),
        row("client's own time per sequential put, p50 (µs)", client),
      ];
    };
    // chainfire, then the baseline build when there is one.
    return stores.filter((s) => s.name !== 'etcd').flatMap((s) => rows(s.name));
  });
}

export function reportChainfireWire(rows: readonly BenchRow[]): void {
  report('chainfire vs etcd-server at the client socket (perf trace of the client)', rows, `all puts of ${RUNS} runs × ${PUTS_PER_BLOCK}`);
}

if (import.meta.main) {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  reportChainfireWire(await runChainfireWireBenches());
}
