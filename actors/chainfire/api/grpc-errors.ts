// How chainfire errors reach gRPC clients: an etcd reason (core/errors.ts) becomes etcd's exact
// status code and message, because clientv3 and etcdctl recognise etcd errors by their text; other
// UltraErrors map by code. Anything else is a bug: logged here, answered as a bare INTERNAL.
import { GrpcStatus } from '../../../runtime/grpc/status.ts';
import type { GrpcError, GrpcStatusCode } from '../../../runtime/grpc/status.ts';
import type { Logger } from '../../../runtime/log/logger.ts';
import type { ErrorCode } from '../../../runtime/errors.ts';
import { UltraError } from '../../../runtime/errors.ts';
import { ETCD_ERRORS, etcdReason } from '../core/errors.ts';

export type { GrpcError };

const BY_CODE: Readonly<Record<ErrorCode, GrpcStatusCode>> = {
  InvalidArgument: GrpcStatus.INVALID_ARGUMENT,
  NotFound: GrpcStatus.NOT_FOUND,
  AlreadyExists: GrpcStatus.ALREADY_EXISTS,
  FailedPrecondition: GrpcStatus.FAILED_PRECONDITION,
  PermissionDenied: GrpcStatus.PERMISSION_DENIED,
  Unauthenticated: GrpcStatus.UNAUTHENTICATED,
  Unavailable: GrpcStatus.UNAVAILABLE,
  ResourceExhausted: GrpcStatus.RESOURCE_EXHAUSTED,
  DeadlineExceeded: GrpcStatus.DEADLINE_EXCEEDED,
  Aborted: GrpcStatus.ABORTED,
  Internal: GrpcStatus.INTERNAL,
};

export function toGrpcError(error: unknown, log: Logger): GrpcError {
  const reason = etcdReason(error);
  if (reason !== undefined) {
    const entry = ETCD_ERRORS[reason];
    // invalid-request has no etcd text: the UltraError's message says what was wrong.
    const details = entry.message === '' ? (error as UltraError).message : entry.message;
    return { code: GrpcStatus[entry.grpc], details };
  }
  if (error instanceof UltraError && error.code !== 'Internal') {
    return { code: BY_CODE[error.code], details: error.message };
  }
  log.error({ err: error }, 'etcd gRPC request failed unexpectedly');
  return { code: GrpcStatus.INTERNAL, details: 'chainfire: internal error' };
}

// etcd's own authentication errors (etcdserver/api/v3rpc/rpctypes), with its codes and texts.
export const AUTH_FAILED: GrpcError = {
  code: GrpcStatus.INVALID_ARGUMENT,
  details: 'etcdserver: authentication failed, invalid user ID or password',
};
export const INVALID_AUTH_TOKEN: GrpcError = { code: GrpcStatus.UNAUTHENTICATED, details: 'etcdserver: invalid auth token' };
export const USER_EMPTY: GrpcError = { code: GrpcStatus.INVALID_ARGUMENT, details: 'etcdserver: user name is empty' };
export const AUTH_NOT_ENABLED: GrpcError = {
  code: GrpcStatus.FAILED_PRECONDITION,
  details: 'etcdserver: authentication is not enabled',
};
export function unimplemented(service: string, method: string): GrpcError {
  return { code: GrpcStatus.UNIMPLEMENTED, details: `chainfire: etcdserverpb.${service}/${method} is not implemented` };
}

/**
 * Membership changes: chainfire's voters are fixed when the cluster is created (`ultracloud
 * cluster init`, 1, 3 or 5 voters); changing them safely needs joint-consensus membership change,
 * which chainfire does not implement.
 */
/** etcd's user and role management: in UltraCloud, iam owns identities and roles for every API. */
export function managedByIam(method: string): GrpcError {
  return {
    code: GrpcStatus.UNIMPLEMENTED,
    details: `chainfire: Auth.${method} is not served: users, roles and permissions are managed by iam (ultracloud iam users|roles|bindings …); etcd clients log in with an iam user through Authenticate`,
  };
}

export function fixedMembership(method: string): GrpcError {
  return {
    code: GrpcStatus.UNIMPLEMENTED,
    details: `chainfire: ${method} is not supported: membership is fixed when the cluster is created (ultracloud cluster init, 1, 3 or 5 voters), and chainfire does not implement joint-consensus membership change`,
  };
}
