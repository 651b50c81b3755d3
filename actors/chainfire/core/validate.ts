// The checks a request must pass before it may touch state, all decidable from the request alone
// (no state): required keys, option combinations, sizes and txn shape. Failing any leaves the
// store untouched, so a malformed request costs a replica nothing but the check.

import { etcdError } from './errors.ts';
import type { KeyBounds } from './key-range.ts';
import { boundsContain, keyBounds, toKeyString } from './key-range.ts';
import { MAX_TXN_DEPTH } from './limits.ts';
import type { StoreLimits } from './limits.ts';
import { tagOp } from './request-op.ts';
import type { TaggedOp } from './request-op.ts';
import type { Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest } from './types.ts';
import { COMPARE_RESULTS, COMPARE_TARGETS, SORT_ORDERS, SORT_TARGETS } from './types.ts';

/** Fixed cost per message in requestBytes: tags, lengths and scalar fields. */
const FIELD_OVERHEAD_BYTES = 16;

function requireKey(key: Uint8Array | undefined): void {
  if (key == null || key.length === 0) throw etcdError('empty-key');
}

export function checkRangeRequest(r: RangeRequest): void {
  requireKey(r.key);
  if (r.sort_order != null && !(SORT_ORDERS as readonly string[]).includes(r.sort_order)) {
    throw etcdError('invalid-sort-option');
  }
  if (r.sort_target != null && !(SORT_TARGETS as readonly string[]).includes(r.sort_target)) {
    throw etcdError('invalid-sort-option');
  }
}

export function checkPutRequest(r: PutRequest): void {
  requireKey(r.key);
  if (r.ignore_value === true && r.value != null && r.value.length > 0) throw etcdError('value-provided');
  if (r.ignore_lease === true && r.lease != null && r.lease !== 0n) throw etcdError('lease-provided');
}

export function checkDeleteRangeRequest(r: DeleteRangeRequest): void {
  requireKey(r.key);
}

function checkCompare(c: Compare): void {
  if (c.result != null && !(COMPARE_RESULTS as readonly string[]).includes(c.result)) {
    throw etcdError('invalid-request', `unknown compare result ${String(c.result)}`);
  }
  if (c.target != null && !(COMPARE_TARGETS as readonly string[]).includes(c.target)) {
    throw etcdError('invalid-request', `unknown compare target ${String(c.target)}`);
  }
}

/** Shape and per-op checks of a txn and its nested txns, then the duplicate-write rule. */
export function checkTxnRequest(r: TxnRequest, limits: StoreLimits): void {
  checkTxnShape(r, limits, 1);
  writesOf(r.success ?? [], r.failure ?? []);
}

function checkTxnShape(r: TxnRequest, limits: StoreLimits, depth: number): void {
  if (depth > MAX_TXN_DEPTH) throw etcdError('invalid-request', `txns nest deeper than ${MAX_TXN_DEPTH}`);
  const compare = r.compare ?? [];
  const success = r.success ?? [];
  const failure = r.failure ?? [];
  if (compare.length > limits.maxTxnOps || success.length > limits.maxTxnOps || failure.length > limits.maxTxnOps) {
    throw etcdError('too-many-ops');
  }
  for (const c of compare) checkCompare(c);
  for (const op of [...success, ...failure]) {
    const tagged = tagOp(op);
    switch (tagged.kind) {
      case 'range':
        checkRangeRequest(tagged.request);
        break;
      case 'put':
        checkPutRequest(tagged.request);
        break;
      case 'delete-range':
        checkDeleteRangeRequest(tagged.request);
        break;
      case 'txn':
        checkTxnShape(tagged.request, limits, depth + 1);
        break;
    }
  }
}

/** The keys a group of ops may put and the ranges it may delete. */
interface Writes {
  readonly puts: Set<string>;
  readonly dels: KeyBounds[];
}

function conflict(a: Writes, b: Writes): boolean {
  for (const key of a.puts) {
    if (b.puts.has(key) || b.dels.some((d) => boundsContain(d, key))) return true;
  }
  for (const key of b.puts) {
    if (a.dels.some((d) => boundsContain(d, key))) return true;
  }
  return false;
}

/**
 * etcd's rule that one txn may not write a key twice: no two puts of a key, and no put of a key
 * that a delete in the txn covers, among ops that can run together (a nested txn's success and
 * failure branches never do). Overlapping deletes are allowed. Returns the writes of both branch
 * lists together, for the enclosing level's check.
 *
 * Stricter than etcd in one corner: etcd checks a nested txn's puts only against deletes seen
 * before it in the op list; here order does not matter, because either order writes one key twice
 * at one revision.
 */
function writesOf(success: readonly RequestOp[], failure: readonly RequestOp[]): Writes {
  const then = levelWrites(success);
  const otherwise = levelWrites(failure);
  return { puts: new Set([...then.puts, ...otherwise.puts]), dels: [...then.dels, ...otherwise.dels] };
}

function levelWrites(ops: readonly RequestOp[]): Writes {
  const own: Writes = { puts: new Set(), dels: [] };
  const nested: Array<{ readonly then: Writes; readonly otherwise: Writes }> = [];
  for (const op of ops.map(tagOp)) collectOwn(op, own, nested);
  for (const key of own.puts) {
    if (own.dels.some((d) => boundsContain(d, key))) throw etcdError('duplicate-key');
  }
  const all: Writes = { puts: new Set(own.puts), dels: [...own.dels] };
  for (const [i, child] of nested.entries()) {
    for (const branch of [child.then, child.otherwise]) {
      if (conflict(own, branch)) throw etcdError('duplicate-key');
      for (const other of nested.slice(i + 1)) {
        if (conflict(branch, other.then) || conflict(branch, other.otherwise)) throw etcdError('duplicate-key');
      }
      for (const key of branch.puts) all.puts.add(key);
      all.dels.push(...branch.dels);
    }
  }
  return all;
}

function collectOwn(
  op: TaggedOp,
  own: Writes,
  nested: Array<{ readonly then: Writes; readonly otherwise: Writes }>,
): void {
  switch (op.kind) {
    case 'put': {
      const key = toKeyString(op.request.key);
      if (own.puts.has(key)) throw etcdError('duplicate-key');
      own.puts.add(key);
      break;
    }
    case 'delete-range':
      own.dels.push(keyBounds(op.request.key, op.request.range_end));
      break;
    case 'txn':
      nested.push({ then: levelWrites(op.request.success ?? []), otherwise: levelWrites(op.request.failure ?? []) });
      break;
    case 'range':
      break;
  }
}

/** Approximate encoded size of a request, for the max-request-bytes limit. */
export function requestBytes(
  r: PutRequest | DeleteRangeRequest | RangeRequest | TxnRequest | Compare,
  depth = 1,
): number {
  if (depth > MAX_TXN_DEPTH) throw etcdError('invalid-request', `txns nest deeper than ${MAX_TXN_DEPTH}`);
  let bytes = FIELD_OVERHEAD_BYTES;
  if ('key' in r) {
    bytes += r.key?.byteLength ?? 0;
    if ('range_end' in r) bytes += r.range_end?.byteLength ?? 0;
    if ('value' in r) bytes += r.value?.byteLength ?? 0;
    return bytes;
  }
  for (const c of r.compare ?? []) bytes += requestBytes(c, depth);
  for (const op of [...(r.success ?? []), ...(r.failure ?? [])]) {
    if (op.request_txn != null) bytes += requestBytes(op.request_txn, depth + 1);
    const inner = op.request_range ?? op.request_put ?? op.request_delete_range;
    if (inner != null) bytes += requestBytes(inner, depth);
  }
  return bytes;
}

export function checkRequestBytes(
  r: PutRequest | DeleteRangeRequest | TxnRequest,
  limits: StoreLimits,
): void {
  if (requestBytes(r) > limits.maxRequestBytes) throw etcdError('request-too-large');
}
