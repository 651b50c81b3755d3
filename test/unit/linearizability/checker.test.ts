import { describe, expect, it } from 'vitest';
import { isUltraError } from '../../../runtime/errors.ts';
import { checkOperations, kvModel } from '../../../runtime/linearizability/index.ts';
import type { KvInput, KvOperation, KvOutput, Model, Operation } from '../../../runtime/linearizability/index.ts';

const OPEN = Infinity;
let nextClient = 0;

function op(input: KvInput, output: KvOutput | undefined, call: number, ret: number): KvOperation {
  return { clientId: nextClient++, input, output, call, ret };
}
const get = (value: string | null, call: number, ret: number, key = 'k'): KvOperation =>
  op({ op: 'get', key }, { value }, call, ret);
const put = (value: string, call: number, ret: number, key = 'k'): KvOperation =>
  op({ op: 'put', key, value }, ret === OPEN ? undefined : {}, call, ret);
const cas = (expected: string | null, value: string, ok: boolean | undefined, call: number, ret: number): KvOperation =>
  op({ op: 'cas', key: 'k', expected, value }, ok === undefined ? undefined : { ok }, call, ret);
const del = (call: number, ret: number): KvOperation => op({ op: 'delete', key: 'k' }, ret === OPEN ? undefined : {}, call, ret);

const verdict = (ops: readonly KvOperation[]): string => checkOperations(kvModel, ops).result;

describe('checkOperations on the KV model: linearizable histories', () => {
  it('accepts the empty history and a sequential one', () => {
    expect(verdict([])).toBe('ok');
    expect(
      verdict([get(null, 0, 1), put('a', 2, 3), get('a', 4, 5), cas('a', 'b', true, 6, 7), cas('a', 'c', false, 8, 9), get('b', 10, 11), del(12, 13), get(null, 14, 15), cas(null, 'd', true, 16, 17), get('d', 18, 19)]),
    ).toBe('ok');
  });

  it('accepts reads that overlap a write seeing either side of it', () => {
    expect(verdict([put('a', 0, 100), get(null, 10, 20), get('a', 30, 40), get('a', 150, 160)])).toBe('ok');
    // Concurrent writes may land in either order.
    expect(verdict([put('a', 0, 50), put('b', 0, 50), get('a', 60, 70)])).toBe('ok');
    expect(verdict([put('a', 0, 50), put('b', 0, 50), get('b', 60, 70)])).toBe('ok');
    // Operations that merely touch in time are concurrent.
    expect(verdict([put('a', 0, 10), get(null, 10, 20)])).toBe('ok');
  });

  it('accepts an indeterminate write whether or not it ever took effect', () => {
    expect(verdict([put('a', 0, OPEN), get(null, 10, 20), get(null, 500, 510)])).toBe('ok');
    expect(verdict([put('a', 0, OPEN), get(null, 10, 20), get('a', 500, 510), get('a', 600, 610)])).toBe('ok');
    expect(verdict([put('a', 0, 5), put('b', 10, OPEN), put('c', 20, 30), get('c', 40, 50), get('b', 60, 70)])).toBe('ok');
    expect(verdict([put('a', 0, 5), cas('a', 'b', undefined, 10, OPEN), get('a', 20, 30), get('b', 40, 50)])).toBe('ok');
    expect(verdict([put('a', 0, 5), cas('a', 'b', undefined, 10, OPEN), get('a', 20, 30), get('a', 40, 50)])).toBe('ok');
    expect(verdict([put('a', 0, 5), del(10, OPEN), get('a', 20, 30), get(null, 40, 50)])).toBe('ok');
  });

  it('checks keys independently and reports the partitions', () => {
    const ops = [put('a', 0, 10, 'x'), put('b', 0, 10, 'y'), get('a', 20, 30, 'x'), get('b', 20, 30, 'y'), get(null, 20, 30, 'z')];
    expect(checkOperations(kvModel, ops)).toMatchObject({ result: 'ok', partitions: 3 });
  });
});

describe('checkOperations on the KV model: violations', () => {
  it('rejects a stale read', () => {
    expect(verdict([put('a', 0, 10), put('b', 20, 30), get('a', 40, 50)])).toBe('illegal');
    expect(verdict([put('a', 0, 10), get(null, 20, 30)])).toBe('illegal');
  });

  it('rejects a lost write', () => {
    expect(verdict([put('a', 0, 10), put('b', 20, 30), get('a', 40, 50), get('a', 60, 70), get('a', 80, 90)])).toBe('illegal');
  });

  it('rejects a read of a value never written', () => {
    expect(verdict([put('a', 0, 10), get('zzz', 20, 30)])).toBe('illegal');
  });

  it('rejects a cas that succeeded against a value that was not current', () => {
    expect(verdict([put('a', 0, 10), put('b', 20, 30), cas('a', 'c', true, 40, 50)])).toBe('illegal');
    expect(verdict([put('a', 0, 10), cas('a', 'c', false, 20, 30)])).toBe('illegal');
  });

  it('rejects a new-then-old read inversion during a write', () => {
    expect(verdict([put('a', 0, 5), put('b', 10, 100), get('b', 20, 30), get('a', 40, 50)])).toBe('illegal');
  });

  it('rejects an indeterminate write seen, then unseen, or seen before it was invoked', () => {
    expect(verdict([put('a', 0, OPEN), get('a', 10, 20), get(null, 30, 40)])).toBe('illegal');
    expect(verdict([get('a', 0, 10), put('a', 20, OPEN)])).toBe('illegal');
    expect(verdict([put('a', 0, 5), del(10, OPEN), get(null, 20, 30), get('a', 40, 50)])).toBe('illegal');
  });

  it('explains a violation by the longest order found and the operation that could not follow it', () => {
    const ops = [put('1', 0, 10, 'x'), get('1', 20, 30, 'x'), put('a', 0, 10), put('b', 20, 30), get('b', 31, 35), get('a', 40, 50)];
    const result = checkOperations(kvModel, ops);
    if (result.result !== 'illegal') throw new Error(`expected illegal, got ${result.result}`);
    expect(result.partitions).toBe(2);
    expect(result.partition).toBe(1);
    expect(result.operations).toEqual(ops.slice(2));
    expect(result.linearized).toEqual([ops[2], ops[3], ops[4]]);
    expect(result.state).toBe('b');
    expect(result.stuck).toEqual(ops[5]);
    expect(result.explanation).toContain('partition 1 is not linearizable');
    expect(result.explanation).toContain('get("k") -> "a" [40, 50]');
    expect(result.explanation).toContain('in state "b"');
  });
});

describe('checkOperations: the search itself', () => {
  it('gives up with unknown when the step budget runs out, and counts steps', () => {
    const ops = [put('a', 0, 10), get('a', 20, 30)];
    expect(checkOperations(kvModel, ops, { maxSteps: 1 })).toMatchObject({ result: 'unknown', partition: 0, steps: 1 });
    const full = checkOperations(kvModel, ops);
    expect(full.result).toBe('ok');
    expect(checkOperations(kvModel, ops, { maxSteps: full.steps }).result).toBe('ok');
  });

  it('rejects malformed input', () => {
    const codeOf = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (error) {
        return isUltraError(error) ? error.code : 'not an UltraError';
      }
      return undefined;
    };
    expect(codeOf(() => checkOperations(kvModel, [put('a', 10, 5)]))).toBe('InvalidArgument');
    expect(codeOf(() => checkOperations(kvModel, [put('a', 0, 1)], { maxSteps: -1 }))).toBe('InvalidArgument');
    expect(codeOf(() => checkOperations(kvModel, [op({ op: 'get', key: 'k' }, { ok: true }, 0, 1)]))).toBe('InvalidArgument');
  });

  it('consults equal when the state hash is coarse', () => {
    // Same operations linearized, different states: a hash that cannot tell them apart would
    // prune the one order that works unless equal can.
    const register = (equal?: (a: string, b: string) => boolean): Model<string, string, string> => ({
      init: () => '',
      step: (state, input, output) => (input === 'read' ? { ok: output === state, state } : { ok: true, state: input }),
      hash: () => 'same',
      ...(equal ? { equal } : {}),
    });
    const ops: Operation<string, string>[] = [
      { clientId: 1, input: 'a', output: '', call: 0, ret: 10 },
      { clientId: 2, input: 'b', output: '', call: 0, ret: 10 },
      { clientId: 3, input: 'read', output: 'a', call: 20, ret: 30 },
    ];
    expect(checkOperations(register((a, b) => a === b), ops).result).toBe('ok');
    expect(checkOperations(register(), ops).result).toBe('illegal');
  });
});
