/**
 * Re-signing a request for the upstream with @smithy/signature-v4 (stack-notes §2 "Sign upstream"):
 * `uriEscapePath: false` (S3 encodes the path once), `applyChecksum: false` (the payload hash is ours to state),
 * query values decoded with valueless keys as '' (smithy drops null values: `?uploads` must sign as `uploads=`).
 *
 * The path and query sent are the canonical encoding of what the client sent (each segment/name/value decoded
 * once and UriEncoded, order kept, `?uploads` stays valueless): then the upstream computes the same canonical URI
 * whether it re-encodes the path (S3) or takes it verbatim. Use the returned `path`, not the client's.
 *
 * Which headers are signed (decided here, documented in the README by the lead):
 *   signed:   host, every x-amz-* (SSE-C and copy-source SSE-C included), content-md5, content-type, content-length,
 *             content-encoding, range, if-*, cache-control, and every other end-to-end header given
 *   unsigned: expect (proxies answer or drop it), user-agent and x-amzn-trace-id (rewritten by intermediaries; smithy
 *             never signs them either), forwarded / x-forwarded-* / x-real-ip / via (an ingress may append to them)
 *   dropped:  hop-by-hop headers, authorization, date (smithy would drop it from the signature), and the incoming
 *             x-amz-date / x-amz-content-sha256 / x-amz-security-token, which are replaced by ours
 */
import type { SignatureV4 as SignatureV4Type } from '@smithy/signature-v4';
import { HOP_BY_HOP } from '../s3/headers.js';
import { UNSIGNED_PAYLOAD } from './constants.js';
import { canonicalPath, decodeQueryComponent, parseQuery } from './encoding.js';

export interface UpstreamCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export type HeaderInput = Record<string, string | number | readonly string[] | undefined>;

export interface UpstreamRequest {
  method: string;
  protocol: 'https:' | 'http:';
  hostname: string;
  port?: number;
  /** the Host to send and sign; default hostname[:port] (port left out when it is the protocol's default) */
  host?: string;
  /** path as received on the wire (percent-encoded), without the query */
  rawPath: string;
  /** query as received, without `?` (strip presign parameters first: stripAuthQuery) */
  rawQuery: string;
  /** headers to send (any case); see the module comment for what is signed */
  headers: HeaderInput;
  /** x-amz-content-sha256 to state: UNSIGNED-PAYLOAD, or the body's hex SHA-256 */
  payloadHash: string;
  region: string;
  /** default s3 */
  service?: string;
  /** default now */
  signingDate?: Date;
}

export interface SignedUpstream {
  /** the path and query to send (canonically encoded), e.g. `/bucket/a%20b?uploads` */
  path: string;
  /** lower-case header map to send: the input's minus dropped ones, plus host, authorization, x-amz-date,
   *  x-amz-content-sha256 and (with a session token) x-amz-security-token. Repeated values are joined with `,`. */
  headers: Record<string, string>;
  /** names signed, sorted (as in the Authorization header's SignedHeaders) */
  signedHeaders: string[];
}

const UNSIGNED = new Set(['expect', 'user-agent', 'x-amzn-trace-id', 'forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-real-ip', 'via']);
const DROPPED = new Set(['authorization', 'date', 'host', 'x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token']);

/** Presigned-URL parameters, matched case-insensitively. */
const AUTH_PARAMS = new Set(['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-expires', 'x-amz-signedheaders', 'x-amz-signature', 'x-amz-security-token']);

/** The raw query without the presigned-URL authentication parameters (wire encoding and order kept). */
export function stripAuthQuery(rawQuery: string): string {
  if (rawQuery === '') return '';
  return rawQuery
    .split('&')
    .filter((p) => p !== '' && !AUTH_PARAMS.has(decodeQueryComponent(p.split('=', 1)[0]!).toLowerCase()))
    .join('&');
}

/**
 * Header changes for forwarding a decoded aws-chunked body as a plain one (stack-notes §2 pitfall 9):
 * content-length = decoded length, `aws-chunked` removed from content-encoding (dropped if it was the only coding),
 * x-amz-decoded-content-length, x-amz-trailer and x-amz-sdk-checksum-algorithm removed (the trailer checksum has
 * been verified by the decoder; S3 refuses an sdk-checksum-algorithm without its checksum), transfer-encoding removed.
 */
export function decodedBodyHeaders(headers: HeaderInput, decodedLength: number): HeaderInput {
  const out: HeaderInput = {};
  for (const [k, v] of Object.entries(headers)) {
    const name = k.toLowerCase();
    if (v === undefined || name === 'x-amz-decoded-content-length' || name === 'x-amz-trailer' || name === 'x-amz-sdk-checksum-algorithm' || name === 'transfer-encoding' || name === 'content-length') continue;
    if (name === 'content-encoding') {
      const codings = String(Array.isArray(v) ? v.join(',') : v).split(',').map((c) => c.trim()).filter((c) => c !== '' && c.toLowerCase() !== 'aws-chunked');
      if (codings.length > 0) out[name] = codings.join(',');
      continue;
    }
    out[name] = v;
  }
  out['content-length'] = String(decodedLength);
  return out;
}

/** smithy hashes strings as UTF-8; node sends header strings as latin1. Give smithy the UTF-8 reading of the bytes. */
function forSigning(v: string): string {
  if (!/[\u0080-\u00ff]/.test(v)) return v;
  const bytes = Buffer.from(v, 'latin1');
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : v;
}

function defaultHost(r: UpstreamRequest): string {
  const dflt = r.protocol === 'https:' ? 443 : 80;
  return r.port === undefined || r.port === dflt ? r.hostname : `${r.hostname}:${r.port}`;
}

/**
 * smithy is loaded on the first signature: ~18 MiB of RSS that a gateway in auth mode passthrough
 * (which never signs) does not carry.
 */
let smithy: Promise<{ SignatureV4: typeof SignatureV4Type; HttpRequest: typeof import('@smithy/protocol-http').HttpRequest; Hash: typeof import('@smithy/hash-node').Hash }> | undefined;
function loadSmithy() {
  smithy ??= Promise.all([import('@smithy/signature-v4'), import('@smithy/protocol-http'), import('@smithy/hash-node')])
    .then(([s, p, h]) => ({ SignatureV4: s.SignatureV4, HttpRequest: p.HttpRequest, Hash: h.Hash }));
  return smithy;
}

export async function signUpstream(r: UpstreamRequest, credentials: UpstreamCredentials): Promise<SignedUpstream> {
  const { SignatureV4, HttpRequest, Hash } = await loadSmithy();
  if (r.payloadHash !== UNSIGNED_PAYLOAD && !/^[0-9a-f]{64}$/.test(r.payloadHash)) {
    throw new TypeError('payloadHash must be UNSIGNED-PAYLOAD or a lower-case hex SHA-256');
  }
  const host = r.host ?? defaultHost(r);
  const toSign: Record<string, string> = { host: forSigning(host), 'x-amz-content-sha256': r.payloadHash };
  const out: Record<string, string> = { host, 'x-amz-content-sha256': r.payloadHash };
  const unsigned: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) {
    if (v === undefined) continue;
    const name = k.toLowerCase();
    if (DROPPED.has(name) || (HOP_BY_HOP.has(name) && name !== 'expect')) continue;
    const value = Array.isArray(v) ? v.join(',') : String(v);
    if (UNSIGNED.has(name)) {
      unsigned[name] = value;
    } else {
      toSign[name] = forSigning(value);
      out[name] = value;
    }
  }

  // path and query: canonical encoding on the wire, decoded values for smithy
  const path = canonicalPath(r.rawPath);
  const params = parseQuery(r.rawQuery);
  const query: Record<string, string | string[]> = {};
  const wire: string[] = [];
  for (const p of params) {
    const name = decodeQueryComponent(p.rawName);
    const value = decodeQueryComponent(p.rawValue);
    const prev = query[name];
    query[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
    wire.push(p.hasValue ? `${p.name}=${p.value}` : p.name);
  }

  const signer = new SignatureV4({
    credentials,
    region: r.region,
    service: r.service ?? 's3',
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: false,
    applyChecksum: false,
  });
  const signableHeaders = new Set([...Object.keys(toSign), 'x-amz-date', ...(credentials.sessionToken ? ['x-amz-security-token'] : [])]);
  const signed = await signer.sign(
    new HttpRequest({ method: r.method, protocol: r.protocol, hostname: r.hostname, port: r.port, path, query, headers: toSign }),
    { signingDate: r.signingDate ?? new Date(), signableHeaders },
  );
  const sh = signed.headers;
  out.authorization = sh.authorization!;
  out['x-amz-date'] = sh['x-amz-date']!;
  if (credentials.sessionToken) out['x-amz-security-token'] = credentials.sessionToken;
  Object.assign(out, unsigned);
  const signedList = /SignedHeaders=([^,]*)/.exec(out.authorization)![1]!.split(';');
  return { path: wire.length > 0 ? `${path}?${wire.join('&')}` : path, headers: out, signedHeaders: signedList };
}
