// Decides whether a concurrent history is linearizable against a sequential model, partition by
// partition, and explains a violation. Pure and deterministic: its budget is counted in search
// steps, never in time.

import { UltraError } from '../errors.ts';
import type { Operation } from './history.ts';
import { jsonHash } from './model.ts';
import type { Model } from './model.ts';
import { searchPartition } from './search.ts';

export interface CheckOptions {
  /** Search steps allowed across all partitions before giving up with 'unknown'; unbounded by default. */
  readonly maxSteps?: number;
}

interface Outcome {
  /** How many partitions the history split into. */
  readonly partitions: number;
  /** Search steps spent. */
  readonly steps: number;
}

export interface OkResult extends Outcome {
  readonly result: 'ok';
}

export interface UnknownResult extends Outcome {
  readonly result: 'unknown';
  /** The partition being searched when the budget ran out; those before it were linearizable, those after it unchecked. */
  readonly partition: number;
}

export interface IllegalResult<State, Input, Output> extends Outcome {
  readonly result: 'illegal';
  /** Index of the first partition with no linearization; those before it were linearizable. */
  readonly partition: number;
  /** That partition's operations as the model's `partition` returned them, possibly rewritten into an equivalent form. */
  readonly operations: readonly Operation<Input, Output>[];
  /** The longest order the search could build, in linearization order. */
  readonly linearized: readonly Operation<Input, Output>[];
  /** The state after `linearized`. */
  readonly state: State;
  /** The operation whose return then came due without any way to linearize it. */
  readonly stuck: Operation<Input, Output>;
  readonly explanation: string;
}

export type CheckResult<State, Input, Output> = OkResult | UnknownResult | IllegalResult<State, Input, Output>;

export function checkOperations<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: readonly Operation<Input, Output>[],
  options: CheckOptions = {},
): CheckResult<State, Input, Output> {
  const maxSteps = options.maxSteps ?? Infinity;
  if (!(maxSteps >= 0) || (Number.isFinite(maxSteps) && !Number.isInteger(maxSteps))) {
    throw new UltraError('InvalidArgument', `maxSteps must be a non-negative integer, got ${maxSteps}`);
  }
  for (const op of ops) {
    if (!Number.isFinite(op.call) || !(op.ret >= op.call)) {
      throw new UltraError('InvalidArgument', `operation [${op.call}, ${op.ret}] needs a finite call and a return no earlier`, {
        clientId: op.clientId,
      });
    }
  }
  const parts = model.partition ? model.partition(ops) : [ops];
  let steps = 0;
  for (let partition = 0; partition < parts.length; partition++) {
    const part = parts[partition]!;
    const found = searchPartition(model, part, maxSteps - steps);
    steps += found.steps;
    if (found.kind === 'unknown') return { result: 'unknown', partitions: parts.length, steps, partition };
    if (found.kind === 'illegal') {
      const linearized = found.linearized.map((i) => part[i]!);
      const stuck = part[found.stuck]!;
      return {
        result: 'illegal',
        partitions: parts.length,
        steps,
        partition,
        operations: part,
        linearized,
        state: found.state,
        stuck,
        explanation: explain(model, partition, linearized, found.state, stuck),
      };
    }
  }
  return { result: 'ok', partitions: parts.length, steps };
}

function explain<State, Input, Output>(
  model: Model<State, Input, Output>,
  partition: number,
  linearized: readonly Operation<Input, Output>[],
  state: State,
  stuck: Operation<Input, Output>,
): string {
  const describeOp = (op: Operation<Input, Output>): string => {
    const what = model.describeOperation
      ? model.describeOperation(op.input, op.output)
      : `${JSON.stringify(op.input)} -> ${op.output === undefined ? '?' : JSON.stringify(op.output)}`;
    return `client ${op.clientId} ${what} [${op.call}, ${op.ret}]`;
  };
  const describeState = model.describeState ?? jsonHash;
  const recent = linearized.slice(-3).map(describeOp);
  const after =
    linearized.length === 0
      ? 'from the initial state'
      : `after ${linearized.length} operation(s) ending ${recent.join('; ')}`;
  return (
    `partition ${partition} is not linearizable: ${describeOp(stuck)} cannot take effect ` +
    `${after}, in state ${describeState(state)}`
  );
}
