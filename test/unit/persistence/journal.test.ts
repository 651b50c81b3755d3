import { describe, expect, it } from 'vitest';
import { isUltraError } from '../../../runtime/errors.ts';
import { Journal, MemoryBackend, type JournalEntry } from '../../../runtime/persistence/index.ts';

async function collect<E>(entries: AsyncIterable<JournalEntry<E>>): Promise<Array<[number, E]>> {
  const out: Array<[number, E]> = [];
  for await (const { seq, event } of entries) out.push([seq, event]);
  return out;
}

const sync = { sync: true };

describe('Journal', () => {
  it('appends with contiguous seqs and replays them in order', async () => {
    const journal = new Journal(new MemoryBackend());
    expect(await journal.highestSeq('acct')).toBe(0);
    expect(await journal.append('acct', [{ add: 1 }, { add: 2 }], { nextSeq: 1, ...sync })).toBe(2);
    expect(await journal.append('acct', [{ add: 3 }], { nextSeq: 3, ...sync })).toBe(3);
    expect(await journal.highestSeq('acct')).toBe(3);
    expect(await collect(journal.replay('acct'))).toEqual([[1, { add: 1 }], [2, { add: 2 }], [3, { add: 3 }]]);
  });

  it('round-trips plain data', async () => {
    const journal = new Journal(new MemoryBackend());
    const event = { s: 'é€', n: -1.5, big: 2n ** 60n, bytes: new Uint8Array([1, 2]), list: [null, true, undefined], nested: { a: { b: [] } } };
    await journal.append('x', [event], { nextSeq: 1, ...sync });
    expect(await collect(journal.replay('x'))).toEqual([[1, event]]);
  });

  it('replays a range: from, to (inclusive) and at most max events', async () => {
    const journal = new Journal(new MemoryBackend());
    await journal.append('r', [1, 2, 3, 4, 5, 6], { nextSeq: 1, ...sync });
    const seqs = async (...args: [number?, number?, number?]) => (await collect(journal.replay('r', ...args))).map(([seq]) => seq);
    expect(await seqs(3)).toEqual([3, 4, 5, 6]);
    expect(await seqs(2, 4)).toEqual([2, 3, 4]);
    expect(await seqs(2, 6, 2)).toEqual([2, 3]);
    expect(await seqs(7)).toEqual([]);
    expect(await seqs(5, 4)).toEqual([]);
    expect(await seqs(1, 6, 0)).toEqual([]);
    await expect(seqs(-1)).rejects.toMatchObject({ code: 'InvalidArgument' });
  });

  it('orders seqs numerically past byte boundaries (big-endian keys)', async () => {
    const journal = new Journal(new MemoryBackend());
    const events = Array.from({ length: 300 }, (_, i) => i + 1);
    await journal.append('many', events, { nextSeq: 1, ...sync });
    expect((await collect(journal.replay('many'))).map(([seq]) => seq)).toEqual(events);
    expect((await collect(journal.replay('many', 250, 260))).map(([, e]) => e)).toEqual(events.slice(249, 260));
    expect(await journal.highestSeq('many')).toBe(300);
  });

  it('keeps ids apart, even when one id is a prefix of another', async () => {
    const journal = new Journal(new MemoryBackend());
    await journal.append('a', ['a1'], { nextSeq: 1, ...sync });
    await journal.append('ab', ['ab1', 'ab2'], { nextSeq: 1, ...sync });
    await journal.append('a\u0000', ['nul'], { nextSeq: 1, ...sync });
    expect(await collect(journal.replay('a'))).toEqual([[1, 'a1']]);
    expect(await collect(journal.replay('ab'))).toEqual([[1, 'ab1'], [2, 'ab2']]);
    expect(await journal.highestSeq('a')).toBe(1);
  });

  it('refuses an append at the wrong seq with FailedPrecondition, writing nothing', async () => {
    const journal = new Journal(new MemoryBackend());
    await journal.append('acct', ['e1'], { nextSeq: 1, ...sync });
    for (const nextSeq of [1, 3]) {
      const error = await journal.append('acct', ['stale'], { nextSeq, ...sync }).catch((e: unknown) => e);
      expect(isUltraError(error, 'FailedPrecondition')).toBe(true);
      expect(error).toMatchObject({ details: { id: 'acct', expectedSeq: 2, nextSeq } });
    }
    expect(await collect(journal.replay('acct'))).toEqual([[1, 'e1']]);
  });

  it('refuses a second append to the same id while one is in flight', async () => {
    const journal = new Journal(new MemoryBackend());
    const first = journal.append('acct', ['a'], { nextSeq: 1, ...sync });
    await expect(journal.append('acct', ['b'], { nextSeq: 1, ...sync })).rejects.toMatchObject({ code: 'FailedPrecondition', message: /concurrent append/ });
    await expect(journal.append('other', ['c'], { nextSeq: 1, ...sync })).resolves.toBe(1);
    await first;
    expect(await collect(journal.replay('acct'))).toEqual([[1, 'a']]);
  });

  it('refuses bad arguments with InvalidArgument', async () => {
    const journal = new Journal(new MemoryBackend());
    await expect(journal.append('x', [], { nextSeq: 1, ...sync })).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(journal.append('', ['e'], { nextSeq: 1, ...sync })).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(journal.append('x'.repeat(1025), ['e'], { nextSeq: 1, ...sync })).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(journal.append('x', ['e'], { nextSeq: 1.5, ...sync })).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(journal.append('x', [Symbol('no')], { nextSeq: 1, ...sync })).rejects.toMatchObject({ code: 'InvalidArgument' });
  });

  it('deleteUpTo removes covered events but keeps highestSeq, so appends go on', async () => {
    const journal = new Journal(new MemoryBackend());
    await journal.append('acct', [1, 2, 3, 4], { nextSeq: 1, ...sync });
    await journal.deleteUpTo('acct', 2);
    expect(await collect(journal.replay('acct'))).toEqual([[3, 3], [4, 4]]);
    await journal.deleteUpTo('acct', 4);
    expect(await collect(journal.replay('acct'))).toEqual([]);
    expect(await journal.highestSeq('acct')).toBe(4);
    await expect(journal.append('acct', [5], { nextSeq: 1, ...sync })).rejects.toMatchObject({ code: 'FailedPrecondition' });
    expect(await journal.append('acct', [5], { nextSeq: 5, ...sync })).toBe(5);
    await journal.deleteUpTo('acct', 1);
    expect(await collect(journal.replay('acct'))).toEqual([[5, 5]]);
    expect(await journal.highestSeq('acct')).toBe(5);
    await expect(journal.deleteUpTo('acct', 6)).rejects.toMatchObject({ code: 'FailedPrecondition' });
  });

  it('loses an unsynced append in a crash, but never a synced one', async () => {
    const backend = new MemoryBackend();
    const journal = new Journal(backend);
    await journal.append('acct', ['durable'], { nextSeq: 1, sync: true });
    await journal.append('acct', ['volatile'], { nextSeq: 2, sync: false });
    backend.crash();
    expect(await collect(journal.replay('acct'))).toEqual([[1, 'durable']]);
    expect(await journal.append('acct', ['again'], { nextSeq: 2, sync: true })).toBe(2);
  });

  it('reports a corrupt stored event as Internal', async () => {
    const backend = new MemoryBackend();
    const journal = new Journal(backend);
    await journal.append('acct', ['ok'], { nextSeq: 1, ...sync });
    const [entry] = await Array.fromAsync(backend.iterate({}));
    await backend.batch([{ type: 'put', key: entry![0], value: new Uint8Array([0xc1]) }], sync);
    await expect(collect(journal.replay('acct'))).rejects.toMatchObject({ code: 'Internal' });
  });
});
