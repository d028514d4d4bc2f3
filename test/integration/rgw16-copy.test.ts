/**
 * RGW 16's copy gaps, filled by the gateway (auth mode sigv4, upstream profile auto → rgw16), with real clients
 * (real-clients.md C and D): CopyObject from an SSE-C source (RGW 16: 501), in-place key rotation K1 → K2,
 * plain → SSE-C (RGW 16 alone: 200 and PLAINTEXT stored), metadata COPY / REPLACE, an object above the 256 MiB
 * multipart threshold (src/gateway.ts: multipartThreshold 256 MiB, partSize 64 MiB), `aws s3 cp` s3 → s3 with
 * different keys (UploadPartCopy; RGW 16 alone: 400), the destination SSE-C echoed, and a wrong source key.
 * Every result is checked straight on RGW (encrypted, with which key, which bytes).
 */
import t, { type Test } from 'tap';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { GetObjectCommand, GetObjectTaggingCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { awsCli, jsS3Client, randomSecret, sseKey, type RunResult, type SseKey } from '../helpers/clients.js';
import { assertNoKeyMaterial } from '../helpers/keys.js';
import { bucketName, createBucket, rgwRequest, sharedRgw } from '../helpers/rgw.js';
import {
  credsOf, newClient, onRgw, parseError, randomFile, requestLines, sendSigned, sha256, sha256File, sha256Stream, ssecHeaders,
  startSigv4Gateway, type RawResponse,
} from '../helpers/sigv4-gateway.js';

const started = performance.now();
const rgw = await sharedRgw();
const bucket = bucketName('rgw16-copy');
const copier = newClient('copier');
const [gw] = await Promise.all([startSigv4Gateway(rgw, { doc: { clients: [copier] } }), createBucket(rgw, bucket)]);
const ep = gw.endpoint(copier);
const js = jsS3Client(ep); // WHEN_REQUIRED: plain bodies for the setup uploads
const work = await mkdtemp(path.join(os.tmpdir(), 'rgw16-copy-'));

// printable 32-character secrets: aws-cli takes them raw (the user guide's form)
const s1 = randomSecret();
const s2 = randomSecret();
const s3 = randomSecret();
const K1 = sseKey(s1);
const K2 = sseKey(s2);
const K3 = sseKey(s3);
const sentKeys = [K1.raw, K2.raw, K3.raw];

const smallFile = path.join(work, 'small.bin');
const smallSha = await randomFile(smallFile, 1024 * 1024 + 13);
const small = await readFile(smallFile);
const bigFile = path.join(work, 'big.bin');
const bigSha = await randomFile(bigFile, 20 * 1024 * 1024);
const big = await readFile(bigFile);

// The 260 MiB source of the multipart-path test is generated and uploaded (K1) in the background while the other
// sections run: it is the slow part of this file.
const LARGE = 260 * 1024 * 1024; // > 256 MiB: 5 parts of 64 MiB
const largeUpload = (async () => {
  const file = path.join(work, 'large.bin');
  const sha = await randomFile(file, LARGE);
  const t0 = performance.now();
  await js.send(new PutObjectCommand({ Bucket: bucket, Key: 'large/src.bin', Body: createReadStream(file), ContentLength: LARGE, ContentType: 'application/x-large', Metadata: { big: 'yes' }, ...sdkSse(K1) }));
  await rm(file);
  return { sha, uploadMs: performance.now() - t0 };
})();
largeUpload.catch(() => undefined); // awaited (and reported) by its section

const timings: [string, number][] = [];
t.teardown(async () => {
  js.destroy();
  await gw.stop();
  await rm(work, { recursive: true, force: true });
  await rm(gw.dir, { recursive: true, force: true });
  t.comment(`timings: ${timings.map(([n, ms]) => `${n} ${(ms / 1000).toFixed(1)} s`).join('; ')}`);
  t.comment(`rgw16-copy wall time: ${((performance.now() - started) / 1000).toFixed(1)} s`);
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

const sseArgs = (secret: string) => ['--sse-customer-algorithm', 'AES256', '--sse-customer-key', secret];
const copySseArgs = (secret: string) => ['--copy-source-sse-customer-algorithm', 'AES256', '--copy-source-sse-customer-key', secret];
function sdkSse(k: SseKey) {
  return { SSECustomerAlgorithm: 'AES256', SSECustomerKey: k.b64, SSECustomerKeyMD5: k.md5 };
}

async function putSsec(key: string, body: Buffer, k: SseKey | undefined, extra: { Metadata?: Record<string, string>; ContentType?: string; Tagging?: string } = {}): Promise<void> {
  await js.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...(k ? sdkSse(k) : {}), ...extra }));
}

/** Straight on RGW: without a key → 400; with the other keys → refused; with `k` → the bytes (sha). Returns the GET's headers. */
async function storedWith(tt: Test, key: string, k: SseKey, sha: string, label: string, notWith: SseKey[] = []): Promise<RawResponse['headers']> {
  const noKey = await onRgw(rgw, 'GET', bucket, key);
  tt.equal(noKey.status, 400, `${label}: GET straight to RGW without a key → 400 (stored encrypted)`);
  for (const other of notWith) {
    const r = await onRgw(rgw, 'GET', bucket, key, other);
    tt.not(r.status, 200, `${label}: not readable with ${other === K1 ? 'K1' : other === K2 ? 'K2' : 'another key'} (RGW → ${r.status})`);
  }
  const withKey = await onRgw(rgw, 'GET', bucket, key, k);
  tt.equal(withKey.status, 200, `${label}: GET straight to RGW with the destination key → 200`);
  tt.equal(sha256(withKey.body), sha, `${label}: identical bytes`);
  return withKey.headers;
}

async function absent(tt: Test, key: string, label: string): Promise<void> {
  tt.equal((await onRgw(rgw, 'HEAD', bucket, key)).status, 404, `${label}: nothing written at ${key} (RGW HEAD → 404)`);
}

// ---- CopyObject with aws-cli v1 s3api copy-object ----------------------------------------------------

section('copy-object SSE-C K1 → SSE-C K2 (aws-cli v1), metadata and Content-Type kept (COPY), replaced (REPLACE)', async (tt) => {
  await putSsec('src/meta.bin', small, K1, { Metadata: { color: 'blue', team: 'storage' }, ContentType: 'text/x-test', Tagging: 'project=apollo' });
  const cp = await awsCli('v1', ep, ['s3api', 'copy-object', '--bucket', bucket, '--key', 'dst/copy.bin', '--copy-source', `${bucket}/src/meta.bin`, ...copySseArgs(s1), ...sseArgs(s2)]);
  if (ok(tt, cp, 'aws s3api copy-object K1 → K2')) {
    const j = JSON.parse(cp.stdout) as { CopyObjectResult?: { ETag?: string }; SSECustomerAlgorithm?: string; SSECustomerKeyMD5?: string };
    tt.ok(j.CopyObjectResult?.ETag, 'CopyObjectResult with an ETag');
    tt.equal(j.SSECustomerAlgorithm, 'AES256', 'the response echoes the destination algorithm');
    tt.equal(j.SSECustomerKeyMD5, K2.md5, 'the response echoes the destination key MD5');
  }
  const h = await storedWith(tt, 'dst/copy.bin', K2, smallSha, 'copy K1 → K2', [K1]);
  tt.equal(h['x-amz-meta-color'], 'blue', 'COPY: x-amz-meta-color kept');
  tt.equal(h['x-amz-meta-team'], 'storage', 'COPY: x-amz-meta-team kept');
  tt.equal(h['content-type'], 'text/x-test', 'COPY: Content-Type kept');
  // S3's x-amz-tagging-directive defaults to COPY (RGW's own copies keep the tags too)
  const tags = async (key: string) => (await js.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }))).TagSet?.map((x) => `${x.Key}=${x.Value}`) ?? [];
  tt.same(await tags('src/meta.bin'), ['project=apollo'], 'setup: the source has a tag');
  tt.same(await tags('dst/copy.bin'), ['project=apollo'], 'COPY: the object tags are kept (tagging directive COPY, the default)');
  const src = await onRgw(rgw, 'GET', bucket, 'src/meta.bin', K1);
  tt.equal(sha256(src.body), smallSha, 'the source is untouched (still K1)');

  const get = await awsCli('v1', ep, ['s3api', 'get-object', '--bucket', bucket, '--key', 'dst/copy.bin', ...sseArgs(s2), path.join(work, 'copy.out')]);
  ok(tt, get, 'aws s3api get-object with K2');
  tt.equal((await sha256File(path.join(work, 'copy.out')).catch(() => ({ sha: '' }))).sha, smallSha, 'get-object through the gateway: identical bytes');

  const rep = await awsCli('v1', ep, ['s3api', 'copy-object', '--bucket', bucket, '--key', 'dst/replaced.bin', '--copy-source', `${bucket}/src/meta.bin`,
    ...copySseArgs(s1), ...sseArgs(s2), '--metadata-directive', 'REPLACE', '--metadata', 'color=red', '--content-type', 'application/x-replaced']);
  ok(tt, rep, 'aws s3api copy-object --metadata-directive REPLACE');
  const h2 = await storedWith(tt, 'dst/replaced.bin', K2, smallSha, 'copy REPLACE');
  tt.equal(h2['x-amz-meta-color'], 'red', 'REPLACE: the new x-amz-meta-color');
  tt.equal(h2['x-amz-meta-team'], undefined, 'REPLACE: the old x-amz-meta-team is gone');
  tt.equal(h2['content-type'], 'application/x-replaced', 'REPLACE: the new Content-Type');
  const head = await js.send(new HeadObjectCommand({ Bucket: bucket, Key: 'dst/replaced.bin', ...sdkSse(K2) }));
  tt.same({ meta: head.Metadata, type: head.ContentType }, { meta: { color: 'red' }, type: 'application/x-replaced' }, 'HEAD through the gateway agrees');
});

section('in-place key rotation K1 → K2 (same bucket and key): K1 no longer works, K2 gives identical bytes', async (tt) => {
  await putSsec('rotate/obj.bin', small, K1, { Metadata: { owner: 'alice' }, ContentType: 'application/x-rot' });
  const cp = await awsCli('v1', ep, ['s3api', 'copy-object', '--bucket', bucket, '--key', 'rotate/obj.bin', '--copy-source', `${bucket}/rotate/obj.bin`, ...copySseArgs(s1), ...sseArgs(s2)]);
  if (ok(tt, cp, 'aws s3api copy-object onto itself, K1 → K2')) tt.equal((JSON.parse(cp.stdout) as { SSECustomerKeyMD5?: string }).SSECustomerKeyMD5, K2.md5, 'echoes K2');
  const withK1 = await awsCli('v1', ep, ['s3api', 'get-object', '--bucket', bucket, '--key', 'rotate/obj.bin', ...sseArgs(s1), path.join(work, 'rot-k1.out')]);
  tt.not(withK1.code, 0, 'GET with K1 fails after the rotation');
  tt.notMatch(withK1.stderr, /InternalError|NoneType/, `…with a proper S3 error: ${withK1.stderr.trim().split('\n').pop()}`);
  const withK2 = await awsCli('v1', ep, ['s3api', 'get-object', '--bucket', bucket, '--key', 'rotate/obj.bin', ...sseArgs(s2), path.join(work, 'rot-k2.out')]);
  ok(tt, withK2, 'GET with K2');
  tt.equal((await sha256File(path.join(work, 'rot-k2.out')).catch(() => ({ sha: '' }))).sha, smallSha, 'GET with K2: identical bytes');
  const h = await storedWith(tt, 'rotate/obj.bin', K2, smallSha, 'rotated in place', [K1]);
  tt.equal(h['x-amz-meta-owner'], 'alice', 'metadata kept across the rotation');
  tt.equal(h['content-type'], 'application/x-rot', 'Content-Type kept across the rotation');
  // 20 MiB: the PUT of the new version runs while the GET of the old one is still streaming from the same key
  await putSsec('rotate/big.bin', big, K1);
  const cpBig = await awsCli('v1', ep, ['s3api', 'copy-object', '--bucket', bucket, '--key', 'rotate/big.bin', '--copy-source', `${bucket}/rotate/big.bin`, ...copySseArgs(s1), ...sseArgs(s2)]);
  ok(tt, cpBig, 'aws s3api copy-object of 20 MiB onto itself, K1 → K2');
  await storedWith(tt, 'rotate/big.bin', K2, bigSha, 'a 20 MiB object rotated in place', [K1]);
  // the same key again (K2 → K2, nothing changed) is S3's illegal self-copy
  const again = await sendSigned(gw.url, gw.ca, credsOf(copier), {
    method: 'PUT', path: `/${bucket}/rotate/obj.bin`, headers: { 'x-amz-copy-source': `/${bucket}/rotate/obj.bin`, ...ssecHeaders(K2, true), ...ssecHeaders(K2) },
  });
  tt.equal(again.status, 400, 'K2 → K2 onto itself: 400');
  tt.equal(parseError(again.text).code, 'InvalidRequest', 'K2 → K2 onto itself: InvalidRequest (illegal self-copy)');
});

section('keys with spaces, unicode and reserved characters, as source and destination', async (tt) => {
  const srcKey = "dir/weird key (1)!*~+=&$@,;:'ü€.txt";
  const dstKey = 'dst/ünïcode + space=1&x.bin';
  await putSsec(srcKey, small, K1, { Metadata: { n: '1' } });
  const cp = await awsCli('v1', ep, ['s3api', 'copy-object', '--bucket', bucket, '--key', dstKey, '--copy-source', `${bucket}/${srcKey}`, ...copySseArgs(s1), ...sseArgs(s2)]);
  ok(tt, cp, 'aws s3api copy-object with a weird source and destination key');
  const h = await storedWith(tt, dstKey, K2, smallSha, 'weird keys', [K1]);
  tt.equal(h['x-amz-meta-n'], '1', 'metadata kept');
  const cp2 = await awsCli('v1', ep, ['s3', 'cp', `s3://${bucket}/${srcKey}`, `s3://${bucket}/dst/weird via s3 cp ü.bin`,
    '--sse-c-copy-source', 'AES256', '--sse-c-copy-source-key', s1, '--sse-c', 'AES256', '--sse-c-key', s2]);
  ok(tt, cp2, 'aws s3 cp s3 → s3 with a weird source key');
  await storedWith(tt, 'dst/weird via s3 cp ü.bin', K2, smallSha, 'weird keys via s3 cp');
});

section('copy-source conditions: x-amz-copy-source-if-match / -if-none-match', async (tt) => {
  const head = await js.send(new HeadObjectCommand({ Bucket: bucket, Key: 'src/meta.bin', ...sdkSse(K1) }));
  const etag = head.ETag!;
  const base = ['s3api', 'copy-object', '--bucket', bucket, '--copy-source', `${bucket}/src/meta.bin`, ...copySseArgs(s1), ...sseArgs(s2)];
  ok(tt, await awsCli('v1', ep, [...base, '--key', 'cond/match.bin', '--copy-source-if-match', etag]), 'if-match the current ETag: copied');
  await storedWith(tt, 'cond/match.bin', K2, smallSha, 'if-match');
  const send = (req: Parameters<typeof sendSigned>[3]) => sendSigned(gw.url, gw.ca, credsOf(copier), req);
  for (const [hdr, value] of [['x-amz-copy-source-if-none-match', etag], ['x-amz-copy-source-if-match', '"0123456789abcdef0123456789abcdef"']] as const) {
    const r = await send({ method: 'PUT', path: `/${bucket}/cond/${hdr}.bin`, headers: { 'x-amz-copy-source': `/${bucket}/src/meta.bin`, [hdr]: value, ...ssecHeaders(K1, true), ...ssecHeaders(K2) } });
    tt.equal(r.status, 412, `${hdr} failing: 412`, { body: r.text });
    tt.equal(parseError(r.text).code, 'PreconditionFailed', `${hdr} failing: PreconditionFailed`);
    await absent(tt, `cond/${hdr}.bin`, `${hdr} failing`);
  }
});

section('plain → SSE-C copy really ends encrypted (RGW 16 alone stores plaintext), also in place', async (tt) => {
  await putSsec('plain/src.bin', small, undefined, { ContentType: 'text/plain' });
  tt.equal((await onRgw(rgw, 'GET', bucket, 'plain/src.bin')).status, 200, 'setup: the source is plaintext on RGW');
  const cp = await awsCli('v1', ep, ['s3api', 'copy-object', '--bucket', bucket, '--key', 'plain/encrypted.bin', '--copy-source', `${bucket}/plain/src.bin`, ...sseArgs(s2)]);
  if (ok(tt, cp, 'aws s3api copy-object plain → SSE-C')) tt.equal((JSON.parse(cp.stdout) as { SSECustomerKeyMD5?: string }).SSECustomerKeyMD5, K2.md5, 'echoes K2');
  const h = await storedWith(tt, 'plain/encrypted.bin', K2, smallSha, 'plain → SSE-C');
  tt.equal(h['content-type'], 'text/plain', 'Content-Type kept');

  await putSsec('plain/inplace.bin', small, undefined);
  const cp2 = await awsCli('v1', ep, ['s3api', 'copy-object', '--bucket', bucket, '--key', 'plain/inplace.bin', '--copy-source', `${bucket}/plain/inplace.bin`, ...sseArgs(s2)]);
  ok(tt, cp2, 'aws s3api copy-object plain → SSE-C onto itself (encrypting an existing object)');
  await storedWith(tt, 'plain/inplace.bin', K2, smallSha, 'plain → SSE-C in place');
});

// ---- the multipart path of CopyObject -----------------------------------------------------------------

section('an object above the 256 MiB multipart threshold: copy-object K1 → K2 via the multipart path, bytes compared by hash', async (tt) => {
  const SIZE = LARGE;
  const { sha, uploadMs } = await largeUpload;
  const t1 = performance.now();
  const cp = await awsCli('v1', ep, ['s3api', 'copy-object', '--bucket', bucket, '--key', 'large/dst.bin', '--copy-source', `${bucket}/large/src.bin`,
    ...copySseArgs(s1), ...sseArgs(s2)], { timeoutMs: 300_000 }); // aws-cli's default 60 s read timeout
  const t2 = performance.now();
  if (ok(tt, cp, 'aws s3api copy-object of 260 MiB')) tt.equal((JSON.parse(cp.stdout) as { SSECustomerKeyMD5?: string }).SSECustomerKeyMD5, K2.md5, 'echoes K2');
  const head = await rgwRequest(rgw, { method: 'HEAD', path: `/${bucket}/large/dst.bin`, headers: { 'x-forwarded-proto': 'https', ...ssecHeaders(K2) } });
  tt.equal(head.status, 200, 'the copy exists on RGW, readable with K2');
  tt.equal(Number(head.headers['content-length']), SIZE, 'full size');
  tt.match(String(head.headers.etag), /-5"?$/, `written as a 5-part multipart upload (ETag ${head.headers.etag})`);
  tt.equal(head.headers['x-amz-meta-big'], 'yes', 'metadata kept');
  tt.equal(head.headers['content-type'], 'application/x-large', 'Content-Type kept');
  tt.equal((await onRgw(rgw, 'HEAD', bucket, 'large/dst.bin')).status, 400, 'HEAD straight to RGW without a key → 400 (encrypted)');
  tt.not((await onRgw(rgw, 'HEAD', bucket, 'large/dst.bin', K1)).status, 200, 'not readable with K1');
  const got = await js.send(new GetObjectCommand({ Bucket: bucket, Key: 'large/dst.bin', ...sdkSse(K2) }));
  const h = await sha256Stream(got.Body as Readable);
  const t3 = performance.now();
  tt.same(h, { sha, size: SIZE }, 'GET through the gateway with K2: identical bytes (hashed as streamed)');
  const peak = gw.memory().peak;
  tt.ok(peak < SIZE, `the gateway never held the object: peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`);
  tt.comment(`260 MiB: upload ${(uploadMs / 1000).toFixed(1)} s (in the background), copy ${((t2 - t1) / 1000).toFixed(1)} s, download+hash ${((t3 - t2) / 1000).toFixed(1)} s`);
});

// ---- UploadPartCopy --------------------------------------------------------------------------------------

for (const v of ['v1', 'v2'] as const) {
  section(`aws-cli ${v} s3 cp s3 → s3 of 20 MiB with --sse-c-copy-source K1 --sse-c K2 (UploadPartCopy)`, async (tt) => {
    if (v === 'v1') await putSsec('mp/src.bin', big, K1);
    const dst = `mp/dst-${v}.bin`;
    const cp = await awsCli(v, ep, ['s3', 'cp', `s3://${bucket}/mp/src.bin`, `s3://${bucket}/${dst}`,
      '--sse-c-copy-source', 'AES256', '--sse-c-copy-source-key', s1, '--sse-c', 'AES256', '--sse-c-key', s2]);
    ok(tt, cp, `aws ${v} s3 cp s3 → s3, K1 → K2`);
    const parts = requestLines(gw).filter((l) => l.op === 'UploadPartCopy' && String(l.url).startsWith(`/${bucket}/${dst}?`));
    tt.ok(parts.length >= 2 && parts.every((l) => l.status === 200), `done as UploadPartCopy: ${parts.length} parts, all 200`);
    const headers = await storedWith(tt, dst, K2, bigSha, `s3 cp ${v}`, [K1]);
    tt.match(String(headers.etag), new RegExp(`-${parts.length}"?$`), `stored as a ${parts.length}-part upload`);
    if (v === 'v1') {
      const out = path.join(work, `mp-${v}.out`);
      ok(tt, await awsCli(v, ep, ['s3', 'cp', `s3://${bucket}/${dst}`, out, '--sse-c', 'AES256', '--sse-c-key', s2]), `aws ${v} s3 cp down with K2`);
      tt.equal((await sha256File(out).catch(() => ({ sha: '' }))).sha, bigSha, 'downloaded through the gateway: identical bytes');
    }
  });
}

section('the gateway\'s copies echo the destination SSE-C (CopyObject, UploadPartCopy with ranges)', async (tt) => {
  const send = (req: Parameters<typeof sendSigned>[3]) => sendSigned(gw.url, gw.ca, credsOf(copier), req);
  const copy = await send({ method: 'PUT', path: `/${bucket}/echo/copy.bin`, headers: { 'x-amz-copy-source': `/${bucket}/src/meta.bin`, ...ssecHeaders(K1, true), ...ssecHeaders(K2) } });
  tt.equal(copy.status, 200, 'CopyObject: 200', { body: copy.text });
  tt.match(copy.text, /<CopyObjectResult[^>]*>.*<ETag>.+<\/ETag>.*<\/CopyObjectResult>/s, 'CopyObjectResult body');
  tt.equal(copy.headers['x-amz-server-side-encryption-customer-algorithm'], 'AES256', 'CopyObject: algorithm echoed');
  tt.equal(copy.headers['x-amz-server-side-encryption-customer-key-md5'], K2.md5, 'CopyObject: destination key MD5 echoed');
  tt.equal(copy.headers['x-amz-server-side-encryption-customer-key'], undefined, 'the key itself is never echoed');

  // a multipart upload assembled from two ranged UploadPartCopy calls
  const create = await send({ method: 'POST', path: `/${bucket}/echo/parts.bin`, query: { uploads: '' }, headers: ssecHeaders(K2) });
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(create.text)?.[1] ?? '';
  tt.equal(create.status, 200, 'CreateMultipartUpload with K2');
  const SPLIT = 5 * 1024 * 1024;
  const etags: string[] = [];
  for (const [n, range] of [[1, `bytes=0-${SPLIT - 1}`], [2, `bytes=${SPLIT}-${big.length - 1}`]] as const) {
    const r = await send({
      method: 'PUT', path: `/${bucket}/echo/parts.bin`, query: { partNumber: String(n), uploadId },
      headers: { 'x-amz-copy-source': `/${bucket}/mp/src.bin`, 'x-amz-copy-source-range': range, ...ssecHeaders(K1, true), ...ssecHeaders(K2) },
    });
    tt.equal(r.status, 200, `UploadPartCopy ${n} (${range}): 200`, { body: r.text });
    tt.match(r.text, /<CopyPartResult[^>]*>.*<ETag>.+<\/ETag>/s, `UploadPartCopy ${n}: CopyPartResult body`);
    tt.equal(r.headers['x-amz-server-side-encryption-customer-algorithm'], 'AES256', `UploadPartCopy ${n}: algorithm echoed`);
    tt.equal(r.headers['x-amz-server-side-encryption-customer-key-md5'], K2.md5, `UploadPartCopy ${n}: destination key MD5 echoed`);
    etags.push(/<ETag>([^<]+)<\/ETag>/.exec(r.text)?.[1]?.replace(/&quot;/g, '"') ?? '');
  }
  const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
  const done = await send({ method: 'POST', path: `/${bucket}/echo/parts.bin`, query: { uploadId }, headers: ssecHeaders(K2), body: xml });
  tt.equal(done.status, 200, 'CompleteMultipartUpload', { body: done.text });
  await storedWith(tt, 'echo/parts.bin', K2, bigSha, 'ranged UploadPartCopy K1 → K2', [K1]);
});

section('a wrong source key → an S3 error (not 500), and nothing written at the destination', async (tt) => {
  const send = (req: Parameters<typeof sendSigned>[3]) => sendSigned(gw.url, gw.ca, credsOf(copier), req);
  const r = await send({ method: 'PUT', path: `/${bucket}/wrong/copy.bin`, headers: { 'x-amz-copy-source': `/${bucket}/src/meta.bin`, ...ssecHeaders(K3, true), ...ssecHeaders(K2) } });
  const e = parseError(r.text);
  tt.ok(r.status >= 400 && r.status < 500, `CopyObject with a wrong source key → ${r.status} ${e.code}: ${e.message}`);
  tt.ok(e.code && e.code !== 'InternalError', 'an S3 error code');
  tt.ok(e.message, 'with a message');
  await absent(tt, 'wrong/copy.bin', 'wrong source key');

  const cli = await awsCli('v1', ep, ['s3api', 'copy-object', '--bucket', bucket, '--key', 'wrong/cli.bin', '--copy-source', `${bucket}/src/meta.bin`, ...copySseArgs(s3), ...sseArgs(s2)]);
  tt.not(cli.code, 0, 'aws-cli copy-object with a wrong source key fails');
  tt.notMatch(cli.stderr, /NoneType|InternalError/, `…cleanly: ${cli.stderr.trim().split('\n').pop()}`);
  await absent(tt, 'wrong/cli.bin', 'aws-cli, wrong source key');

  const large = await send({ method: 'PUT', path: `/${bucket}/wrong/large.bin`, headers: { 'x-amz-copy-source': `/${bucket}/large/src.bin`, ...ssecHeaders(K3, true), ...ssecHeaders(K2) } });
  tt.ok(large.status >= 400 && large.status < 500, `CopyObject of the 260 MiB object with a wrong source key → ${large.status} ${parseError(large.text).code}`);
  await absent(tt, 'wrong/large.bin', 'wrong source key, large object');

  const create = await send({ method: 'POST', path: `/${bucket}/wrong/parts.bin`, query: { uploads: '' }, headers: ssecHeaders(K2) });
  const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(create.text)?.[1] ?? '';
  const part = await send({
    method: 'PUT', path: `/${bucket}/wrong/parts.bin`, query: { partNumber: '1', uploadId },
    headers: { 'x-amz-copy-source': `/${bucket}/mp/src.bin`, ...ssecHeaders(K3, true), ...ssecHeaders(K2) },
  });
  tt.ok(part.status >= 400 && part.status < 500, `UploadPartCopy with a wrong source key → ${part.status} ${parseError(part.text).code}`);
  const list = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}/wrong/parts.bin`, query: { uploadId }, headers: { 'x-forwarded-proto': 'https', ...ssecHeaders(K2) } });
  tt.equal((list.body.toString().match(/<Part>/g) ?? []).length, 0, 'the upload has no part on RGW');
  await send({ method: 'DELETE', path: `/${bucket}/wrong/parts.bin`, query: { uploadId } });
});

section('no key material in the gateway output', async (tt) => {
  assertNoKeyMaterial(tt, gw.output(), sentKeys, 'gateway stdout+stderr');
  const internal = requestLines(gw).filter((l) => Number(l.status) >= 500);
  tt.same(internal.map((l) => `${l.op} ${l.status} ${l.failure}`), [], 'no 5xx answered in this file');
});
