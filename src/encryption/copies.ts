/**
 * CopyObject and UploadPartCopy under `encryption.mode gateway`, for any mix of sources and
 * destinations (docs/format.md):
 * - gateway-encrypted source → SSE-C destination: the store copies the ciphertext and the data key
 *   is re-wrapped for the new key and name (no data through the gateway; also how keys rotate);
 * - gateway-encrypted source → plain destination, and plain (or store-side SSE-C) source → SSE-C
 *   destination: the data streams through the gateway, decrypted or encrypted on the way;
 * - UploadPartCopy: the source's plaintext range, encrypted as a part of the upload.
 */
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors/gateway-error.js';
import type { RequestContext } from '../request/context.js';
import { sendXml } from '../request/respond-error.js';
import { parseCopySource } from '../s3/copy-source.js';
import { errorXml } from '../s3/error-xml.js';
import { COPY_SOURCE } from '../s3/headers.js';
import { xmlEscape, xmlField } from '../s3/xml.js';
import type { HeaderInput } from '../sigv4/index.js';
import { readBody, type UpstreamS3 } from '../upstream/s3-client.js';
import { copiedObjectHeaders, copySourceConditions } from '../copy/stream-copy.js';
import { META, newDataKey, wrapDataKey } from './format.js';
import {
  decryptRange, decryptWhole, echo, openDataKey, partsOf, plainSizeOfHead, putPart, relay, uploadKey, uploadQuery, type FormatObject, type Range,
} from './operations.js';

const NS = 'http://s3.amazonaws.com/doc/2006-03-01/';
interface Source {
  bucket: string;
  key: string;
  query?: string;
  head: IncomingMessage;
  /** set when the source is in the gateway's format */
  format?: FormatObject;
  /** headers to read a source that is not (its SSE-C, when the store holds it with SSE-C) */
  readHeaders: HeaderInput;
  etag: string;
}

/** HEADs the copy source and opens it: its data key when in the format, or how to read it when not. */
async function openSource(ctx: RequestContext, s3: UpstreamS3, sourceInGatewayScope: (bucket: string, key: string) => boolean): Promise<Source | IncomingMessage> {
  const ref = parseCopySource(ctx.headers[COPY_SOURCE]);
  if (!ref) throw new GatewayError('InvalidCopySource');
  const query = ref.versionId ? `versionId=${encodeURIComponent(ref.versionId)}` : undefined;
  const gatewayScope = sourceInGatewayScope(ref.bucket, ref.key);
  // a source outside the gateway's scope may be SSE-C in the store: its key goes where it always went
  const readHeaders: HeaderInput = !gatewayScope && ctx.copySourceSseC ? ctx.copySourceSseC.headers() : {};
  const head = await s3.send({ method: 'HEAD', bucket: ref.bucket, key: ref.key, query, headers: { ...copySourceConditions(ctx.headers), ...readHeaders } });
  head.resume();
  if (head.statusCode === 304 || head.statusCode === 412) throw new GatewayError('CopyPreconditionFailed');
  if (head.statusCode !== 200) return head;
  const etag = String(head.headers.etag ?? '');
  const meta = head.headers[META];
  if (typeof meta !== 'string') {
    if (ctx.copySourceSseC && gatewayScope) throw new GatewayError('EncryptionNotApplicable');
    return { bucket: ref.bucket, key: ref.key, query, head, readHeaders, etag };
  }
  if (!ctx.copySourceSseC) throw new GatewayError('ObjectEncryptedNoKey');
  const dataKey = openDataKey(ctx.copySourceSseC, ref.bucket, ref.key, meta, 'GatewayKeyMismatch');
  const size = plainSizeOfHead(head.headers);
  if (size === undefined) throw new GatewayError('ObjectNotAuthentic');
  return { bucket: ref.bucket, key: ref.key, query, head, readHeaders, etag, format: { etag, size, parts: partsOf(etag), dataKey } };
}

/** A source that is not there: S3's XML answer (a HEAD's error has no body to relay). */
function sourceMissing(ctx: RequestContext, head: IncomingMessage): void {
  const status = head.statusCode ?? 502;
  const code = status === 404 ? 'NoSuchKey' : status === 403 ? 'AccessDenied' : 'InternalError';
  const message = status === 404 ? 'The specified key does not exist.' : status === 403 ? 'Access Denied' : `The copy source could not be read (the store answered ${status}).`;
  sendXml(ctx, status, errorXml({ code, message, requestId: ctx.id }), {});
}

/** The destination's object headers (stream-copy's rule), never the source's format metadata. */
function destinationHeaders(ctx: RequestContext, source: IncomingMessage): HeaderInput {
  const replace = String(ctx.headers['x-amz-metadata-directive'] ?? 'COPY').toUpperCase() === 'REPLACE';
  const out = copiedObjectHeaders(replace ? 'REPLACE' : 'COPY', ctx.headers, source.headers);
  delete out[META];
  return out;
}

async function readSource(s3: UpstreamS3, src: Source, range?: Range): Promise<{ body: NodeJS.ReadableStream; size: number }> {
  if (src.format) {
    const body = range ? await decryptRange(s3, src, src.format, range) : await decryptWhole(s3, src, src.format);
    return { body, size: range ? range.last - range.first + 1 : src.format.size };
  }
  const res = await s3.send({ method: 'GET', bucket: src.bucket, key: src.key, query: src.query, headers: { ...src.readHeaders, 'if-match': src.etag, ...(range ? { range: `bytes=${range.first}-${range.last}` } : {}) } });
  if (res.statusCode === 412) { res.resume(); throw new GatewayError('GatewayObjectChanged'); }
  if (res.statusCode !== 200 && res.statusCode !== 206) { res.resume(); throw new GatewayError('Internal', { message: `the store answered ${res.statusCode} to reading the copy source` }); }
  return { body: res, size: Number(res.headers['content-length']) };
}

function copyResult(ctx: RequestContext, tag: 'CopyObjectResult' | 'CopyPartResult', etag: string, lastModified: string, headers: Record<string, string | undefined>): void {
  sendXml(ctx, 200, `<?xml version="1.0" encoding="UTF-8"?>\n<${tag} xmlns="${NS}"><LastModified>${xmlEscape(lastModified)}</LastModified><ETag>${xmlEscape(etag)}</ETag></${tag}>`, headers);
}

export async function copyObject(ctx: RequestContext, s3: UpstreamS3, sourceInGatewayScope: (bucket: string, key: string) => boolean): Promise<void> {
  const { bucket, key } = ctx.target! as { bucket: string; key: string };
  const src = await openSource(ctx, s3, sourceInGatewayScope);
  if (!('head' in src)) return sourceMissing(ctx, src);
  const headers = destinationHeaders(ctx, src.head);
  const version = { 'x-amz-copy-source-version-id': typeof src.head.headers['x-amz-version-id'] === 'string' ? src.head.headers['x-amz-version-id'] : undefined };
  if (!sourceInGatewayScope(bucket, key)) {
    // a destination outside the gateway's scope: the store encrypts it (SSE-C) or not, as the client asked
    const destKey = ctx.sseC ? ctx.sseC.headers() : {};
    if (!src.format) {
      const res = await s3.send({ method: 'PUT', bucket, key, headers: { ...headers, ...destKey, ...copyKeyHeaders(ctx, src), [COPY_SOURCE]: String(ctx.headers[COPY_SOURCE]), 'x-amz-metadata-directive': 'REPLACE', 'x-amz-copy-source-if-match': src.etag } });
      return relay(ctx, res);
    }
    const { body, size } = await readSource(s3, src);
    const res = await s3.send({ method: 'PUT', bucket, key, headers: { ...headers, ...destKey, 'content-length': String(size) }, body: body as import('node:stream').Readable });
    src.format.dataKey.fill(0);
    if ((res.statusCode ?? 502) >= 300) return relay(ctx, res);
    res.resume();
    ctx.upstreamResponseHeaders = res.headers;
    return copyResult(ctx, 'CopyObjectResult', str(res.headers.etag) ?? '', new Date().toISOString(), { ...echo(ctx.sseC), 'x-amz-version-id': str(res.headers['x-amz-version-id']), ...version });
  }
  if (src.format && ctx.sseC) {
    // the store copies the ciphertext; only the wrap of the data key changes (new key, new name)
    const copySource = String(ctx.headers[COPY_SOURCE]);
    const res = await s3.send({
      method: 'PUT', bucket, key,
      headers: { ...headers, [META]: wrapDataKey(ctx.sseC, bucket, key, src.format.dataKey), [COPY_SOURCE]: copySource, 'x-amz-metadata-directive': 'REPLACE', 'x-amz-copy-source-if-match': src.etag },
    });
    src.format.dataKey.fill(0);
    if (res.statusCode !== 200) return relay(ctx, res);
    ctx.upstreamResponseHeaders = res.headers;
    const xml = await readBody(res);
    if (/<Error>/.test(xml)) { sendXml(ctx, 200, xml, {}); return; }
    return copyResult(ctx, 'CopyObjectResult', xmlField(xml, 'ETag') ?? '', xmlField(xml, 'LastModified') ?? new Date().toISOString(), { ...echo(ctx.sseC), 'x-amz-version-id': str(res.headers['x-amz-version-id']), ...version });
  }
  if (!src.format && !ctx.sseC) {
    // neither side encrypted by the gateway: the store's own copy (its SSE-C source key, if any, as the client sent it)
    const res = await s3.send({ method: 'PUT', bucket, key, headers: { ...headers, ...copyKeyHeaders(ctx, src), [COPY_SOURCE]: String(ctx.headers[COPY_SOURCE]), 'x-amz-metadata-directive': 'REPLACE', 'x-amz-copy-source-if-match': src.etag } });
    return relay(ctx, res);
  }
  // the data changes form: through the gateway
  const { body, size } = await readSource(s3, src);
  let res: IncomingMessage;
  if (ctx.sseC) {
    const dataKey = newDataKey();
    res = await putPart(s3, { bucket, key, headers: { ...headers, [META]: wrapDataKey(ctx.sseC, bucket, key, dataKey) } }, dataKey, 1, size, body);
    dataKey.fill(0);
  } else {
    res = await s3.send({ method: 'PUT', bucket, key, headers: { ...headers, 'content-length': String(size) }, body: body as import('node:stream').Readable });
  }
  src.format?.dataKey.fill(0);
  if ((res.statusCode ?? 502) >= 300) return relay(ctx, res);
  res.resume();
  ctx.upstreamResponseHeaders = res.headers;
  return copyResult(ctx, 'CopyObjectResult', str(res.headers.etag) ?? '', new Date().toISOString(), { ...echo(ctx.sseC), 'x-amz-version-id': str(res.headers['x-amz-version-id']), ...version });
}

/** The copy-source SSE-C headers for the store's own copy of a source it encrypted itself. */
function copyKeyHeaders(ctx: RequestContext, src: Source): HeaderInput {
  if (!ctx.copySourceSseC || Object.keys(src.readHeaders).length === 0) return {};
  const h = ctx.copySourceSseC.headers();
  return {
    'x-amz-copy-source-server-side-encryption-customer-algorithm': h['x-amz-server-side-encryption-customer-algorithm']!,
    'x-amz-copy-source-server-side-encryption-customer-key': h['x-amz-server-side-encryption-customer-key']!,
    'x-amz-copy-source-server-side-encryption-customer-key-md5': h['x-amz-server-side-encryption-customer-key-md5']!,
  };
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** `bytes=a-b` of x-amz-copy-source-range, in the source's plaintext. */
function copyRange(ctx: RequestContext, size: number): Range | undefined {
  const v = ctx.headers['x-amz-copy-source-range'];
  if (v === undefined) return undefined;
  const m = typeof v === 'string' ? /^bytes=(\d+)-(\d+)$/.exec(v.trim()) : null;
  if (!m || Number(m[2]) < Number(m[1]) || Number(m[2]) >= size) throw new GatewayError('InvalidCopyRange');
  return { first: Number(m[1]), last: Number(m[2]) };
}

/** UploadPartCopy: the source's plaintext (range) becomes part N, encrypted when the upload is. */
export async function uploadPartCopy(ctx: RequestContext, s3: UpstreamS3, envelope: { upstream: string; meta: string } | undefined, sourceInGatewayScope: (bucket: string, key: string) => boolean): Promise<void> {
  const { bucket, key } = ctx.target! as { bucket: string; key: string };
  const dataKey = envelope ? uploadKey(ctx, envelope) : undefined;
  const destInScope = sourceInGatewayScope(bucket, key);
  // a plain upload in the gateway's scope cannot take an SSE-C part; outside it, the store encrypts the part
  if (!envelope && ctx.sseC && destInScope) throw new GatewayError('GatewayUploadNotEncrypted');
  const storeKey = !envelope && ctx.sseC && !destInScope ? ctx.sseC.headers() : {};
  const src = await openSource(ctx, s3, sourceInGatewayScope);
  if (!('head' in src)) return sourceMissing(ctx, src);
  const size = src.format ? src.format.size : Number(src.head.headers['content-length'] ?? 0);
  const range = copyRange(ctx, size);
  const partNumber = Number(ctx.target!.query.get('partNumber'));
  const { body, size: length } = await readSource(s3, src, range);
  const query = envelope ? uploadQuery(ctx, envelope.upstream) : uploadQuery(ctx, ctx.target!.query.get('uploadId')!);
  const res = dataKey
    ? await putPart(s3, { bucket, key, query, headers: {} }, dataKey, partNumber, length, body)
    : await s3.send({ method: 'PUT', bucket, key, query, headers: { ...storeKey, 'content-length': String(length) }, body: body as import('node:stream').Readable });
  dataKey?.fill(0);
  src.format?.dataKey.fill(0);
  if ((res.statusCode ?? 502) >= 300) return relay(ctx, res);
  res.resume();
  ctx.upstreamResponseHeaders = res.headers;
  return copyResult(ctx, 'CopyPartResult', str(res.headers.etag) ?? '', new Date().toISOString(), {
    ...echo(ctx.sseC), 'x-amz-copy-source-version-id': str(src.head.headers['x-amz-version-id']),
  });
}
