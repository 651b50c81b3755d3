// The log as the core sees it: persisted entries (through RaftStorage) followed by the unstable
// tail, plus the commit and apply cursors. All log consistency rules of Raft live here.

import { assert } from '../errors.ts';
import { limitBytes, type Entry, type Snapshot } from './entry.ts';
import type { RaftStorage } from './storage.ts';
import { Unstable } from './unstable.ts';

export class RaftLog {
  readonly #storage: RaftStorage;
  readonly unstable: Unstable;
  /** Highest index known to be stored on a quorum. */
  committed: number;
  /** Highest index handed to the application to apply (acknowledged through advance). */
  applied: number;

  constructor(storage: RaftStorage) {
    this.#storage = storage;
    this.unstable = new Unstable(storage.lastIndex() + 1);
    this.committed = storage.firstIndex() - 1;
    this.applied = storage.firstIndex() - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.#storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.#storage.lastIndex();
  }

  lastTerm(): number {
    const term = this.term(this.lastIndex());
    assert(term !== undefined, 'the last entry has a term');
    return term;
  }

  /**
   * Term of the entry at `index`: 0 past the end of the log (no entry, so no term), undefined if
   * compacted away (known to exist, term no longer known).
   */
  term(index: number): number | undefined {
    if (index > this.lastIndex()) return 0;
    if (index < this.firstIndex() - 1) return undefined;
    return this.unstable.maybeTerm(index) ?? this.#storage.term(index);
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Raft's §5.4.1 "at least as up-to-date" comparison, for granting votes. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * The follower side of AppendEntries: if our log has (prevIndex, prevTerm), append `entries`
   * (dropping any conflicting suffix) and learn the leader's commit index, bounded by what the
   * leader proved we hold. Returns the index of the last entry now known to match the leader's.
   */
  maybeAppend(prevIndex: number, prevTerm: number, leaderCommit: number, entries: readonly Entry[]): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = prevIndex + entries.length;
    const conflict = this.#findConflict(entries);
    if (conflict !== 0) {
      assert(conflict > this.committed, `entry ${conflict} conflicts with committed ${this.committed}`);
      this.append(entries.slice(conflict - prevIndex - 1));
    }
    this.commitTo(Math.min(leaderCommit, lastNew));
    return lastNew;
  }

  /** Appends after truncating from the first new index; never touches committed entries. */
  append(entries: readonly Entry[]): number {
    const first = entries[0];
    if (first !== undefined) {
      assert(first.index - 1 >= this.committed, `append at ${first.index} would overwrite committed ${this.committed}`);
      this.unstable.truncateAndAppend(entries);
    }
    return this.lastIndex();
  }

  /**
   * The fast-backtracking hint (etcd's): the largest index ≤ `index` whose term is ≤ `term`. Entries
   * after it cannot match a log whose entry at `index` has `term`, so probing can skip them.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = Math.min(index, this.lastIndex()); i > 0; i--) {
      const ours = this.term(i);
      if (ours === undefined) return { index: i, term: 0 };
      if (ours <= term) return { index: i, term: ours };
    }
    return { index: 0, term: 0 };
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), `commit ${index} beyond the last index ${this.lastIndex()}`);
    this.committed = index;
  }

  /** Leader commit: only an entry of the leader's own term is committed by counting (Figure 8). */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.term(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  appliedTo(index: number): void {
    assert(index <= this.committed && index >= this.applied, `applied ${index} outside [${this.applied}, ${this.committed}]`);
    this.applied = index;
  }

  /** Committed entries not yet handed to the application, up to `maxBytes` (at least one). */
  nextCommittedEntries(maxBytes: number): Entry[] {
    const lo = Math.max(this.applied + 1, this.firstIndex());
    if (lo > this.committed) return [];
    return this.slice(lo, this.committed + 1, maxBytes);
  }

  hasNextCommittedEntries(): boolean {
    return Math.max(this.applied + 1, this.firstIndex()) <= this.committed;
  }

  /** Entries from `lo` to the end of the log, cut at `maxCount` entries and `maxBytes`; undefined if compacted. */
  entriesFrom(lo: number, maxCount: number, maxBytes: number): Entry[] | undefined {
    if (lo < this.firstIndex()) return undefined;
    if (lo > this.lastIndex()) return [];
    return this.slice(lo, Math.min(this.lastIndex() + 1, lo + maxCount), maxBytes);
  }

  /** Entries [lo, hi), reading storage below the unstable offset and the unstable tail above it. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    assert(lo >= this.firstIndex() && hi <= this.lastIndex() + 1 && lo < hi, `log slice [${lo}, ${hi}) out of range`);
    const offset = this.unstable.offset;
    let result: Entry[] = [];
    if (lo < offset) {
      result = this.#storage.entries(lo, Math.min(hi, offset), maxBytes);
      // Storage cut the batch short for size: the unstable part would only exceed it further.
      if (result.length < Math.min(hi, offset) - lo) return result;
    }
    if (hi > offset) result = result.concat(this.unstable.slice(Math.max(lo, offset), hi));
    return limitBytes(result, maxBytes);
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.#storage.snapshot();
  }

  /** Installs a leader's snapshot: the log now starts after it and everything up to it is committed. */
  restore(snapshot: Snapshot): void {
    this.committed = snapshot.index;
    this.unstable.restore(snapshot);
  }

  /** Index of the first entry in `entries` that is not in our log (missing or a different term), or 0. */
  #findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }
}
