// Compaction, watch replay from history, and the space quota with its NOSPACE alarm.
import { describe, expect, it } from 'vitest';
import { MvccStore } from '../../../actors/chainfire/core/mvcc-store.ts';
import { prefixRangeEnd } from '../../../actors/chainfire/core/key-range.ts';
import { b, del, kvText, ok, put, refused, t } from './helpers.ts';

describe('Compact', () => {
  it('drops history before the revision but keeps the state at it', () => {
    const store = new MvccStore();
    put(store, 'a', '1'); // 2
    put(store, 'a', '2'); // 3
    put(store, 'b', '1'); // 4
    del(store, 'b'); // 5
    put(store, 'a', '3'); // 6
    const before = store.sizeBytes;
    expect(ok(store, { type: 'compact', request: { revision: 5n } }).response.header.revision).toBe(6n);
    expect(store.sizeBytes).toBeLessThan(before);
    expect(kvText(store.range({ key: b('a'), revision: 5n }).kvs)).toEqual([['a', '2']]);
    expect(store.range({ key: b('b'), revision: 5n }).kvs).toEqual([]);
    expect(() => store.range({ key: b('a'), revision: 4n })).toThrow('etcdserver: mvcc: required revision has been compacted');
    refused(store, { type: 'compact', request: { revision: 5n } }, 'compacted');
    refused(store, { type: 'compact', request: { revision: 3n } }, 'compacted');
    refused(store, { type: 'compact', request: { revision: 7n } }, 'future-rev');
    ok(store, { type: 'compact', request: { revision: 6n } });
    expect(kvText(store.range({ key: b('a') }).kvs)).toEqual([['a', '3']]);
  });
});

describe('watch support', () => {
  it('apply returns the events of each command; eventsSince replays them from history', () => {
    const store = new MvccStore();
    const live = [
      ...ok(store, { type: 'put', request: { key: b('w/a'), value: b('1') } }).events,
      ...ok(store, { type: 'put', request: { key: b('x'), value: b('1') } }).events,
      ...ok(store, { type: 'put', request: { key: b('w/b'), value: b('1') } }).events,
      ...ok(store, { type: 'put', request: { key: b('w/a'), value: b('2') } }).events,
      ...ok(store, { type: 'delete-range', request: { key: b('w/'), range_end: prefixRangeEnd(b('w/')) } }).events,
    ];
    const watched = live.filter((e) => t(e.kv.key).startsWith('w/'));
    expect(store.eventsSince(2n, b('w/'), prefixRangeEnd(b('w/')))).toEqual(watched);
    expect(store.eventsSince(5n, b('w/'), prefixRangeEnd(b('w/'))).map((e) => [e.type, t(e.kv.key), t(e.prev_kv!.value)])).toEqual([
      ['PUT', 'w/a', '1'],
      ['DELETE', 'w/a', '2'],
      ['DELETE', 'w/b', '1'],
    ]);
    expect(store.eventsSince(7n, b('w/'), prefixRangeEnd(b('w/')))).toEqual([]);
    expect(store.eventsSince(1n, b('x'))).toEqual(live.filter((e) => t(e.kv.key) === 'x'));

    ok(store, { type: 'compact', request: { revision: 4n } });
    expect(() => store.eventsSince(3n, b('w/'), prefixRangeEnd(b('w/')))).toThrow(
      expect.objectContaining({ details: expect.objectContaining({ reason: 'compacted' }) }),
    );
    expect(store.eventsSince(5n, b('w/'), prefixRangeEnd(b('w/')))).toHaveLength(3);
  });
});

describe('space quota', () => {
  it('refuses a write past the quota and raises NOSPACE until compaction frees space', () => {
    const store = new MvccStore({ limits: { quotaBytes: 300 } });
    put(store, 'a', 'x'.repeat(100));
    refused(store, { type: 'put', request: { key: b('b'), value: new Uint8Array(200) } }, 'no-space');
    expect(store.noSpaceAlarm).toBe(true);
    // With the alarm raised even a small write is refused; reads, deletes and compaction still work.
    refused(store, { type: 'put', request: { key: b('c'), value: b('1') } }, 'no-space');
    refused(store, { type: 'txn', request: { success: [{ request_put: { key: b('c'), value: b('1') } }] } }, 'no-space');
    refused(store, { type: 'lease-grant', request: { TTL: 10n }, now_ms: 0 }, 'no-space');
    expect(store.range({ key: b('a') }).count).toBe(1n);
    ok(store, { type: 'txn', request: { success: [{ request_range: { key: b('a') } }] } });
    expect(del(store, 'a')).toBe(1n);
    expect(store.noSpaceAlarm).toBe(true);
    ok(store, { type: 'compact', request: { revision: store.revision } });
    expect([store.noSpaceAlarm, store.sizeBytes]).toEqual([false, 0]);
    put(store, 'b', 'x'.repeat(200));
  });
});
