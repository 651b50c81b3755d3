// flaredb against chainfire (one Raft group) as its performance peer, side by side in one run: YCSB
// workloads A (50% reads, 50% updates) and C (reads only) over RECORDS keys chosen by YCSB's
// scrambled zipfian distribution (θ = 0.99), with CLIENTS requests in flight, 100-byte values.
// Both stores run as components of the same daemons (`cluster init --components chainfire,flaredb`
// for 3 nodes, `node init` for 1) and are driven over the same JSON/HTTP server code (flaredb's API
// on flaredb-http, chainfire's REST API on chainfire-http), by the same client, taking turns run by
// run, so protocol and client costs fall on both alike. Durability is the same: both sync their Raft
// logs before acknowledging.
//
// Systems measured:
// - flaredb strong: a namespace split into REGIONS regions (leaders spread over the nodes by the
//   placement driver); the client routes each request to its region's leader (as TiKV's client
//   does). Reads are linearizable (ReadIndex); an update is an unconditional put through Raft (PUT
//   without expected_version), like chainfire's.
// - flaredb eventual: last-writer-wins puts and local reads, requests spread over every node.
// - chainfire: its REST API on the Raft leader; reads linearizable, updates blind puts.
// Figures per topology and workload: throughput (ops/s), p99 latency (ms), and the CPU time all the
// daemons spent per operation (from /proc: what an operation costs the cluster, which other work
// on the machine does not inflate the way it does throughput), median of RUNS runs (default 3:
// real processes and fsync). The load generator is a keep-alive HTTP/1.1 client of a few µs per
// request (keepalive-http-client.ts): with Node's fetch, the client used more CPU than the stores.
// Run: npm run bench -- flaredb   (or: npx node test/bench/flaredb.bench.ts)
// SYSTEMS="flaredb strong,chainfire" measures only those; BENCH_NODE_FLAGS="--cpu-prof
// --cpu-prof-dir=DIR" starts the daemons with those node flags (profiles written when they stop);
// READ_PROPORTION=0 makes "YCSB-A" a write-only mix (default 0.5), WORKLOADS=A runs only A,
// REFRESH_ROUTES=0 skips re-reading the strong client's routes before each run. Each
// run also prints transport counters per operation (frames, envelopes, bytes sent between the
// nodes), a flaredb strong run the stores' Raft batches and messages and synced writes, a flaredb
// eventual run the synced writes and eventual pushes, summed over the nodes, to see where a change
// moved the work.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeepAliveHttp as Http } from './keepalive-http-client.ts';
import { cpuMicrosSplit } from './process-cpu.ts';
import { median, percentile, report, type BenchRow } from './report.ts';

const RUNS = Number(process.env.RUNS ?? 3);
const RECORDS = Number(process.env.RECORDS ?? 10_000);
const OPS = Number(process.env.OPS ?? 12_000);
const CLIENTS = Number(process.env.CLIENTS ?? 64);
const REGIONS = Number(process.env.REGIONS ?? 8);
const VALUE = 'x'.repeat(100);
const READ_PROPORTION = Number(process.env.READ_PROPORTION ?? 0.5);
const WORKLOADS = (process.env.WORKLOADS ?? 'A,C').split(',') as Array<'A' | 'C'>;
const STARTUP_TIMEOUT_MS = 90_000;

const cli = new URL('../../runtime/cli/ultracloud.ts', import.meta.url).pathname;

// ── YCSB's scrambled zipfian key chooser ──────────────────────────────────

/** Gray et al.'s zipfian generator over [0, n), as YCSB implements it, with a seeded PRNG. */
class ScrambledZipfian {
  readonly #n: number;
  readonly #theta = 0.99;
  readonly #alpha: number;
  readonly #zetan: number;
  readonly #eta: number;
  #seed: number;

  constructor(n: number, seed: number) {
    this.#n = n;
    this.#seed = seed;
    let zetan = 0;
    for (let i = 1; i <= n; i++) zetan += 1 / i ** this.#theta;
    const zeta2 = 1 + 1 / 2 ** this.#theta;
    this.#zetan = zetan;
    this.#alpha = 1 / (1 - this.#theta);
    this.#eta = (1 - (2 / n) ** (1 - this.#theta)) / (1 - zeta2 / zetan);
  }

  #random(): number {
    // mulberry32: deterministic per run, so every system sees the same key sequence.
    this.#seed = (this.#seed + 0x6d2b79f5) | 0;
    let t = this.#seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  next(): number {
    const u = this.#random();
    const uz = u * this.#zetan;
    let rank: number;
    if (uz < 1) rank = 0;
    else if (uz < 1 + 0.5 ** this.#theta) rank = 1;
    else rank = Math.floor(this.#n * (this.#eta * u - this.#eta + 1) ** this.#alpha);
    // Scrambled: hot ranks land all over the keyspace (FNV-1a of the rank), as YCSB does.
    let h = 0x811c9dc5;
    for (let x = Math.min(rank, this.#n - 1), i = 0; i < 4; i++, x >>>= 8) h = Math.imul(h ^ (x & 0xff), 0x01000193) >>> 0;
    return h % this.#n;
  }
}

const key = (i: number) => `user${String(i).padStart(6, '0')}`;

// ── Processes and HTTP ────────────────────────────────────────────────────

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

function start(command: string, args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ULTRACLOUD_LOG_LEVEL: 'warn' } });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let text = '';
  const keep = (chunk: Buffer) => void (text = (text + chunk.toString()).slice(-8000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return { child, output: () => text };
}

async function run(args: string[]): Promise<string> {
  const { child, output } = start(process.execPath, [cli, ...args]);
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`ultracloud ${args.join(' ')} exited with ${code}: ${output()}`);
  return output();
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + STARTUP_TIMEOUT_MS;
  while (performance.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out: ${what}`);
}

// ── The systems under test ────────────────────────────────────────────────

interface System {
  readonly name: string;
  read(k: string): Promise<void>;
  update(k: string): Promise<void>;
}

function expectOk(what: string, r: { status: number; body: any }): void {
  if (r.status !== 200) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
}

/** Counters summed over the daemons (from the /metrics of each node's flaredb API, which expose the node's whole registry). */
const COUNTERS = {
  batches: 'ultracloud_flaredb_raft_batches_sent_total',
  messages: 'ultracloud_flaredb_raft_messages_sent_total',
  syncs: 'ultracloud_flaredb_synced_writes_total',
  pushes: 'ultracloud_flaredb_eventual_pushes_total',
  frames: 'ultracloud_libp2p_frames_sent_total',
  envelopes: 'ultracloud_libp2p_envelopes_sent_total',
  bytes: 'ultracloud_libp2p_bytes_sent_total',
} as const;
type Counters = Record<keyof typeof COUNTERS, number>;

async function nodeCounters(nodes: Iterable<Http>): Promise<Counters> {
  const sum: Counters = { batches: 0, messages: 0, syncs: 0, pushes: 0, frames: 0, envelopes: 0, bytes: 0 };
  for (const node of nodes) {
    const text = await (await fetch(`${node.base}/metrics`)).text();
    for (const line of text.split('\n')) {
      for (const [k, name] of Object.entries(COUNTERS) as Array<[keyof Counters, string]>) if (line.startsWith(`${name} `)) sum[k] += Number(line.slice(name.length + 1));
    }
  }
  return sum;
}

/** flaredb strong: requests routed to the leader of each key's region, CAS updates at the last version seen. */
class FlaredbStrong implements System {
  readonly name = 'flaredb strong';
  readonly #nodes: ReadonlyMap<string, Http>;
  readonly #any: Http;
  #regions: Array<{ start: string; end: string | null; leader: Http }> = [];

  constructor(nodes: ReadonlyMap<string, Http>) {
    this.#nodes = nodes;
    this.#any = [...nodes.values()][0]!;
  }

  async refreshRoutes(): Promise<void> {
    const r = await this.#any.call('GET', '/api/v1/regions');
    this.#regions = (r.body.regions as Array<{ start_key: string; end_key: string | null; leader: string | null }>).map((x) => ({ start: x.start_key, end: x.end_key, leader: this.#nodes.get(x.leader ?? '') ?? this.#any }));
  }

  #route(k: string): Http {
    const full = `ycsb/${k}`;
    return this.#regions.find((r) => full >= r.start && (r.end === null || full < r.end))?.leader ?? this.#any;
  }

  async read(k: string): Promise<void> {
    const r = await this.#route(k).call('GET', `/api/v1/kv/ycsb/${k}`);
    expectOk('flaredb get', r);
  }

  async update(k: string): Promise<void> {
    const r = await this.#route(k).call('PUT', `/api/v1/kv/ycsb/${k}`, { value: VALUE });
    expectOk('flaredb put', r);
  }

  load(k: string): Promise<void> {
    return this.#route(k).call('PUT', `/api/v1/kv/ycsb/${k}`, { value: VALUE, expected_version: 0 }).then((r) => {
      expectOk('flaredb load', r);
      if (r.body.success !== true) throw new Error(`flaredb load ${k}: ${JSON.stringify(r.body)}`);
    });
  }
}

/** flaredb eventual: every node takes reads and writes for its own replica. */
class FlaredbEventual implements System {
  readonly name = 'flaredb eventual';
  readonly #nodes: Http[];
  #next = 0;

  constructor(nodes: Http[]) {
    this.#nodes = nodes;
  }

  #pick(): Http {
    return this.#nodes[this.#next++ % this.#nodes.length]!;
  }

  async read(k: string): Promise<void> {
    expectOk('flaredb raw get', await this.#pick().call('GET', `/api/v1/raw/ycsbev/${k}`));
  }

  async update(k: string): Promise<void> {
    expectOk('flaredb raw put', await this.#pick().call('PUT', `/api/v1/raw/ycsbev/${k}`, { value: VALUE }));
  }
}

/** chainfire: its REST API on the leader. */
class Chainfire implements System {
  readonly name = 'chainfire';
  readonly #leader: Http;

  constructor(leader: Http) {
    this.#leader = leader;
  }

  async read(k: string): Promise<void> {
    expectOk('chainfire get', await this.#leader.call('GET', `/api/v1/kv/${k}`));
  }

  async update(k: string): Promise<void> {
    expectOk('chainfire put', await this.#leader.call('PUT', `/api/v1/kv/${k}`, { value: VALUE }));
  }
}

// ── Workloads ─────────────────────────────────────────────────────────────

interface Sample {
  readonly rate: number;
  readonly p99: number;
  /** CPU time all daemons spent per operation (µs): what the run cost the cluster, whoever else shares the cores. */
  readonly cpuPerOp: number;
  /** Of which in the kernel (syscalls, loopback TCP, fsync). */
  readonly sysPerOp: number;
}

async function ycsb(system: System, readShare: number, seed: number, pids: readonly number[]): Promise<Sample> {
  const zipf = new ScrambledZipfian(RECORDS, seed);
  const ops = Array.from({ length: OPS }, () => ({ k: key(zipf.next()), read: Math.random() < readShare }));
  const latencies: number[] = [];
  let next = 0;
  const cpu0 = await cpuMicrosSplit(pids);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      for (let i = next++; i < OPS; i = next++) {
        const op = ops[i]!;
        const s = performance.now();
        await (op.read ? system.read(op.k) : system.update(op.k));
        latencies.push(performance.now() - s);
      }
    }),
  );
  const rate = OPS / ((performance.now() - t0) / 1000);
  const cpu1 = await cpuMicrosSplit(pids);
  return { rate, p99: percentile(latencies, 99), cpuPerOp: (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / OPS, sysPerOp: (cpu1.system - cpu0.system) / OPS };
}

async function pool(count: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    for (let i = next++; i < count; i = next++) await work(i);
  }));
}

// ── Topologies ────────────────────────────────────────────────────────────

interface Cluster {
  readonly pids: readonly number[];
  readonly flaredb: Map<string, Http>;
  readonly chainfire: Map<string, Http>;
  readonly dataDirs: string[];
  stop(): Promise<void>;
}

async function startCluster(nodes: number, basePort: number, dir: string): Promise<Cluster> {
  const ids: string[] = [];
  let dataDirs: string[];
  let flaredbPorts: number[];
  let chainfirePorts: number[];
  if (nodes === 1) {
    dataDirs = [join(dir, 'node01')];
    flaredbPorts = [basePort + 400];
    chainfirePorts = [basePort + 300];
    await run(['node', 'init', '--data-dir', dataDirs[0]!, '--components', 'chainfire,flaredb', '--http-port', String(basePort + 100), '--port', `chainfire-grpc=${basePort + 200}`, '--port', `chainfire-http=${chainfirePorts[0]}`, '--port', `flaredb-http=${flaredbPorts[0]}`]);
  } else {
    const out = await run(['cluster', 'init', '--nodes', String(nodes), '--out', dir, '--base-port', String(basePort), '--components', 'chainfire,flaredb']);
    for (const line of out.split('\n')) if (/^node\d\d\s/.test(line)) ids.push(line.split(/\s+/)[1]!);
    dataDirs = Array.from({ length: nodes }, (_, i) => join(dir, `node${String(i + 1).padStart(2, '0')}`));
    flaredbPorts = dataDirs.map((_, i) => basePort + 400 + i);
    chainfirePorts = dataDirs.map((_, i) => basePort + 300 + i);
  }
  const processes = dataDirs.map((d) => start(process.execPath, [...(process.env.BENCH_NODE_FLAGS?.split(' ') ?? []), cli, 'node', 'start', '--data-dir', d]));
  await Promise.all(processes.map((p, i) => until(`node ${i + 1} ready`, async () => {
    if (p.child.exitCode !== null) throw new Error(`node ${i + 1} exited: ${p.output()}`);
    return p.output().includes(' ready');
  })));
  const token = (await readFile(join(dataDirs[0]!, 'admin-token'), 'utf8')).trim();
  if (nodes === 1) {
    const status = JSON.parse(await run(['status', '--data-dir', dataDirs[0]!, '--output', 'json'])) as { node?: string; nodeId?: string };
    ids.push(status.nodeId ?? status.node ?? 'node01');
  }
  const flaredb = new Map(ids.map((id, i) => [id, new Http(`http://127.0.0.1:${flaredbPorts[i]}`, token)]));
  const chainfire = new Map(ids.map((id, i) => [id, new Http(`http://127.0.0.1:${chainfirePorts[i]}`, token)]));
  for (const h of flaredb.values()) await until(`flaredb ${h.base} healthy`, async () => (await fetch(`${h.base}/health`)).status === 200);
  for (const h of chainfire.values()) await until(`chainfire ${h.base} healthy`, async () => (await fetch(`${h.base}/health`)).status === 200);
  return {
    pids: processes.map((p) => p.child.pid!),
    flaredb,
    chainfire,
    dataDirs,
    async stop() {
      for (const http of [...flaredb.values(), ...chainfire.values()]) http.close();
      await Promise.all(
        processes.map(async ({ child }) => {
          if (child.exitCode !== null) return;
          const exited = once(child, 'exit');
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
        }),
      );
    },
  };
}

/** The node id chainfire's Raft group reports as leader. */
async function chainfireLeader(cluster: Cluster): Promise<Http> {
  let leader: string | undefined;
  await until('a chainfire leader', async () => {
    const status = JSON.parse(await run(['status', '--data-dir', cluster.dataDirs[0]!, '--output', 'json'])) as { components: { chainfire?: { raft?: { leader?: string | null } } } };
    leader = status.components.chainfire?.raft?.leader ?? undefined;
    return leader !== undefined && leader !== null && cluster.chainfire.has(leader);
  });
  return cluster.chainfire.get(leader!)!;
}

async function topology(nodes: number, basePort: number): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), `uc-flaredb-bench-${nodes}-`));
  const cluster = await startCluster(nodes, basePort, dir);
  try {
    const first = [...cluster.flaredb.values()][0]!;
    const created = await first.call('POST', '/api/v1/namespaces', { name: 'ycsb', mode: 'strong' });
    if (created.status !== 201) throw new Error(`create ycsb: HTTP ${created.status} ${JSON.stringify(created.body)}`);
    await first.call('POST', '/api/v1/namespaces', { name: 'ycsbev', mode: 'eventual' });
    const strong = new FlaredbStrong(cluster.flaredb);
    const eventual = new FlaredbEventual([...cluster.flaredb.values()]);
    const chainfire = new Chainfire(await chainfireLeader(cluster));
    await strong.refreshRoutes();
    // Load: every record in each store.
    const t0 = performance.now();
    await pool(RECORDS, (i) => strong.load(key(i)));
    await pool(RECORDS, (i) => eventual.update(key(i)));
    await pool(RECORDS, (i) => chainfire.update(key(i)));
    process.stderr.write(`  ${nodes} node(s): loaded ${RECORDS} records into each store in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    // Split the strong namespace into REGIONS regions, then let the PD spread their leaders.
    for (let regions = (await first.call('GET', '/api/v1/regions')).body.regions as Array<{ id: number; approximate_keys: number }>; regions.length < REGIONS; regions = (await first.call('GET', '/api/v1/regions')).body.regions) {
      const biggest = regions.reduce((a, b) => (b.approximate_keys > a.approximate_keys ? b : a));
      await first.call('POST', `/api/v1/regions/${biggest.id}/split`, {});
    }
    await new Promise((r) => setTimeout(r, 5_000));
    await strong.refreshRoutes();
    const regions = (await first.call('GET', '/api/v1/regions')).body.regions as Array<{ leader: string }>;
    const leaders = new Set(regions.map((r) => r.leader));
    process.stderr.write(`  ${nodes} node(s): ${regions.length} regions, led by ${leaders.size} store(s)\n`);

    const only = process.env.SYSTEMS?.split(',');
    const systems: System[] = [strong, eventual, chainfire].filter((s) => only === undefined || only.includes(s.name));
    const samples = new Map<string, Sample[]>();
    for (const system of systems) await ycsb(system, 0.5, 1, cluster.pids); // warm-up
    for (let r = 0; r < RUNS; r++) {
      const order = r % 2 === 0 ? systems : [...systems].reverse();
      for (const workload of WORKLOADS) {
        for (const system of order) {
          // The PD's balancer may have moved leaderships since the last look (the API forwards a
          // request that reaches a follower, which costs the cluster a hop the routing should avoid).
          if (system === strong && process.env.REFRESH_ROUTES !== '0') await strong.refreshRoutes();
          const before = await nodeCounters(cluster.flaredb.values());
          const sample = await ycsb(system, workload === 'A' ? READ_PROPORTION : 1, 1000 + r, cluster.pids);
          const k = `${system.name}/${workload}`;
          samples.set(k, [...(samples.get(k) ?? []), sample]);
          const after = await nodeCounters(cluster.flaredb.values());
          const per = (k: keyof Counters, digits = 2) => ((after[k] - before[k]) / OPS).toFixed(digits);
          let counters = `; per op: ${per('frames')} transport frames, ${per('envelopes')} envelopes, ${per('bytes', 0)} bytes`;
          if (system === strong) counters += `, ${per('batches')} Raft batches, ${per('messages')} Raft messages, ${per('syncs')} synced writes`;
          if (system === eventual) counters += `, ${per('syncs')} synced writes, ${per('pushes')} eventual pushes`;
          process.stderr.write(`  ${nodes} node(s), run ${r + 1}/${RUNS}, YCSB-${workload}, ${system.name}: ${sample.rate.toFixed(0)} ops/s, p99 ${sample.p99.toFixed(1)} ms, cluster CPU ${sample.cpuPerOp.toFixed(0)} µs/op (kernel ${sample.sysPerOp.toFixed(0)})${counters}\n`);
        }
      }
    }
    const m = (name: string, workload: string, pick: (s: Sample) => number) => { const s = samples.get(`${name}/${workload}`); return s === undefined ? Number.NaN : median(s.map(pick)); };
    const label = nodes === 1 ? '1 node' : `${nodes} nodes`;
    const rows: BenchRow[] = [];
    for (const workload of WORKLOADS) {
      const strongRate = m('flaredb strong', workload, (s) => s.rate);
      const eventualRate = m('flaredb eventual', workload, (s) => s.rate);
      const chainfireRate = m('chainfire', workload, (s) => s.rate);
      rows.push(
        { metric: `${label}, YCSB-${workload}: strong, ${regions.length} regions (ops/s)`, ours: strongRate, peer: chainfireRate, peerName: 'chainfire', ratio: strongRate / chainfireRate, goal: nodes === 3 ? '≥ 1.5×' : '' },
        { metric: `${label}, YCSB-${workload}: eventual (ops/s)`, ours: eventualRate, peer: strongRate, peerName: 'flaredb strong', ratio: eventualRate / strongRate, goal: '≥ 3×' },
        { metric: `${label}, YCSB-${workload}: strong p99 (ms)`, ours: m('flaredb strong', workload, (s) => s.p99), peer: m('chainfire', workload, (s) => s.p99), peerName: 'chainfire', ratio: m('chainfire', workload, (s) => s.p99) / m('flaredb strong', workload, (s) => s.p99) },
        { metric: `${label}, YCSB-${workload}: strong, cluster CPU per op (µs)`, ours: m('flaredb strong', workload, (s) => s.cpuPerOp), peer: m('chainfire', workload, (s) => s.cpuPerOp), peerName: 'chainfire', ratio: m('chainfire', workload, (s) => s.cpuPerOp) / m('flaredb strong', workload, (s) => s.cpuPerOp) },
        { metric: `${label}, YCSB-${workload}: eventual, cluster CPU per op (µs)`, ours: m('flaredb eventual', workload, (s) => s.cpuPerOp), peer: m('flaredb strong', workload, (s) => s.cpuPerOp), peerName: 'flaredb strong', ratio: m('flaredb strong', workload, (s) => s.cpuPerOp) / m('flaredb eventual', workload, (s) => s.cpuPerOp) },
        { metric: `${label}, YCSB-${workload}: eventual p99 (ms)`, ours: m('flaredb eventual', workload, (s) => s.p99), peer: m('flaredb strong', workload, (s) => s.p99), peerName: 'flaredb strong', ratio: m('flaredb strong', workload, (s) => s.p99) / m('flaredb eventual', workload, (s) => s.p99) },
      );
    }
    return rows;
  } finally {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function runFlaredbBenches(): Promise<BenchRow[]> {
  // Fixed ports below the ephemeral range, apart from the other suites' and the e2e tests'.
  const base = 30_000 + (process.pid % 50) * 20;
  const only = process.env.TOPOLOGY;
  const rows: BenchRow[] = [];
  if (only === undefined || only === '1') rows.push(...(await topology(1, base)));
  if (only === undefined || only === '3') rows.push(...(await topology(3, base + 1_000)));
  return rows;
}

/** report() with this suite's RUNS and shape in its heading. */
export function reportFlaredb(rows: readonly BenchRow[]): void {
  report(`flaredb vs chainfire, YCSB (${RECORDS} records, zipfian, ${CLIENTS} clients, ${OPS} ops per run)`, rows, `median of ${RUNS} runs`);
}

if (import.meta.main) {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  reportFlaredb(await runFlaredbBenches());
}
