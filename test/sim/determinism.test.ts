import { describe, expect, it } from 'vitest';
import { runScenario, type RunResult } from '../../sim/runner.ts';
import { SCENARIOS } from '../../sim/scenarios/index.ts';

/** Everything a run produces that must be a function of the seed alone. */
const outcome = (r: RunResult) => ({ traceHash: r.traceHash, events: r.events, virtualMs: r.virtualMs, verdict: r.verdict, counters: r.counters, sometimes: r.sometimes });

describe('determinism', () => {
  it.each(SCENARIOS.map((s) => [s.name, s] as const))('%s: the same seed gives the same trace and verdict, twice over', async (_name, scenario) => {
    const hashes = new Set<string>();
    for (const [seed, mode] of [[1, 'safety'], [2, 'liveness']] as const) {
      const first = await runScenario(scenario, { seed, mode });
      const second = await runScenario(scenario, { seed, mode });
      expect(outcome(second)).toEqual(outcome(first));
      expect(first.events).toBeGreaterThan(100);
      hashes.add(first.traceHash);
    }
    // A different seed is a different run.
    expect(hashes.size).toBe(2);
  });
});
