import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, drawFaultPlan, faultCounter, type FaultKind } from '../../sim/faults.ts';
import { runScenario } from '../../sim/runner.ts';
import { SCENARIOS } from '../../sim/scenarios/index.ts';

describe('fault injection', () => {
  it('gives each seed its own mix of fault kinds (swarm testing)', () => {
    const all = SCENARIOS.find((s) => s.name === 'register')!.faults;
    const mixes = new Set(Array.from({ length: 50 }, (_, seed) => drawFaultPlan(seed, all, 'safety').enabled.join(',')));
    expect(mixes.size).toBeGreaterThan(40);
    expect(drawFaultPlan(9, all, 'safety')).toEqual(drawFaultPlan(9, all, 'safety'));
  });

  it.each(FAULT_KINDS.map((k) => [k]))('%s fires: some scenario run with it on counts it', async (kind: FaultKind) => {
    const scenario = SCENARIOS.find((s) => s.faults.includes(kind));
    expect(scenario).toBeDefined();
    let fired = 0;
    for (let seed = 1; seed < 200 && fired === 0; seed++) {
      if (!drawFaultPlan(seed, scenario!.faults, 'safety').enabled.includes(kind)) continue;
      const result = await runScenario(scenario!, { seed });
      fired = result.counters.find(([name]) => name === faultCounter(kind))?.[1] ?? 0;
      if (fired > 0) expect(result.verdict.unfired).not.toContain(kind);
    }
    expect(fired).toBeGreaterThan(0);
  });
});
