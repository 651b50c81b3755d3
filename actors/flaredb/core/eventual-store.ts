// One store's copy of the eventual namespaces: last-writer-wins registers under internal keys,
// ordered by (TSO timestamp, origin store) so every store picks the same winner whatever order the
// updates arrive in. Deletes are tombstones (a delete must beat an older put that arrives later).
// Every change this store accepts gets a local sequence number; replication pushes each peer the
// changes after the last sequence it acknowledged, so a peer that was cut off or restarted catches
// up, and after a heal all replicas converge to the same winners.
import { SortedMap } from './sorted-map.ts';

export interface EventualRecord {
  readonly ts: bigint;
  /** The store that took the write (tie-breaker between equal timestamps). */
  readonly origin: string;
  /** null: a tombstone. */
  readonly value: Uint8Array | null;
}

export interface EventualChange {
  readonly seq: number;
  readonly key: string;
  readonly record: EventualRecord;
  /** The peer this change came from (not pushed back to it); undefined for local writes. */
  readonly from: string | undefined;
}

/** Whether `a` wins over `b` under last-writer-wins. */
export function lwwWins(a: EventualRecord, b: EventualRecord): boolean {
  return a.ts > b.ts || (a.ts === b.ts && a.origin > b.origin);
}

export class EventualStore {
  readonly #data = new SortedMap<EventualRecord>();
  #seq = 0;
  /** seq → key, ascending (Map keeps insertion order and seqs only grow). */
  readonly #log = new Map<number, { readonly key: string; readonly from: string | undefined }>();
  readonly #seqOf = new Map<string, number>();

  get lastSeq(): number {
    return this.#seq;
  }

  get size(): number {
    return this.#data.size;
  }

  /** Offers a record; true if it won (was stored and logged for replication). */
  offer(key: string, record: EventualRecord, from?: string): boolean {
    const current = this.#data.get(key);
    if (current !== undefined && !lwwWins(record, current)) return false;
    this.#data.set(key, record);
    const old = this.#seqOf.get(key);
    if (old !== undefined) this.#log.delete(old);
    const seq = ++this.#seq;
    this.#log.set(seq, { key, from });
    this.#seqOf.set(key, seq);
    return true;
  }

  /** The live record (not a tombstone). */
  get(key: string): EventualRecord | undefined {
    const record = this.#data.get(key);
    return record === undefined || record.value === null ? undefined : record;
  }

  /** The record including tombstones. */
  raw(key: string): EventualRecord | undefined {
    return this.#data.get(key);
  }

  /** Up to `limit` live entries in [from, to), and whether more live entries follow. */
  scan(from: string, to: string | undefined, limit: number): { readonly entries: Array<[string, EventualRecord]>; readonly more: boolean } {
    const entries: Array<[string, EventualRecord]> = [];
    for (const [key, record] of this.#data.range(from, to)) {
      if (record.value === null) continue;
      if (entries.length === limit) return { entries, more: true };
      entries.push([key, record]);
    }
    return { entries, more: false };
  }

  /** Changes after `seq` and up to `upTo` (default: the last), oldest first, at most `limit`. */
  changesAfter(seq: number, limit: number, upTo = Infinity): EventualChange[] {
    const out: EventualChange[] = [];
    for (const [s, { key, from }] of this.#log) {
      if (s <= seq) continue;
      if (s > upTo) break;
      out.push({ seq: s, key, record: this.#data.get(key)!, from });
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Forgets log entries every peer acknowledged (they stay in the data). */
  prune(ackedByAll: number): void {
    for (const [s, { key }] of this.#log) {
      if (s > ackedByAll) break;
      this.#log.delete(s);
      if (this.#seqOf.get(key) === s) this.#seqOf.delete(key);
    }
  }

  *entries(): Generator<[string, EventualRecord]> {
    yield* this.#data.entries();
  }
}
