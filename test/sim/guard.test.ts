import { describe, expect, it } from 'vitest';
import { defineActor } from '../../runtime/actors/index.ts';
import { isUltraError } from '../../runtime/errors.ts';
import { runGuarded } from '../../sim/guard.ts';
import { runScenario } from '../../sim/runner.ts';
import type { Scenario } from '../../sim/scenario.ts';

/* eslint-disable no-restricted-globals, no-restricted-properties -- these tests plant stray host calls on purpose, for the guard to catch */

const strayCalls: Array<[string, () => unknown]> = [
  ['setTimeout', () => setTimeout(() => {}, 1)],
  ['setInterval', () => setInterval(() => {}, 1)],
  ['setImmediate', () => setImmediate(() => {})],
  ['Date.now', () => Date.now()],
  ['Math.random', () => Math.random()],
  ['performance.now', () => performance.now()],
  ['crypto.randomUUID', () => crypto.randomUUID()],
];

/** A one-node scenario whose actor does `stray` when it gets a message; its supervisor restarts it. */
function strayScenario(stray: () => unknown): Scenario {
  const scenario: Scenario = {
    name: 'stray',
    description: 'an actor reads host time or randomness',
    faults: [],
    durationMs: 100,
    livenessBoundMs: 50,
    run: async (ctx) => {
      const cluster = ctx.cluster({ nodes: ['n'], network: { detectionTimeoutMs: 100, minLatencyMs: 1, maxLatencyMs: 1 }, boot: () => {} }, { crashable: [], pausable: [] });
      const actor = cluster.node('n').system.spawn(
        defineActor<null, { readonly type: 'go' }>({
          init: () => null,
          receive: (state) => {
            stray();
            return state;
          },
        }),
      );
      ctx.after(10, 'go', () => cluster.node('n').system.tell(actor, { type: 'go' }));
      await ctx.runFor(scenario.durationMs);
      return { failures: [], summary: '' };
    },
  };
  return scenario;
}

describe('nondeterminism guard', () => {
  it.each(strayCalls)('makes %s throw UltraError(Internal, nondeterminism) inside a guarded run, and records it', async (name, call) => {
    const { value: error, violations } = await runGuarded(async () => {
      try {
        call();
        return undefined;
      } catch (caught) {
        return caught;
      }
    });
    expect(isUltraError(error, 'Internal')).toBe(true);
    expect((error as Error).message).toContain(`nondeterminism: ${name}()`);
    expect(violations).toEqual([(error as Error).message]);
  });

  it('lets code outside the run use the real functions meanwhile, and restores them afterwards', async () => {
    const originals = [setTimeout, Date.now, Math.random, performance.now];
    let release: () => void = () => {};
    const run = runGuarded(() => new Promise<void>((resolve) => (release = resolve)));
    // The test runner's own code is outside the run's async scope: the real functions answer.
    expect(typeof Date.now()).toBe('number');
    expect(Math.random()).toBeLessThan(1);
    release();
    await run;
    expect([setTimeout, Date.now, Math.random, performance.now]).toEqual(originals);
  });

  it('fails a simulation whose actor reads host randomness, although its supervisor swallows the throw', async () => {
    const result = await runScenario(strayScenario(() => Math.random()), { seed: 1 });
    expect(result.verdict.status).toBe('fail');
    expect(result.verdict.failures).toEqual(["nondeterminism: Math.random() called inside a simulation; use the node's Env"]);
  });

  it('fails a simulation whose actor arms a host timer', async () => {
    const result = await runScenario(strayScenario(() => setTimeout(() => {}, 5)), { seed: 1 });
    expect(result.verdict.failures[0]).toContain('nondeterminism: setTimeout()');
  });

  it('reports a scenario that waits on something the simulator never schedules as stalled', async () => {
    const stalled: Scenario = {
      name: 'stalled',
      description: 'awaits a promise nothing settles',
      faults: [],
      durationMs: 100,
      livenessBoundMs: 50,
      run: () => new Promise(() => {}),
    };
    const result = await runScenario(stalled, { seed: 1 });
    expect(result.verdict.status).toBe('fail');
    expect(result.verdict.failures[0]).toMatch(/^stalled: /);
  });
});
