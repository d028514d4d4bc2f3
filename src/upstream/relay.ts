/**
 * The response side of forwarding, fed by either upstream client (node:http for bodies, undici for
 * bodyless requests): status and headers filtered and completed, small XML error bodies read whole
 * and put in S3's words, everything else streamed with backpressure, bookkeeping bodies captured.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { bodyBytes } from '../server/scavenge-pacer.js';
import type { Metrics } from '../metrics/registry.js';
import { statusClass } from '../metrics/registry.js';
import type { RequestContext } from '../request/context.js';
import { clientGone, resetClient } from '../request/respond-error.js';
import { HOP_BY_HOP, SSEC } from '../s3/headers.js';
import { MAX_ERROR_BODY, normalizeErrorBody } from './normalize-error.js';

/** Answers the fingerprint inventory needs to read (UploadId, deleted keys, a 200 with an <Error>). */
const CAPTURE_RESPONSE = new Set(['CreateMultipartUpload', 'CompleteMultipartUpload', 'DeleteObjects']);
export const CAPTURE_LIMIT = 1 << 20;

/** Operations whose SSE-C response headers RGW 16 leaves out (the others it echoes itself). */
const ECHO_WHEN_MISSING = new Set(['UploadPartCopy', 'PostObject']);

function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const connection = headers.connection;
  const named = connection ? String(connection).toLowerCase().split(',').map((x) => x.trim()) : undefined;
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !HOP_BY_HOP.has(name) && !named?.includes(name)) out[name] = value;
  }
  return out;
}

export class ResponseRelay {
  readonly #ctx: RequestContext;
  readonly #metrics: Metrics;
  readonly #sentAt: bigint;
  /** an error body read whole before it is sent (normalised); undefined once streaming */
  #held?: { status: number; out: OutgoingHttpHeaders; chunks: Buffer[]; size: number };
  #capture?: { chunks: Buffer[]; size: number };

  constructor(ctx: RequestContext, metrics: Metrics, sentAt: bigint) {
    this.#ctx = ctx;
    this.#metrics = metrics;
    this.#sentAt = sentAt;
  }

  head(status: number, headers: IncomingHttpHeaders): void {
    const ctx = this.#ctx;
    this.#metrics.upstreamDuration.observe({ operation: ctx.operation, status_class: statusClass(status) }, Number(process.hrtime.bigint() - this.#sentAt) / 1e9);
    const id = headers['x-amz-request-id'];
    ctx.upstreamRequestId = typeof id === 'string' ? id : undefined;
    ctx.upstreamResponseHeaders = headers;
    if (status < 300 && CAPTURE_RESPONSE.has(ctx.operation)) this.#capture = { chunks: (ctx.captured ??= {}).response = [], size: 0 };
    const out = responseHeaders(headers);
    // RGW 16 answers an UploadPartCopy into an SSE-C upload, and a form POST with a 200 or 204,
    // without the SSE-C response headers that S3 sends and SDKs read (sse-c-reference.md §4).
    // It refuses a part copy whose key is not the upload's, so a 2xx to a request with a valid
    // triplet was done under that key.
    if (ctx.sseC && status >= 200 && status < 300 && out[SSEC.algorithm] === undefined && ECHO_WHEN_MISSING.has(ctx.operation)) {
      out[SSEC.algorithm] = 'AES256';
      out[SSEC.keyMd5] = ctx.sseC.keyMd5;
    }
    if (status >= 400 && ctx.method !== 'HEAD' && /xml/i.test(String(headers['content-type'] ?? '')) && !(Number(headers['content-length'] ?? NaN) > MAX_ERROR_BODY)) {
      this.#held = { status, out, chunks: [], size: 0 };
      return;
    }
    if (out['content-length'] !== undefined) ctx.bodyLength = Number(out['content-length']);
    ctx.res.writeHead(status, out);
  }

  /**
   * A node:http response as the body source: piped when nothing needs to see its chunks (most
   * answers; pipe() is what the GC and the client's socket like best), else fed chunk by chunk.
   */
  from(upRes: import('node:http').IncomingMessage): void {
    upRes.once('close', () => { if (!upRes.complete) this.truncated(); });
    if (!this.#held && !this.#capture) {
      const ctx = this.#ctx;
      upRes.on('data', (c: Buffer) => { ctx.bytesOut += c.length; bodyBytes(c.length); });
      upRes.pipe(ctx.res as NodeJS.WritableStream);
      return;
    }
    const resume = () => upRes.resume();
    upRes.on('data', (c: Buffer) => { if (!this.data(c)) { upRes.pause(); this.drain(resume); } });
    upRes.once('end', () => this.end());
  }

  /** A piece of the body; false when the client cannot take more now (wait for drain()). */
  data(chunk: Buffer): boolean {
    const ctx = this.#ctx;
    const cap = this.#capture;
    if (cap && cap.size < CAPTURE_LIMIT) { cap.chunks.push(chunk); cap.size += chunk.length; }
    const held = this.#held;
    if (held) {
      held.chunks.push(chunk);
      held.size += chunk.length;
      if (held.size <= MAX_ERROR_BODY) return true;
      // larger than announced: relayed as is
      this.#held = undefined;
      ctx.res.writeHead(held.status, held.out);
      chunk = Buffer.concat(held.chunks);
    }
    ctx.bytesOut += chunk.length;
    bodyBytes(chunk.length);
    return (ctx.res as NodeJS.WritableStream).write(chunk);
  }

  drain(resume: () => void): void {
    (this.#ctx.res as NodeJS.WritableStream).once('drain', resume);
  }

  /** The upstream body is complete. */
  end(): void {
    const ctx = this.#ctx;
    const held = this.#held;
    if (!held) { ctx.res.end(); return; }
    this.#held = undefined;
    const { body, filled } = normalizeErrorBody(Buffer.concat(held.chunks).toString('utf8'), ctx);
    if (filled) this.#metrics.upstreamMessagesFilled.inc({ code: filled });
    const buf = Buffer.from(body, 'utf8');
    held.out['content-length'] = buf.length;
    ctx.bytesOut += buf.length;
    ctx.res.writeHead(held.status, held.out);
    ctx.res.end(buf);
  }

  /** The upstream body ended before it was complete: the client must not take it as whole. */
  truncated(): void {
    if (clientGone(this.#ctx)) return; // the upstream read was ended because the client's answer was
    this.#ctx.failure ??= 'upstream_truncated';
    this.#metrics.upstreamErrors.inc({ kind: 'truncated' });
    resetClient(this.#ctx);
  }
}
