// The sequential specification a history is checked against: what each operation does to the
// state and whether the output it returned fits, plus the hooks that make checking it cheap
// (partitioning, state hashing) and a violation readable.

import type { Operation } from './history.ts';

export interface StepResult<State> {
  readonly ok: boolean;
  readonly state: State;
}

/** Whether two states are interchangeable for everything that can follow, given equal hashes. */
export type StateEquality<State> = (a: State, b: State) => boolean;

/** States are immutable values: `step` returns a new one rather than changing its argument. */
export interface Model<State, Input, Output> {
  init(): State;
  /** Applies `input`; ok says whether `output` is what it returns. An undefined output is unknown: it always fits. */
  step(state: State, input: Input, output: Output | undefined): StepResult<State>;
  /**
   * Splits a history into parts that are linearizable together exactly when each one is (e.g. per
   * key). A part may also be rewritten into an equivalent, cheaper-to-check form.
   */
  partition?(ops: readonly Operation<Input, Output>[]): readonly (readonly Operation<Input, Output>[])[];
  /** Defaults to JSON.stringify. Must be injective unless `equal` tells apart states that share a hash. */
  hash?(state: State): string;
  equal?: StateEquality<State>;
  describeOperation?(input: Input, output: Output | undefined): string;
  describeState?(state: State): string;
}

/** The default state hash and description: JSON, which is injective for plain data. */
export function jsonHash(state: unknown): string {
  return String(JSON.stringify(state));
}
