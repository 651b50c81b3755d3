// The plasmavmc scenario's bounded sweeps (sim/scenarios/plasmavmc.ts), in a worker of their own:
// workers crash mid-create and mid-migrate (half the crashes lose power and get fenced), pause and
// get partitioned, and no VM may ever run twice; after the faults every VM must be consistent, with
// no orphaned process, port, volume or reservation. Seeds are counted, not timed.
//
// Found by these sweeps and fixed (actors/plasmavmc): a placement attempt that lost its race
// released the reservation the winning attempt relied on (VMs ended on a worker without a
// reservation, and a later placement overcommitted it: safety seeds 3, 9, 13, 29) — reservations now
// carry the token of the last attempt that relied on them and only the collector releases them;
// three controllers creating a VM's port at once left one behind when a reply was lost (seed 13) —
// surplus ports of a VM are now found by device and deleted; a VM stopped before it had a worker
// stayed "stopping" for good (seed 13) — it is now stopped at once.
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../sim/runner.ts';
import { findScenario } from '../../sim/scenarios/index.ts';
import { sweep, sweepPassed } from '../../sim/sweep.ts';

const scenario = findScenario('plasmavmc')!;

/** A stand-in host clock: sweeps only read it to report their speed. */
function fakeClock(): () => number {
  let t = 0;
  return () => (t += 1);
}

describe('plasmavmc scenario', () => {
  it('passes a safety sweep over 80 seeds, reaching every situation it covers', async () => {
    const report = await sweep({ scenario, from: 1, to: 80, mode: 'safety', now: fakeClock() });
    expect(report.failed.map((r) => `seed ${r.seed}: ${r.verdict.failures.join('; ')}`)).toEqual([]);
    expect(report.sometimes.filter(([, n]) => n === 0)).toEqual([]);
    expect(sweepPassed(report)).toBe(true);
    expect(report.inconclusive.length).toBeLessThan(80 / 3);
  }, 180_000);

  it('passes a liveness sweep over 40 seeds (operations go through again once the faults stop)', async () => {
    const report = await sweep({ scenario, from: 1, to: 40, mode: 'liveness', now: fakeClock() });
    expect(report.failed.map((r) => `seed ${r.seed}: ${r.verdict.failures.join('; ')}`)).toEqual([]);
    // The rarest situations (a fence, a crash mid-migration) come early enough only in some
    // liveness runs; the safety sweep above requires them.
    expect(report.passed).toBeGreaterThan(40 * (2 / 3));
  }, 180_000);

  it('replays a seed identically', async () => {
    const first = await runScenario(scenario, { seed: 7 });
    const again = await runScenario(scenario, { seed: 7 });
    expect(again.traceHash).toBe(first.traceHash);
    expect(again.verdict).toEqual(first.verdict);
  }, 60_000);
});
