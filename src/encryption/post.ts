/**
 * POST Object (a browser form) under `encryption.mode gateway`: the file is taken out of the form
 * and stored encrypted with the form's fields as its headers; the answer is S3's for a form
 * (success_action_redirect, success_action_status 200/201/204).
 *
 * A form does not say how large its file is (browsers send fields after it, e.g. the submit
 * button), and a part header states its size (docs/format.md). So the file goes up in parts of
 * PART bytes, each sent once it is known not to be the last: at most PART bytes (5 MiB) wait in
 * memory per upload, whatever the file's size. A file of at most PART bytes is one PutObject;
 * a larger one a multipart upload of uniform parts, the layout the format reads by.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { clientBody, type RequestContext } from '../request/context.js';
import { sendXml } from '../request/respond-error.js';
import { FilePartMeter } from '../s3/post-form.js';
import { xmlEscape } from '../s3/xml.js';
import { fieldMap } from '../sigv4/post-policy.js';
import type { HeaderInput } from '../sigv4/index.js';
import type { UpstreamS3 } from '../upstream/s3-client.js';
import { META, newDataKey, wrapDataKey } from './format.js';
import { echo, GatewayUpload, putPart, relay } from './operations.js';

/** Part size of a form's file: S3's smallest multipart part, a multiple of the 64 KiB segment. */
export const POST_PART = 5 << 20;

const FIELD_HEADERS = /^(content-type|cache-control|content-disposition|content-encoding|expires|x-amz-meta-.*|x-amz-storage-class|x-amz-website-redirect-location)$/;

function formHeaders(ctx: RequestContext): HeaderInput {
  const out: HeaderInput = {};
  for (const [name, value] of fieldMap(ctx.post!.fields)) {
    if (name === META) continue;
    if (FIELD_HEADERS.test(name)) out[name] = value;
    if (name === 'acl') out['x-amz-acl'] = value;
  }
  if (out['content-type'] === undefined) {
    const ct = /content-type:\s*([^\r\n]+)/i.exec(ctx.post!.form.file.headers.toString('latin1'))?.[1];
    if (ct) out['content-type'] = ct.trim();
  }
  return out;
}

/** The file's bytes, PART at a time: yields [part, isLast]; the last one may be shorter (or empty for an empty file). */
async function* parts(file: AsyncIterable<Buffer>): AsyncGenerator<[Buffer, boolean]> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  for await (const chunk of file) {
    let c = chunk;
    while (c.length) {
      if (heldBytes === POST_PART) { // more follows: the held part is not the last
        yield [Buffer.concat(held, heldBytes), false];
        held = [];
        heldBytes = 0;
      }
      const take = Math.min(c.length, POST_PART - heldBytes);
      held.push(c.subarray(0, take));
      heldBytes += take;
      c = c.subarray(take);
    }
  }
  yield [Buffer.concat(held, heldBytes), true];
}

export async function postObject(ctx: RequestContext, s3: UpstreamS3): Promise<void> {
  const post = ctx.post!;
  const bucket = ctx.target!.bucket!;
  const key = post.key!;
  const meter = new FilePartMeter({ boundary: post.form.boundary, fileOnly: true, range: post.contentLengthRange, onSize: (n) => { post.size = n; } });
  const req = clientBody(ctx);
  // a refused file (content-length-range): the client's remaining bytes are read and dropped
  meter.once('error', () => { req.unpipe(meter); req.resume(); });
  if (post.form.rest.length) meter.write(post.form.rest);
  req.pipe(meter);
  const dataKey = newDataKey();
  const headers = { ...formHeaders(ctx), [META]: wrapDataKey(ctx.sseC!, bucket, key, dataKey) };
  let upload: GatewayUpload | undefined;
  let stored: { etag: string; headers: IncomingMessage['headers'] };
  try {
    let n = 0;
    let single: IncomingMessage | undefined;
    for await (const [bytes, last] of parts(meter as AsyncIterable<Buffer>)) {
      n++;
      if (last && n === 1) { // the whole file fits one part: a PutObject
        single = await putPart(s3, { bucket, key, headers }, dataKey, 1, bytes.length, Readable.from([bytes]));
        if ((single.statusCode ?? 502) >= 300) return await relay(ctx, single);
        single.resume();
        break;
      }
      if (!upload) {
        const started = await GatewayUpload.start(s3, bucket, key, headers);
        if (!(started instanceof GatewayUpload)) return await relay(ctx, started);
        upload = started;
      }
      const u = upload;
      const refused = await u.part(n, () => putPart(s3, { bucket, key, query: u.partQuery(n), headers: {} }, dataKey, n, bytes.length, Readable.from([bytes])));
      if (refused) return await relay(ctx, refused);
    }
    stored = upload ? await upload.complete('a form\'s file') : { etag: String(single?.headers.etag ?? ''), headers: single?.headers ?? {} };
  } finally {
    dataKey.fill(0);
    await upload?.abort(); // a no-op once completed; the file broke off or was refused (content-length-range) otherwise
  }
  ctx.upstreamResponseHeaders = stored.headers;
  answer(ctx, bucket, key, stored.etag, typeof stored.headers['x-amz-version-id'] === 'string' ? stored.headers['x-amz-version-id'] : undefined);
}

/** S3's answer to a form: a redirect, or the status the form asked for (204 by default). */
function answer(ctx: RequestContext, bucket: string, key: string, etag: string, versionId: string | undefined): void {
  const fields = fieldMap(ctx.post!.fields);
  const location = `https://${ctx.authority}/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
  const headers: Record<string, string> = { ...echo(ctx.sseC), etag, location, 'x-amz-request-id': ctx.id, ...(versionId ? { 'x-amz-version-id': versionId } : {}) };
  const redirect = fields.get('success_action_redirect') ?? fields.get('redirect');
  if (redirect) {
    try {
      const u = new URL(redirect);
      u.searchParams.set('bucket', bucket); u.searchParams.set('key', key); u.searchParams.set('etag', etag);
      ctx.res.writeHead(303, { ...headers, location: u.toString(), 'content-length': '0' });
      ctx.res.end();
      return;
    } catch { /* not a URL: S3 then answers as without it */ }
  }
  const status = fields.get('success_action_status');
  if (status === '201') {
    sendXml(ctx, 201, `<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse><Location>${xmlEscape(location)}</Location><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><ETag>${xmlEscape(etag)}</ETag></PostResponse>`, headers);
    return;
  }
  ctx.res.writeHead(status === '200' ? 200 : 204, { ...headers, 'content-length': '0' });
  ctx.res.end();
}
