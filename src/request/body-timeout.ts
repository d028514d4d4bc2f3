/**
 * limits.bodyTimeoutMs: a client that stops sending its body (slowloris, a dead laptop) must not
 * hold an upstream request and a connection for ever. S3 answers such a client
 * `400 RequestTimeout` and closes; so does the gateway, and the upstream request is aborted
 * before its last byte, so nothing partial is stored. Time the gateway itself is not reading
 * (backpressure from a slow upstream) does not count against the client.
 */
import { constants as h2c, type Http2ServerResponse } from 'node:http2';
import { GatewayError } from '../errors/gateway-error.js';
import type { RequestContext } from './context.js';
import { respondError } from './respond-error.js';

export function watchBody(ctx: RequestContext, limitMs: number): { last: number } {
  const watch = { last: Date.now() };
  const { req } = ctx;
  const check = () => {
    if (req.complete || req.destroyed || ctx.res.destroyed) return;
    const now = Date.now();
    // paused: the gateway is not reading (the upstream is slow); not the client's time
    if (req.isPaused() || req.readableFlowing === false) watch.last = now;
    const idle = now - watch.last;
    if (idle < limitMs) { timer = setTimeout(check, limitMs - idle); timer.unref(); return; }
    ctx.failure = `client_timeout: no body byte for ${Math.round(idle / 1000)} s after ${ctx.bytesIn} bytes`;
    if (!ctx.res.headersSent) respondError(ctx, new GatewayError('ClientTimeout'));
    // then the connection (HTTP/1.1) or the stream (HTTP/2) goes: the forwarder sees the client
    // request aborted and destroys the upstream request
    setImmediate(() => {
      if (ctx.protocol === 'h2') {
        const stream = (ctx.res as Http2ServerResponse).stream;
        if (!stream.destroyed) stream.close(h2c.NGHTTP2_CANCEL);
      } else req.socket?.destroy();
    });
  };
  let timer = setTimeout(check, limitMs);
  timer.unref();
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  return watch;
}
