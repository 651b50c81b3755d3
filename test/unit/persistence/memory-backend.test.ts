import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../runtime/persistence/index.ts';

const b = (...bytes: number[]): Uint8Array => new Uint8Array(bytes);

async function dump(kv: MemoryBackend): Promise<Record<number, number>> {
  const out: Record<number, number> = {};
  for await (const [key, value] of kv.iterate({})) out[key[0]!] = value[0]!;
  return out;
}

describe('MemoryBackend crash', () => {
  it('keeps synced batches and drops the unsynced ones written after the last sync', async () => {
    const kv = new MemoryBackend();
    await kv.batch([{ type: 'put', key: b(1), value: b(1) }], { sync: true });
    await kv.batch([{ type: 'put', key: b(2), value: b(2) }], { sync: false });
    await kv.batch([{ type: 'put', key: b(1), value: b(9) }, { type: 'del', key: b(2) }], { sync: false });
    expect(await dump(kv)).toEqual({ 1: 9 });
    expect(kv.unsyncedBatches).toBe(2);
    kv.crash();
    expect(await dump(kv)).toEqual({ 1: 1 });
    expect(kv.unsyncedBatches).toBe(0);
  });

  it('a sync batch makes the unsynced batches before it durable too, like an fsync of the log', async () => {
    const kv = new MemoryBackend();
    await kv.batch([{ type: 'put', key: b(1), value: b(1) }], { sync: false });
    await kv.batch([{ type: 'put', key: b(2), value: b(2) }], { sync: true });
    await kv.batch([{ type: 'put', key: b(3), value: b(3) }], { sync: false });
    kv.crash();
    expect(await dump(kv)).toEqual({ 1: 1, 2: 2 });
  });

  it('drops an unsynced delete, bringing the key back', async () => {
    const kv = new MemoryBackend();
    await kv.batch([{ type: 'put', key: b(1), value: b(1) }], { sync: true });
    await kv.batch([{ type: 'del', key: b(1) }], { sync: false });
    kv.crash();
    expect(await dump(kv)).toEqual({ 1: 1 });
  });

  it('stays usable after a crash, and crashes again from the new durable state', async () => {
    const kv = new MemoryBackend();
    await kv.batch([{ type: 'put', key: b(1), value: b(1) }], { sync: false });
    kv.crash();
    expect(await dump(kv)).toEqual({});
    await kv.batch([{ type: 'put', key: b(2), value: b(2) }], { sync: true });
    await kv.batch([{ type: 'put', key: b(3), value: b(3) }], { sync: false });
    kv.crash();
    expect(await dump(kv)).toEqual({ 2: 2 });
  });
});
