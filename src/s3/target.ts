import { GatewayError } from '../errors/gateway-error.js';

export interface S3Target {
  bucket?: string;
  /** object key, percent-decoded */
  key?: string;
  /** raw path as received (still percent-encoded), without the query */
  rawPath: string;
  /** raw query string without '?', '' when none */
  rawQuery: string;
  query: URLSearchParams;
  style: 'path' | 'virtual-host';
}

/** Host header / :authority without the port, lower-case. Handles `[::1]:8443`. */
export function hostname(authority: string): string {
  const a = authority.trim().toLowerCase();
  if (a.startsWith('[')) return a.slice(0, a.indexOf(']') + 1);
  const colon = a.lastIndexOf(':');
  return colon >= 0 ? a.slice(0, colon) : a;
}

function decode(segment: string): string {
  try { return decodeURIComponent(segment); } catch { throw new GatewayError('InvalidURI'); }
}

/**
 * Path-style (`/bucket/key`) or virtual-hosted-style (`bucket.BASE/key`, BASE from `s3.baseDomains`).
 * A host that is not under a base domain is path-style, as RGW does without `rgw dns name`.
 */
export function parseTarget(url: string, authority: string, baseDomains: readonly string[]): S3Target {
  const q = url.indexOf('?');
  const rawPath = q >= 0 ? url.slice(0, q) : url;
  const rawQuery = q >= 0 ? url.slice(q + 1) : '';
  if (!rawPath.startsWith('/')) throw new GatewayError('InvalidURI');
  const query = new URLSearchParams(rawQuery);
  const host = hostname(authority);
  for (const base of baseDomains) {
    const b = base.toLowerCase();
    if (host.endsWith('.' + b)) {
      const bucket = host.slice(0, -(b.length + 1));
      const rest = rawPath.slice(1);
      return { bucket, key: rest === '' ? undefined : decode(rest), rawPath, rawQuery, query, style: 'virtual-host' };
    }
  }
  const slash = rawPath.indexOf('/', 1);
  const bucketRaw = slash < 0 ? rawPath.slice(1) : rawPath.slice(1, slash);
  const keyRaw = slash < 0 ? '' : rawPath.slice(slash + 1);
  const bucket = bucketRaw === '' ? undefined : decode(bucketRaw);
  if (bucket !== undefined && (bucket.includes('/') || bucket.length > 255)) throw new GatewayError('InvalidBucketName');
  return { bucket, key: keyRaw === '' ? undefined : decode(keyRaw), rawPath, rawQuery, query, style: 'path' };
}
