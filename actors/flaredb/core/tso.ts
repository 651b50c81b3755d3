// Timestamps in TSO form, physical milliseconds << 16 | a 16-bit logical counter (as TiKV's PD),
// as bigints (the value exceeds 2^53). The placement driver's leader issues them; the oracle below
// keeps them strictly increasing across leader changes the way PD does: a leader issues only below
// a high-water mark it has saved through Raft ahead of time, and a new leader starts above every
// mark saved before its own first save.

export const LOGICAL_BITS = 16n;
const LOGICAL_LIMIT = 1 << 16;
/** How far ahead of the clock a leader saves its high-water mark. */
export const TSO_SAVE_WINDOW_MS = 3_000;
/** Most timestamps one request may take. */
export const MAX_TSO_BATCH = 4096;

export function composeTs(physicalMs: number, logical: number): bigint {
  return (BigInt(physicalMs) << LOGICAL_BITS) | BigInt(logical);
}

export function physicalOf(ts: bigint): number {
  return Number(ts >> LOGICAL_BITS);
}

export function logicalOf(ts: bigint): number {
  return Number(ts & ((1n << LOGICAL_BITS) - 1n));
}

/**
 * The leader's side of the oracle, pure (the caller passes the clock and runs the saves through
 * Raft). Per term: nothing is issued until a save proposed in that term has been applied; its
 * result tells the limit saved before it, above which the new term starts.
 */
export class TimestampOracle {
  #term = -1;
  #ready = false;
  #saving = false;
  #physical = 0;
  #logical = 0;
  /** The saved high-water mark this term may issue below (exclusive). */
  #limit = 0;

  get term(): number {
    return this.#term;
  }

  /** Leadership (re)gained or lost: start over in `term`. */
  reset(term: number): void {
    this.#term = term;
    this.#ready = false;
    this.#saving = false;
    this.#limit = 0;
  }

  /** A limit to propose now, if one is due and none is in flight; the caller proposes it and calls saveFailed if that fails. */
  dueSave(nowMs: number): number | undefined {
    if (this.#saving) return undefined;
    const base = Math.max(nowMs, this.#physical);
    if (this.#ready && base + TSO_SAVE_WINDOW_MS / 3 < this.#limit) return undefined;
    this.#saving = true;
    return base + TSO_SAVE_WINDOW_MS;
  }

  saveFailed(): void {
    this.#saving = false;
  }

  /**
   * A save proposed in `term` was applied: `previous` was the mark before it, `limit` is the mark
   * now. The first one of a term lifts the clock above `previous`, so nothing issued by an earlier
   * leader (always below its own saved mark) can be reached again.
   */
  saved(term: number, previous: number, limit: number): void {
    if (term !== this.#term) return;
    this.#saving = false;
    if (!this.#ready) {
      if (previous > this.#physical) {
        this.#physical = previous;
        this.#logical = 0;
      }
      this.#ready = true;
    }
    this.#limit = Math.max(this.#limit, limit);
  }

  /** The first of `count` consecutive timestamps, or undefined until a save makes room. */
  issue(nowMs: number, count: number): bigint | undefined {
    if (!this.#ready) return undefined;
    if (nowMs > this.#physical) {
      this.#physical = nowMs;
      this.#logical = 0;
    }
    if (this.#logical + count > LOGICAL_LIMIT) {
      this.#physical += 1;
      this.#logical = 0;
    }
    if (this.#physical >= this.#limit) return undefined;
    const ts = composeTs(this.#physical, this.#logical);
    this.#logical += count;
    return ts;
  }
}

/**
 * A hybrid logical clock in TSO form for eventual namespaces' last-writer-wins: each store stamps
 * its writes with max(clock, last + 1) and moves past every timestamp it receives, so a write that
 * follows another it has seen (on any store) always wins over it.
 */
export class HybridClock {
  #last = 0n;

  now(physicalMs: number): bigint {
    const wall = composeTs(physicalMs, 0);
    this.#last = wall > this.#last ? wall : this.#last + 1n;
    return this.#last;
  }

  observe(ts: bigint): void {
    if (ts > this.#last) this.#last = ts;
  }
}
