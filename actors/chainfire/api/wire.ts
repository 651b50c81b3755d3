// Conversions between etcd's messages as @grpc/proto-loader decodes them (int64 as decimal
// strings, bytes as Buffers, enums by name) and the chainfire core's types (int64 as bigint).
// Requests are rebuilt field by field, so a field the core does not know never reaches it;
// responses are converted generically (every bigint becomes a number when it is a safe integer,
// else stays a bigint: protobufjs encodes both, and either costs less than parsing a decimal
// string on every response).
import { etcdError } from '../core/errors.ts';
import type {
  Compare,
  CompareResult,
  CompareTarget,
  CompactionRequest,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  SortOrder,
  SortTarget,
  TxnRequest,
} from '../core/types.ts';
import type { ServerHeader, WatchRequest } from '../service.ts';

/** A message as proto-loader decodes it. */
export type WireMessage = Readonly<Record<string, unknown>>;

const EMPTY = new Uint8Array(0);

export function int64(value: unknown, field: string): bigint {
  if (value == null) return 0n;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
  throw etcdError('invalid-request', `${field}: not an int64`);
}

export function bytes(value: unknown, field: string): Uint8Array {
  if (value == null) return EMPTY;
  if (value instanceof Uint8Array) return value;
  throw etcdError('invalid-request', `${field}: not bytes`);
}

function message(value: unknown, field: string): WireMessage {
  if (typeof value === 'object' && value !== null && !(value instanceof Uint8Array)) return value as WireMessage;
  throw etcdError('invalid-request', `${field}: missing`);
}

function list(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

// Enum fields stay strings; the core rejects names it does not know with etcd's errors, and an
// unknown number (proto-loader passes those through) is no known name either.
function enumName<T extends string>(value: unknown): T | undefined {
  return value == null ? undefined : (String(value) as T);
}

export function rangeRequest(w: WireMessage): RangeRequest {
  return {
    key: bytes(w['key'], 'key'),
    range_end: bytes(w['range_end'], 'range_end'),
    limit: int64(w['limit'], 'limit'),
    revision: int64(w['revision'], 'revision'),
    sort_order: enumName<SortOrder>(w['sort_order']),
    sort_target: enumName<SortTarget>(w['sort_target']),
    serializable: w['serializable'] === true,
    keys_only: w['keys_only'] === true,
    count_only: w['count_only'] === true,
    min_mod_revision: int64(w['min_mod_revision'], 'min_mod_revision'),
    max_mod_revision: int64(w['max_mod_revision'], 'max_mod_revision'),
    min_create_revision: int64(w['min_create_revision'], 'min_create_revision'),
    max_create_revision: int64(w['max_create_revision'], 'max_create_revision'),
  };
}

export function putRequest(w: WireMessage): PutRequest {
  return {
    key: bytes(w['key'], 'key'),
    value: bytes(w['value'], 'value'),
    lease: int64(w['lease'], 'lease'),
    prev_kv: w['prev_kv'] === true,
    ignore_value: w['ignore_value'] === true,
    ignore_lease: w['ignore_lease'] === true,
  };
}

export function deleteRangeRequest(w: WireMessage): DeleteRangeRequest {
  return { key: bytes(w['key'], 'key'), range_end: bytes(w['range_end'], 'range_end'), prev_kv: w['prev_kv'] === true };
}

function compare(w: WireMessage): Compare {
  // Only the operand named by the target_union oneof is set; the others stay absent.
  const c: { -readonly [K in keyof Compare]: Compare[K] } = {
    result: enumName<CompareResult>(w['result']),
    target: enumName<CompareTarget>(w['target']),
    key: bytes(w['key'], 'compare.key'),
    range_end: bytes(w['range_end'], 'compare.range_end'),
  };
  switch (w['target_union']) {
    case 'version':
    case 'create_revision':
    case 'mod_revision':
    case 'lease':
      c[w['target_union']] = int64(w[w['target_union']], `compare.${w['target_union']}`);
      break;
    case 'value':
      c.value = bytes(w['value'], 'compare.value');
      break;
  }
  return c;
}

function requestOp(w: WireMessage): RequestOp {
  switch (w['request']) {
    case 'request_range':
      return { request_range: rangeRequest(message(w['request_range'], 'request_range')) };
    case 'request_put':
      return { request_put: putRequest(message(w['request_put'], 'request_put')) };
    case 'request_delete_range':
      return { request_delete_range: deleteRangeRequest(message(w['request_delete_range'], 'request_delete_range')) };
    case 'request_txn':
      return { request_txn: txnRequest(message(w['request_txn'], 'request_txn')) };
    default:
      throw etcdError('invalid-request', 'txn: a RequestOp sets no request');
  }
}

export function txnRequest(w: WireMessage): TxnRequest {
  return {
    compare: list(w['compare']).map((c) => compare(message(c, 'compare'))),
    success: list(w['success']).map((op) => requestOp(message(op, 'success'))),
    failure: list(w['failure']).map((op) => requestOp(message(op, 'failure'))),
  };
}

export function compactionRequest(w: WireMessage): CompactionRequest {
  return { revision: int64(w['revision'], 'revision'), physical: w['physical'] === true };
}

export function watchRequest(w: WireMessage): WatchRequest {
  return {
    key: bytes(w['key'], 'key'),
    range_end: bytes(w['range_end'], 'range_end'),
    start_revision: int64(w['start_revision'], 'start_revision'),
    prev_kv: w['prev_kv'] === true,
    filters: list(w['filters']).map((f) => String(f) as 'NOPUT' | 'NODELETE'),
    progress_notify: w['progress_notify'] === true,
  };
}

/** A core response (or part of one) in wire form: bigints as numbers or bigints (see wireInt64), all else as is. */
export function toWire(value: unknown): unknown {
  if (typeof value === 'bigint') return wireInt64(value);
  if (value instanceof Uint8Array || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(toWire);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toWire(v)]));
}

/**
 * An int64 field of a response as protobufjs encodes it fastest: a number when exactly
 * representable, else the bigint itself (member and cluster ids are 64-bit hashes).
 */
export function wireInt64(value: bigint): number | bigint {
  return value >= -MAX_SAFE && value <= MAX_SAFE ? Number(value) : value;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** etcd's ResponseHeader: the server's identity and term, and the revision the response reflects. */
export function wireHeader(server: ServerHeader, revision: bigint): WireMessage {
  return {
    cluster_id: wireInt64(server.cluster_id),
    member_id: wireInt64(server.member_id),
    raft_term: wireInt64(server.raft_term),
    revision: wireInt64(revision),
  };
}

/** A core response with its header completed from the server's. */
export function withHeader(server: ServerHeader, response: { readonly header: { readonly revision: bigint } }): WireMessage {
  return { ...(toWire(response) as WireMessage), header: wireHeader(server, response.header.revision) };
}
