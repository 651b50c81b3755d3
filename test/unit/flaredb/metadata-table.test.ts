import { Type } from '@sinclair/typebox';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MetadataTable } from '../../../actors/flaredb/client/metadata-table.ts';
import { prefixEnd } from '../../../actors/flaredb/client/strong-kv.ts';
import { MemoryStrongKv } from '../../support/memory-strong-kv.ts';

const Thing = Type.Object({ name: Type.String({ minLength: 1 }), size: Type.Integer({ minimum: 0 }) }, { additionalProperties: false });

async function table(): Promise<{ kv: MemoryStrongKv; things: MetadataTable<typeof Thing> }> {
  const kv = new MemoryStrongKv();
  await kv.ensureStrongNamespace('test');
  return { kv, things: new MetadataTable(kv, { namespace: 'test', table: 'things', schema: Thing, noun: 'thing' }) };
}

describe('MetadataTable', () => {
  it('creates, reads, replaces and deletes with versions; conflicts and absences are typed errors', async () => {
    const { things } = await table();
    const created = await things.create('a/1', { name: 'one', size: 1 });
    expect(created.version).toBe(1);
    await expect(things.create('a/1', { name: 'again', size: 2 })).rejects.toMatchObject({ code: 'AlreadyExists' });
    expect((await things.replace('a/1', { name: 'one', size: 2 }, 1)).version).toBe(2);
    await expect(things.replace('a/1', { name: 'stale', size: 3 }, 1)).rejects.toMatchObject({ code: 'Aborted' });
    await expect(things.replace('a/nope', { name: 'x', size: 0 }, 1)).rejects.toMatchObject({ code: 'NotFound' });
    expect((await things.require('a/1')).record).toEqual({ name: 'one', size: 2 });
    await things.delete('a/1', 2);
    expect(await things.get('a/1')).toBeUndefined();
    await expect(things.delete('a/1')).rejects.toMatchObject({ code: 'NotFound' });
    await expect(things.require('a/1')).rejects.toThrow("thing 'a/1' not found");
  });

  it('refuses records its schema rejects and malformed ids, writing nothing', async () => {
    const { kv, things } = await table();
    await expect(things.create('ok', { name: '', size: 1 })).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(things.create('ok', { name: 'x', size: 1, extra: true } as never)).rejects.toThrow(/invalid thing/);
    await expect(things.create('/bad', { name: 'x', size: 1 })).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(things.list({ limit: 0 })).rejects.toMatchObject({ code: 'InvalidArgument' });
    expect(kv.writes).toBe(0);
  });

  it('update retries on conflict and applies the change to the latest record; a refusal writes nothing', async () => {
    const { kv, things } = await table();
    await things.create('c', { name: 'counter', size: 0 });
    await Promise.all(Array.from({ length: 10 }, () => things.update('c', (t) => ({ ...t, size: t.size + 1 }))));
    expect((await things.require('c')).record.size).toBe(10);
    const before = kv.writes;
    await expect(
      things.update('c', () => {
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(kv.writes).toBe(before);
  });

  it('lists every record under a prefix exactly once, in id order, across pages; count agrees', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.stringMatching(/^[a-c]{1,3}\/[0-9]{1,3}$/), { maxLength: 40 }), fc.integer({ min: 1, max: 7 }), fc.constantFrom('', 'a', 'a/', 'b/1'), async (ids, limit, prefix) => {
        const { things } = await table();
        for (const id of ids) await things.create(id, { name: id, size: id.length });
        const seen: string[] = [];
        let after: string | undefined;
        for (;;) {
          const page = await things.list({ prefix, limit, ...(after === undefined ? {} : { after }) });
          seen.push(...page.items.map((i) => i.id));
          if (page.next === undefined) break;
          after = page.next;
        }
        const expected = ids.filter((id) => id.startsWith(prefix)).sort();
        expect(seen).toEqual(expected);
        expect(await things.count(prefix)).toBe(expected.length);
        expect((await things.listAll(prefix)).map((i) => i.id)).toEqual(expected);
      }),
      { numRuns: 60 },
    );
  });

  it('feeds changes to watchers, as table ids', async () => {
    const { things } = await table();
    const changes: string[] = [];
    const feed = await things.watch((c) => changes.push(c.type === 'put' ? `put ${c.item.id} v${c.item.version}` : `delete ${c.id}`), () => {});
    await things.create('w', { name: 'w', size: 1 });
    await things.update('w', (t) => ({ ...t, size: 2 }));
    await things.delete('w');
    feed.cancel();
    await things.create('after', { name: 'a', size: 0 });
    expect(changes).toEqual(['put w v1', 'put w v2', 'delete w']);
  });

  it('prefixEnd bounds exactly the keys with the prefix', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 6 }), fc.string({ maxLength: 6 }), (prefix, key) => {
        const end = prefixEnd(prefix);
        const inRange = key >= prefix && (end === undefined || key < end);
        expect(inRange).toBe(key.startsWith(prefix));
      }),
    );
  });
});
