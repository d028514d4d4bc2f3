/**
 * The SigV4 layer's errors: rows of THE error table (src/errors/table.ts) plus, where S3 adds them, the extra
 * XML elements of its error body (`details`, in S3's element order), for the lead to render after <Message>.
 *
 * Sources of the texts (S3 does not document most of them; each was cross-read in at least two S3 emulators that
 * test against AWS): the S3 REST error-code list; versitygw s3err/s3err.go; MinIO cmd/api-errors.go; and
 * third-party S3 test suites that assert AWS's bodies (AuthorizationHeaderMalformed sub-messages, the
 * Credential-scope faults, "Invalid credential date", HeadersNotSigned, RequestTimeTooSkewed details).
 *
 * Never put key material in a message or a detail: callers pass header *names*; CanonicalRequest is redacted by verify.
 */
import { GatewayError } from '../errors/gateway-error.js';
import type { ErrorName } from '../errors/table.js';

export class SigV4Error extends GatewayError {
  /** Extra elements of S3's error body, e.g. StringToSign, CanonicalRequest, RequestTime, HeadersNotSigned. */
  readonly details: Readonly<Record<string, string>>;

  constructor(error: ErrorName, opts: { message?: string; argumentName?: string; details?: Record<string, string>; cause?: unknown } = {}) {
    super(error, { message: opts.message, argumentName: opts.argumentName, cause: opts.cause });
    this.details = Object.freeze({ ...(opts.details ?? {}) });
  }
}

/** AuthorizationHeaderMalformed "The authorization header is malformed; <detail>". */
export function headerMalformed(detail: string, details?: Record<string, string>): SigV4Error {
  return new SigV4Error('AuthHeaderMalformed', { message: `The authorization header is malformed; ${detail}`, details });
}

/** AuthorizationQueryParametersError with S3's text for the fault. */
export function queryMalformed(message?: string, details?: Record<string, string>): SigV4Error {
  return new SigV4Error('AuthQueryMalformed', { message, details });
}

/** How a Credential scope fault is reported: in the header, or as the X-Amz-Credential parameter. */
export type ScopeFault = (detail: string, details?: Record<string, string>) => SigV4Error;
export const headerScopeFault: ScopeFault = headerMalformed;
export const queryScopeFault: ScopeFault = (detail, details) => queryMalformed(`Error parsing the X-Amz-Credential parameter; ${detail}`, details);

/** `2013-05-24T00:00:00Z`: the time format of S3's error details. */
export function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The bytes of a string-to-sign or canonical request as S3 prints them: two hex digits per byte, space separated. */
export function hexBytes(text: string): string {
  return Buffer.from(text, 'latin1').toString('hex').replace(/(..)(?!$)/g, '$1 ');
}

/** The checksum algorithm's name as S3 writes it in BadDigest messages: CRC32, CRC32C, CRC64NVME, SHA1, SHA256. */
export function checksumMismatch(algorithm: string): SigV4Error {
  return new SigV4Error('ChecksumMismatch', { message: `The ${algorithm} you specified did not match the calculated checksum.` });
}

/** InvalidRequest "Value for x-amz-checksum-crc32 [trailing ]header is invalid." */
export function checksumValueInvalid(headerName: string, trailing: boolean): SigV4Error {
  return new SigV4Error('ChecksumValueInvalid', { message: `Value for ${headerName} ${trailing ? 'trailing header' : 'header'} is invalid.` });
}
