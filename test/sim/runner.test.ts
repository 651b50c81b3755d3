import { describe, expect, it } from 'vitest';
import { drawFaultPlan, type FaultKind } from '../../sim/faults.ts';
import { runScenario } from '../../sim/runner.ts';
import type { Scenario, ScenarioContext } from '../../sim/scenario.ts';
import { deathWatch } from '../../sim/scenarios/death-watch.ts';

/** A scenario of one idle node (or two, for network faults) whose body is `body`. */
function scenario(faults: readonly FaultKind[], body: (ctx: ScenarioContext) => Promise<void>): Scenario {
  return {
    name: 'probe',
    description: 'a runner probe',
    faults,
    durationMs: 1_000,
    livenessBoundMs: 400,
    run: async (ctx) => {
      await body(ctx);
      return { failures: [], summary: 'probed' };
    },
  };
}

const oneNode = (ctx: ScenarioContext) =>
  ctx.cluster({ nodes: ['n', 'm'], network: { detectionTimeoutMs: 100, minLatencyMs: 1, maxLatencyMs: 2 }, boot: () => {} }, { crashable: ['n'], pausable: ['n'] });

/** The first seed whose fault plan switches `kind` on. */
function seedWith(kind: FaultKind, mode: 'safety' | 'liveness' = 'safety'): number {
  for (let seed = 1; ; seed++) if (drawFaultPlan(seed, [kind], mode).enabled.includes(kind)) return seed;
}

describe('scenario runner', () => {
  it('fails a run when an invariant breaks, saying when', async () => {
    const result = await runScenario(
      scenario([], async (ctx) => {
        oneNode(ctx);
        let ticks = 0;
        const tick = (): void => ctx.after(10, 'tick', () => (ticks++, tick()));
        tick();
        ctx.invariant('fewer than 20 ticks', () => (ticks < 20 ? undefined : `${ticks} ticks`), 1);
        await ctx.runFor(1_000);
      }),
      { seed: 1 },
    );
    expect(result.verdict.status).toBe('fail');
    // Checked between events: the 20th tick ran at 200 ms, the check before the next one at 210 ms.
    expect(result.verdict.failures).toEqual(["invariant 'fewer than 20 ticks' violated at 210.000 ms: 20 ticks"]);
  });

  it('records "sometimes" assertions per run: whether each ever held', async () => {
    const result = await runScenario(
      scenario([], async (ctx) => {
        oneNode(ctx);
        ctx.sometimes('never', false);
        ctx.sometimes('once', false);
        ctx.sometimes('once', true);
        ctx.sometimes('once', false);
        await ctx.runFor(10);
      }),
      { seed: 1 },
    );
    expect(result.sometimes).toEqual([
      ['never', false],
      ['once', true],
    ]);
    expect(result.verdict.status).toBe('pass');
  });

  it('in liveness mode stops the faults part-way and fails a run whose progress does not resume', async () => {
    const seed = seedWith('pause', 'liveness');
    const stuck = await runScenario(
      scenario(['pause'], async (ctx) => {
        oneNode(ctx);
        ctx.progress('nothing', () => 0);
        await ctx.runFor(1_000);
      }),
      { seed, mode: 'liveness' },
    );
    expect(stuck.verdict.failures).toEqual(["liveness: 'nothing' did not grow within 400 ms after the faults stopped (stayed at 0)"]);
    let done = 0;
    const moving = await runScenario(
      scenario(['pause'], async (ctx) => {
        const cluster = oneNode(ctx);
        ctx.progress('ticks on n', () => done);
        const tick = (): void => cluster.onNode('n', (node) => void node.env.setTimer(20, () => (done++, tick())));
        tick();
        await ctx.runFor(1_000);
      }),
      { seed, mode: 'liveness' },
    );
    expect(moving.verdict.status).toBe('pass');
  });

  it('calls a run inconclusive when a fault kind its plan switched on never fired', async () => {
    const seed = seedWith('loss');
    const result = await runScenario(
      scenario(['loss'], async (ctx) => {
        oneNode(ctx);
        await ctx.runFor(100);
      }),
      { seed },
    );
    expect(result.plan.enabled).toEqual(['loss']);
    expect(result.verdict).toMatchObject({ status: 'inconclusive', unfired: ['loss'], failures: [] });
  });

  it('stops a run after the event budget, with the trace so far and no verdict of its own', async () => {
    const full = await runScenario(deathWatch, { seed: 3 });
    const cut = await runScenario(deathWatch, { seed: 3, maxEvents: 40, timeline: true });
    expect(cut.verdict.status).toBe('stopped');
    expect(cut.events).toBe(40);
    expect(cut.traceHash).not.toBe(full.traceHash);
    expect(cut.timeline.filter((line) => !line.includes(' · '))).toHaveLength(40);
  });
});
