import { describe, expect, it } from 'vitest';
import { MemoryBackend, SnapshotStore } from '../../../runtime/persistence/index.ts';

/** The seqs of every snapshot stored (small seqs: the key's last byte), per id in key order. */
async function storedSeqs(backend: MemoryBackend): Promise<number[]> {
  const seqs: number[] = [];
  for await (const [key] of backend.iterate({})) seqs.push(key[key.length - 1]!);
  return seqs;
}

describe('SnapshotStore', () => {
  it('returns the latest snapshot, or undefined for an id without one', async () => {
    const store = new SnapshotStore(new MemoryBackend());
    expect(await store.latest('acct')).toBeUndefined();
    await store.save('acct', 3, { balance: 30 });
    await store.save('acct', 7, { balance: 70 });
    await store.save('other', 9, 'x');
    expect(await store.latest('acct')).toEqual({ seq: 7, state: { balance: 70 } });
    expect(await store.latest('other')).toEqual({ seq: 9, state: 'x' });
  });

  it('keeps the newest two snapshots per id by default and deletes older ones', async () => {
    const backend = new MemoryBackend();
    const store = new SnapshotStore(backend);
    for (const seq of [1, 2, 3, 4, 5]) await store.save('acct', seq, seq * 10);
    expect(await storedSeqs(backend)).toEqual([4, 5]);
    await store.save('b', 1, 'b1');
    // Keys order by id length first, so 'b' sorts before 'acct'.
    expect(await storedSeqs(backend)).toEqual([1, 4, 5]);
    expect(await store.latest('acct')).toEqual({ seq: 5, state: 50 });
  });

  it('keeps as many as asked for', async () => {
    for (const keep of [1, 3]) {
      const backend = new MemoryBackend();
      const store = new SnapshotStore(backend, { keep });
      for (const seq of [2, 4, 6, 8, 10]) await store.save('acct', seq, seq);
      expect(await storedSeqs(backend)).toEqual([2, 4, 6, 8, 10].slice(-keep));
    }
    expect(() => new SnapshotStore(new MemoryBackend(), { keep: 0 })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });

  it('replaces a snapshot saved again at the latest seq, and refuses an older seq', async () => {
    const backend = new MemoryBackend();
    const store = new SnapshotStore(backend);
    await store.save('acct', 4, 'first');
    await store.save('acct', 6, 'second');
    await store.save('acct', 6, 'again');
    expect(await store.latest('acct')).toEqual({ seq: 6, state: 'again' });
    expect(await storedSeqs(backend)).toEqual([4, 6]);
    await expect(store.save('acct', 5, 'older')).rejects.toMatchObject({ code: 'FailedPrecondition' });
    expect(await storedSeqs(backend)).toEqual([4, 6]);
  });

  it('saves synced, so a crash keeps it', async () => {
    const backend = new MemoryBackend();
    const store = new SnapshotStore(backend);
    await store.save('acct', 1, { n: 1 });
    expect(backend.unsyncedBatches).toBe(0);
    backend.crash();
    expect(await store.latest('acct')).toEqual({ seq: 1, state: { n: 1 } });
  });
});
