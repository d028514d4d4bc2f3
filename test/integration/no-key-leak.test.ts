// No SSE-C key material leaves the gateway through its logs (at debug level) or its metrics, whatever the
// request: valid aws-cli traffic (PUT, GET, HEAD, multipart, copy with copy-source keys), every invalid
// triplet variant, a wrong key, SSE-C on the plaintext listener (keys reported exposed), presigned URLs
// with the SSE-C headers signed or hoisted into the query string. Each key is searched for in raw, base64,
// hex and base64url form. The log must also show the events themselves, so the test cannot pass on an
// empty or silent log.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { awsCli, jsS3Client, randomSecret, sseKey, type Endpoint, type RunResult, type SseKey } from '../helpers/clients.js';
import { startGateway } from '../helpers/gateway.js';
import { assertNoKeyMaterial } from '../helpers/keys.js';
import { bucketName, createBucket, rgwRequest, sharedRgw } from '../helpers/rgw.js';
import { s3Raw, sendRaw, type RawResponse } from '../helpers/s3-raw.js';

const rgw = await sharedRgw();
const gw = await startGateway({ upstream: rgw.http, plaintext: true, args: ['--log-level', 'debug'] });
const ep: Endpoint = { url: gw.url, accessKey: rgw.accessKey, secretKey: rgw.secretKey, region: rgw.region, caFile: gw.caFile };
const plainEp: Endpoint = { ...ep, url: gw.httpUrl!, caFile: undefined };
const WHEN_REQUIRED = { AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required' };
const bucket = bucketName('no-key-leak');
await createBucket(rgw, bucket);
const work = await mkdtemp(path.join(os.tmpdir(), 'no-key-leak-'));

t.teardown(async () => {
  await gw.stop();
  const list = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}`, query: { 'list-type': '2' } }).catch(() => undefined);
  for (const m of (list?.body.toString('utf8') ?? '').matchAll(/<Key>([^<]*)<\/Key>/g)) {
    await rgwRequest(rgw, { method: 'DELETE', path: `/${bucket}/${m[1]!}` }).catch(() => undefined);
  }
  await rgwRequest(rgw, { method: 'DELETE', path: `/${bucket}` }).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
});

// ---- keys: every one of them is searched for at the end -----------------------------------------------------
const allKeys: Buffer[] = [];
const track = (k: SseKey) => (allKeys.push(k.raw), k);
const mkKey = (raw: Buffer): SseKey => track({ raw, b64: raw.toString('base64'), md5: createHash('md5').update(raw).digest('base64') });
const cliSecret = randomSecret(); // the user guide's $secret (printable): its raw form is a plain string
const kCli = track(sseKey(cliSecret));
const kCliB64 = track(sseKey());
const copySecret = randomSecret();
const kCopyDest = track(sseKey(copySecret));
const wrongSecret = randomSecret();
track(sseKey(wrongSecret));
const kRaw = track(sseKey());
const kPlain = track(sseKey());
const kPlainCopy = track(sseKey());
const kPresign = track(sseKey());
const kHoist = track(sseKey());
const kHoistPlain = track(sseKey());
const kShort = mkKey(randomBytes(16));
const kLong = mkKey(randomBytes(33));
const notBase64Secret = randomSecret(); // sent verbatim as the key header (a common mistake)
allKeys.push(Buffer.from(notBase64Secret));
const kOther = track(sseKey());

const ALG = 'x-amz-server-side-encryption-customer-algorithm';
const KEY = 'x-amz-server-side-encryption-customer-key';
const MD5 = 'x-amz-server-side-encryption-customer-key-md5';
const C_ALG = 'x-amz-copy-source-server-side-encryption-customer-algorithm';
const C_KEY = 'x-amz-copy-source-server-side-encryption-customer-key';
const C_MD5 = 'x-amz-copy-source-server-side-encryption-customer-key-md5';
const triplet = (k: SseKey) => ({ [ALG]: 'AES256', [KEY]: k.b64, [MD5]: k.md5 });
const copyTriplet = (k: SseKey) => ({ [C_ALG]: 'AES256', [C_KEY]: k.b64, [C_MD5]: k.md5 });

const responses: { what: string; res: RawResponse }[] = [];
async function raw(what: string, target: Endpoint, req: Parameters<typeof s3Raw>[1]): Promise<RawResponse> {
  const res = await s3Raw(target, req);
  responses.push({ what, res });
  return res;
}
const code = (r: RawResponse) => /<Code>([^<]*)<\/Code>/.exec(r.body.toString('utf8'))?.[1];

function cli(args: string[]): Promise<RunResult> {
  return awsCli('v1', ep, args, { env: WHEN_REQUIRED, cwd: work });
}
const small = randomBytes(10_000);
await writeFile(path.join(work, 'small.bin'), small);
await writeFile(path.join(work, 'multi.bin'), randomBytes(9 * 1024 * 1024 + 1)); // 2 parts at aws-cli's 8 MiB

t.test('valid SSE-C traffic with aws-cli: put, get, head, multipart, copy with copy-source key, wrong key', async (tt) => {
  const put = await cli(['s3api', 'put-object', '--bucket', bucket, '--key', 'cli/b64', '--body', 'small.bin',
    '--sse-customer-algorithm', 'AES256', '--sse-customer-key', kCliB64.b64, '--sse-customer-key-md5', kCliB64.md5]);
  tt.equal(put.code, 0, 's3api put-object $key $keymd5', { stderr: put.stderr });
  const cp = await cli(['s3', 'cp', 'small.bin', `s3://${bucket}/cli/raw`, '--sse-c', 'AES256', '--sse-c-key', cliSecret]);
  tt.equal(cp.code, 0, 's3 cp --sse-c-key $secret', { stderr: cp.stderr });
  const get = await cli(['s3api', 'get-object', 'get.out', '--bucket', bucket, '--key', 'cli/raw', '--sse-customer-key', cliSecret, '--sse-customer-algorithm', 'AES256']);
  tt.equal(get.code, 0, 's3api get-object --sse-customer-key $secret', { stderr: get.stderr });
  const head2 = await cli(['s3api', 'head-object', '--bucket', bucket, '--key', 'cli/raw', '--sse-customer-key', cliSecret, '--sse-customer-algorithm', 'AES256']);
  tt.equal(head2.code, 0, 'head-object with the key', { stderr: head2.stderr });
  const mp = await cli(['s3', 'cp', 'multi.bin', `s3://${bucket}/cli/multi`, '--sse-c', 'AES256', '--sse-c-key', cliSecret]);
  tt.equal(mp.code, 0, 's3 cp 9 MiB (multipart)', { stderr: mp.stderr });
  const wrong = await cli(['s3api', 'get-object', 'wrong.out', '--bucket', bucket, '--key', 'cli/raw', '--sse-customer-key', wrongSecret, '--sse-customer-algorithm', 'AES256']);
  tt.not(wrong.code, 0, 'get-object with a wrong key fails');
  tt.match(wrong.stderr, /\((InvalidArgument|AccessDenied|400|403)\)/, 'with an S3 error (RGW: InvalidArgument, AWS: AccessDenied)', { stderr: wrong.stderr.slice(-800) });
  // copy-source triplet (RGW 16 cannot copy SSE-C objects: the gateway may answer 501 or do the copy itself)
  const copy = await cli(['s3api', 'copy-object', '--bucket', bucket, '--key', 'cli/copy', '--copy-source', `${bucket}/cli/raw`,
    '--copy-source-sse-customer-algorithm', 'AES256', '--copy-source-sse-customer-key', cliSecret,
    '--sse-customer-algorithm', 'AES256', '--sse-customer-key', copySecret]);
  tt.comment(`copy-object with copy-source key: exit ${copy.code} ${copy.stderr.trim().split('\n').pop() ?? ''}`);
  tt.notMatch(copy.stderr, /NoneType/, 'aws-cli does not crash on the copy-object answer');
  for (const r of [put, cp, get, head2, mp, wrong, copy]) assertNoKeyMaterial(tt, r.stdout + r.stderr, allKeys, 'aws-cli output');
});

t.test('every invalid triplet variant, on PUT and GET (raw signed requests)', async (tt) => {
  // a valid object to GET
  const ok = await raw('valid raw PUT', ep, { method: 'PUT', path: `/${bucket}/raw/valid`, headers: triplet(kRaw), body: small });
  tt.equal(ok.status, 200, 'valid raw PUT 200');
  const md5Of = (s: string | Buffer) => createHash('md5').update(s).digest('base64');
  const variants: [string, Record<string, string>, RegExp][] = [
    ['algorithm missing (key + md5)', { [KEY]: kOther.b64, [MD5]: kOther.md5 }, /InvalidArgument/],
    ['algorithm AES128', { [ALG]: 'AES128', [KEY]: kOther.b64, [MD5]: kOther.md5 }, /InvalidEncryptionAlgorithmError/],
    ['algorithm aes256 (case)', { [ALG]: 'aes256', [KEY]: kOther.b64, [MD5]: kOther.md5 }, /InvalidEncryptionAlgorithmError/],
    ['algorithm aws:kms', { [ALG]: 'aws:kms', [KEY]: kOther.b64, [MD5]: kOther.md5 }, /InvalidEncryptionAlgorithmError/],
    ['only the algorithm', { [ALG]: 'AES256' }, /InvalidArgument/],
    ['algorithm + md5, no key', { [ALG]: 'AES256', [MD5]: kOther.md5 }, /InvalidArgument/],
    ['algorithm + key, no md5', { [ALG]: 'AES256', [KEY]: kOther.b64 }, /InvalidArgument/],
    ['empty key', { [ALG]: 'AES256', [KEY]: '', [MD5]: kOther.md5 }, /InvalidArgument/],
    ['key not base64 (the raw $secret)', { [ALG]: 'AES256', [KEY]: notBase64Secret, [MD5]: md5Of(notBase64Secret) }, /InvalidArgument/],
    ['key of 16 bytes', { [ALG]: 'AES256', [KEY]: kShort.b64, [MD5]: kShort.md5 }, /InvalidArgument/],
    ['key of 33 bytes', { [ALG]: 'AES256', [KEY]: kLong.b64, [MD5]: kLong.md5 }, /InvalidArgument/],
    ['key base64url instead of base64', { [ALG]: 'AES256', [KEY]: kOther.raw.toString('base64url'), [MD5]: kOther.md5 }, /InvalidArgument/],
    ['md5 of another key', { [ALG]: 'AES256', [KEY]: kOther.b64, [MD5]: kRaw.md5 }, /InvalidArgument/],
    ['md5 not base64', { [ALG]: 'AES256', [KEY]: kOther.b64, [MD5]: '!!not-base64!!' }, /InvalidArgument/],
    ['md5 hex instead of base64', { [ALG]: 'AES256', [KEY]: kOther.b64, [MD5]: createHash('md5').update(kOther.raw).digest('hex') }, /InvalidArgument/],
  ];
  for (const [name, headers, expected] of variants) {
    const p = await raw(`PUT ${name}`, ep, { method: 'PUT', path: `/${bucket}/raw/invalid`, headers, body: small });
    tt.equal(p.status, 400, `PUT, ${name}: 400`, { body: p.body.toString('utf8') });
    tt.match(code(p) ?? '', expected, `PUT, ${name}: ${code(p)}`);
    const g = await raw(`GET ${name}`, ep, { method: 'GET', path: `/${bucket}/raw/valid`, headers });
    tt.equal(g.status, 400, `GET, ${name}: 400`, { body: g.body.toString('utf8') });
    tt.match(code(g) ?? '', expected, `GET, ${name}: ${code(g)}`);
  }
  // conflicts with SSE-S3 / KMS
  const conflict = await raw('PUT SSE-C + SSE-S3', ep, { method: 'PUT', path: `/${bucket}/raw/conflict`, headers: { ...triplet(kOther), 'x-amz-server-side-encryption': 'AES256' }, body: small });
  tt.equal(conflict.status, 400, 'PUT SSE-C + x-amz-server-side-encryption: 400');
  const conflictKms = await raw('PUT SSE-C + KMS', ep, { method: 'PUT', path: `/${bucket}/raw/conflict`, headers: { ...triplet(kOther), 'x-amz-server-side-encryption': 'aws:kms' }, body: small });
  tt.equal(conflictKms.status, 400, 'PUT SSE-C + aws:kms: 400');
  const onRead = await raw('GET SSE-C + SSE header', ep, { method: 'GET', path: `/${bucket}/raw/valid`, headers: { ...triplet(kRaw), 'x-amz-server-side-encryption': 'AES256' } });
  tt.equal(onRead.status, 400, 'GET with x-amz-server-side-encryption: 400');
  // wrong, well-formed key
  const wrong = await raw('GET wrong key', ep, { method: 'GET', path: `/${bucket}/raw/valid`, headers: triplet(kOther) });
  tt.ok([400, 403].includes(wrong.status), `GET with a wrong key: ${wrong.status} ${code(wrong)}`);
  // the copy-source triplet, valid and invalid
  const copySrc = { 'x-amz-copy-source': `/${bucket}/raw/valid` };
  const copyVariants: [string, Record<string, string>][] = [
    ['copy-source md5 of another key', { [C_ALG]: 'AES256', [C_KEY]: kRaw.b64, [C_MD5]: kOther.md5 }],
    ['copy-source key of 16 bytes', { [C_ALG]: 'AES256', [C_KEY]: kShort.b64, [C_MD5]: kShort.md5 }],
    ['copy-source key without algorithm', { [C_KEY]: kRaw.b64, [C_MD5]: kRaw.md5 }],
    ['copy-source algorithm AES128', { [C_ALG]: 'AES128', [C_KEY]: kRaw.b64, [C_MD5]: kRaw.md5 }],
    ['copy-source key not base64', { [C_ALG]: 'AES256', [C_KEY]: notBase64Secret, [C_MD5]: md5Of(notBase64Secret) }],
  ];
  for (const [name, headers] of copyVariants) {
    const c = await raw(`CopyObject ${name}`, ep, { method: 'PUT', path: `/${bucket}/raw/copy`, headers: { ...copySrc, ...headers, ...triplet(kOther) } });
    tt.equal(c.status, 400, `CopyObject, ${name}: 400 ${code(c)}`, { body: c.body.toString('utf8') });
  }
  const copyOk = await raw('CopyObject valid copy-source', ep, { method: 'PUT', path: `/${bucket}/raw/copy`, headers: { ...copySrc, ...copyTriplet(kRaw), ...triplet(kOther) } });
  tt.comment(`CopyObject with a valid copy-source triplet: ${copyOk.status} ${code(copyOk) ?? ''}`);
  // UploadPartCopy with a copy-source key into an SSE-C upload of the same key
  const create = await raw('CreateMultipartUpload', ep, { method: 'POST', path: `/${bucket}/raw/mpu`, query: { uploads: '' }, headers: triplet(kRaw) });
  tt.equal(create.status, 200, 'CreateMultipartUpload 200');
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(create.body.toString('utf8'))?.[1] ?? 'none';
  const upc = await raw('UploadPartCopy', ep, { method: 'PUT', path: `/${bucket}/raw/mpu`, query: { partNumber: '1', uploadId }, headers: { ...copySrc, ...copyTriplet(kRaw), ...triplet(kRaw) } });
  tt.equal(upc.status, 200, 'UploadPartCopy (same key) 200', { body: upc.body.toString('utf8') });
  await raw('AbortMultipartUpload', ep, { method: 'DELETE', path: `/${bucket}/raw/mpu`, query: { uploadId } });
});

t.test('SSE-C on the plaintext listener: refused, keys reported exposed', async (tt) => {
  const put = await raw('plaintext PUT', plainEp, { method: 'PUT', path: `/${bucket}/plain/obj`, headers: triplet(kPlain), body: small });
  tt.equal(put.status, 400, 'SSE-C PUT over http → 400');
  tt.equal(code(put), 'InvalidRequest');
  const copy = await raw('plaintext CopyObject', plainEp, { method: 'PUT', path: `/${bucket}/plain/copy`, headers: { 'x-amz-copy-source': `/${bucket}/raw/valid`, ...copyTriplet(kPlainCopy) } });
  tt.equal(copy.status, 400, 'copy-source key over http → 400');
  const algOnly = await raw('plaintext GET algorithm only', plainEp, { method: 'GET', path: `/${bucket}/raw/valid`, headers: { [ALG]: 'AES256' } });
  tt.equal(algOnly.status, 400, 'algorithm alone over http → 400 too');
  const plainOk = await raw('plaintext GET of a plain object', plainEp, { method: 'GET', path: `/${bucket}/plain/nothing-here` });
  tt.equal(plainOk.status, 404, 'requests without SSE-C are forwarded (404 from RGW)');
});

t.test('presigned URLs carrying SSE-C', async (tt) => {
  const put = await raw('PUT for presign', ep, { method: 'PUT', path: `/${bucket}/presign/obj`, headers: triplet(kPresign), body: small });
  tt.equal(put.status, 200);
  const js = jsS3Client(ep);
  tt.teardown(() => js.destroy());
  const cmd = (k: SseKey) => new GetObjectCommand({ Bucket: bucket, Key: 'presign/obj', SSECustomerAlgorithm: 'AES256', SSECustomerKey: k.b64, SSECustomerKeyMD5: k.md5 });
  // default: the SSE-C headers are signed headers, sent alongside the URL
  const url = await getSignedUrl(js as never, cmd(kPresign) as never, { expiresIn: 300 });
  tt.match(url, /X-Amz-SignedHeaders=[^&]*x-amz-server-side-encryption-customer-key/, 'the SSE-C headers are signed');
  tt.notMatch(url, /customer-key=/i, 'the key is not in the URL');
  const got = await sendRaw(url, { method: 'GET', headers: triplet(kPresign), caFile: ep.caFile });
  responses.push({ what: 'presigned GET', res: got });
  tt.equal(got.status, 200, 'presigned GET with the SSE-C headers → 200', { body: got.body.toString('utf8').slice(0, 600) });
  tt.ok(got.body.equals(small), 'same bytes');
  const without = await sendRaw(url, { method: 'GET', caFile: ep.caFile });
  responses.push({ what: 'presigned GET without headers', res: without });
  tt.not(without.status, 200, `presigned GET without the signed SSE-C headers is refused (${without.status} ${code(without) ?? ''})`);

  // hoisted: the key travels in the query string (some SDKs do this); it must not reach the logs
  const hoistable = new Set([ALG, KEY, MD5]);
  const hoisted = await getSignedUrl(js as never, cmd(kHoist) as never, { expiresIn: 300, hoistableHeaders: hoistable } as never);
  tt.match(hoisted, /x-amz-server-side-encryption-customer-key=/i, 'the key is in the URL');
  const h = await sendRaw(hoisted, { method: 'GET', caFile: ep.caFile });
  responses.push({ what: 'hoisted presigned GET', res: h });
  tt.comment(`presigned GET with the key in the query string, https: ${h.status} ${code(h) ?? ''}`);

  // the same over the plaintext listener: the key crossed the network in clear
  const jsPlain = jsS3Client(plainEp);
  tt.teardown(() => jsPlain.destroy());
  const hoistedPlain = await getSignedUrl(jsPlain as never, cmd(kHoistPlain) as never, { expiresIn: 300, hoistableHeaders: hoistable } as never);
  const exposedBefore = gw.logs().filter((l) => l.event === 'key_exposed').length;
  const hp = await sendRaw(hoistedPlain, { method: 'GET' });
  responses.push({ what: 'hoisted presigned GET over http', res: hp });
  tt.equal(hp.status, 400, `presigned URL with the key in the query, over http → 400 (got ${hp.status} ${code(hp) ?? ''})`);
  await new Promise((r) => setTimeout(r, 200));
  const line = gw.logs().filter((l) => l.msg === 'request' && l.listener === 'http' && typeof l.url === 'string' && /customer-key=/i.test(l.url as string)).pop();
  const exposedAfter = gw.logs().filter((l) => l.event === 'key_exposed').length;
  tt.equal(exposedAfter - exposedBefore, 1, 'a key in the query string over http is refused and reported exposed like a header key',
    { gatewayLine: line ? { status: line.status, sseC: line.sseC, upstreamId: line.upstreamId } : undefined });
});

t.test('the gateway output and /metrics hold no key material, and do hold the events', async (tt) => {
  await new Promise((r) => setTimeout(r, 300)); // request lines are written when responses close
  const output = gw.output();
  const logs = gw.logs();
  tt.ok(output.length > 5000, `${output.length} chars of gateway output`);
  assertNoKeyMaterial(tt, output, allKeys, 'gateway output (stdout + stderr, debug level)');
  for (const { what, res } of responses) {
    assertNoKeyMaterial(tt, JSON.stringify(res.headers) + res.body.toString('latin1'), allKeys, `response to ${what}`);
  }
  const metrics = await fetch(`${gw.adminUrl}/metrics`).then((r) => r.text());
  assertNoKeyMaterial(tt, metrics, allKeys, '/metrics');
  tt.match(metrics, /ssec_gateway_key_exposures_total [1-9]/, '/metrics counts the exposures');
  tt.match(metrics, /ssec_gateway_sse_c_requests_total\{outcome="rejected_plaintext"\} [1-9]/, '/metrics counts plaintext refusals');

  // key_exposed warnings, fingerprinted
  const exposed = logs.filter((l) => l.event === 'key_exposed');
  tt.ok(exposed.length >= 2, `${exposed.length} key_exposed warnings`);
  for (const e of exposed) {
    tt.equal(e.level, 40, 'key_exposed is a warning');
    tt.match(e.fingerprint, /^[0-9a-f]{64}$/, `fingerprint is 64 hex digits (${String(e.header)})`);
    tt.equal(e.listener, 'http');
  }
  tt.ok(exposed.some((e) => e.header === KEY), 'the SSE-C key header was reported');
  tt.ok(exposed.some((e) => e.header === C_KEY), 'the copy-source key header was reported');
  const fps = new Set(exposed.map((e) => e.fingerprint));
  tt.equal(fps.size, exposed.length, 'different keys, different fingerprints');
  for (const k of [kPlain, kPlainCopy]) {
    const plainHashes = [createHash('sha256').update(k.raw).digest('hex'), createHash('sha256').update(k.b64).digest('hex')];
    tt.notOk(plainHashes.some((h) => fps.has(h)), 'the fingerprint is not a bare sha256 of the key (it is keyed)');
  }

  // request lines for every kind of operation driven above
  const reqs = logs.filter((l) => l.msg === 'request');
  const has = (what: string, f: (l: Record<string, unknown>) => boolean) => tt.ok(reqs.some(f), `request line: ${what}`);
  has('PutObject 200', (l) => l.op === 'PutObject' && l.status === 200 && l.sseC === 'ok');
  has('GetObject 200', (l) => l.op === 'GetObject' && l.status === 200 && l.sseC === 'ok');
  has('HeadObject 200', (l) => l.op === 'HeadObject' && l.status === 200);
  has('CreateMultipartUpload 200', (l) => l.op === 'CreateMultipartUpload' && l.status === 200);
  has('UploadPart 200', (l) => l.op === 'UploadPart' && l.status === 200);
  has('CompleteMultipartUpload 200', (l) => l.op === 'CompleteMultipartUpload' && l.status === 200);
  has('UploadPartCopy 200', (l) => l.op === 'UploadPartCopy' && l.status === 200);
  has('CopyObject', (l) => l.op === 'CopyObject');
  has('GetObject with a wrong key (4xx)', (l) => l.op === 'GetObject' && (l.status === 400 || l.status === 403) && l.sseC === 'ok');
  has('plaintext listener refusal', (l) => l.listener === 'http' && l.status === 400 && l.sseC === 'rejected_plaintext');
  has('presigned GET (redacted signature in the url)', (l) => typeof l.url === 'string' && /X-Amz-Signature=\[redacted\]/.test(l.url as string));
  const invalid = reqs.filter((l) => typeof l.sseC === 'string' && (l.sseC as string).startsWith('invalid'));
  tt.ok(invalid.length >= 30, `${invalid.length} request lines with an invalid_* SSE-C outcome`);
  tt.ok(reqs.length >= 60, `${reqs.length} request lines in all`);
});
