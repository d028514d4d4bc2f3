/**
 * The gateway's own S3 requests to the upstream (server-side copies RGW 16 cannot do, re-keying):
 * signed with the gateway's upstream credential, bodies streamed, responses returned unread.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { GatewayError } from '../errors/gateway-error.js';
import { UpstreamWait } from './upstream-wait.js';
import { signUpstream, type HeaderInput } from '../sigv4/index.js';
import type { CredentialSource } from './credentials.js';
import type { Upstream } from './upstream.js';

/** RFC 3986 encoding of an object key, `/` kept (S3 paths are encoded once). */
export function encodeKey(key: string): string {
  return key.split('/').map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())).join('/');
}

export interface S3Call {
  method: string;
  bucket: string;
  key?: string;
  /** raw query without '?', already encoded (e.g. `uploads`, `partNumber=1&uploadId=…`) */
  query?: string;
  headers?: HeaderInput;
  /** a stream piped up, a buffer, or a function that writes (and ends) the request itself */
  body?: Readable | Buffer | ((req: ClientRequest) => void);
}

export class UpstreamS3 {
  constructor(private readonly upstream: Upstream, private readonly credentials: CredentialSource, private readonly region: string) {}

  async send(call: S3Call): Promise<IncomingMessage> {
    const url = this.upstream.url;
    const rawPath = `/${encodeKey(call.bucket)}${call.key !== undefined ? '/' + encodeKey(call.key) : ''}`;
    // the gateway's own requests carry SSE-C keys too: RGW (`rgw trust forwarded https`) must see them as TLS
    const headers: HeaderInput = { ...call.headers, 'x-forwarded-proto': 'https', forwarded: 'proto=https' };
    if (Buffer.isBuffer(call.body)) headers['content-length'] = String(call.body.length);
    const signed = await signUpstream({
      method: call.method, protocol: url.protocol as 'http:' | 'https:', hostname: url.hostname, port: url.port ? Number(url.port) : undefined,
      rawPath, rawQuery: call.query ?? '', headers, payloadHash: 'UNSIGNED-PAYLOAD', region: this.region,
    }, await this.credentials());
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = this.upstream.request({
        protocol: url.protocol, hostname: url.hostname, port: url.port || undefined, method: call.method, path: signed.path,
        headers: signed.headers, agent: this.upstream.agent, setHost: false,
      }, resolve);
      // upstream.timeoutMs: only while the upstream is waited on (upstream-wait.ts), from the start
      // until its connection is up; a streamed body then waits for its client, not for the upstream
      const wait = new UpstreamWait(req, this.upstream.timeoutMs);
      wait.wait();
      if (call.body !== undefined && !Buffer.isBuffer(call.body)) {
        const connected = () => { if (!req.writableNeedDrain) wait.taken(); };
        req.once('socket', (s) => { if (s.connecting) s.once('connect', connected); else connected(); });
        const write = req.write.bind(req) as (...a: unknown[]) => boolean;
        req.write = ((...a: unknown[]) => { const more = write(...a); wait.wrote(); return more; }) as typeof req.write;
      }
      req.once('response', () => wait.end());
      req.once('error', (e) => { wait.end(); reject(e instanceof GatewayError ? e : new GatewayError('UpstreamUnreachable', { cause: e })); });
      if (call.body === undefined || Buffer.isBuffer(call.body)) req.end(call.body);
      else if (typeof call.body === 'function') call.body(req);
      else {
        call.body.once('error', (e) => req.destroy(e));
        call.body.pipe(req);
      }
    });
  }
}

export async function readBody(res: IncomingMessage, limit = 1 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    n += (c as Buffer).length;
    if (n > limit) { res.destroy(); throw new Error('upstream response too large'); }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** An upstream answer that is not 2xx, carried to the client as the upstream said it (message filled). */
export class UpstreamAnswer extends Error {
  constructor(readonly status: number, readonly headers: IncomingMessage['headers'], readonly body: string) {
    super(`upstream answered ${status}`);
  }
}

export async function expectOk(res: IncomingMessage): Promise<IncomingMessage> {
  const status = res.statusCode ?? 502;
  if (status >= 200 && status < 300) return res;
  throw new UpstreamAnswer(status, res.headers, await readBody(res).catch(() => ''));
}
