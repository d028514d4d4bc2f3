/**
 * The forwarder: the only place bodies flow. node:http `request()` with a keep-alive agent and
 * `.pipe()` both ways (backpressure for free, ~2× cheaper per request than stream.pipeline in
 * stack-notes.md), with every abort handled explicitly on both sides:
 *  - client aborts → the upstream request is destroyed (an incomplete upload never completes);
 *  - upstream body truncated → the client's stream is reset (h2 RST_STREAM / h1 socket closed);
 *  - upstream unreachable → 503, no response headers in time → 504 (S3 XML);
 *  - `Expect: 100-continue` is relayed: the client gets 100 when the upstream sends it, and an
 *    upstream refusal reaches the client before it sends the body.
 */
import { constants as h2c, type Http2ServerResponse } from 'node:http2';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { GatewayError } from '../errors/gateway-error.js';
import { HOP_BY_HOP, SSEC } from '../s3/headers.js';
import type { Metrics } from '../metrics/registry.js';
import { statusClass } from '../metrics/registry.js';
import type { RequestContext } from '../pipeline/context.js';
import { respondError } from '../pipeline/respond-error.js';
import { MAX_ERROR_BODY, normalizeErrorBody } from './normalize-error.js';
import type { Upstream } from './upstream.js';

function responseHeaders(up: IncomingMessage): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const connection = String(up.headers.connection ?? '').toLowerCase().split(',').map((x) => x.trim());
  for (const [name, value] of Object.entries(up.headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && !connection.includes(name)) out[name] = value;
  }
  return out;
}

/** Operations whose SSE-C response headers RGW 16 leaves out (the others it echoes itself). */
const ECHO_WHEN_MISSING = new Set(['UploadPartCopy', 'PostObject']);

/** Answers the fingerprint inventory needs to read (UploadId, deleted keys, a 200 with an <Error>). */
const CAPTURE_RESPONSE = new Set(['CreateMultipartUpload', 'CompleteMultipartUpload', 'DeleteObjects']);
const CAPTURE_LIMIT = 1 << 20;

/** Keeps a copy of what flows by, up to CAPTURE_LIMIT (these bodies are small XML). */
function capture(stream: { on(event: "data", cb: (c: Buffer) => void): unknown }, into: Buffer[]): void {
  let n = 0;
  stream.on('data', (c: Buffer) => { if (n < CAPTURE_LIMIT) { into.push(c); n += c.length; } });
}

/** Resets the client's stream: HTTP/2 RST_STREAM, HTTP/1.1 closes the socket, so a short body is never taken as complete. */
function resetClient(ctx: RequestContext): void {
  if (ctx.protocol === 'h2') {
    const stream = (ctx.res as Http2ServerResponse).stream;
    if (!stream.destroyed) stream.close(h2c.NGHTTP2_INTERNAL_ERROR);
  } else {
    ctx.res.destroy();
  }
}

/** After an early answer, the rest of an HTTP/1.1 body is read and discarded for at most this long and this much, then the connection is closed (nginx: lingering_time 30 s). */
const DISCARD_MS = 30_000;
const DISCARD_BYTES = 1 << 30;
/** How long a half-closed connection may keep sending before it is destroyed. */
const LINGER_MS = 2_000;

/**
 * The answer went out before the client's body was all read (an early upstream answer): stop
 * feeding the upstream and get the client to stop sending without losing the answer. HTTP/2 ends
 * the stream with RST_STREAM(NO_ERROR) (RFC 9113 §8.1). HTTP/1.1 reads and discards the rest of
 * the body, bounded in time and size, so a client that writes its whole body before reading
 * (botocore) reaches the answer; past the bound the connection is half-closed, then closed.
 */
function discardRest(ctx: RequestContext): void {
  const { req } = ctx;
  req.unpipe();
  if (ctx.protocol === 'h2') {
    const stream = (ctx.res as Http2ServerResponse).stream;
    if (!stream.destroyed) stream.close(h2c.NGHTTP2_NO_ERROR);
    return;
  }
  const socket = req.socket;
  let discarded = 0;
  const stop = () => {
    clearTimeout(timer);
    req.off('data', count);
    if (!socket.destroyed) { socket.end(); setTimeout(() => socket.destroy(), LINGER_MS).unref(); }
  };
  const count = (c: Buffer) => { discarded += c.length; if (discarded > DISCARD_BYTES) stop(); };
  const timer = setTimeout(stop, DISCARD_MS);
  timer.unref();
  req.on('data', count);
  req.once('end', () => { clearTimeout(timer); req.off('data', count); });
  req.resume();
}

/**
 * A decoded body of 0 bytes: with `Content-Length: 0` the upstream takes the headers alone as the
 * whole request, so the decoder must have verified the (empty) body and its trailer first.
 */
async function verifyEmptyBody(ctx: RequestContext): Promise<boolean> {
  if (!ctx.body || String(ctx.upstreamHeaders['content-length']) !== '0') return ctx.expectContinue;
  if (ctx.expectContinue) ctx.res.writeContinue();
  await new Promise<void>((resolve, reject) => {
    ctx.req.on('data', (c: Buffer) => { ctx.bytesIn += c.length; });
    ctx.body!.once('error', reject).once('end', resolve).resume();
  });
  ctx.body = undefined;
  return false;
}

export async function forward(ctx: RequestContext, upstream: Upstream, metrics: Metrics): Promise<void> {
  let expectContinue: boolean;
  try {
    expectContinue = await verifyEmptyBody(ctx);
  } catch (e) {
    ctx.failure = `body: ${(e as GatewayError).code ?? (e as Error).message}`;
    respondError(ctx, e instanceof GatewayError ? e : new GatewayError('Internal', { cause: e }));
    return;
  }
  const { req, res } = ctx;
  return new Promise<void>((resolve) => {
    res.once('close', () => resolve());
    const headers = ctx.upstreamHeaders;
    if (expectContinue) headers.expect = '100-continue';
    const sentAt = process.hrtime.bigint();
    const up = upstream.request({
      protocol: upstream.url.protocol, hostname: upstream.url.hostname, port: upstream.url.port || undefined,
      method: ctx.method, path: ctx.upstreamPath ?? ctx.req.url ?? '/', headers, agent: upstream.agent, setHost: false,
    });

    let timer: NodeJS.Timeout | undefined;
    const armTimeout = () => {
      timer ??= setTimeout(() => up.destroy(new GatewayError('UpstreamTimeout')), upstream.timeoutMs);
    };
    let bodyStarted = false;
    // set once the upstream answered before the whole body went up: the upstream request is then
    // released, and the errors that releasing it causes are not the client's
    let released = false;
    const emptied = ctx.body === undefined && ctx.verified?.decodedContentLength === 0;
    const body = ctx.body ?? req;
    const startBody = () => {
      if (bodyStarted) return;
      bodyStarted = true;
      if (emptied) { up.end(); return; }
      req.on('data', (c: Buffer) => { ctx.bytesIn += c.length; });
      if (ctx.operation === 'DeleteObjects') capture(body, (ctx.captured ??= {}).request = []);
      body.pipe(up);
    };
    // A decoder (aws-chunked) that finds a bad chunk signature or checksum: the upstream request is
    // destroyed before its last bytes, so no object is created, and the client gets the S3 error.
    if (ctx.body) {
      ctx.body.once('error', (e) => {
        clearTimeout(timer);
        if (released) return;
        ctx.body!.unpipe(up);
        up.destroy();
        ctx.failure = `body: ${(e as GatewayError).code ?? e.message}`;
        if (!res.headersSent) respondError(ctx, e instanceof GatewayError ? e : new GatewayError('Internal', { cause: e }));
        else resetClient(ctx);
      });
    }

    // client side: an aborted upload must never complete upstream
    req.once('aborted', () => up.destroy());
    req.once('error', () => up.destroy());
    res.once('close', () => { if (!res.writableFinished) { ctx.failure ??= 'client_aborted'; up.destroy(); } });
    // Early answer (e.g. RGW refuses an UploadPart with another key before reading its body, and
    // stops reading): once it is the client's, the rest of the body is not sent anywhere.
    // (HTTP/2: the compatibility response says 'finish' only when the stream closes; the stream's own 'finish' is the answer sent)
    const answered = ctx.protocol === 'h2' ? (res as Http2ServerResponse).stream : res;
    answered.once('finish', () => { if (!(body.readableEnded && req.readableEnded)) discardRest(ctx); });

    up.once('finish', armTimeout);
    up.on('continue', () => { if (!res.headersSent) res.writeContinue(); startBody(); });

    up.once('response', (upRes) => {
      clearTimeout(timer);
      const status = upRes.statusCode ?? 502;
      metrics.upstreamDuration.observe({ operation: ctx.operation, status_class: statusClass(status) }, Number(process.hrtime.bigint() - sentAt) / 1e9);
      ctx.upstreamRequestId = typeof upRes.headers['x-amz-request-id'] === 'string' ? upRes.headers['x-amz-request-id'] : undefined;
      ctx.upstreamResponseHeaders = upRes.headers;
      if (!up.writableFinished) {
        // answered before the request was complete: this upstream connection cannot be reused,
        // and nothing more goes up it
        body.unpipe(up);
        upRes.once('end', () => { released = true; up.destroy(); });
      }
      if (CAPTURE_RESPONSE.has(ctx.operation) && status < 300) capture(upRes, (ctx.captured ??= {}).response = []);
      if (res.destroyed) { upRes.destroy(); return; }
      upRes.once('close', () => {
        if (!upRes.complete) {
          ctx.failure ??= 'upstream_truncated';
          metrics.upstreamErrors.inc({ kind: 'truncated' });
          resetClient(ctx);
        }
      });
      const out = responseHeaders(upRes);
      // RGW 16 answers an UploadPartCopy into an SSE-C upload, and a form POST with a 200 or 204,
      // without the SSE-C response headers that S3 sends and SDKs read (sse-c-reference.md §4).
      // It refuses a part copy whose key is not the upload's, so a 2xx to a request with a valid
      // triplet was done under that key.
      if (ECHO_WHEN_MISSING.has(ctx.operation) && ctx.sseC && status >= 200 && status < 300 && out[SSEC.algorithm] === undefined) {
        out[SSEC.algorithm] = 'AES256';
        out[SSEC.keyMd5] = ctx.sseC.keyMd5;
      }
      const ctype = String(upRes.headers['content-type'] ?? '');
      const length = Number(upRes.headers['content-length'] ?? NaN);
      if (status >= 400 && ctx.method !== 'HEAD' && /xml/i.test(ctype) && !(length > MAX_ERROR_BODY)) {
        relayNormalizedError(ctx, upRes, status, out, metrics);
        return;
      }
      res.writeHead(status, out);
      upRes.on('data', (c: Buffer) => { ctx.bytesOut += c.length; });
      upRes.pipe(res);
    });

    up.once('error', (e) => {
      clearTimeout(timer);
      if (released || ctx.failure?.startsWith('body:')) return; // we destroyed it: the client already has the body's error
      if (res.headersSent || res.destroyed) { resetClient(ctx); return; }
      const timeout = e instanceof GatewayError && e.error === 'UpstreamTimeout';
      metrics.upstreamErrors.inc({ kind: timeout ? 'timeout' : 'unreachable' });
      ctx.failure = `upstream_${timeout ? 'timeout' : 'unreachable'}: ${(e as NodeJS.ErrnoException).code ?? e.message}`;
      body.unpipe(up);
      respondError(ctx, timeout ? e : new GatewayError('UpstreamUnreachable', { cause: e }));
    });

    if (expectContinue) {
      up.flushHeaders();
      armTimeout();
    } else {
      startBody();
    }
  });
}

/** Reads a small upstream error body, fills an empty <Message/> (RGW) and sends it with a corrected length. */
function relayNormalizedError(ctx: RequestContext, upRes: IncomingMessage, status: number, out: OutgoingHttpHeaders, metrics: Metrics): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let streaming = false;
  upRes.on('data', (c: Buffer) => {
    if (streaming) return;
    chunks.push(c);
    size += c.length;
    if (size > MAX_ERROR_BODY) {
      // larger than announced: relay as is
      streaming = true;
      ctx.res.writeHead(status, out);
      for (const b of chunks) (ctx.res as NodeJS.WritableStream).write(b);
      ctx.bytesOut += size;
      upRes.on('data', (d: Buffer) => { ctx.bytesOut += d.length; });
      upRes.pipe(ctx.res);
    }
  });
  upRes.once('end', () => {
    if (streaming) return;
    const { body, filled } = normalizeErrorBody(Buffer.concat(chunks).toString('utf8'), ctx);
    if (filled) metrics.upstreamMessagesFilled.inc({ code: filled });
    const buf = Buffer.from(body, 'utf8');
    out['content-length'] = buf.length;
    ctx.bytesOut += buf.length;
    ctx.res.writeHead(status, out);
    ctx.res.end(buf);
  });
}
