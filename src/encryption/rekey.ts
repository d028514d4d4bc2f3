/**
 * Re-keying objects of the gateway's format without a running gateway (`ssec-gateway rotate`):
 * - re-wrap (the default): the data key is wrapped for the new customer key and the object is
 *   copied onto itself with that metadata: a server-side copy, no data through the tool;
 * - re-encrypt (`--reencrypt`, for a compromised key: whoever held it could unwrap the data key):
 *   the data is decrypted and encrypted again under a new data key.
 */
import type { IncomingMessage } from 'node:http';
import type { CustomerKey } from '../sse-c/customer-key.js';
import type { HeaderInput } from '../sigv4/index.js';
import { encodeKey, type UpstreamS3 } from '../upstream/s3-client.js';
import { copiedObjectHeaders } from '../copy/stream-copy.js';
import { FormatError, META, newDataKey, unwrapDataKey, wrapDataKey } from './format.js';
import { decryptWhole, partsOf, plainSizeOfHead, putPart } from './operations.js';

export interface ObjectName { bucket: string; key: string; versionId?: string }


async function head(s3: UpstreamS3, t: ObjectName): Promise<IncomingMessage> {
  const res = await s3.send({ method: 'HEAD', bucket: t.bucket, key: t.key, query: t.versionId ? `versionId=${encodeURIComponent(t.versionId)}` : undefined });
  res.resume();
  return res;
}

/** Is the object in the format, and does `key` open it? Its plaintext size when it does. */
export async function formatOpens(s3: UpstreamS3, t: ObjectName, key: CustomerKey): Promise<{ size: number; etag: string } | undefined> {
  const res = await head(s3, t);
  if (res.statusCode !== 200) {
    if ([400, 403, 404].includes(res.statusCode ?? 0)) return undefined;
    throw new Error(`HEAD s3://${t.bucket}/${t.key} answered ${res.statusCode}`);
  }
  const meta = res.headers[META];
  if (typeof meta !== 'string') return undefined;
  try {
    unwrapDataKey(key, t.bucket, t.key, meta).fill(0);
  } catch (e) {
    if (e instanceof FormatError) return undefined;
    throw e;
  }
  const size = plainSizeOfHead(res.headers);
  return size === undefined ? undefined : { size, etag: String(res.headers.etag ?? '') };
}

/** Re-keys one object in place; returns the new version id (versioned buckets). */
export async function rekeyInPlace(s3: UpstreamS3, t: ObjectName, oldKey: CustomerKey, newKey: CustomerKey, reencrypt: boolean): Promise<string | undefined> {
  const res = await head(s3, t);
  if (res.statusCode !== 200) throw new Error(`HEAD answered ${res.statusCode}`);
  const meta = res.headers[META];
  if (typeof meta !== 'string') throw new Error('not in the gateway\'s format');
  const dataKey = unwrapDataKey(oldKey, t.bucket, t.key, meta);
  const etag = String(res.headers.etag ?? '');
  // the object's own headers, and its storage class and redirect as a write of them (stream-copy's rule, the source as both)
  const headers: HeaderInput = copiedObjectHeaders('COPY', res.headers, res.headers);
  delete headers[META];
  try {
    let out: IncomingMessage;
    if (!reencrypt) {
      out = await s3.send({
        method: 'PUT', bucket: t.bucket, key: t.key,
        headers: {
          ...headers, [META]: wrapDataKey(newKey, t.bucket, t.key, dataKey), 'x-amz-metadata-directive': 'REPLACE', 'x-amz-copy-source-if-match': etag,
          'x-amz-copy-source': `/${encodeKey(t.bucket)}/${encodeKey(t.key)}${t.versionId ? `?versionId=${encodeURIComponent(t.versionId)}` : ''}`,
        },
      });
    } else {
      const size = plainSizeOfHead(res.headers);
      if (size === undefined) throw new Error('the object\'s size is not one the format produces');
      const plain = await decryptWhole(s3, { bucket: t.bucket, key: t.key, query: t.versionId ? `versionId=${encodeURIComponent(t.versionId)}` : undefined }, { etag, size, parts: partsOf(etag), dataKey });
      const fresh = newDataKey();
      out = await putPart(s3, { bucket: t.bucket, key: t.key, headers: { ...headers, [META]: wrapDataKey(newKey, t.bucket, t.key, fresh) } }, fresh, 1, size, plain);
      fresh.fill(0);
    }
    const body = await new Promise<string>((resolve) => { let b = ''; out.setEncoding('utf8').on('data', (c: string) => { b += c; }).on('end', () => resolve(b)); });
    if ((out.statusCode ?? 500) >= 300 || body.includes('<Error>')) throw new Error(`the store answered ${out.statusCode}: ${/<Code>([^<]*)/.exec(body)?.[1] ?? ''}`);
    return typeof out.headers['x-amz-version-id'] === 'string' ? out.headers['x-amz-version-id'] : undefined;
  } finally {
    dataKey.fill(0);
  }
}
