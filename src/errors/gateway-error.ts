import { ERRORS, type ErrorName } from './table.js';

/**
 * The one error type a stage throws to stop a request. Its `name` indexes the error table,
 * which fixes the S3 Code, HTTP status and default message. Messages never carry key material:
 * callers pass only header names, never header values.
 */
export class GatewayError extends Error {
  readonly error: ErrorName;
  readonly status: number;
  readonly code: string;
  readonly argumentName?: string;
  /** Extra response headers (e.g. Retry-After). */
  readonly headers?: Record<string, string>;

  constructor(error: ErrorName, opts: { message?: string; argumentName?: string; headers?: Record<string, string>; cause?: unknown } = {}) {
    const row = ERRORS[error];
    super(opts.message ?? row.message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.error = error;
    this.status = row.status;
    this.code = row.code;
    this.argumentName = opts.argumentName;
    this.headers = opts.headers;
  }
}
