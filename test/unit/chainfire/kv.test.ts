// MVCC revisions, Range options, Put and DeleteRange with etcd semantics.
import { describe, expect, it } from 'vitest';
import { MvccStore } from '../../../actors/chainfire/core/mvcc-store.ts';
import type { RangeRequest } from '../../../actors/chainfire/core/types.ts';
import { b, del, kvText, ok, put, refused, t } from './helpers.ts';

function range(store: MvccStore, request: Partial<RangeRequest> & { key: Uint8Array }) {
  return store.range(request);
}

const ALL = { key: new Uint8Array([0]), range_end: new Uint8Array([0]) };

describe('MVCC revisions', () => {
  it('starts at revision 1; each change bumps it once; versions restart after a delete', () => {
    const store = new MvccStore();
    expect(store.revision).toBe(1n);
    expect(put(store, 'a', '1')).toBe(2n);
    expect(put(store, 'a', '2')).toBe(3n);
    const [kv] = range(store, { key: b('a') }).kvs;
    expect(kv).toMatchObject({ create_revision: 2n, mod_revision: 3n, version: 2n, lease: 0n });
    expect(del(store, 'a')).toBe(1n);
    expect(store.revision).toBe(4n);
    expect(del(store, 'a')).toBe(0n);
    expect(store.revision).toBe(4n);
    expect(ok(store, { type: 'delete-range', request: { key: b('a') } }).response.header.revision).toBe(4n);
    put(store, 'a', '3');
    expect(range(store, { key: b('a') }).kvs[0]).toMatchObject({ create_revision: 5n, mod_revision: 5n, version: 1n });
  });

  it('reads at past revisions; future revisions are FutureRev', () => {
    const store = new MvccStore();
    put(store, 'a', '1');
    put(store, 'a', '2');
    del(store, 'a');
    expect(kvText(range(store, { key: b('a'), revision: 2n }).kvs)).toEqual([['a', '1']]);
    expect(kvText(range(store, { key: b('a'), revision: 3n }).kvs)).toEqual([['a', '2']]);
    expect(range(store, { key: b('a'), revision: 4n }).kvs).toEqual([]);
    expect(range(store, { key: b('a'), revision: 1n }).kvs).toEqual([]);
    // The header carries the current revision, as etcd.
    expect(range(store, { key: b('a'), revision: 2n }).header.revision).toBe(4n);
    expect(() => range(store, { key: b('a'), revision: 5n })).toThrow(expect.objectContaining({ details: { reason: 'future-rev' } }));
  });
});

describe('Range', () => {
  function fixture(): MvccStore {
    const store = new MvccStore();
    put(store, 'b', 'zz'); // 2
    put(store, 'a', 'y'); // 3
    put(store, 'c', 'x'); // 4
    put(store, 'b', 'w'); // 5
    put(store, 'd', 'v'); // 6
    return store;
  }

  it('selects a single key, [key, range_end) and every key', () => {
    const store = fixture();
    expect(kvText(range(store, { key: b('b') }).kvs)).toEqual([['b', 'w']]);
    expect(kvText(range(store, { key: b('b'), range_end: b('d') }).kvs)).toEqual([['b', 'w'], ['c', 'x']]);
    expect(kvText(range(store, ALL).kvs).map(([k]) => k)).toEqual(['a', 'b', 'c', 'd']);
    expect(kvText(range(store, { key: b('c'), range_end: new Uint8Array([0]) }).kvs).map(([k]) => k)).toEqual(['c', 'd']);
    expect(range(store, { key: b('d'), range_end: b('a') }).kvs).toEqual([]);
    expect(() => range(store, { key: new Uint8Array(0) })).toThrow('etcdserver: key is not provided');
  });

  it('limits with more, and counts every key in range', () => {
    const store = fixture();
    const r = range(store, { ...ALL, limit: 2n });
    expect([kvText(r.kvs).map(([k]) => k), r.more, r.count]).toEqual([['a', 'b'], true, 4n]);
    const exact = range(store, { ...ALL, limit: 4n });
    expect([exact.more, exact.kvs.length]).toEqual([false, 4]);
    const counted = range(store, { ...ALL, count_only: true });
    expect([counted.kvs, counted.count, counted.more]).toEqual([[], 4n, false]);
    const keysOnly = range(store, { ...ALL, keys_only: true });
    expect(keysOnly.kvs.every((kv) => kv.value.length === 0 && kv.key.length === 1)).toBe(true);
  });

  it('sorts by every target in both orders, ties in ascending key order', () => {
    const store = fixture();
    const keys = (r: Partial<RangeRequest>) => kvText(range(store, { ...ALL, ...r }).kvs).map(([k]) => k);
    expect(keys({ sort_order: 'DESCEND' })).toEqual(['d', 'c', 'b', 'a']);
    expect(keys({ sort_target: 'MOD' })).toEqual(['a', 'c', 'b', 'd']);
    expect(keys({ sort_target: 'MOD', sort_order: 'DESCEND' })).toEqual(['d', 'b', 'c', 'a']);
    expect(keys({ sort_target: 'CREATE', sort_order: 'ASCEND' })).toEqual(['b', 'a', 'c', 'd']);
    expect(keys({ sort_target: 'VALUE' })).toEqual(['d', 'b', 'c', 'a']);
    expect(keys({ sort_target: 'VERSION', sort_order: 'DESCEND' })).toEqual(['b', 'a', 'c', 'd']);
    expect(keys({ sort_target: 'VERSION', sort_order: 'DESCEND', limit: 2n })).toEqual(['b', 'a']);
    expect(() => range(store, { ...ALL, sort_target: 'SIZE' as never })).toThrow('etcdserver: invalid sort option');
  });

  it('filters by min/max mod and create revision (count stays the range size, as etcd)', () => {
    const store = fixture();
    const r = range(store, { ...ALL, min_mod_revision: 4n, max_mod_revision: 5n });
    expect([kvText(r.kvs).map(([k]) => k), r.count]).toEqual([['b', 'c'], 4n]);
    expect(kvText(range(store, { ...ALL, min_create_revision: 3n, max_create_revision: 4n }).kvs).map(([k]) => k)).toEqual([
      'a',
      'c',
    ]);
  });
});

describe('Put', () => {
  it('returns prev_kv only when asked', () => {
    const store = new MvccStore();
    expect(ok(store, { type: 'put', request: { key: b('k'), value: b('1'), prev_kv: true } }).response.prev_kv).toBeUndefined();
    const { response } = ok(store, { type: 'put', request: { key: b('k'), value: b('2'), prev_kv: true } });
    expect(t(response.prev_kv!.value)).toBe('1');
    expect(ok(store, { type: 'put', request: { key: b('k'), value: b('3') } }).response).toEqual({ header: { revision: 4n } });
  });

  it('ignore_value keeps the value, ignore_lease keeps the lease; wrong combinations are refused', () => {
    const store = new MvccStore();
    ok(store, { type: 'lease-grant', request: { TTL: 10n, ID: 7n }, now_ms: 0 });
    put(store, 'k', 'v', 7n);
    ok(store, { type: 'put', request: { key: b('k'), ignore_value: true, ignore_lease: true } });
    expect(range(store, { key: b('k') }).kvs[0]).toMatchObject({ value: b('v'), lease: 7n, version: 2n });
    ok(store, { type: 'put', request: { key: b('k'), value: b('w'), ignore_lease: true } });
    expect(range(store, { key: b('k') }).kvs[0]).toMatchObject({ value: b('w'), lease: 7n });
    ok(store, { type: 'put', request: { key: b('k'), ignore_value: true } });
    expect(range(store, { key: b('k') }).kvs[0]).toMatchObject({ value: b('w'), lease: 0n });

    refused(store, { type: 'put', request: { key: b('k'), value: b('x'), ignore_value: true } }, 'value-provided');
    refused(store, { type: 'put', request: { key: b('k'), lease: 7n, ignore_lease: true } }, 'lease-provided');
    refused(store, { type: 'put', request: { key: b('nope'), ignore_value: true } }, 'key-not-found');
    refused(store, { type: 'put', request: { key: b('k'), value: b('x'), lease: 99n } }, 'lease-not-found');
    refused(store, { type: 'put', request: { key: new Uint8Array(0), value: b('x') } }, 'empty-key');
  });

  it('refuses requests over the size limit', () => {
    const store = new MvccStore({ limits: { maxRequestBytes: 1024 } });
    refused(store, { type: 'put', request: { key: b('k'), value: new Uint8Array(2000) } }, 'request-too-large');
    expect(ok(store, { type: 'put', request: { key: b('k'), value: new Uint8Array(900) } }).events).toHaveLength(1);
  });

  it('never aliases the caller buffers', () => {
    const store = new MvccStore();
    const value = b('abc');
    const key = b('k');
    ok(store, { type: 'put', request: { key, value } });
    value[0] = 0x7a;
    key[0] = 0x7a;
    expect(kvText(range(store, { key: b('k') }).kvs)).toEqual([['k', 'abc']]);
  });
});

describe('DeleteRange', () => {
  it('deletes a range in one revision, returns prev_kvs and DELETE events in key order', () => {
    const store = new MvccStore();
    for (const k of ['a', 'b', 'c', 'd']) put(store, k, k.toUpperCase());
    const { response, events } = ok(store, {
      type: 'delete-range',
      request: { key: b('b'), range_end: b('d'), prev_kv: true },
    });
    expect(response.deleted).toBe(2n);
    expect(response.header.revision).toBe(6n);
    expect(kvText(response.prev_kvs)).toEqual([['b', 'B'], ['c', 'C']]);
    expect(events.map((e) => [e.type, t(e.kv.key), e.kv.mod_revision, e.kv.version, t(e.prev_kv!.value)])).toEqual([
      ['DELETE', 'b', 6n, 0n, 'B'],
      ['DELETE', 'c', 6n, 0n, 'C'],
    ]);
    expect(ok(store, { type: 'delete-range', request: { key: b('a') } }).response.prev_kvs).toEqual([]);
    expect(kvText(store.range(ALL).kvs)).toEqual([['d', 'D']]);
  });
});
