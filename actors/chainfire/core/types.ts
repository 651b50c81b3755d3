// The etcd v3 request and response shapes the chainfire KV core speaks: etcd's rpc.proto and
// kv.proto field names, in the form @grpc/proto-loader produces with `keepCase: true,
// enums: String, oneofs: true`, so the gRPC layer passes them almost straight through.
//
// What the gRPC layer converts at the edge:
// - int64 fields are bigint here; with `longs: String` proto-loader yields decimal strings, which
//   the gRPC layer turns into bigint on the way in and back into strings on the way out;
// - bytes fields are Uint8Array (proto-loader's Buffers already are);
// - enums are their proto names ('PUT', 'EQUAL', 'DESCEND', ...).
// Request fields are optional and may be null (proto3 defaults: empty bytes, 0, false, the first
// enum value), so a request decoded with or without `defaults: true` means the same thing.
// Responses are always complete. ResponseHeader holds only `revision`: cluster_id, member_id and
// raft_term belong to the server, which fills them in.

type Bytes = Uint8Array;
type Opt<T> = T | null | undefined;

export interface KeyValue {
  readonly key: Bytes;
  readonly create_revision: bigint;
  readonly mod_revision: bigint;
  /** 1 on creation, +1 on each put; a deleted key starts again at 1. */
  readonly version: bigint;
  readonly value: Bytes;
  /** 0 when the key has no lease. */
  readonly lease: bigint;
}

export interface ResponseHeader {
  readonly revision: bigint;
}

export const SORT_ORDERS = ['NONE', 'ASCEND', 'DESCEND'] as const;
export type SortOrder = (typeof SORT_ORDERS)[number];
export const SORT_TARGETS = ['KEY', 'VERSION', 'CREATE', 'MOD', 'VALUE'] as const;
export type SortTarget = (typeof SORT_TARGETS)[number];

export interface RangeRequest {
  readonly key: Bytes;
  readonly range_end?: Opt<Bytes>;
  /** 0 (or less): no limit. */
  readonly limit?: Opt<bigint>;
  /** 0 (or less): the current revision. */
  readonly revision?: Opt<bigint>;
  readonly sort_order?: Opt<SortOrder>;
  readonly sort_target?: Opt<SortTarget>;
  /** Read-path choice of the server (ReadIndex or local); the core ignores it. */
  readonly serializable?: Opt<boolean>;
  readonly keys_only?: Opt<boolean>;
  readonly count_only?: Opt<boolean>;
  readonly min_mod_revision?: Opt<bigint>;
  readonly max_mod_revision?: Opt<bigint>;
  readonly min_create_revision?: Opt<bigint>;
  readonly max_create_revision?: Opt<bigint>;
}

export interface RangeResponse {
  readonly header: ResponseHeader;
  readonly kvs: readonly KeyValue[];
  readonly more: boolean;
  /** Keys in the range at the read revision, before limit and the min/max revision filters (as etcd). */
  readonly count: bigint;
}

export interface PutRequest {
  readonly key: Bytes;
  readonly value?: Opt<Bytes>;
  readonly lease?: Opt<bigint>;
  readonly prev_kv?: Opt<boolean>;
  readonly ignore_value?: Opt<boolean>;
  readonly ignore_lease?: Opt<boolean>;
}

export interface PutResponse {
  readonly header: ResponseHeader;
  readonly prev_kv?: KeyValue;
}

export interface DeleteRangeRequest {
  readonly key: Bytes;
  readonly range_end?: Opt<Bytes>;
  readonly prev_kv?: Opt<boolean>;
}

export interface DeleteRangeResponse {
  readonly header: ResponseHeader;
  readonly deleted: bigint;
  /** Filled only when the request asked for prev_kv. */
  readonly prev_kvs: readonly KeyValue[];
}

export const COMPARE_RESULTS = ['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL'] as const;
export type CompareResult = (typeof COMPARE_RESULTS)[number];
export const COMPARE_TARGETS = ['VERSION', 'CREATE', 'MOD', 'VALUE', 'LEASE'] as const;
export type CompareTarget = (typeof COMPARE_TARGETS)[number];

/**
 * One txn guard. The operand is the field named by `target` (proto's target_union oneof); an
 * absent operand is its proto default (0 or empty bytes).
 */
export interface Compare {
  readonly result?: Opt<CompareResult>;
  readonly target?: Opt<CompareTarget>;
  readonly key: Bytes;
  readonly range_end?: Opt<Bytes>;
  readonly version?: Opt<bigint>;
  readonly create_revision?: Opt<bigint>;
  readonly mod_revision?: Opt<bigint>;
  readonly value?: Opt<Bytes>;
  readonly lease?: Opt<bigint>;
}

/** proto's `oneof request`: exactly one member is set. */
export interface RequestOp {
  readonly request_range?: Opt<RangeRequest>;
  readonly request_put?: Opt<PutRequest>;
  readonly request_delete_range?: Opt<DeleteRangeRequest>;
  readonly request_txn?: Opt<TxnRequest>;
}

export type ResponseOp =
  | { readonly response_range: RangeResponse }
  | { readonly response_put: PutResponse }
  | { readonly response_delete_range: DeleteRangeResponse }
  | { readonly response_txn: TxnResponse };

export interface TxnRequest {
  readonly compare?: Opt<readonly Compare[]>;
  readonly success?: Opt<readonly RequestOp[]>;
  readonly failure?: Opt<readonly RequestOp[]>;
}

export interface TxnResponse {
  readonly header: ResponseHeader;
  readonly succeeded: boolean;
  readonly responses: readonly ResponseOp[];
}

export interface CompactionRequest {
  readonly revision: bigint;
  /** etcd waits for the backend to compact; here compaction is always immediate, so it is moot. */
  readonly physical?: Opt<boolean>;
}

export interface CompactionResponse {
  readonly header: ResponseHeader;
}

/** mvccpb.Event. A DELETE's kv has only key and mod_revision set (the tombstone), as in etcd. */
export interface Event {
  readonly type: 'PUT' | 'DELETE';
  readonly kv: KeyValue;
  /** The key's previous live version, when history still holds it. */
  readonly prev_kv?: KeyValue;
}

export interface LeaseGrantRequest {
  /** Seconds. Raised to the store's minimum TTL, as etcd does. */
  readonly TTL: bigint;
  /** 0: the store allocates one. */
  readonly ID?: Opt<bigint>;
}

export interface LeaseGrantResponse {
  readonly header: ResponseHeader;
  readonly ID: bigint;
  readonly TTL: bigint;
  readonly error: string;
}

export interface LeaseRevokeRequest {
  readonly ID: bigint;
}

export interface LeaseRevokeResponse {
  readonly header: ResponseHeader;
}

export interface LeaseKeepAliveRequest {
  readonly ID: bigint;
}

export interface LeaseKeepAliveResponse {
  readonly header: ResponseHeader;
  readonly ID: bigint;
  readonly TTL: bigint;
}

export interface LeaseTimeToLiveRequest {
  readonly ID: bigint;
  readonly keys?: Opt<boolean>;
}

export interface LeaseTimeToLiveResponse {
  readonly header: ResponseHeader;
  readonly ID: bigint;
  /** Remaining seconds, rounded up; 0 once past the deadline but not yet expired through the log. */
  readonly TTL: bigint;
  readonly grantedTTL: bigint;
  readonly keys: readonly Bytes[];
}

export interface LeaseLeasesResponse {
  readonly header: ResponseHeader;
  readonly leases: readonly { readonly ID: bigint }[];
}

export const ALARM_ACTIONS = ['GET', 'ACTIVATE', 'DEACTIVATE'] as const;
export type AlarmAction = (typeof ALARM_ACTIONS)[number];
export const ALARM_TYPES = ['NONE', 'NOSPACE', 'CORRUPT'] as const;
export type AlarmType = (typeof ALARM_TYPES)[number];

/** etcd's AlarmRequest. memberID 0 means every member. */
export interface AlarmRequest {
  readonly action?: Opt<AlarmAction>;
  readonly memberID?: Opt<bigint>;
  readonly alarm?: Opt<AlarmType>;
}

export interface AlarmMember {
  readonly memberID: bigint;
  readonly alarm: AlarmType;
}

export interface AlarmResponse {
  readonly header: ResponseHeader;
  readonly alarms: readonly AlarmMember[];
}

export interface HashKVResponse {
  readonly header: ResponseHeader;
  /** CRC-32C of the history up to the requested revision (see hash-kv.ts). */
  readonly hash: number;
  readonly compact_revision: bigint;
}

export interface HashResponse {
  readonly header: ResponseHeader;
  /** CRC-32C of the member's whole store (its snapshot encoding). */
  readonly hash: number;
}
