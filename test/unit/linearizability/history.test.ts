import { describe, expect, it } from 'vitest';
import { isUltraError } from '../../../runtime/errors.ts';
import { HistoryRecorder, operationsFromEvents } from '../../../runtime/linearizability/index.ts';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isUltraError(error) ? error.code : 'not an UltraError';
  }
  return undefined;
}

describe('HistoryRecorder', () => {
  it('keeps ok operations, drops failed ones, and leaves indeterminate and unfinished ones open', () => {
    const h = new HistoryRecorder<string, string>();
    const a = h.invoke('c1', 'a', 1);
    const b = h.invoke('c2', 'b', 2);
    const c = h.invoke('c3', 'c', 3);
    h.invoke('c4', 'd', 4);
    h.ok(a, 'A', 5);
    h.fail(b, 6);
    h.info(c, 7);
    expect(h.operations()).toEqual([
      { clientId: 'c1', input: 'a', output: 'A', call: 1, ret: 5 },
      { clientId: 'c3', input: 'c', output: undefined, call: 3, ret: Infinity },
      { clientId: 'c4', input: 'd', output: undefined, call: 4, ret: Infinity },
    ]);
    expect(h.events().map((e) => e.type)).toEqual(['invoke', 'invoke', 'invoke', 'invoke', 'ok', 'fail', 'info']);
  });

  it('rejects misuse where it happens', () => {
    const h = new HistoryRecorder<string, string>();
    const a = h.invoke(1, 'a', 10);
    expect(codeOf(() => h.ok(99, 'x', 11))).toBe('NotFound');
    expect(codeOf(() => h.ok(a, 'x', 9))).toBe('InvalidArgument');
    expect(codeOf(() => h.invoke(1, 'b', Number.NaN))).toBe('InvalidArgument');
    h.info(a, 12);
    expect(codeOf(() => h.ok(a, 'x', 13))).toBe('FailedPrecondition');
  });

  it('rebuilds the same operations from a dumped event log', () => {
    const h = new HistoryRecorder<string, number>();
    const a = h.invoke('x', 'a', 0);
    const b = h.invoke('y', 'b', 1);
    h.ok(b, 2, 3);
    h.info(a, 4);
    const c = h.invoke('x', 'c', 5);
    h.fail(c, 6);
    // A log from elsewhere may number operations its own way.
    const renumbered = h.events().map((e) => ({ ...e, opId: e.opId + 100 }));
    expect(operationsFromEvents(renumbered)).toEqual(h.operations());
    expect(codeOf(() => operationsFromEvents([{ type: 'ok', opId: 1, output: 1, time: 0 }]))).toBe('NotFound');
    const invoke = { type: 'invoke', opId: 1, clientId: 'x', input: 'a', time: 0 } as const;
    expect(codeOf(() => operationsFromEvents([invoke, invoke]))).toBe('AlreadyExists');
  });
});
