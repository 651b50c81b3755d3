import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkOperations, kvModel } from '../../../runtime/linearizability/index.ts';
import type { KvInput, KvOperation, KvOutput, KvState, Model } from '../../../runtime/linearizability/index.ts';
import { buildHistory, plannedOp } from './histories.ts';

describe('checkOperations on histories linearizable by construction', () => {
  const plan = fc.array(plannedOp({ keys: 3, clients: 4, maxStretch: 35, fates: ['ok', 'ok', 'ok', 'ok', 'info', 'lost', 'fail'] }), {
    minLength: 1,
    maxLength: 80,
    size: 'max',
  });

  it('accepts them, and rejects them once one read returns a value never written', () => {
    fc.assert(
      fc.property(plan, fc.nat(), (planned, pick) => {
        const ops = buildHistory(planned);
        expect(checkOperations(kvModel, ops).result).toBe('ok');
        const reads = ops.flatMap((o, i) => (o.input.op === 'get' && o.output !== undefined ? [i] : []));
        fc.pre(reads.length > 0);
        const victim = reads[pick % reads.length]!;
        const corrupted = ops.map((o, i) => (i === victim ? { ...o, output: { value: 'never-written' } } : o));
        expect(checkOperations(kvModel, corrupted).result).toBe('illegal');
      }),
      { numRuns: 200 },
    );
  });
});

/** Tries every order that respects real time; open-ended ops may also be left out. */
function bruteForce(ops: readonly KvOperation[]): boolean {
  const placed = ops.map(() => false);
  const mustPlace = ops.filter((o) => o.ret !== Infinity).length;
  const extend = (state: KvState, count: number): boolean => {
    if (count === mustPlace) return true;
    return ops.some((o, i) => {
      if (placed[i]) return false;
      const blocked = ops.some((p, j) => !placed[j] && j !== i && p.ret < o.call);
      if (blocked) return false;
      const stepped = kvModel.step(state, o.input, o.output);
      if (!stepped.ok) return false;
      placed[i] = true;
      const found = extend(stepped.state, count + (o.ret === Infinity ? 0 : 1));
      placed[i] = false;
      return found;
    });
  };
  return extend(kvModel.init(), 0);
}

describe('checkOperations against a brute-force oracle', () => {
  const value = fc.constantFrom('a', 'b', null);
  const written = fc.constantFrom('a', 'b');
  type Io = { input: KvInput; output: KvOutput };
  const io: fc.Arbitrary<Io> = fc.oneof(
    value.map((v): Io => ({ input: { op: 'get', key: 'k' }, output: { value: v } })),
    written.map((v): Io => ({ input: { op: 'put', key: 'k', value: v }, output: {} })),
    fc.tuple(value, written, fc.boolean()).map(([expected, v, ok]): Io => ({ input: { op: 'cas', key: 'k', expected, value: v }, output: { ok } })),
    fc.constant<Io>({ input: { op: 'delete', key: 'k' }, output: {} }),
  );
  const anyOp: fc.Arbitrary<KvOperation> = fc
    .record({ io, client: fc.nat(3), call: fc.nat(40), length: fc.nat(15), open: fc.boolean() })
    .map(({ io: { input, output }, client, call, length, open }) =>
      open
        ? { clientId: client, input, output: undefined, call, ret: Infinity }
        : { clientId: client, input, output, call, ret: call + length },
    );

  // The bare model skips the per-key rewrites, so it tests the search on its own.
  const bare: Model<KvState, KvInput, KvOutput> = { init: kvModel.init, step: kvModel.step };

  it('agrees on small arbitrary histories, including open-ended ones', () => {
    let legal = 0;
    fc.assert(
      fc.property(fc.array(anyOp, { maxLength: 8 }), (ops) => {
        const expected = bruteForce(ops) ? 'ok' : 'illegal';
        if (expected === 'ok') legal++;
        expect(checkOperations(kvModel, ops).result).toBe(expected);
        expect(checkOperations(bare, ops).result).toBe(expected);
      }),
      { numRuns: 3000 },
    );
    // Both verdicts must be well represented, or the agreement says little.
    expect(legal).toBeGreaterThan(300);
    expect(legal).toBeLessThan(2700);
  });
});
