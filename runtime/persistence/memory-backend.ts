// An in-memory KvBackend for tests. Its promises settle through microtasks alone —
// no timers, no I/O — so actors on virtual time stay deterministic. It also models durability:
// it remembers which batches were synced, and `crash()` throws away everything a power loss would
// (each batch not followed by a sync batch), so recovery code can be tested against it.
import { UltraError } from '../errors.ts';
import type { KvBackend, KvEntry, KvOp, KvRange, KvWriteOptions } from './store.ts';

export class MemoryBackend implements KvBackend {
  /** What reads see. */
  #live = new SortedTable();
  /** What would survive a crash now: every batch up to the last sync one. */
  readonly #durable = new SortedTable();
  /** Batches written since the last sync batch, oldest first. */
  #unsynced: Array<readonly KvOp[]> = [];
  #closed = false;

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.#checkOpen();
    return this.#live.get(key)?.slice();
  }

  async batch(ops: readonly KvOp[], options: KvWriteOptions): Promise<void> {
    this.#checkOpen();
    if (ops.length === 0) return;
    // Copies, so that a caller reusing its buffers cannot change what was written.
    const owned = ops.map((op): KvOp => (op.type === 'put' ? { type: 'put', key: op.key.slice(), value: op.value.slice() } : { type: 'del', key: op.key.slice() }));
    this.#live.apply(owned);
    if (!options.sync) {
      this.#unsynced.push(owned);
      return;
    }
    // An fsync flushes the whole log: the earlier unsynced batches become durable with this one.
    for (const earlier of this.#unsynced) this.#durable.apply(earlier);
    this.#durable.apply(owned);
    this.#unsynced = [];
  }

  iterate(range: KvRange): AsyncIterable<KvEntry> {
    // The entries are taken now, so the iteration sees the data as of this call.
    const entries = this.#closed ? undefined : this.#live.range(range);
    return (async function* () {
      if (entries === undefined) throw closedError();
      yield* entries;
    })();
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  /**
   * A machine crash and restart: every batch written since the last sync batch is lost. The
   * backend stays open, holding what was durable, as if reopened on the same disk.
   */
  crash(): void {
    this.#live = this.#durable.clone();
    this.#unsynced = [];
  }

  /** Batches that a crash now would lose. */
  get unsyncedBatches(): number {
    return this.#unsynced.length;
  }

  #checkOpen(): void {
    if (this.#closed) throw closedError();
  }
}

function closedError(): UltraError {
  return new UltraError('FailedPrecondition', 'memory backend is closed');
}

/** Keys in unsigned byte order, in two parallel sorted arrays (binary search; fine for tests). */
class SortedTable {
  #keys: Uint8Array[] = [];
  #values: Uint8Array[] = [];

  get(key: Uint8Array): Uint8Array | undefined {
    const i = this.#lowerBound(key);
    return i < this.#keys.length && Buffer.compare(this.#keys[i]!, key) === 0 ? this.#values[i] : undefined;
  }

  apply(ops: readonly KvOp[]): void {
    for (const op of ops) {
      const i = this.#lowerBound(op.key);
      const found = i < this.#keys.length && Buffer.compare(this.#keys[i]!, op.key) === 0;
      if (op.type === 'put') {
        if (found) {
          this.#values[i] = op.value;
        } else {
          this.#keys.splice(i, 0, op.key);
          this.#values.splice(i, 0, op.value);
        }
      } else if (found) {
        this.#keys.splice(i, 1);
        this.#values.splice(i, 1);
      }
    }
  }

  /** Copies of the entries in `range`, in iteration order. */
  range(range: KvRange): KvEntry[] {
    const start = range.gte === undefined ? 0 : this.#lowerBound(range.gte);
    const end = Math.max(start, range.lt === undefined ? this.#keys.length : this.#lowerBound(range.lt));
    const count = Math.min(end - start, range.limit ?? Infinity);
    const out: KvEntry[] = [];
    for (let n = 0; n < count; n++) {
      const i = range.reverse === true ? end - 1 - n : start + n;
      out.push([this.#keys[i]!.slice(), this.#values[i]!.slice()]);
    }
    return out;
  }

  clone(): SortedTable {
    const copy = new SortedTable();
    // Stored arrays are never mutated (writes replace them), so sharing them is safe.
    copy.#keys = [...this.#keys];
    copy.#values = [...this.#values];
    return copy;
  }

  /** Index of the first key ≥ `key`. */
  #lowerBound(key: Uint8Array): number {
    let lo = 0;
    let hi = this.#keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Buffer.compare(this.#keys[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
