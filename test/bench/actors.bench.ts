// Actor runtime benchmarks, side by side with nact (and comlink for the worker boundary) doing the
// same work in the same process. Each figure is the median of RUNS runs after one warm-up.
// Run: npm run bench -- actors   (or: node --expose-gc test/bench/actors.bench.ts)
import { Worker } from 'node:worker_threads';
import * as nact from 'nact';
import { ActorSystem, defineActor, type Query } from '../../runtime/actors/index.ts';
import { realEnv } from '../../runtime/env/real-env.ts';
import { ClusterRouter } from '../../transports/cluster-router.ts';
import { WorkerNode } from '../../transports/worker/worker-node.ts';
import type { CounterMsg } from '../support/worker-actors.ts';
import { median, percentile, report, type BenchRow, collectGarbage, repeatRuns } from './report.ts';

const RUNS = Number(process.env.RUNS ?? 5);
const TELLS = 1_000_000;
const NACT_TELLS = 200_000;
const PINGS = 20_000;
const ASKS = 20_000;
const SPAWNS = 100_000;

type SinkMsg = { type: 'm' } | ({ type: 'count' } & Query<number>);
const sink = defineActor<{ n: number; target: number; done: (() => void) | undefined }, SinkMsg | { type: 'arm'; target: number; done: () => void }>({
  init: () => ({ n: 0, target: -1, done: undefined }),
  receive(state, msg, ctx) {
    if (msg.type === 'm') {
      state.n++;
      if (state.n === state.target) state.done?.();
      return state;
    }
    if (msg.type === 'arm') return { n: 0, target: msg.target, done: msg.done };
    ctx.reply(msg, state.n);
    return state;
  },
  mailbox: { capacity: 2_000_000 },
});

function newSystem(): ActorSystem {
  return new ActorSystem({ nodeId: 'bench', env: realEnv() });
}

/** One-way tells: a producer actor sends bursts of 1000 tells to a sink actor. */
async function ourTellThroughput(n: number): Promise<number> {
  const system = newSystem();
  const b = system.spawn(sink);
  type ProducerMsg = { type: 'burst'; count: number };
  const producer = defineActor<null, ProducerMsg>({
    init: () => null,
    receive(state, msg, ctx) {
      for (let i = 0; i < msg.count; i++) ctx.tell(b, { type: 'm' });
      return state;
    },
    mailbox: { capacity: 100_000 },
  });
  const a = system.spawn(producer);
  const finished = new Promise<void>((done) => system.tell(b, { type: 'arm', target: n, done }));
  const t0 = performance.now();
  for (let i = 0; i < n / 1000; i++) system.tell(a, { type: 'burst', count: 1000 });
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  await system.shutdown();
  return n / seconds;
}

async function nactTellThroughput(n: number): Promise<number> {
  const system = nact.start();
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => (done = resolve));
  const b = nact.spawn(system, (count: number = 0) => {
    if (count + 1 === n) done();
    return count + 1;
  });
  const a = nact.spawnStateless(system, (count: number) => {
    for (let i = 0; i < count; i++) nact.dispatch(b, 1);
  });
  const t0 = performance.now();
  for (let i = 0; i < n / 1000; i++) nact.dispatch(a, 1000);
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  nact.stop(system);
  return n / seconds;
}

/** Ping-pong between two actors: microseconds per round trip. */
async function ourPingPong(n: number): Promise<number> {
  const system = newSystem();
  type PingMsg = { type: 'ping'; left: number };
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => (done = resolve));
  const refs: { ping?: import('../../runtime/actors/index.ts').ActorRef<PingMsg>; pong?: import('../../runtime/actors/index.ts').ActorRef<PingMsg> } = {};
  const player = (other: 'ping' | 'pong') =>
    defineActor<null, PingMsg>({
      init: () => null,
      receive(state, msg, ctx) {
        if (msg.left === 0) done();
        else ctx.tell(refs[other]!, { type: 'ping', left: msg.left - 1 });
        return state;
      },
    });
  refs.ping = system.spawn(player('pong'));
  refs.pong = system.spawn(player('ping'));
  const t0 = performance.now();
  system.tell(refs.ping, { type: 'ping', left: 2 * n });
  await finished;
  const us = ((performance.now() - t0) * 1000) / n;
  await system.shutdown();
  return us;
}

async function nactPingPong(n: number): Promise<number> {
  const system = nact.start();
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => (done = resolve));
  const refs: { ping?: nact.Ref<number>; pong?: nact.Ref<number> } = {};
  refs.ping = nact.spawnStateless(system, (left: number) => (left === 0 ? done() : nact.dispatch(refs.pong!, left - 1)));
  refs.pong = nact.spawnStateless(system, (left: number) => (left === 0 ? done() : nact.dispatch(refs.ping!, left - 1)));
  const t0 = performance.now();
  nact.dispatch(refs.ping, 2 * n);
  await finished;
  const us = ((performance.now() - t0) * 1000) / n;
  nact.stop(system);
  return us;
}

/** Sequential asks from outside the system: per-ask latency samples in microseconds. */
async function ourAskLatencies(n: number): Promise<number[]> {
  const system = newSystem();
  const b = system.spawn(sink);
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await system.ask(b, { type: 'count' }, { timeoutMs: 1_000 });
    samples.push((performance.now() - t0) * 1000);
  }
  await system.shutdown();
  return samples;
}

async function nactAskLatencies(n: number): Promise<number[]> {
  const system = nact.start();
  const b = nact.spawnStateless(system, (msg: { sender: nact.Ref<number> }) => nact.dispatch(msg.sender, 1));
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await nact.query(b, (sender: nact.Ref<number>) => ({ sender }), 1_000);
    samples.push((performance.now() - t0) * 1000);
  }
  nact.stop(system);
  return samples;
}


/** Spawn rate (actors/s) and retained heap per idle actor (bytes). */
async function ourSpawn(n: number): Promise<[number, number]> {
  const system = newSystem();
  const idle = defineActor<null, { type: 'x' }>({ init: () => null, receive: (s) => s });
  collectGarbage();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) system.spawn(idle);
  const rate = n / ((performance.now() - t0) / 1000);
  await new Promise((r) => setImmediate(r));
  collectGarbage();
  const perActor = (process.memoryUsage().heapUsed - heap0) / n;
  await system.shutdown({ deadlineMs: 60_000 });
  return [rate, perActor];
}

async function nactSpawn(n: number): Promise<[number, number]> {
  const system = nact.start();
  collectGarbage();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) nact.spawnStateless(system, () => {}, `a${i}`); // named: nact's random names collide at this count
  const rate = n / ((performance.now() - t0) / 1000);
  await new Promise((r) => setImmediate(r));
  collectGarbage();
  const perActor = (process.memoryUsage().heapUsed - heap0) / n;
  nact.stop(system);
  return [rate, perActor];
}

/** How late a 0 ms timer fires while a million queued messages drain (the drain budget at work). */
async function ourTimerDelayDuringDrain(n: number): Promise<number> {
  const system = newSystem();
  const b = system.spawn(sink);
  const finished = new Promise<void>((done) => system.tell(b, { type: 'arm', target: n, done }));
  for (let i = 0; i < n; i++) system.tell(b, { type: 'm' });
  const t0 = performance.now();
  const delay = await new Promise<number>((resolve) => setTimeout(() => resolve(performance.now() - t0), 0));
  await finished;
  await system.shutdown();
  return delay;
}

/** Tells across a worker-thread boundary: messages/s until the worker's counter has them all. */
async function ourWorkerTells(n: number): Promise<number> {
  const system = newSystem();
  const router = new ClusterRouter(system);
  const worker = await WorkerNode.start(system, router, { name: 'bench' });
  const ref = await worker.spawn<CounterMsg>(new URL('../support/worker-actors.ts', import.meta.url), 'counter', { mailbox: { capacity: 2_000_000 } });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    system.tell(ref, { type: 'inc', by: 1 });
    if (i % 10_000 === 9_999) await new Promise((r) => setImmediate(r));
  }
  const total = await system.ask(ref, { type: 'get' }, { timeoutMs: 60_000 });
  const seconds = (performance.now() - t0) / 1000;
  if (total !== n) throw new Error(`worker counted ${total} of ${n}`);
  await worker.terminate();
  await system.shutdown();
  return n / seconds;
}

/** The same calls through comlink (one postMessage per call), pipelined. */
async function comlinkCalls(n: number): Promise<number> {
  const Comlink = await import('comlink');
  const { default: nodeEndpoint } = await import('comlink/dist/esm/node-adapter.mjs' as string);
  const worker = new Worker(new URL('./comlink-counter.ts', import.meta.url));
  const api = Comlink.wrap<{ inc(by: number): number; get(): number }>(nodeEndpoint(worker));
  const t0 = performance.now();
  const pending: Promise<number>[] = [];
  for (let i = 0; i < n; i++) pending.push(api.inc(1) as unknown as Promise<number>);
  await Promise.all(pending);
  const total = await api.get();
  const seconds = (performance.now() - t0) / 1000;
  if (total !== n) throw new Error(`comlink counted ${total} of ${n}`);
  await worker.terminate();
  return n / seconds;
}

const repeat = <T>(fn: () => Promise<T>): Promise<T[]> => repeatRuns(RUNS, fn);

export async function runActorBenches(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const ourTell = median(await repeat(() => ourTellThroughput(TELLS)));
  const nactTell = median(await repeat(() => nactTellThroughput(NACT_TELLS)));
  rows.push({ metric: 'local tell throughput (msg/s)', ours: ourTell, peer: nactTell, peerName: 'nact', ratio: ourTell / nactTell, goal: '≥ 5 M/s, ≥ 25× nact' });

  const ourPing = median(await repeat(() => ourPingPong(PINGS)));
  const nactPing = median(await repeat(() => nactPingPong(PINGS)));
  rows.push({ metric: 'ping-pong round trip (µs)', ours: ourPing, peer: nactPing, peerName: 'nact', ratio: nactPing / ourPing });

  const ourAsks = await repeat(() => ourAskLatencies(ASKS));
  const nactAsks = await repeat(() => nactAskLatencies(ASKS));
  const p = (runs: number[][], q: number) => median(runs.map((r) => percentile(r, q)));
  rows.push({ metric: 'ask round trip p50 (µs)', ours: p(ourAsks, 50), peer: p(nactAsks, 50), peerName: 'nact query', ratio: p(nactAsks, 50) / p(ourAsks, 50), goal: '≤ 2 µs' });
  rows.push({ metric: 'ask round trip p99 (µs)', ours: p(ourAsks, 99), peer: p(nactAsks, 99), peerName: 'nact query', ratio: p(nactAsks, 99) / p(ourAsks, 99) });

  const ourSp = await repeat(() => ourSpawn(SPAWNS));
  const nactSp = await repeat(() => nactSpawn(SPAWNS));
  rows.push({ metric: 'spawn rate (actors/s)', ours: median(ourSp.map((x) => x[0])), peer: median(nactSp.map((x) => x[0])), peerName: 'nact', ratio: median(ourSp.map((x) => x[0])) / median(nactSp.map((x) => x[0])) });
  rows.push({ metric: 'heap per idle actor (bytes)', ours: median(ourSp.map((x) => x[1])), peer: median(nactSp.map((x) => x[1])), peerName: 'nact', ratio: median(nactSp.map((x) => x[1])) / median(ourSp.map((x) => x[1])), goal: '< 1024 B' });

  const delay = median(await repeat(() => ourTimerDelayDuringDrain(TELLS)));
  rows.push({ metric: '0 ms timer delay while 1 M messages drain (ms)', ours: delay, goal: '≤ 5 ms' });

  const ourWorker = median(await repeat(() => ourWorkerTells(TELLS)));
  const comlink = median(await repeat(() => comlinkCalls(100_000)));
  rows.push({ metric: 'worker-thread tell throughput (msg/s)', ours: ourWorker, peer: comlink, peerName: 'comlink calls', ratio: ourWorker / comlink, goal: '≥ 500 k/s' });
  return rows;
}

if (import.meta.main) {
  report('actor runtime', await runActorBenches());
}
