import { GatewayError } from '../errors/gateway-error.js';
import { errorXml } from '../s3/error-xml.js';
import type { RequestContext } from './context.js';

/** The one place a GatewayError becomes an S3 XML response (HEAD: status and headers only). */
export function respondError(ctx: RequestContext, err: GatewayError): void {
  const { res } = ctx;
  ctx.failure ??= err.error;
  if (res.headersSent) { res.destroy(); return; }
  const body = ctx.method === 'HEAD' ? '' : errorXml({ code: err.code, message: err.message, requestId: ctx.id, argumentName: err.argumentName, resource: ctx.target ? ctx.target.rawPath : undefined });
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

export function asGatewayError(e: unknown): GatewayError {
  return e instanceof GatewayError ? e : new GatewayError('Internal', { cause: e });
}
