// The leases of the store: TTL, deadline and attached keys of each, with deterministic ID
// allocation. No clock is read here: every time is a now_ms the leader stamped into a command, or
// one the caller passes to a query.

import { assert } from '../../../runtime/errors.ts';
import { etcdError } from './errors.ts';
import { MAX_LEASE_TTL_SECONDS } from './limits.ts';

const MAX_INT64 = (1n << 63n) - 1n;

export interface LeaseData {
  readonly id: bigint;
  /** Seconds, after raising to the minimum TTL. */
  readonly ttl: bigint;
  /** When the lease runs out unless kept alive: the last grant/keep-alive/promote time + TTL. */
  readonly deadline_ms: number;
  /** Key strings (see key-range.ts), ascending. */
  readonly keys: readonly string[];
}

interface LeaseRecord {
  readonly id: bigint;
  readonly ttl: bigint;
  deadlineMs: number;
  readonly keys: Set<string>;
}

export interface LeaseTableData {
  readonly next_id: bigint;
  /** Ascending by id. */
  readonly leases: readonly LeaseData[];
}

export function checkNowMs(nowMs: number): void {
  if (!Number.isSafeInteger(nowMs) || nowMs < 0) {
    throw etcdError('invalid-request', `now_ms must be a non-negative safe integer, got ${nowMs}`);
  }
}

export class LeaseTable {
  readonly #leases = new Map<bigint, LeaseRecord>();
  /** Where the search for a free ID starts when a grant asks the store to choose. */
  #nextId = 1n;

  has(id: bigint): boolean {
    return this.#leases.has(id);
  }

  /** Ids ascending (Map order is insertion order, which snapshots do not preserve). */
  ids(): bigint[] {
    return [...this.#leases.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Checks a grant without applying it: the ID it would get and the TTL it would have. */
  planGrant(requestedId: bigint, requestedTtl: bigint, minTtl: bigint): { id: bigint; ttl: bigint } {
    if (requestedTtl > MAX_LEASE_TTL_SECONDS) throw etcdError('lease-ttl-too-large');
    if (requestedId < 0n || requestedId > MAX_INT64) {
      throw etcdError('invalid-request', `lease ID must be in 1..2^63-1 (0 to allocate), got ${requestedId}`);
    }
    if (requestedId !== 0n && this.#leases.has(requestedId)) throw etcdError('lease-exists');
    let id = requestedId;
    if (id === 0n) {
      id = this.#nextId;
      while (this.#leases.has(id)) id++;
    }
    return { id, ttl: requestedTtl < minTtl ? minTtl : requestedTtl };
  }

  grant(id: bigint, ttl: bigint, nowMs: number): void {
    assert(!this.#leases.has(id), `lease ${id} granted twice`);
    this.#leases.set(id, { id, ttl, deadlineMs: nowMs + Number(ttl) * 1000, keys: new Set() });
    if (id >= this.#nextId) this.#nextId = id + 1n;
  }

  /** Removes the lease and returns its keys, ascending; the caller deletes them. */
  remove(id: bigint): string[] {
    const lease = this.#require(id);
    this.#leases.delete(id);
    return [...lease.keys].sort();
  }

  attach(id: bigint, key: string): void {
    this.#require(id).keys.add(key);
  }

  /** Detaches `key` from lease `id` if both still exist (a revoked lease has no keys to detach). */
  detach(id: bigint, key: string): void {
    this.#leases.get(id)?.keys.delete(key);
  }

  /** Restarts the TTL at nowMs; returns the TTL. */
  keepAlive(id: bigint, nowMs: number): bigint {
    const lease = this.#require(id);
    lease.deadlineMs = nowMs + Number(lease.ttl) * 1000;
    return lease.ttl;
  }

  promote(nowMs: number): void {
    for (const lease of this.#leases.values()) lease.deadlineMs = nowMs + Number(lease.ttl) * 1000;
  }

  isExpired(id: bigint, nowMs: number): boolean {
    const lease = this.#leases.get(id);
    return lease !== undefined && lease.deadlineMs <= nowMs;
  }

  /** Leases past their deadline at nowMs, ascending by id: what the leader proposes to expire. */
  expired(nowMs: number): bigint[] {
    return this.ids().filter((id) => this.isExpired(id, nowMs));
  }

  get(id: bigint): LeaseData {
    const lease = this.#require(id);
    return { id, ttl: lease.ttl, deadline_ms: lease.deadlineMs, keys: [...lease.keys].sort() };
  }

  toData(): LeaseTableData {
    return { next_id: this.#nextId, leases: this.ids().map((id) => this.get(id)) };
  }

  static fromData(data: LeaseTableData): LeaseTable {
    const table = new LeaseTable();
    for (const lease of data.leases) {
      table.#leases.set(lease.id, { id: lease.id, ttl: lease.ttl, deadlineMs: lease.deadline_ms, keys: new Set(lease.keys) });
    }
    table.#nextId = data.next_id;
    return table;
  }

  #require(id: bigint): LeaseRecord {
    const lease = this.#leases.get(id);
    if (lease === undefined) throw etcdError('lease-not-found');
    return lease;
  }
}
