// The log layers under the Raft core: in-memory storage, the unstable tail, RaftLog's consistency
// rules (append with conflicts, fast-backtracking hints, commit rules), progress and quorum math.
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../../runtime/raft/entry.ts';
import { Inflights } from '../../../runtime/raft/inflights.ts';
import { MemoryRaftStorage } from '../../../runtime/raft/memory-storage.ts';
import { Progress } from '../../../runtime/raft/progress.ts';
import { quorumIndex, tallyVotes } from '../../../runtime/raft/quorum.ts';
import { RaftLog } from '../../../runtime/raft/raft-log.ts';
import { bytes } from './harness.ts';

/** Entries first..first+terms.length-1 with the given terms. */
function entries(first: number, terms: number[]): Entry[] {
  return terms.map((term, k) => ({ index: first + k, term, data: bytes(`e${first + k}`) }));
}

function storageWith(terms: number[], commit = 0): MemoryRaftStorage {
  const storage = new MemoryRaftStorage();
  storage.append(entries(1, terms));
  storage.setHardState({ term: terms.at(-1) ?? 0, vote: null, commit });
  return storage;
}

describe('MemoryRaftStorage', () => {
  it('appends, overwrites a conflicting suffix, and compacts into a snapshot', () => {
    const storage = storageWith([1, 1, 2, 2], 2);
    storage.append(entries(3, [3]));
    expect([storage.firstIndex(), storage.lastIndex(), storage.term(3)]).toEqual([1, 3, 3]);
    storage.compact(2, bytes('state@2'));
    expect([storage.firstIndex(), storage.lastIndex(), storage.term(2), storage.term(3)]).toEqual([3, 3, 1, 3]);
    expect(storage.snapshot()).toMatchObject({ index: 2, term: 1 });
    expect(() => storage.term(1)).toThrow(/out of range/);
    expect(() => storage.compact(3, bytes('x'))).toThrow(/beyond the commit index/);
  });

  it('cuts entry batches by payload bytes, but always returns at least one entry', () => {
    const storage = storageWith([1, 1, 1]);
    expect(storage.entries(1, 4, 4)).toHaveLength(2);
    expect(storage.entries(1, 4, 0)).toHaveLength(1);
  });

  it('a received snapshot replaces the whole log', () => {
    const storage = storageWith([1, 1]);
    storage.applySnapshot({ index: 5, term: 3, data: bytes('s') });
    expect([storage.firstIndex(), storage.lastIndex(), storage.term(5)]).toEqual([6, 5, 3]);
  });
});

describe('RaftLog', () => {
  it('reads across storage and the unstable tail; term is 0 past the end and undefined when compacted', () => {
    const storage = storageWith([1, 1, 2], 3);
    storage.compact(1, bytes('s'));
    const log = new RaftLog(storage);
    log.append(entries(4, [3, 3]));
    expect([log.firstIndex(), log.lastIndex(), log.lastTerm()]).toEqual([2, 5, 3]);
    expect([log.term(0), log.term(1), log.term(3), log.term(5), log.term(6)]).toEqual([undefined, 1, 2, 3, 0]);
    expect(log.slice(2, 6, Infinity).map((e) => e.index)).toEqual([2, 3, 4, 5]);
    expect(log.entriesFrom(1, 10, Infinity)).toBeUndefined();
    expect(log.entriesFrom(2, 2, Infinity)!.map((e) => e.index)).toEqual([2, 3]);
  });

  it('maybeAppend checks prevLogIndex/prevLogTerm, truncates only at a real conflict, and bounds the commit', () => {
    const log = new RaftLog(storageWith([1, 2, 2]));
    expect(log.maybeAppend(3, 1, 3, [])).toBeUndefined();
    expect(log.maybeAppend(4, 2, 3, [])).toBeUndefined();
    // A duplicate of what we have changes nothing (no truncation of the entry after it).
    expect(log.maybeAppend(1, 1, 0, entries(2, [2]))).toBe(2);
    expect(log.lastIndex()).toBe(3);
    // A conflict at 3 replaces the suffix; the commit is bounded by the last new index.
    expect(log.maybeAppend(2, 2, 10, entries(3, [3, 3]))).toBe(4);
    expect([log.lastIndex(), log.term(3), log.committed]).toEqual([4, 3, 4]);
  });

  it('never truncates committed entries', () => {
    const log = new RaftLog(storageWith([1, 1], 2));
    log.commitTo(2);
    expect(() => log.append(entries(2, [5]))).toThrow(/overwrite committed/);
  });

  it('findConflictByTerm skips whole terms for the fast-backtracking hint', () => {
    const log = new RaftLog(storageWith([1, 1, 2, 2, 2, 4, 4]));
    expect(log.findConflictByTerm(7, 3)).toEqual({ index: 5, term: 2 });
    expect(log.findConflictByTerm(7, 4)).toEqual({ index: 7, term: 4 });
    expect(log.findConflictByTerm(4, 1)).toEqual({ index: 2, term: 1 });
    expect(log.findConflictByTerm(9, 0)).toEqual({ index: 0, term: 0 });
  });

  it('a leader commits by counting only entries of its own term (Figure 8)', () => {
    const log = new RaftLog(storageWith([1, 2]));
    expect(log.maybeCommit(2, 3)).toBe(false);
    expect(log.committed).toBe(0);
    log.append(entries(3, [3]));
    expect(log.maybeCommit(3, 3)).toBe(true);
    expect(log.committed).toBe(3);
  });

  it('is up to date by last term first, then by length', () => {
    const log = new RaftLog(storageWith([1, 2, 2]));
    expect(log.isUpToDate(1, 3)).toBe(true);
    expect(log.isUpToDate(3, 2)).toBe(true);
    expect(log.isUpToDate(2, 2)).toBe(false);
    expect(log.isUpToDate(9, 1)).toBe(false);
  });

  it('acknowledges persisted entries only if they were not replaced meanwhile', () => {
    const log = new RaftLog(new MemoryRaftStorage());
    log.append(entries(1, [1, 1]));
    log.append(entries(2, [2]));
    log.unstable.stableTo(2, 1);
    expect(log.unstable.offset).toBe(1);
    log.unstable.stableTo(2, 2);
    expect(log.unstable.offset).toBe(3);
  });

  it('restoring a snapshot moves the log past it and commits it', () => {
    const log = new RaftLog(storageWith([1]));
    log.restore({ index: 10, term: 4, data: bytes('s') });
    expect([log.firstIndex(), log.lastIndex(), log.lastTerm(), log.committed]).toEqual([11, 10, 4, 10]);
    expect(log.nextCommittedEntries(Infinity)).toEqual([]);
  });
});

describe('Progress and Inflights', () => {
  it('probe sends one append at a time; replicate pipelines up to the inflight bound', () => {
    const progress = new Progress(0, 1, 2);
    progress.probeSent = true;
    expect(progress.isPaused()).toBe(true);
    expect(progress.maybeUpdate(3)).toBe(true);
    progress.becomeReplicate();
    expect(progress.next).toBe(4);
    progress.inflights.add(5);
    progress.inflights.add(7);
    expect(progress.isPaused()).toBe(true);
    progress.inflights.freeLE(5);
    expect([progress.isPaused(), progress.inflights.count]).toEqual([false, 1]);
  });

  it('ignores stale rejections and backs off to the hint', () => {
    const progress = new Progress(2, 10, 4);
    expect(progress.maybeDecrTo(5, 3)).toBe(false);
    expect(progress.maybeDecrTo(9, 4)).toBe(true);
    expect(progress.next).toBe(5);
    // Never probe below what is known to match.
    expect(progress.maybeDecrTo(4, 0)).toBe(true);
    expect(progress.next).toBe(3);
    progress.becomeReplicate();
    expect(progress.maybeDecrTo(2, 0)).toBe(false);
  });

  it('leaving snapshot state resumes after the snapshot', () => {
    const progress = new Progress(2, 3, 4);
    progress.becomeSnapshot(20);
    expect(progress.isPaused()).toBe(true);
    progress.becomeProbe();
    expect([progress.state, progress.next]).toEqual(['probe', 21]);
  });

  it('an inflight window is bounded and frees in order', () => {
    const inflights = new Inflights(2);
    inflights.add(1);
    inflights.add(3);
    expect(() => inflights.add(4)).toThrow(/no room/);
    inflights.freeFirstOne();
    expect(inflights.count).toBe(1);
  });
});

describe('quorum', () => {
  it('tallies votes and the majority-replicated index', () => {
    const voters = ['a', 'b', 'c', 'd', 'e'];
    expect(tallyVotes(voters, new Map([['a', true], ['b', true]]))).toBe('pending');
    expect(tallyVotes(voters, new Map([['a', true], ['b', true], ['c', true]]))).toBe('won');
    expect(tallyVotes(voters, new Map([['a', false], ['b', false], ['c', false]]))).toBe('lost');
    expect(quorumIndex([5, 1, 4, 2, 3])).toBe(3);
    expect(quorumIndex([7])).toBe(7);
    expect(quorumIndex([9, 2, 4])).toBe(4);
  });
});
