// Rewrites one key's history into an equivalent one (linearizable exactly when the original is)
// with fewer open-ended operations. Those are what make the search expensive: each may take effect
// anywhere after its invoke or never, so it stays a candidate for the rest of the history, and a
// violation has to be proven against every way of using them.

import type { KvOperation } from './kv-model.ts';

type Value = string | null;

/** What a write of a value nobody reads is rewritten to write (see reduceKeyHistory). */
export const UNREAD = '\u0000unread';

/**
 * Three rewrites of writes (puts, cas, deletes):
 *
 * - One whose value nobody else writes and some completed operation saw (a read returned it, or a
 *   cas applied expecting it) must have taken effect before the first such operation returned, so
 *   it gets that return time and becomes an ordinary operation.
 *
 * - One whose value nothing ever saw (no read returned it, no cas expected it) is dropped. Taking
 *   it out of a valid order changes only the value current until the next write, and nothing then
 *   could have looked: a read would have returned it, a cas that applied expected it, and an
 *   open-ended cas that did not apply can be left out as well. The exception is a completed cas
 *   that did not apply: it saw "not what I expected", and without the write it might have seen
 *   exactly that. So a write stays if such a cas could come after it and expected a value the
 *   register could hold.
 *
 * - Values nothing reads are all renamed to one, UNREAD: no step can tell them apart, since a step
 *   only compares the state with values reads returned and cas expected. States that differed only
 *   there then coincide in the memo, and open writes of them become interchangeable, which the
 *   search exploits (only the first unplaced of identical open operations is tried).
 */
export function reduceKeyHistory(ops: readonly KvOperation[]): KvOperation[] {
  const writers = new Map<Value, number>();
  const seen = new Set<Value>();
  const firstSeenBy = new Map<Value, number>();
  const refused: KvOperation[] = [];
  const sawAt = (value: Value, ret: number): void => {
    if (ret < (firstSeenBy.get(value) ?? Infinity)) firstSeenBy.set(value, ret);
  };
  for (const op of ops) {
    const { input, output, ret } = op;
    if (input.op === 'get') {
      if (output === undefined || !('value' in output)) continue;
      seen.add(output.value);
      sawAt(output.value, ret);
    } else if (input.op === 'put' || input.op === 'cas') {
      writers.set(input.value, (writers.get(input.value) ?? 0) + 1);
      if (input.op !== 'cas') continue;
      seen.add(input.expected);
      const applied = output !== undefined && 'ok' in output && output.ok;
      if (applied) sawAt(input.expected, ret);
      else if (ret !== Infinity) refused.push(op);
    }
  }
  let lastRefusal = -Infinity;
  for (const { input, ret } of refused) {
    if (input.op === 'cas' && (input.expected === null || writers.has(input.expected))) lastRefusal = Math.max(lastRefusal, ret);
  }

  const blind = !seen.has(UNREAD);
  const result: KvOperation[] = [];
  for (const op of ops) {
    const written = op.input.op === 'get' ? undefined : op.input.op === 'delete' ? null : op.input.value;
    if (written === undefined) {
      result.push(op);
      continue;
    }
    const deadline = firstSeenBy.get(written);
    if (op.ret === Infinity && written !== null && writers.get(written) === 1 && deadline !== undefined) {
      result.push({ ...op, ret: Math.max(op.call, deadline) });
    } else if (op.ret === Infinity && !seen.has(written) && op.call > lastRefusal) {
      continue;
    } else if (blind && written !== null && !seen.has(written) && (op.input.op === 'put' || op.input.op === 'cas')) {
      result.push({ ...op, input: { ...op.input, value: UNREAD } });
    } else {
      result.push(op);
    }
  }
  return result;
}
