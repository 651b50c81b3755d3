// Snapshots: leases and alarms survive a round trip; malformed bytes are refused; errors carry
// the etcd reason and message the gRPC layer needs.
import { describe, expect, it } from 'vitest';
import { Codec } from '../../../runtime/codec/codec.ts';
import { UltraError } from '../../../runtime/errors.ts';
import { ETCD_ERRORS, etcdError, etcdReason } from '../../../actors/chainfire/core/errors.ts';
import { MvccStore } from '../../../actors/chainfire/core/mvcc-store.ts';
import { b, ok, put, t } from './helpers.ts';

describe('snapshot', () => {
  it('round-trips leases, deadlines, allocation, the alarm and history', () => {
    const store = new MvccStore({ limits: { quotaBytes: 200 } });
    ok(store, { type: 'lease-grant', request: { TTL: 30n, ID: 5n }, now_ms: 1_000 });
    put(store, 'k', 'v', 5n);
    put(store, 'k', 'w', 5n);
    expect(store.apply({ type: 'put', request: { key: b('big'), value: new Uint8Array(300) } }).ok).toBe(false);
    const restored = MvccStore.restore(store.snapshot(), { limits: { quotaBytes: 200 } });
    expect(restored.noSpaceAlarm).toBe(true);
    expect(restored.leaseTimeToLive({ ID: 5n, keys: true }, 1_000)).toEqual(store.leaseTimeToLive({ ID: 5n, keys: true }, 1_000));
    expect(restored.expiredLeases(31_000)).toEqual([5n]);
    expect(t(restored.range({ key: b('k'), revision: 2n }).kvs[0]!.value)).toBe('v');
    expect(restored.apply({ type: 'lease-grant', request: { TTL: 5n }, now_ms: 0 })).toEqual(
      store.apply({ type: 'lease-grant', request: { TTL: 5n }, now_ms: 0 }),
    );
  });

  it('refuses malformed snapshots with InvalidArgument', () => {
    const codec = new Codec();
    const good = codec.decode(new MvccStore().snapshot()) as Record<string, unknown>;
    const bad = [
      new Uint8Array([0xc1]),
      codec.encode({ ...good, format: 2 }),
      codec.encode({ ...good, revision: 'x' }),
      codec.encode({ ...good, keys: [{ key: b('b'), entries: [{ main: 2n, sub: 0, kv: null }] }, { key: b('a'), entries: [{ main: 3n, sub: 0, kv: null }] }] }),
      codec.encode({ ...good, keys: [{ key: b('a'), entries: [{ main: 3n, sub: 0, kv: null }, { main: 3n, sub: 1, kv: null }] }] }),
      codec.encode({ ...good, leases: { next_id: 1n, leases: [{ id: 1n }] } }),
    ];
    for (const bytes of bad) expect(() => MvccStore.restore(bytes)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });
});

describe('etcd errors', () => {
  it('carry etcd messages and reasons, recoverable from the error data', () => {
    const error = etcdError('compacted');
    expect([error.code, error.message, etcdReason(error)]).toEqual([
      'FailedPrecondition',
      'etcdserver: mvcc: required revision has been compacted',
      'compacted',
    ]);
    expect(etcdReason(UltraError.fromData(etcdError('no-space', 'detail').toData()))).toBe('no-space');
    expect(etcdReason(new UltraError('Internal', 'x'))).toBeUndefined();
    expect(etcdError('invalid-request', 'bad op').message).toBe('bad op');
    for (const entry of Object.values(ETCD_ERRORS)) expect(entry.message === '' || entry.message.startsWith('etcdserver: ')).toBe(true);
  });
});
