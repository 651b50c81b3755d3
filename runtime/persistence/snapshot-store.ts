// Snapshots of persistent actor state: per persistence id, the state as of some journal seq, so
// recovery replays only the events after it. The newest `keep` snapshots of an id are kept (an
// older one is a fallback for an operator if the newest turns out unreadable); older ones are
// deleted in the same atomic write that saves a new one.
import { UltraError } from '../errors.ts';
import { RECORD_KIND, checkSeq, seqKey, seqRange, trailingSeq } from './record-keys.ts';
import type { KvBackend, KvOp } from './store.ts';
import { decodeValue, encodeValue } from './value-codec.ts';

export interface Snapshot<S> {
  /** The seq of the last journal event the state includes. */
  readonly seq: number;
  readonly state: S;
}

export interface SnapshotStoreOptions {
  /** Snapshots kept per id, at least 1 (default 2). */
  readonly keep?: number;
}

export class SnapshotStore {
  readonly keep: number;
  readonly #backend: KvBackend;

  constructor(backend: KvBackend, options: SnapshotStoreOptions = {}) {
    const keep = options.keep ?? 2;
    if (!Number.isSafeInteger(keep) || keep < 1) throw new UltraError('InvalidArgument', `keep must be an integer ≥ 1, got ${keep}`);
    this.#backend = backend;
    this.keep = keep;
  }

  /**
   * Saves `state` as of journal seq `seq` and deletes the snapshots beyond the newest `keep`.
   * Always synced: a snapshot must be durable before the journal events it covers may be deleted.
   * Saving again at the latest seq replaces that snapshot; an older seq is FailedPrecondition.
   */
  async save(id: string, seq: number, state: unknown): Promise<void> {
    checkSeq(seq, 'snapshot seq');
    const value = encodeValue(state, `snapshot ${seq} of '${id}'`);
    const older: Uint8Array[] = [];
    for await (const [key] of this.#backend.iterate({ ...seqRange(RECORD_KIND.snapshot, id), reverse: true })) {
      const existing = trailingSeq(key);
      if (existing > seq) {
        throw new UltraError('FailedPrecondition', `snapshot of '${id}' at seq ${seq} is older than the latest one, at ${existing}`);
      }
      if (existing < seq) older.push(key);
    }
    const ops: KvOp[] = [{ type: 'put', key: seqKey(RECORD_KIND.snapshot, id, seq), value }];
    for (const key of older.slice(this.keep - 1)) ops.push({ type: 'del', key });
    await this.#backend.batch(ops, { sync: true });
  }

  /** The newest snapshot of `id`, or undefined when there is none. */
  async latest<S = unknown>(id: string): Promise<Snapshot<S> | undefined> {
    for await (const [key, value] of this.#backend.iterate({ ...seqRange(RECORD_KIND.snapshot, id), reverse: true, limit: 1 })) {
      const seq = trailingSeq(key);
      return { seq, state: decodeValue(value, `snapshot ${seq} of '${id}'`) as S };
    }
    return undefined;
  }
}
