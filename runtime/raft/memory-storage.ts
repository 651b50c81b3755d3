// An in-memory RaftStorage: the reference implementation of the storage contract, used by tests
// and as the shape the persistence-backed storage follows (append, hard state, snapshot, compact).

import { assert } from '../errors.ts';
import type { ConfState } from './conf-change.ts';
import { EMPTY_SNAPSHOT, limitBytes, type Entry, type Snapshot } from './entry.ts';
import { EMPTY_HARD_STATE, type HardState, type RaftStorage } from './storage.ts';

export class MemoryRaftStorage implements RaftStorage {
  #hardState: HardState = EMPTY_HARD_STATE;
  #snapshot: Snapshot = EMPTY_SNAPSHOT;
  /** Entries after the snapshot: #entries[k] has index #snapshot.index + 1 + k. */
  #entries: Entry[] = [];

  hardState(): HardState {
    return this.#hardState;
  }

  firstIndex(): number {
    return this.#snapshot.index + 1;
  }

  lastIndex(): number {
    return this.#snapshot.index + this.#entries.length;
  }

  term(index: number): number {
    assert(index >= this.#snapshot.index && index <= this.lastIndex(), `storage term(${index}) out of range`);
    if (index === this.#snapshot.index) return this.#snapshot.term;
    return this.#at(index).term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    assert(lo >= this.firstIndex() && lo < hi && hi <= this.lastIndex() + 1, `storage entries(${lo}, ${hi}) out of range`);
    const offset = this.#snapshot.index + 1;
    return limitBytes(this.#entries.slice(lo - offset, hi - offset), maxBytes);
  }

  snapshot(): Snapshot {
    return this.#snapshot;
  }

  setHardState(hardState: HardState): void {
    this.#hardState = hardState;
  }

  /**
   * Persists entries from a Ready. They may overwrite an uncommitted suffix (a new leader's log
   * wins), so everything from the first new index on is replaced; the part already covered by the
   * snapshot is skipped.
   */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    assert(first.index <= this.lastIndex() + 1, `append at ${first.index} leaves a gap after ${this.lastIndex()}`);
    // In place: the log holds up to a snapshot interval of entries, and copying it on every Ready
    // made each append cost (and allocate) in proportion to the whole log.
    this.#entries.length = Math.max(0, first.index - this.#snapshot.index - 1);
    for (const entry of entries) if (entry.index > this.#snapshot.index) this.#entries.push(entry);
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(snapshot: Snapshot): void {
    assert(snapshot.index > this.#snapshot.index, `snapshot ${snapshot.index} is not newer than ${this.#snapshot.index}`);
    this.#snapshot = snapshot;
    this.#entries = [];
  }

  /**
   * Log compaction: `snapshotData` is the state machine as of `index`, which the application has
   * applied (so it is committed); the entries up to `index` are dropped. `conf` is the membership as
   * of `index` (RaftNode.confState() right after applying it), for a group that changes it.
   */
  compact(index: number, snapshotData: Uint8Array, conf?: ConfState): void {
    assert(index > this.#snapshot.index, `compact(${index}) is not past the snapshot at ${this.#snapshot.index}`);
    assert(index <= this.#hardState.commit, `compact(${index}) beyond the commit index ${this.#hardState.commit}`);
    assert(index <= this.lastIndex(), `compact(${index}) beyond the last index ${this.lastIndex()}`);
    const term = this.term(index);
    this.#entries = this.#entries.slice(index - this.#snapshot.index);
    this.#snapshot = { index, term, data: snapshotData, ...(conf === undefined ? {} : { conf }) };
  }

  #at(index: number): Entry {
    const entry = this.#entries[index - this.#snapshot.index - 1];
    assert(entry !== undefined, `no entry ${index} in storage`);
    return entry;
  }
}
