/**
 * Server-side copies done by the gateway itself, for upstreams that cannot do them right
 * (Ceph RGW < 20: CopyObject from an SSE-C source → 501; plain → SSE-C stored as PLAINTEXT with
 * 200; UploadPartCopy decrypts the source with the destination's key — ceph-rgw.md). The source is
 * streamed with its key (GET, or ranged GETs) into the destination with its key (PUT, or a
 * multipart upload for large objects), preserving metadata and content type. Memory stays
 * bounded: one part in flight, streamed, never buffered whole.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from '../errors/gateway-error.js';
import type { CustomerKey } from '../sse-c/customer-key.js';
import { xmlField, xmlText } from '../s3/xml.js';
import { expectOk, readBody, UpstreamAnswer, type UpstreamS3 } from '../upstream/s3-client.js';
import type { HeaderInput } from '../sigv4/index.js';

export interface ObjectRef { bucket: string; key: string; versionId?: string }

export interface CopyRequest {
  source: ObjectRef;
  sourceKey?: CustomerKey;
  dest: { bucket: string; key: string };
  destKey?: CustomerKey;
  /** COPY (default): metadata from the source; REPLACE: from `requestHeaders` */
  metadataDirective: 'COPY' | 'REPLACE';
  /** the client's request headers (lower-case): REPLACE metadata, ACL/storage-class, copy-source conditions */
  requestHeaders: IncomingHttpHeaders;
  /** objects larger than this are copied as a multipart upload */
  multipartThreshold: number;
  partSize: number;
}

/** Copies larger than this go as a multipart upload of COPY_PART_SIZE parts (ranged GETs). */
export const COPY_MULTIPART_THRESHOLD = 256 << 20;
export const COPY_PART_SIZE = 64 << 20;

export interface CopyResult { etag: string; lastModified: string; versionId?: string; sourceVersionId?: string; size: number }

/** Headers that describe the object and travel with it (S3 "system metadata" a copy keeps). */
const OBJECT_HEADERS = /^(content-type|cache-control|content-disposition|content-encoding|content-language|expires|x-amz-meta-.*)$/;
/** Request headers the destination write takes as they are. */
const WRITE_HEADERS = /^(x-amz-acl|x-amz-grant-.*|x-amz-storage-class|x-amz-tagging|x-amz-website-redirect-location|x-amz-object-lock-.*)$/;

/** The SSE-C triplet for a GET of the source or a write of the destination (a copy reads the source with a plain GET). */
function sseHeaders(key: CustomerKey | undefined): HeaderInput {
  return key ? key.headers() : {};
}

/** x-amz-copy-source-if-* → the GET's conditional headers. */
export function copySourceConditions(h: IncomingHttpHeaders): HeaderInput {
  const out: HeaderInput = {};
  const map: Record<string, string> = {
    'x-amz-copy-source-if-match': 'if-match', 'x-amz-copy-source-if-none-match': 'if-none-match',
    'x-amz-copy-source-if-modified-since': 'if-modified-since', 'x-amz-copy-source-if-unmodified-since': 'if-unmodified-since',
  };
  for (const [from, to] of Object.entries(map)) if (typeof h[from] === 'string') out[to] = h[from] as string;
  return out;
}

/** A copy's destination headers: the object's from the source (COPY) or the request (REPLACE), the write's own from the request. */
export function copiedObjectHeaders(directive: 'COPY' | 'REPLACE', requestHeaders: IncomingHttpHeaders, source: IncomingHttpHeaders): HeaderInput {
  const out: HeaderInput = {};
  for (const [k, v] of Object.entries(directive === 'REPLACE' ? requestHeaders : source)) if (typeof v === 'string' && OBJECT_HEADERS.test(k)) out[k] = v;
  for (const [k, v] of Object.entries(requestHeaders)) if (typeof v === 'string' && WRITE_HEADERS.test(k)) out[k] = v;
  return out;
}

function objectHeaders(req: CopyRequest, source: IncomingHttpHeaders): HeaderInput {
  return copiedObjectHeaders(req.metadataDirective, req.requestHeaders, source);
}

async function getSource(s3: UpstreamS3, req: CopyRequest, range?: string) {
  const q = req.source.versionId ? `versionId=${encodeURIComponent(req.source.versionId)}` : undefined;
  const res = await s3.send({
    method: 'GET', bucket: req.source.bucket, key: req.source.key, query: q,
    headers: { ...sseHeaders(req.sourceKey), ...copySourceConditions(req.requestHeaders), ...(range ? { range } : {}) },
  });
  if (res.statusCode === 304) {
    res.resume();
    throw new GatewayError('CopyPreconditionFailed');
  }
  return expectOk(res);
}


/**
 * The destination's tags, as `x-amz-tagging`: S3 copies the source's tags unless
 * `x-amz-tagging-directive: REPLACE` (then the request's `x-amz-tagging`). A GET only tells how
 * many tags there are, so they are read with GET ?tagging.
 */
async function tagging(s3: UpstreamS3, req: CopyRequest, source: IncomingHttpHeaders): Promise<HeaderInput> {
  if (String(req.requestHeaders['x-amz-tagging-directive'] ?? 'COPY').toUpperCase() === 'REPLACE') {
    const t = req.requestHeaders['x-amz-tagging'];
    return typeof t === 'string' ? { 'x-amz-tagging': t } : {};
  }
  if (!(Number(source['x-amz-tagging-count'] ?? 0) > 0)) return {};
  const q = `tagging${req.source.versionId ? `&versionId=${encodeURIComponent(req.source.versionId)}` : ''}`;
  const xml = await readBody(await expectOk(await s3.send({ method: 'GET', bucket: req.source.bucket, key: req.source.key, query: q })));
  const tags = new URLSearchParams();
  for (const m of xml.matchAll(/<Tag>\s*<Key>([^<]*)<\/Key>\s*<Value>([^<]*)<\/Value>\s*<\/Tag>/g)) tags.append(xmlText(m[1]!), xmlText(m[2]!));
  return tags.size ? { 'x-amz-tagging': tags.toString() } : {};
}

/** CopyObject done as GET → PUT (or ranged GETs → multipart upload), then a HEAD of the result. */
export async function copyObject(s3: UpstreamS3, req: CopyRequest): Promise<CopyResult> {
  const src = await getSource(s3, req);
  const size = Number(src.headers['content-length'] ?? NaN);
  if (!Number.isFinite(size)) { src.destroy(); throw new GatewayError('Internal', { message: 'upstream GET of the copy source had no Content-Length' }); }
  let headers: HeaderInput;
  try {
    headers = { ...objectHeaders(req, src.headers), ...(await tagging(s3, req, src.headers)), ...sseHeaders(req.destKey) };
  } catch (e) {
    src.destroy();
    throw e;
  }
  const sourceVersionId = src.headers['x-amz-version-id'] as string | undefined;
  let versionId: string | undefined;
  if (size <= req.multipartThreshold) {
    const put = await expectOk(await s3.send({ method: 'PUT', bucket: req.dest.bucket, key: req.dest.key, headers: { ...headers, 'content-length': String(size) }, body: src }));
    put.resume();
    versionId = put.headers['x-amz-version-id'] as string | undefined;
  } else {
    src.destroy();
    versionId = await multipartCopy(s3, req, size, headers);
  }
  const head = await expectOk(await s3.send({
    method: 'HEAD', bucket: req.dest.bucket, key: req.dest.key, query: versionId ? `versionId=${encodeURIComponent(versionId)}` : undefined,
    headers: sseHeaders(req.destKey),
  }));
  head.resume();
  return {
    etag: String(head.headers.etag ?? ''), lastModified: new Date(String(head.headers['last-modified'] ?? Date.now())).toISOString(),
    versionId, sourceVersionId, size,
  };
}

async function multipartCopy(s3: UpstreamS3, req: CopyRequest, size: number, headers: HeaderInput): Promise<string | undefined> {
  const partSize = Math.max(req.partSize, Math.ceil(size / 10000));
  const created = await expectOk(await s3.send({ method: 'POST', bucket: req.dest.bucket, key: req.dest.key, query: 'uploads', headers }));
  const uploadId = xmlField(await readBody(created), 'UploadId');
  if (!uploadId) throw new GatewayError('Internal', { message: 'CreateMultipartUpload answered without an UploadId' });
  const uq = `uploadId=${encodeURIComponent(uploadId)}`;
  try {
    const etags: string[] = [];
    for (let start = 0, n = 1; start < size; start += partSize, n++) {
      const end = Math.min(size, start + partSize) - 1;
      const part = await getSource(s3, req, `bytes=${start}-${end}`);
      const up = await expectOk(await s3.send({
        method: 'PUT', bucket: req.dest.bucket, key: req.dest.key, query: `partNumber=${n}&${uq}`,
        headers: { 'content-length': String(end - start + 1), ...sseHeaders(req.destKey) }, body: part,
      }));
      up.resume();
      etags.push(String(up.headers.etag ?? ''));
    }
    const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
    const done = await expectOk(await s3.send({ method: 'POST', bucket: req.dest.bucket, key: req.dest.key, query: uq, headers: { 'content-type': 'application/xml', ...sseHeaders(req.destKey) }, body: Buffer.from(xml) }));
    const body = await readBody(done);
    // S3 can answer 200 with an <Error> body for CompleteMultipartUpload
    if (body.includes('<Error>')) throw new UpstreamAnswer(500, done.headers, body);
    return done.headers['x-amz-version-id'] as string | undefined;
  } catch (e) {
    await s3.send({ method: 'DELETE', bucket: req.dest.bucket, key: req.dest.key, query: uq }).then((r) => r.resume(), () => undefined);
    throw e;
  }
}

/** UploadPartCopy done as a (ranged) GET with the source key → UploadPart with the upload's key. */
export async function uploadPartCopy(s3: UpstreamS3, req: CopyRequest & { partNumber: string; uploadId: string; range?: string }): Promise<{ etag: string; lastModified: string; sourceVersionId?: string }> {
  const src = await getSource(s3, req, req.range);
  const size = Number(src.headers['content-length'] ?? NaN);
  const up = await expectOk(await s3.send({
    method: 'PUT', bucket: req.dest.bucket, key: req.dest.key, query: `partNumber=${encodeURIComponent(req.partNumber)}&uploadId=${encodeURIComponent(req.uploadId)}`,
    headers: { 'content-length': String(size), ...sseHeaders(req.destKey) }, body: src,
  }));
  up.resume();
  return { etag: String(up.headers.etag ?? ''), lastModified: new Date(String(src.headers['last-modified'] ?? Date.now())).toISOString(), sourceVersionId: src.headers['x-amz-version-id'] as string | undefined };
}
