// The revisions of one key, oldest first: every put (a KeyValue) and delete (a tombstone) still
// held, so reads at a past revision and watches from one can be answered until compaction.

import { assert } from '../../../runtime/errors.ts';
import { ENTRY_OVERHEAD_BYTES } from './limits.ts';
import type { KeyValue } from './types.ts';

export interface HistoryEntry {
  /** The revision of the write (its kv's mod_revision when live). */
  readonly main: bigint;
  /** Order of the write within its revision (a txn writes several keys at one revision). */
  readonly sub: number;
  /** Undefined for a tombstone. */
  readonly kv: KeyValue | undefined;
}

export class KeyHistory {
  readonly key: Uint8Array;
  #entries: HistoryEntry[];

  constructor(key: Uint8Array, entries: HistoryEntry[] = []) {
    this.key = key;
    this.#entries = entries;
  }

  get entries(): readonly HistoryEntry[] {
    return this.#entries;
  }

  get isEmpty(): boolean {
    return this.#entries.length === 0;
  }

  /** The live version as of the newest revision, if the key exists now. */
  latest(): KeyValue | undefined {
    return this.#entries.at(-1)?.kv;
  }

  /** Bytes an entry of this key costs against the space quota. */
  entryBytes(entry: HistoryEntry): number {
    return this.key.byteLength + (entry.kv?.value.byteLength ?? 0) + ENTRY_OVERHEAD_BYTES;
  }

  append(entry: HistoryEntry): void {
    const last = this.#entries.at(-1);
    // Txn validation rejects two writes to one key in one txn, so revisions strictly increase.
    assert(last === undefined || entry.main > last.main, `key history revision ${entry.main} not after ${last?.main}`);
    this.#entries.push(entry);
  }

  /** Position of the newest entry with main <= rev, or -1. */
  #indexAt(rev: bigint): number {
    let lo = 0;
    let hi = this.#entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#entries[mid]!.main <= rev) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /** The key's value as of revision `rev` (undefined if it did not exist then). */
  at(rev: bigint): KeyValue | undefined {
    const last = this.#entries.at(-1);
    if (last !== undefined && last.main <= rev) return last.kv;
    const i = this.#indexAt(rev);
    return i < 0 ? undefined : this.#entries[i]!.kv;
  }

  /** Entries with main >= rev, each with the live version it replaced (if still held). */
  *since(rev: bigint): Generator<{ readonly entry: HistoryEntry; readonly prev: KeyValue | undefined }> {
    for (let i = this.#indexAt(rev - 1n) + 1; i < this.#entries.length; i++) {
      yield { entry: this.#entries[i]!, prev: this.#entries[i - 1]?.kv };
    }
  }

  /**
   * Drops what no read at revision >= rev can see: every entry older than the newest one at or
   * before rev, and that one too if it is a tombstone. Returns the quota bytes freed.
   */
  compact(rev: bigint): number {
    const i = this.#indexAt(rev);
    if (i < 0) return 0;
    const keepFrom = this.#entries[i]!.kv === undefined ? i + 1 : i;
    let freed = 0;
    for (let j = 0; j < keepFrom; j++) freed += this.entryBytes(this.#entries[j]!);
    if (keepFrom > 0) this.#entries = this.#entries.slice(keepFrom);
    return freed;
  }
}
