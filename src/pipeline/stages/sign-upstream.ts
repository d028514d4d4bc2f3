import { performance } from 'node:perf_hooks';
import { GatewayError } from '../../errors/gateway-error.js';
import type { Metrics } from '../../metrics/registry.js';
import { COPY_SSEC, SSEC } from '../../s3/headers.js';
import { AwsChunkedDecoder, decodedBodyHeaders, signUpstream, stripAuthQuery, STREAMING_UNSIGNED_TRAILER, type HeaderInput } from '../../sigv4/index.js';
import type { CredentialSource } from '../../upstream/credentials.js';
import type { Upstream } from '../../upstream/upstream.js';
import { clientBody, type RequestContext, type Stage } from '../../request/context.js';

export interface SignOptions {
  upstream: Upstream;
  region: string;
  /** the credential named by the client entry ('default' = the config's upstream.*) */
  credentials: (name: string) => CredentialSource;
  metrics: Metrics;
}

/** The SSE-C triplets the upstream gets: the validated (or injected) keys, normalised. */
function setTriplets(ctx: RequestContext, headers: HeaderInput): void {
  if (ctx.sseC) Object.assign(headers, ctx.sseC.headers(SSEC));
  if (ctx.copySourceSseC) Object.assign(headers, ctx.copySourceSseC.headers(COPY_SSEC));
}

/** The hex body hash a client stated can go upstream so the upstream checks the body (no second hash here). */
function payloadHash(ctx: RequestContext): string {
  if (ctx.verified?.payloadMode === 'hex') return ctx.verified.payloadHash!.toLowerCase();
  const stated = ctx.headers['x-amz-content-sha256'];
  if (!ctx.verified && typeof stated === 'string' && /^[0-9a-fA-F]{64}$/.test(stated)) return stated.toLowerCase();
  return 'UNSIGNED-PAYLOAD';
}

/**
 * Re-signing for the upstream (auth modes sigv4 and none) with @smithy/signature-v4: every
 * x-amz-* header signed (SSE-C ones included), nothing added after signing, the presign query
 * parameters removed, aws-chunked bodies re-framed as plain bodies with
 * Content-Length = x-amz-decoded-content-length.
 */
export function signUpstreamStage(o: SignOptions): Stage {
  const url = o.upstream.url;
  const port = url.port ? Number(url.port) : undefined;
  return {
    name: 'sign_upstream',
    async run(ctx) {
      if (ctx.post) return; // POST Object: authenticated by its form, re-signed by post_object_upstream
      let headers: HeaderInput = { ...(ctx.upstreamHeaders as HeaderInput) };
      delete headers.host;
      setTriplets(ctx, headers);
      const v = ctx.verified;
      if (v?.decodedContentLength !== undefined && ctx.body) {
        headers = decodedBodyHeaders(headers, v.decodedContentLength);
      } else if (!v && ctx.headers['x-amz-content-sha256'] === STREAMING_UNSIGNED_TRAILER) {
        // `none` mode: an unsigned aws-chunked body (SDK default over TLS) is decoded and its checksum checked
        const decodedLength = Number(ctx.headers['x-amz-decoded-content-length']);
        const trailer = String(ctx.headers['x-amz-trailer'] ?? '').toLowerCase() || undefined;
        ctx.body = clientBody(ctx).pipe(new AwsChunkedDecoder({ mode: STREAMING_UNSIGNED_TRAILER, decodedLength, trailer: trailer as never }));
        headers = decodedBodyHeaders(headers, decodedLength);
      } else if (!v && String(ctx.headers['x-amz-content-sha256'] ?? '').startsWith('STREAMING-')) {
        throw new GatewayError('UnverifiableStreaming');
      }
      const q = (ctx.req.url ?? '/').indexOf('?');
      const rawUrl = ctx.req.url ?? '/';
      const rawPath = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
      const rawQuery = stripAuthQuery(q >= 0 ? rawUrl.slice(q + 1) : '');
      const creds = await o.credentials(ctx.principal?.client?.upstreamCredentials ?? 'default')();
      const t0 = performance.now();
      const signed = await signUpstream({
        method: ctx.method, protocol: url.protocol as 'http:' | 'https:', hostname: url.hostname, port,
        rawPath, rawQuery, headers, payloadHash: payloadHash(ctx), region: o.region,
      }, creds);
      o.metrics.sigv4Duration.observe({ op: 'sign' }, (performance.now() - t0) / 1000);
      ctx.upstreamHeaders = signed.headers;
      ctx.upstreamPath = signed.path;
    },
  };
}
