import { constants as h2c, type Http2ServerResponse } from 'node:http2';
import { GatewayError } from '../errors/gateway-error.js';
import { ERRORS } from '../errors/table.js';
import { errorXml } from '../s3/error-xml.js';
import { SigV4Error } from '../sigv4/errors.js';
import type { RequestContext } from './context.js';

/** The one place a GatewayError becomes an S3 XML response (HEAD: status and headers only). */
export function respondError(ctx: RequestContext, err: GatewayError): void {
  const { res } = ctx;
  // An internal error's reason goes to the log only; the client gets the table's message.
  const internal = err.status >= 500 && err.error === 'Internal';
  ctx.failure ??= internal ? `internal: ${err.message}${err.cause ? `: ${(err.cause as Error)?.stack ?? err.cause}` : ''}` : err.error;
  // too late for an error answer: the client must see a broken transfer (res.destroy() would end an
  // HTTP/2 stream with RST_STREAM(NO_ERROR), which node:http2 clients take as the end of the body)
  if (res.headersSent) { resetClient(ctx); return; }
  const message = internal ? ERRORS.Internal.message : err.message;
  const details = err instanceof SigV4Error ? err.details : undefined;
  const body = ctx.method === 'HEAD' ? '' : errorXml({ code: err.code, message, requestId: ctx.id, argumentName: err.argumentName, resource: ctx.target ? ctx.target.rawPath : undefined, details });
  const headers: Record<string, string | number> = {
    'content-type': 'application/xml',
    'x-amz-request-id': ctx.id,
    'content-length': Buffer.byteLength(body),
    ...err.headers,
  };
  // Plaintext listener: the connection is closed after the reply, so a body the client may still
  // send (it ignored Expect or never sent it) is never read.
  if (ctx.listener === 'http' && ctx.protocol === 'h1') headers.connection = 'close';
  res.writeHead(err.status, headers);
  res.end(body);
  if (ctx.listener === 'http' && 'socket' in res && res.socket) {
    const socket = res.socket;
    res.once('finish', () => socket.destroySoon());
  }
}

/**
 * An XML answer the gateway makes itself (a copy's result, GetObjectAttributes), with the request id.
 * A copy that outlived KEEPALIVE_AFTER_MS has already sent its 200 and whitespace (upstream-gaps.ts).
 */
export function sendXml(ctx: RequestContext, status: number, body: string, headers: Record<string, string | undefined>): void {
  ctx.bytesOut += Buffer.byteLength(body);
  if (ctx.res.headersSent) {
    // S3's form for a long copy: a 200 whose body is the result or an <Error>
    ctx.res.end(body.replace(/^<\?xml[^>]*>\n?/, ''));
    return;
  }
  const out: Record<string, string | number> = { 'content-type': 'application/xml', 'x-amz-request-id': ctx.id, 'content-length': Buffer.byteLength(body) };
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = v;
  ctx.res.writeHead(status, out);
  ctx.res.end(body);
}

export function asGatewayError(e: unknown): GatewayError {
  return e instanceof GatewayError ? e : new GatewayError('Internal', { cause: e });
}

/** Resets the client's stream: HTTP/2 RST_STREAM, HTTP/1.1 closes the socket, so a short body is never taken as complete. */
export function resetClient(ctx: RequestContext): void {
  if (ctx.protocol === 'h2') {
    const stream = (ctx.res as Http2ServerResponse).stream;
    if (!stream.destroyed) stream.close(h2c.NGHTTP2_INTERNAL_ERROR);
  } else {
    ctx.res.destroy();
  }
}

/** The answer was broken off on the client's side (it left, or stopped reading and was cut): not an upstream fault. */
export const clientGone = (ctx: RequestContext): boolean => ctx.failure === 'client_aborted' || !!ctx.failure?.startsWith('client_stopped_reading');
