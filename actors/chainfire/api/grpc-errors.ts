// How chainfire errors reach gRPC clients: an etcd reason (core/errors.ts) becomes etcd's exact
// status code and message, because clientv3 and etcdctl recognise etcd errors by their text; other
// UltraErrors map by code. Anything else is a bug: logged here, answered as a bare INTERNAL.
import { status } from '@grpc/grpc-js';
import type { StatusObject } from '@grpc/grpc-js';
import type { Logger } from '../../../runtime/log/logger.ts';
import type { ErrorCode } from '../../../runtime/errors.ts';
import { UltraError } from '../../../runtime/errors.ts';
import { ETCD_ERRORS, etcdReason } from '../core/errors.ts';

export type GrpcError = Pick<StatusObject, 'code' | 'details'>;

const BY_CODE: Readonly<Record<ErrorCode, status>> = {
  InvalidArgument: status.INVALID_ARGUMENT,
  NotFound: status.NOT_FOUND,
  AlreadyExists: status.ALREADY_EXISTS,
  FailedPrecondition: status.FAILED_PRECONDITION,
  PermissionDenied: status.PERMISSION_DENIED,
  Unauthenticated: status.UNAUTHENTICATED,
  Unavailable: status.UNAVAILABLE,
  ResourceExhausted: status.RESOURCE_EXHAUSTED,
  DeadlineExceeded: status.DEADLINE_EXCEEDED,
  Aborted: status.ABORTED,
  Internal: status.INTERNAL,
};

export function toGrpcError(error: unknown, log: Logger): GrpcError {
  const reason = etcdReason(error);
  if (reason !== undefined) {
    const entry = ETCD_ERRORS[reason];
    // invalid-request has no etcd text: the UltraError's message says what was wrong.
    const details = entry.message === '' ? (error as UltraError).message : entry.message;
    return { code: status[entry.grpc], details };
  }
  if (error instanceof UltraError && error.code !== 'Internal') {
    return { code: BY_CODE[error.code], details: error.message };
  }
  log.error({ err: error }, 'etcd gRPC request failed unexpectedly');
  return { code: status.INTERNAL, details: 'chainfire: internal error' };
}

// etcd's own authentication errors (etcdserver/api/v3rpc/rpctypes), with its codes and texts.
export const AUTH_FAILED: GrpcError = {
  code: status.INVALID_ARGUMENT,
  details: 'etcdserver: authentication failed, invalid user ID or password',
};
export const INVALID_AUTH_TOKEN: GrpcError = { code: status.UNAUTHENTICATED, details: 'etcdserver: invalid auth token' };
export const USER_EMPTY: GrpcError = { code: status.INVALID_ARGUMENT, details: 'etcdserver: user name is empty' };
export const AUTH_NOT_ENABLED: GrpcError = {
  code: status.FAILED_PRECONDITION,
  details: 'etcdserver: authentication is not enabled',
};
export function unimplemented(service: string, method: string): GrpcError {
  return { code: status.UNIMPLEMENTED, details: `chainfire: etcdserverpb.${service}/${method} is not implemented` };
}

/**
 * Membership changes: chainfire's voters are fixed when the cluster is created (`ultracloud
 * cluster init`, 1, 3 or 5 voters); changing them safely needs joint-consensus membership change,
 * which chainfire does not implement.
 */
/** etcd's user and role management: in UltraCloud, iam owns identities and roles for every API. */
export function managedByIam(method: string): GrpcError {
  return {
    code: status.UNIMPLEMENTED,
    details: `chainfire: Auth.${method} is not served: users, roles and permissions are managed by iam (ultracloud iam users|roles|bindings …); etcd clients log in with an iam user through Authenticate`,
  };
}

export function fixedMembership(method: string): GrpcError {
  return {
    code: status.UNIMPLEMENTED,
    details: `chainfire: ${method} is not supported: membership is fixed when the cluster is created (ultracloud cluster init, 1, 3 or 5 voters), and chainfire does not implement joint-consensus membership change`,
  };
}
