// A RaftStorage whose state survives crashes: an in-memory copy (MemoryRaftStorage, which the core
// reads synchronously) in front of a KvBackend, like etcd's MemoryStorage in front of its WAL.
// `persist(ready)` writes the Ready's snapshot, entries and hard state in ONE atomic, synced batch
// (a commit index alone waits for the next one) before the owner may send the Ready's messages (a
// leader's may go earlier, see Ready.sendBeforePersist); `open` rebuilds the memory copy from disk.
import { Codec } from '../codec/codec.ts';
import { assert } from '../errors.ts';
import type { KvBackend, KvOp } from '../persistence/store.ts';
import type { ConfState } from './conf-change.ts';
import type { Entry, Snapshot } from './entry.ts';
import { MemoryRaftStorage } from './memory-storage.ts';
import type { Ready } from './ready.ts';
import type { HardState } from './storage.ts';

const codec = new Codec();
const encoder = new TextEncoder();

/**
 * Key layout under the group's prefix: `h` hard state, `s` snapshot, `e` + big-endian index
 * entries, `r` present while the replica recovers (RaftConfig.recovering).
 */
function keys(group: string) {
  const prefix = encoder.encode(`raft/${group}/`);
  const withSuffix = (suffix: Uint8Array): Uint8Array => {
    const key = new Uint8Array(prefix.length + suffix.length);
    key.set(prefix);
    key.set(suffix, prefix.length);
    return key;
  };
  const entry = (index: number): Uint8Array => {
    const suffix = new Uint8Array(9);
    suffix[0] = 0x65; // 'e'
    // The big-endian uint64 as two halves: a BigInt per key cost more than the rest of it.
    const view = new DataView(suffix.buffer);
    view.setUint32(1, Math.floor(index / 2 ** 32));
    view.setUint32(5, index >>> 0);
    return withSuffix(suffix);
  };
  return {
    hardState: withSuffix(encoder.encode('h')),
    snapshot: withSuffix(encoder.encode('s')),
    entry,
    entriesEnd: withSuffix(encoder.encode('f')),
    recovering: withSuffix(encoder.encode('r')),
  };
}

export class DurableRaftLog {
  readonly storage = new MemoryRaftStorage();
  readonly #backend: KvBackend;
  readonly #keys: ReturnType<typeof keys>;
  /**
   * A hard state whose only change was the commit index, not written yet: it rides along with the
   * next write (see mustSync), so moving the commit index costs no disk write of its own.
   */
  #deferredHardState: HardState | undefined;
  #recovering = false;

  private constructor(backend: KvBackend, group: string) {
    this.#backend = backend;
    this.#keys = keys(group);
  }

  /**
   * Loads the group's hard state, snapshot and entries after it. `rejoining`: this node lost its
   * state and rejoins its cluster (`ultracloud node reset`), so a group found empty starts
   * recovering — durably, until endRecovery(): a crash meanwhile must not make it a voter again.
   */
  static async open(backend: KvBackend, group: string, options: { readonly rejoining?: boolean } = {}): Promise<DurableRaftLog> {
    const log = new DurableRaftLog(backend, group);
    const k = log.#keys;
    const snapshotBytes = await backend.get(k.snapshot);
    if (snapshotBytes !== undefined) log.storage.applySnapshot(codec.decode(snapshotBytes) as Snapshot);
    const firstEntryKey = k.entry(log.storage.firstIndex());
    const entries: Entry[] = [];
    for await (const [, value] of backend.iterate({ gte: firstEntryKey, lt: k.entriesEnd })) entries.push(codec.decode(value) as Entry);
    for (let i = 1; i < entries.length; i++) assert(entries[i]!.index === entries[i - 1]!.index + 1, `raft log of ${group} has a gap after ${entries[i - 1]!.index}`);
    log.storage.append(entries);
    const hardBytes = await backend.get(k.hardState);
    if (hardBytes !== undefined) log.storage.setHardState(codec.decode(hardBytes) as HardState);
    log.#recovering = (await backend.get(k.recovering)) !== undefined;
    const empty = snapshotBytes === undefined && entries.length === 0 && hardBytes === undefined;
    if (!log.#recovering && options.rejoining === true && empty) {
      await backend.batch([{ type: 'put', key: k.recovering, value: new Uint8Array([1]) }], { sync: true });
      log.#recovering = true;
    }
    return log;
  }

  /** Whether the group was recovering when opened and has not finished (pass it to RaftConfig.recovering). */
  get recovering(): boolean {
    return this.#recovering;
  }

  /**
   * Records that the replica caught up (RaftNode.recovering turned false), synced: once the node
   * counts as a voter again, another node may lose its disk — if this one then came back from a
   * crash recovering again, neither could vote and the group could never elect a leader.
   */
  async endRecovery(): Promise<void> {
    if (!this.#recovering) return;
    this.#recovering = false;
    await this.#backend.batch([{ type: 'del', key: this.#keys.recovering }], { sync: true });
  }

  /**
   * Makes a Ready's snapshot, entries and hard state durable (one atomic, synced batch), then
   * visible to the core — except a Ready that only moves the commit index (see mustSync).
   */
  async persist(ready: Ready): Promise<void> {
    await this.write(ready);
    this.markPersisted(ready);
  }

  /**
   * persist() without making the Ready visible: the synced write alone (undefined when the Ready
   * needs none), for an owner that keeps stepping its core meanwhile and calls markPersisted once
   * the write is done — in its own turn, not whenever the write's promise settles.
   */
  write(ready: Ready): Promise<void> | undefined {
    if (this.mustSync(ready)) {
      const ops = this.persistOps(ready);
      if (ready.hardState === undefined) ops.push(...this.#deferredOps());
      this.#deferredHardState = undefined;
      return this.#backend.batch(ops, { sync: true });
    }
    if (ready.hardState !== undefined) this.#deferredHardState = ready.hardState;
    return undefined;
  }

  #deferredOps(): KvOp[] {
    const hard = this.#deferredHardState;
    return hard === undefined ? [] : [{ type: 'put', key: this.#keys.hardState, value: codec.encode(hard) }];
  }

  /**
   * Whether a Ready's writes need an fsync (etcd's MustSync): new entries, a snapshot, or a new
   * term or vote. A commit index alone need not survive a crash — a restarted member learns it
   * again from the leader (or, alone, by committing its new term's first entry) — so persist()
   * does not write a Ready that only moves it: the next synced batch carries it.
   */
  mustSync(ready: Ready): boolean {
    if (ready.snapshot !== undefined || ready.entries.length > 0) return true;
    const hard = ready.hardState;
    if (hard === undefined) return false;
    const persisted = this.storage.hardState();
    return hard.term !== persisted.term || hard.vote !== persisted.vote;
  }

  /**
   * The writes `persist` makes, for an owner of many groups on one backend that puts every group's
   * Ready into ONE synced batch (multi-Raft group commit); call markPersisted once it resolved.
   */
  persistOps(ready: Ready): KvOp[] {
    const ops: KvOp[] = [];
    const k = this.#keys;
    if (ready.snapshot !== undefined) {
      ops.push({ type: 'put', key: k.snapshot, value: codec.encode(ready.snapshot) });
      // Every entry up to the end of the old log is superseded by the snapshot.
      for (let i = this.storage.firstIndex(); i <= Math.max(this.storage.lastIndex(), ready.snapshot.index); i++) ops.push({ type: 'del', key: k.entry(i) });
    }
    const first = ready.entries[0];
    if (first !== undefined) {
      for (const entry of ready.entries) ops.push({ type: 'put', key: k.entry(entry.index), value: codec.encode(entry) });
      // A new leader's entries replace a conflicting suffix: drop what lies beyond them.
      const last = ready.entries[ready.entries.length - 1]!.index;
      for (let i = last + 1; i <= this.storage.lastIndex(); i++) ops.push({ type: 'del', key: k.entry(i) });
    }
    if (ready.hardState !== undefined) ops.push({ type: 'put', key: k.hardState, value: codec.encode(ready.hardState) });
    return ops;
  }

  /**
   * The last index on disk before `ready` is written: committed entries up to it may be applied
   * (and answered) before this Ready's write, as etcd applies while it persists. Entries from the
   * Ready's first one on may replace ours — only uncommitted ones, but not durable either.
   */
  durableBefore(ready: Ready): number {
    return Math.min(this.storage.lastIndex(), (ready.entries[0]?.index ?? Infinity) - 1);
  }

  /** Makes a Ready whose persistOps were written visible to the core. */
  markPersisted(ready: Ready): void {
    if (ready.snapshot !== undefined) this.storage.applySnapshot(ready.snapshot);
    this.storage.append(ready.entries);
    if (ready.hardState !== undefined) this.storage.setHardState(ready.hardState);
  }

  /** Log compaction after the state machine took a snapshot at `index` (applied, so committed); `conf` as MemoryRaftStorage.compact. */
  async compact(index: number, snapshotData: Uint8Array, conf?: ConfState): Promise<void> {
    const before = this.storage.firstIndex();
    this.storage.compact(index, snapshotData, conf);
    const ops: KvOp[] = [{ type: 'put', key: this.#keys.snapshot, value: codec.encode(this.storage.snapshot()) }];
    for (let i = before; i <= index; i++) ops.push({ type: 'del', key: this.#keys.entry(i) });
    ops.push(...this.#deferredOps());
    this.#deferredHardState = undefined;
    await this.#backend.batch(ops, { sync: true });
  }
}
