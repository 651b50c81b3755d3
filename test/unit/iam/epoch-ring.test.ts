// The epoch record's change ring: a replica re-reads what changed since its epoch, or everything
// when it fell further behind than the ring reaches.
import { describe, expect, it } from 'vitest';
import { EPOCH_RING, IamStore } from '../../../actors/iam/store/iam-store.ts';
import { MemoryStrongKv } from '../../support/memory-strong-kv.ts';

describe('epoch ring', () => {
  it('names the changes since an epoch, deduplicated, until the ring no longer reaches back', async () => {
    const store = new IamStore(new MemoryStrongKv());
    await store.ready();
    expect(await store.readEpoch()).toEqual({ epoch: 0, recent: [] });
    expect(await store.bumpEpoch([{ table: 'users', id: 'a' }])).toBe(1);
    expect(await store.bumpEpoch([{ table: 'users', id: 'a' }, { table: 'bindings', id: 'b' }])).toBe(2);
    const record = await store.readEpoch();
    expect(store.changesSince(record, 0)).toEqual([{ table: 'users', id: 'a' }, { table: 'bindings', id: 'b' }]);
    expect(store.changesSince(record, 1)).toEqual([{ table: 'users', id: 'a' }, { table: 'bindings', id: 'b' }]);
    expect(store.changesSince(record, 2)).toEqual([]);
    for (let i = 0; i < EPOCH_RING; i++) await store.bumpEpoch([{ table: 'orgs', id: `o${i}` }]);
    const later = await store.readEpoch();
    expect(later.epoch).toBe(EPOCH_RING + 2);
    expect(later.recent).toHaveLength(EPOCH_RING);
    expect(store.changesSince(later, 1)).toBeUndefined();
    expect(store.changesSince(later, 2)).toHaveLength(EPOCH_RING);
    await expect(store.bumpEpoch([])).rejects.toMatchObject({ code: 'Internal' });
  });
});
