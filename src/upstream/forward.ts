/**
 * The forwarder: the only place bodies flow. Bodyless requests go through undici (dispatch.ts);
 * requests with a body through node:http `request()` with a keep-alive agent and
 * `.pipe()` both ways (backpressure for free, ~2× cheaper per request than stream.pipeline in
 * stack-notes.md), with every abort handled explicitly on both sides:
 *  - client aborts → the upstream request is destroyed (an incomplete upload never completes);
 *  - upstream body truncated → the client's stream is reset (h2 RST_STREAM / h1 socket closed);
 *  - upstream unreachable → 503, no response headers in time → 504 (S3 XML);
 *  - `Expect: 100-continue` is relayed: the client gets 100 when the upstream sends it, and an
 *    upstream refusal reaches the client before it sends the body.
 */
import { constants as h2c, type Http2ServerResponse } from 'node:http2';
import { GatewayError } from '../errors/gateway-error.js';
import type { Metrics } from '../metrics/registry.js';
import { clientBody, type RequestContext } from '../request/context.js';
import { resetClient, respondError } from '../request/respond-error.js';
import { dispatchBodyless, isBodyless } from './dispatch.js';
import { CAPTURE_LIMIT, ResponseRelay } from './relay.js';
import type { Upstream } from './upstream.js';
import { UpstreamWait } from './upstream-wait.js';

/** Keeps a copy of what flows by, up to CAPTURE_LIMIT (these bodies are small XML). */
function capture(stream: { on(event: "data", cb: (c: Buffer) => void): unknown }, into: Buffer[]): void {
  let n = 0;
  stream.on('data', (c: Buffer) => { if (n < CAPTURE_LIMIT) { into.push(c); n += c.length; } });
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
  if (socket.destroyed) return;
  // `Connection: close`: node:http has ended the socket after the answer and destroys it as soon
  // as that end is written, with the client's body still arriving: the kernel then resets the
  // connection (RST) and the client loses the answer it was sent (EPIPE/ECONNRESET instead of the
  // S3 error). Closed here as RFC 9112 §9.6 asks: our side first (done), the rest of the body read
  // and discarded, then the socket.
  const closing = socket.writableEnded;
  if (closing) socket.off('finish', socket.destroy);
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
  req.once('end', () => { clearTimeout(timer); req.off('data', count); if (closing) socket.destroySoon(); });
  req.resume();
}

/**
 * A TLS socket hands over a body one record (≤ 16 KiB) at a time, several per read. Call the
 * returned function before each write of such a burst: the first corks `w` for the rest of the
 * tick, so the records go up in one write, not one syscall each; `after` runs once it is uncorked.
 */
export function corkPerTick(w: NodeJS.WritableStream & { cork(): void; uncork(): void }, after?: () => void): () => void {
  let corked = false;
  const uncork = () => { corked = false; w.uncork(); after?.(); };
  return () => { if (!corked) { corked = true; w.cork(); process.nextTick(uncork); } };
}

/**
 * An answer sent (or about to be) while the client's body was not all read: once it is out, the
 * rest of the body is discarded as after an early upstream answer (discardRest), so a client that
 * writes its whole body before reading reaches the answer and the connection is not left wedged.
 */
export function discardAfterAnswer(ctx: RequestContext): void {
  const answered = ctx.protocol === 'h2' ? (ctx.res as Http2ServerResponse).stream : ctx.res;
  const go = () => { if (!ctx.req.readableEnded && !ctx.req.destroyed) discardRest(ctx); };
  if (answered.writableFinished) go();
  else answered.once('finish', go);
}

/**
 * A decoded body of 0 bytes: with `Content-Length: 0` the upstream takes the headers alone as the
 * whole request, so the decoder must have verified the (empty) body and its trailer first.
 */
async function verifyEmptyBody(ctx: RequestContext): Promise<boolean> {
  if (!ctx.body || String(ctx.upstreamHeaders['content-length']) !== '0') return ctx.expectContinue;
  if (ctx.expectContinue) ctx.res.writeContinue();
  await new Promise<void>((resolve, reject) => {
    clientBody(ctx);
    ctx.body!.once('error', reject).once('end', resolve).resume();
  });
  ctx.body = undefined;
  return false;
}

export async function forward(ctx: RequestContext, upstream: Upstream, metrics: Metrics): Promise<void> {
  if (isBodyless(ctx)) return dispatchBodyless(ctx, upstream, metrics);
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

    // upstream.timeoutMs: only while the upstream is waited on (100 Continue, a body it holds back,
    // its answer), never for the upload itself nor for a client that pauses
    const wait = new UpstreamWait(up, upstream.timeoutMs);
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
      clientBody(ctx);
      if (ctx.operation === 'DeleteObjects') capture(body, (ctx.captured ??= {}).request = []);
      // registered before pipe()'s own listener, so it corks before the write
      body.on('data', corkPerTick(up, () => wait.wrote()));
      body.pipe(up);
    };
    // A decoder (aws-chunked) that finds a bad chunk signature or checksum: the upstream request is
    // destroyed before its last bytes, so no object is created, and the client gets the S3 error.
    if (ctx.body) {
      ctx.body.once('error', (e) => {
        wait.end();
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

    // 100 Continue: the upstream is no longer waited on until it holds the body back or has it all
    // (a 5 GiB part over a slow link took longer than 120 s and got a 504 mid-upload)
    up.on('continue', () => {
      wait.taken();
      if (!res.headersSent) res.writeContinue();
      startBody();
    });

    up.once('response', (upRes) => {
      wait.end();
      const status = upRes.statusCode ?? 502;
      if (!up.writableFinished) {
        // answered before the request was complete: this upstream connection cannot be reused,
        // and nothing more goes up it
        body.unpipe(up);
        upRes.once('end', () => { released = true; up.destroy(); });
      }
      if (res.destroyed) { upRes.destroy(); return; }
      const relay = new ResponseRelay(ctx, metrics, sentAt);
      relay.head(status, upRes.headers);
      relay.from(upRes);
    });

    up.once('error', (e) => {
      wait.end();
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
      wait.wait();
    } else {
      startBody();
    }
  });
}
