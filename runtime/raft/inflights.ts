// Flow control for pipelined replication: the append messages sent to one follower and not yet
// acknowledged, each remembered by its last entry index, bounded by maxInflightMessages.

import { assert } from '../errors.ts';

export class Inflights {
  readonly #capacity: number;
  /** Last entry index of each in-flight message, in send order (so ascending). */
  #lastIndexes: number[] = [];

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get count(): number {
    return this.#lastIndexes.length;
  }

  full(): boolean {
    return this.#lastIndexes.length >= this.#capacity;
  }

  add(lastIndex: number): void {
    assert(!this.full(), 'no room for another in-flight append');
    const previous = this.#lastIndexes.at(-1);
    assert(previous === undefined || lastIndex > previous, `in-flight index ${lastIndex} not after ${previous}`);
    this.#lastIndexes.push(lastIndex);
  }

  /** An acknowledgement up to `index` frees every message that ended at or before it. */
  freeLE(index: number): void {
    let freed = 0;
    while (freed < this.#lastIndexes.length && (this.#lastIndexes[freed] ?? Infinity) <= index) freed++;
    if (freed > 0) this.#lastIndexes = this.#lastIndexes.slice(freed);
  }

  /** A heartbeat response proves the follower is alive: let one more message out of a full window. */
  freeFirstOne(): void {
    this.#lastIndexes = this.#lastIndexes.slice(1);
  }

  reset(): void {
    this.#lastIndexes = [];
  }
}
