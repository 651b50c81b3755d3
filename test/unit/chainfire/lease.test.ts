// Leases: grant with chosen or allocated IDs, attach on put, revoke deleting keys in one revision,
// and expiry driven only by explicit commands carrying the leader's now_ms.
import { describe, expect, it } from 'vitest';
import { MvccStore } from '../../../actors/chainfire/core/mvcc-store.ts';
import { b, del, ok, put, refused, t } from './helpers.ts';

describe('leases', () => {
  it('grants with a chosen ID or allocates the next free one; raises TTL to the minimum', () => {
    const store = new MvccStore();
    expect(ok(store, { type: 'lease-grant', request: { TTL: 10n, ID: 2n }, now_ms: 0 }).response).toMatchObject({ ID: 2n, TTL: 10n });
    expect(ok(store, { type: 'lease-grant', request: { TTL: 1n }, now_ms: 0 }).response).toMatchObject({ ID: 3n, TTL: 2n });
    expect(ok(store, { type: 'lease-grant', request: { TTL: 10n, ID: 0n }, now_ms: 0 }).response.ID).toBe(4n);
    refused(store, { type: 'lease-grant', request: { TTL: 10n, ID: 2n }, now_ms: 0 }, 'lease-exists');
    refused(store, { type: 'lease-grant', request: { TTL: 10_000_000_000n }, now_ms: 0 }, 'lease-ttl-too-large');
    refused(store, { type: 'lease-grant', request: { TTL: 10n, ID: -1n }, now_ms: 0 }, 'invalid-request');
    refused(store, { type: 'lease-grant', request: { TTL: 10n }, now_ms: 1.5 }, 'invalid-request');
    expect(store.leaseLeases().leases).toEqual([{ ID: 2n }, { ID: 3n }, { ID: 4n }]);
    expect(store.revision).toBe(1n);
  });

  it('attaches keys on put, moves them between leases, detaches them on delete', () => {
    const store = new MvccStore();
    ok(store, { type: 'lease-grant', request: { TTL: 10n, ID: 1n }, now_ms: 0 });
    ok(store, { type: 'lease-grant', request: { TTL: 10n, ID: 2n }, now_ms: 0 });
    put(store, 'a', '1', 1n);
    put(store, 'b', '1', 1n);
    put(store, 'b', '2', 2n);
    put(store, 'c', '1', 1n);
    del(store, 'c');
    const keys = (id: bigint) => store.leaseTimeToLive({ ID: id, keys: true }, 0).keys.map(t);
    expect([keys(1n), keys(2n)]).toEqual([['a'], ['b']]);
    expect(store.leaseTimeToLive({ ID: 1n }, 0).keys).toEqual([]);
  });

  it('revoke deletes the attached keys in one revision with DELETE events', () => {
    const store = new MvccStore();
    ok(store, { type: 'lease-grant', request: { TTL: 10n, ID: 1n }, now_ms: 0 });
    put(store, 'b', '1', 1n);
    put(store, 'a', '1', 1n);
    put(store, 'c', '1');
    const { response, events } = ok(store, { type: 'lease-revoke', request: { ID: 1n } });
    expect(response.header.revision).toBe(5n);
    expect(events.map((e) => [e.type, t(e.kv.key), e.kv.mod_revision])).toEqual([
      ['DELETE', 'a', 5n],
      ['DELETE', 'b', 5n],
    ]);
    expect(store.range({ key: new Uint8Array([0]), range_end: new Uint8Array([0]) }).count).toBe(1n);
    refused(store, { type: 'lease-revoke', request: { ID: 1n } }, 'lease-not-found');
    // A lease with no keys is revoked without a new revision.
    ok(store, { type: 'lease-grant', request: { TTL: 10n, ID: 9n }, now_ms: 0 });
    expect(ok(store, { type: 'lease-revoke', request: { ID: 9n } }).response.header.revision).toBe(5n);
  });

  it('expires only through commands; keep-alive and promote push the deadline', () => {
    const store = new MvccStore();
    ok(store, { type: 'lease-grant', request: { TTL: 10n, ID: 1n }, now_ms: 1_000 });
    ok(store, { type: 'lease-grant', request: { TTL: 20n, ID: 2n }, now_ms: 1_000 });
    put(store, 'k', 'v', 1n);
    expect(store.expiredLeases(10_999)).toEqual([]);
    expect(store.expiredLeases(11_000)).toEqual([1n]);
    expect(store.leaseTimeToLive({ ID: 1n }, 5_500)).toMatchObject({ TTL: 6n, grantedTTL: 10n });
    expect(store.leaseTimeToLive({ ID: 1n }, 20_000).TTL).toBe(0n);
    expect(() => store.leaseTimeToLive({ ID: 7n }, 0)).toThrow('etcdserver: requested lease not found');

    // A keep-alive committed after the leader decided to expire wins: the expire is a no-op.
    expect(ok(store, { type: 'lease-keep-alive', request: { ID: 1n }, now_ms: 10_500 }).response).toMatchObject({ ID: 1n, TTL: 10n });
    const stale = ok(store, { type: 'lease-expire', id: 1n, now_ms: 11_000 });
    expect([stale.response.expired, stale.events]).toEqual([false, []]);
    expect(store.expiredLeases(20_500)).toEqual([1n]);

    ok(store, { type: 'lease-promote', now_ms: 30_000 });
    expect(store.expiredLeases(39_999)).toEqual([]);
    expect(store.expiredLeases(50_000)).toEqual([1n, 2n]);

    const expired = ok(store, { type: 'lease-expire', id: 1n, now_ms: 40_000 });
    expect(expired.response.expired).toBe(true);
    expect(expired.events.map((e) => [e.type, t(e.kv.key)])).toEqual([['DELETE', 'k']]);
    expect(store.leaseLeases().leases).toEqual([{ ID: 2n }]);
    expect(ok(store, { type: 'lease-expire', id: 1n, now_ms: 40_000 }).response.expired).toBe(false);
    refused(store, { type: 'lease-keep-alive', request: { ID: 1n }, now_ms: 0 }, 'lease-not-found');
  });

  it('a put cannot attach to a revoked lease', () => {
    const store = new MvccStore();
    ok(store, { type: 'lease-grant', request: { TTL: 10n, ID: 1n }, now_ms: 0 });
    ok(store, { type: 'lease-revoke', request: { ID: 1n } });
    refused(store, { type: 'put', request: { key: b('k'), lease: 1n } }, 'lease-not-found');
  });
});
