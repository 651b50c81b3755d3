// This node's copy of the chainfire store: the MvccStore the Raft group applies committed commands
// to, the watch hub fed by what each command changed, and waiters for "applied up to index N"
// (linearizable reads on followers wait for the leader's read index to be applied here).
// The Raft group actor creates a fresh store through `stateMachine()` on every (re)start; reads and
// watches use the current one. Everything runs on one thread, so a read sees whole commands only.
import { Codec } from '../../runtime/codec/codec.ts';
import { UltraError } from '../../runtime/errors.ts';
import type { StateMachine } from '../../runtime/raft/raft-group-actor.ts';
import type { ApplyResult, Command } from './core/commands.ts';
import { ETCD_ERRORS } from './core/errors.ts';
import { boundsContain, keyBounds, toKeyString, type KeyBounds } from './core/key-range.ts';
import { MvccStore, type MvccStoreOptions } from './core/mvcc-store.ts';
import type { Event } from './core/types.ts';
import type { Watch, WatchBatch, WatchRequest } from './service.ts';

const codec = new Codec();

export function encodeCommand(command: Command): Uint8Array {
  return codec.encode(command);
}

interface Watcher {
  readonly bounds: KeyBounds;
  readonly prevKv: boolean;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly deliver: (batch: WatchBatch) => void;
}

/** Most watchers one replica serves (each costs a filter pass per applied command). */
export const MAX_WATCHERS = 10_000;

export class Replica {
  #store: MvccStore;
  #applied = 0;
  readonly #options: MvccStoreOptions;
  readonly #watchers = new Set<Watcher>();
  readonly #waiters: Array<{ readonly index: number; readonly resolve: () => void }> = [];

  constructor(options: MvccStoreOptions = {}) {
    this.#options = options;
    this.#store = new MvccStore(options);
  }

  get store(): MvccStore {
    return this.#store;
  }

  get applied(): number {
    return this.#applied;
  }

  /** Live watches on this member (a stream that went away must have cancelled its own). */
  get watcherCount(): number {
    return this.#watchers.size;
  }

  /** The state machine the Raft group applies to; each call starts from an empty store. */
  stateMachine(): StateMachine {
    this.#store = new MvccStore(this.#options);
    this.#applied = 0;
    return {
      apply: (data, index) => this.#apply(data, index),
      snapshot: () => this.#store.snapshot(),
      restore: (data, index) => {
        this.#store = MvccStore.restore(data, this.#options);
        this.#advanceApplied(index);
      },
    };
  }

  /** Resolves once this replica has applied `index`. */
  appliedUpTo(index: number): Promise<void> {
    if (this.#applied >= index) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ index, resolve }));
  }

  watch(request: WatchRequest, deliver: (batch: WatchBatch) => void): Watch {
    if (this.#watchers.size >= MAX_WATCHERS) throw new UltraError('ResourceExhausted', `too many watchers (${MAX_WATCHERS}) on this member`);
    const watcher: Watcher = {
      bounds: keyBounds(request.key, request.range_end),
      prevKv: request.prev_kv === true,
      noPut: request.filters?.includes('NOPUT') === true,
      noDelete: request.filters?.includes('NODELETE') === true,
      deliver,
    };
    const start = request.start_revision ?? 0n;
    const current = this.#store.revision;
    const compacted = this.#store.compactRevision;
    if (start > 0n && start < compacted) {
      // The API servers cancel the watch with this compact_revision, as etcd does.
      throw new UltraError('FailedPrecondition', ETCD_ERRORS.compacted.message, { reason: 'compacted', compactRevision: compacted });
    }
    if (start > 0n && start <= current) {
      // History first (the etcd 'compacted' error below the compaction), then live events: both
      // happen in this one synchronous step, so nothing falls in between.
      const past = filterEvents(watcher, this.#store.eventsSince(start, request.key, request.range_end ?? undefined));
      if (past.length > 0) deliver({ revision: current, events: past });
    }
    // etcd accepts a start revision in the future and waits for it: earlier events are filtered out.
    const live: Watcher = start > current + 1n ? { ...watcher, deliver: (b) => deliverFrom(start, b, deliver) } : watcher;
    this.#watchers.add(live);
    return { cancel: () => void this.#watchers.delete(live) };
  }

  #apply(data: Uint8Array, index: number): ApplyResult {
    const command = codec.decode(data) as Command;
    const result = this.#store.apply(command);
    if (result.ok && result.events.length > 0) {
      const revision = this.#store.revision;
      for (const watcher of this.#watchers) {
        const events = filterEvents(watcher, result.events);
        if (events.length > 0) watcher.deliver({ revision, events });
      }
    }
    this.#advanceApplied(index);
    return result;
  }

  /** Records how far the store is applied (by a command or a snapshot) and wakes waiting reads. */
  #advanceApplied(index: number): void {
    this.#applied = index;
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      if (this.#waiters[i]!.index <= index) this.#waiters.splice(i, 1)[0]!.resolve();
    }
  }
}

function filterEvents(watcher: Watcher, events: readonly Event[]): Event[] {
  const out: Event[] = [];
  for (const event of events) {
    if ((event.type === 'PUT' && watcher.noPut) || (event.type === 'DELETE' && watcher.noDelete)) continue;
    if (!boundsContain(watcher.bounds, toKeyString(event.kv.key))) continue;
    out.push(watcher.prevKv || event.prev_kv === undefined ? event : { type: event.type, kv: event.kv });
  }
  return out;
}

function deliverFrom(start: bigint, batch: WatchBatch, deliver: (batch: WatchBatch) => void): void {
  const events = batch.events.filter((e) => e.kv.mod_revision >= start);
  if (events.length > 0) deliver({ revision: batch.revision, events });
}

/** A refused command's error, as the UltraError (with its etcd reason) the API servers map. */
export function resultOrThrow<T>(result: ApplyResult): T {
  if (!result.ok) throw UltraError.fromData(result.error);
  return result.response as T;
}
