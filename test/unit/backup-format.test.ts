// The backup file format: every well-formed backup round-trips exactly, and any truncation or any
// changed byte of the body (or of the header's checksum/counts) is refused with a typed error.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UltraError } from '../../runtime/errors.ts';
import { decodeBackup, encodeBackup, type BackupRecord } from '../../runtime/node/backup-format.ts';

const bytes = fc.uint8Array({ maxLength: 24 }).map((a) => new Uint8Array(a));
const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/);
const key = fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' });

/** A well-formed record list: chainfire keys, namespaces, then keys of declared namespaces with matching modes. */
const backup = fc
  .record({
    cf: fc.array(fc.record({ key: fc.uint8Array({ minLength: 1, maxLength: 16 }), value: bytes }), { maxLength: 6 }),
    namespaces: fc.uniqueArray(fc.record({ name, mode: fc.constantFrom('strong' as const, 'eventual' as const) }), { selector: (n) => n.name, maxLength: 4 }),
    keys: fc.array(fc.record({ at: fc.nat(), key, value: bytes }), { maxLength: 10 }),
    revision: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
    createdMs: fc.nat(),
  })
  .map(({ cf, namespaces, keys, revision, createdMs }) => {
    const records: BackupRecord[] = [
      ...cf.map((e): BackupRecord => ({ t: 'cf', key: new Uint8Array(e.key), value: e.value })),
      ...namespaces.map((n): BackupRecord => ({ t: 'ns', ...n })),
    ];
    if (namespaces.length > 0) {
      for (const k of keys) {
        const ns = namespaces[k.at % namespaces.length]!;
        records.push({ t: ns.mode === 'strong' ? 'kv' : 'raw', ns: ns.name, key: k.key, value: k.value });
      }
    }
    return { records, revision, createdMs };
  });

function expectCorrupt(text: string): void {
  let caught: unknown;
  try {
    decodeBackup(text);
  } catch (error) {
    caught = error;
  }
  expect(caught, 'decodeBackup accepted a damaged file').toBeInstanceOf(UltraError);
  expect(['InvalidArgument', 'FailedPrecondition']).toContain((caught as UltraError).code);
}

describe('backup format', () => {
  it('round-trips every record, in order, with a header that counts them', () => {
    fc.assert(
      fc.property(backup, ({ records, revision, createdMs }) => {
        const decoded = decodeBackup(encodeBackup({ createdMs, chainfireRevision: revision }, records));
        expect(decoded.records).toEqual(records);
        expect(decoded.header.chainfire_revision).toBe(String(revision));
        expect(decoded.header.created_ms).toBe(createdMs);
        expect(decoded.header.body_lines).toBe(records.length);
        expect(decoded.header.counts.chainfire + decoded.header.counts.namespaces + decoded.header.counts.strong + decoded.header.counts.eventual).toBe(records.length);
      }),
    );
  });

  it('refuses every truncation of a file', () => {
    fc.assert(
      fc.property(backup, fc.nat(), ({ records, revision, createdMs }, cut) => {
        const text = encodeBackup({ createdMs, chainfireRevision: revision }, records);
        expectCorrupt(text.slice(0, cut % text.length));
      }),
    );
  });

  it('refuses a file with any body character changed', () => {
    fc.assert(
      fc.property(
        backup.filter((b) => b.records.length > 0),
        fc.nat(),
        fc.integer({ min: 1, max: 0xffff }),
        ({ records, revision, createdMs }, at, delta) => {
          const text = encodeBackup({ createdMs, chainfireRevision: revision }, records);
          const bodyStart = text.indexOf('\n') + 1;
          const i = bodyStart + (at % (text.length - bodyStart));
          const changed = String.fromCharCode((text.charCodeAt(i) + delta) % 0x10000);
          fc.pre(changed !== text[i] && !/[\ud800-\udfff]/.test(changed));
          expectCorrupt(text.slice(0, i) + changed + text.slice(i + 1));
        },
      ),
    );
  });

  it('refuses a header whose counts were edited even when the body is intact', () => {
    const records: BackupRecord[] = [
      { t: 'cf', key: new Uint8Array([1]), value: new Uint8Array([2]) },
      { t: 'ns', name: 'iam', mode: 'strong' },
      { t: 'kv', ns: 'iam', key: 'k', value: new Uint8Array([3]) },
    ];
    const text = encodeBackup({ createdMs: 1, chainfireRevision: 7n }, records);
    expectCorrupt(text.replace('"strong":1', '"strong":2'));
    expectCorrupt(text.replace('"body_lines":3', '"body_lines":2'));
  });

  it('refuses keys of an undeclared namespace and names non-backups and future versions', () => {
    const records: BackupRecord[] = [{ t: 'kv', ns: 'nope', key: 'k', value: new Uint8Array() }];
    expectCorrupt(encodeBackup({ createdMs: 1, chainfireRevision: 0n }, records));
    expect(() => decodeBackup('{"hello":1}\n')).toThrow(/not an UltraCloud backup/);
    const future = encodeBackup({ createdMs: 1, chainfireRevision: 0n }, []).replace('"version":1', '"version":2');
    expect(() => decodeBackup(future)).toThrow(/version 2 is not supported/);
  });
});
