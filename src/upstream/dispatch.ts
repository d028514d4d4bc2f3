/**
 * Bodyless requests (GET, HEAD, DELETE, CreateMultipartUpload, …: most S3 requests) go upstream
 * through an undici Pool with a raw dispatch handler instead of node:http: about half the CPU per
 * request (bench/run.mjs; the profile in the README's performance section), since no
 * ClientRequest/IncomingMessage streams, agent bookkeeping or header re-parsing is made per
 * request. Requests with a body keep the node:http forwarder (forward.ts), which relays
 * `Expect: 100-continue` and early answers.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { Dispatcher } from 'undici';
import { GatewayError } from '../errors/gateway-error.js';
import type { Metrics } from '../metrics/registry.js';
import type { RequestContext } from '../request/context.js';
import { clientGone, respondError } from '../request/respond-error.js';
import { ResponseRelay } from './relay.js';
import type { Upstream } from './upstream.js';

/**
 * True when the client's request carries no body at all (HTTP/2: END_STREAM on its HEADERS) and
 * no Content-Length: undici writes no Content-Length for a bodyless GET, and s3cmd signs its
 * `Content-Length: 0` (the upstream would then see another request than the one signed).
 */
export function isBodyless(ctx: RequestContext): boolean {
  if (ctx.body || ctx.expectContinue || ctx.upstreamHeaders['content-length'] !== undefined) return false;
  if (ctx.protocol === 'h2') return (ctx.req as Http2ServerRequest).stream.endAfterHeaders;
  return ctx.headers['transfer-encoding'] === undefined;
}

function requestHeaders(h: OutgoingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in h) {
    const v = h[name];
    if (v !== undefined) out[name] = typeof v === 'number' ? String(v) : v;
  }
  return out;
}

/** undici's raw header list as node:http would have parsed it (lower-case names; duplicates joined, set-cookie a list). */
function parseHeaders(raw: Buffer[] | string[]): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    const prev = out[name];
    if (name === 'set-cookie') (out[name] ??= []).push(value);
    else out[name] = prev === undefined ? value : `${prev as string}, ${value}`;
  }
  return out;
}

export function dispatchBodyless(ctx: RequestContext, upstream: Upstream, metrics: Metrics): Promise<void> {
  const { res } = ctx;
  return new Promise<void>((resolve) => {
    res.once('close', () => resolve());
    const sentAt = process.hrtime.bigint();
    let relay: ResponseRelay | undefined;
    let abort: ((e?: Error) => void) | undefined;
    let resume: (() => void) | undefined;
    let done = false;
    const resumeUpstream = () => resume?.();
    // client gone: the upstream request is aborted (its connection is not reused)
    res.once('close', () => { if (!done && !res.writableFinished) { ctx.failure ??= 'client_aborted'; abort?.(); } });
    const handler: Dispatcher.DispatchHandlers = {
      onConnect(a) { abort = a; if (res.destroyed) a(); },
      onHeaders(status, raw, r) {
        if (status < 200) return true; // an informational answer: the final one follows
        resume = r;
        relay = new ResponseRelay(ctx, metrics, sentAt);
        relay.head(status, parseHeaders(raw as Buffer[]));
        return true;
      },
      onData(chunk) {
        if (relay!.data(chunk)) return true;
        relay!.drain(resumeUpstream);
        return false;
      },
      onComplete() { done = true; relay!.end(); },
      onError(err) {
        done = true;
        if (clientGone(ctx)) return;
        if (relay) { relay.truncated(); return; } // the answer had begun: the client must not take it as whole
        const timeout = (err as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT';
        metrics.upstreamErrors.inc({ kind: timeout ? 'timeout' : 'unreachable' });
        ctx.failure = `upstream_${timeout ? 'timeout' : 'unreachable'}: ${(err as NodeJS.ErrnoException).code ?? err.message}`;
        respondError(ctx, timeout ? new GatewayError('UpstreamTimeout') : new GatewayError('UpstreamUnreachable', { cause: err }));
      },
    };
    upstream.pool.dispatch({ method: ctx.method as Dispatcher.HttpMethod, path: ctx.upstreamPath ?? ctx.req.url ?? '/', headers: requestHeaders(ctx.upstreamHeaders), body: null }, handler);
  });
}
