// The search for one partition: Wing & Gong's depth-first search over orders consistent with real
// time, pruned by Lowe's memo of explored configurations (as in Porcupine), plus the rules that
// keep open-ended operations from multiplying the work. Counts its steps against a budget.

import type { Operation } from './history.ts';
import { LinearizationMemo } from './memo.ts';
import type { Configuration } from './memo.ts';
import { jsonHash } from './model.ts';
import type { Model } from './model.ts';

export type SearchResult<State> =
  | { readonly kind: 'ok' | 'unknown'; readonly steps: number }
  | {
      readonly kind: 'illegal';
      readonly steps: number;
      readonly linearized: readonly number[];
      readonly state: State;
      readonly stuck: number;
    };

const NONE = -1;

interface Frame<State> {
  readonly op: number;
  readonly stateBefore: State;
  readonly keyBefore: string;
  readonly configuration: Configuration<State>;
  /** For an open operation: where the scan of open candidates resumes after it, and whose return bounds it. */
  readonly openCursor: number;
  readonly due: number;
}

/**
 * Entries are the calls and returns of the completed operations on one time line: entry 2i is
 * operation i's call, 2i+1 its return. They form a doubly linked list from which a placed
 * operation's pair is lifted and, on backtracking, relinked (dancing links), so the list always
 * holds exactly the operations still to place. The candidates at each point are the calls before
 * the first return; when none fits, that return's operation can no longer take effect in time and
 * the search backtracks.
 *
 * Open-ended operations (ret = Infinity) may take effect at any point after their call, or never.
 * Kept in the list they would never leave it, and they multiply the work a violation takes to
 * prove, so they are handled apart:
 * - they are candidates once invoked before the first return, tried only after every completed
 *   candidate failed, so the memo has mostly seen the branches without them when it meets those
 *   with them (see memo.ts for how it prunes the latter);
 * - of identical ones (same input and output) only the first unplaced is tried: the earliest
 *   invoked can stand in for any other;
 * - placing one that changes nothing is skipped, and so is placing anything right after one that
 *   yields the state it would have yielded without it: a sibling branch covers both.
 */
export function searchPartition<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: readonly Operation<Input, Output>[],
  budget: number,
): SearchResult<State> {
  const n = ops.length;
  const open = ops.map((op) => op.ret === Infinity);
  const head = 2 * n;
  const next = new Int32Array(2 * n + 1);
  const prev = new Int32Array(2 * n + 1);
  const timeOf = (e: number): number => (e & 1 ? ops[e >> 1]!.ret : ops[e >> 1]!.call);
  const entries: number[] = [];
  const openOps: number[] = [];
  ops.forEach((_, op) => (open[op] ? openOps.push(op) : entries.push(2 * op, 2 * op + 1)));
  // On equal times calls go first, so operations that merely touch count as concurrent: a coarse
  // clock must not manufacture an ordering the system never promised.
  entries.sort((a, b) => timeOf(a) - timeOf(b) || (a & 1) - (b & 1) || a - b);
  openOps.sort((a, b) => ops[a]!.call - ops[b]!.call || a - b);
  const twinBefore = new Int32Array(n).fill(NONE);
  const lastOfKind = new Map<string, number>();
  for (const op of openOps) {
    const kind = JSON.stringify([ops[op]!.input, ops[op]!.output]);
    twinBefore[op] = lastOfKind.get(kind) ?? NONE;
    lastOfKind.set(kind, op);
  }
  let last = head;
  for (const e of entries) {
    next[last] = e;
    prev[e] = last;
    last = e;
  }
  next[last] = NONE;

  const lift = (call: number): void => {
    const ret = call + 1;
    next[prev[call]!] = next[call]!;
    prev[next[call]!] = prev[call]!;
    next[prev[ret]!] = next[ret]!;
    if (next[ret] !== NONE) prev[next[ret]!] = prev[ret]!;
  };
  const unlift = (call: number): void => {
    const ret = call + 1;
    next[prev[ret]!] = ret;
    if (next[ret] !== NONE) prev[next[ret]!] = ret;
    next[prev[call]!] = call;
    prev[next[call]!] = call;
  };

  const hash = model.hash ?? jsonHash;
  const memo = new LinearizationMemo<State>(open, model.equal);
  const placedOpen = new Uint8Array(n);
  const path: Frame<State>[] = [];
  let state = model.init();
  let key = hash(state);
  let deepest: { linearized: number[]; state: State; stuck: number } | undefined;
  let steps = 0;
  // The scan is either over completed candidates (openCursor < 0, at `entry`) or, once it reached
  // the return of `due`, over open ones (at openOps[openCursor]).
  let entry = next[head]!;
  let openCursor = -1;
  let due = NONE;

  const same = (aKey: string, a: State, bKey: string, b: State): boolean =>
    aKey === bKey && (model.equal === undefined || model.equal(a, b));
  const redundant = (op: number, newKey: string, newState: State): boolean => {
    if (open[op] && same(newKey, newState, key, state)) return true;
    const top = path[path.length - 1];
    if (top === undefined || !open[top.op]) return false;
    const { input, output } = ops[op]!;
    const without = model.step(top.stateBefore, input, output);
    return without.ok && same(newKey, newState, hash(without.state), without.state);
  };
  const place = (op: number): boolean => {
    const { input, output } = ops[op]!;
    const stepped = model.step(state, input, output);
    if (!stepped.ok) return false;
    const newKey = hash(stepped.state);
    memo.toggle(op);
    const configuration = redundant(op, newKey, stepped.state) ? undefined : memo.visit(newKey, stepped.state);
    if (configuration === undefined) {
      memo.toggle(op);
      return false;
    }
    path.push({ op, stateBefore: state, keyBefore: key, configuration, openCursor, due });
    state = stepped.state;
    key = newKey;
    if (open[op]) placedOpen[op] = 1;
    else lift(2 * op);
    entry = next[head]!;
    openCursor = -1;
    return true;
  };

  for (;;) {
    if (openCursor < 0 && entry === NONE) return { kind: 'ok', steps };
    if (steps >= budget) return { kind: 'unknown', steps };
    steps++;
    if (openCursor < 0) {
      if ((entry & 1) === 0) {
        if (!place(entry >> 1)) entry = next[entry]!;
        continue;
      }
      due = entry >> 1;
      if (openOps.length > 0) {
        openCursor = 0;
        continue;
      }
    } else {
      const candidate = openOps[openCursor];
      if (candidate !== undefined && ops[candidate]!.call <= ops[due]!.ret) {
        openCursor++;
        const twin = twinBefore[candidate]!;
        if (placedOpen[candidate] === 0 && (twin === NONE || placedOpen[twin] === 1)) place(candidate);
        continue;
      }
    }
    // No candidate fits here: `due` must have taken effect by now and cannot, so backtrack.
    if (deepest === undefined || path.length > deepest.linearized.length) {
      deepest = { linearized: path.map((frame) => frame.op), state, stuck: due };
    }
    const undo = path.pop();
    if (undo === undefined) return { kind: 'illegal', steps, ...deepest };
    undo.configuration.exhausted = true;
    state = undo.stateBefore;
    key = undo.keyBefore;
    memo.toggle(undo.op);
    if (open[undo.op]) {
      placedOpen[undo.op] = 0;
      openCursor = undo.openCursor;
      due = undo.due;
    } else {
      unlift(2 * undo.op);
      entry = next[2 * undo.op]!;
      openCursor = -1;
    }
  }
}
