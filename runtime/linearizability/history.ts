// The history a linearizability check consumes: what clients asked for and what came back, with
// Jepsen's event semantics. `ok` completed with an output; `fail` definitely did not take effect,
// so it is dropped; `info` is indeterminate (the client gave up waiting) and, like an operation
// that never finished, stays open forever: it may have taken effect at any point after its invoke,
// or never.

import { UltraError } from '../errors.ts';

export type ClientId = string | number;

export type HistoryEvent<Input, Output> =
  | { readonly type: 'invoke'; readonly opId: number; readonly clientId: ClientId; readonly input: Input; readonly time: number }
  | { readonly type: 'ok'; readonly opId: number; readonly output: Output; readonly time: number }
  | { readonly type: 'fail'; readonly opId: number; readonly time: number }
  | { readonly type: 'info'; readonly opId: number; readonly time: number };

/**
 * One operation as the checker sees it. `output` is undefined exactly when the outcome is unknown
 * (`ret` is then Infinity): the model must accept any outcome and apply the operation's effect.
 */
export interface Operation<Input, Output> {
  readonly clientId: ClientId;
  readonly input: Input;
  readonly output: Output | undefined;
  readonly call: number;
  readonly ret: number;
}

interface OpenOperation<Input, Output> {
  readonly clientId: ClientId;
  readonly input: Input;
  readonly call: number;
  outcome: 'open' | 'ok' | 'fail' | 'info';
  output: Output | undefined;
  ret: number;
}

/**
 * Records a history as it happens. Times are whatever clock the caller uses (virtual ms, a counter);
 * equal times count as concurrent. Misuse throws at the call site, where the bug is.
 */
export class HistoryRecorder<Input, Output> {
  readonly #ops: OpenOperation<Input, Output>[] = [];
  readonly #events: HistoryEvent<Input, Output>[] = [];

  invoke(clientId: ClientId, input: Input, time: number): number {
    if (!Number.isFinite(time)) throw new UltraError('InvalidArgument', `invoke time must be finite, got ${time}`);
    const opId = this.#ops.length;
    this.#ops.push({ clientId, input, call: time, outcome: 'open', output: undefined, ret: Infinity });
    this.#events.push({ type: 'invoke', opId, clientId, input, time });
    return opId;
  }

  ok(opId: number, output: Output, time: number): void {
    const op = this.#complete(opId, 'ok', time);
    op.output = output;
    op.ret = time;
    this.#events.push({ type: 'ok', opId, output, time });
  }

  fail(opId: number, time: number): void {
    this.#complete(opId, 'fail', time);
    this.#events.push({ type: 'fail', opId, time });
  }

  info(opId: number, time: number): void {
    this.#complete(opId, 'info', time);
    this.#events.push({ type: 'info', opId, time });
  }

  /** The raw event log, in recording order: what to dump when a check fails. */
  events(): readonly HistoryEvent<Input, Output>[] {
    return this.#events.slice();
  }

  /** Operations in invoke order, failed ones left out; indeterminate and unfinished ones never return. */
  operations(): Operation<Input, Output>[] {
    const result: Operation<Input, Output>[] = [];
    for (const op of this.#ops) {
      if (op.outcome === 'fail') continue;
      result.push({ clientId: op.clientId, input: op.input, output: op.output, call: op.call, ret: op.ret });
    }
    return result;
  }

  #complete(opId: number, outcome: 'ok' | 'fail' | 'info', time: number): OpenOperation<Input, Output> {
    const op = this.#ops[opId];
    if (op === undefined) throw new UltraError('NotFound', `no operation ${opId} was invoked`);
    if (op.outcome !== 'open') {
      throw new UltraError('FailedPrecondition', `operation ${opId} already completed (${op.outcome})`);
    }
    if (!Number.isFinite(time) || time < op.call) {
      throw new UltraError('InvalidArgument', `operation ${opId} completes at ${time}, before its invoke at ${op.call}`);
    }
    op.outcome = outcome;
    return op;
  }
}

/** Rebuilds operations from a dumped event log (event opIds need only be unique within the log). */
export function operationsFromEvents<Input, Output>(
  events: readonly HistoryEvent<Input, Output>[],
): Operation<Input, Output>[] {
  const recorder = new HistoryRecorder<Input, Output>();
  const ids = new Map<number, number>();
  const idOf = (opId: number): number => {
    const id = ids.get(opId);
    if (id === undefined) throw new UltraError('NotFound', `event for operation ${opId} precedes its invoke`);
    return id;
  };
  for (const event of events) {
    switch (event.type) {
      case 'invoke':
        if (ids.has(event.opId)) throw new UltraError('AlreadyExists', `operation ${event.opId} invoked twice`);
        ids.set(event.opId, recorder.invoke(event.clientId, event.input, event.time));
        break;
      case 'ok':
        recorder.ok(idOf(event.opId), event.output, event.time);
        break;
      case 'fail':
        recorder.fail(idOf(event.opId), event.time);
        break;
      case 'info':
        recorder.info(idOf(event.opId), event.time);
        break;
    }
  }
  return recorder.operations();
}
