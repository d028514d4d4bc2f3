/**
 * Auth mode `sigv4` with real clients "used as people use them" (issue #3 item 8): every client with its
 * DEFAULT checksum settings (no AWS_REQUEST_CHECKSUM_CALCULATION), so aws-cli v1 / boto3 / SDK streams send
 * aws-chunked bodies with a CRC32 trailer, which RGW 16 alone refuses (real-clients.md A). The gateway verifies
 * each client against its clients file, decodes the body and re-signs upstream with its own credential.
 *
 * Also: presigned URLs (GET and PUT, SSE-C headers signed), expired ones, wrong secret, unknown access key,
 * unsigned requests (never reach RGW), and tampered aws-chunked bodies framed by hand (trailer checksum wrong;
 * signed chunk with one flipped byte) → the S3 error and no object on RGW.
 */
import t, { type Test } from 'tap';
import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { awsCli, boto3, jsS3Client, randomSecret, rclone, sseKey, type RunResult, type SseKey } from '../helpers/clients.js';
import { assertNoKeyMaterial } from '../helpers/keys.js';
import { bucketName, createBucket, sharedRgw } from '../helpers/rgw.js';
import {
  crc32b64, credsOf, frameSignedChunks, frameUnsignedTrailer, newClient, onRgw, parseError, randomFile, rawRequest, requestLines,
  sendSigned, sha256, sha256File, signedChunksLength, signRequest, sleep, ssecHeaders, startSigv4Gateway, type RawResponse,
} from '../helpers/sigv4-gateway.js';

const started = performance.now();
const rgw = await sharedRgw();
const bucket = bucketName('sigv4-clients');
const alice = newClient('alice');
const [gw] = await Promise.all([
  startSigv4Gateway(rgw, { doc: { clients: [alice] } }),
  createBucket(rgw, bucket),
]);
const ep = gw.endpoint(alice);
const work = await mkdtemp(path.join(os.tmpdir(), 'sigv4-clients-'));

// the user guide's key: a 32-character printable secret (aws-cli, boto3 and rclone take it raw)
const secret = randomSecret();
const K: SseKey = sseKey(secret);
const sentKeys: Buffer[] = [K.raw];

const small = path.join(work, 'small.bin');
const smallSha = await randomFile(small, 100 * 1024 + 7);
const smallBody = await readFile(small);
const big = path.join(work, 'big.bin');
const bigSha = await randomFile(big, 20 * 1024 * 1024);

const timings: [string, number][] = [];
t.teardown(async () => {
  await gw.stop();
  await rm(work, { recursive: true, force: true });
  await rm(gw.dir, { recursive: true, force: true });
  t.comment(`timings: ${timings.map(([n, ms]) => `${n} ${(ms / 1000).toFixed(1)} s`).join('; ')}`);
  t.comment(`sigv4-clients wall time: ${((performance.now() - started) / 1000).toFixed(1)} s`);
});

function section(name: string, fn: (t: Test) => Promise<void>): void {
  t.test(name, async (tt) => {
    const t0 = performance.now();
    try { await fn(tt); } finally { timings.push([name.split(':')[0]!, performance.now() - t0]); }
  });
}

function ok(tt: Test, r: RunResult, what: string): boolean {
  return tt.equal(r.code, 0, `${what}: exit 0`, { stdout: r.stdout.slice(-2000), stderr: r.stderr.slice(-4000) });
}

async function sameFile(tt: Test, file: string, sha: string, what: string): Promise<void> {
  const got = await sha256File(file).catch(() => ({ sha: 'missing', size: -1 }));
  tt.equal(got.sha, sha, `${what}: identical bytes (${got.size} bytes)`);
}

/** Straight on RGW: without a key → 400 (encrypted at rest); with k → the same bytes; optionally the multipart ETag. */
async function encryptedOnRgw(tt: Test, key: string, k: SseKey, sha: string, parts?: number): Promise<void> {
  const noKey = await onRgw(rgw, 'GET', bucket, key);
  tt.equal(noKey.status, 400, `${key}: a GET straight to RGW without the key is refused (stored encrypted)`);
  const withKey = await onRgw(rgw, 'GET', bucket, key, k);
  tt.equal(withKey.status, 200, `${key}: a GET straight to RGW with the client's key works`);
  tt.equal(sha256(withKey.body), sha, `${key}: RGW holds exactly the bytes sent`);
  tt.equal(withKey.headers['x-amz-server-side-encryption-customer-key-md5'], k.md5, `${key}: encrypted with the client's key`);
  if (parts !== undefined) tt.match(String(withKey.headers.etag), new RegExp(`-${parts}"?$`), `${key}: stored as a ${parts}-part multipart upload`);
}

/** Request body bytes the gateway received from the client (its log line's bytesIn) for each `op` on `key`. */
function received(op: string, key: string): number[] {
  return requestLines(gw).filter((l) => l.op === op && String(l.url).split('?')[0] === `/${bucket}/${key}` && l.status === 200).map((l) => Number(l.bytesIn));
}

async function absentOnRgw(tt: Test, key: string, label: string): Promise<void> {
  const head = await onRgw(rgw, 'HEAD', bucket, key);
  tt.equal(head.status, 404, `${label}: no object ${key} on RGW (HEAD → 404)`);
}

function s3Error(tt: Test, res: RawResponse, status: number, code: string, message: string | RegExp | undefined, label: string) {
  tt.equal(res.status, status, `${label}: HTTP ${status}`, { body: res.text.slice(0, 2000) });
  const e = parseError(res.text);
  tt.equal(e.code, code, `${label}: Code ${code}`);
  if (message !== undefined) tt.match(e.message, message, `${label}: Message`);
  return e;
}

// ---- aws-cli -------------------------------------------------------------------------------------

for (const v of ['v1', 'v2'] as const) {
  section(`aws-cli ${v}: s3api put-object / get-object with SSE-C, s3 cp 20 MiB multipart up and down`, async (tt) => {
    const cli = (args: string[]) => awsCli(v, ep, args);
    const ver = await cli(['--version']);
    tt.comment(`aws-cli ${v}: ${(ver.stdout + ver.stderr).trim()}`);
    const sse = ['--sse-customer-algorithm', 'AES256', '--sse-customer-key', secret];
    const key = `${v}/put-object.bin`;
    const put = await cli(['s3api', 'put-object', '--bucket', bucket, '--key', key, '--body', small, ...sse]);
    if (ok(tt, put, `${v} s3api put-object`)) {
      const j = JSON.parse(put.stdout) as Record<string, string>;
      tt.equal(j.SSECustomerAlgorithm, 'AES256', `${v} put-object: AES256 echoed`);
      tt.equal(j.SSECustomerKeyMD5, K.md5, `${v} put-object: key MD5 echoed`);
    }
    const out = path.join(work, `${v}-get.out`);
    const get = await cli(['s3api', 'get-object', '--bucket', bucket, '--key', key, ...sse, out]);
    if (ok(tt, get, `${v} s3api get-object`)) tt.equal((JSON.parse(get.stdout) as Record<string, string>).SSECustomerKeyMD5, K.md5, `${v} get-object: key MD5 echoed`);
    await sameFile(tt, out, smallSha, `${v} get-object`);
    await encryptedOnRgw(tt, key, K, smallSha);

    const bigKey = `${v}/cp-20MiB.bin`;
    const sseC = ['--sse-c', 'AES256', '--sse-c-key', secret];
    ok(tt, await cli(['s3', 'cp', big, `s3://${bucket}/${bigKey}`, ...sseC]), `${v} s3 cp up (multipart)`);
    const down = path.join(work, `${v}-cp.out`);
    ok(tt, await cli(['s3', 'cp', `s3://${bucket}/${bigKey}`, down, ...sseC]), `${v} s3 cp down`);
    await sameFile(tt, down, bigSha, `${v} s3 cp 20 MiB`);
    await encryptedOnRgw(tt, bigKey, K, bigSha, 3); // aws-cli: 8 MiB parts
    // what the client really sent: aws-cli v1 (botocore 1.43) frames uploads aws-chunked with a CRC32 trailer by default,
    // v2 2.9 sends plain bodies with Content-MD5 (real-clients.md A)
    await sleep(300);
    const put1 = received('PutObject', key);
    const parts = received('UploadPart', bigKey);
    tt.comment(`${v}: PutObject body ${put1.join(',')} bytes on the wire for ${smallBody.length}; UploadPart bodies ${parts.join(',')}`);
    if (v === 'v1') {
      tt.ok(put1.length === 1 && put1[0]! > smallBody.length, 'v1 PutObject arrived aws-chunked (more bytes on the wire than the object)');
      const sorted = [...parts].sort((a, b) => a - b); // parts go in parallel: the log order varies
      tt.ok(sorted.length === 3 && sorted[0]! > 4 << 20 && sorted[1]! > 8 << 20 && sorted[2]! > 8 << 20, 'v1 UploadPart bodies arrived aws-chunked');
    }
  });
}

// ---- boto3 ---------------------------------------------------------------------------------------

section('boto3 (defaults): put_object bytes and file, upload_file (multipart), get_object / download_file with SSE-C', async (tt) => {
  const r = await boto3(ep, `
    bucket, secret, small, big, out = sys.argv[1:6]
    sse = dict(SSECustomerAlgorithm='AES256', SSECustomerKey=secret)
    res = {'boto3': boto3.__version__}
    data = open(small, 'rb').read()
    p = s3.put_object(Bucket=bucket, Key='boto3/bytes', Body=data, **sse)
    res['putMd5'] = p.get('SSECustomerKeyMD5')
    with open(small, 'rb') as f:
        s3.put_object(Bucket=bucket, Key='boto3/file', Body=f, **sse)
    s3.upload_file(big, bucket, 'boto3/multipart', ExtraArgs=sse)
    for k in ('bytes', 'file'):
        g = s3.get_object(Bucket=bucket, Key='boto3/' + k, **sse)
        res[k] = hashlib.sha256(g['Body'].read()).hexdigest()
        res[k + 'Md5'] = g.get('SSECustomerKeyMD5')
    s3.download_file(bucket, 'boto3/multipart', out, ExtraArgs=sse)
    print(json.dumps(res))
  `, { args: [bucket, secret, small, big, path.join(work, 'boto3-big.out')] });
  if (ok(tt, r, 'boto3 script')) {
    const j = JSON.parse(r.stdout) as Record<string, string>;
    tt.comment(`boto3 ${j.boto3}`);
    tt.equal(j.putMd5, K.md5, 'put_object: key MD5 echoed');
    tt.equal(j.bytes, smallSha, 'put_object(bytes) → get_object: identical bytes');
    tt.equal(j.file, smallSha, 'put_object(file) → get_object: identical bytes');
    tt.equal(j.bytesMd5, K.md5, 'get_object: key MD5 echoed');
  }
  await sleep(300);
  tt.ok(received('PutObject', 'boto3/bytes')[0]! > smallBody.length, 'boto3 put_object(bytes) arrived aws-chunked');
  tt.ok(received('UploadPart', 'boto3/multipart').every((n) => n > 4 << 20), 'boto3 upload_file parts arrived aws-chunked');
  await sameFile(tt, path.join(work, 'boto3-big.out'), bigSha, 'boto3 upload_file → download_file');
  await encryptedOnRgw(tt, 'boto3/bytes', K, smallSha);
  await encryptedOnRgw(tt, 'boto3/file', K, smallSha);
  await encryptedOnRgw(tt, 'boto3/multipart', K, bigSha, 3); // boto3 TransferConfig: 8 MiB parts
});

// ---- @aws-sdk/client-s3 ----------------------------------------------------------------------------

section('@aws-sdk/client-s3 (WHEN_SUPPORTED): PutObject with a Readable (aws-chunked + trailer) and a Buffer, multipart, GetObject', async (tt) => {
  const js: S3Client = jsS3Client(ep, { checksums: 'WHEN_SUPPORTED' });
  tt.teardown(() => js.destroy());
  const sse = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: K.b64, SSECustomerKeyMD5: K.md5 };
  const get = async (key: string) => {
    const g = await js.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...sse }));
    tt.equal(g.SSECustomerKeyMD5, K.md5, `${key}: GetObject echoes the key MD5`);
    return sha256(await g.Body!.transformToByteArray());
  };

  // fs.ReadStream: the SDK knows its length; Readable.from: a generic stream with ContentLength
  const p1 = await js.send(new PutObjectCommand({ Bucket: bucket, Key: 'js/readstream', Body: createReadStream(small), ...sse }));
  tt.equal(p1.SSECustomerKeyMD5, K.md5, 'PutObject(fs.ReadStream)');
  const pieces = [smallBody.subarray(0, 70_000), smallBody.subarray(70_000)];
  const p2 = await js.send(new PutObjectCommand({ Bucket: bucket, Key: 'js/readable', Body: Readable.from(pieces), ContentLength: smallBody.length, ...sse }));
  tt.equal(p2.SSECustomerKeyMD5, K.md5, 'PutObject(Readable)');
  const p3 = await js.send(new PutObjectCommand({ Bucket: bucket, Key: 'js/buffer', Body: smallBody, ...sse }));
  tt.equal(p3.SSECustomerKeyMD5, K.md5, 'PutObject(Buffer)');
  await sleep(300); // the gateway writes a request's log line when its response has closed
  tt.ok(received('PutObject', 'js/readstream')[0]! > smallBody.length, 'SDK PutObject(fs.ReadStream) arrived aws-chunked');
  tt.ok(received('PutObject', 'js/readable')[0]! > smallBody.length, 'SDK PutObject(Readable) arrived aws-chunked');
  tt.equal(received('PutObject', 'js/buffer')[0], smallBody.length, 'SDK PutObject(Buffer) arrived as a plain body');
  for (const k of ['js/readstream', 'js/readable', 'js/buffer']) {
    tt.equal(await get(k), smallSha, `${k}: identical bytes`);
    await encryptedOnRgw(tt, k, K, smallSha);
  }

  // multipart: @aws-sdk/lib-storage when installed, otherwise the same calls by hand (streamed parts)
  const libStorage = '@aws-sdk/lib-storage';
  const lib = (await import(libStorage).catch(() => undefined)) as { Upload: new (o: unknown) => { done(): Promise<unknown> } } | undefined;
  if (lib) {
    await new lib.Upload({ client: js, params: { Bucket: bucket, Key: 'js/multipart', Body: createReadStream(big), ...sse } }).done();
  } else {
    tt.comment('@aws-sdk/lib-storage is not installed: multipart done with Create/UploadPart(Readable)/Complete');
    const c = await js.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'js/multipart', ...sse }));
    const PART = 8 << 20;
    const parts: { PartNumber: number; ETag: string }[] = [];
    const size = (await sha256File(big)).size;
    for (let n = 1, off = 0; off < size; n++, off += PART) {
      const end = Math.min(size, off + PART);
      const up = await js.send(new UploadPartCommand({
        Bucket: bucket, Key: 'js/multipart', UploadId: c.UploadId, PartNumber: n,
        Body: createReadStream(big, { start: off, end: end - 1 }), ContentLength: end - off, ...sse,
      }));
      parts.push({ PartNumber: n, ETag: up.ETag! });
    }
    await js.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'js/multipart', UploadId: c.UploadId, MultipartUpload: { Parts: parts }, ...sse }));
  }
  tt.equal(await get('js/multipart'), bigSha, 'js multipart: identical bytes');
  await encryptedOnRgw(tt, 'js/multipart', K, bigSha, 3);
});

// ---- rclone --------------------------------------------------------------------------------------

section('rclone: copyto up and down with sse_customer_key', async (tt) => {
  const rc = (args: string[]) => rclone(ep, args, { sseCustomerKey: secret });
  ok(tt, await rc(['copyto', small, `gw:${bucket}/rclone/small`]), 'rclone copyto up');
  const out = path.join(work, 'rclone.out');
  ok(tt, await rc(['copyto', `gw:${bucket}/rclone/small`, out]), 'rclone copyto down');
  await sameFile(tt, out, smallSha, 'rclone');
  const ls = await rc(['lsjson', `gw:${bucket}/rclone/`]);
  if (ok(tt, ls, 'rclone lsjson')) tt.same((JSON.parse(ls.stdout) as { Name: string; Size: number }[]).map((e) => [e.Name, e.Size]), [['small', smallBody.length]], 'rclone lsjson: the object and its plaintext size');
  await encryptedOnRgw(tt, 'rclone/small', K, smallSha);
});

// ---- presigned URLs --------------------------------------------------------------------------------

section('presigned URLs: aws-cli s3 presign GET; SDK getSignedUrl GET and PUT with the SSE-C headers signed; expired → 403', async (tt) => {
  // a plain object for aws-cli's presign (it cannot presign SSE-C headers)
  const plain = await sendSigned(gw.url, gw.ca, credsOf(alice), { method: 'PUT', path: `/${bucket}/presign/plain`, body: smallBody });
  tt.equal(plain.status, 200, 'setup: plain PUT');
  const pre = await awsCli('v1', ep, ['s3', 'presign', `s3://${bucket}/presign/plain`, '--expires-in', '300']);
  if (ok(tt, pre, 'aws s3 presign')) {
    const url = new URL(pre.stdout.trim());
    tt.equal(url.searchParams.get('X-Amz-Algorithm'), 'AWS4-HMAC-SHA256', 'aws-cli presigned a SigV4 URL');
    const res = await rawRequest(gw.url, gw.ca, { method: 'GET', path: url.pathname + url.search });
    tt.equal(res.status, 200, 'aws-cli presigned GET: 200');
    tt.equal(sha256(res.body), smallSha, 'aws-cli presigned GET: identical bytes');
  }

  const js = jsS3Client(ep, { checksums: 'WHEN_SUPPORTED' });
  tt.teardown(() => js.destroy());
  const sse = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: K.b64, SSECustomerKeyMD5: K.md5 };
  const putUrl = new URL(await getSignedUrl(js, new PutObjectCommand({ Bucket: bucket, Key: 'presign/ssec', ...sse }), { expiresIn: 300 }));
  tt.match(putUrl.searchParams.get('X-Amz-SignedHeaders'), /x-amz-server-side-encryption-customer-key/, 'presigned PUT: the SSE-C headers are signed');
  tt.comment(`presigned PUT query parameters: ${[...putUrl.searchParams.keys()].join(', ')}`);
  const put = await rawRequest(gw.url, gw.ca, {
    method: 'PUT', path: putUrl.pathname + putUrl.search, headers: { ...ssecHeaders(K), 'content-length': String(smallBody.length) }, body: smallBody,
  });
  tt.equal(put.status, 200, 'presigned PUT with the SSE-C headers: 200', { body: put.text.slice(0, 2000) });
  tt.equal(put.headers['x-amz-server-side-encryption-customer-key-md5'], K.md5, 'presigned PUT: key MD5 echoed');
  await encryptedOnRgw(tt, 'presign/ssec', K, smallSha);

  const getUrl = new URL(await getSignedUrl(js, new GetObjectCommand({ Bucket: bucket, Key: 'presign/ssec', ...sse }), { expiresIn: 300 }));
  tt.match(getUrl.searchParams.get('X-Amz-SignedHeaders'), /x-amz-server-side-encryption-customer-key-md5/, 'presigned GET: the SSE-C headers are signed');
  const got = await rawRequest(gw.url, gw.ca, { method: 'GET', path: getUrl.pathname + getUrl.search, headers: ssecHeaders(K) });
  tt.equal(got.status, 200, 'presigned GET with the SSE-C headers: 200');
  tt.equal(sha256(got.body), smallSha, 'presigned GET: identical bytes');
  const other = sseKey();
  sentKeys.push(other.raw);
  const swapped = await rawRequest(gw.url, gw.ca, { method: 'GET', path: getUrl.pathname + getUrl.search, headers: ssecHeaders(other) });
  s3Error(tt, swapped, 403, 'SignatureDoesNotMatch', undefined, 'presigned GET sent with another key than the one signed');

  const old = new URL(await getSignedUrl(js, new GetObjectCommand({ Bucket: bucket, Key: 'presign/ssec', ...sse }), {
    expiresIn: 60, signingDate: new Date(Date.now() - 10 * 60_000),
  }));
  const expired = await rawRequest(gw.url, gw.ca, { method: 'GET', path: old.pathname + old.search, headers: ssecHeaders(K) });
  s3Error(tt, expired, 403, 'AccessDenied', 'Request has expired', 'presigned URL used after expiry');
  const cliOld = new URL(pre.stdout.trim() || 'https://x/');
  if (pre.code === 0) {
    // the same aws-cli URL, its X-Amz-Date moved back an hour: the signature no longer matches (it is checked first, as S3 does)
    cliOld.searchParams.set('X-Amz-Expires', '1');
    const r = await rawRequest(gw.url, gw.ca, { method: 'GET', path: cliOld.pathname + cliOld.search });
    tt.equal(r.status, 403, 'a presigned URL whose X-Amz-Expires was edited: 403');
  }
});

// ---- authentication failures ------------------------------------------------------------------------

section('wrong secret → SignatureDoesNotMatch with StringToSign; unknown access key → InvalidAccessKeyId', async (tt) => {
  const wrong = { ...credsOf(alice), secretKey: alice.secretAccessKey.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')) };
  const signed = await signRequest(gw.url, wrong, { method: 'GET', path: `/${bucket}/presign/plain` });
  const res = await rawRequest(gw.url, gw.ca, { method: 'GET', path: signed.path, headers: signed.headers });
  const e = s3Error(tt, res, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', 'wrong secret');
  tt.match(e.stringToSign, /^AWS4-HMAC-SHA256\n\d{8}T\d{6}Z\n\d{8}\/us-east-1\/s3\/aws4_request\n[0-9a-f]{64}$/, 'the error carries the StringToSign');
  if (e.stringToSign) {
    // the gateway computed the very string the client signed: HMAC of it with the client's (wrong) key is the signature sent
    const [, , scope] = e.stringToSign.split('\n');
    const [date, region, service] = scope!.split('/');
    let k = createHmac('sha256', `AWS4${wrong.secretKey}`).update(date!).digest();
    for (const part of [region!, service!, 'aws4_request']) k = createHmac('sha256', k).update(part).digest();
    tt.equal(createHmac('sha256', k).update(e.stringToSign).digest('hex'), signed.signature, 'StringToSign is byte for byte what the client signed');
  }
  const cli = await awsCli('v1', { ...ep, secretKey: wrong.secretKey }, ['s3api', 'get-object', '--bucket', bucket, '--key', 'presign/plain', path.join(work, 'nope')]);
  tt.not(cli.code, 0, 'aws-cli with a wrong secret fails');
  tt.match(cli.stderr, /SignatureDoesNotMatch/, 'aws-cli reports SignatureDoesNotMatch');

  const ghost = newClient('ghost');
  const r2 = await sendSigned(gw.url, gw.ca, credsOf(ghost), { method: 'GET', path: `/${bucket}/presign/plain` });
  s3Error(tt, r2, 403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', 'unknown access key');
  const cli2 = await awsCli('v1', gw.endpoint(ghost), ['s3', 'ls', `s3://${bucket}/`]);
  tt.not(cli2.code, 0, 'aws-cli with an unknown access key fails');
  tt.match(cli2.stderr, /InvalidAccessKeyId/, 'aws-cli reports InvalidAccessKeyId');
});

section('an unsigned request → 403 and RGW never sees it', async (tt) => {
  const key = 'unsigned/put.bin';
  const res = await rawRequest(gw.url, gw.ca, {
    method: 'PUT', path: `/${bucket}/${key}`, headers: { ...ssecHeaders(K), 'content-length': String(smallBody.length) }, body: smallBody,
  });
  s3Error(tt, res, 403, 'AccessDenied', 'Access Denied: this gateway requires requests signed with AWS Signature Version 4.', 'unsigned PUT');
  await absentOnRgw(tt, key, 'unsigned PUT');
  const get = await rawRequest(gw.url, gw.ca, { method: 'GET', path: `/${bucket}/presign/plain` });
  s3Error(tt, get, 403, 'AccessDenied', undefined, 'unsigned GET of an existing object');
  const list = await rawRequest(gw.url, gw.ca, { method: 'GET', path: `/${bucket}?list-type=2` });
  s3Error(tt, list, 403, 'AccessDenied', undefined, 'unsigned ListObjectsV2');
  await sleep(300); // the log line is written when the response closes
  for (const [r, label] of [[res, 'PUT'], [get, 'GET'], [list, 'List']] as const) {
    const line = requestLines(gw).find((l) => l.id === r.headers['x-amz-request-id']);
    tt.ok(line, `unsigned ${label}: the gateway logged the request`);
    tt.equal(line?.upstreamId, undefined, `unsigned ${label}: no upstream request id (never forwarded)`);
  }
});

// ---- tampered aws-chunked bodies ------------------------------------------------------------------------

const DATA = Buffer.concat([smallBody, smallBody]).subarray(0, 200 * 1024 + 123); // 4 chunks of 64 KiB
const DATA_SHA = sha256(DATA);
const CHUNK = 64 * 1024;

async function putUnsignedTrailer(key: string, crc: string) {
  const body = frameUnsignedTrailer(DATA, CHUNK, { name: 'x-amz-checksum-crc32', value: crc });
  const s = await signRequest(gw.url, credsOf(alice), {
    method: 'PUT', path: `/${bucket}/${key}`,
    headers: {
      'content-encoding': 'aws-chunked', 'content-length': String(body.length), 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      'x-amz-decoded-content-length': String(DATA.length), 'x-amz-trailer': 'x-amz-checksum-crc32', 'x-amz-sdk-checksum-algorithm': 'CRC32',
      ...ssecHeaders(K),
    },
  });
  // written in pieces, as a client streams it
  const pieces: Buffer[] = [];
  for (let off = 0; off < body.length; off += 50_000) pieces.push(body.subarray(off, off + 50_000));
  return rawRequest(gw.url, gw.ca, { method: 'PUT', path: s.path, headers: s.headers, body: pieces });
}

async function putSignedChunks(key: string, tamper?: (body: Buffer, dataOffsets: number[]) => void) {
  const s = await signRequest(gw.url, credsOf(alice), {
    method: 'PUT', path: `/${bucket}/${key}`,
    headers: {
      'content-encoding': 'aws-chunked', 'content-length': String(signedChunksLength(DATA.length, CHUNK)),
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'x-amz-decoded-content-length': String(DATA.length), ...ssecHeaders(K),
    },
  });
  const { body, dataOffsets } = await frameSignedChunks(DATA, CHUNK, s);
  if (body.length !== Number(s.headers['content-length'])) throw new Error('signedChunksLength is wrong');
  tamper?.(body, dataOffsets);
  const pieces: Buffer[] = [];
  for (let off = 0; off < body.length; off += 50_000) pieces.push(body.subarray(off, off + 50_000));
  return rawRequest(gw.url, gw.ca, { method: 'PUT', path: s.path, headers: s.headers, body: pieces });
}

section('aws-chunked STREAMING-UNSIGNED-PAYLOAD-TRAILER framed by hand: right CRC32 → stored; wrong CRC32 → BadDigest, nothing on RGW', async (tt) => {
  const good = await putUnsignedTrailer('chunked/trailer-ok', crc32b64(DATA));
  tt.equal(good.status, 200, 'control: the same framing with the right CRC32 is accepted', { body: good.text.slice(0, 2000) });
  await encryptedOnRgw(tt, 'chunked/trailer-ok', K, DATA_SHA);

  const wrongCrc = crc32b64(Buffer.concat([DATA, Buffer.from('x')]));
  const bad = await putUnsignedTrailer('chunked/trailer-bad', wrongCrc);
  s3Error(tt, bad, 400, 'BadDigest', 'The CRC32 you specified did not match the calculated checksum.', 'wrong x-amz-checksum-crc32 trailer');
  await absentOnRgw(tt, 'chunked/trailer-bad', 'wrong CRC32 trailer');
});

section('aws-chunked STREAMING-AWS4-HMAC-SHA256-PAYLOAD signed with smithy: intact → stored; one flipped byte → SignatureDoesNotMatch, nothing on RGW', async (tt) => {
  const good = await putSignedChunks('chunked/signed-ok');
  tt.equal(good.status, 200, 'control: signed chunks, intact, are accepted', { body: good.text.slice(0, 2000) });
  await encryptedOnRgw(tt, 'chunked/signed-ok', K, DATA_SHA);

  for (const [which, idx] of [['chunk 3 of 4', 2], ['the last chunk', 3]] as const) {
    const key = `chunked/signed-bad-${idx}`;
    const bad = await putSignedChunks(key, (body, offs) => { body[offs[idx]! + 100] ^= 0x01; });
    const e = s3Error(tt, bad, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', `one flipped byte in ${which}`);
    tt.match(e.stringToSign, /^AWS4-HMAC-SHA256-PAYLOAD\n/, `${which}: the error carries the chunk StringToSign`);
    await absentOnRgw(tt, key, `flipped byte in ${which}`);
  }
});

section('plain bodies that do not match what was signed / declared: wrong sha256 payload hash; wrong x-amz-checksum-crc32 header', async (tt) => {
  // a hex x-amz-content-sha256 that is not the body's (the body changed after signing)
  const key1 = 'plain/sha-mismatch';
  const s1 = await signRequest(gw.url, credsOf(alice), {
    method: 'PUT', path: `/${bucket}/${key1}`, body: DATA,
    headers: { 'content-length': String(DATA.length), ...ssecHeaders(K) },
  });
  const flipped = Buffer.from(DATA);
  flipped[1000] ^= 0x01;
  const r1 = await rawRequest(gw.url, gw.ca, { method: 'PUT', path: s1.path, headers: s1.headers, body: flipped });
  s3Error(tt, r1, 400, 'XAmzContentSHA256Mismatch', undefined, 'body differs from its signed sha256');
  await absentOnRgw(tt, key1, 'sha256 mismatch');

  // UNSIGNED-PAYLOAD with a checksum header (what a presigned PUT carries, and what S3 checks): a wrong CRC32
  const key2 = 'plain/crc-header-mismatch';
  const r2 = await sendSigned(gw.url, gw.ca, credsOf(alice), {
    method: 'PUT', path: `/${bucket}/${key2}`, body: DATA,
    headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-checksum-crc32': crc32b64(Buffer.from('not the body')), 'x-amz-sdk-checksum-algorithm': 'CRC32', ...ssecHeaders(K) },
  });
  s3Error(tt, r2, 400, 'BadDigest', 'The CRC32 you specified did not match the calculated checksum.', 'UNSIGNED-PAYLOAD body with a wrong x-amz-checksum-crc32 header');
  await absentOnRgw(tt, key2, 'wrong x-amz-checksum-crc32 header');
});

// (a stream body is not tried over h2: the SDK's own NodeHttp2Handler then fails before sending, ERR_HTTP2_INVALID_CONNECTION_HEADERS
// "transfer-encoding" — a client-side limitation of @smithy/node-http-handler 4.14, not the gateway's)
section('@aws-sdk/client-s3 over HTTP/2 (:authority signed instead of host): PutObject(Buffer) and GetObject', async (tt) => {
  const h2 = jsS3Client(ep, { http2: true, checksums: 'WHEN_SUPPORTED' });
  tt.teardown(() => h2.destroy());
  const sse = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: K.b64, SSECustomerKeyMD5: K.md5 };
  const put = await h2.send(new PutObjectCommand({ Bucket: bucket, Key: 'h2/readable', Body: smallBody, ...sse }));
  tt.equal(put.SSECustomerKeyMD5, K.md5, 'PutObject over h2');
  const got = await h2.send(new GetObjectCommand({ Bucket: bucket, Key: 'h2/readable', ...sse }));
  tt.equal(sha256(await got.Body!.transformToByteArray()), smallSha, 'GetObject over h2: identical bytes');
  await sleep(300);
  const line = requestLines(gw).find((l) => l.op === 'PutObject' && String(l.url).split('?')[0] === `/${bucket}/h2/readable`);
  tt.equal(line?.proto, 'h2', 'the gateway served it over HTTP/2');
  await encryptedOnRgw(tt, 'h2/readable', K, smallSha);
});

section('no key material in the gateway output', async (tt) => {
  await writeFile(path.join(work, 'gateway.log'), gw.output());
  assertNoKeyMaterial(tt, gw.output(), sentKeys, 'gateway stdout+stderr');
  const errors = gw.logs().filter((l) => l.level === 50 || l.level === 'error');
  tt.same(errors.map((l) => l.failure ?? l.msg), [], 'no error-level log lines');
});
