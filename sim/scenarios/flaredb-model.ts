// The sequential specification of flaredb's strong namespaces for the linearizability checker: per
// key, a versioned register. Versions start at 1 and grow by one per write; a delete makes the key
// absent (version 0); compare-and-swap writes only at the expected version (0 = absent) and, like
// delete, answers with the version it found (or the new one). Keys are independent, so a history is
// checked key by key.
import type { Model, Operation } from '../../runtime/linearizability/index.ts';

export type VersionedInput =
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'cas'; readonly key: string; readonly expected: number; readonly value: string }
  | { readonly op: 'delete'; readonly key: string; readonly expected: number | null };

export type VersionedOutput =
  | { readonly value: string | null; readonly version: number }
  | { readonly succeeded: boolean; readonly version: number };

export interface VersionedState {
  readonly value: string | null;
  readonly version: number;
}

const ABSENT: VersionedState = { value: null, version: 0 };

export const versionedKvModel: Model<VersionedState, VersionedInput, VersionedOutput> = {
  init: () => ABSENT,

  step(state, input, output) {
    switch (input.op) {
      case 'get':
        return { ok: output === undefined || ('value' in output && output.value === state.value && output.version === state.version), state };
      case 'cas': {
        const applies = state.version === input.expected;
        const next = applies ? { value: input.value, version: state.version + 1 } : state;
        return { ok: output === undefined || ('succeeded' in output && output.succeeded === applies && output.version === next.version), state: next };
      }
      case 'delete': {
        const applies = state.version > 0 && (input.expected === null || input.expected === state.version);
        return { ok: output === undefined || ('succeeded' in output && output.succeeded === applies && output.version === state.version), state: applies ? ABSENT : state };
      }
    }
  },

  partition(ops) {
    const byKey = new Map<string, Operation<VersionedInput, VersionedOutput>[]>();
    for (const op of ops) {
      // A read whose answer never arrived constrains nothing.
      if (op.input.op === 'get' && op.output === undefined) continue;
      const group = byKey.get(op.input.key);
      if (group === undefined) byKey.set(op.input.key, [op]);
      else group.push(op);
    }
    return [...byKey.values()];
  },

  hash: (state) => `${state.version}:${state.value ?? ''}`,

  describeOperation(input, output) {
    const result = output === undefined ? ' -> ?' : 'value' in output ? ` -> ${JSON.stringify(output.value)}@${output.version}` : ` -> ${output.succeeded ? 'ok' : 'failed'}@${output.version}`;
    switch (input.op) {
      case 'get':
        return `get(${input.key})${result}`;
      case 'cas':
        return `cas(${input.key}, @${input.expected} -> ${JSON.stringify(input.value)})${result}`;
      case 'delete':
        return `delete(${input.key}${input.expected === null ? '' : `, @${input.expected}`})${result}`;
    }
  },

  describeState: (state) => `${JSON.stringify(state.value)}@${state.version}`,
};
