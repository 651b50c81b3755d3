// DurableRaftLog's writes: entries, snapshots and term/vote changes go out in one synced batch; a
// Ready that only moves the commit index is not written on its own but rides along with the next
// synced batch (etcd's MustSync), and a reopened log holds exactly what was written.
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../../runtime/persistence/memory-backend.ts';
import type { KvBackend, KvOp, KvWriteOptions } from '../../../runtime/persistence/store.ts';
import { DurableRaftLog } from '../../../runtime/raft/durable-raft-log.ts';
import type { Ready } from '../../../runtime/raft/ready.ts';
import { bytes } from './harness.ts';

/** A MemoryBackend that records every batch's size and sync flag. */
class RecordingBackend extends MemoryBackend {
  readonly batches: Array<{ readonly ops: number; readonly sync: boolean }> = [];
  override batch(ops: readonly KvOp[], options: KvWriteOptions): Promise<void> {
    this.batches.push({ ops: ops.length, sync: options.sync });
    return super.batch(ops, options);
  }
}

const ready = (fields: Partial<Ready>): Ready => ({ entries: [], committedEntries: [], messages: [], readStates: [], ...fields });
const entry = (index: number, term = 1) => ({ index, term, data: bytes(`e${index}`) });

describe('durable raft log', () => {
  it('syncs entries and term/vote changes, and carries a commit-only change with the next synced batch', async () => {
    const backend = new RecordingBackend();
    const log = await DurableRaftLog.open(backend, 'g');
    await log.persist(ready({ hardState: { term: 1, vote: 'a', commit: 0 }, entries: [entry(1), entry(2)] }));
    expect(backend.batches).toEqual([{ ops: 3, sync: true }]);

    const commitOnly = ready({ hardState: { term: 1, vote: 'a', commit: 2 } });
    expect(log.mustSync(commitOnly)).toBe(false);
    await log.persist(commitOnly);
    expect(backend.batches).toHaveLength(1);
    expect(log.storage.hardState().commit).toBe(2);
    // A crash now loses only the commit index.
    expect((await DurableRaftLog.open(backend, 'g')).storage.hardState()).toEqual({ term: 1, vote: 'a', commit: 0 });

    // The next synced batch (no hard state change of its own) writes the deferred one too.
    await log.persist(ready({ entries: [entry(3)] }));
    expect(backend.batches.at(-1)).toEqual({ ops: 2, sync: true });
    const reopened = await DurableRaftLog.open(backend, 'g');
    expect(reopened.storage.hardState()).toEqual({ term: 1, vote: 'a', commit: 2 });
    expect(reopened.storage.lastIndex()).toBe(3);

    // A new vote is never deferred.
    expect(log.mustSync(ready({ hardState: { term: 2, vote: 'b', commit: 2 } }))).toBe(true);
  });

  it('writes a deferred commit index with a log compaction', async () => {
    const backend: KvBackend & { batches: Array<{ ops: number; sync: boolean }> } = new RecordingBackend();
    const log = await DurableRaftLog.open(backend, 'g');
    await log.persist(ready({ hardState: { term: 1, vote: 'a', commit: 0 }, entries: [entry(1), entry(2)] }));
    await log.persist(ready({ hardState: { term: 1, vote: 'a', commit: 2 } }));
    await log.compact(2, bytes('state'));
    const reopened = await DurableRaftLog.open(backend, 'g');
    expect(reopened.storage.hardState().commit).toBe(2);
    expect(reopened.storage.snapshot().index).toBe(2);
    expect(backend.batches.every((b) => b.sync)).toBe(true);
  });
});
