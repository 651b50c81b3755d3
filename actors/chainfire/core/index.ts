// The chainfire KV core: the pure, replicated etcd-v3 state machine and the types it speaks.

export { MvccStore } from './mvcc-store.ts';
export type { MvccStoreOptions } from './mvcc-store.ts';
export type { ApplyResult, Command, CommandResponses, CommandType, LeaseExpireResponse } from './commands.ts';
export { ETCD_ERRORS, etcdError, etcdReason } from './errors.ts';
export type { EtcdErrorReason } from './errors.ts';
export { compareBytes, keyBounds, prefixRangeEnd } from './key-range.ts';
export type { KeyBounds } from './key-range.ts';
export { DEFAULT_LIMITS, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_TXN_OPS, DEFAULT_QUOTA_BYTES } from './limits.ts';
export type { StoreLimits } from './limits.ts';
export type * from './types.ts';
