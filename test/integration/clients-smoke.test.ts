// Proves test/helpers/clients.ts drives every real client correctly, against RGW's own https endpoint
// (real TLS, trusted through caFile). Until the gateway exists this targets RGW directly, so it works
// around RGW 16's known failures (real-clients.md A/B): request checksums are set to WHEN_REQUIRED.
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  awsCli,
  boto3,
  jsS3Client,
  randomSecret,
  rclone,
  s3cmd,
  sseKey,
  type Endpoint,
  type RunResult,
  type SseKey,
} from '../helpers/clients.js';
import { assertNoKeyMaterial, keyForms } from '../helpers/keys.js';
import { bucketName, sharedRgw } from '../helpers/rgw.js';

const rgw = await sharedRgw();
const ep: Endpoint = {
  url: rgw.https,
  accessKey: rgw.accessKey,
  secretKey: rgw.secretKey,
  region: rgw.region,
  caFile: rgw.caFile,
};
// botocore >= 1.36 (aws-cli v1, boto3) sends aws-chunked uploads with a checksum trailer; RGW 16 refuses them.
const WHEN_REQUIRED = { AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required' };

const bucket = bucketName('clients-smoke');
const work = await mkdtemp(path.join(os.tmpdir(), 'clients-smoke-'));
const body = randomBytes(100 * 1024 + 7);
const bodySha = sha256(body);
const bodyFile = path.join(work, 'body.bin');
await writeFile(bodyFile, body);

// The user guide's key: a 32-character printable $secret, key=$(echo -n $secret | base64), and sse-c.key = its bytes.
const secret = randomSecret();
const guideKey = sseKey(secret);
await writeFile(path.join(work, 'sse-c.key'), guideKey.raw);
const allKeys: Buffer[] = [guideKey.raw];

const js = jsS3Client(ep);
await js.send(new CreateBucketCommand({ Bucket: bucket }));

const timings: Record<string, number[]> = {};
async function timed<T>(client: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    (timings[client] ??= []).push(performance.now() - t0);
  }
}

t.teardown(async () => {
  const ms = Object.entries(timings).map(
    ([c, v]) => `${c}: ${v.length} calls, ${Math.round(v.reduce((a, b) => a + b, 0) / v.length)} ms avg, max ${Math.round(Math.max(...v))} ms`,
  );
  t.comment(`per-call wall time\n${ms.join('\n')}`);
  const list = await js.send(new ListObjectsV2Command({ Bucket: bucket })).catch(() => undefined);
  for (const o of list?.Contents ?? []) await js.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key! }));
  await js.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
  js.destroy();
  await rm(work, { recursive: true, force: true });
});

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

function ok(tt: Tap, r: RunResult, what: string): boolean {
  const good = tt.equal(r.code, 0, `${what}: exit 0`, { stdout: r.stdout.slice(-2000), stderr: r.stderr.slice(-4000) });
  assertNoKeyMaterial(tt, r.stdout + r.stderr, allKeys, `${what}: client output`);
  return good;
}

async function sameFile(tt: Tap, file: string, what: string): Promise<void> {
  const got = await readFile(file).catch(() => Buffer.alloc(0));
  tt.equal(sha256(got), bodySha, `${what}: identical bytes (${got.length}/${body.length})`);
}

/** Independently (JS SDK) checks that `key` is SSE-C encrypted on RGW with `k`, holding the body. */
async function storedEncrypted(tt: Tap, key: string, k: SseKey): Promise<void> {
  const noKey = await js.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
    () => 200,
    (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode ?? -1,
  );
  tt.equal(noKey, 400, `${key}: HEAD without the key is refused`);
  const sse = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: k.b64, SSECustomerKeyMD5: k.md5 };
  const got = await js.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...sse }));
  tt.equal(got.SSECustomerKeyMD5, k.md5, `${key}: stored with the expected key`);
  tt.equal(sha256(await got.Body!.transformToByteArray()), bodySha, `${key}: plaintext matches`);
}

type Tap = Test;

t.test('keys helpers', async (tt) => {
  const k = sseKey(secret);
  tt.equal(k.raw.toString('utf8'), secret);
  tt.equal(k.b64, Buffer.from(secret).toString('base64'), 'guide form: echo -n $secret | base64');
  tt.equal(k.md5, createHash('md5').update(secret).digest('base64'));
  const r = sseKey();
  tt.equal(r.raw.length, 32);
  tt.not(r.b64, sseKey().b64, 'random');
  tt.same(keyForms(r.raw), [r.raw.toString('latin1'), r.b64, r.raw.toString('hex'), r.raw.toString('base64url')]);

  const failures: string[] = [];
  const stub = { pass: () => true, fail: (m: string, _extra: Record<string, unknown>) => failures.push(m) };
  const texts = [
    `x ${r.raw.toString('latin1')} y`,
    `key=${r.b64}`,
    `key=${r.b64.replace(/=+$/, '')}&`,
    r.raw.toString('hex').toUpperCase(),
    `"${r.raw.toString('base64url')}"`,
    `secret ${secret}`,
  ];
  for (const text of texts) tt.notOk(assertNoKeyMaterial(stub, text, [r.raw, k.raw], 'leak'), 'leak detected');
  tt.equal(failures.length, texts.length);
  tt.ok(assertNoKeyMaterial(stub, `md5 ${r.md5} ${k.md5}`, [r.raw, k.raw], 'clean'), 'the key MD5 is not key material');
  assertNoKeyMaterial(tt, 'nothing here', [r.raw], 'real tap assertion');
});

for (const v of ['v1', 'v2'] as const) {
  t.test(`aws-cli ${v}: the user guide's three key forms`, async (tt) => {
    const cli = (args: string[], opts: { cwd?: string; input?: Buffer } = {}) =>
      timed(`aws-cli ${v}`, () => awsCli(v, ep, args, { env: WHEN_REQUIRED, cwd: work, ...opts }));
    const s3url = (k: string) => `s3://${bucket}/${k}`;

    const ver = await cli(['--version']);
    tt.match(ver.stdout + ver.stderr, v === 'v1' ? /^aws-cli\/1\./ : /^aws-cli\/2\./, `${v}: ${ver.stdout.trim()}`);

    // Example 3: raw $secret
    ok(tt, await cli(['s3', 'cp', 'body.bin', s3url(`${v}/raw`), '--sse-c', 'AES256', '--sse-c-key', secret]), 's3 cp --sse-c-key $secret');
    // Example 2: base64 key + MD5 with s3api
    const put = await cli([
      's3api', 'put-object', '--bucket', bucket, '--key', `${v}/b64`, '--body', bodyFile,
      '--sse-customer-algorithm', 'AES256', '--sse-customer-key', guideKey.b64, '--sse-customer-key-md5', guideKey.md5,
    ]);
    if (ok(tt, put, 's3api put-object --sse-customer-key $key --sse-customer-key-md5 $keymd5')) {
      const j = JSON.parse(put.stdout) as { SSECustomerAlgorithm?: string; SSECustomerKeyMD5?: string };
      tt.equal(j.SSECustomerAlgorithm, 'AES256');
      tt.equal(j.SSECustomerKeyMD5, guideKey.md5);
    }
    // Example 4: fileb://
    ok(tt, await cli(['s3', 'cp', 'body.bin', s3url(`${v}/fileb`), '--sse-c', 'AES256', '--sse-c-key', 'fileb://sse-c.key']), 's3 cp --sse-c-key fileb://');
    // stdin (opts.input)
    ok(tt, await cli(['s3', 'cp', '-', s3url(`${v}/stdin`), '--sse-c', 'AES256', '--sse-c-key', secret], { input: body }), 's3 cp - (stdin)');

    // Downloads: the guide's two get-object forms, and s3 cp
    ok(tt, await cli(['s3api', 'get-object', '--bucket', bucket, '--key', `${v}/raw`, '--sse-customer-key', secret, '--sse-customer-algorithm', 'AES256', `${v}-raw.out`]), 's3api get-object --sse-customer-key $secret');
    await sameFile(tt, path.join(work, `${v}-raw.out`), `${v}/raw`);
    ok(tt, await cli(['s3api', 'get-object', '--bucket', bucket, '--key', `${v}/b64`, '--sse-customer-key', 'fileb://sse-c.key', '--sse-customer-algorithm', 'AES256', `${v}-b64.out`]), 's3api get-object --sse-customer-key fileb://');
    await sameFile(tt, path.join(work, `${v}-b64.out`), `${v}/b64`);
    ok(tt, await cli(['s3', 'cp', s3url(`${v}/fileb`), `${v}-fileb.out`, '--sse-c', 'AES256', '--sse-c-key', secret]), 's3 cp down --sse-c-key $secret');
    await sameFile(tt, path.join(work, `${v}-fileb.out`), `${v}/fileb`);

    for (const k of ['raw', 'b64', 'fileb', 'stdin']) await storedEncrypted(tt, `${v}/${k}`, guideKey);
  });
}

t.test("isolation: the test process's AWS_*/RCLONE_*/S3CMD* variables do not reach the clients", async (tt) => {
  const polluted: Record<string, string> = {
    AWS_PROFILE: 'ssec-no-such-profile',
    AWS_ACCESS_KEY_ID: 'AKIDNOTTHEKEY',
    AWS_ENDPOINT_URL: 'http://127.0.0.1:1',
    AWS_CA_BUNDLE: '/etc/ssl/certs/ca-certificates.crt', // rclone 1.60 + --ca-cert breaks with this set
    RCLONE_CONFIG_GW_ENDPOINT: 'http://127.0.0.1:1',
    S3CMD_CONFIG: '/nonexistent',
  };
  const saved = Object.fromEntries(Object.keys(polluted).map((k) => [k, process.env[k]]));
  Object.assign(process.env, polluted);
  try {
    const [a, r, s] = await Promise.all([
      awsCli('v1', ep, ['s3api', 'head-bucket', '--bucket', bucket]),
      rclone(ep, ['lsf', '--max-depth', '1', `gw:${bucket}`]),
      s3cmd(ep, ['ls', `s3://${bucket}`]),
    ]);
    ok(tt, a, 'aws-cli v1 head-bucket');
    ok(tt, r, 'rclone lsf');
    ok(tt, s, 's3cmd ls');
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});

t.test('boto3: put_object / get_object with a binary key', async (tt) => {
  const k = sseKey();
  allKeys.push(k.raw);
  const r = await timed('boto3', () =>
    boto3(
      ep,
      `
      key = base64.b64decode(sys.argv[1])
      data = open(sys.argv[2], 'rb').read()
      sse = dict(SSECustomerAlgorithm='AES256', SSECustomerKey=key)
      p = s3.put_object(Bucket=sys.argv[3], Key=sys.argv[4], Body=data, **sse)
      g = s3.get_object(Bucket=sys.argv[3], Key=sys.argv[4], **sse)
      got = g['Body'].read()
      print(json.dumps({'boto3': boto3.__version__, 'putAlg': p.get('SSECustomerAlgorithm'), 'putMd5': p.get('SSECustomerKeyMD5'),
                        'getMd5': g.get('SSECustomerKeyMD5'), 'sha256': hashlib.sha256(got).hexdigest()}))
      `,
      { env: WHEN_REQUIRED, args: [k.b64, bodyFile, bucket, 'boto3/obj'] },
    ),
  );
  if (ok(tt, r, 'boto3 script')) {
    const j = JSON.parse(r.stdout) as Record<string, string>;
    tt.comment(`boto3 ${j.boto3}`);
    tt.equal(j.putAlg, 'AES256');
    tt.equal(j.putMd5, k.md5);
    tt.equal(j.getMd5, k.md5);
    tt.equal(j.sha256, bodySha, 'boto3 got identical bytes');
  }
  await storedEncrypted(tt, 'boto3/obj', k);
});

t.test('s3cmd: plain put / ls / get (no SSE-C in s3cmd)', async (tt) => {
  const run = (args: string[]) => timed('s3cmd', () => s3cmd(ep, args, { cwd: work }));
  const ver = await run(['--version']);
  tt.comment(ver.stdout.trim());
  ok(tt, await run(['put', 'body.bin', `s3://${bucket}/s3cmd/plain`]), 's3cmd put');
  const ls = await run(['ls', `s3://${bucket}/s3cmd/`]);
  ok(tt, ls, 's3cmd ls');
  tt.match(ls.stdout, new RegExp(`${body.length}\\s+s3://${bucket}/s3cmd/plain`), 'ls shows the object and its size');
  ok(tt, await run(['get', '--force', `s3://${bucket}/s3cmd/plain`, 's3cmd.out']), 's3cmd get');
  await sameFile(tt, path.join(work, 's3cmd.out'), 's3cmd/plain');
});

t.test('rclone: sse_customer_key and sse_customer_key_base64', async (tt) => {
  const k = sseKey();
  allKeys.push(k.raw);
  const rc = (args: string[], o: { sseCustomerKey?: string; sseCustomerKeyBase64?: string } = {}) =>
    timed('rclone', () => rclone(ep, args, { ...o, cwd: work }));

  const ver = await rc(['version']);
  tt.comment(ver.stdout.split('\n')[0]!);
  const raw = { sseCustomerKey: secret };
  ok(tt, await rc(['copyto', bodyFile, `gw:${bucket}/rclone/raw`], raw), 'rclone copyto up, sse_customer_key');
  ok(tt, await rc(['copyto', `gw:${bucket}/rclone/raw`, path.join(work, 'rclone-raw.out')], raw), 'rclone copyto down, sse_customer_key');
  await sameFile(tt, path.join(work, 'rclone-raw.out'), 'rclone/raw');

  const b64 = { sseCustomerKeyBase64: k.b64 };
  ok(tt, await rc(['copyto', bodyFile, `gw:${bucket}/rclone/b64`], b64), 'rclone copyto up, sse_customer_key_base64');
  ok(tt, await rc(['copyto', `gw:${bucket}/rclone/b64`, path.join(work, 'rclone-b64.out')], b64), 'rclone copyto down, sse_customer_key_base64');
  await sameFile(tt, path.join(work, 'rclone-b64.out'), 'rclone/b64');

  const ls = await rc(['lsjson', `gw:${bucket}/rclone/`]);
  if (ok(tt, ls, 'rclone lsjson')) {
    const names = (JSON.parse(ls.stdout) as { Name: string }[]).map((e) => e.Name).sort();
    tt.same(names, ['b64', 'raw']);
  }
  await storedEncrypted(tt, 'rclone/raw', guideKey);
  await storedEncrypted(tt, 'rclone/b64', k);
});

t.test('@aws-sdk/client-s3: PutObject / GetObject with SSE-C', async (tt) => {
  const k = sseKey();
  allKeys.push(k.raw);
  const sse = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: k.b64, SSECustomerKeyMD5: k.md5 };
  for (const checksums of ['WHEN_REQUIRED', 'WHEN_SUPPORTED'] as const) {
    // A Buffer body goes out with Content-Length even WHEN_SUPPORTED (only streams get aws-chunked).
    const c = jsS3Client(ep, { checksums });
    const key = `js/${checksums}`;
    const put = await timed('js sdk', () => c.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...sse })));
    tt.equal(put.SSECustomerKeyMD5, k.md5, `${checksums}: put`);
    const got = await timed('js sdk', () => c.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...sse })));
    tt.equal(sha256(await got.Body!.transformToByteArray()), bodySha, `${checksums}: identical bytes`);
    c.destroy();
    await storedEncrypted(tt, key, k);
  }
});

t.test('@aws-sdk/client-s3 over http2 trusts caFile (local h2 server; RGW has no h2)', async (tt) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'clients-smoke-h2-'));
  tt.teardown(() => rm(dir, { recursive: true, force: true }));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', certFile,
  ]);
  const seen: { method?: string; path?: string; signed: boolean }[] = [];
  const server = http2.createSecureServer({ key: await readFile(keyFile), cert: await readFile(certFile) });
  server.on('stream', (stream, headers) => {
    seen.push({
      method: headers[':method'],
      path: headers[':path'],
      signed: String(headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256'),
    });
    stream.respond({ ':status': 200, 'x-amz-bucket-region': ep.region });
    stream.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tt.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as { port: number }).port;

  const h2ep: Endpoint = { ...ep, url: `https://127.0.0.1:${port}`, caFile: certFile };
  const c: S3Client = jsS3Client(h2ep, { http2: true });
  const res = await timed('js sdk h2', () => c.send(new HeadBucketCommand({ Bucket: 'h2-bucket' })));
  c.destroy();
  tt.equal(res.$metadata.httpStatusCode, 200);
  // the SDK sends bucket-level operations path-style as /bucket/
  tt.match(seen, [{ method: 'HEAD', path: /^\/h2-bucket\/?$/, signed: true }], 'path-style, signed, over h2');
  tt.equal(seen.length, 1);
});
