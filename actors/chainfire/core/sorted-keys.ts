// The ordered set of key strings the store holds history for: what lets Range walk [from, to) in
// unsigned byte order (see key-range.ts) without sorting on every read.

import { lowerBound } from '../../../runtime/collections/lower-bound.ts';
import type { KeyBounds } from './key-range.ts';

export class SortedKeys {
  // A sorted array: inserting a new key moves the tail, which stays cheap at coordination-store
  // sizes, and a range read is a binary search plus a contiguous slice.
  #keys: string[] = [];

  add(key: string): void {
    const at = lowerBound(this.#keys, key);
    if (this.#keys[at] !== key) this.#keys.splice(at, 0, key);
  }

  /** Removes many keys in one pass (compaction may drop a large share of them). */
  deleteAll(keys: ReadonlySet<string>): void {
    if (keys.size > 0) this.#keys = this.#keys.filter((k) => !keys.has(k));
  }

  /** The keys within `bounds`, ascending, as a copy: callers may add keys while walking it. */
  within(bounds: KeyBounds): string[] {
    const from = lowerBound(this.#keys, bounds.from);
    const to = bounds.to === undefined ? this.#keys.length : lowerBound(this.#keys, bounds.to);
    return from < to ? this.#keys.slice(from, to) : [];
  }

  values(): readonly string[] {
    return this.#keys;
  }
}
