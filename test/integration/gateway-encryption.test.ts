/**
 * `encryption.mode gateway` (issue 10) against the real RGW 16, used as a store that never sees
 * SSE-C: every answer is compared with what S3 gives for SSE-C (bytes, sizes, key-MD5 echo,
 * errors), and what RGW holds is checked to be ciphertext with no key in it.
 */
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { REPO, startGateway } from '../helpers/gateway.js';
import { bucketName, createBucket, rgwRequest, sharedRgw, startRgw } from '../helpers/rgw.js';
import { s3Raw, sendRaw, type RawResponse } from '../helpers/s3-raw.js';
import { awsCli, boto3, sseKey, type SseKey } from '../helpers/clients.js';
import { s3Error, ssecCli } from '../helpers/fingerprints-e2e.js';
import { cipherPartSize, HEADER, SEGMENT, TAG } from '../../src/encryption/format.js';

const rgw = await sharedRgw();
const bucket = bucketName('gwenc');
await createBucket(rgw, bucket);
const gw = await startGateway({
  upstream: rgw.http,
  args: ['--auth-mode', 'none', '--encryption-mode', 'gateway', '--upstream-access-key-id', rgw.accessKey, '--upstream-secret-access-key', rgw.secretKey],
});
t.teardown(() => gw.stop());
const ep = { url: gw.url, accessKey: 'any', secretKey: 'any', region: rgw.region, caFile: gw.caFile };
const triplet = (k: SseKey) => ({
  'x-amz-server-side-encryption-customer-algorithm': 'AES256', 'x-amz-server-side-encryption-customer-key': k.b64, 'x-amz-server-side-encryption-customer-key-md5': k.md5,
});
const K = sseKey();
const other = sseKey();
const put = (key: string, body: Buffer, k: SseKey | null = K, headers: Record<string, string> = {}) => s3Raw(ep, { method: 'PUT', path: `/${bucket}/${key}`, headers: { ...(k ? triplet(k) : {}), ...headers }, body });
const get = (key: string, k: SseKey | null = K, headers: Record<string, string> = {}, method = 'GET') => s3Raw(ep, { method, path: `/${bucket}/${key}`, headers: { ...(k ? triplet(k) : {}), ...headers } });
const stored = (key: string) => rgwRequest(rgw, { method: 'GET', path: `/${bucket}/${key}` });
const code = (r: RawResponse) => `${r.status} ${s3Error(r.body).code ?? ''}`.trim();

t.test('PutObject / GetObject / HeadObject: S3 answers for the client, ciphertext in the store', async (t) => {
  for (const size of [0, 1, 100, SEGMENT - 1, SEGMENT, SEGMENT + 1, 200_000]) {
    const body = randomBytes(size);
    const p = await put(`obj-${size}`, body, K, { 'content-type': 'application/x-test', 'x-amz-meta-color': 'blue' });
    t.equal(p.status, 200, `${size} B: PUT 200`);
    t.equal(p.headers['x-amz-server-side-encryption-customer-key-md5'], K.md5, `${size} B: PUT echoes the key-MD5`);
    const g = await get(`obj-${size}`);
    t.ok(g.status === 200 && g.body.equals(body), `${size} B: GET returns the bytes`);
    t.equal(g.headers['content-length'], String(size), `${size} B: GET Content-Length is the plaintext's`);
    t.equal(g.headers['x-amz-server-side-encryption-customer-algorithm'], 'AES256');
    t.equal(g.headers['content-type'], 'application/x-test', 'content type kept');
    t.equal(g.headers['x-amz-meta-color'], 'blue', 'user metadata kept');
    t.notOk(g.headers['x-amz-meta-ssecgw'], 'the format metadata is not shown to the client');
    const h = await get(`obj-${size}`, K, {}, 'HEAD');
    t.equal(h.headers['content-length'], String(size), `${size} B: HEAD Content-Length is the plaintext's`);
    const s = await stored(`obj-${size}`);
    t.equal(s.status, 200, 'the store holds the object');
    t.equal(s.body.length, cipherPartSize(size), `${size} B: the store holds ${cipherPartSize(size)} bytes of ciphertext`);
    t.match(String(s.headers['x-amz-meta-ssecgw']), /^1\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{64}$/, 'the wrapped data key in the metadata');
    t.notOk(s.headers['x-amz-server-side-encryption-customer-algorithm'], 'the store did no SSE-C: it never saw a key');
    if (size >= 32) t.equal(s.body.indexOf(body.subarray(0, 32)), -1, 'no plaintext run in the store');
    for (const form of [K.raw, Buffer.from(K.b64), Buffer.from(K.md5)]) {
      t.equal(Buffer.concat([s.body, Buffer.from(JSON.stringify(s.headers))]).indexOf(form), -1, 'no form of the key in the store');
    }
  }
});

t.test('errors as S3 gives them for SSE-C', async (t) => {
  await put('errs', Buffer.from('secret'));
  t.equal(code(await get('errs', other)), '403 AccessDenied', 'a wrong key: 403 AccessDenied');
  t.equal((await get('errs', other, {}, 'HEAD')).status, 403, 'HEAD with a wrong key: 403');
  t.same(s3Error((await get('errs', null)).body), { code: 'InvalidRequest', message: 'The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.' }, 'no key: 400 InvalidRequest');
  t.equal((await get('errs', null, {}, 'HEAD')).status, 400, 'HEAD without a key: 400');
  await put('plain', Buffer.from('plain text'), null);
  const plain = await get('plain', null);
  t.ok(plain.status === 200 && plain.body.toString() === 'plain text', 'a request without SSE-C passes through');
  t.same(s3Error((await get('plain')).body), { code: 'InvalidRequest', message: 'The encryption parameters are not applicable to this object.' }, 'SSE-C GET of a plain object: 400');
  t.equal(code(await get('no-such-key')), '404 NoSuchKey', 'missing object: 404 NoSuchKey');
  const md5 = await put('md5-bad', Buffer.from('abc'), K, { 'content-md5': createHash('md5').update('abd').digest('base64') });
  t.equal(code(md5), '400 BadDigest', 'Content-MD5 of the plaintext checked: 400 BadDigest');
  t.equal((await stored('md5-bad')).status, 404, 'and nothing was stored');
  const md5ok = await put('md5-ok', Buffer.from('abc'), K, { 'content-md5': createHash('md5').update('abc').digest('base64') });
  t.equal(md5ok.status, 200, 'a right Content-MD5: 200');
});

t.test('ranges: at every boundary, fetching only their segments', async (t) => {
  const body = randomBytes(3 * SEGMENT + 1000);
  await put('ranged', body);
  const n = body.length;
  const ranges: [string, number, number][] = [];
  for (const [a, b] of [[0, 0], [0, SEGMENT - 1], [SEGMENT - 1, SEGMENT], [SEGMENT, 2 * SEGMENT - 1], [100, n - 1], [n - 1, n - 1], [2 * SEGMENT + 5, 3 * SEGMENT + 5]] as const) ranges.push([`bytes=${a}-${b}`, a, b]);
  ranges.push(['bytes=-10', n - 10, n - 1], [`bytes=${n - 5}-`, n - 5, n - 1], [`bytes=10-${n + 1000}`, 10, n - 1]);
  for (const [header, a, b] of ranges) {
    const r = await get('ranged', K, { range: header });
    t.ok(r.status === 206 && r.body.equals(body.subarray(a, b + 1)), `${header}: 206 with bytes ${a}-${b}`);
    t.equal(r.headers['content-range'], `bytes ${a}-${b}/${n}`, `${header}: Content-Range in plaintext offsets`);
  }
  t.equal(code(await get('ranged', K, { range: `bytes=${n}-` })), '416 InvalidRange', 'a range past the end: 416 InvalidRange');
  const log = gw.logs().filter((l) => l.msg === 'request' && l.op === 'GetObject').length;
  t.ok(log > 0, 'requests logged');
});

t.test('multipart: parallel parts, plaintext sizes, ranges across parts, the part layout rule', async (t) => {
  const part = 5 << 20;
  const body = randomBytes(3 * part + 12345);
  const key = 'mp/object';
  const create = await s3Raw(ep, { method: 'POST', path: `/${bucket}/${key}`, query: { uploads: '' }, headers: triplet(K) });
  t.equal(create.status, 200, 'CreateMultipartUpload 200');
  t.equal(create.headers['x-amz-server-side-encryption-customer-key-md5'], K.md5, 'echoes the key-MD5');
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(create.body.toString())![1]!;
  const parts = [0, 1, 2, 3].map((i) => body.subarray(i * part, (i + 1) * part));
  const etags = await Promise.all(parts.map(async (p, i) => {
    const r = await s3Raw(ep, { method: 'PUT', path: `/${bucket}/${key}`, query: { partNumber: String(i + 1), uploadId }, headers: triplet(K), body: p });
    t.equal(r.status, 200, `UploadPart ${i + 1} (${p.length} B) 200`);
    return String(r.headers.etag);
  }));
  const wrong = await s3Raw(ep, { method: 'PUT', path: `/${bucket}/${key}`, query: { partNumber: '9', uploadId }, headers: triplet(other), body: Buffer.alloc(10) });
  t.equal(code(wrong), '400 InvalidArgument', 'UploadPart with another key: refused');
  const keyless = await s3Raw(ep, { method: 'PUT', path: `/${bucket}/${key}`, query: { partNumber: '9', uploadId }, body: Buffer.alloc(10) });
  t.equal(code(keyless), '400 InvalidRequest', 'UploadPart without the key: refused');
  const lp = await s3Raw(ep, { method: 'GET', path: `/${bucket}/${key}`, query: { uploadId } });
  const sizes = [...lp.body.toString().matchAll(/<Size>(\d+)<\/Size>/g)].map((m) => Number(m[1]));
  t.same(sizes, parts.map((p) => p.length), 'ListParts shows plaintext sizes');
  t.ok(lp.body.toString().includes(`<UploadId>${uploadId}</UploadId>`), 'and the client\'s upload id');
  const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
  const done = await s3Raw(ep, { method: 'POST', path: `/${bucket}/${key}`, query: { uploadId }, headers: triplet(K), body: xml });
  t.equal(done.status, 200, 'CompleteMultipartUpload 200');
  const g = await get(key);
  t.ok(g.status === 200 && g.body.equals(body), 'GET returns the whole object');
  t.equal((await get(key, K, {}, 'HEAD')).headers['content-length'], String(body.length), 'HEAD: plaintext size');
  for (const [a, b] of [[part - 10, part + 10], [0, part], [2 * part - 1, 3 * part + 5], [3 * part, body.length - 1], [part + SEGMENT - 1, part + SEGMENT]]) {
    const r = await get(key, K, { range: `bytes=${a}-${b}` });
    t.ok(r.status === 206 && r.body.equals(body.subarray(a, b + 1)), `range ${a}-${b} across parts`);
  }
  // a layout the format cannot read by: parts of different sizes
  const c2 = await s3Raw(ep, { method: 'POST', path: `/${bucket}/${key}-2`, query: { uploads: '' }, headers: triplet(K) });
  const id2 = /<UploadId>([^<]+)<\/UploadId>/.exec(c2.body.toString())![1]!;
  const e2: string[] = [];
  for (const [i, len] of [[1, part], [2, part + SEGMENT], [3, 10]] as const) {
    e2.push(String((await s3Raw(ep, { method: 'PUT', path: `/${bucket}/${key}-2`, query: { partNumber: String(i), uploadId: id2 }, headers: triplet(K), body: randomBytes(len) })).headers.etag));
  }
  const bad = await s3Raw(ep, { method: 'POST', path: `/${bucket}/${key}-2`, query: { uploadId: id2 }, headers: triplet(K), body: `<CompleteMultipartUpload>${e2.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>` });
  t.equal(code(bad), '400 InvalidPart', 'parts of unequal sizes: 400 InvalidPart, naming the rule');
  t.match(s3Error(bad.body).message, /multiple of 65536/);
  const abort = await s3Raw(ep, { method: 'DELETE', path: `/${bucket}/${key}-2`, query: { uploadId: id2 } });
  t.equal(abort.status, 204, 'the upload stays open and can be aborted');
});

t.test('tampering in the store, or a copy behind the gateway\'s back: an error, never wrong bytes', async (t) => {
  const body = randomBytes(2 * SEGMENT + 10);
  await put('victim', body);
  const s = await stored('victim');
  const meta = String(s.headers['x-amz-meta-ssecgw']);
  const flipped = Buffer.from(s.body);
  flipped[HEADER + SEGMENT + TAG + 7]! ^= 1;
  await rgwRequest(rgw, { method: 'PUT', path: `/${bucket}/victim`, headers: { 'x-amz-meta-ssecgw': meta }, body: flipped });
  const r1 = await get('victim').catch((e: Error) => ({ status: 0, body: Buffer.from(e.message), headers: {} }) as RawResponse);
  t.ok(r1.status === 0 || !r1.body.equals(body), 'a flipped byte: never the bytes as if nothing happened');
  t.notOk(r1.body.includes(body.subarray(SEGMENT + 1, SEGMENT + 100)), 'and not the altered segment\'s plaintext');
  const ranged = await get('victim', K, { range: `bytes=${SEGMENT + 5}-${SEGMENT + 20}` });
  t.equal(code(ranged), '500 InternalError', 'a range in the altered segment: 500 before any byte');
  // moved: the ciphertext and its metadata copied to another name by the store
  await put('origin', body);
  const o = await stored('origin');
  await rgwRequest(rgw, { method: 'PUT', path: `/${bucket}/moved`, headers: { 'x-amz-meta-ssecgw': String(o.headers['x-amz-meta-ssecgw']) }, body: o.body });
  t.equal(code(await get('moved')), '403 AccessDenied', 'a copy under another name does not open');
});

t.test('copies: any mix of encrypted and plain, the data key re-wrapped server-side when it can be', async (t) => {
  const body = randomBytes(300_000);
  await put('c/src', body, K, { 'content-type': 'text/x-src', 'x-amz-meta-origin': 'src' });
  const copy = (dst: string, headers: Record<string, string>) => s3Raw(ep, { method: 'PUT', path: `/${bucket}/${dst}`, headers: { 'x-amz-copy-source': `/${bucket}/c/src`, ...headers } });
  const src = (k: SseKey) => ({
    'x-amz-copy-source-server-side-encryption-customer-algorithm': 'AES256', 'x-amz-copy-source-server-side-encryption-customer-key': k.b64, 'x-amz-copy-source-server-side-encryption-customer-key-md5': k.md5,
  });
  const c1 = await copy('c/dst1', { ...src(K), ...triplet(other) });
  t.equal(c1.status, 200, 'encrypted → encrypted under another key: 200');
  t.match(c1.body.toString(), /<CopyObjectResult[^>]*><LastModified>[^<]+<\/LastModified><ETag>/, 'CopyObjectResult');
  t.equal(c1.headers['x-amz-server-side-encryption-customer-key-md5'], other.md5, 'echoes the destination key-MD5');
  const g1 = await get('c/dst1', other);
  t.ok(g1.status === 200 && g1.body.equals(body), 'the copy opens with its new key');
  t.equal(g1.headers['content-type'], 'text/x-src', 'COPY directive: the source\'s content type');
  t.equal(g1.headers['x-amz-meta-origin'], 'src', 'and its metadata');
  t.equal((await get('c/dst1', K)).status, 403, 'not with the source\'s key');
  t.ok((await stored('c/dst1')).body.equals((await stored('c/src')).body), 'the store copied the ciphertext as it was: no data went through the gateway');
  t.equal(code(await copy('c/x', triplet(other))), '400 InvalidRequest', 'an encrypted source without its key: 400');
  t.equal(code(await copy('c/x', { ...src(other), ...triplet(other) })), '403 AccessDenied', 'an encrypted source with a wrong key: 403');

  const c2 = await copy('c/plain', src(K));
  t.equal(c2.status, 200, 'encrypted → plain: 200');
  const g2 = await get('c/plain', null);
  t.ok(g2.status === 200 && g2.body.equals(body), 'the plain copy reads without a key');
  t.ok((await stored('c/plain')).body.equals(body), 'and the store holds it in plaintext, as asked');

  await put('c/p', body, null);
  const c3 = await s3Raw(ep, { method: 'PUT', path: `/${bucket}/c/enc`, headers: { 'x-amz-copy-source': `/${bucket}/c/p`, ...triplet(K) } });
  t.equal(c3.status, 200, 'plain → encrypted: 200');
  t.ok((await get('c/enc')).body.equals(body), 'the encrypted copy opens with its key');
  t.equal((await stored('c/enc')).body.indexOf(body.subarray(0, 64)), -1, 'the store holds ciphertext');

  // rotation: the object copied onto itself with a new key (what `rotate` does)
  const r = await s3Raw(ep, { method: 'PUT', path: `/${bucket}/c/enc`, headers: { 'x-amz-copy-source': `/${bucket}/c/enc`, ...src(K), ...triplet(other) } });
  t.equal(r.status, 200, 're-keyed in place: 200');
  t.ok((await get('c/enc', other)).body.equals(body), 'opens with the new key');
  t.equal((await get('c/enc', K)).status, 403, 'no longer with the old one');

  // UploadPartCopy: a plaintext range of an encrypted source becomes part 1 of an encrypted upload
  const big = randomBytes((5 << 20) + 4000);
  await put('c/big', big);
  const create = await s3Raw(ep, { method: 'POST', path: `/${bucket}/c/mp`, query: { uploads: '' }, headers: triplet(other) });
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(create.body.toString())![1]!;
  const p1 = await s3Raw(ep, { method: 'PUT', path: `/${bucket}/c/mp`, query: { partNumber: '1', uploadId }, headers: { 'x-amz-copy-source': `/${bucket}/c/big`, 'x-amz-copy-source-range': `bytes=0-${(5 << 20) - 1}`, ...src(K), ...triplet(other) } });
  t.equal(p1.status, 200, 'UploadPartCopy of an encrypted range: 200');
  const e1 = /<ETag>([^<]+)<\/ETag>/.exec(p1.body.toString())?.[1]?.replace(/&quot;/g, '"');
  const p2 = await s3Raw(ep, { method: 'PUT', path: `/${bucket}/c/mp`, query: { partNumber: '2', uploadId }, headers: triplet(other), body: big.subarray(5 << 20) });
  const done = await s3Raw(ep, { method: 'POST', path: `/${bucket}/c/mp`, query: { uploadId }, headers: triplet(other), body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${e1}</ETag></Part><Part><PartNumber>2</PartNumber><ETag>${p2.headers.etag}</ETag></Part></CompleteMultipartUpload>` });
  t.equal(done.status, 200, 'completed');
  t.ok((await get('c/mp', other)).body.equals(big), 'the upload made of a copied part and an uploaded one reads back whole');
});

t.test('listings show plaintext sizes (v1, v2, versions, url-encoded keys); aws s3 sync finds nothing to upload again', async (t) => {
  const sizeOf = async (query: Record<string, string>, key: string) => {
    const r = await s3Raw(ep, { method: 'GET', path: `/${bucket}`, query });
    const xml = r.body.toString();
    const block = [...xml.matchAll(/<(Contents|Version)>([\s\S]*?)<\/\1>/g)].map((m) => m[2]!).find((b) => b.includes(`<Key>${key}</Key>`));
    return Number(/<Size>(\d+)<\/Size>/.exec(block ?? '')?.[1] ?? -1);
  };
  for (const size of [0, 100, SEGMENT + 1, 200_000]) {
    t.equal(await sizeOf({ 'list-type': '2', prefix: 'obj-' }, `obj-${size}`), size, `ListObjectsV2: obj-${size} is ${size} bytes`);
  }
  t.equal(await sizeOf({ prefix: 'obj-' }, 'obj-200000'), 200_000, 'ListObjects (v1)');
  t.equal(await sizeOf({ versions: '', prefix: 'obj-' }, 'obj-200000'), 200_000, 'ListObjectVersions');
  t.equal(await sizeOf({ 'list-type': '2', prefix: 'mp/' }, 'mp/object'), 3 * (5 << 20) + 12345, 'a multipart object: its plaintext size');
  t.equal(await sizeOf({ 'list-type': '2', prefix: 'plain' }, 'plain'), 10, 'a plain object keeps its size');
  await put('dir with space/é.bin', Buffer.alloc(777));
  t.equal(await sizeOf({ 'list-type': '2', prefix: 'dir', 'encoding-type': 'url' }, encodeURIComponent('dir with space/é.bin')), 777, 'encoding-type=url (what aws-cli asks for)');

  const dir = mkdtempSync(join(tmpdir(), 'gwenc-sync-'));
  for (const [name, len] of [['a.bin', 10], ['b.bin', 70_000], ['c.bin', 1]] as const) writeFileSync(join(dir, name), randomBytes(len));
  const keyFile = join(dir, '..', `key-${process.pid}.bin`);
  writeFileSync(keyFile, K.raw);
  const sse = ['--sse-c', 'AES256', '--sse-c-key', `fileb://${keyFile}`];
  const env = { AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required' };
  const first = await awsCli('v1', ep, ['s3', 'sync', dir, `s3://${bucket}/sync/`, ...sse], { env });
  t.equal((first.stdout.match(/^upload:/gm) ?? []).length, 3, 'first sync uploads 3 files', { stderr: first.stderr });
  const second = await awsCli('v1', ep, ['s3', 'sync', dir, `s3://${bucket}/sync/`, '--size-only', ...sse], { env });
  t.equal(second.code, 0);
  t.equal((second.stdout.match(/^upload:/gm) ?? []).length, 0, 'a second sync (sizes compared) uploads nothing', { stdout: second.stdout });
});

t.test('POST Object (browser forms): the file stored encrypted, in one PUT or in 5 MiB parts, answered as S3 answers forms', async (t) => {
  const form = (fields: [string, string][], data: Buffer) => {
    const boundary = `----WebKitFormBoundary${randomBytes(8).toString('hex')}`;
    let head = '';
    for (const [n, v] of fields) head += `--${boundary}\r\nContent-Disposition: form-data; name="${n}"\r\n\r\n${v}\r\n`;
    head += `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`;
    // browsers send the submit button after the file, so the file's size is not known from the length
    const tail = `\r\n--${boundary}\r\nContent-Disposition: form-data; name="submit"\r\n\r\nUpload to Amazon S3\r\n--${boundary}--\r\n`;
    return { body: Buffer.concat([Buffer.from(head), data, Buffer.from(tail)]), contentType: `multipart/form-data; boundary=${boundary}` };
  };
  const fields = (key: string, extra: [string, string][] = []): [string, string][] => [
    ['key', key], ['x-amz-server-side-encryption-customer-algorithm', 'AES256'], ['x-amz-server-side-encryption-customer-key', K.b64],
    ['x-amz-server-side-encryption-customer-key-MD5', K.md5], ['x-amz-meta-album', 'summer'], ...extra,
  ];
  const send = (f: { body: Buffer; contentType: string }) => sendRaw(`${gw.url}/${bucket}`, { method: 'POST', headers: { 'content-type': f.contentType, 'content-length': String(f.body.length) }, body: f.body, caFile: gw.caFile });
  for (const [label, size, extra, status] of [['a small file, default answer', 100_000, [], 204], ['a 12 MiB file in three 5 MiB parts, 201 with XML', 12 * 1024 * 1024 + 5, [['success_action_status', '201']], 201], ['exactly 5 MiB', 5 << 20, [], 204]] as const) {
    const data = randomBytes(size);
    const key = `forms/${size}.jpg`;
    const r = await send(form(fields(key, [...extra] as [string, string][]), data));
    t.equal(r.status, status, `${label}: ${status}`);
    if (status === 201) t.match(r.body.toString(), new RegExp(`<PostResponse><Location>[^<]+</Location><Bucket>${bucket}</Bucket><Key>${key}</Key><ETag>`), 'S3\'s PostResponse');
    t.equal(r.headers['x-amz-server-side-encryption-customer-key-md5'], K.md5, `${label}: the key-MD5 echoed`);
    const g = await get(key);
    t.ok(g.status === 200 && g.body.equals(data), `${label}: GET returns the file`);
    t.equal(g.headers['content-type'], 'image/jpeg', 'the file part\'s content type');
    t.equal(g.headers['x-amz-meta-album'], 'summer', 'the form\'s metadata fields');
    const s = await stored(key);
    t.ok(typeof s.headers['x-amz-meta-ssecgw'] === 'string' && s.body.indexOf(data.subarray(0, 64)) < 0, `${label}: ciphertext in the store`);
  }
  // without SSE-C fields the form is the store's to judge (auth mode none forwards it as sent): RGW refuses an unsigned form
  const plain = await send(form([['key', 'forms/plain.txt']], Buffer.from('no key')));
  t.equal(plain.status, 403, 'a form without SSE-C fields goes to the store as sent, which answers it (403 for an unsigned form)');
  t.equal((await stored('forms/plain.txt')).status, 404, 'nothing stored by the gateway');
});

t.test('no lock-in: `ssec-gateway decrypt` reads objects from the store, or offline, without a gateway', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gwenc-decrypt-'));
  const keyFile = join(dir, 'key');
  writeFileSync(keyFile, K.b64 + '\n');
  const body = randomBytes(3 * SEGMENT + 5);
  await put('dec/one', body);
  const cli = (args: string[]) => new Promise<{ code: number | null; stdout: Buffer; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, [join(REPO, 'bin', 'ssec-gateway.js'), 'decrypt', ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: dir, AWS_ACCESS_KEY_ID: rgw.accessKey, AWS_SECRET_ACCESS_KEY: rgw.secretKey, AWS_EC2_METADATA_DISABLED: 'true' },
    });
    const out: Buffer[] = [];
    let err = '';
    p.stdout.on('data', (c: Buffer) => out.push(c));
    p.stderr.on('data', (c: Buffer) => { err += c; });
    p.on('exit', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
  });
  const online = await cli(['--key', keyFile, '--endpoint', rgw.http, `s3://${bucket}/dec/one`]);
  t.ok(online.code === 0 && online.stdout.equals(body), 'from the store (credentials from the environment)', { stderr: online.stderr });
  const mp = await cli(['--key', keyFile, '--endpoint', rgw.http, `s3://${bucket}/mp/object`]);
  t.ok(mp.code === 0 && mp.stdout.length === 3 * (5 << 20) + 12345, 'a multipart object too');
  const s = await stored('dec/one');
  writeFileSync(join(dir, 'ct'), s.body);
  writeFileSync(join(dir, 'meta'), String(s.headers['x-amz-meta-ssecgw']));
  const off = await cli(['--key', keyFile, '--in', join(dir, 'ct'), '--meta', join(dir, 'meta'), `s3://${bucket}/dec/one`]);
  t.ok(off.code === 0 && off.stdout.equals(body), 'offline, from the ciphertext and its metadata');
  const moved = await cli(['--key', keyFile, '--in', join(dir, 'ct'), '--meta', join(dir, 'meta'), `s3://${bucket}/dec/other`]);
  t.ok(moved.code === 1 && moved.stdout.length === 0, 'another name: exit 1, nothing written');
  t.match(moved.stderr, /moved from another name/);
  const cut = Buffer.from(s.body.subarray(0, s.body.length - 100));
  writeFileSync(join(dir, 'cut'), cut);
  const truncated = await cli(['--key', keyFile, '--in', join(dir, 'cut'), '--meta', join(dir, 'meta'), `s3://${bucket}/dec/one`]);
  t.equal(truncated.code, 1, 'a truncated file: exit 1');
  t.ok(body.subarray(0, truncated.stdout.length).equals(truncated.stdout), 'what was written before is authentic plaintext');
  t.notOk(truncated.stderr.includes(K.b64), 'no key in the error');
  const usage = await cli([`s3://${bucket}/dec/one`]);
  t.ok(usage.code === 2 && /--key FILE is needed/.test(usage.stderr), 'a usage error: exit 2, saying what is missing');
});

t.test('rotate: data keys re-wrapped in place (no data rewritten), or --reencrypt under new data keys', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gwenc-rot-'));
  const N = sseKey();
  const M = sseKey();
  const files = Object.fromEntries([['K', K], ['N', N], ['M', M]].map(([n, k]) => { const f = join(dir, n as string); writeFileSync(f, (k as SseKey).raw); return [n, f]; })) as Record<string, string>;
  const count = 40;
  const bodies = Array.from({ length: count }, (_, i) => randomBytes(1000 + i * 97));
  await Promise.all(bodies.map((b, i) => put(`rot/${i}`, b)));
  const before = await stored('rot/7');
  const common = ['--bucket', bucket, '--prefix', 'rot/', '--concurrency', '8', '--encryption-mode', 'gateway', '--auth-mode', 'none', '--upstream', rgw.http,
    '--upstream-access-key-id', rgw.accessKey, '--upstream-secret-access-key', rgw.secretKey, '--upstream-profile', 'rgw16', '--state-dir', join(dir, 'state'), '--fingerprint-secret', 'rot'];
  const r1 = await ssecCli(['rotate', '--old-key', `file:${files.K}`, '--new-key', `file:${files.N}`, ...common]);
  t.equal(r1.code, 0, 'rotate K → N: exit 0', { stdout: r1.stdout, stderr: r1.stderr });
  t.match(r1.stdout, new RegExp(`data keys re-wrapped in place[\\s\\S]*re-keyed ${count}, already on the new key 0, failed 0`), `${count} re-keyed`);
  const secs = Number(/MiB in ([\d.]+) s/.exec(r1.stdout)?.[1]);
  t.comment(`re-wrap: ${count} objects in ${secs} s (${(count / Math.max(secs, 0.001)).toFixed(0)} objects/s, 8 at a time, RGW on loopback)`);
  const after = await stored('rot/7');
  t.ok(after.body.equals(before.body), 'the ciphertext in the store is the same bytes: only the wrap changed');
  t.not(after.headers['x-amz-meta-ssecgw'], before.headers['x-amz-meta-ssecgw'], 'the wrapped data key changed');
  const reads = await Promise.all(bodies.map(async (b, i) => (await get(`rot/${i}`, N)).body.equals(b)));
  t.equal(reads.filter(Boolean).length, count, 'every object opens with the new key, bytes equal');
  t.equal((await get('rot/3', K)).status, 403, 'not with the old one');
  const again = await ssecCli(['rotate', '--old-key', `file:${files.K}`, '--new-key', `file:${files.N}`, ...common]);
  t.match(again.stdout, new RegExp(`re-keyed 0, already on the new key ${count}, failed 0`), 'a rerun finds everything done');
  const r2 = await ssecCli(['rotate', '--old-key', `file:${files.N}`, '--new-key', `file:${files.M}`, '--reencrypt', ...common]);
  t.equal(r2.code, 0, 'rotate N → M --reencrypt: exit 0', { stdout: r2.stdout, stderr: r2.stderr });
  const after2 = await stored('rot/7');
  t.notOk(after2.body.subarray(64).equals(before.body.subarray(64)), 're-encrypted: the ciphertext is new');
  t.ok((await get('rot/7', M)).body.equals(bodies[7]!), 'and opens with the new key');
});

t.test('a second store that refuses SSE-C outright (RGW requiring TLS, trusting no proxy): SSE-C works through the gateway', async (t) => {
  const strict = await startRgw({ requireSsl: true, trustForwarded: false });
  t.teardown(() => strict.stop());
  const b2 = bucketName('gwenc-strict');
  await createBucket(strict, b2);
  const direct = await rgwRequest(strict, { method: 'PUT', path: `/${b2}/direct`, headers: { ...triplet(K), 'x-forwarded-proto': 'https' }, body: 'x' });
  t.equal(direct.status, 400, 'the store itself refuses an SSE-C PUT');
  const gw2 = await startGateway({ upstream: strict.http, args: ['--auth-mode', 'none', '--encryption-mode', 'gateway', '--upstream-access-key-id', strict.accessKey, '--upstream-secret-access-key', strict.secretKey] });
  t.teardown(() => gw2.stop());
  const ep2 = { url: gw2.url, accessKey: 'any', secretKey: 'any', region: strict.region, caFile: gw2.caFile };
  const body = randomBytes(2 * SEGMENT + 99);
  t.equal((await s3Raw(ep2, { method: 'PUT', path: `/${b2}/obj`, headers: triplet(K), body })).status, 200, 'SSE-C PUT through the gateway: 200');
  const g = await s3Raw(ep2, { method: 'GET', path: `/${b2}/obj`, headers: triplet(K) });
  t.ok(g.status === 200 && g.body.equals(body), 'GET: the bytes');
  const r = await s3Raw(ep2, { method: 'GET', path: `/${b2}/obj`, headers: { ...triplet(K), range: `bytes=${SEGMENT - 3}-${SEGMENT + 3}` } });
  t.ok(r.status === 206 && r.body.equals(body.subarray(SEGMENT - 3, SEGMENT + 4)), 'a range across a segment boundary');
  t.equal(code(await s3Raw(ep2, { method: 'GET', path: `/${b2}/obj`, headers: triplet(other) })), '403 AccessDenied', 'a wrong key: 403');
  const create = await s3Raw(ep2, { method: 'POST', path: `/${b2}/mp`, query: { uploads: '' }, headers: triplet(K) });
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(create.body.toString())![1]!;
  const part = randomBytes(5 << 20);
  const p1 = await s3Raw(ep2, { method: 'PUT', path: `/${b2}/mp`, query: { partNumber: '1', uploadId }, headers: triplet(K), body: part });
  const p2 = await s3Raw(ep2, { method: 'PUT', path: `/${b2}/mp`, query: { partNumber: '2', uploadId }, headers: triplet(K), body: body });
  const done = await s3Raw(ep2, { method: 'POST', path: `/${b2}/mp`, query: { uploadId }, headers: triplet(K), body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${p1.headers.etag}</ETag></Part><Part><PartNumber>2</PartNumber><ETag>${p2.headers.etag}</ETag></Part></CompleteMultipartUpload>` });
  t.equal(done.status, 200, 'a multipart upload completes');
  t.ok((await s3Raw(ep2, { method: 'GET', path: `/${b2}/mp`, headers: triplet(K) })).body.equals(Buffer.concat([part, body])), 'and reads back whole');
});

t.test('real clients: aws-cli (multipart upload, ranged parallel download) and boto3', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gwenc-'));
  const keyFile = join(dir, 'key.bin');
  writeFileSync(keyFile, K.raw);
  const src = join(dir, 'big.bin');
  const data = randomBytes(20 * 1024 * 1024 + 333);
  writeFileSync(src, data);
  const env = { AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required' };
  const up = await awsCli('v1', ep, ['s3', 'cp', src, `s3://${bucket}/cli/big.bin`, '--sse-c', 'AES256', '--sse-c-key', `fileb://${keyFile}`], { env });
  t.equal(up.code, 0, 'aws s3 cp up (8 MiB parts)', { stderr: up.stderr });
  const back = join(dir, 'back.bin');
  const down = await awsCli('v1', ep, ['s3', 'cp', `s3://${bucket}/cli/big.bin`, back, '--sse-c', 'AES256', '--sse-c-key', `fileb://${keyFile}`], { env });
  t.equal(down.code, 0, 'aws s3 cp down (ranged GETs in parallel)', { stderr: down.stderr });
  t.ok(readFileSync(back).equals(data), 'the same 20 MiB');
  const ls = await awsCli('v1', ep, ['s3api', 'head-object', '--bucket', bucket, '--key', 'cli/big.bin', '--sse-customer-algorithm', 'AES256', '--sse-customer-key', `fileb://${keyFile}`], { env });
  t.equal(JSON.parse(ls.stdout).ContentLength, data.length, 'head-object: the plaintext size');
  const attrs = await boto3(ep, `
    # botocore computes no key MD5 for get_object_attributes: given here (see the README)
    r = s3.get_object_attributes(Bucket=sys.argv[2], Key='cli/big.bin', ObjectAttributes=['ObjectSize', 'ObjectParts', 'ETag'], SSECustomerAlgorithm='AES256', SSECustomerKey=sys.argv[1], SSECustomerKeyMD5=sys.argv[3])
    print(json.dumps({'size': r['ObjectSize'], 'parts': r['ObjectParts']['TotalPartsCount'] if 'TotalPartsCount' in r['ObjectParts'] else r['ObjectParts'].get('PartsCount')}))
  `, { args: [K.b64, bucket, K.md5] });
  t.same(JSON.parse(attrs.stdout || '{}'), { size: data.length, parts: 3 }, 'boto3 get_object_attributes: the plaintext size, 3 parts', { stderr: attrs.stderr });
  const b = await boto3(ep, `
    key = base64.b64decode(sys.argv[1])
    s3.put_object(Bucket=sys.argv[2], Key='boto/x', Body=b'hello boto', SSECustomerAlgorithm='AES256', SSECustomerKey=key)
    r = s3.get_object(Bucket=sys.argv[2], Key='boto/x', SSECustomerAlgorithm='AES256', SSECustomerKey=key, Range='bytes=6-9')
    print(json.dumps({'body': r['Body'].read().decode(), 'md5': r['SSECustomerKeyMD5'], 'range': r['ContentRange']}))
  `, { args: [K.b64, bucket] });
  t.same(JSON.parse(b.stdout || '{}'), { body: 'boto', md5: K.md5, range: 'bytes 6-9/10' }, 'boto3: put, ranged get, key-MD5', { stderr: b.stderr });
});
