// The small, closed set of error codes every UltraCloud API speaks. Each protocol edge maps them
// once (gRPC status, HTTP status, DNS rcode); inside, code switches on `code`, never on messages.

export const ERROR_CODES = [
  'InvalidArgument',
  'NotFound',
  'AlreadyExists',
  'FailedPrecondition',
  'PermissionDenied',
  'Unauthenticated',
  'Unavailable',
  'ResourceExhausted',
  'DeadlineExceeded',
  'Aborted',
  'Internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Plain-data form of an UltraError: what travels in replies and over the wire. */
export interface ErrorData {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

export class UltraError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, details?: Readonly<Record<string, unknown>>) {
    super(message);
    this.name = code;
    this.code = code;
    this.details = details;
  }

  toData(): ErrorData {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  static fromData(data: ErrorData): UltraError {
    return new UltraError(data.code, data.message, data.details);
  }

  /** Wraps anything thrown into an UltraError (unknown errors become Internal). */
  static from(error: unknown): UltraError {
    if (error instanceof UltraError) return error;
    if (error instanceof Error) return new UltraError('Internal', error.message);
    return new UltraError('Internal', String(error));
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

export function isUltraError(error: unknown, code?: ErrorCode): error is UltraError {
  return error instanceof UltraError && (code === undefined || error.code === code);
}

/** Asserts an invariant; a broken one crashes the actor (not the process) through supervision. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new UltraError('Internal', `invariant violated: ${message}`);
}
