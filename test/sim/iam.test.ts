// The iam scenario's bounded sweeps (sim/scenarios/iam.ts): revocations hold within the staleness
// bound on every gate, across partitions and their heal, in both modes; and the planted bug
// (gates caching decisions past the bound) is found and replays from its seed. Seeds are counted,
// not timed; the whole file takes about 15 s of CPU (more wall time on busy shared cores).
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../sim/runner.ts';
import { findScenario } from '../../sim/scenarios/index.ts';
import { sweep, sweepPassed } from '../../sim/sweep.ts';

/** A stand-in host clock: sweeps only read it to report their speed. */
function fakeClock(): () => number {
  let t = 0;
  return () => (t += 1);
}

describe('iam scenario', () => {
  it.each([
    ['safety', 16],
    ['liveness', 10],
  ] as const)('passes a %s sweep over %i seeds', async (mode, seeds) => {
    const report = await sweep({ scenario: findScenario('iam')!, from: 1, to: seeds, mode, now: fakeClock() });
    expect(report.failed.map((r) => `seed ${r.seed}: ${r.verdict.failures.join('; ')}`)).toEqual([]);
    expect(report.inconclusive.length).toBeLessThan(seeds / 3);
    // Coverage that every sweep of this size reaches: revocations of both kinds were refused.
    const reached = new Map(report.sometimes);
    expect(reached.get('a revoked binding was refused at a gate')).toBeGreaterThan(0);
    expect(reached.get('a revoked session was refused at a gate')).toBeGreaterThan(0);
    if (mode === 'safety') expect(sweepPassed(report)).toBe(true);
  }, 120_000);

  it('finds the planted stale-gate bug, and replays it from its seed with the same failure', async () => {
    const buggy = findScenario('iam-stale-gate')!;
    const report = await sweep({ scenario: buggy, from: 1, to: 20, maxFailures: 1, now: fakeClock() });
    expect(report.failed).toHaveLength(1);
    const found = report.failed[0]!;
    expect(found.verdict.failures[0]).toMatch(/revocations hold within the bound.*allowed u\d .* after its (binding|session) was revoked/);
    const replay = await runScenario(buggy, { seed: found.seed });
    expect(replay.traceHash).toBe(found.traceHash);
    expect(replay.verdict).toEqual(found.verdict);
  }, 120_000);
});
