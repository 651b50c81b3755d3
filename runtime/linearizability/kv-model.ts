// The sequential specification of a key-value store of string registers (get, put, compare-and-set,
// delete), partitioned per key: keys are independent registers, so a history of thousands of
// operations is checked as many small searches, each over a history reduced as kv-reduce.ts says.

import { UltraError } from '../errors.ts';
import type { Model } from './model.ts';
import type { Operation } from './history.ts';
import { reduceKeyHistory, UNREAD } from './kv-reduce.ts';

export type KvInput =
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  /** `expected: null` means "only if the key is absent". */
  | { readonly op: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string }
  | { readonly op: 'delete'; readonly key: string };

/** get returns `{ value }` (null when absent), cas returns `{ ok }`, put and delete return `{}`. */
export type KvOutput = { readonly value: string | null } | { readonly ok: boolean } | Readonly<Record<string, never>>;

export type KvOperation = Operation<KvInput, KvOutput>;

/** The value of the partition's one key; null when absent. */
export type KvState = string | null;

export const kvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => null,

  step(state, input, output) {
    switch (input.op) {
      case 'get':
        return { ok: output === undefined || ('value' in output && output.value === state), state };
      case 'put':
        return { ok: true, state: input.value };
      case 'delete':
        return { ok: true, state: null };
      case 'cas': {
        const applies = state === input.expected;
        const after = applies ? input.value : state;
        return { ok: output === undefined || ('ok' in output && output.ok === applies), state: after };
      }
    }
  },

  partition(ops) {
    const byKey = new Map<string, KvOperation[]>();
    for (const op of ops) {
      validate(op);
      // A read whose answer never arrived constrains nothing.
      if (op.input.op === 'get' && op.output === undefined) continue;
      const group = byKey.get(op.input.key);
      if (group === undefined) byKey.set(op.input.key, [op]);
      else group.push(op);
    }
    return Array.from(byKey.values(), reduceKeyHistory);
  },

  describeOperation(input, output) {
    const key = JSON.stringify(input.key);
    const result = output === undefined ? ' -> ?' : 'value' in output ? ` -> ${show(output.value)}` : 'ok' in output ? ` -> ${output.ok}` : '';
    switch (input.op) {
      case 'get':
        return `get(${key})${result}`;
      case 'put':
        return `put(${key}, ${show(input.value)})${result}`;
      case 'delete':
        return `delete(${key})${result}`;
      case 'cas':
        return `cas(${key}, ${show(input.expected)} -> ${show(input.value)})${result}`;
    }
  },

  describeState: show,
};

function show(value: string | null): string {
  return value === UNREAD ? '(a value never read)' : JSON.stringify(value);
}

function validate(op: KvOperation): void {
  if (op.output === undefined) return;
  const wellFormed =
    op.input.op === 'get'
      ? 'value' in op.output && (op.output.value === null || typeof op.output.value === 'string')
      : op.input.op !== 'cas' || ('ok' in op.output && typeof op.output.ok === 'boolean');
  if (!wellFormed) {
    throw new UltraError('InvalidArgument', `malformed ${op.input.op} output: ${JSON.stringify(op.output)}`, {
      clientId: op.clientId,
    });
  }
}
