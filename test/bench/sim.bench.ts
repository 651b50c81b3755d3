// Simulator speed: how much virtual time and how many events the deterministic simulator gets
// through per wall second on a steady cluster workload, and how long a 200-seed sweep of each
// registered scenario takes. The workload figures are the median of RUNS runs after one warm-up;
// each sweep is timed once (200 seeds already average out the noise, and the workload runs warmed
// the JIT).
// Run: npm run bench -- sim   (or: node test/bench/sim.bench.ts)
import { ANY_INCARNATION, defineActor, type ActorRef } from '../../runtime/actors/index.ts';
import { runScenario } from '../../sim/runner.ts';
import type { Scenario } from '../../sim/scenario.ts';
import { SCENARIOS } from '../../sim/scenarios/index.ts';
import { sweep } from '../../sim/sweep.ts';
import { median, report, type BenchRow } from './report.ts';

const RUNS = Number(process.env.RUNS ?? 5);
const NODES = ['n1', 'n2', 'n3', 'n4', 'n5'];
const VIRTUAL_SECONDS = 60;
const HEARTBEAT_MS = 50;
const SWEEP_SEEDS = 200;

type HeartbeatMsg = { readonly type: 'tick' } | { readonly type: 'heartbeat'; readonly from: string };

/** One actor per node that heartbeats every other node's actor, as a Raft leader does its followers. */
const heartbeater = defineActor<{ received: number }, HeartbeatMsg>({
  init: (ctx) => {
    ctx.timers.startPeriodic('tick', { type: 'tick' }, HEARTBEAT_MS);
    return { received: 0 };
  },
  receive: (state, msg, ctx) => {
    if (msg.type === 'heartbeat') {
      state.received++;
      return state;
    }
    for (const node of NODES) {
      if (node === ctx.self.node) continue;
      const peer: ActorRef<HeartbeatMsg> = { node, path: '/user/heartbeat', uid: ANY_INCARNATION };
      ctx.tell(peer, { type: 'heartbeat', from: ctx.self.node });
    }
    return state;
  },
});

/** Five nodes, each with a heartbeater and membership gossip every 100 ms, no faults. */
const heartbeats: Scenario = {
  name: 'bench-heartbeats',
  description: 'five nodes heartbeating each other every 50 ms, with membership gossip',
  faults: [],
  durationMs: VIRTUAL_SECONDS * 1000,
  livenessBoundMs: 0,
  run: async (ctx) => {
    ctx.cluster(
      {
        nodes: NODES,
        network: { detectionTimeoutMs: 500, minLatencyMs: 0.2, maxLatencyMs: 2 },
        membership: { seeds: (node) => (node === NODES[0] ? [] : [NODES[0]!]), gossipIntervalMs: 100, suspectTimeoutMs: 500 },
        boot: (node) => {
          node.system.spawn(heartbeater, { name: 'heartbeat' });
        },
      },
      { crashable: [], pausable: [] },
    );
    await ctx.runFor(heartbeats.durationMs);
    return { failures: [], summary: '' };
  },
};

interface Throughput {
  readonly eventsPerSecond: number;
  readonly simToWall: number;
}

async function heartbeatRun(seed: number): Promise<Throughput> {
  const t0 = performance.now();
  const result = await runScenario(heartbeats, { seed });
  const wallMs = performance.now() - t0;
  if (result.verdict.status !== 'pass') throw new Error(`heartbeat workload did not pass: ${result.verdict.failures.join('; ')}`);
  return { eventsPerSecond: result.events / (wallMs / 1000), simToWall: result.virtualMs / wallMs };
}

async function sweepWallMs(scenario: Scenario): Promise<number> {
  const report = await sweep({ scenario, from: 1, to: SWEEP_SEEDS, now: () => performance.now() });
  return report.wallMs;
}

export async function runSimBenches(): Promise<BenchRow[]> {
  await heartbeatRun(0);
  const runs: Throughput[] = [];
  for (let i = 1; i <= RUNS; i++) runs.push(await heartbeatRun(i));
  const rows: BenchRow[] = [
    { metric: `simulated events/s (5 nodes, heartbeats every ${HEARTBEAT_MS} ms + membership gossip, ${VIRTUAL_SECONDS} s virtual)`, ours: median(runs.map((r) => r.eventsPerSecond)) },
    { metric: 'simulated time / wall time (same workload)', ours: median(runs.map((r) => r.simToWall)), goal: '≥ 100×' },
  ];
  for (const scenario of SCENARIOS) rows.push({ metric: `${scenario.name}: ${SWEEP_SEEDS}-seed sweep (safety), wall ms`, ours: await sweepWallMs(scenario) });
  return rows;
}

if (import.meta.main) {
  report('deterministic simulator', await runSimBenches());
}
