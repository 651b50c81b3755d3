import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkOperations, kvModel } from '../../../runtime/linearizability/index.ts';
import { buildHistory, plannedOp } from './histories.ts';
import type { PlannedOp } from './histories.ts';

// Sizes a simulator run or a real-cluster test produces; the point is that they finish, so the
// assertions are on the verdict and the time shows up in the test report.

function sampleHistory(length: number, options: Parameters<typeof plannedOp>[0], seed: number): PlannedOp[] {
  return fc.sample(fc.array(plannedOp(options), { minLength: length, maxLength: length }), { seed, numRuns: 1 })[0]!;
}

describe('checkOperations at scale', () => {
  it('checks 5,000 operations on one key from ~5 concurrent clients', () => {
    // Stretching each op up to 25 around points 10 apart keeps about five in flight at once.
    const plan = sampleHistory(5_000, { keys: 1, clients: 5, maxStretch: 25, fates: [...Array<'ok'>(48).fill('ok'), 'info', 'fail'] }, 1);
    const ops = buildHistory(plan);
    expect(ops.length).toBeGreaterThan(4_800);
    expect(checkOperations(kvModel, ops).result).toBe('ok');
  });

  it('checks 20,000 operations across 100 keys', () => {
    const plan = sampleHistory(20_000, { keys: 100, clients: 10, maxStretch: 40, fates: [...Array<'ok'>(47).fill('ok'), 'info', 'lost', 'fail'] }, 2);
    const ops = buildHistory(plan);
    const result = checkOperations(kvModel, ops);
    expect(result).toMatchObject({ result: 'ok', partitions: 100 });
  });

  it('proves a violation at the end of 500 operations on one key, among indeterminate ones', () => {
    const plan = sampleHistory(500, { keys: 1, clients: 5, maxStretch: 25, fates: [...Array<'ok'>(46).fill('ok'), 'info', 'info', 'lost', 'lost'] }, 2);
    const ops = buildHistory(plan);
    expect(ops.filter((o) => o.ret === Infinity).length).toBeGreaterThan(10);
    // The last read is the one that cannot be explained, so every earlier order must be ruled out.
    const last = ops.findLastIndex((o) => o.input.op === 'get' && o.output !== undefined);
    const corrupted = ops.map((o, i) => (i === last ? { ...o, output: { value: 'never-written' } } : o));
    const result = checkOperations(kvModel, corrupted, { maxSteps: 5_000_000 });
    expect(result.result).toBe('illegal');
  });
});
