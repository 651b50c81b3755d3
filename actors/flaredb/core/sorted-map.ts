// An ordered map from string keys (JavaScript string order) to values: what a region and the
// eventual store keep their keys in, for point reads, ordered range scans and cutting a region in
// two at a split. A sorted key array next to a hash map: lookups are O(1), a new key costs a binary
// search and a memmove of the tail — cheap because regions are split before they grow large.

import { lowerBound } from '../../../runtime/collections/lower-bound.ts';

export class SortedMap<V> {
  #keys: string[] = [];
  #values = new Map<string, V>();

  get size(): number {
    return this.#keys.length;
  }

  get(key: string): V | undefined {
    return this.#values.get(key);
  }

  has(key: string): boolean {
    return this.#values.has(key);
  }

  set(key: string, value: V): void {
    if (!this.#values.has(key)) {
      const last = this.#keys[this.#keys.length - 1];
      // Appending in order (bulk loads, monotonic ids) skips the search.
      if (last === undefined || last < key) this.#keys.push(key);
      else this.#keys.splice(lowerBound(this.#keys, key), 0, key);
    }
    this.#values.set(key, value);
  }

  delete(key: string): boolean {
    if (!this.#values.delete(key)) return false;
    this.#keys.splice(lowerBound(this.#keys, key), 1);
    return true;
  }

  /** Entries with from <= key < to (to undefined: no upper bound), ascending, at most `limit`. */
  *range(from: string, to: string | undefined, limit = Infinity): Generator<[string, V]> {
    let count = 0;
    for (let i = lowerBound(this.#keys, from); i < this.#keys.length && count < limit; i++, count++) {
      const key = this.#keys[i]!;
      if (to !== undefined && key >= to) return;
      yield [key, this.#values.get(key)!];
    }
  }

  /** How many keys lie in [from, to). */
  countRange(from: string, to: string | undefined): number {
    const hi = to === undefined ? this.#keys.length : lowerBound(this.#keys, to);
    return Math.max(0, hi - lowerBound(this.#keys, from));
  }

  /** The key at position `index` in order (for picking a split key). */
  keyAt(index: number): string | undefined {
    return this.#keys[index];
  }

  /** Removes and returns every entry with key >= `from` (a split hands them to the new region). */
  splitOff(from: string): SortedMap<V> {
    const at = lowerBound(this.#keys, from);
    const right = new SortedMap<V>();
    const moved = this.#keys.slice(at);
    this.#keys = this.#keys.slice(0, at);
    for (const key of moved) {
      right.#keys.push(key);
      right.#values.set(key, this.#values.get(key)!);
      this.#values.delete(key);
    }
    return right;
  }

  *entries(): Generator<[string, V]> {
    for (const key of this.#keys) yield [key, this.#values.get(key)!];
  }
}
