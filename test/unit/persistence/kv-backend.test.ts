// The KvBackend contract, run against every backend.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UltraError } from '../../../runtime/errors.ts';
import { LevelBackend, MemoryBackend, type KvBackend, type KvRange } from '../../../runtime/persistence/index.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const backends: Array<[string, () => Promise<KvBackend>]> = [
  ['MemoryBackend', async () => new MemoryBackend()],
  [
    'LevelBackend',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ultracloud-kv-'));
      const backend = await LevelBackend.open(dir);
      cleanups.push(async () => {
        await backend.close();
        rmSync(dir, { recursive: true, force: true });
      });
      return backend;
    },
  ],
];

const b = (...bytes: number[]): Uint8Array => new Uint8Array(bytes);

async function keys(backend: KvBackend, range: KvRange): Promise<number[][]> {
  const out: number[][] = [];
  for await (const [key] of backend.iterate(range)) out.push([...key]);
  return out;
}

describe.each(backends)('%s', (_name, open) => {
  it('gets what a batch put, and nothing for a missing or deleted key', async () => {
    const kv = await open();
    expect(await kv.get(b(1))).toBeUndefined();
    await kv.batch([{ type: 'put', key: b(1), value: b(10) }, { type: 'put', key: b(2), value: b(20) }], { sync: true });
    expect([...((await kv.get(b(1))) ?? [])]).toEqual([10]);
    await kv.batch([{ type: 'del', key: b(1) }, { type: 'put', key: b(2), value: b(21) }], { sync: false });
    expect(await kv.get(b(1))).toBeUndefined();
    expect([...((await kv.get(b(2))) ?? [])]).toEqual([21]);
  });

  it('applies a batch in order: a later op on the same key wins', async () => {
    const kv = await open();
    await kv.batch([{ type: 'put', key: b(1), value: b(1) }, { type: 'del', key: b(1) }, { type: 'put', key: b(2), value: b(1) }, { type: 'put', key: b(2), value: b(2) }], { sync: true });
    expect(await kv.get(b(1))).toBeUndefined();
    expect([...((await kv.get(b(2))) ?? [])]).toEqual([2]);
  });

  it('keeps what was written when the caller reuses its buffers', async () => {
    const kv = await open();
    const key = b(7);
    const value = b(1, 2, 3);
    await kv.batch([{ type: 'put', key, value }], { sync: true });
    value[0] = 99;
    key[0] = 8;
    expect([...((await kv.get(b(7))) ?? [])]).toEqual([1, 2, 3]);
  });

  it('iterates in unsigned byte order, within gte/lt, with limit and reverse', async () => {
    const kv = await open();
    const all = [[0x00], [0x01], [0x01, 0x00], [0x01, 0xff], [0x02], [0x80], [0xff]];
    await kv.batch([...all].reverse().map((k) => ({ type: 'put' as const, key: new Uint8Array(k), value: b(0) })), { sync: true });
    expect(await keys(kv, {})).toEqual(all);
    expect(await keys(kv, { gte: b(1), lt: b(2) })).toEqual([[0x01], [0x01, 0x00], [0x01, 0xff]]);
    expect(await keys(kv, { gte: b(1), lt: b(2), reverse: true })).toEqual([[0x01, 0xff], [0x01, 0x00], [0x01]]);
    expect(await keys(kv, { gte: b(1), limit: 2 })).toEqual([[0x01], [0x01, 0x00]]);
    expect(await keys(kv, { lt: b(0x80), reverse: true, limit: 1 })).toEqual([[0x02]]);
    expect(await keys(kv, { limit: 0 })).toEqual([]);
    expect(await keys(kv, { gte: b(3), lt: b(2) })).toEqual([]);
  });

  it('iterates over the data as of the call', async () => {
    const kv = await open();
    await kv.batch([{ type: 'put', key: b(1), value: b(1) }], { sync: true });
    const entries = kv.iterate({});
    await kv.batch([{ type: 'put', key: b(2), value: b(2) }, { type: 'del', key: b(1) }], { sync: true });
    const seen: number[] = [];
    for await (const [key] of entries) seen.push(key[0]!);
    expect(seen).toEqual([1]);
  });

  it('rejects every call after close', async () => {
    const kv = await open();
    await kv.close();
    await expect(kv.get(b(1))).rejects.toBeInstanceOf(UltraError);
    await expect(kv.batch([{ type: 'put', key: b(1), value: b(1) }], { sync: true })).rejects.toBeInstanceOf(UltraError);
    const entries = kv.iterate({});
    await expect(entries[Symbol.asyncIterator]().next()).rejects.toBeInstanceOf(UltraError);
  });
});
