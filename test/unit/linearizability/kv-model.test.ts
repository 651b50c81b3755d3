import { describe, expect, it } from 'vitest';
import { isUltraError } from '../../../runtime/errors.ts';
import { kvModel } from '../../../runtime/linearizability/index.ts';
import type { KvInput, KvOperation, KvOutput } from '../../../runtime/linearizability/index.ts';

const OPEN = Infinity;
const op = (input: KvInput, output: KvOutput | undefined, call: number, ret: number): KvOperation => ({
  clientId: 0,
  input,
  output,
  call,
  ret,
});
const get = (value: string | null, call: number, ret: number, key = 'k'): KvOperation => op({ op: 'get', key }, ret === OPEN ? undefined : { value }, call, ret);
const put = (value: string, call: number, ret: number, key = 'k'): KvOperation => op({ op: 'put', key, value }, ret === OPEN ? undefined : {}, call, ret);
const cas = (expected: string | null, value: string, ok: boolean | undefined, call: number, ret: number): KvOperation =>
  op({ op: 'cas', key: 'k', expected, value }, ok === undefined ? undefined : { ok }, call, ret);
const partition = (ops: KvOperation[]): (readonly KvOperation[])[] => [...kvModel.partition!(ops)];

describe('kvModel.step', () => {
  it('is a register per key: reads see the last write, cas applies only on a match', () => {
    expect(kvModel.step(null, { op: 'get', key: 'k' }, { value: null })).toEqual({ ok: true, state: null });
    expect(kvModel.step('a', { op: 'get', key: 'k' }, { value: 'b' }).ok).toBe(false);
    expect(kvModel.step('a', { op: 'put', key: 'k', value: 'b' }, {})).toEqual({ ok: true, state: 'b' });
    expect(kvModel.step('a', { op: 'delete', key: 'k' }, {})).toEqual({ ok: true, state: null });
    expect(kvModel.step('a', { op: 'cas', key: 'k', expected: 'a', value: 'b' }, { ok: true })).toEqual({ ok: true, state: 'b' });
    expect(kvModel.step('a', { op: 'cas', key: 'k', expected: 'x', value: 'b' }, { ok: false })).toEqual({ ok: true, state: 'a' });
    expect(kvModel.step('a', { op: 'cas', key: 'k', expected: 'x', value: 'b' }, { ok: true }).ok).toBe(false);
    // Unknown outcome: the effect happens if it would, and any answer fits.
    expect(kvModel.step('a', { op: 'cas', key: 'k', expected: 'a', value: 'b' }, undefined)).toEqual({ ok: true, state: 'b' });
    expect(kvModel.step('a', { op: 'get', key: 'k' }, undefined)).toEqual({ ok: true, state: 'a' });
  });
});

describe('kvModel.partition', () => {
  it('splits by key and drops reads whose answer never arrived', () => {
    const parts = partition([get('a', 0, 1, 'x'), get(null, 0, OPEN, 'x'), get(null, 2, 3, 'y'), get('a', 4, 5, 'x')]);
    expect(parts.map((p) => p.map((o) => o.input.key))).toEqual([['x', 'x'], ['y']]);
  });

  it('gives an open write whose value was read the deadline of its first reader', () => {
    const [part] = partition([put('a', 0, OPEN), get('a', 10, 20), get('a', 5, 15), cas('a', 'b', undefined, 30, OPEN), cas('b', 'c', true, 40, 50), get('c', 60, 70)]);
    expect(part!.map((o) => o.ret)).toEqual([15, 20, 15, 50, 50, 70]);
  });

  it('leaves an open write whose value another op also writes open', () => {
    const [part] = partition([put('a', 0, OPEN), put('a', 1, 2), get('a', 10, 20)]);
    expect(part![0]!.ret).toBe(OPEN);
  });

  it('drops an open write nothing observed, unless a refused cas might have seen the value it replaced', () => {
    expect(partition([put('a', 0, 1), put('b', 5, OPEN), get('a', 10, 20)])[0]).toHaveLength(2);
    expect(partition([put('a', 0, 1), put('b', 5, OPEN), cas('a', 'c', false, 10, 20)])[0]).toHaveLength(3);
    // A refusal that returned before the write was invoked, or that expected a value the register
    // never held, cannot have been affected by it.
    expect(partition([put('a', 0, 1), cas('a', 'c', false, 2, 3), put('b', 5, OPEN)])[0]).toHaveLength(2);
    expect(partition([put('a', 0, 1), put('b', 5, OPEN), cas('zzz', 'c', false, 10, 20)])[0]).toHaveLength(2);
  });

  it('renames values nobody reads to one, and says so when describing them', () => {
    const [part] = partition([put('a', 0, 1), put('b', 2, 3), put('c', 4, 5), get('c', 6, 7), cas('x', 'd', false, 8, 9)]);
    const [a, b, c] = part!;
    expect(a!.input).toEqual(b!.input);
    expect(c!.input).toEqual({ op: 'put', key: 'k', value: 'c' });
    expect(kvModel.describeOperation!(a!.input, a!.output)).toBe('put("k", (a value never read))');
    expect(kvModel.describeOperation!(part![4]!.input, part![4]!.output)).toBe('cas("k", "x" -> (a value never read)) -> false');
  });

  it('rejects outputs of the wrong shape', () => {
    const codeOf = (ops: KvOperation[]): string | undefined => {
      try {
        partition(ops);
      } catch (error) {
        return isUltraError(error) ? error.code : 'not an UltraError';
      }
      return undefined;
    };
    expect(codeOf([op({ op: 'get', key: 'k' }, {}, 0, 1)])).toBe('InvalidArgument');
    expect(codeOf([op({ op: 'cas', key: 'k', expected: null, value: 'a' }, { value: 'a' }, 0, 1)])).toBe('InvalidArgument');
  });
});
