import { performance } from 'node:perf_hooks';
import { GatewayError } from '../../errors/gateway-error.js';
import type { Metrics } from '../../metrics/registry.js';
import type { PolicyFile } from '../../auth/policy-file.js';
import { AwsChunkedDecoder, isStreaming, parse, verify } from '../../sigv4/index.js';
import { clientBody, type ClientRequest, type RequestContext, type Stage } from '../../request/context.js';

export interface AuthOptions {
  mode: 'passthrough' | 'sigv4' | 'none';
  policy: () => PolicyFile;
  region?: string;
  trustForwardedHost: boolean;
  metrics: Metrics;
}

/** The host the client signed: Host / :authority, or X-Forwarded-Host(:port) behind a trusted ingress. */
function signedAuthority(ctx: RequestContext, trustForwardedHost: boolean): string {
  if (!trustForwardedHost) return ctx.authority;
  const fh = ctx.headers['x-forwarded-host'];
  const host = typeof fh === 'string' ? fh.split(',')[0]!.trim() : '';
  if (!host) return ctx.authority;
  const fp = ctx.headers['x-forwarded-port'];
  const port = typeof fp === 'string' ? fp.split(',')[0]!.trim() : '';
  return port && !host.includes(':') && port !== '443' && port !== '80' ? `${host}:${port}` : host;
}

/**
 * Authentication.
 *  - `passthrough`: the client's SigV4 signature (header or presigned query) goes to the upstream
 *    untouched and the upstream checks it; the gateway changes no signed header.
 *  - `sigv4`: the signature is verified here against the clients file (S3's errors:
 *    SignatureDoesNotMatch with StringToSign, InvalidAccessKeyId, RequestTimeTooSkewed, …); an
 *    aws-chunked body gets a decoder that checks every chunk signature / the trailer checksum and
 *    holds the last bytes back until they hold. Unsigned requests are refused (AccessDenied).
 *  - `none`: unsigned clients on loopback (sidecar); a signature, if sent, is not checked.
 */
export function authenticate(o: AuthOptions): Stage {
  return {
    name: 'authenticate',
    run(ctx) {
      if (ctx.post?.authenticated) return; // POST Object: its form's POST policy was verified by post_object
      if (o.mode === 'passthrough') {
        // The JS SDK's HTTP/2 handler signs ':authority' instead of host; the upstream gets an
        // HTTP/1.1 request with Host and can never rebuild that canonical request.
        const auth = ctx.headers.authorization;
        if (typeof auth === 'string' && /SignedHeaders=[^,]*:authority/i.test(auth)) throw new GatewayError('PseudoHeaderSigned');
        return;
      }
      if (o.mode === 'none') { ctx.principal = { accessKeyId: 'anonymous' }; return; }
      const t0 = performance.now();
      try {
        const req = ctx.req as ClientRequest & { rawHeaders: string[] };
        const auth = parse({ method: ctx.method, rawUrl: req.url ?? '/', rawHeaders: req.rawHeaders, authority: signedAuthority(ctx, o.trustForwardedHost) });
        if (auth.kind === 'anonymous') throw new GatewayError('AnonymousDenied');
        const policy = o.policy();
        const v = verify(auth, (ak) => policy.clients.get(ak), new Date(), { region: o.region });
        ctx.verified = v;
        ctx.principal = { accessKeyId: v.accessKeyId, client: policy.clients.get(v.accessKeyId) };
        if (isStreaming(v.payloadMode)) ctx.body = clientBody(ctx).pipe(AwsChunkedDecoder.forRequest(v));
      } catch (e) {
        o.metrics.authFailures.inc({ reason: e instanceof GatewayError ? e.code : 'InternalError' });
        throw e;
      } finally {
        o.metrics.sigv4Duration.observe({ op: 'verify' }, (performance.now() - t0) / 1000);
      }
    },
  };
}
