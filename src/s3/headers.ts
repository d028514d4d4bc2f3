/** Header names the gateway reads or writes, lower-case as Node delivers them. */
export const SSEC = {
  algorithm: 'x-amz-server-side-encryption-customer-algorithm',
  key: 'x-amz-server-side-encryption-customer-key',
  keyMd5: 'x-amz-server-side-encryption-customer-key-md5',
} as const;

export const COPY_SSEC = {
  algorithm: 'x-amz-copy-source-server-side-encryption-customer-algorithm',
  key: 'x-amz-copy-source-server-side-encryption-customer-key',
  keyMd5: 'x-amz-copy-source-server-side-encryption-customer-key-md5',
} as const;

export type TripletHeaders = typeof SSEC | typeof COPY_SSEC;

export const SSE = 'x-amz-server-side-encryption';
export const SSE_KMS_KEY_ID = 'x-amz-server-side-encryption-aws-kms-key-id';
export const SSE_KMS_CONTEXT = 'x-amz-server-side-encryption-context';
export const COPY_SOURCE = 'x-amz-copy-source';

/** Any header that can carry (part of) a customer key: its presence alone decides plaintext refusal. */
export function hasSseCHeader(headers: Record<string, unknown>): boolean {
  for (const name in headers) {
    if (name.startsWith('x-amz-server-side-encryption-customer-') || name.startsWith('x-amz-copy-source-server-side-encryption-customer-')) return true;
  }
  return false;
}

/**
 * SSE-C parameters in a query string (some SDKs hoist x-amz-* into presigned URLs). Only parameter
 * names count: a presigned URL that lists the SSE-C headers in X-Amz-SignedHeaders is fine.
 */
export function hasSseCQuery(rawUrl: string): boolean {
  const q = rawUrl.indexOf('?');
  if (q < 0) return false;
  for (const part of rawUrl.slice(q + 1).split('&')) {
    const eq = part.indexOf('=');
    let name = (eq < 0 ? part : part.slice(0, eq)).toLowerCase();
    try { name = decodeURIComponent(name); } catch { /* keep the raw name */ }
    if (name.startsWith('x-amz-server-side-encryption-customer-') || name.startsWith('x-amz-copy-source-server-side-encryption-customer-')) return true;
  }
  return false;
}

/** Headers whose values are secrets: never logged, never echoed. */
export const SECRET_HEADERS = [SSEC.key, COPY_SSEC.key, 'authorization', 'x-amz-security-token', 'cookie', 'proxy-authorization'] as const;

/** RFC 7230 §6.1 hop-by-hop headers, plus h2 pseudo/connection-specific ones and those the forwarder sets itself. */
export const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding',
  'upgrade', 'http2-settings', 'expect',
]);

/** Headers a client may send that claim how it reached us; replaced by the gateway's own (RGW `rgw trust forwarded https`). */
export const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-proto', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-port'] as const;
