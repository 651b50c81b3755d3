// The ordered set of key strings the store holds history for: what lets Range walk [from, to) in
// unsigned byte order (see key-range.ts) without sorting on every read.

import type { KeyBounds } from './key-range.ts';

export class SortedKeys {
  // A sorted array: inserting a new key moves the tail, which stays cheap at coordination-store
  // sizes, and a range read is a binary search plus a contiguous slice.
  #keys: string[] = [];

  /** Index of the first key >= `key`. */
  #lowerBound(key: string): number {
    let lo = 0;
    let hi = this.#keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#keys[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  add(key: string): void {
    const at = this.#lowerBound(key);
    if (this.#keys[at] !== key) this.#keys.splice(at, 0, key);
  }

  /** Removes many keys in one pass (compaction may drop a large share of them). */
  deleteAll(keys: ReadonlySet<string>): void {
    if (keys.size > 0) this.#keys = this.#keys.filter((k) => !keys.has(k));
  }

  /** The keys within `bounds`, ascending, as a copy: callers may add keys while walking it. */
  within(bounds: KeyBounds): string[] {
    const from = this.#lowerBound(bounds.from);
    const to = bounds.to === undefined ? this.#keys.length : this.#lowerBound(bounds.to);
    return from < to ? this.#keys.slice(from, to) : [];
  }

  values(): readonly string[] {
    return this.#keys;
  }
}
