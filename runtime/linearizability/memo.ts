// The search's memory, Lowe's just-in-time linearization cache: which operations the current path
// has placed, and every configuration (operations placed, model state) already entered. Two paths
// that reach the same configuration have the same futures, so the second is pruned; this is what
// turns Wing & Gong's factorial search into one that is usually near-linear.
//
// Open-ended operations (ret = Infinity) may be placed or not, so a configuration that used fewer of
// them has every future one that used more has. The memo therefore keys on the completed operations
// and the state, keeps the set of open ones used, and also prunes a configuration that a finished
// one with a subset of its open operations covers. Without that, each indeterminate operation
// doubles the space a violation has to exhaust.

import type { StateEquality } from './model.ts';

export interface Configuration<State> {
  readonly placed: Uint32Array;
  readonly openPlaced: Uint32Array;
  readonly state: State;
  /** Set once every continuation has been tried and failed; until then it is on the search path. */
  exhausted: boolean;
}

export class LinearizationMemo<State> {
  readonly #open: readonly boolean[];
  readonly #slot: Int32Array;
  readonly #placed: Uint32Array;
  readonly #openPlaced: Uint32Array;
  // The placed set's 64-bit hash is kept up to date on every toggle, so a lookup does not rescan the
  // bitset; full bitsets are compared only within a matching bucket.
  #hashLow = 0;
  #hashHigh = 0;
  readonly #seen = new Map<string, Configuration<State>[]>();
  readonly #equal: StateEquality<State> | undefined;

  /** `open[i]` says whether operation i is open-ended; `equal` is needed only for a coarse state hash. */
  constructor(open: readonly boolean[], equal: StateEquality<State> | undefined) {
    this.#open = open;
    this.#slot = new Int32Array(open.length);
    let completed = 0;
    let openEnded = 0;
    open.forEach((isOpen, op) => {
      this.#slot[op] = isOpen ? openEnded++ : completed++;
    });
    this.#placed = new Uint32Array(Math.ceil(completed / 32));
    this.#openPlaced = new Uint32Array(Math.ceil(openEnded / 32));
    this.#equal = equal;
  }

  /** Places `op` on the current path, or takes it back off. */
  toggle(op: number): void {
    const slot = this.#slot[op]!;
    const bits = this.#open[op] ? this.#openPlaced : this.#placed;
    bits[slot >>> 5] = bits[slot >>> 5]! ^ (1 << (slot & 31));
    if (this.#open[op]) return;
    this.#hashLow ^= mix(op, 0x9e3779b9);
    this.#hashHigh ^= mix(op, 0x85ebca6b);
  }

  /**
   * Records the current placed set reached in `state` (whose hash is `stateKey`), or returns
   * undefined when a configuration entered before makes it pointless to explore.
   */
  visit(stateKey: string, state: State): Configuration<State> | undefined {
    const key = `${this.#hashLow}:${this.#hashHigh}:${stateKey}`;
    let bucket = this.#seen.get(key);
    if (bucket === undefined) {
      bucket = [];
      this.#seen.set(key, bucket);
    }
    for (const seen of bucket) {
      // The current path only grows its placed sets, so an equal configuration is never an
      // ancestor still being explored: whatever matches here has been exhausted.
      if (
        seen.exhausted &&
        isSubset(seen.openPlaced, this.#openPlaced) &&
        equalWords(seen.placed, this.#placed) &&
        (this.#equal === undefined || this.#equal(seen.state, state))
      ) {
        return undefined;
      }
    }
    const configuration = { placed: this.#placed.slice(), openPlaced: this.#openPlaced.slice(), state, exhausted: false };
    bucket.push(configuration);
    return configuration;
  }
}

function equalWords(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isSubset(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if ((a[i]! & ~b[i]!) !== 0) return false;
  return true;
}

/** murmur3's 32-bit finalizer: spreads consecutive operation indices over the whole word. */
function mix(value: number, seed: number): number {
  let h = Math.imul(value + 1, seed) ^ seed;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
