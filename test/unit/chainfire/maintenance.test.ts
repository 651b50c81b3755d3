// The pure pieces behind etcd's Maintenance API: CRC-32C, HashKV's etcd semantics (what counts
// after a compaction, revision errors), the NOSPACE alarm command, and the snapshot file format.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c, Crc32c } from '../../../actors/chainfire/core/crc32c.ts';
import { encodeKeyValue, hashKv, revisionKey } from '../../../actors/chainfire/core/hash-kv.ts';
import { MvccStore } from '../../../actors/chainfire/core/mvcc-store.ts';
import { decodeSnapshotFile, snapshotFile } from '../../../actors/chainfire/core/snapshot-file.ts';
import { b, del, ok, put, refused } from './helpers.ts';

describe('crc32c', () => {
  it('has the Castagnoli check value and hashes incrementally', () => {
    expect(crc32c(b('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    fc.assert(
      fc.property(fc.uint8Array(), fc.uint8Array(), (x, y) => {
        const joined = new Uint8Array([...x, ...y]);
        expect(new Crc32c().update(x).update(y).value()).toBe(crc32c(joined));
      }),
    );
  });
});

describe('hashKv', () => {
  it('encodes revision keys and KeyValues as etcd stores them', () => {
    expect([...revisionKey(2n, 1, false)]).toEqual([0, 0, 0, 0, 0, 0, 0, 2, 0x5f, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(revisionKey(2n, 0, true).at(-1)).toBe(0x74);
    // key "k", create 2, mod 3, version 2, value "v", no lease.
    const kv = { key: b('k'), create_revision: 2n, mod_revision: 3n, version: 2n, value: b('v'), lease: 0n };
    expect([...encodeKeyValue(b('k'), kv)]).toEqual([0x0a, 1, 0x6b, 0x10, 2, 0x18, 3, 0x20, 2, 0x2a, 1, 0x76]);
    expect([...encodeKeyValue(b('k'), undefined)]).toEqual([0x0a, 1, 0x6b]);
  });

  it('hashes the history up to a revision: later writes do not change it, and -1 means never compacted', () => {
    const store = new MvccStore();
    put(store, 'a', '1');
    put(store, 'b', '2');
    const at3 = store.hashKv(0n);
    expect(at3).toMatchObject({ revision: 3n, compact_revision: -1n });
    put(store, 'a', '3');
    expect(store.hashKv(3n).hash).toBe(at3.hash);
    expect(store.hashKv(0n).hash).not.toBe(at3.hash);
    expect(store.hashKv(4n)).toEqual(store.hashKv(0n));
  });

  it('refuses the compaction revision and below, and future revisions, with etcd errors', () => {
    const store = new MvccStore();
    put(store, 'a', '1');
    put(store, 'a', '2');
    ok(store, { type: 'compact', request: { revision: 2n } });
    expect(() => hashKv(store, 2n)).toThrow(expect.objectContaining({ details: expect.objectContaining({ reason: 'compacted' }) }));
    expect(() => hashKv(store, 9n)).toThrow(expect.objectContaining({ details: expect.objectContaining({ reason: 'future-rev' }) }));
    expect(store.hashKv(3n).compact_revision).toBe(2n);
  });

  it('after a compaction, counts a compacted-but-kept entry only while it is the newest at the revision', () => {
    const store = new MvccStore();
    put(store, 'a', '1'); // 2
    put(store, 'b', '1'); // 3
    put(store, 'a', '2'); // 4 — supersedes a@2 for hashes at or after 4
    ok(store, { type: 'compact', request: { revision: 3n } }); // keeps a@2 and b@3
    const manual = (entries: Array<[bigint, string, string | undefined, bigint, bigint]>) => {
      const crc = new Crc32c().update(b('key'));
      for (const [rev, key, value, create, version] of entries) {
        crc.update(revisionKey(rev, 0, value === undefined));
        crc.update(encodeKeyValue(b(key), value === undefined ? undefined : { key: b(key), create_revision: create, mod_revision: rev, version, value: b(value), lease: 0n }));
      }
      return crc.value();
    };
    // At 4: a@2 is no longer what a compaction at 4 would keep, so it is left out; b@3 is kept.
    expect(store.hashKv(4n).hash).toBe(manual([[3n, 'b', '1', 3n, 1n], [4n, 'a', '2', 2n, 2n]]));
  });

  it('equal histories hash equally; different ones (almost surely) differ', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.option(fc.string({ maxLength: 3 }))), { maxLength: 20 }), (ops) => {
        const x = new MvccStore();
        const y = new MvccStore();
        for (const [key, value] of ops) {
          for (const s of [x, y]) {
            if (value === null) del(s, key);
            else put(s, key, value);
          }
        }
        expect(x.hashKv(0n)).toEqual(y.hashKv(0n));
        expect(x.hash()).toBe(y.hash());
        put(y, 'z', 'diverged');
        expect(y.hashKv(x.revision).hash).toBe(x.hashKv(0n).hash);
        expect(y.hashKv(0n).hash).not.toBe(x.hashKv(0n).hash);
      }),
    );
  });
});

describe('NOSPACE alarm command', () => {
  it('raises and clears the alarm, refusing puts but not deletes while raised', () => {
    const store = new MvccStore();
    put(store, 'k', 'v');
    expect(ok(store, { type: 'alarm', action: 'ACTIVATE' }).response).toEqual({ header: { revision: 2n }, changed: true });
    expect(ok(store, { type: 'alarm', action: 'ACTIVATE' }).response.changed).toBe(false);
    refused(store, { type: 'put', request: { key: b('k'), value: b('w') } }, 'no-space');
    refused(store, { type: 'lease-grant', request: { TTL: 10n }, now_ms: 0 }, 'no-space');
    expect(del(store, 'k')).toBe(1n);
    expect(ok(store, { type: 'alarm', action: 'DEACTIVATE' }).response.changed).toBe(true);
    expect(store.noSpaceAlarm).toBe(false);
    put(store, 'k', 'again');
    expect(MvccStore.restore(store.snapshot()).noSpaceAlarm).toBe(false);
  });

  it('refuses an unknown action without changing anything', () => {
    const store = new MvccStore();
    refused(store, { type: 'alarm', action: 'GET' as 'ACTIVATE' }, 'invalid-request');
  });
});

describe('snapshot file', () => {
  it('round-trips a store in 512-byte sectors plus a SHA-256 trailer, and refuses damage', () => {
    const store = new MvccStore();
    for (let i = 0; i < 20; i++) put(store, `k${i}`, 'v'.repeat(i * 10));
    const file = snapshotFile(store.snapshot());
    expect(file.length % 512).toBe(32);
    expect(new TextDecoder().decode(file.subarray(0, 8))).toBe('CFSNAP01');
    expect(decodeSnapshotFile(file).snapshot()).toEqual(store.snapshot());
    for (const position of [0, 9, 100, file.length - 1]) {
      const damaged = new Uint8Array(file);
      damaged[position] = damaged[position]! ^ 1;
      expect(() => decodeSnapshotFile(damaged)).toThrow(/not a chainfire snapshot|corrupt/);
    }
    expect(() => decodeSnapshotFile(file.subarray(0, file.length - 1))).toThrow(/512·n \+ 32/);
  });
});
