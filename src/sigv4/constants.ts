/** SigV4 constants as S3 defines them (docs: sig-v4-authenticating-requests, sigv4-streaming, sigv4-streaming-trailers). */

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const TERMINATOR = 'aws4_request';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** S3 accepts a request dated up to 15 minutes from its clock (RequestTimeTooSkewed, MaxAllowedSkewMilliseconds 900000). */
export const MAX_SKEW_MS = 15 * 60 * 1000;
/** X-Amz-Expires is at most 7 days (AuthorizationQueryParametersError beyond). */
export const MAX_PRESIGN_EXPIRES_S = 7 * 24 * 60 * 60;

/** Every value x-amz-content-sha256 can take besides a hex SHA-256. */
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
export const STREAMING_EVENTS = 'STREAMING-AWS4-HMAC-SHA256-EVENTS';
/** SigV4a chunk signing: recognised by S3, not implemented here. */
export const STREAMING_ECDSA = 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD';
export const STREAMING_ECDSA_TRAILER = 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER';

/** String-to-sign algorithm lines of a chunk and of the trailer (sigv4-streaming, sigv4-streaming-trailers). */
export const CHUNK_ALGORITHM = 'AWS4-HMAC-SHA256-PAYLOAD';
export const TRAILER_ALGORITHM = 'AWS4-HMAC-SHA256-TRAILER';

/** The payload modes a verified request can be in. `hex`: x-amz-content-sha256 is the body's SHA-256. */
export type PayloadMode =
  | 'UNSIGNED-PAYLOAD'
  | 'hex'
  | 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'
  | 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'
  | 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER'
  | 'STREAMING-AWS4-HMAC-SHA256-EVENTS';

/** The aws-chunked modes (body framed as `hex-size[;chunk-signature=…]\r\n data \r\n …`). */
export type StreamingMode = Extract<PayloadMode, `STREAMING-${string}`>;

export const HEADER = {
  authorization: 'authorization',
  date: 'x-amz-date',
  httpDate: 'date',
  contentSha256: 'x-amz-content-sha256',
  securityToken: 'x-amz-security-token',
  decodedLength: 'x-amz-decoded-content-length',
  trailer: 'x-amz-trailer',
  trailerSignature: 'x-amz-trailer-signature',
  contentEncoding: 'content-encoding',
  host: 'host',
} as const;

/** Presigned URL parameters (matched case-insensitively, as S3 does). */
export const QUERY = {
  algorithm: 'x-amz-algorithm',
  credential: 'x-amz-credential',
  date: 'x-amz-date',
  expires: 'x-amz-expires',
  signedHeaders: 'x-amz-signedheaders',
  signature: 'x-amz-signature',
  securityToken: 'x-amz-security-token',
  contentSha256: 'x-amz-content-sha256',
} as const;
