/**
 * POST Object (browser form uploads, issue 9 defect 6) against the real RGW 16: forms built as a
 * browser builds them (Content-Type multipart/form-data; boundary=----WebKitFormBoundary…, the
 * fields, then the file part, then the submit button the browser sends after it).
 *  - sigv4: an SSE-C object round-trips (POST → GET through the gateway with the key, sha256 equal;
 *    GET straight on RGW without the key fails: encrypted at rest); `${filename}` in the key; every
 *    kind of POST policy violation, an expired policy, a wrong signature, an unknown access key and a
 *    bad SSE-C field triplet get S3's exact errors and leave nothing on RGW; allow scopes apply to
 *    the form's key; a 20 MiB file streams with a bounded gateway RSS; a chunked form stays chunked.
 *  - plaintext listener: a form with SSE-C fields is refused and its key reported exposed (the key
 *    is then refused over HTTPS too); a form without them is forwarded.
 *  - passthrough: a form signed with RGW's own credential goes through byte for byte; its SSE-C
 *    fields are still validated first. none: the form goes as is and RGW judges it.
 */
import t, { type Test } from 'tap';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { sseKey, type SseKey } from '../helpers/clients.js';
import { startGateway } from '../helpers/gateway.js';
import { assertNoKeyMaterial } from '../helpers/keys.js';
import { bucketName, createBucket, sharedRgw, type RgwInfo } from '../helpers/rgw.js';
import {
  credsOf, newClient, onRgw, parseError, rawRequest, sendSigned, sha256, ssecHeaders, startSigv4Gateway,
  type RawResponse, type Sigv4Client,
} from '../helpers/sigv4-gateway.js';

const rgw = await sharedRgw();
const bucket = bucketName('post');
const other = bucketName('post-other');
const client = newClient('browser');
const scoped = newClient('scoped', { allow: [{ bucket, prefix: 'team/' }] });
const [gw] = await Promise.all([
  startSigv4Gateway(rgw, { doc: { clients: [client, scoped] }, args: ['--http-port', '0'] }),
  createBucket(rgw, bucket),
  createBucket(rgw, other),
]);
t.teardown(async () => {
  await gw.stop();
  await rm(gw.dir, { recursive: true, force: true });
});

// ---- a browser's form ------------------------------------------------------------------------------

type Field = [name: string, value: string];
interface FileSpec { filename?: string; contentType?: string; data: Buffer }

/** The bytes a browser sends for a form: WebKit boundary, fields, file, then the submit button after it. */
function browserForm(fields: Field[], file: FileSpec): { head: Buffer; tail: Buffer; contentType: string } {
  const boundary = `----WebKitFormBoundary${randomBytes(12).toString('base64').replace(/[^A-Za-z0-9]/g, 'x').slice(0, 16)}`;
  let head = '';
  for (const [name, value] of fields) head += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  head += `--${boundary}\r\nContent-Disposition: form-data; name="file"${file.filename === undefined ? '' : `; filename="${file.filename}"`}\r\nContent-Type: ${file.contentType ?? 'application/octet-stream'}\r\n\r\n`;
  const tail = `\r\n--${boundary}\r\nContent-Disposition: form-data; name="submit"\r\n\r\nUpload to Amazon S3\r\n--${boundary}--\r\n`;
  return { head: Buffer.from(head, 'utf8'), tail: Buffer.from(tail, 'utf8'), contentType: `multipart/form-data; boundary=${boundary}` };
}

function signingKey(secret: string, date: string, region = 'us-east-1'): Buffer {
  const h = (k: Buffer | string, d: string) => createHmac('sha256', k).update(d).digest();
  return h(h(h(h(`AWS4${secret}`, date), region), 's3'), 'aws4_request');
}

interface PolicyOpts { expiration?: Date; now?: Date; tamper?: boolean }

/** The SigV4 fields of a POST policy with `conditions` (plus the x-amz-* ones), signed as botocore/the JS SDK do. */
function signedFields(creds: { accessKey: string; secretKey: string }, conditions: unknown[], o: PolicyOpts = {}): Field[] {
  const now = o.now ?? new Date();
  const amzDate = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  const credential = `${creds.accessKey}/${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request`;
  const expiration = (o.expiration ?? new Date(now.getTime() + 3600_000)).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const policy = Buffer.from(JSON.stringify({
    expiration,
    conditions: [...conditions, { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' }, { 'x-amz-credential': credential }, { 'x-amz-date': amzDate }],
  })).toString('base64');
  let signature = createHmac('sha256', signingKey(creds.secretKey, amzDate.slice(0, 8))).update(policy).digest('hex');
  if (o.tamper) signature = signature.replace(/^./, (c) => (c === '0' ? '1' : '0'));
  return [['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'], ['X-Amz-Credential', credential], ['X-Amz-Date', amzDate], ['Policy', policy], ['X-Amz-Signature', signature]];
}

const tripletFields = (k: SseKey): Field[] => [
  ['x-amz-server-side-encryption-customer-algorithm', 'AES256'],
  ['x-amz-server-side-encryption-customer-key', k.b64],
  ['x-amz-server-side-encryption-customer-key-MD5', k.md5],
];
const tripletConditions = [
  ['starts-with', '$x-amz-server-side-encryption-customer-algorithm', ''],
  ['starts-with', '$x-amz-server-side-encryption-customer-key', ''],
  ['starts-with', '$x-amz-server-side-encryption-customer-key-MD5', ''],
];

async function post(base: string, path: string, fields: Field[], file: FileSpec, o: { chunked?: boolean; ca?: Buffer | null } = {}): Promise<RawResponse> {
  const f = browserForm(fields, file);
  const body = [f.head, file.data, f.tail];
  const length = f.head.length + file.data.length + f.tail.length;
  return rawRequest(base, o.ca === null ? undefined : o.ca ?? gw.ca, {
    method: 'POST', path,
    headers: { 'content-type': f.contentType, ...(o.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(length) }), origin: 'https://portal.example' },
    body,
  });
}

function expectError(t: Test, res: RawResponse, status: number, code: string, message: string, label: string): void {
  const e = parseError(res.text);
  t.same({ status: res.status, code: e.code, message: e.message }, { status, code, message }, `${label}: ${status} ${code}`);
}

async function absentOnRgw(t: Test, b: string, key: string, label: string): Promise<void> {
  const head = await onRgw(rgw, 'HEAD', b, key);
  t.equal(head.status, 404, `${label}: no object ${key} on RGW`);
}

const data = (n: number) => randomBytes(n);

// ---- sigv4: round trip -------------------------------------------------------------------------

t.test('sigv4: browser form with SSE-C fields → 201, GET through the gateway with the key, encrypted on RGW', async (t) => {
  const K = sseKey();
  const body = data(100_000 + 3);
  const fields: Field[] = [
    ['key', 'uploads/${filename}'],
    ['Content-Type', 'image/jpeg'],
    ['x-amz-meta-uuid', '14365123651274'],
    ['success_action_status', '201'],
    ...tripletFields(K),
  ];
  const conditions = [{ bucket }, ['starts-with', '$key', 'uploads/'], ['starts-with', '$Content-Type', 'image/'], { 'x-amz-meta-uuid': '14365123651274' },
    { success_action_status: '201' }, ...tripletConditions, ['content-length-range', 1, 1_000_000]];
  const res = await post(gw.url, `/${bucket}`, [...fields, ...signedFields(credsOf(client), conditions)], { filename: 'C:\\Users\\eve\\photo.jpg', contentType: 'image/jpeg', data: body });
  t.equal(res.status, 201, `201 Created: ${res.text}`);
  t.match(res.text, /<PostResponse>[\s\S]*<Key>uploads\/photo\.jpg<\/Key>/, 'PostResponse names the key with ${filename} expanded (path stripped)');
  t.equal(res.headers['x-amz-server-side-encryption-customer-algorithm'], 'AES256', 'SSE-C algorithm echoed');
  t.equal(res.headers['x-amz-server-side-encryption-customer-key-md5'], K.md5, 'key-MD5 echoed');

  const get = await sendSigned(gw.url, gw.ca, credsOf(client), { method: 'GET', path: `/${bucket}/uploads/photo.jpg`, headers: ssecHeaders(K) });
  t.equal(get.status, 200, 'GET with the key through the gateway');
  t.equal(sha256(get.body), sha256(body), 'same bytes (sha256)');
  t.equal(get.headers['content-type'], 'image/jpeg', 'Content-Type field applied');
  t.equal(get.headers['x-amz-meta-uuid'], '14365123651274', 'metadata field applied');
  const raw = await onRgw(rgw, 'GET', bucket, 'uploads/photo.jpg');
  t.not(raw.status, 200, `GET straight on RGW without the key fails (${raw.status}): encrypted at rest`);
  const withKey = await onRgw(rgw, 'GET', bucket, 'uploads/photo.jpg', K);
  t.equal(sha256(withKey.body), sha256(body), 'RGW decrypts it with the key');
  assertNoKeyMaterial(t, gw.output(), [K.raw], 'gateway output');
});

t.test('sigv4: default answer is 204 with the SSE-C headers; a chunked form stays chunked (RGW 16: 411)', async (t) => {
  const K = sseKey();
  const body = data(5000);
  const conditions = [{ bucket }, { key: 'plain/204.bin' }, ...tripletConditions];
  const fields: Field[] = [['key', 'plain/204.bin'], ...tripletFields(K), ...signedFields(credsOf(client), conditions)];
  const res = await post(gw.url, `/${bucket}`, fields, { filename: '204.bin', data: body });
  t.equal(res.status, 204, `204 No Content: ${res.text}`);
  t.equal(res.headers['x-amz-server-side-encryption-customer-key-md5'], K.md5, 'key-MD5 echoed');
  const got = await onRgw(rgw, 'GET', bucket, 'plain/204.bin', K);
  t.equal(sha256(got.body), sha256(body), 'stored, SSE-C with the key');
  // without Content-Length the gateway cannot know the re-signed form's length without buffering it: it
  // sends it chunked, and RGW 16 refuses chunked POST forms (browsers always send Content-Length)
  const chunked = await post(gw.url, `/${bucket}`, [['key', 'plain/chunked.bin'], ...tripletFields(K), ...signedFields(credsOf(client), [{ bucket }, { key: 'plain/chunked.bin' }, ...tripletConditions])],
    { filename: 'c.bin', data: body }, { chunked: true });
  expectError(t, chunked, 411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.', 'chunked form: RGW 16\'s answer relayed');
  await absentOnRgw(t, bucket, 'plain/chunked.bin', 'chunked');
});

t.test('sigv4: each kind of POST policy violation gets S3\'s error, and nothing is stored', async (t) => {
  const K = sseKey();
  const base = (key: string): Field[] => [['key', key], ['Content-Type', 'text/plain'], ...tripletFields(K)];
  const baseConditions = (key: string) => [{ bucket }, { key }, ['starts-with', '$Content-Type', 'text/'], ...tripletConditions];
  const cases: { name: string; key: string; fields?: (key: string) => Field[]; conditions?: (key: string) => unknown[]; size?: number; path?: string; expect: [number, string, string] }[] = [
    { name: 'exact-match condition {"k":"v"}', key: 'v/exact.txt', conditions: (k) => [...baseConditions(k), { 'x-amz-meta-team': 'alpha' }], fields: (k) => [...base(k), ['x-amz-meta-team', 'beta']],
      expect: [403, 'AccessDenied', 'Invalid according to Policy: Policy Condition failed: ["eq", "$x-amz-meta-team", "alpha"]'] },
    { name: '["eq", …] condition', key: 'v/eq.txt', conditions: (k) => [...baseConditions(k), ['eq', '$success_action_status', '201']], fields: (k) => [...base(k), ['success_action_status', '200']],
      expect: [403, 'AccessDenied', 'Invalid according to Policy: Policy Condition failed: ["eq", "$success_action_status", "201"]'] },
    { name: 'starts-with on the key', key: 'v/outside.txt', conditions: () => [{ bucket }, ['starts-with', '$key', 'allowed/'], ['starts-with', '$Content-Type', 'text/'], ...tripletConditions],
      expect: [403, 'AccessDenied', 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "allowed/"]'] },
    { name: '${filename} expanded before matching', key: 'v/${filename}', conditions: () => [{ bucket }, ['starts-with', '$key', 'v/ok-'], ['starts-with', '$Content-Type', 'text/'], ...tripletConditions],
      expect: [403, 'AccessDenied', 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "v/ok-"]'] },
    { name: 'bucket condition of another bucket', key: 'v/bucket.txt', conditions: (k) => [{ bucket: other }, { key: k }, ['starts-with', '$Content-Type', 'text/'], ...tripletConditions],
      expect: [403, 'AccessDenied', `Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "${other}"]`] },
    { name: 'content-length-range: too large', key: 'v/large.bin', size: 2049, conditions: (k) => [...baseConditions(k), ['content-length-range', 10, 2048]],
      expect: [400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size'] },
    { name: 'content-length-range: too small', key: 'v/small.bin', size: 9, conditions: (k) => [...baseConditions(k), ['content-length-range', 10, 2048]],
      expect: [400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size'] },
    { name: 'a field no condition covers', key: 'v/extra.txt', fields: (k) => [...base(k), ['x-amz-meta-extra', '1']],
      expect: [403, 'AccessDenied', 'Invalid according to Policy: Extra input fields: x-amz-meta-extra'] },
    { name: 'a condition on an absent field', key: 'v/absent.txt', conditions: (k) => [...baseConditions(k), ['starts-with', '$x-amz-meta-owner', '']],
      expect: [403, 'AccessDenied', 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$x-amz-meta-owner", ""]'] },
  ];
  for (const c of cases) {
    const fields = [...(c.fields ?? base)(c.key), ...signedFields(credsOf(client), (c.conditions ?? baseConditions)(c.key))];
    const res = await post(gw.url, `/${bucket}`, fields, { filename: 'file.txt', contentType: 'text/plain', data: data(c.size ?? 100) });
    expectError(t, res, ...c.expect, c.name);
    await absentOnRgw(t, bucket, c.key.replace('${filename}', 'file.txt'), c.name);
  }
  // the boundary cases of the range hold (inclusive bounds)
  for (const size of [10, 2048]) {
    const key = `v/range-${size}.bin`;
    const res = await post(gw.url, `/${bucket}`, [...base(key), ...signedFields(credsOf(client), [...baseConditions(key), ['content-length-range', 10, 2048]])], { filename: 'f', data: data(size) });
    t.equal(res.status, 204, `content-length-range: ${size} bytes is inside [10, 2048]`);
  }
});

t.test('sigv4: expired policy, wrong signature, unknown access key, missing field, ignored x-ignore-* field', async (t) => {
  const K = sseKey();
  const key = 'auth/obj.txt';
  const fields: Field[] = [['key', key], ...tripletFields(K)];
  const conditions = [{ bucket }, { key }, ...tripletConditions];
  const file = { filename: 'obj.txt', data: data(64) };
  const now = new Date();
  expectError(t, await post(gw.url, `/${bucket}`, [...fields, ...signedFields(credsOf(client), conditions, { now: new Date(now.getTime() - 7200_000), expiration: new Date(now.getTime() - 60_000) })], file),
    403, 'AccessDenied', 'Invalid according to Policy: Policy expired.', 'expired policy');
  const wrong = await post(gw.url, `/${bucket}`, [...fields, ...signedFields(credsOf(client), conditions, { tamper: true })], file);
  expectError(t, wrong, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', 'wrong signature');
  t.match(wrong.text, /<StringToSign>eyJ/, 'StringToSign is the policy as sent');
  expectError(t, await post(gw.url, `/${bucket}`, [...fields, ...signedFields({ accessKey: 'AKIANOTACLIENT000000', secretKey: 'x' }, conditions)], file),
    403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', 'unknown access key');
  const noSig = signedFields(credsOf(client), conditions).filter(([n]) => n !== 'X-Amz-Signature');
  expectError(t, await post(gw.url, `/${bucket}`, [...fields, ...noSig], file),
    400, 'InvalidArgument', "Bucket POST must contain a field named 'X-Amz-Signature'.  If it is specified, please check the order of the fields.", 'missing X-Amz-Signature');
  expectError(t, await post(gw.url, `/${bucket}`, [...tripletFields(K)], file),
    403, 'AccessDenied', 'Access Denied: this gateway requires requests signed with AWS Signature Version 4.', 'anonymous form (no policy)');
  await absentOnRgw(t, bucket, key, 'refused forms');
  const ok = await post(gw.url, `/${bucket}`, [...fields, ['x-ignore-tracking', 'abc'], ...signedFields(credsOf(client), conditions)], file);
  t.equal(ok.status, 204, `x-ignore-* needs no condition: ${ok.text}`);
});

t.test('sigv4: bad SSE-C field triplets get the same errors as the headers (names case-insensitive)', async (t) => {
  const K = sseKey();
  const B = sseKey();
  const cases: [string, Field[], [number, string, string]][] = [
    ['key-MD5 of another key', [['X-Amz-Server-Side-Encryption-Customer-Algorithm', 'AES256'], ['X-Amz-Server-Side-Encryption-Customer-Key', K.b64], ['X-Amz-Server-Side-Encryption-Customer-Key-MD5', B.md5]],
      [400, 'InvalidArgument', 'The calculated MD5 hash of the key did not match the hash that was provided.']],
    ['algorithm AES128', [['x-amz-server-side-encryption-customer-algorithm', 'AES128'], ['x-amz-server-side-encryption-customer-key', K.b64], ['x-amz-server-side-encryption-customer-key-md5', K.md5]],
      [400, 'InvalidEncryptionAlgorithmError', 'The Encryption request you specified is not valid. Supported value: AES256.']],
    ['key without algorithm', [['x-amz-server-side-encryption-customer-key', K.b64], ['x-amz-server-side-encryption-customer-key-md5', K.md5]],
      [400, 'InvalidArgument', 'Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.']],
    ['a 31-byte key', [['x-amz-server-side-encryption-customer-algorithm', 'AES256'], ['x-amz-server-side-encryption-customer-key', K.raw.subarray(0, 31).toString('base64')], ['x-amz-server-side-encryption-customer-key-md5', createHash('md5').update(K.raw.subarray(0, 31)).digest('base64')]],
      [400, 'InvalidArgument', 'The secret key was invalid for the specified algorithm.']],
  ];
  for (const [name, triplet, exp] of cases) {
    const key = `bad/${name.replace(/\W+/g, '-')}.txt`;
    const conditions = [{ bucket }, { key }, ...triplet.map(([n]) => ['starts-with', `$${n}`, ''])];
    const res = await post(gw.url, `/${bucket}`, [['key', key], ...triplet, ...signedFields(credsOf(client), conditions)], { filename: 'x', data: data(10) });
    expectError(t, res, ...exp, name);
    await absentOnRgw(t, bucket, key, name);
  }
  assertNoKeyMaterial(t, gw.output(), [K.raw, B.raw], 'gateway output');
});

t.test('sigv4: the client\'s allow scopes apply to the form\'s key', async (t) => {
  const ok = await post(gw.url, `/${bucket}`, [['key', 'team/${filename}'], ...signedFields(credsOf(scoped), [{ bucket }, ['starts-with', '$key', '']])], { filename: 'in.txt', data: data(10) });
  t.equal(ok.status, 204, 'key under team/: stored');
  const res = await post(gw.url, `/${bucket}`, [['key', 'other/${filename}'], ...signedFields(credsOf(scoped), [{ bucket }, ['starts-with', '$key', '']])], { filename: 'out.txt', data: data(10) });
  expectError(t, res, 403, 'AccessDenied', 'Access Denied', 'key outside the scope');
  await absentOnRgw(t, bucket, 'other/out.txt', 'outside the scope');
});

t.test('sigv4: fields before the file beyond 20 KB → MaxPostPreDataLengthExceeded', async (t) => {
  const res = await post(gw.url, `/${bucket}`, [['key', 'big-fields.txt'], ['x-amz-meta-pad', 'x'.repeat(21 * 1024)], ...signedFields(credsOf(client), [{ bucket }])], { filename: 'f', data: data(10) });
  expectError(t, res, 400, 'MaxPostPreDataLengthExceeded', 'Your POST request fields preceeding the upload file was too large.', 'over 20 KB');
  t.match(res.text, /<MaxPostPreDataLengthBytes>20480<\/MaxPostPreDataLengthBytes>/, 'the limit is named');
});

t.test('sigv4: a 20 MiB file streams through (gateway memory stays small)', async (t) => {
  const K = sseKey();
  const body = data(20 * 1024 * 1024);
  // the yardstick: the same bytes as a streamed PutObject (TLS and socket buffers, garbage not yet collected)
  const put = await sendSigned(gw.url, gw.ca, credsOf(client), { method: 'PUT', path: `/${bucket}/big/put.bin`, headers: ssecHeaders(K), body, timeoutMs: 120_000 });
  t.equal(put.status, 200, 'PUT 20 MiB');
  const afterPut = gw.memory();
  const key = 'big/${filename}';
  const res = await post(gw.url, `/${bucket}`, [['key', key], ...tripletFields(K), ...signedFields(credsOf(client), [{ bucket }, ['starts-with', '$key', 'big/'], ...tripletConditions, ['content-length-range', 0, 64 * 1024 * 1024]])],
    { filename: 'data.bin', data: body });
  t.equal(res.status, 204, `20 MiB POST: ${res.text}`);
  const after = gw.memory();
  t.comment(`gateway RSS peak after PUT ${(afterPut.peak / 2 ** 20).toFixed(0)} MiB, after POST ${(after.peak / 2 ** 20).toFixed(0)} MiB`);
  // holding the file would add its 20 MiB on top of the streaming baseline; GC timing alone moves the peak by ~10-17 MiB
  t.ok(after.peak - afterPut.peak < 20 * 2 ** 20, 'the POST raised the peak RSS by less than the file\'s size over a PUT of the same 20 MiB (the file is not buffered)');
  const get = await sendSigned(gw.url, gw.ca, credsOf(client), { method: 'GET', path: `/${bucket}/big/data.bin`, headers: ssecHeaders(K), timeoutMs: 120_000 });
  t.equal(sha256(get.body), sha256(body), 'round trip: same sha256');
});

// ---- plaintext listener ------------------------------------------------------------------------

t.test('plaintext listener: a form with SSE-C fields is refused and its key reported exposed; a form without them is forwarded', async (t) => {
  const K = sseKey();
  const key = 'plaintext/secret.txt';
  const res = await post(gw.httpUrl!, `/${bucket}`, [['key', key], ...tripletFields(K), ...signedFields(credsOf(client), [{ bucket }, { key }, ...tripletConditions])], { filename: 's', data: data(100) }, { ca: null });
  expectError(t, res, 400, 'InvalidRequest', 'Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.', 'SSE-C form on http');
  await absentOnRgw(t, bucket, key, 'plaintext');
  // the exposed key is refused everywhere afterwards
  let put: RawResponse | undefined;
  for (let i = 0; i < 20; i++) {
    put = await sendSigned(gw.url, gw.ca, credsOf(client), { method: 'PUT', path: `/${bucket}/plaintext/after.txt`, headers: ssecHeaders(K), body: 'x' });
    if (put.status === 403) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(put?.status, 403, 'a PUT over HTTPS with the exposed key is refused');
  t.match(parseError(put!.text).message ?? '', /was exposed over plaintext HTTP/, 'because it was exposed');
  t.ok(gw.logs().some((l) => l.event === 'key_exposed' && l.header === 'x-amz-server-side-encryption-customer-key' && l.listener === 'http'), 'key_exposed logged');
  assertNoKeyMaterial(t, gw.output(), [K.raw], 'gateway output');

  const plain = await post(gw.httpUrl!, `/${bucket}`, [['key', 'plaintext/open.txt'], ...signedFields(credsOf(client), [{ bucket }, { key: 'plaintext/open.txt' }])], { filename: 'o', data: Buffer.from('public data') }, { ca: null });
  t.equal(plain.status, 204, `form without SSE-C on http (plaintext.mode forward): ${plain.text}`);
  const stored = await onRgw(rgw, 'GET', bucket, 'plaintext/open.txt');
  t.equal(stored.body.toString(), 'public data', 'stored');
});

// ---- passthrough and none ----------------------------------------------------------------------

function rgwCreds(r: RgwInfo) { return { accessKey: r.accessKey, secretKey: r.secretKey }; }

t.test('passthrough: a form signed with RGW\'s credential goes through as sent; its SSE-C fields are validated first', async (t) => {
  const pgw = await startGateway({ upstream: rgw.http });
  t.teardown(() => pgw.stop());
  const ca = (await import('node:fs')).readFileSync(pgw.caFile);
  const K = sseKey();
  const body = data(30_000);
  const key = 'pass/${filename}';
  const conditions = [{ bucket }, ['starts-with', '$key', 'pass/'], ...tripletConditions];
  const res = await post(pgw.url, `/${bucket}`, [['key', key], ...tripletFields(K), ...signedFields(rgwCreds(rgw), conditions)], { filename: 'p.bin', data: body }, { ca });
  t.equal(res.status, 204, `RGW accepted the form: ${res.text}`);
  const got = await onRgw(rgw, 'GET', bucket, 'pass/p.bin', K);
  t.equal(sha256(got.body), sha256(body), 'stored SSE-C with the key');
  t.not((await onRgw(rgw, 'GET', bucket, 'pass/p.bin')).status, 200, 'not readable without the key');
  const B = sseKey();
  const bad = await post(pgw.url, `/${bucket}`, [['key', 'pass/bad.bin'], ['x-amz-server-side-encryption-customer-algorithm', 'AES256'], ['x-amz-server-side-encryption-customer-key', K.b64], ['x-amz-server-side-encryption-customer-key-md5', B.md5], ...signedFields(rgwCreds(rgw), conditions)], { filename: 'x', data: data(10) }, { ca });
  expectError(t, bad, 400, 'InvalidArgument', 'The calculated MD5 hash of the key did not match the hash that was provided.', 'bad triplet refused by the gateway');
  await absentOnRgw(t, bucket, 'pass/bad.bin', 'bad triplet');
  const wrongSig = await post(pgw.url, `/${bucket}`, [['key', 'pass/sig.bin'], ...signedFields(rgwCreds(rgw), [{ bucket }, { key: 'pass/sig.bin' }], { tamper: true })], { filename: 'x', data: data(10) }, { ca });
  t.equal(wrongSig.status, 403, `a wrong signature is RGW's to refuse (${parseError(wrongSig.text).code})`);
});

t.test('none: the form goes upstream unchanged and RGW judges it', async (t) => {
  const ngw = await startGateway({ upstream: rgw.http, args: ['--auth-mode', 'none', '--upstream-access-key-id', rgw.accessKey, '--upstream-secret-access-key', 'env:SSEC_TEST_UPSTREAM_SECRET'], env: { SSEC_TEST_UPSTREAM_SECRET: rgw.secretKey } });
  t.teardown(() => ngw.stop());
  const ca = (await import('node:fs')).readFileSync(ngw.caFile);
  const K = sseKey();
  const res = await post(ngw.url, `/${bucket}`, [['key', 'none/a.bin'], ...tripletFields(K), ...signedFields(rgwCreds(rgw), [{ bucket }, { key: 'none/a.bin' }, ...tripletConditions])], { filename: 'a', data: Buffer.from('sidecar') }, { ca });
  t.equal(res.status, 204, `RGW accepted the form signed with its credential: ${res.text}`);
  t.equal((await onRgw(rgw, 'GET', bucket, 'none/a.bin', K)).body.toString(), 'sidecar', 'stored SSE-C');
  const unsigned = await post(ngw.url, `/${bucket}`, [['key', 'none/b.bin']], { filename: 'b', data: Buffer.from('x') }, { ca });
  t.equal(unsigned.status, 403, `an anonymous form on a private bucket is refused by RGW (${parseError(unsigned.text).code})`);
});
