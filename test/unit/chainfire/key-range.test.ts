// Byte-key order and etcd's (key, range_end) rules.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  boundsContain,
  compareBytes,
  fromKeyString,
  keyBounds,
  prefixRangeEnd,
  toKeyString,
} from '../../../actors/chainfire/core/key-range.ts';

const key = fc.uint8Array({ maxLength: 8 });

describe('key order', () => {
  it('compareBytes is unsigned lexicographic order, and key strings compare the same way', () => {
    fc.assert(
      fc.property(key, key, (x, y) => {
        const expected = Math.sign(Buffer.compare(Buffer.from(x), Buffer.from(y)));
        expect(compareBytes(x, y)).toBe(expected);
        const [sx, sy] = [toKeyString(x), toKeyString(y)];
        expect(Math.sign(sx < sy ? -1 : sx > sy ? 1 : 0)).toBe(expected);
        expect(fromKeyString(sx)).toEqual(x);
      }),
      { numRuns: 500 },
    );
    expect(compareBytes(new Uint8Array([0x80]), new Uint8Array([0x7f]))).toBe(1);
  });
});

describe('key ranges', () => {
  it('an empty range_end selects exactly the key; "\\0" every key from it on', () => {
    fc.assert(
      fc.property(key, key, (k, other) => {
        fc.pre(k.length > 0);
        const single = keyBounds(k, new Uint8Array(0));
        expect(single.single).toBe(true);
        expect(boundsContain(single, toKeyString(other))).toBe(compareBytes(k, other) === 0);
        const all = keyBounds(k, new Uint8Array([0]));
        expect(boundsContain(all, toKeyString(other))).toBe(compareBytes(other, k) >= 0);
      }),
    );
  });

  it('[key, range_end) is half open and empty when range_end <= key', () => {
    const bounds = keyBounds(Buffer.from('b'), Buffer.from('d'));
    expect(['a', 'b', 'c', 'cz', 'd'].map((k) => boundsContain(bounds, k))).toEqual([false, true, true, true, false]);
    const empty = keyBounds(Buffer.from('d'), Buffer.from('b'));
    expect(['b', 'c', 'd'].some((k) => boundsContain(empty, k))).toBe(false);
  });

  it('prefixRangeEnd covers exactly the keys with the prefix, without touching the prefix', () => {
    fc.assert(
      fc.property(key, key, (prefix, other) => {
        const copy = new Uint8Array(prefix);
        const bounds = keyBounds(prefix.length === 0 ? new Uint8Array([0]) : prefix, prefixRangeEnd(prefix));
        const hasPrefix = other.length >= prefix.length && compareBytes(other.subarray(0, prefix.length), prefix) === 0;
        if (other.length > 0 && prefix.length > 0) expect(boundsContain(bounds, toKeyString(other))).toBe(hasPrefix);
        expect(prefix).toEqual(copy);
      }),
      { numRuns: 500 },
    );
    expect(prefixRangeEnd(new Uint8Array([0x61, 0xff]))).toEqual(new Uint8Array([0x62]));
    expect(prefixRangeEnd(new Uint8Array([0xff]))).toEqual(new Uint8Array([0]));
  });
});
