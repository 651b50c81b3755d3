// Bounds on what one request may ask of the store, with etcd's defaults. They are configuration
// of the replicated state machine: every replica must use the same values, or they diverge.

/** etcd's --max-request-bytes default (1.5 MiB). */
export const DEFAULT_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;
/** etcd's --max-txn-ops default: ops per compare/success/failure list, at every nesting level. */
export const DEFAULT_MAX_TXN_OPS = 128;
/** etcd's --quota-backend-bytes default (2 GiB). */
export const DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024;
/** etcd's minimum lease TTL with its default election timeout (1 s) and heartbeat (100 ms). */
export const DEFAULT_MIN_LEASE_TTL_SECONDS = 2n;
/** etcd's MaxLeaseTTL (about 285 years). */
export const MAX_LEASE_TTL_SECONDS = 9_000_000_000n;
/** Txns nest at most this deep: bounds recursion on untrusted input. */
export const MAX_TXN_DEPTH = 32;
/** Per-entry bookkeeping counted against the quota besides key and value bytes (a revision key). */
export const ENTRY_OVERHEAD_BYTES = 16;

export interface StoreLimits {
  readonly maxRequestBytes: number;
  readonly maxTxnOps: number;
  readonly quotaBytes: number;
  readonly minLeaseTtlSeconds: bigint;
}

export const DEFAULT_LIMITS: StoreLimits = {
  maxRequestBytes: DEFAULT_MAX_REQUEST_BYTES,
  maxTxnOps: DEFAULT_MAX_TXN_OPS,
  quotaBytes: DEFAULT_QUOTA_BYTES,
  minLeaseTtlSeconds: DEFAULT_MIN_LEASE_TTL_SECONDS,
};
