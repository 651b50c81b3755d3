// chainfire's errors with etcd semantics: each carries an UltraError code for the rest of
// UltraCloud and, in details.reason, the etcd error it stands for, so the gRPC layer can answer
// with etcd's exact status code and message (clients such as etcdctl and clientv3 match on the
// message text).
//
// | details.reason        | UltraError code    | etcd gRPC code     | etcd message                                             |
// |-----------------------|--------------------|--------------------|----------------------------------------------------------|
// | empty-key             | InvalidArgument    | InvalidArgument    | etcdserver: key is not provided                          |
// | key-not-found         | InvalidArgument    | InvalidArgument    | etcdserver: key not found                                |
// | value-provided        | InvalidArgument    | InvalidArgument    | etcdserver: value is provided                            |
// | lease-provided        | InvalidArgument    | InvalidArgument    | etcdserver: lease is provided                            |
// | too-many-ops          | InvalidArgument    | InvalidArgument    | etcdserver: too many operations in txn request           |
// | duplicate-key         | InvalidArgument    | InvalidArgument    | etcdserver: duplicate key given in txn request           |
// | invalid-sort-option   | InvalidArgument    | InvalidArgument    | etcdserver: invalid sort option                          |
// | request-too-large     | InvalidArgument    | InvalidArgument    | etcdserver: request is too large                         |
// | compacted             | FailedPrecondition | OutOfRange         | etcdserver: mvcc: required revision has been compacted   |
// | future-rev            | FailedPrecondition | OutOfRange         | etcdserver: mvcc: required revision is a future revision |
// | no-space              | ResourceExhausted  | ResourceExhausted  | etcdserver: mvcc: database space exceeded                |
// | lease-not-found       | NotFound           | NotFound           | etcdserver: requested lease not found                    |
// | lease-exists          | AlreadyExists      | FailedPrecondition | etcdserver: lease already exists                         |
// | lease-ttl-too-large   | InvalidArgument    | OutOfRange         | etcdserver: too large lease TTL                          |
// | bad-leader-transferee | FailedPrecondition | FailedPrecondition | etcdserver: bad leader transferee                        |
// | leader-transfer-timeout | Unavailable      | Unavailable        | etcdserver: request timed out, leader transfer took too long |
// | invalid-request       | InvalidArgument    | InvalidArgument    | (no etcd equivalent: pass the message through)           |
//
// A keep-alive for a missing lease (lease-not-found) is not an error on etcd's LeaseKeepAlive
// stream: etcd answers with TTL 0 there. A compacted watch is not an error status either: etcd
// sends a WatchResponse with compact_revision set and cancels the watcher.

import type { ErrorCode } from '../../../runtime/errors.ts';
import { UltraError } from '../../../runtime/errors.ts';

export const ETCD_ERRORS = {
  'empty-key': { code: 'InvalidArgument', grpc: 'INVALID_ARGUMENT', message: 'etcdserver: key is not provided' },
  'key-not-found': { code: 'InvalidArgument', grpc: 'INVALID_ARGUMENT', message: 'etcdserver: key not found' },
  'value-provided': { code: 'InvalidArgument', grpc: 'INVALID_ARGUMENT', message: 'etcdserver: value is provided' },
  'lease-provided': { code: 'InvalidArgument', grpc: 'INVALID_ARGUMENT', message: 'etcdserver: lease is provided' },
  'too-many-ops': {
    code: 'InvalidArgument',
    grpc: 'INVALID_ARGUMENT',
    message: 'etcdserver: too many operations in txn request',
  },
  'duplicate-key': {
    code: 'InvalidArgument',
    grpc: 'INVALID_ARGUMENT',
    message: 'etcdserver: duplicate key given in txn request',
  },
  'invalid-sort-option': { code: 'InvalidArgument', grpc: 'INVALID_ARGUMENT', message: 'etcdserver: invalid sort option' },
  'request-too-large': { code: 'InvalidArgument', grpc: 'INVALID_ARGUMENT', message: 'etcdserver: request is too large' },
  compacted: {
    code: 'FailedPrecondition',
    grpc: 'OUT_OF_RANGE',
    message: 'etcdserver: mvcc: required revision has been compacted',
  },
  'future-rev': {
    code: 'FailedPrecondition',
    grpc: 'OUT_OF_RANGE',
    message: 'etcdserver: mvcc: required revision is a future revision',
  },
  'no-space': { code: 'ResourceExhausted', grpc: 'RESOURCE_EXHAUSTED', message: 'etcdserver: mvcc: database space exceeded' },
  'lease-not-found': { code: 'NotFound', grpc: 'NOT_FOUND', message: 'etcdserver: requested lease not found' },
  'lease-exists': { code: 'AlreadyExists', grpc: 'FAILED_PRECONDITION', message: 'etcdserver: lease already exists' },
  'lease-ttl-too-large': { code: 'InvalidArgument', grpc: 'OUT_OF_RANGE', message: 'etcdserver: too large lease TTL' },
  'bad-leader-transferee': {
    code: 'FailedPrecondition',
    grpc: 'FAILED_PRECONDITION',
    message: 'etcdserver: bad leader transferee',
  },
  'leader-transfer-timeout': {
    code: 'Unavailable',
    grpc: 'UNAVAILABLE',
    message: 'etcdserver: request timed out, leader transfer took too long',
  },
  'invalid-request': { code: 'InvalidArgument', grpc: 'INVALID_ARGUMENT', message: '' },
} as const satisfies Record<string, { code: ErrorCode; grpc: string; message: string }>;

export type EtcdErrorReason = keyof typeof ETCD_ERRORS;

/**
 * An UltraError for an etcd error. The UltraError message is etcd's text (or `detail` for
 * invalid-request, which has none); `detail` adds context for logs in details.detail.
 */
export function etcdError(reason: EtcdErrorReason, detail?: string): UltraError {
  const entry = ETCD_ERRORS[reason];
  const message = entry.message === '' ? (detail ?? 'invalid request') : entry.message;
  return new UltraError(entry.code, message, detail === undefined ? { reason } : { reason, detail });
}

/** The etcd reason of an error raised by the chainfire core, if it is one. */
export function etcdReason(error: unknown): EtcdErrorReason | undefined {
  if (!(error instanceof UltraError)) return undefined;
  const reason = error.details?.['reason'];
  return typeof reason === 'string' && Object.hasOwn(ETCD_ERRORS, reason) ? (reason as EtcdErrorReason) : undefined;
}
