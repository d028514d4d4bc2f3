// One raw, SigV4-signed S3 request to any endpoint (the gateway's HTTPS or plaintext listener),
// signed by an independent signer (@smithy/signature-v4, the AWS SDK's own) for the host:port it is
// sent to — in passthrough mode the gateway forwards the signature untouched and the upstream checks
// it. Headers given are signed as given (also malformed SSE-C headers): the gateway must judge them.
import * as http from 'node:http';
import * as https from 'node:https';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

/** RFC 3986 encoding (everything but A-Z a-z 0-9 - _ . ~), as SigV4 expects */
export function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** RFC 3986 encoding of each path segment (slashes kept) */
export function encodePath(path: string): string {
  return path.split('/').map(rfc3986).join('/');
}

export interface Credentials {
  accessKey: string;
  secretKey: string;
  region: string;
}

export interface SignedRequestOpts {
  method: string;
  /** unencoded path, e.g. `/bucket/some key`; each segment is URI-encoded here */
  path: string;
  query?: Record<string, string>;
  /** signed; names as written (case is kept on the wire) */
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** PEM to trust for https (the gateway's self-signed certificate) */
  ca?: Buffer | string;
  timeoutMs?: number;
}

export interface SignedResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

/** Sends one signed request to `base` (http:// or https://) and returns the whole response. */
export async function signedRequest(base: string, creds: Credentials, req: SignedRequestOpts): Promise<SignedResponse> {
  const url = new URL(base);
  const body = typeof req.body === 'string' ? Buffer.from(req.body) : req.body;
  const headers: Record<string, string> = { host: url.host, ...(req.headers ?? {}) };
  if (body !== undefined) headers['content-length'] = String(body.length);
  const signer = new SignatureV4({
    service: 's3',
    region: creds.region,
    credentials: { accessKeyId: creds.accessKey, secretAccessKey: creds.secretKey },
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: false,
    applyChecksum: true,
  });
  const signed = await signer.sign(
    new HttpRequest({
      method: req.method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: encodePath(req.path),
      query: req.query ?? {},
      headers,
      body,
    }),
  );
  const qs = Object.entries(req.query ?? {})
    .map(([k, v]) => (v === '' ? rfc3986(k) : `${rfc3986(k)}=${rfc3986(v)}`))
    .join('&');
  const secure = url.protocol === 'https:';
  const options: https.RequestOptions = {
    method: req.method,
    hostname: url.hostname,
    port: Number(url.port),
    path: signed.path + (qs ? `?${qs}` : ''),
    headers: signed.headers,
    agent: false,
  };
  if (secure && req.ca) options.ca = req.ca;
  const mod = secure ? https : http;
  return new Promise<SignedResponse>((resolve, reject) => {
    const r = (mod.request as typeof https.request)(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, text: b.toString('utf8') });
      });
      res.on('error', reject);
    });
    r.setTimeout(req.timeoutMs ?? 30_000, () => r.destroy(new Error(`${req.method} ${req.path}: no answer in ${req.timeoutMs ?? 30_000} ms`)));
    r.on('error', reject);
    r.end(body);
  });
}

/** Code, Message, ArgumentName and RequestId of an S3 XML error body (undefined when absent). */
export function parseS3Error(xml: string): { code?: string; message?: string; argumentName?: string; requestId?: string } {
  const el = (name: string) => {
    const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
    return m ? unescapeXml(m[1]!) : undefined;
  };
  return { code: el('Code'), message: el('Message'), argumentName: el('ArgumentName'), requestId: el('RequestId') };
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|amp|apos|quot);/g, (_, e: string) => ({ lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' })[e]!);
}
