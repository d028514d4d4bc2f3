// Raw SigV4-signed S3 requests to any endpoint (the gateway's https or plaintext listener), with
// exactly the headers the test gives: for requests no SDK will send (invalid SSE-C triplets, SSE-C on
// plain http, copy-source triplets), and sending a presigned URL by hand.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Endpoint } from './clients.js';
import { encodePath, rfc3986 } from './rgw.js';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface RawRequest {
  method: string;
  /** unencoded path, e.g. `/bucket/some key` (each segment is URI-encoded here) */
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** x-amz-content-sha256: UNSIGNED-PAYLOAD instead of the body's sha256 */
  unsignedPayload?: boolean;
}

function signer(ep: Endpoint): SignatureV4 {
  return new SignatureV4({
    service: 's3',
    region: ep.region,
    credentials: { accessKeyId: ep.accessKey, secretAccessKey: ep.secretKey },
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: false,
    applyChecksum: true,
  });
}

function toHttpRequest(ep: Endpoint, req: RawRequest): HttpRequest {
  const base = new URL(ep.url);
  const body = typeof req.body === 'string' ? Buffer.from(req.body) : req.body;
  const headers: Record<string, string> = { host: base.host, ...(req.headers ?? {}) };
  if (body !== undefined) headers['content-length'] = String(body.length);
  if (req.unsignedPayload) headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  return new HttpRequest({
    method: req.method, protocol: base.protocol, hostname: base.hostname, port: Number(base.port),
    path: encodePath(req.path), query: req.query ?? {}, headers, body,
  });
}

function queryString(query: Record<string, string> | undefined): string {
  return Object.entries(query ?? {}).map(([k, v]) => (v === '' ? rfc3986(k) : `${rfc3986(k)}=${rfc3986(v)}`)).join('&');
}

/** Sends one request to a full URL (path and query already encoded) and collects the answer. */
export function sendRaw(url: string, opts: { method: string; headers?: Record<string, string>; body?: Buffer; caFile?: string; timeoutMs?: number }): Promise<RawResponse> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise<RawResponse>((resolve, reject) => {
    const r = (mod.request as typeof https.request)({
      method: opts.method, hostname: u.hostname, port: Number(u.port), path: u.pathname + u.search,
      headers: opts.headers, agent: false, ...(u.protocol === 'https:' && opts.caFile ? { ca: readFileSync(opts.caFile) } : {}),
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    r.setTimeout(opts.timeoutMs ?? 30_000, () => r.destroy(new Error(`${opts.method} ${u.pathname}: no answer in time`)));
    r.on('error', reject);
    r.end(opts.body);
  });
}

/** One SigV4-signed (Authorization header) request to ep; every given header is signed. */
export async function s3Raw(ep: Endpoint, req: RawRequest): Promise<RawResponse> {
  const signed = await signer(ep).sign(toHttpRequest(ep, req));
  const qs = queryString(req.query);
  const body = typeof req.body === 'string' ? Buffer.from(req.body) : req.body;
  return sendRaw(`${new URL(ep.url).origin}${signed.path}${qs ? `?${qs}` : ''}`, { method: req.method, headers: signed.headers as Record<string, string>, body, caFile: ep.caFile });
}
