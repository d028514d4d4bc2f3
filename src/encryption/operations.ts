/**
 * `encryption.mode gateway`: the S3 operations the gateway answers itself, encrypting on the way in
 * and decrypting on the way out (format.ts). The store gets no SSE-C header and no plaintext; the
 * client sees what S3 answers for SSE-C: the key-MD5 echoed, plaintext sizes, its errors.
 *
 * Multipart uploads carry their data key in the upload id the client holds:
 * `<upstream upload id>.<x-amz-meta-ssecgw value>`. Each UploadPart opens it with the key the
 * client sends, so no state is kept between the requests of an upload (any replica, any worker).
 */
import { createHash } from 'node:crypto';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GatewayError } from '../errors/gateway-error.js';
import type { ErrorName } from '../errors/table.js';
import { clientBody, type RequestContext } from '../request/context.js';
import { resetClient, sendXml } from '../request/respond-error.js';
import { SSEC } from '../s3/headers.js';
import { xmlBlocks, xmlEscape, xmlField } from '../s3/xml.js';
import { attributesXml, parseAttributeList, partPaging, partsCountOf } from '../s3/object-attributes.js';
import type { CustomerKey } from '../sse-c/customer-key.js';
import { bodyBytes } from '../server/scavenge-pacer.js';
import { normalizeErrorBody } from '../upstream/normalize-error.js';
import { corkPerTick, discardAfterAnswer } from '../upstream/forward.js';
import { readBody, type UpstreamS3 } from '../upstream/s3-client.js';
import type { HeaderInput } from '../sigv4/index.js';
import { stripAuthQuery } from '../sigv4/sign-upstream.js';
import {
  FormatError, HEADER, META, SEGMENT, decodeHeader, newDataKey, plainSizeOf, unwrapDataKey, wrapDataKey,
} from './format.js';
import { DecryptStream, PartSealer, planRange } from './streams.js';

// ---- headers ----

/** Request headers that describe the object or the write, and travel to the store unchanged. */
const WRITE_HEADERS = /^(content-type|cache-control|content-disposition|content-language|expires|x-amz-meta-.*|x-amz-acl|x-amz-grant-.*|x-amz-storage-class|x-amz-tagging|x-amz-website-redirect-location|x-amz-object-lock-.*|if-match|if-none-match)$/;
/** Response headers of the store that the client gets (length and range are the plaintext's, set here). */
const READ_HEADERS = /^(etag|last-modified|content-type|cache-control|content-disposition|content-encoding|content-language|expires|x-amz-meta-.*|x-amz-version-id|x-amz-delete-marker|x-amz-storage-class|x-amz-tagging-count|x-amz-object-lock-.*|x-amz-restore|x-amz-expiration|accept-ranges|x-amz-mp-parts-count)$/;
/** Conditional read headers, passed to every upstream read of one GET. */
const CONDITIONS = ['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since'];

export function writeHeaders(ctx: RequestContext): HeaderInput {
  const out: HeaderInput = {};
  for (const [k, v] of Object.entries(ctx.headers)) {
    if (v === undefined || k === META || !WRITE_HEADERS.test(k)) continue;
    out[k] = Array.isArray(v) ? v.join(',') : v;
  }
  // aws-chunked is the transfer framing of the client's body, not an encoding of the object
  const enc = typeof ctx.headers['content-encoding'] === 'string' ? ctx.headers['content-encoding'].split(',').map((s) => s.trim()).filter((s) => s && s !== 'aws-chunked') : [];
  if (enc.length) out['content-encoding'] = enc.join(',');
  return out;
}

export function readHeaders(res: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined && k !== META && READ_HEADERS.test(k)) out[k] = Array.isArray(v) ? v.join(',') : v;
  return out;
}

function conditions(ctx: RequestContext): HeaderInput {
  const out: HeaderInput = {};
  for (const k of CONDITIONS) if (typeof ctx.headers[k] === 'string') out[k] = ctx.headers[k] as string;
  return out;
}

export function echo(key: CustomerKey | undefined): Record<string, string> {
  return key ? { [SSEC.algorithm]: 'AES256', [SSEC.keyMd5]: key.keyMd5 } : {};
}

/** The part count of an object from its ETag (`"…-N"` for a multipart object), 1 otherwise. */
export function partsOf(etag: string | undefined): number {
  return partsCountOf(String(etag ?? '').replace(/"/g, '')) ?? 1;
}

/** The plaintext size of an object in the format, from its HEAD/GET headers; undefined: not a size the format produces. */
export function plainSizeOfHead(headers: IncomingMessage['headers']): number | undefined {
  return plainSizeOf(Number(headers['content-length'] ?? -1), partsOf(String(headers.etag ?? '')));
}

// ---- answering ----

/** Relays an upstream answer that is not ours to change (errors normalised, 304/412 as they are). */
export async function relay(ctx: RequestContext, res: IncomingMessage): Promise<void> {
  ctx.upstreamResponseHeaders = res.headers;
  const status = res.statusCode ?? 502;
  if (status >= 400) {
    const text = await readBody(res, 64 * 1024).catch(() => '');
    const body = ctx.method === 'HEAD' ? '' : (text ? normalizeErrorBody(text, ctx).body : '');
    const headers: Record<string, string> = { 'x-amz-request-id': ctx.id };
    if (body) headers['content-type'] = 'application/xml';
    ctx.res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
    ctx.res.end(body);
    return;
  }
  ctx.res.writeHead(status, { ...readHeaders(res), 'x-amz-request-id': ctx.id, ...(res.headers['content-length'] ? { 'content-length': res.headers['content-length'] } : {}) });
  await stream(ctx, res);
}

/** Streams a body to the client, counting it; an error after the head is sent resets the answer. */
async function stream(ctx: RequestContext, body: NodeJS.ReadableStream): Promise<void> {
  const count = new Transform({ transform(c: Buffer, _e, done) { ctx.bytesOut += c.length; bodyBytes(c.length); done(null, c); } });
  try {
    await pipeline(body, count, ctx.res as NodeJS.WritableStream);
  } catch (e) {
    ctx.failure ??= e instanceof FormatError ? `ObjectNotAuthentic: ${e.message}` : `stream: ${(e as Error).message}`;
    resetClient(ctx);
  }
}

/**
 * Sends a decrypted body: the status line waits for the first plaintext (or the end), so an object
 * whose first segment does not authenticate gets 500 with nothing of it sent. A later segment
 * that fails resets the answer mid-body: the client sees a broken transfer, never wrong bytes.
 * The plaintext is written to the client as it comes, with the client's backpressure: no stream
 * between them (an async iterator, Readable.from and a counting Transform cost 0.3 s/GiB).
 * A client that goes away releases the upstream read (pipeDecrypt).
 */
function sendDecrypted(ctx: RequestContext, status: number, headers: Record<string, string>, decrypted: DecryptStream): Promise<void> {
  const res = ctx.res as NodeJS.WritableStream & { writeHead: RequestContext['res']['writeHead']; destroy(): void; writableFinished: boolean };
  return new Promise<void>((resolve, reject) => {
    let started = false;
    const start = () => { if (!started) { started = true; ctx.bodyLength = Number(headers['content-length'] ?? NaN); res.writeHead(status, headers); } };
    const resume = () => decrypted.resume();
    decrypted.on('data', (c: Buffer) => {
      start();
      ctx.bytesOut += c.length;
      bodyBytes(c.length);
      if (!res.write(c)) { decrypted.pause(); res.once('drain', resume); }
    });
    decrypted.once('end', () => { start(); res.end(); resolve(); });
    decrypted.once('error', (e) => {
      res.off('drain', resume);
      if (!started) { reject(e instanceof FormatError ? new GatewayError('ObjectNotAuthentic', { cause: e }) : e); return; }
      ctx.failure ??= e instanceof FormatError ? `ObjectNotAuthentic: ${e.message}` : `stream: ${e.message}`;
      // HTTP/2: RST_STREAM(INTERNAL_ERROR). res.destroy() sent RST_STREAM(NO_ERROR), which an HTTP/2
      // client (node:http2) takes as the normal end of the body: a truncated object as a whole 200
      resetClient(ctx);
      resolve();
    });
    res.once('close', () => {
      if (res.writableFinished) return;
      ctx.failure ??= 'client_aborted';
      decrypted.destroy();
      resolve();
    });
  });
}

/** The object's data key, or the S3 answer for a key that does not open it / an object not in the format. */
export function dataKeyOf(ctx: RequestContext, res: IncomingMessage, bucket: string, key: string): Buffer | undefined {
  const meta = res.headers[META];
  if (typeof meta !== 'string') {
    if (ctx.sseC) throw new GatewayError('EncryptionNotApplicable');
    return undefined;
  }
  if (!ctx.sseC) throw new GatewayError('ObjectEncryptedNoKey');
  return openDataKey(ctx.sseC, bucket, key, meta, 'GatewayKeyMismatch');
}

/** unwrapDataKey, with `mismatch` as the S3 answer when this key (or this name) does not open it. */
export function openDataKey(customer: CustomerKey, bucket: string, key: string, meta: string, mismatch: ErrorName): Buffer {
  try {
    return unwrapDataKey(customer, bucket, key, meta);
  } catch (e) {
    if (e instanceof FormatError) throw new GatewayError(mismatch);
    throw e;
  }
}

// ---- writes ----

/** Plaintext bytes the client announces: Content-Length, or the decoded length of an aws-chunked body. */
function plainLength(ctx: RequestContext): number {
  const v = ctx.headers['x-amz-decoded-content-length'] ?? ctx.headers['content-length'];
  if (typeof v !== 'string' || !/^\d+$/.test(v)) throw new GatewayError('GatewayLengthRequired');
  return Number(v);
}

/** Something checked on the plaintext of an upload as it goes by; verify() at its end, before the part is complete. */
export interface PlainCheck {
  update(chunk: Buffer): void;
  /** the S3 error for a body that does not match, or undefined */
  verify(): GatewayError | undefined;
}

/** Content-MD5 of the plaintext, checked before the last segment leaves (so a mismatch stores nothing). */
function md5Check(ctx: RequestContext): PlainCheck[] {
  const v = ctx.headers['content-md5'];
  if (typeof v !== 'string') return [];
  const expected = Buffer.from(v, 'base64');
  if (expected.length !== 16 || !/^[A-Za-z0-9+/]{22}==$/.test(v.trim())) throw new GatewayError('GatewayInvalidContentMd5');
  const hash = createHash('md5');
  return [{
    update: (c) => { hash.update(c); },
    verify: () => (hash.digest().equals(expected) ? undefined : new GatewayError('GatewayContentMd5')),
  }];
}

/**
 * Encrypts `source` (exactly `size` bytes) as one part and PUTs it; resolves with the store's answer.
 *
 * The sealed output is written straight to the upstream request, not through a Transform: a TLS
 * client body arrives in 16 KiB records, and two streams per record cost more than the AES
 * (profiled: 1.6 s/GiB over passthrough with Transforms). The upstream socket is corked for the
 * rest of the tick, as in forward.ts, so the records a read brings go up in one write.
 * A failed check, a short or long body, or a client that goes away destroys the upstream request
 * before the last tag, so nothing partial is stored; the client's request is not destroyed (its
 * answer is still to be sent).
 */
export async function putPart(s3: UpstreamS3, call: { bucket: string; key: string; query?: string; headers: HeaderInput }, dataKey: Buffer, partNumber: number, size: number, source: NodeJS.ReadableStream, checks: PlainCheck[] = []): Promise<IncomingMessage> {
  const sealer = new PartSealer(dataKey, partNumber, size);
  let failed: unknown;
  const write = (up: ClientRequest) => {
    const cork = corkPerTick(up);
    let full = false;
    const out = (b: Buffer) => { if (!up.write(b)) full = true; };
    const resume = () => source.resume();
    const detach = () => {
      source.off('data', onData).off('end', onEnd).off('error', stop).off('close', onClose);
      up.off('drain', resume);
    };
    function stop(e: unknown): void {
      failed ??= e;
      detach();
      sealer.abandon();
      up.destroy(e as Error);
    }
    function onData(c: Buffer): void {
      cork();
      try {
        for (const k of checks) k.update(c);
        sealer.update(c, out);
      } catch (e) { stop(e); return; }
      if (full) { full = false; source.pause(); up.once('drain', resume); }
    }
    function onEnd(): void {
      detach();
      const bad = checks.map((k) => k.verify()).find((e) => e !== undefined);
      if (bad) { stop(bad); return; }
      let tag: Buffer;
      try { tag = sealer.final(); } catch (e) { stop(e); return; }
      up.end(tag);
    }
    function onClose(): void { stop(new GatewayError('ClientTimeout', { message: 'The body stopped before its end.' })); }
    up.write(sealer.header);
    // detached on the upstream's error too, not only at its close (which can come after the error
    // answer is out): a write meanwhile would pause the body for a 'drain' that never comes, and
    // the rest of the body could then not be discarded (discardAfterAnswer)
    up.once('close', detach).once('error', detach);
    source.on('data', onData).once('end', onEnd).once('error', stop).once('close', onClose);
  };
  try {
    return await s3.send({ method: 'PUT', bucket: call.bucket, key: call.key, query: call.query, headers: { ...call.headers, 'content-length': String(sealer.cipherSize) }, body: write });
  } catch (e) {
    if (failed instanceof GatewayError) throw failed;
    if (failed instanceof FormatError) throw new GatewayError('ClientTimeout', { message: `The request body did not match its length: ${failed.message}.` });
    throw e;
  }
}

/** The client's body, encrypted as one part (its Content-MD5 checked before the part is complete). */
async function putEncrypted(ctx: RequestContext, s3: UpstreamS3, call: { bucket: string; key: string; query?: string; headers: HeaderInput }, dataKey: Buffer, partNumber: number): Promise<IncomingMessage> {
  const size = plainLength(ctx);
  const checks = md5Check(ctx);
  if (ctx.expectContinue) ctx.res.writeContinue();
  try {
    return await putPart(s3, call, dataKey, partNumber, size, (ctx.body ?? clientBody(ctx)) as NodeJS.ReadableStream, checks);
  } finally {
    // answered before the whole body was read (the store unreachable, timed out or refusing early):
    // the rest is read and discarded once the answer is out, or the client, still writing, never
    // reads it and the connection stays wedged until limits.idleTimeoutMs
    if (!ctx.req.readableEnded) discardAfterAnswer(ctx);
  }
}

export async function putObject(ctx: RequestContext, s3: UpstreamS3): Promise<void> {
  const { bucket, key } = ctx.target! as { bucket: string; key: string };
  if (ctx.injected) return putAsOneUpload(ctx, s3);
  const dataKey = newDataKey();
  const headers = { ...writeHeaders(ctx), [META]: wrapDataKey(ctx.sseC!, bucket, key, dataKey) };
  const res = await putEncrypted(ctx, s3, { bucket, key, headers }, dataKey, 1);
  dataKey.fill(0);
  if ((res.statusCode ?? 502) >= 300) return relay(ctx, res);
  res.resume();
  ctx.upstreamResponseHeaders = res.headers;
  sendEmpty(ctx, 200, { ...pick(res, ['etag', 'x-amz-version-id']), ...echo(ctx.sseC) });
}

/**
 * A PutObject whose key was injected, stored as a multipart upload of one part. The client knows
 * nothing of SSE-C, and clients of that kind (s3cmd) check that a PUT's ETag is the MD5 of what
 * they sent unless the ETag has a `-` (a multipart ETag). S3 gives SSE-C objects non-MD5 ETags,
 * and the store here sees ciphertext, so the ETag cannot be that MD5 without hashing every body.
 * A one-part upload's ETag (`"…-1"`) tells such clients not to compare. The format is the same:
 * one part.
 */
async function putAsOneUpload(ctx: RequestContext, s3: UpstreamS3): Promise<void> {
  const { bucket, key } = ctx.target! as { bucket: string; key: string };
  const dataKey = newDataKey();
  try {
    const upload = await GatewayUpload.start(s3, bucket, key, { ...writeHeaders(ctx), [META]: wrapDataKey(ctx.sseC!, bucket, key, dataKey) });
    if (!(upload instanceof GatewayUpload)) return await relay(ctx, upload);
    const part = await upload.part(1, () => putEncrypted(ctx, s3, { bucket, key, query: upload.partQuery(1), headers: {} }, dataKey, 1));
    if (part) return await relay(ctx, part);
    const done = await upload.complete('a one-part PutObject');
    ctx.upstreamResponseHeaders = done.headers;
    sendEmpty(ctx, 200, { etag: done.etag, ...pick(done, ['x-amz-version-id']), ...echo(ctx.sseC) });
  } finally {
    dataKey.fill(0);
  }
}

/**
 * A multipart upload the gateway makes itself (an injected PutObject, a form's file): parts in
 * order, completed, or aborted when anything before the completion fails.
 */
export class GatewayUpload {
  readonly #etags: string[] = [];
  #open = true;
  private constructor(private readonly s3: UpstreamS3, private readonly bucket: string, private readonly key: string, private readonly id: string) {}

  /** The upload, or the store's refusal to start it (to relay). */
  static async start(s3: UpstreamS3, bucket: string, key: string, headers: HeaderInput): Promise<GatewayUpload | IncomingMessage> {
    const create = await s3.send({ method: 'POST', bucket, key, query: 'uploads', headers });
    if (create.statusCode !== 200) return create;
    const id = xmlField(await readBody(create), 'UploadId');
    if (!id) throw new GatewayError('Internal', { message: 'CreateMultipartUpload: no UploadId in the answer' });
    return new GatewayUpload(s3, bucket, key, id);
  }

  partQuery(n: number): string { return `partNumber=${n}&uploadId=${encodeURIComponent(this.id)}`; }

  /** Sends part n with `send`; undefined when stored, else the store's refusal (to relay). The upload is aborted on any failure. */
  async part(n: number, send: () => Promise<IncomingMessage>): Promise<IncomingMessage | undefined> {
    let res: IncomingMessage;
    try {
      res = await send();
    } catch (e) {
      await this.abort();
      throw e;
    }
    if ((res.statusCode ?? 502) >= 300) { await this.abort(); return res; }
    res.resume();
    this.#etags[n - 1] = String(res.headers.etag ?? '');
    return undefined;
  }

  /** Completes the upload; its ETag and the store's headers. */
  async complete(what: string): Promise<{ etag: string; headers: IncomingMessage['headers'] }> {
    const xml = `<CompleteMultipartUpload>${this.#etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${xmlEscape(e)}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
    const done = await this.s3.send({ method: 'POST', bucket: this.bucket, key: this.key, query: `uploadId=${encodeURIComponent(this.id)}`, headers: { 'content-type': 'application/xml' }, body: Buffer.from(xml) });
    const answer = await readBody(done);
    if (done.statusCode !== 200 || /<Error>/.test(answer)) {
      await this.abort();
      throw new GatewayError('Internal', { message: `CompleteMultipartUpload of ${what} answered ${done.statusCode}: ${xmlField(answer, 'Code') ?? ''}` });
    }
    this.#open = false;
    let etag = xmlField(answer, 'ETag');
    if (!etag) { // RGW 16 answers CompleteMultipartUpload with an empty <ETag/>: the object's HEAD has it
      const version = done.headers['x-amz-version-id'];
      const h = await this.s3.send({ method: 'HEAD', bucket: this.bucket, key: this.key, query: typeof version === 'string' ? `versionId=${encodeURIComponent(version)}` : undefined });
      h.resume();
      etag = String(h.headers.etag ?? '');
    }
    return { etag, headers: done.headers };
  }

  async abort(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    await this.s3.send({ method: 'DELETE', bucket: this.bucket, key: this.key, query: `uploadId=${encodeURIComponent(this.id)}` }).then((r) => r.resume(), () => undefined);
  }
}

export function pick(res: { headers: IncomingMessage['headers'] }, names: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) { const v = res.headers[n]; if (typeof v === 'string') out[n] = v; }
  return out;
}

export function sendEmpty(ctx: RequestContext, status: number, headers: Record<string, string>): void {
  ctx.res.writeHead(status, { ...headers, 'x-amz-request-id': ctx.id, 'content-length': '0' });
  ctx.res.end();
}

// ---- reads ----

export interface Range { first: number; last: number }

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` against the plaintext size; undefined: not a single byte range (S3 then sends the whole object). */
export function parseRange(header: unknown, size: number): Range | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) throw new GatewayError('GatewayInvalidRange'); // S3: 416 for any range of an empty object
    return { first: Math.max(0, size - n), last: size - 1 };
  }
  const first = Number(m[1]);
  const last = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (first >= size || (m[2] !== '' && Number(m[2]) < first)) throw new GatewayError('GatewayInvalidRange');
  return { first, last };
}

async function fetchRange(s3: UpstreamS3, bucket: string, key: string, query: string | undefined, etag: string, first: number, last: number): Promise<IncomingMessage> {
  const res = await s3.send({ method: 'GET', bucket, key, query, headers: { range: `bytes=${first}-${last}`, 'if-match': etag } });
  if (res.statusCode === 412) { res.resume(); throw new GatewayError('GatewayObjectChanged'); }
  if (res.statusCode !== 206 && res.statusCode !== 200) { res.resume(); throw new GatewayError('Internal', { message: `upstream answered ${res.statusCode} to a ranged read` }); }
  return res;
}

async function readHeaderAt(s3: UpstreamS3, bucket: string, key: string, query: string | undefined, etag: string, at: number) {
  const res = await fetchRange(s3, bucket, key, query, etag, at, at + HEADER - 1);
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  try { return decodeHeader(Buffer.concat(chunks)); } catch { throw new GatewayError('ObjectNotAuthentic'); }
}

/** GetObject and HeadObject of an object in a `gateway` scope, with or without a key. */
export async function getObject(ctx: RequestContext, s3: UpstreamS3): Promise<void> {
  const { bucket, key } = ctx.target! as { bucket: string; key: string };
  const query = versionQuery(ctx);
  const head = ctx.method === 'HEAD' || ctx.headers.range !== undefined;
  const res = await s3.send({ method: head ? 'HEAD' : 'GET', bucket, key, query, headers: conditions(ctx) });
  const status = res.statusCode ?? 502;
  if (status !== 200) return relay(ctx, res);
  let dataKey: Buffer | undefined;
  try {
    dataKey = dataKeyOf(ctx, res, bucket, key);
  } catch (e) { res.resume(); throw e; }
  if (!dataKey) {
    // not in the gateway's format, no key sent: the object is the store's, as it is
    if (!head || ctx.method === 'HEAD') return relay(ctx, res);
    res.resume();
    const plain = await s3.send({ method: 'GET', bucket, key, query, headers: { ...conditions(ctx), range: String(ctx.headers.range) } });
    return relay(ctx, plain);
  }
  ctx.upstreamResponseHeaders = res.headers;
  const etag = String(res.headers.etag ?? '');
  const parts = partsOf(etag);
  const size = plainSizeOfHead(res.headers);
  if (size === undefined) { res.resume(); throw new GatewayError('ObjectNotAuthentic'); }
  const base = { ...readHeaders(res), ...echo(ctx.sseC), 'x-amz-request-id': ctx.id, 'accept-ranges': 'bytes' };
  const range = parseRange(ctx.headers.range, size);
  if (ctx.method === 'HEAD') {
    res.resume();
    ctx.res.writeHead(200, { ...base, 'content-length': String(size) });
    ctx.res.end();
    return;
  }
  if (!range) {
    if (head) { // a Range S3 ignores: the whole object
      res.resume();
      return sendDecrypted(ctx, 200, { ...base, 'content-length': String(size) }, await decryptWhole(s3, { bucket, key, query }, { etag, size, parts, dataKey }));
    }
    return sendDecrypted(ctx, 200, { ...base, 'content-length': String(size) }, pipeDecrypt(res, new DecryptStream({ dataKey, parts })));
  }
  res.resume();
  const body = await decryptRange(s3, { bucket, key, query }, { etag, size, parts, dataKey }, range);
  return sendDecrypted(ctx, 206, { ...base, 'content-length': String(range.last - range.first + 1), 'content-range': `bytes ${range.first}-${range.last}/${size}` }, body);
}

/** An object in the format, as its HEAD told it. */
export interface FormatObject { etag: string; size: number; parts: number; dataKey: Buffer }

/** Plaintext bytes first…last of an object: its segments only (and a part header or two), decrypted. */
export async function decryptRange(s3: UpstreamS3, ref: { bucket: string; key: string; query?: string }, o: FormatObject, range: Range): Promise<DecryptStream> {
  const { bucket, key, query } = ref;
  // uniform parts (checked at completion): part 1's header tells their size
  const partSize = o.parts === 1 ? Math.max(o.size, 1) : (await readHeaderAt(s3, bucket, key, query, o.etag, 0)).plainSize;
  if (o.parts > 1 && (partSize <= 0 || partSize % SEGMENT !== 0)) throw new GatewayError('ObjectNotAuthentic');
  const plan = planRange(o.size, partSize, range.first, range.last);
  const header = plan.headerAt === undefined ? undefined : await readHeaderAt(s3, bucket, key, query, o.etag, plan.headerAt);
  const data = await fetchRange(s3, bucket, key, query, o.etag, plan.cipherFirst, plan.cipherLast);
  return pipeDecrypt(data, new DecryptStream({ dataKey: o.dataKey, start: header ? { header, segment: plan.segment } : undefined, skip: plan.skip, length: plan.length }));
}

/** The whole plaintext of an object. */
export async function decryptWhole(s3: UpstreamS3, ref: { bucket: string; key: string; query?: string }, o: FormatObject): Promise<DecryptStream> {
  const res = await s3.send({ method: 'GET', bucket: ref.bucket, key: ref.key, query: ref.query, headers: { 'if-match': o.etag } });
  if (res.statusCode === 412) { res.resume(); throw new GatewayError('GatewayObjectChanged'); }
  if (res.statusCode !== 200) { res.resume(); throw new GatewayError('Internal', { message: `upstream answered ${res.statusCode} to a read` }); }
  return pipeDecrypt(res, new DecryptStream({ dataKey: o.dataKey, parts: o.parts }));
}

/** upstream body → decryption; an upstream that breaks off mid-body fails the decryption too */
function pipeDecrypt(from: IncomingMessage, to: DecryptStream): DecryptStream {
  from.once('error', (e) => to.destroy(e));
  // the decryption stopped early (the client went away, a segment failed): the read is released
  to.once('close', () => { if (!from.complete) from.destroy(); });
  from.once('aborted', () => to.destroy(new FormatError('the store broke off the object mid-body')));
  return from.pipe(to);
}

function versionQuery(ctx: RequestContext): string | undefined {
  const v = ctx.target?.query.get('versionId');
  return v ? `versionId=${encodeURIComponent(v)}` : undefined;
}

// ---- multipart ----

const ENVELOPE = /^(.+)\.(1\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{64})$/;

/** The upload id the client holds → the store's, and the wrapped data key; undefined: an upload the gateway did not encrypt. */
export function openUploadId(id: string): { upstream: string; meta: string } | undefined {
  const m = ENVELOPE.exec(id);
  return m ? { upstream: m[1]!, meta: m[2]! } : undefined;
}

export function uploadQuery(ctx: RequestContext, upstreamId: string): string {
  // the client's query without presign parameters (the gateway signs itself), with the store's upload id
  return stripAuthQuery(ctx.target!.rawQuery).split('&').filter(Boolean)
    .map((p) => (p.split('=', 1)[0] === 'uploadId' ? `uploadId=${encodeURIComponent(upstreamId)}` : p)).join('&');
}


export async function createUpload(ctx: RequestContext, s3: UpstreamS3): Promise<void> {
  const { bucket, key } = ctx.target! as { bucket: string; key: string };
  const dataKey = newDataKey();
  const meta = wrapDataKey(ctx.sseC!, bucket, key, dataKey);
  dataKey.fill(0);
  const res = await s3.send({ method: 'POST', bucket, key, query: 'uploads', headers: { ...writeHeaders(ctx), [META]: meta } });
  if (res.statusCode !== 200) return relay(ctx, res);
  ctx.upstreamResponseHeaders = res.headers;
  const xml = await readBody(res);
  const id = xmlField(xml, 'UploadId');
  if (!id) throw new GatewayError('Internal', { message: 'CreateMultipartUpload: no UploadId in the answer' });
  const body = xml.replace(/<UploadId>[\s\S]*?<\/UploadId>/, `<UploadId>${xmlEscape(`${id}.${meta}`)}</UploadId>`);
  ctx.captured = { ...ctx.captured, response: [Buffer.from(body)] };
  sendXml(ctx, 200, body, echo(ctx.sseC));
}

/** The data key of an upload from its id, with the client's key; S3's answers when it cannot be had. */
export function uploadKey(ctx: RequestContext, envelope: { meta: string }): Buffer {
  if (!ctx.sseC) throw new GatewayError('UploadNeedsKey');
  return openDataKey(ctx.sseC, ctx.target!.bucket!, ctx.target!.key!, envelope.meta, 'UploadKeyMismatch');
}

export async function uploadPart(ctx: RequestContext, s3: UpstreamS3, envelope: { upstream: string; meta: string }): Promise<void> {
  const { bucket, key } = ctx.target! as { bucket: string; key: string };
  const partNumber = Number(ctx.target!.query.get('partNumber'));
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10000) throw new GatewayError('Internal', { message: 'UploadPart: no valid partNumber' });
  const dataKey = uploadKey(ctx, envelope);
  const res = await putEncrypted(ctx, s3, { bucket, key, query: uploadQuery(ctx, envelope.upstream), headers: {} }, dataKey, partNumber);
  dataKey.fill(0);
  if ((res.statusCode ?? 502) >= 300) return relay(ctx, res);
  res.resume();
  ctx.upstreamResponseHeaders = res.headers;
  const etag = typeof res.headers.etag === 'string' ? res.headers.etag : '';
  // a client that knows nothing of SSE-C (its key injected: s3cmd) compares a part's ETag with the
  // MD5 of the part unless the ETag has a `-`; the ETag is the ciphertext's. The client gets it
  // marked (`"…-ssecgw"`), and CompleteMultipartUpload takes the mark off again.
  sendEmpty(ctx, 200, { etag: ctx.injected && etag ? markEtag(etag) : etag, ...echo(ctx.sseC) });
}

const ETAG_MARK = '-ssecgw';
const markEtag = (etag: string) => etag.replace(/"?$/, (q) => `${ETAG_MARK}${q}`);
/** CompleteMultipartUpload's body with the marks of markEtag taken off. */
function unmarkEtags(xml: Buffer): Buffer {
  const s = xml.toString('utf8');
  return s.includes(ETAG_MARK) ? Buffer.from(s.split(ETAG_MARK).join(''), 'utf8') : xml;
}

/** Part sizes of an upload as the store has them (ListParts, every page). */
async function storedParts(s3: UpstreamS3, bucket: string, key: string, upstreamId: string): Promise<Map<number, number>> {
  const sizes = new Map<number, number>();
  let marker = '';
  for (;;) {
    const q = `uploadId=${encodeURIComponent(upstreamId)}&max-parts=1000${marker ? `&part-number-marker=${marker}` : ''}`;
    const res = await s3.send({ method: 'GET', bucket, key, query: q });
    const xml = await readBody(res, 16 << 20);
    if (res.statusCode !== 200) throw new GatewayError('Internal', { message: `ListParts answered ${res.statusCode} during CompleteMultipartUpload` });
    for (const p of xmlBlocks(xml, 'Part')) sizes.set(Number(xmlField(p, 'PartNumber')), Number(xmlField(p, 'Size')));
    if (xmlField(xml, 'IsTruncated') !== 'true') return sizes;
    marker = xmlField(xml, 'NextPartNumberMarker') ?? '';
    if (!marker) return sizes;
  }
}

export async function completeUpload(ctx: RequestContext, s3: UpstreamS3, envelope: { upstream: string; meta: string }): Promise<void> {
  const { bucket, key } = ctx.target! as { bucket: string; key: string };
  if (ctx.expectContinue) ctx.res.writeContinue();
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of ctx.body ?? clientBody(ctx)) { n += (c as Buffer).length; if (n > 1 << 20) throw new GatewayError('Internal', { message: 'CompleteMultipartUpload body over 1 MiB' }); chunks.push(c as Buffer); }
  const body = unmarkEtags(Buffer.concat(chunks));
  ctx.captured = { ...ctx.captured, request: [body] };
  const listed = xmlBlocks(body.toString('utf8'), 'Part').map((p) => Number(xmlField(p, 'PartNumber')));
  const stored = await storedParts(s3, bucket, key, envelope.upstream);
  // the layout docs/format.md reads by: every part but the last the same multiple of 64 KiB, the last not empty nor larger
  const plain = listed.map((p) => (stored.has(p) ? plainSizeOf(stored.get(p)!, 1) : undefined));
  if (plain.every((p) => p !== undefined)) {
    const sizes = plain as number[];
    const first = sizes[0] ?? 0;
    const ok = sizes.length > 0 && sizes.slice(0, -1).every((s) => s === first && s % SEGMENT === 0) && sizes[sizes.length - 1]! > 0 && sizes[sizes.length - 1]! <= first || sizes.length === 1 && sizes[0]! >= 0;
    if (!ok) throw new GatewayError('GatewayPartLayout');
  } // a part the store does not have: the store answers InvalidPart itself
  const res = await s3.send({ method: 'POST', bucket, key, query: uploadQuery(ctx, envelope.upstream), headers: { 'content-type': 'application/xml' }, body });
  ctx.upstreamResponseHeaders = res.headers;
  if (res.statusCode !== 200) return relay(ctx, res);
  const xml = await readBody(res);
  ctx.captured = { ...ctx.captured, response: [Buffer.from(xml)] };
  sendXml(ctx, 200, xml, { ...pick(res, ['x-amz-version-id']), ...echo(ctx.sseC) });
}

export async function abortUpload(ctx: RequestContext, s3: UpstreamS3, envelope: { upstream: string }): Promise<void> {
  const { bucket, key } = ctx.target! as { bucket: string; key: string };
  const res = await s3.send({ method: 'DELETE', bucket, key, query: uploadQuery(ctx, envelope.upstream) });
  if (res.statusCode !== 204 && res.statusCode !== 200) return relay(ctx, res);
  res.resume();
  ctx.upstreamResponseHeaders = res.headers;
  sendEmpty(ctx, res.statusCode, {});
}

/** ListParts: the store's answer with plaintext sizes and the client's upload id. */
export async function listParts(ctx: RequestContext, s3: UpstreamS3, envelope: { upstream: string; meta: string }): Promise<void> {
  const { bucket, key } = ctx.target! as { bucket: string; key: string };
  const res = await s3.send({ method: 'GET', bucket, key, query: uploadQuery(ctx, envelope.upstream) });
  if (res.statusCode !== 200) return relay(ctx, res);
  ctx.upstreamResponseHeaders = res.headers;
  const xml = (await readBody(res, 16 << 20))
    .replace(/<UploadId>[\s\S]*?<\/UploadId>/, `<UploadId>${xmlEscape(`${envelope.upstream}.${envelope.meta}`)}</UploadId>`)
    .replace(/<Size>(\d+)<\/Size>/g, (whole, c: string) => { const p = plainSizeOf(Number(c), 1); return p === undefined ? whole : `<Size>${p}</Size>`; });
  sendXml(ctx, 200, xml, {});
}

/** GetObjectAttributes from a HEAD, with the plaintext size (the store's checksums are of ciphertext: not shown). */
export async function objectAttributes(ctx: RequestContext, s3: UpstreamS3): Promise<void> {
  const { bucket, key } = ctx.target! as { bucket: string; key: string };
  const list = parseAttributeList(ctx.headers['x-amz-object-attributes']);
  if ('missing' in list) throw new GatewayError('AttributesMissing');
  if ('invalid' in list) throw new GatewayError('AttributeNameInvalid', { argumentName: 'x-amz-object-attributes' });
  const res = await s3.send({ method: 'HEAD', bucket, key, query: versionQuery(ctx) });
  res.resume();
  if (res.statusCode !== 200) return relay(ctx, res);
  const dataKey = dataKeyOf(ctx, res, bucket, key);
  const headers = { ...res.headers };
  if (dataKey) {
    dataKey.fill(0);
    const size = plainSizeOfHead(res.headers);
    if (size === undefined) throw new GatewayError('ObjectNotAuthentic');
    headers['content-length'] = String(size);
    for (const h of Object.keys(headers)) if (h.startsWith('x-amz-checksum-')) delete headers[h];
  }
  ctx.upstreamResponseHeaders = res.headers;
  sendXml(ctx, 200, attributesXml(headers, list.want, partPaging(ctx.headers['x-amz-max-parts'], ctx.headers['x-amz-part-number-marker'])),
    { ...echo(ctx.sseC), 'last-modified': typeof res.headers['last-modified'] === 'string' ? res.headers['last-modified'] : undefined, 'x-amz-version-id': typeof res.headers['x-amz-version-id'] === 'string' ? res.headers['x-amz-version-id'] : undefined });
}
