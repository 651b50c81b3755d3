// gRPC server benchmarks: runtime/grpc's server (its own HTTP/2 layer) against the same unary
// service hand-written on node:http2 — respond, one framed write, trailers — which is what
// runtime/grpc was before it had its own HTTP/2 layer. Each server runs in a child process and
// answers at once; one node:http2 client process drives it with 1, 16 and 256 calls in flight.
// Reported: calls/s and the server's CPU per call (user + system, from process.cpuUsage), medians
// of RUNS runs after a warm-up.
// Run: npm run bench -- grpc   (this file is also the child process)
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http2 from 'node:http2';
import { fileURLToPath } from 'node:url';
import { realEnv } from '../../runtime/env/real-env.ts';
import { frameMessage } from '../../runtime/grpc/framing.ts';
import { GrpcServer } from '../../runtime/grpc/grpc-server.ts';
import { silentLogger } from '../../runtime/log/logger.ts';
import { median, type BenchRow } from './report.ts';

const RUNS = Number(process.env.RUNS ?? 5);
const CALLS = Number(process.env.CALLS ?? 6000);
const PATH = '/bench.Echo/Call';
/** A request and an answer of etcd-Put size. */
const REQUEST = Buffer.alloc(120, 1);
const ANSWER = Buffer.alloc(30, 2);

type Kind = 'runtime/grpc' | 'node:http2';

// ── The child: one server, reporting its CPU time when asked ──────────────
// Asked over IPC, not read from /proc (test/bench/process-cpu.ts): /proc counts 10 ms ticks, and a
// run at 256 in flight uses only ~100 ms of server CPU.

async function serve(kind: Kind): Promise<number> {
  if (kind === 'runtime/grpc') {
    const server = new GrpcServer({
      methods: [{ kind: 'unary', path: PATH, decode: (b) => b, encode: (m) => m as Buffer, handle: (call) => call.respond(ANSWER) }],
      maxReceiveMessageBytes: 4 << 20,
      env: realEnv(),
      log: silentLogger(),
    });
    return server.listen(0, '127.0.0.1');
  }
  const framed = frameMessage(ANSWER);
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.on('data', () => undefined);
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(framed);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

if (process.argv[2] === 'child') {
  const port = await serve(process.argv[3] as Kind);
  process.on('message', () => {
    const { user, system } = process.cpuUsage();
    process.send!(user + system);
  });
  process.send!(port);
}

// ── The parent: a node:http2 client ──────────────────────────────────────

async function startChild(kind: Kind): Promise<{ child: ChildProcess; port: number; cpuMicros: () => Promise<number> }> {
  const child = fork(fileURLToPath(import.meta.url), ['child', kind], { stdio: 'inherit' });
  const [port] = (await once(child, 'message')) as [number];
  const cpuMicros = async () => {
    child.send('cpu');
    const [micros] = (await once(child, 'message')) as [number];
    return micros;
  };
  return { child, port, cpuMicros };
}

function call(session: http2.ClientHttp2Session): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers' });
    request.on('data', () => undefined);
    request.on('error', reject);
    request.on('close', resolve);
    request.end(frameMessage(REQUEST));
  });
}

async function measure(kind: Kind, inFlight: number): Promise<{ callsPerSec: number; cpuPerCall: number }> {
  const { child, port, cpuMicros } = await startChild(kind);
  const session = http2.connect(`http://127.0.0.1:${port}`);
  const drive = async (calls: number) => {
    await Promise.all(Array.from({ length: inFlight }, async () => {
      for (let i = 0; i < calls / inFlight; i++) await call(session);
    }));
  };
  await drive(Math.min(CALLS, 1000));
  const cpuBefore = await cpuMicros();
  const start = process.hrtime.bigint();
  await drive(CALLS);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = (await cpuMicros()) - cpuBefore;
  session.close();
  child.kill();
  return { callsPerSec: CALLS / seconds, cpuPerCall: cpu / CALLS };
}

export async function runGrpcBenches(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const inFlight of [1, 16, 256]) {
    const results: Record<Kind, Array<{ callsPerSec: number; cpuPerCall: number }>> = { 'runtime/grpc': [], 'node:http2': [] };
    // Alternating, so both see the same machine.
    for (let run = 0; run < RUNS; run++) for (const kind of ['runtime/grpc', 'node:http2'] as const) results[kind].push(await measure(kind, inFlight));
    const ours = results['runtime/grpc'];
    const peer = results['node:http2'];
    const rate = (rs: typeof ours) => median(rs.map((r) => r.callsPerSec));
    const cpu = (rs: typeof ours) => median(rs.map((r) => r.cpuPerCall));
    rows.push({ metric: `unary calls/s, ${inFlight} in flight`, ours: rate(ours), peer: rate(peer), peerName: 'node:http2', ratio: rate(ours) / rate(peer) });
    rows.push({ metric: `server CPU per call (µs), ${inFlight} in flight`, ours: cpu(ours), peer: cpu(peer), peerName: 'node:http2', ratio: cpu(peer) / cpu(ours) });
  }
  return rows;
}
