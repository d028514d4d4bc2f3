// The user guide (docs/user-guide-sse-c.txt), run through the gateway with the commands users type:
// key material made the guide's way (`echo -n $secret | base64`, `openssl rand 32 > sse-c.key`, ...),
// then aws-cli v1 and v2 `s3api put-object` / `get-object`, `s3 cp --sse-c-key $secret` and
// `--sse-c-key fileb://sse-c.key`, each downloaded again and compared byte for byte. Then what the guide
// implies: multipart (20 MiB, ETag `-N`), ranged GETs across the 8 MiB part boundary, HEAD with and
// without the key, and proof that RGW really stores the objects encrypted with the user's key.
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { awsCli, randomSecret, sseKey, type Endpoint, type RunResult, type SseKey } from '../helpers/clients.js';
import { startGateway } from '../helpers/gateway.js';
import { assertNoKeyMaterial } from '../helpers/keys.js';
import { bucketName, createBucket, rgwRequest, sharedRgw } from '../helpers/rgw.js';

const VERSIONS = ['v1', 'v2'] as const;
type Version = (typeof VERSIONS)[number];

const rgw = await sharedRgw();
const gw = await startGateway({ upstream: rgw.http });
let stopping = false;
gw.child.once('exit', (code, signal) => {
  if (!stopping) t.fail(`the gateway exited during the test (code ${code}, signal ${signal})`, { output: gw.output().slice(-4000) });
});
const ep: Endpoint = { url: gw.url, accessKey: rgw.accessKey, secretKey: rgw.secretKey, region: rgw.region, caFile: gw.caFile };
// botocore >= 1.36 (aws-cli v1) frames uploads aws-chunked with a checksum trailer, which RGW 16 refuses.
const WHEN_REQUIRED = { AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required' };

const bucket = bucketName('guide');
await createBucket(rgw, bucket);
const work = await mkdtemp(path.join(os.tmpdir(), 'guide-test-'));
const allKeys: Buffer[] = [];

t.teardown(async () => {
  stopping = true;
  await gw.stop();
  // best-effort cleanup straight on RGW (DELETE needs no key)
  const list = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}`, query: { 'list-type': '2' } }).catch(() => undefined);
  const keys = [...(list?.body.toString('utf8') ?? '').matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]!);
  for (const k of keys) await rgwRequest(rgw, { method: 'DELETE', path: `/${bucket}/${k}` }).catch(() => undefined);
  await rgwRequest(rgw, { method: 'DELETE', path: `/${bucket}` }).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
});

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Runs a shell line (bash -c) in the work dir, the way the guide's Example 1 does; returns stdout. */
function sh(line: string, env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', ['-c', line], { cwd: work, env: { ...process.env, ...env }, encoding: 'utf8' }, (err, stdout, stderr) =>
      err ? reject(new Error(`${line}: ${err.message}\n${stderr}`)) : resolve(stdout.trim()),
    );
  });
}

function cli(v: Version, args: string[]): Promise<RunResult> {
  return awsCli(v, ep, args, { env: WHEN_REQUIRED, cwd: work });
}

function ok(tt: Test, r: RunResult, what: string): boolean {
  const good = tt.equal(r.code, 0, `${what}: exit 0`, { stdout: r.stdout.slice(-2000), stderr: r.stderr.slice(-4000) });
  assertNoKeyMaterial(tt, r.stdout + r.stderr, allKeys, `${what}: client output`);
  return good;
}

async function sameBytes(tt: Tap, file: string, expected: Buffer, what: string): Promise<void> {
  const got = await readFile(path.join(work, file)).catch(() => Buffer.alloc(0));
  tt.equal(got.length, expected.length, `${what}: ${expected.length} bytes`);
  tt.equal(sha256(got), sha256(expected), `${what}: identical bytes`);
}
type Tap = Test;

/** On RGW's own TLS port (so the answer is about the object, not about http): no key → 400; key → plaintext. */
async function encryptedAtRest(tt: Tap, key: string, k: SseKey, body: Buffer): Promise<void> {
  const noKey = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}/${key}`, endpoint: 'https' });
  tt.equal(noKey.status, 400, `${key}: RGW GET without a key → 400`);
  tt.match(noKey.body.toString('utf8'), /InvalidArgument/, `${key}: RGW says the object needs its key`);
  const withKey = await rgwRequest(rgw, {
    method: 'GET', path: `/${bucket}/${key}`, endpoint: 'https',
    headers: {
      'x-amz-server-side-encryption-customer-algorithm': 'AES256',
      'x-amz-server-side-encryption-customer-key': k.b64,
      'x-amz-server-side-encryption-customer-key-md5': k.md5,
    },
  });
  tt.equal(withKey.status, 200, `${key}: RGW GET with the user's key → 200`);
  tt.equal(withKey.headers['x-amz-server-side-encryption-customer-key-md5'], k.md5, `${key}: stored under the user's key`);
  tt.equal(sha256(withKey.body), sha256(body), `${key}: RGW decrypts to the uploaded bytes`);
}

// ---- Example 1: header values, computed by the shell exactly as the guide does ---------------------------

const secret = randomSecret();
const guideSecret = '32bytesOfTotallyRandomCharacters';
const shellKey = async (s: string) => ({
  key: await sh('echo -n $secret | base64', { secret: s }),
  keymd5: await sh('echo -n $secret | openssl dgst -md5 -binary | base64', { secret: s }),
});
const k1 = sseKey(secret);
const kGuide = sseKey(guideSecret);
await sh('openssl rand 32 > sse-c.key');
const fileRaw = await readFile(path.join(work, 'sse-c.key'));
const kFile: SseKey = { raw: fileRaw, b64: fileRaw.toString('base64'), md5: createHash('md5').update(fileRaw).digest('base64') };
allKeys.push(k1.raw, kGuide.raw, kFile.raw);

t.test('Example 1: the shell computes the header values the gateway expects', async (tt) => {
  const a = await shellKey(secret);
  tt.equal(a.key, k1.b64, 'key=$(echo -n $secret | base64)');
  tt.equal(a.keymd5, k1.md5, 'keymd5=$(echo -n $secret | openssl dgst -md5 -binary | base64)');
  const g = await shellKey(guideSecret);
  tt.equal(g.key, kGuide.b64, "the guide's literal secret");
  tt.equal(g.keymd5, kGuide.md5);
  tt.equal(kFile.raw.length, 32, 'openssl rand 32 > sse-c.key');
  tt.equal(await sh('cat sse-c.key | base64'), kFile.b64, 'key=$(cat sse-c.key | base64)');
  tt.equal(await sh('cat sse-c.key | openssl dgst -md5 -binary | base64'), kFile.md5, 'keymd5=$(cat sse-c.key | openssl dgst -md5 -binary | base64)');
});

// ---- Examples 2-4 and the two download forms, with aws-cli v1 and v2 ------------------------------------

for (const v of VERSIONS) {
  t.test(`aws-cli ${v}: the guide's commands through the gateway`, async (tt) => {
    const contents = randomBytes(64 * 1024 + 13);
    await writeFile(path.join(work, 'contents.txt'), contents);

    // Example 2 (s3api put-object, $key and $keymd5 from the shell), downloaded with get-object --sse-customer-key $secret
    for (const [label, s] of [['random $secret', secret], ['32bytesOfTotallyRandomCharacters', guideSecret]] as const) {
      const { key, keymd5 } = await shellKey(s);
      const obj = `${v}/s3api-${s === secret ? 'random' : 'literal'}`;
      const put = await cli(v, [
        's3api', 'put-object', '--bucket', bucket, '--key', obj, '--body', 'contents.txt',
        '--sse-customer-algorithm', 'AES256', '--sse-customer-key', key, '--sse-customer-key-md5', keymd5,
      ]);
      if (ok(tt, put, `${label}: s3api put-object --sse-customer-key $key --sse-customer-key-md5 $keymd5`)) {
        const j = JSON.parse(put.stdout) as { SSECustomerAlgorithm?: string; SSECustomerKeyMD5?: string };
        tt.equal(j.SSECustomerAlgorithm, 'AES256', 'put-object echoes AES256');
        tt.equal(j.SSECustomerKeyMD5, keymd5, 'put-object echoes $keymd5');
      }
      const out = `${v}-${s === secret ? 'random' : 'literal'}.out`;
      const get = await cli(v, ['s3api', 'get-object', out, '--bucket', bucket, '--key', obj, '--sse-customer-key', s, '--sse-customer-algorithm', 'AES256']);
      if (ok(tt, get, `${label}: s3api get-object --sse-customer-key $secret`)) {
        const j = JSON.parse(get.stdout) as { SSECustomerKeyMD5?: string; ContentLength?: number };
        tt.equal(j.SSECustomerKeyMD5, keymd5, 'get-object echoes the same key MD5');
        tt.equal(j.ContentLength, contents.length);
      }
      await sameBytes(tt, out, contents, `${label}: download`);
    }

    // Example 3: aws s3 cp file.txt s3://bucket/ --sse-c-key $secret --sse-c AES256
    const f3 = `${v}-example3.txt`;
    await writeFile(path.join(work, f3), contents);
    ok(tt, await cli(v, ['s3', 'cp', f3, `s3://${bucket}/`, '--sse-c-key', secret, '--sse-c', 'AES256']), 's3 cp --sse-c-key $secret');
    ok(tt, await cli(v, ['s3api', 'get-object', `${f3}.out`, '--bucket', bucket, '--key', f3, '--sse-customer-key', secret, '--sse-customer-algorithm', 'AES256']), 'get-object of the s3 cp upload');
    await sameBytes(tt, `${f3}.out`, contents, 'Example 3 download');

    // Example 4: aws s3 cp file.txt s3://bucket/ --sse-c-key fileb://sse-c.key --sse-c AES256
    const f4 = `${v}-example4.txt`;
    await writeFile(path.join(work, f4), contents);
    ok(tt, await cli(v, ['s3', 'cp', f4, `s3://${bucket}/`, '--sse-c-key', 'fileb://sse-c.key', '--sse-c', 'AES256']), 's3 cp --sse-c-key fileb://sse-c.key');
    // the guide's second download form: get-object --sse-customer-key fileb://<key_name>
    const get4 = await cli(v, ['s3api', 'get-object', `${f4}.out`, '--bucket', bucket, '--key', f4, '--sse-customer-key', 'fileb://sse-c.key', '--sse-customer-algorithm', 'AES256']);
    if (ok(tt, get4, 'get-object --sse-customer-key fileb://sse-c.key')) {
      tt.equal((JSON.parse(get4.stdout) as { SSECustomerKeyMD5?: string }).SSECustomerKeyMD5, kFile.md5, 'stored under the openssl rand key');
    }
    await sameBytes(tt, `${f4}.out`, contents, 'Example 4 download');

    // the wrong key form is refused (the file key cannot read the $secret object)
    const wrong = await cli(v, ['s3api', 'get-object', 'wrong.out', '--bucket', bucket, '--key', f3, '--sse-customer-key', 'fileb://sse-c.key', '--sse-customer-algorithm', 'AES256']);
    tt.not(wrong.code, 0, 'get-object with another key fails');
    tt.match(wrong.stderr, /\(400\)|\(403\)|InvalidArgument|AccessDenied/, 'with a 400/403 S3 error', { stderr: wrong.stderr.slice(-1000) });
    tt.notMatch(wrong.stderr, /NoneType/, 'aws-cli does not crash on the error body');

    await encryptedAtRest(tt, `${v}/s3api-random`, k1, contents);
    await encryptedAtRest(tt, `${v}/s3api-literal`, kGuide, contents);
    await encryptedAtRest(tt, f3, k1, contents);
    await encryptedAtRest(tt, f4, kFile, contents);
  });
}

// ---- multipart, ranges, HEAD ---------------------------------------------------------------------------

const MiB = 1024 * 1024;
const big = randomBytes(20 * MiB);
await writeFile(path.join(work, 'big.bin'), big);

for (const v of VERSIONS) {
  t.test(`aws-cli ${v}: 20 MiB multipart s3 cp, head-object${v === 'v1' ? ', ranged get-object' : ''}`, async (tt) => {
    const obj = `${v}-big.bin`;
    await writeFile(path.join(work, obj), big);
    const up = await cli(v, ['s3', 'cp', obj, `s3://${bucket}/`, '--sse-c', 'AES256', '--sse-c-key', secret]);
    ok(tt, up, 's3 cp 20 MiB up (multipart)');
    const down = await cli(v, ['s3', 'cp', `s3://${bucket}/${obj}`, `${obj}.out`, '--sse-c', 'AES256', '--sse-c-key', secret]);
    ok(tt, down, 's3 cp 20 MiB down');
    const got = await readFile(path.join(work, `${obj}.out`)).catch(() => Buffer.alloc(0));
    tt.equal(sha256(got), sha256(big), '20 MiB: same sha256 after the round trip');

    // HEAD with the key
    const head = await cli(v, ['s3api', 'head-object', '--bucket', bucket, '--key', obj, '--sse-customer-key', secret, '--sse-customer-algorithm', 'AES256']);
    if (ok(tt, head, 'head-object with the key')) {
      const j = JSON.parse(head.stdout) as { ContentLength?: number; SSECustomerAlgorithm?: string; SSECustomerKeyMD5?: string; ETag?: string };
      tt.equal(j.ContentLength, big.length, 'ContentLength = plaintext size');
      tt.equal(j.SSECustomerAlgorithm, 'AES256');
      tt.equal(j.SSECustomerKeyMD5, k1.md5, 'SSECustomerKeyMD5 echoed');
      tt.match(j.ETag, /^"?[0-9a-f]{32}-3"?$/, `stored ETag ends with -3 (8 MiB parts): ${j.ETag}`);
    }
    // HEAD without the key
    const headNoKey = await cli(v, ['s3api', 'head-object', '--bucket', bucket, '--key', obj]);
    tt.not(headNoKey.code, 0, 'head-object without the key fails');
    tt.match(headNoKey.stderr, /\(400\)/, 'with 400', { stderr: headNoKey.stderr.slice(-1000) });

    // ranged GETs (one client is enough: the ranges are what is tested, not the CLI): inside part 1, across the 8 MiB and 16 MiB part boundaries, suffix and open-ended ranges
    if (v !== 'v1') return encryptedAtRest(tt, obj, k1, big);
    const n = big.length;
    const ranges: { spec: string; start: number; end: number }[] = [
      { spec: 'bytes=-1', start: n - 1, end: n - 1 },
      { spec: 'bytes=100-4195', start: 100, end: 4195 },
      { spec: 'bytes=8388000-8389000', start: 8388000, end: 8389000 },
      { spec: `bytes=${8 * MiB - 1}-${8 * MiB}`, start: 8 * MiB - 1, end: 8 * MiB },
      { spec: `bytes=${4 * MiB}-${17 * MiB}`, start: 4 * MiB, end: 17 * MiB },
      { spec: 'bytes=-5000000', start: n - 5000000, end: n - 1 },
      { spec: `bytes=${16 * MiB - 10}-`, start: 16 * MiB - 10, end: n - 1 },
    ];
    const results = await Promise.all(ranges.map((r, i) =>
      cli(v, ['s3api', 'get-object', `${obj}.range${i}`, '--bucket', bucket, '--key', obj, '--range', r.spec, '--sse-customer-key', secret, '--sse-customer-algorithm', 'AES256'])));
    for (const [i, r] of ranges.entries()) {
      const res = results[i]!;
      if (!ok(tt, res, `get-object --range ${r.spec}`)) continue;
      const j = JSON.parse(res.stdout) as { ContentRange?: string; ContentLength?: number; SSECustomerKeyMD5?: string };
      tt.equal(j.ContentRange, `bytes ${r.start}-${r.end}/${n}`, `${r.spec}: Content-Range`);
      tt.equal(j.ContentLength, r.end - r.start + 1, `${r.spec}: Content-Length`);
      tt.equal(j.SSECustomerKeyMD5, k1.md5, `${r.spec}: key MD5 echoed`);
      const part = await readFile(path.join(work, `${obj}.range${i}`));
      tt.ok(part.equals(big.subarray(r.start, r.end + 1)), `${r.spec}: the right bytes`);
    }

    await encryptedAtRest(tt, obj, k1, big);
  });
}

t.test('the gateway logged every request and no key material', async (tt) => {
  const reqs = gw.logs().filter((l) => l.msg === 'request');
  tt.ok(reqs.length > 30, `${reqs.length} request lines`);
  tt.ok(reqs.some((l) => l.op === 'CompleteMultipartUpload' && l.status === 200), 'multipart completed through the gateway');
  tt.ok(reqs.some((l) => l.op === 'HeadObject' && l.status === 400), 'the keyless HEAD was answered 400');
  assertNoKeyMaterial(tt, gw.output(), allKeys, 'gateway output');
});
