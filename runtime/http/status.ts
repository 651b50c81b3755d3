// The one mapping from UltraCloud error codes to HTTP status codes (Google API conventions, as
// gRPC-HTTP gateways use), shared by every JSON/HTTP API.
import type { ErrorCode } from '../errors.ts';

const STATUS: Readonly<Record<ErrorCode, number>> = {
  InvalidArgument: 400,
  FailedPrecondition: 400,
  Unauthenticated: 401,
  PermissionDenied: 403,
  NotFound: 404,
  AlreadyExists: 409,
  Aborted: 409,
  ResourceExhausted: 429,
  Internal: 500,
  Unavailable: 503,
  DeadlineExceeded: 504,
};

export function httpStatusOf(code: ErrorCode): number {
  return STATUS[code];
}
