// The event journal: per persistence id, an append-only log of events numbered 1, 2, 3, … with no
// gaps, on a KvBackend. It is what a persistent actor recovers from (after its latest snapshot).
//
// One writer per id: the journal takes no lock. A persistent actor owns its id and appends one
// command's events at a time, naming the sequence number it expects next; a writer with a stale
// view (a second incarnation of the same id, a bug) is refused with FailedPrecondition instead of
// overwriting events. Two appends to one id in flight at once in this process are refused the
// same way, which closes the window between the check and the write. Across processes, LevelDB's
// directory lock keeps a second process out.
import { UltraError } from '../errors.ts';
import { RECORD_KIND, checkSeq, encodeSeq, idKey, seqKey, seqRange, trailingSeq } from './record-keys.ts';
import type { KvBackend, KvOp } from './store.ts';
import { decodeValue, encodeValue } from './value-codec.ts';

export interface JournalEntry<E> {
  readonly seq: number;
  readonly event: E;
}

export interface AppendOptions {
  /** The seq the first event gets: highestSeq(id) + 1, or the append is refused. */
  readonly nextSeq: number;
  /** Resolve only once the events are durable (see KvWriteOptions.sync). */
  readonly sync: boolean;
}

export class Journal {
  readonly #backend: KvBackend;
  readonly #appending = new Set<string>();

  constructor(backend: KvBackend) {
    this.#backend = backend;
  }

  /**
   * Appends `events` as seqs nextSeq, nextSeq + 1, …, atomically. Resolves with the seq of the
   * last event. Rejects with FailedPrecondition when nextSeq is not highestSeq(id) + 1.
   */
  async append(id: string, events: readonly unknown[], options: AppendOptions): Promise<number> {
    checkSeq(options.nextSeq, 'nextSeq');
    if (events.length === 0) throw new UltraError('InvalidArgument', `append to '${id}' needs at least one event`);
    const lastSeq = options.nextSeq + events.length - 1;
    checkSeq(lastSeq, 'last seq');
    const ops: KvOp[] = events.map((event, i) => ({
      type: 'put',
      key: seqKey(RECORD_KIND.event, id, options.nextSeq + i),
      value: encodeValue(event, `event ${options.nextSeq + i} of '${id}'`),
    }));
    if (this.#appending.has(id)) {
      throw new UltraError('FailedPrecondition', `concurrent append to '${id}': a persistence id has one writer`);
    }
    this.#appending.add(id);
    try {
      const highest = await this.highestSeq(id);
      if (options.nextSeq !== highest + 1) {
        throw new UltraError('FailedPrecondition', `append to '${id}' at seq ${options.nextSeq}, but the journal expects ${highest + 1}`, {
          id,
          expectedSeq: highest + 1,
          nextSeq: options.nextSeq,
        });
      }
      await this.#backend.batch(ops, { sync: options.sync });
      return lastSeq;
    } finally {
      this.#appending.delete(id);
    }
  }

  /**
   * The events of `id` with fromSeq ≤ seq ≤ toSeq, at most `max` of them, in seq order. Events
   * already deleted (deleteUpTo) are skipped, so the first one may come after fromSeq.
   */
  replay<E = unknown>(id: string, fromSeq = 1, toSeq = Number.MAX_SAFE_INTEGER, max = Infinity): AsyncIterable<JournalEntry<E>> {
    checkSeq(fromSeq, 'fromSeq');
    checkSeq(toSeq, 'toSeq');
    if (!(max >= 0)) throw new UltraError('InvalidArgument', `max must be ≥ 0, got ${max}`);
    const entries = this.#backend.iterate({ ...seqRange(RECORD_KIND.event, id, fromSeq, toSeq + 1), limit: max === Infinity ? undefined : Math.floor(max) });
    return (async function* () {
      for await (const [key, value] of entries) {
        const seq = trailingSeq(key);
        yield { seq, event: decodeValue(value, `event ${seq} of '${id}'`) as E };
      }
    })();
  }

  /** The seq of the last event ever appended to `id` (deleted or not); 0 when there is none. */
  async highestSeq(id: string): Promise<number> {
    let last = 0;
    for await (const [key] of this.#backend.iterate({ ...seqRange(RECORD_KIND.event, id), reverse: true, limit: 1 })) last = trailingSeq(key);
    return Math.max(last, await this.#floor(id));
  }

  /**
   * Deletes the events of `id` up to and including `seq` — those a durable snapshot covers.
   * highestSeq is kept (a marker remembers it), so appends go on where they were. The write is
   * not synced: if a crash loses it, the events are simply still there.
   */
  async deleteUpTo(id: string, seq: number): Promise<void> {
    checkSeq(seq, 'seq');
    const highest = await this.highestSeq(id);
    if (seq > highest) {
      throw new UltraError('FailedPrecondition', `cannot delete the events of '${id}' up to ${seq}: the journal ends at ${highest}`);
    }
    const ops: KvOp[] = [];
    for await (const [key] of this.#backend.iterate(seqRange(RECORD_KIND.event, id, 0, seq + 1))) ops.push({ type: 'del', key });
    if (seq > (await this.#floor(id))) ops.push({ type: 'put', key: idKey(RECORD_KIND.journalFloor, id), value: encodeSeq(seq) });
    await this.#backend.batch(ops, { sync: false });
  }

  async #floor(id: string): Promise<number> {
    const value = await this.#backend.get(idKey(RECORD_KIND.journalFloor, id));
    return value === undefined ? 0 : trailingSeq(value);
  }
}
