/**
 * Verify a parsed SigV4 request against the credential store: hand-rolled canonical request + node:crypto HMAC
 * with cached signing keys (stack-notes §2 "Cost": ~7× cheaper than re-signing with @smithy/signature-v4; the
 * unit tests cross-check every case against smithy and against captured real-client requests).
 *
 * Checks, in the order S3 applies them (an S3 emulator test suite asserting AWS's answers; versitygw; MinIO):
 *   1. Credential scope: service (default s3), region (when one is expected)      → AuthorizationHeaderMalformed / …QueryParametersError
 *   2. header auth: x-amz-content-sha256 present and a known mode or 64 hex digits  → InvalidRequest / InvalidArgument / NotImplemented
 *   3. the request time: x-amz-date (or Date) parses; the scope date is its day     → AccessDenied / …Malformed
 *   4. host and every x-amz-* header present are signed                             → AccessDenied (HeadersNotSigned)
 *   5. the access key exists                                                        → InvalidAccessKeyId
 *   6. the signature, compared in constant time                                     → SignatureDoesNotMatch (+ StringToSign, CanonicalRequest, …)
 *   7. the clock: ±15 min (header) / X-Amz-Date + X-Amz-Expires (presigned)         → RequestTimeTooSkewed / AccessDenied
 *      (S3 checks the key and the signature before the time.)
 *   8. aws-chunked prerequisites: x-amz-decoded-content-length, x-amz-trailer       → MissingContentLength / InvalidRequest
 * The body itself is not read here: hex payloads are checked upstream (forward the hash) or with PlainBodyVerifier,
 * aws-chunked ones by AwsChunkedDecoder with `verified.signing`.
 */
import { timingSafeEqual } from 'node:crypto';
import { SECRET_HEADERS } from '../s3/headers.js';
import { isChecksumHeader, type ChecksumHeader } from './checksum.js';
import {
  ALGORITHM,
  HEADER,
  MAX_SKEW_MS,
  QUERY,
  STREAMING_ECDSA,
  STREAMING_ECDSA_TRAILER,
  STREAMING_EVENTS,
  STREAMING_SIGNED,
  STREAMING_SIGNED_TRAILER,
  STREAMING_UNSIGNED_TRAILER,
  UNSIGNED_PAYLOAD,
  type PayloadMode,
  type StreamingMode,
} from './constants.js';
import { canonicalPath, canonicalQuery, foldHeaderValue, formatAmzDate, isHex64, parseAmzDate, parseHttpDate, type QueryParam } from './encoding.js';
import { headerMalformed, headerScopeFault, hexBytes, isoSeconds, queryMalformed, queryScopeFault, SigV4Error } from './errors.js';
import type { SigV4Request } from './parse.js';
import { defaultSigningKeys, hmac, sha256Hex, type SigningKeyCache } from './signing-key.js';

export interface StoredCredentials {
  readonly secretAccessKey: string;
}
export type CredentialLookup = (accessKeyId: string) => StoredCredentials | undefined;

export interface VerifyOptions {
  /** the region the scope must name; any region when unset */
  region?: string;
  /** the service the scope must name (default `s3`) */
  service?: string;
  /** signing-key cache (default: a process-wide LRU of 1024) */
  keys?: SigningKeyCache;
  /** allowed clock difference for header auth and presign start (default 15 min, as S3) */
  maxSkewMs?: number;
}

/** What the aws-chunked decoder needs to check chunk and trailer signatures (sigv4-streaming). */
export interface ChunkSigning {
  /** kSigning for the request's scope. Key material: never log it. */
  readonly signingKey: Buffer;
  /** the request timestamp line, YYYYMMDDTHHMMSSZ */
  readonly amzDate: string;
  /** yyyymmdd/region/service/aws4_request */
  readonly scope: string;
  /** the request's signature (lower-case hex): the seed of the chunk-signature chain */
  readonly seedSignature: string;
}

export interface VerifiedRequest {
  readonly accessKeyId: string;
  readonly region: string;
  readonly service: string;
  /** lower-case, in the client's order */
  readonly signedHeaders: readonly string[];
  readonly payloadMode: Exclude<PayloadMode, 'STREAMING-AWS4-HMAC-SHA256-EVENTS'>;
  /** the x-amz-content-sha256 value when payloadMode is 'hex' (as sent) */
  readonly payloadHash?: string;
  readonly signing: ChunkSigning;
  readonly presigned: boolean;
  readonly requestTime: Date;
  /** presigned: the end of validity */
  readonly expiresAt?: Date;
  /** x-amz-security-token header / X-Amz-Security-Token parameter, as sent */
  readonly securityToken?: string;
  /** aws-chunked modes: x-amz-decoded-content-length */
  readonly decodedContentLength?: number;
  /** aws-chunked trailer modes: the checksum named by x-amz-trailer, if any */
  readonly trailer?: ChecksumHeader;
}

/** Header values never shown in a CanonicalRequest error detail (SSE-C keys, security token, cookies…). */
const REDACTED_HEADERS = new Set<string>(SECRET_HEADERS);
const REDACTED = '[redacted]';

/** The canonical request S3 computes for `req`. `redact` blanks secret values (for error details only). */
export function canonicalRequest(req: SigV4Request, redact = false): string {
  const presigned = req.kind === 'presigned';
  const skip = presigned ? (p: QueryParam) => p.rawName.toLowerCase() === QUERY.signature : undefined;
  let query = canonicalQuery(req.query, skip);
  if (redact) query = query.replace(/(^|&)(X-Amz-Security-Token=)[^&]*/gi, `$1$2${REDACTED}`);
  let s = `${req.method}\n${canonicalPath(req.rawPath)}\n${query}\n`;
  for (const name of req.signedHeaders) {
    let value: string;
    // host; or :authority, which the AWS SDK for JS v3 signs instead of host over HTTP/2 (captured)
    if (name === HEADER.host || name === ':authority') value = req.authority;
    else {
      const vs = req.headers.get(name);
      value = vs === undefined ? '' : vs.length === 1 ? foldHeaderValue(vs[0]!) : vs.map(foldHeaderValue).join(',');
    }
    if (redact && REDACTED_HEADERS.has(name)) value = REDACTED;
    s += `${name}:${value}\n`;
  }
  return `${s}\n${req.signedHeaders.join(';')}\n${req.payloadHash ?? ''}`;
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
}

const MODES: Record<string, PayloadMode | 'ecdsa'> = {
  [UNSIGNED_PAYLOAD]: 'UNSIGNED-PAYLOAD',
  [STREAMING_SIGNED]: STREAMING_SIGNED,
  [STREAMING_SIGNED_TRAILER]: STREAMING_SIGNED_TRAILER,
  [STREAMING_UNSIGNED_TRAILER]: STREAMING_UNSIGNED_TRAILER,
  [STREAMING_EVENTS]: STREAMING_EVENTS,
  [STREAMING_ECDSA]: 'ecdsa',
  [STREAMING_ECDSA_TRAILER]: 'ecdsa',
};

function payloadMode(value: string): VerifiedRequest['payloadMode'] {
  const m = Object.prototype.hasOwnProperty.call(MODES, value) ? MODES[value] : isHex64(value) ? 'hex' : undefined;
  if (m === undefined) throw new SigV4Error('ContentSha256Invalid', { argumentName: HEADER.contentSha256, details: { ArgumentValue: value } });
  if (m === 'ecdsa' || m === STREAMING_EVENTS) throw new SigV4Error('PayloadModeNotImplemented', { details: { Header: HEADER.contentSha256 } });
  return m;
}

function one(req: SigV4Request, name: string): string | undefined {
  const v = req.headers.get(name);
  return v === undefined ? undefined : v.join(',');
}

/**
 * Step 7, the clock, which needs no secret (auth mode passthrough checks it too): a header-signed
 * request within ±maxSkew of now; a presigned URL from X-Amz-Date to X-Amz-Date + X-Amz-Expires,
 * whose end it returns.
 */
export function checkClock(req: SigV4Request, requestTime: Date, now: Date, maxSkew = MAX_SKEW_MS): Date | undefined {
  if (req.kind === 'presigned') {
    const expires = req.expires!;
    const expiresAt = new Date(requestTime.getTime() + expires * 1000);
    // valid from X-Amz-Date to the end of its last second; X-Amz-Expires=0 is never valid
    if (expires === 0 || now.getTime() > expiresAt.getTime()) {
      throw new SigV4Error('PresignExpired', { details: { 'X-Amz-Expires': String(expires), Expires: isoSeconds(expiresAt), ServerTime: isoSeconds(now) } });
    }
    if (requestTime.getTime() - now.getTime() > maxSkew) {
      throw new SigV4Error('PresignNotYetValid', { details: { 'X-Amz-Date': req.rawDate!, ServerTime: isoSeconds(now) } });
    }
    return expiresAt;
  }
  if (Math.abs(now.getTime() - requestTime.getTime()) > maxSkew) {
    throw new SigV4Error('RequestTimeTooSkewed', {
      details: { RequestTime: req.rawDate!, ServerTime: isoSeconds(now), MaxAllowedSkewMilliseconds: String(maxSkew) },
    });
  }
  return undefined;
}

/**
 * Verifies `req` (from parse()) with the secret `lookup` returns for its access key, at time `now`.
 * Returns what later stages need; throws a SigV4Error (a GatewayError) with S3's code, message and details.
 */
export function verify(req: SigV4Request, lookup: CredentialLookup, now: Date, opts: VerifyOptions = {}): VerifiedRequest {
  const presigned = req.kind === 'presigned';
  const fault = presigned ? queryScopeFault : headerScopeFault;
  const service = opts.service ?? 's3';

  // 1. scope
  if (req.scope.service !== service) throw fault(`incorrect service "${req.scope.service}". This endpoint belongs to "${service}".`);
  if (opts.region !== undefined && req.scope.region !== opts.region) {
    throw fault(`the region '${req.scope.region}' is wrong; expecting '${opts.region}'`, { Region: opts.region });
  }

  // 2. payload hash
  if (req.payloadHash === undefined) throw new SigV4Error('ContentSha256Missing');
  const mode = payloadMode(req.payloadHash);

  // 3. time of the request
  let requestTime: Date | undefined;
  let amzDate: string;
  if (req.dateSource === 'date') {
    requestTime = req.rawDate === undefined ? undefined : parseHttpDate(req.rawDate);
    if (!requestTime) throw new SigV4Error('AuthDateMissing');
    amzDate = formatAmzDate(requestTime);
  } else {
    requestTime = req.rawDate === undefined ? undefined : parseAmzDate(req.rawDate);
    if (!requestTime) {
      if (presigned) throw queryMalformed(`X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`);
      throw new SigV4Error('AuthDateMissing');
    }
    amzDate = req.rawDate!;
  }
  const day = amzDate.slice(0, 8);
  if (req.scope.date !== day) {
    const text = `Invalid credential date "${req.scope.date}". This date is not the same as X-Amz-Date: "${day}".`;
    throw presigned ? queryMalformed(text) : headerMalformed(text);
  }

  // 4. host and every x-amz-* header must be signed (else a presigned URL could be extended, e.g. with x-amz-copy-source)
  const signed = new Set(req.signedHeaders);
  const notSigned: string[] = [];
  if (!signed.has(HEADER.host) && !signed.has(':authority')) notSigned.push(HEADER.host);
  for (const name of req.headers.keys()) if (name.startsWith('x-amz-') && !signed.has(name)) notSigned.push(name);
  if (notSigned.length > 0) throw new SigV4Error('HeadersNotSigned', { details: { HeadersNotSigned: notSigned.join(', ') } });

  // 5. access key
  const creds = lookup(req.accessKeyId);
  if (!creds) throw new SigV4Error('InvalidAccessKeyId', { details: { AWSAccessKeyId: req.accessKeyId } });

  // 6. signature
  const keys = opts.keys ?? defaultSigningKeys;
  const signingKey = keys.get(creds.secretAccessKey, req.scope.date, req.scope.region, req.scope.service);
  const canonical = canonicalRequest(req);
  const sts = stringToSign(amzDate, req.scope.value, canonical);
  const expected = hmac(signingKey, sts);
  const provided = isHex64(req.signature) ? Buffer.from(req.signature, 'hex') : undefined;
  if (!provided || !timingSafeEqual(expected, provided)) {
    const shown = canonicalRequest(req, true);
    throw new SigV4Error('SignatureDoesNotMatch', {
      details: {
        AWSAccessKeyId: req.accessKeyId,
        StringToSign: sts,
        SignatureProvided: req.signature,
        StringToSignBytes: hexBytes(sts),
        CanonicalRequest: shown,
        CanonicalRequestBytes: hexBytes(shown),
      },
    });
  }

  // 7. clock
  const expiresAt = checkClock(req, requestTime, now, opts.maxSkewMs ?? MAX_SKEW_MS);

  // 8. aws-chunked prerequisites
  let decodedContentLength: number | undefined;
  let trailer: ChecksumHeader | undefined;
  if (mode.startsWith('STREAMING-')) {
    const dl = one(req, HEADER.decodedLength);
    if (dl === undefined || !/^\d{1,16}$/.test(dl) || Number(dl) > Number.MAX_SAFE_INTEGER) throw new SigV4Error('DecodedLengthMissing');
    decodedContentLength = Number(dl);
    const t = one(req, HEADER.trailer)?.trim().toLowerCase();
    if (t !== undefined && t !== '') {
      if (mode === STREAMING_SIGNED || !isChecksumHeader(t)) throw new SigV4Error('TrailerNotSupported');
      trailer = t;
    }
  }

  return {
    accessKeyId: req.accessKeyId,
    region: req.scope.region,
    service: req.scope.service,
    signedHeaders: req.signedHeaders,
    payloadMode: mode,
    payloadHash: mode === 'hex' ? req.payloadHash : undefined,
    signing: { signingKey, amzDate, scope: req.scope.value, seedSignature: expected.toString('hex') },
    presigned,
    requestTime,
    expiresAt,
    securityToken: req.securityToken,
    decodedContentLength,
    trailer,
  };
}

/** True for the aws-chunked payload modes (Content-Encoding: aws-chunked bodies). */
export function isStreaming(mode: PayloadMode): mode is StreamingMode {
  return mode.startsWith('STREAMING-');
}
