// etcd's key and range semantics over byte keys: unsigned byte order, the internal string form of
// a key, and what a (key, range_end) pair selects.
//
// Keys are held internally as "key strings": one UTF-16 code unit per byte (latin1). Comparing two
// such strings with < compares code units 0..255 in order, which is exactly unsigned byte order
// (shorter prefix first), so sorted arrays and Maps of keys need no custom comparator.

import { Buffer } from 'node:buffer';

/** Unsigned lexicographic order of byte strings, like Go's bytes.Compare: -1, 0 or 1. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** The internal string form of a key (latin1: one code unit per byte). */
export function toKeyString(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

export function fromKeyString(key: string): Uint8Array {
  return new Uint8Array(Buffer.from(key, 'latin1'));
}

/**
 * The range_end that selects every key starting with `prefix` (etcd clientv3's GetPrefixRangeEnd):
 * the prefix with its last byte below 0xff incremented and the rest dropped; "\0" (every key) when
 * the prefix is empty or all 0xff.
 */
export function prefixRangeEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const byte = prefix[i]!;
    if (byte < 0xff) {
      // A copy, never a view: the caller's prefix (maybe a Buffer, whose slice() is a view) stays intact.
      const end = new Uint8Array(prefix.subarray(0, i + 1));
      end[i] = byte + 1;
      return end;
    }
  }
  return new Uint8Array([0]);
}

/**
 * What a (key, range_end) pair selects, in key strings: `[from, to)`, where `to === undefined` is
 * unbounded. etcd's rules: an empty range_end is the single key; range_end "\0" is every key >= key;
 * otherwise the half-open interval, empty when range_end <= key.
 */
export interface KeyBounds {
  readonly from: string;
  readonly to: string | undefined;
  /** True when the pair names exactly one key (range_end empty). */
  readonly single: boolean;
}

export function keyBounds(key: Uint8Array, rangeEnd: Uint8Array | undefined | null): KeyBounds {
  const from = toKeyString(key);
  if (rangeEnd == null || rangeEnd.length === 0) return { from, to: `${from}\0`, single: true };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { from, to: undefined, single: false };
  return { from, to: toKeyString(rangeEnd), single: false };
}

export function boundsContain(bounds: KeyBounds, key: string): boolean {
  return key >= bounds.from && (bounds.to === undefined || key < bounds.to);
}
