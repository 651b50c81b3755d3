// chainfire's replicated KV state machine with etcd v3 semantics: MVCC revisions and per-key
// history, Range/Put/DeleteRange/Txn/Compact, leases and the space quota. Pure: no I/O, no clock;
// every replica applying the same commands in log order reaches the same state and answers, so
// apply(command) is a function of (state, command) alone.

import { UltraError } from '../../../runtime/errors.ts';
import type { ApplyResult, Command, CommandResponses, CommandType } from './commands.ts';
import { compareHolds } from './compare.ts';
import { crc32c } from './crc32c.ts';
import { etcdError } from './errors.ts';
import { hashKv, type HashKvResult } from './hash-kv.ts';
import { KeyHistory } from './key-history.ts';
import type { KeyBounds } from './key-range.ts';
import { keyBounds, toKeyString } from './key-range.ts';
import { checkNowMs, LeaseTable } from './lease-table.ts';
import { DEFAULT_LIMITS, ENTRY_OVERHEAD_BYTES } from './limits.ts';
import type { StoreLimits } from './limits.ts';
import { shapeRange } from './range-query.ts';
import { SortedKeys } from './sorted-keys.ts';
import { tagOp } from './request-op.ts';
import { decodeSnapshot, encodeSnapshot } from './snapshot.ts';
import type { StoreSnapshotData } from './snapshot.ts';
import type {
  DeleteRangeRequest,
  DeleteRangeResponse,
  Event,
  KeyValue,
  LeaseLeasesResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  ResponseOp,
  TxnRequest,
  TxnResponse,
} from './types.ts';
import { checkDeleteRangeRequest, checkPutRequest, checkRangeRequest, checkRequestBytes, checkTxnRequest } from './validate.ts';
import type { HistoryView } from './watchable.ts';
import { eventsSince, tombstoneKv } from './watchable.ts';

/** A txn with its branch chosen; nested txns are decided up front too, as etcd does. */
interface TxnPlan {
  readonly succeeded: boolean;
  readonly steps: readonly PlanStep[];
}

type PlanStep =
  | { readonly kind: 'range'; readonly request: RangeRequest }
  | { readonly kind: 'put'; readonly request: PutRequest }
  | { readonly kind: 'delete-range'; readonly request: DeleteRangeRequest }
  | { readonly kind: 'txn'; readonly plan: TxnPlan };

/** The writes of one command: all at revision `rev`, in sub-revision order. */
interface WriteBatch {
  readonly rev: bigint;
  sub: number;
  readonly events: Event[];
}

export interface MvccStoreOptions {
  /** Must be the same on every replica (see limits.ts). */
  readonly limits?: Partial<StoreLimits>;
}

const EMPTY = new Uint8Array(0);

export class MvccStore implements HistoryView {
  readonly limits: StoreLimits;
  // etcd starts at revision 1, so the first write is revision 2; clients may rely on it.
  #revision = 1n;
  #compactRevision = 0n;
  readonly #histories = new Map<string, KeyHistory>();
  /** Keys of #histories, ascending in byte order. */
  readonly #keys = new SortedKeys();
  #leases = new LeaseTable();
  #sizeBytes = 0;
  #noSpace = false;

  constructor(options: MvccStoreOptions = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
  }

  get revision(): bigint {
    return this.#revision;
  }

  get compactRevision(): bigint {
    return this.#compactRevision;
  }

  /** Approximate backend size: key and value bytes of every history entry held, plus overhead. */
  get sizeBytes(): number {
    return this.#sizeBytes;
  }

  /** The NOSPACE alarm: raised by a write that would exceed the quota, cleared by compaction. */
  get noSpaceAlarm(): boolean {
    return this.#noSpace;
  }

  // ---- apply: the replicated commands ----

  apply<C extends Command>(command: C): ApplyResult<C['type']> {
    try {
      const batch: WriteBatch = { rev: this.#revision + 1n, sub: 0, events: [] };
      const response = this.#apply(command, batch);
      if (batch.sub > 0) this.#revision = batch.rev;
      const result: ApplyResult = { ok: true, response, events: batch.events };
      // #apply's switch pairs each command type with its response; TypeScript cannot narrow C.
      return result as ApplyResult<C['type']>;
    } catch (error) {
      // Refusals are checked before anything is written, so state is untouched; an Internal
      // error is a broken invariant and must crash the actor instead.
      if (error instanceof UltraError && error.code !== 'Internal') return { ok: false, error: error.toData() };
      throw error;
    }
  }

  #apply(command: Command, batch: WriteBatch): CommandResponses[CommandType] {
    switch (command.type) {
      case 'put': {
        checkPutRequest(command.request);
        checkRequestBytes(command.request, this.limits);
        const [op] = this.#write(batch, { succeeded: true, steps: [{ kind: 'put', request: command.request }] });
        return (op as { response_put: PutResponse }).response_put;
      }
      case 'delete-range': {
        checkDeleteRangeRequest(command.request);
        checkRequestBytes(command.request, this.limits);
        const [op] = this.#write(batch, {
          succeeded: true,
          steps: [{ kind: 'delete-range', request: command.request }],
        });
        return (op as { response_delete_range: DeleteRangeResponse }).response_delete_range;
      }
      case 'txn': {
        checkTxnRequest(command.request, this.limits);
        checkRequestBytes(command.request, this.limits);
        const plan = this.#plan(command.request);
        const responses = this.#write(batch, plan);
        return { header: { revision: this.#readRevision(batch) }, succeeded: plan.succeeded, responses };
      }
      case 'compact':
        this.#compact(command.request.revision);
        return { header: { revision: this.#revision } };
      case 'lease-grant': {
        checkNowMs(command.now_ms);
        if (this.#noSpace) throw etcdError('no-space');
        const { id, ttl } = this.#leases.planGrant(
          command.request.ID ?? 0n,
          command.request.TTL,
          this.limits.minLeaseTtlSeconds,
        );
        this.#leases.grant(id, ttl, command.now_ms);
        return { header: { revision: this.#revision }, ID: id, TTL: ttl, error: '' };
      }
      case 'lease-revoke':
        this.#revoke(batch, command.request.ID);
        return { header: { revision: this.#readRevision(batch) } };
      case 'lease-keep-alive': {
        checkNowMs(command.now_ms);
        const ttl = this.#leases.keepAlive(command.request.ID, command.now_ms);
        return { header: { revision: this.#revision }, ID: command.request.ID, TTL: ttl };
      }
      case 'lease-expire': {
        checkNowMs(command.now_ms);
        const expired = this.#leases.isExpired(command.id, command.now_ms);
        if (expired) this.#revoke(batch, command.id);
        return { header: { revision: this.#readRevision(batch) }, expired };
      }
      case 'lease-promote':
        checkNowMs(command.now_ms);
        this.#leases.promote(command.now_ms);
        return { header: { revision: this.#revision } };
      case 'alarm': {
        if (command.action !== 'ACTIVATE' && command.action !== 'DEACTIVATE') {
          throw etcdError('invalid-request', `alarm: action must be ACTIVATE or DEACTIVATE, got ${String(command.action)}`);
        }
        // Deactivating does not check the quota, as in etcd: a store still over it raises the
        // alarm again on its next write.
        const raise = command.action === 'ACTIVATE';
        const changed = this.#noSpace !== raise;
        this.#noSpace = raise;
        return { header: { revision: this.#revision }, changed };
      }
    }
  }

  /** What reads in a write see: the batch's own writes once it has made any. */
  #readRevision(batch: WriteBatch): bigint {
    return batch.sub > 0 ? batch.rev : this.#revision;
  }

  /**
   * Decides every branch against the state before the txn (compares never see the txn's own
   * writes, nested ones included, as in etcd), then checks what the chosen ops need from state.
   */
  #plan(r: TxnRequest): TxnPlan {
    const succeeded = (r.compare ?? []).every((c) =>
      compareHolds(c, this.#liveWithin(keyBounds(c.key, c.range_end), this.#revision)),
    );
    const steps = ((succeeded ? r.success : r.failure) ?? []).map((op): PlanStep => {
      const tagged = tagOp(op);
      return tagged.kind === 'txn' ? { kind: 'txn', plan: this.#plan(tagged.request) } : tagged;
    });
    return { succeeded, steps };
  }

  /** Checks the ops of a plan against state, then performs them; nothing is written if a check fails. */
  #write(batch: WriteBatch, plan: TxnPlan): ResponseOp[] {
    const cost = this.#checkPlan(plan);
    if (cost > 0) {
      if (this.#noSpace) throw etcdError('no-space');
      if (this.#sizeBytes + cost > this.limits.quotaBytes) {
        this.#noSpace = true;
        throw etcdError('no-space', `${this.#sizeBytes} + ${cost} bytes exceeds the ${this.limits.quotaBytes}-byte quota`);
      }
    }
    return this.#execute(batch, plan);
  }

  /** Checks puts (lease and ignore_* need state) and ranges (revision bounds); returns the bytes puts add. */
  #checkPlan(plan: TxnPlan): number {
    let cost = 0;
    for (const step of plan.steps) {
      switch (step.kind) {
        case 'range':
          this.#checkReadRevision(step.request.revision ?? 0n);
          break;
        case 'put': {
          const r = step.request;
          const current = this.#histories.get(toKeyString(r.key))?.latest();
          if ((r.ignore_value === true || r.ignore_lease === true) && current === undefined) {
            throw etcdError('key-not-found');
          }
          const lease = r.lease ?? 0n;
          if (r.ignore_lease !== true && lease !== 0n && !this.#leases.has(lease)) throw etcdError('lease-not-found');
          const valueBytes = r.ignore_value === true ? (current?.value.byteLength ?? 0) : (r.value?.byteLength ?? 0);
          cost += r.key.byteLength + valueBytes + ENTRY_OVERHEAD_BYTES;
          break;
        }
        case 'delete-range':
          break;
        case 'txn':
          cost += this.#checkPlan(step.plan);
          break;
      }
    }
    return cost;
  }

  #execute(batch: WriteBatch, plan: TxnPlan): ResponseOp[] {
    return plan.steps.map((step): ResponseOp => {
      switch (step.kind) {
        case 'range':
          return { response_range: this.#range(step.request, this.#readRevision(batch)) };
        case 'put':
          return { response_put: this.#put(batch, step.request) };
        case 'delete-range':
          return { response_delete_range: this.#deleteRange(batch, step.request) };
        case 'txn': {
          const responses = this.#execute(batch, step.plan);
          return {
            response_txn: { header: { revision: this.#readRevision(batch) }, succeeded: step.plan.succeeded, responses },
          };
        }
      }
    });
  }

  #put(batch: WriteBatch, r: PutRequest): PutResponse {
    const keyString = toKeyString(r.key);
    let history = this.#histories.get(keyString);
    if (history === undefined) {
      // Copies: the state must never alias a caller's buffer, which it may reuse.
      history = new KeyHistory(new Uint8Array(r.key));
      this.#histories.set(keyString, history);
      this.#keys.add(keyString);
    }
    const prev = history.latest();
    const lease = r.ignore_lease === true ? (prev?.lease ?? 0n) : (r.lease ?? 0n);
    const kv: KeyValue = {
      key: history.key,
      create_revision: prev?.create_revision ?? batch.rev,
      mod_revision: batch.rev,
      version: (prev?.version ?? 0n) + 1n,
      value: r.ignore_value === true ? (prev?.value ?? EMPTY) : new Uint8Array(r.value ?? EMPTY),
      lease,
    };
    const entry = { main: batch.rev, sub: batch.sub++, kv };
    history.append(entry);
    this.#sizeBytes += history.entryBytes(entry);
    if (prev !== undefined && prev.lease !== 0n && prev.lease !== lease) this.#leases.detach(prev.lease, keyString);
    if (lease !== 0n) this.#leases.attach(lease, keyString);
    batch.events.push(prev === undefined ? { type: 'PUT', kv } : { type: 'PUT', kv, prev_kv: prev });
    const header = { revision: batch.rev };
    return r.prev_kv === true && prev !== undefined ? { header, prev_kv: prev } : { header };
  }

  #deleteRange(batch: WriteBatch, r: DeleteRangeRequest): DeleteRangeResponse {
    const deleted: KeyValue[] = [];
    for (const keyString of this.#keys.within(keyBounds(r.key, r.range_end))) {
      const prev = this.#deleteKey(batch, keyString);
      if (prev !== undefined) deleted.push(prev);
    }
    return {
      header: { revision: this.#readRevision(batch) },
      deleted: BigInt(deleted.length),
      prev_kvs: r.prev_kv === true ? deleted : [],
    };
  }

  /** Writes a tombstone if the key is live; returns what it deleted. */
  #deleteKey(batch: WriteBatch, keyString: string): KeyValue | undefined {
    const history = this.#histories.get(keyString);
    const prev = history?.latest();
    if (history === undefined || prev === undefined) return undefined;
    const entry = { main: batch.rev, sub: batch.sub++, kv: undefined };
    history.append(entry);
    this.#sizeBytes += history.entryBytes(entry);
    if (prev.lease !== 0n) this.#leases.detach(prev.lease, keyString);
    batch.events.push({ type: 'DELETE', kv: tombstoneKv(history.key, batch.rev), prev_kv: prev });
    return prev;
  }

  /** Deletes the lease's keys in one revision (none: no new revision), then the lease. */
  #revoke(batch: WriteBatch, id: bigint): void {
    for (const keyString of this.#leases.remove(id)) this.#deleteKey(batch, keyString);
  }

  #compact(rev: bigint): void {
    if (rev > this.#revision) throw etcdError('future-rev');
    if (rev <= this.#compactRevision) throw etcdError('compacted');
    const emptied = new Set<string>();
    for (const [keyString, history] of this.#histories) {
      this.#sizeBytes -= history.compact(rev);
      if (history.isEmpty) emptied.add(keyString);
    }
    for (const keyString of emptied) this.#histories.delete(keyString);
    this.#keys.deleteAll(emptied);
    this.#compactRevision = rev;
    if (this.#noSpace && this.#sizeBytes <= this.limits.quotaBytes) this.#noSpace = false;
  }

  *historiesWithin(bounds: KeyBounds): Generator<KeyHistory> {
    for (const keyString of this.#keys.within(bounds)) yield this.#histories.get(keyString)!;
  }

  #liveWithin(bounds: KeyBounds, rev: bigint): KeyValue[] {
    const live: KeyValue[] = [];
    for (const history of this.historiesWithin(bounds)) {
      const kv = history.at(rev);
      if (kv !== undefined) live.push(kv);
    }
    return live;
  }

  // ---- queries: reads served from a replica's applied state, not through the log ----

  #checkReadRevision(requested: bigint): void {
    if (requested > this.#revision) throw etcdError('future-rev');
    // etcd serves a read at exactly the compaction revision: compaction keeps that state.
    if (requested > 0n && requested < this.#compactRevision) throw etcdError('compacted');
  }

  /** Range at `current` (the txn's read revision inside a txn). The header carries `current`, as etcd. */
  #range(r: RangeRequest, current: bigint): RangeResponse {
    const requested = r.revision ?? 0n;
    this.#checkReadRevision(requested);
    const rev = requested > 0n ? requested : current;
    return shapeRange(this.#liveWithin(keyBounds(r.key, r.range_end), rev), r, current);
  }

  range(r: RangeRequest): RangeResponse {
    checkRangeRequest(r);
    return this.#range(r, this.#revision);
  }

  /** etcd's HashKV: the hash of the history up to `rev` (0: now); see hash-kv.ts. */
  hashKv(rev: bigint): HashKvResult {
    return hashKv(this, rev);
  }

  /** etcd's Hash: a CRC-32C of the whole state (its snapshot encoding, equal for equal states). */
  hash(): number {
    return crc32c(this.snapshot());
  }

  /** Events at revision >= start within [key, range_end), for a watch starting in the past. */
  eventsSince(start: bigint, key: Uint8Array, rangeEnd?: Uint8Array): Event[] {
    return eventsSince(this, start, keyBounds(key, rangeEnd));
  }

  /** Leases whose deadline is at or before nowMs: the leader proposes a lease-expire for each. */
  expiredLeases(nowMs: number): bigint[] {
    checkNowMs(nowMs);
    return this.#leases.expired(nowMs);
  }

  /** TTL is the remaining time at nowMs in whole seconds, rounded up so a live lease never shows 0. */
  leaseTimeToLive(r: LeaseTimeToLiveRequest, nowMs: number): LeaseTimeToLiveResponse {
    checkNowMs(nowMs);
    const lease = this.#leases.get(r.ID);
    const remainingMs = Math.max(0, lease.deadline_ms - nowMs);
    return {
      header: { revision: this.#revision },
      ID: r.ID,
      TTL: BigInt(Math.ceil(remainingMs / 1000)),
      grantedTTL: lease.ttl,
      keys: r.keys === true ? lease.keys.map((k) => this.#histories.get(k)!.key) : [],
    };
  }

  leaseLeases(): LeaseLeasesResponse {
    return { header: { revision: this.#revision }, leases: this.#leases.ids().map((ID) => ({ ID })) };
  }

  // ---- snapshots ----

  /** The whole state as bytes; equal states give equal bytes (keys and leases in order). */
  snapshot(): Uint8Array {
    const data: StoreSnapshotData = {
      revision: this.#revision,
      compact_revision: this.#compactRevision,
      no_space: this.#noSpace,
      keys: this.#keys.values().map((keyString) => {
        const history = this.#histories.get(keyString)!;
        return {
          key: history.key,
          entries: history.entries.map((e) => ({
            main: e.main,
            sub: e.sub,
            kv:
              e.kv === undefined
                ? null
                : { create_revision: e.kv.create_revision, version: e.kv.version, value: e.kv.value, lease: e.kv.lease },
          })),
        };
      }),
      leases: this.#leases.toData(),
    };
    return encodeSnapshot(data);
  }

  /** A store in the state a snapshot recorded; malformed bytes are InvalidArgument. */
  static restore(bytes: Uint8Array, options: MvccStoreOptions = {}): MvccStore {
    const data = decodeSnapshot(bytes);
    const store = new MvccStore(options);
    store.#revision = data.revision;
    store.#compactRevision = data.compact_revision;
    store.#noSpace = data.no_space;
    for (const { key, entries } of data.keys) {
      const history = new KeyHistory(
        key,
        entries.map((e) => ({
          main: e.main,
          sub: e.sub,
          kv: e.kv === null ? undefined : { key, mod_revision: e.main, ...e.kv },
        })),
      );
      const keyString = toKeyString(key);
      store.#histories.set(keyString, history);
      store.#keys.add(keyString);
      for (const entry of history.entries) store.#sizeBytes += history.entryBytes(entry);
    }
    store.#leases = LeaseTable.fromData(data.leases);
    return store;
  }
}
