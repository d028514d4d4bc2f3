import { randomBytes } from 'node:crypto';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Logger } from '../logging/logger.js';
import { redactUrl } from '../logging/logger.js';
import type { Metrics } from '../metrics/registry.js';
import { statusClass } from '../metrics/registry.js';
import { forward } from '../upstream/forward.js';
import type { Upstream } from '../upstream/upstream.js';
import type { ClientRequest, Handler, Headers, RequestContext, Stage } from '../request/context.js';
import { asGatewayError, respondError } from '../request/respond-error.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { GatewayConfig } from '../config/load.js';
import { cutIdle } from '../server/listeners.js';

function requestHeaders(req: ClientRequest, h2: boolean): Headers {
  if (!h2) return req.headers as Headers;
  const out: Headers = {};
  for (const [k, v] of Object.entries(req.headers)) if (k[0] !== ':') out[k] = v as string | string[] | undefined;
  return out;
}

/** S3-style request id, 16 upper-case hex digits: a random per-process prefix and a counter (no RNG call per request). */
const ID_PREFIX = randomBytes(3).toString('hex').toUpperCase();
let idCounter = 0;
function requestId(): string {
  idCounter = (idCounter + 1) % 0x10000000000;
  return ID_PREFIX + idCounter.toString(16).toUpperCase().padStart(10, '0');
}

/** Header fields of a request, repeated ones each (HTTP/2's pseudo-headers not counted). */
function headerCount(raw: string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]![0] !== ':') n++;
  return n;
}

/** Requests in flight in this process, both listeners (limits.maxInFlight). */
let inFlight = 0;

type HandlerLimits = Pick<GatewayConfig['limits'], 'maxInFlight' | 'maxHeaderCount' | 'bodyTimeoutMs'>;
const NO_LIMITS: HandlerLimits = { maxInFlight: 0, maxHeaderCount: Infinity, bodyTimeoutMs: 0 };

/** Runs the stages, then the forwarder, then writes one log line and the request metrics. */
export function createHandler(listener: 'https' | 'http', stages: readonly Stage[], upstream: Upstream, metrics: Metrics, log: Logger, record?: (ctx: RequestContext) => void, limits: HandlerLimits = NO_LIMITS): Handler {
  return (req, res, expectContinue = false) => {
    const h2 = req.httpVersionMajor === 2;
    const headers = requestHeaders(req, h2);
    const ctx: RequestContext = {
      id: requestId(), listener, protocol: h2 ? 'h2' : 'h1', req, res,
      method: req.method ?? 'GET',
      authority: (h2 ? (req as Http2ServerRequest).authority : req.headers.host) ?? '',
      headers, remoteAddress: req.socket?.remoteAddress ?? '', startedAt: process.hrtime.bigint(), expectContinue,
      operation: 'Unknown', upstreamHeaders: {}, bytesIn: 0, bytesOut: 0, bodyTimeoutMs: limits.bodyTimeoutMs,
    };
    metrics.inFlight.inc({ listener });
    inFlight++;
    res.once('close', () => { inFlight--; finish(ctx, metrics, log); record?.(ctx); });
    // load shedding: answered before anything is read or sent upstream, so the client can retry
    // it anywhere (SlowDown is retried with backoff by every AWS SDK)
    if (limits.maxInFlight && inFlight > limits.maxInFlight) {
      metrics.shed.inc({ listener });
      ctx.failure = `shed: ${inFlight - 1} requests in flight`;
      respondError(ctx, new GatewayError('Overloaded'));
      return;
    }
    if (headerCount(req.rawHeaders) > limits.maxHeaderCount) {
      respondError(ctx, new GatewayError('HeaderSectionTooLarge'));
      return;
    }
    void run(ctx, stages, upstream, metrics);
  };
}

async function run(ctx: RequestContext, stages: readonly Stage[], upstream: Upstream, metrics: Metrics): Promise<void> {
  try {
    // most stages are synchronous: only a returned promise is awaited (an await per stage costs a microtask turn each)
    for (const stage of stages) {
      const pending = stage.run(ctx);
      if (pending) await pending;
      if (ctx.terminal) break; // a stage that answers the request itself ends the list
    }
  } catch (e) {
    const err = asGatewayError(e);
    if (err.error === 'Internal') ctx.failure = `internal: ${(e as Error)?.stack ?? e}`;
    respondError(ctx, err);
    return;
  }
  try {
    if (ctx.terminal) await ctx.terminal(ctx);
    else await forward(ctx, upstream, metrics);
  } catch (e) {
    const err = asGatewayError(e);
    if (err.error === 'Internal') ctx.failure = `internal: ${(e as Error)?.stack ?? e}`;
    respondError(ctx, err);
  }
}

/** what Connections.idle cuts for a request: its HTTP/2 stream or its HTTP/1.1 socket */
const connectionOf = (ctx: RequestContext): object => (ctx.protocol === 'h2' ? (ctx.res as Http2ServerResponse).stream : ctx.req.socket);

function finish(ctx: RequestContext, metrics: Metrics, log: Logger): void {
  const seconds = Number(process.hrtime.bigint() - ctx.startedAt) / 1e9;
  const status = ctx.res.statusCode;
  // (a client that has every byte of the announced length may close before the end of the response
  // was written: seen under SIGTERM with Connection: close; that answer is whole)
  const whole = ctx.method !== 'HEAD' && ctx.bodyLength !== undefined && ctx.bytesOut >= ctx.bodyLength;
  const aborted = !ctx.res.writableFinished && !whole;
  // the answer did not go out whole and nothing in the gateway said why: the client went away (this
  // runs at the response's 'close' before the forwarder's own 'close' listener could say so)
  if (aborted) ctx.failure ??= cutIdle.has(connectionOf(ctx)) ? 'client_stopped_reading: cut after limits.idleTimeoutMs' : 'client_aborted';
  metrics.inFlight.dec({ listener: ctx.listener });
  metrics.requestDuration.observe({ operation: ctx.operation, method: ctx.method, status_class: statusClass(status), protocol: ctx.protocol }, seconds);
  if (ctx.bytesIn) metrics.requestBytes.inc({ operation: ctx.operation }, ctx.bytesIn);
  if (ctx.bytesOut) metrics.responseBytes.inc({ operation: ctx.operation }, ctx.bytesOut);
  if (ctx.sseCOutcome) metrics.sseC.inc({ outcome: ctx.sseCOutcome });
  const line = {
    id: ctx.id, listener: ctx.listener, proto: ctx.protocol, client: ctx.remoteAddress, method: ctx.method,
    url: redactUrl(ctx.req.url ?? ''), op: ctx.operation, bucket: ctx.target?.bucket, status,
    bytesIn: ctx.bytesIn, bytesOut: ctx.bytesOut, ms: Math.round(seconds * 1e4) / 10,
    sseC: ctx.sseCOutcome, upstreamId: ctx.upstreamRequestId, failure: ctx.failure,
    aborted: aborted || undefined,
  };
  // a shed request (503 SlowDown) is the overload protection doing its work, not a fault: warn
  if (ctx.failure?.startsWith('shed:')) log.warn(line, 'request');
  else if (status >= 500 || ctx.failure?.startsWith('internal')) log.error(line, 'request');
  else log.info(line, 'request');
}
