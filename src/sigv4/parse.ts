/**
 * Parse what a client sent into a SigV4 request (no crypto, no clock, no credential store: see verify.ts).
 *
 * Recognised, in S3's order (an emulator test suite of S3's answers, versitygw, MinIO):
 *  - `Authorization: AWS4-HMAC-SHA256 Credential=AK/yyyymmdd/region/service/aws4_request, SignedHeaders=a;b, Signature=hex`
 *  - presigned: `X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders, -Signature` (+ `-Security-Token`),
 *    parameter names matched case-insensitively
 *  - neither: anonymous. An empty Authorization header counts as none (S3 then answers AccessDenied by policy).
 *  - SigV2 (`AWS ak:sig`, or `AWSAccessKeyId`/`Signature` in the query) is refused: InvalidRequest, as S3 regions
 *    that only speak SigV4 do. Both a header and query authentication: InvalidArgument "Only one auth mechanism…".
 * Syntax errors are S3's AuthorizationHeaderMalformed / AuthorizationQueryParametersError with S3's texts.
 */
import { ALGORITHM, HEADER, MAX_PRESIGN_EXPIRES_S, QUERY, TERMINATOR } from './constants.js';
import { decodeQueryComponent, parseQuery, type QueryParam } from './encoding.js';
import { headerMalformed, headerScopeFault, queryMalformed, queryScopeFault, SigV4Error, type ScopeFault } from './errors.js';

/** What the listener saw. `rawUrl` is `path?query` exactly as on the wire; `rawHeaders` node's flat [name, value, …]. */
export interface SigV4Input {
  method: string;
  rawUrl: string;
  rawHeaders: readonly string[];
  /** the Host header, or :authority on HTTP/2 */
  authority: string;
}

/** The request's headers, lower-case names, values in wire order (HTTP/2 pseudo-headers left out). */
export type HeaderValues = ReadonlyMap<string, readonly string[]>;

export interface CredentialScope {
  /** yyyymmdd */
  readonly date: string;
  readonly region: string;
  readonly service: string;
  /** `date/region/service/aws4_request`, as it appears in the string to sign */
  readonly value: string;
}

export interface SigV4Request {
  readonly kind: 'header' | 'presigned';
  readonly method: string;
  /** wire path, without the query */
  readonly rawPath: string;
  /** wire query, without `?` ('' when none) */
  readonly rawQuery: string;
  readonly query: readonly QueryParam[];
  readonly headers: HeaderValues;
  readonly authority: string;
  readonly accessKeyId: string;
  readonly scope: CredentialScope;
  /** lower-case names, in the client's order */
  readonly signedHeaders: readonly string[];
  /** the signature as sent (verify compares it case-insensitively as hex) */
  readonly signature: string;
  /** the request time as sent: x-amz-date (or Date) header, or X-Amz-Date; undefined when missing */
  readonly rawDate?: string;
  readonly dateSource: 'x-amz-date' | 'date' | 'query';
  /** presigned: X-Amz-Expires in seconds */
  readonly expires?: number;
  /** header: the x-amz-content-sha256 value, undefined when missing. presigned: X-Amz-Content-Sha256 / the header / UNSIGNED-PAYLOAD */
  readonly payloadHash?: string;
  /** x-amz-security-token header, or X-Amz-Security-Token for a presigned URL */
  readonly securityToken?: string;
}

export type ParsedAuth = { readonly kind: 'anonymous'; readonly headers: HeaderValues } | SigV4Request;

const COMPONENTS = 'the authorization header requires three components: Credential, SignedHeaders, and Signature.';

/** Lower-cased header map from node's rawHeaders (pseudo-headers skipped). */
export function headerValues(rawHeaders: readonly string[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (name.charCodeAt(0) === 0x3a) continue; // ':authority', ':path', …
    const v = m.get(name);
    if (v) v.push(rawHeaders[i + 1]!);
    else m.set(name, [rawHeaders[i + 1]!]);
  }
  return m;
}

/** The Credential value `AK/date/region/service/aws4_request` (the access key may itself contain `/`). */
export function parseCredential(value: string, fault: ScopeFault): { accessKeyId: string; scope: CredentialScope } {
  const parts = value.split('/');
  if (parts.length < 5) throw fault('the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
  const [date, region, service, terminator] = parts.slice(-4) as [string, string, string, string];
  const accessKeyId = parts.slice(0, -4).join('/');
  if (accessKeyId === '' || region === '' || service === '') {
    throw fault('the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
  }
  if (!/^\d{8}$/.test(date)) throw fault(`incorrect date format "${date}". This date in the credential must be in the format "yyyyMMdd".`);
  if (terminator !== TERMINATOR) throw fault(`incorrect terminal "${terminator}". This endpoint uses "${TERMINATOR}".`);
  return { accessKeyId, scope: { date, region, service, value: `${date}/${region}/${service}/${TERMINATOR}` } };
}

function parseSignedHeaders(value: string): string[] {
  return value === '' ? [] : value.split(';').map((h) => h.trim().toLowerCase());
}

function splitUrl(rawUrl: string): { rawPath: string; rawQuery: string } {
  const q = rawUrl.indexOf('?');
  return q === -1 ? { rawPath: rawUrl, rawQuery: '' } : { rawPath: rawUrl.slice(0, q), rawQuery: rawUrl.slice(q + 1) };
}

/** Presigned parameters by lower-cased decoded name (first occurrence wins), values decoded. */
function xAmzParams(query: readonly QueryParam[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const p of query) {
    if (p.rawName.length < 6 || (p.rawName.charCodeAt(0) | 0x20) !== 0x78) continue; // x-amz-… only
    const name = decodeQueryComponent(p.rawName).toLowerCase();
    if (name.startsWith('x-amz-') && !m.has(name)) m.set(name, decodeQueryComponent(p.rawValue));
  }
  return m;
}

/**
 * Parses the authentication of a request. Returns `{ kind: 'anonymous' }` when it carries none, the parsed
 * SigV4 request otherwise; throws a GatewayError (SigV4Error) with S3's code and message when it is malformed.
 */
export function parse(input: SigV4Input): ParsedAuth {
  const headers = headerValues(input.rawHeaders);
  const { rawPath, rawQuery } = splitUrl(input.rawUrl);
  const query = parseQuery(rawQuery);

  const authValues = headers.get(HEADER.authorization);
  const authorization = authValues && authValues.length > 0 ? authValues.join(',') : undefined;
  let queryV4 = false;
  let queryV2 = false;
  for (const p of query) {
    const n = p.rawName.toLowerCase();
    if (n === QUERY.algorithm || n === QUERY.signature || n === QUERY.credential) queryV4 = true;
    else if (p.rawName === 'AWSAccessKeyId' || p.rawName === 'Signature') queryV2 = true;
  }

  if (authorization !== undefined && authorization !== '') {
    if (queryV4 || queryV2) throw new SigV4Error('AuthMechanismConflict', { argumentName: 'Authorization' });
    return parseHeaderAuth(input, headers, rawPath, rawQuery, query, authorization);
  }
  if (queryV4) return parsePresigned(input, headers, rawPath, rawQuery, query);
  if (queryV2) throw new SigV4Error('SigV2NotSupported');
  return { kind: 'anonymous', headers };
}

function parseHeaderAuth(input: SigV4Input, headers: HeaderValues, rawPath: string, rawQuery: string, query: QueryParam[], authorization: string): SigV4Request {
  const space = authorization.indexOf(' ');
  const scheme = space === -1 ? authorization : authorization.slice(0, space);
  if (scheme === 'AWS') throw new SigV4Error('SigV2NotSupported');
  if (scheme !== ALGORITHM) throw new SigV4Error('AuthTypeUnsupported', { argumentName: 'Authorization' });

  let credential: string | undefined;
  let signedHeaders: string | undefined;
  let signature: string | undefined;
  for (const part of authorization.slice(space + 1).split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    const name = eq === -1 ? item : item.slice(0, eq);
    const value = eq === -1 ? '' : item.slice(eq + 1).trim();
    if (eq === -1) throw headerMalformed(`the authorization component "${item}" is malformed.`);
    if (name === 'Credential' && credential === undefined) credential = value;
    else if (name === 'SignedHeaders' && signedHeaders === undefined) signedHeaders = value;
    else if (name === 'Signature' && signature === undefined) signature = value;
    else throw headerMalformed(`the authorization component "${item}" is malformed.`);
  }
  if (credential === undefined || signedHeaders === undefined || signature === undefined) throw headerMalformed(COMPONENTS);
  const { accessKeyId, scope } = parseCredential(credential, headerScopeFault);

  const amzDate = headers.get(HEADER.date);
  const httpDate = headers.get(HEADER.httpDate);
  const token = headers.get(HEADER.securityToken);
  const sha = headers.get(HEADER.contentSha256);
  return {
    kind: 'header',
    method: input.method,
    rawPath,
    rawQuery,
    query,
    headers,
    authority: input.authority,
    accessKeyId,
    scope,
    signedHeaders: parseSignedHeaders(signedHeaders),
    signature,
    // x-amz-date takes precedence over Date (sig-v4-header-based-auth)
    rawDate: amzDate ? amzDate.join(',') : httpDate?.join(','),
    dateSource: amzDate ? 'x-amz-date' : 'date',
    payloadHash: sha?.join(','),
    securityToken: token?.join(','),
  };
}

function parsePresigned(input: SigV4Input, headers: HeaderValues, rawPath: string, rawQuery: string, query: QueryParam[]): SigV4Request {
  const params = xAmzParams(query);
  const algorithm = params.get(QUERY.algorithm);
  const credential = params.get(QUERY.credential);
  const signature = params.get(QUERY.signature);
  const date = params.get(QUERY.date);
  const signedHeaders = params.get(QUERY.signedHeaders);
  const expiresRaw = params.get(QUERY.expires);
  if (algorithm === undefined || credential === undefined || signature === undefined || date === undefined || signedHeaders === undefined || expiresRaw === undefined) {
    throw queryMalformed();
  }
  if (algorithm !== ALGORITHM) throw queryMalformed('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256 and AWS4-ECDSA-P256-SHA256"');
  const { accessKeyId, scope } = parseCredential(credential, queryScopeFault);
  if (!/^\d{8}T\d{6}Z$/.test(date)) throw queryMalformed(`X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`);
  if (!/^-?\d+$/.test(expiresRaw)) throw queryMalformed('X-Amz-Expires should be a number');
  const expires = Number(expiresRaw);
  if (expires < 0) throw queryMalformed('X-Amz-Expires must be non-negative');
  if (expires > MAX_PRESIGN_EXPIRES_S) {
    throw queryMalformed(`X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than ${MAX_PRESIGN_EXPIRES_S} seconds`);
  }
  // A presigned URL signs no body: UNSIGNED-PAYLOAD, unless the request names its payload hash.
  const payloadHash = params.get(QUERY.contentSha256) ?? headers.get(HEADER.contentSha256)?.join(',') ?? 'UNSIGNED-PAYLOAD';
  return {
    kind: 'presigned',
    method: input.method,
    rawPath,
    rawQuery,
    query,
    headers,
    authority: input.authority,
    accessKeyId,
    scope,
    signedHeaders: parseSignedHeaders(signedHeaders),
    signature,
    rawDate: date,
    dateSource: 'query',
    expires,
    payloadHash,
    securityToken: params.get(QUERY.securityToken),
  };
}
