// The storage seam under the journal and the snapshot store: an ordered map from binary keys to
// binary values. LevelBackend puts it on LevelDB, MemoryBackend in memory for tests, and the
// deterministic simulator puts it on a simulated disk — so the contract below is what every
// backend must honour, and all the persistence layer may rely on.

/** One write in a batch. Keys and values are copied or written out; callers may reuse them after. */
export type KvOp =
  | { readonly type: 'put'; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: 'del'; readonly key: Uint8Array };

export type KvEntry = readonly [key: Uint8Array, value: Uint8Array];

/** A key range in unsigned byte order (shorter key first when one is a prefix of the other). */
export interface KvRange {
  /** Lower bound, inclusive; omitted: from the first key. */
  readonly gte?: Uint8Array;
  /** Upper bound, exclusive; omitted: to the last key. */
  readonly lt?: Uint8Array;
  /** At most this many entries (a non-negative integer); omitted: no limit. */
  readonly limit?: number;
  /** Highest key first. `limit` then counts from the top of the range. */
  readonly reverse?: boolean;
}

export interface KvWriteOptions {
  /**
   * true: the returned promise resolves only once this batch — and so every batch written before
   * it — survives a crash of the process or the machine (an fsync). false: the batch is visible to
   * reads at once but may be lost in a crash until a later sync batch resolves.
   */
  readonly sync: boolean;
}

export interface KvBackend {
  /** The value at `key`, or undefined. Sees every batch that has resolved. */
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  /**
   * Applies every op in order, atomically: after a crash either all of them are there or none.
   * Batches are applied, and become durable, in the order they were called. An empty batch does
   * nothing, and so does not sync earlier batches either.
   */
  batch(ops: readonly KvOp[], options: KvWriteOptions): Promise<void>;
  /**
   * The entries in `range`, as of the call (writes made while iterating are not seen). Iterate to
   * the end or break out of the loop, so the backend can release the iterator.
   */
  iterate(range: KvRange): AsyncIterable<KvEntry>;
  /** Releases the store; every later call rejects. */
  close(): Promise<void>;
}
