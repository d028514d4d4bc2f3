/**
 * `upstream.profile: auto`: what kind of S3 the upstream is, from one unsigned `GET /` at start-up.
 * AWS answers with `Server: AmazonS3`, MinIO with `Server: MinIO`; Ceph RGW sends no Server header
 * but request ids of its own shape (`tx000…-<hex time>-<hex>-<zonegroup>`). RGW does not reveal its
 * release, so a detected RGW — and anything not recognised — is treated as RGW 16, whose SSE-C
 * copy gaps the gateway fills itself (correct everywhere, at the cost of moving the bytes).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Upstream } from './upstream.js';

export type Profile = 'rgw16' | 'rgw' | 'aws' | 'minio';

export function profileFromHeaders(h: IncomingHttpHeaders): { profile: Profile; evidence: string } | undefined {
  const server = String(h.server ?? '');
  if (/^AmazonS3/i.test(server)) return { profile: 'aws', evidence: `Server: ${server}` };
  if (/^MinIO/i.test(server)) return { profile: 'minio', evidence: `Server: ${server}` };
  const id = String(h['x-amz-request-id'] ?? '');
  if (/^tx[0-9a-f]{21}-[0-9a-f]{8,}-[0-9a-f]+-/.test(id)) return { profile: 'rgw16', evidence: `RGW-style request id (release unknown: RGW 16's gaps assumed)` };
  return undefined;
}

export function detectProfile(upstream: Upstream, timeoutMs = 3000): Promise<{ profile: Profile; evidence: string }> {
  const fallback = (why: string) => ({ profile: 'rgw16' as const, evidence: `not recognised (${why}): RGW 16's gaps assumed` });
  return new Promise((resolve) => {
    const url = upstream.url;
    const req = upstream.request({
      protocol: url.protocol, hostname: url.hostname, port: url.port || undefined, method: 'GET', path: '/',
      headers: { host: url.host }, agent: upstream.agent, setHost: false,
    }, (res) => {
      res.resume();
      resolve(profileFromHeaders(res.headers) ?? fallback(`HTTP ${res.statusCode}, no known Server header or request id`));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timed out')));
    req.once('error', (e) => resolve(fallback((e as NodeJS.ErrnoException).code ?? e.message)));
    req.end();
  });
}
