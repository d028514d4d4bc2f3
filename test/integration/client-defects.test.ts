/**
 * Defects real clients found in the forwarder every mode shares (issue 9), each against the real
 * RGW 16 and, where a real client shows it, with that client:
 *  1. HTTP/2 `Expect: 100-Continue` (aws-sdk-go v1: rclone, Velero, Terraform) was answered 417;
 *  2. an early upstream answer to a large upload (RGW refuses an UploadPart with another key
 *     before reading its body) hung until upstream.timeoutMs, then the connection dropped;
 *  3. HTTP/1.1: bytes that do not parse after a request got Node's 400 AHEAD of that request's
 *     still pending answer (a PUT stored while the client read a 400);
 *  5. UploadPartCopy into an SSE-C upload answered without the SSE-C response headers;
 *  7. RGW's misleading words about the object's key (no key / another key).
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { boto3, rclone, sseKey, type Endpoint } from '../helpers/clients.js';
import { startGateway } from '../helpers/gateway.js';
import { bucketName, createBucket, rgwRequest, sharedRgw } from '../helpers/rgw.js';
import { newClient, onRgw, parseError, requestLines, sha256, signRequest, sleep, ssecHeaders, startSigv4Gateway } from '../helpers/sigv4-gateway.js';
import { ERRORS } from '../../src/errors/table.js';

const rgw = await sharedRgw();
const bucket = bucketName('client-defects');
await createBucket(rgw, bucket);
const work = await mkdtemp(path.join(os.tmpdir(), 'client-defects-'));
const rgwCreds = { accessKey: rgw.accessKey, secretKey: rgw.secretKey, region: rgw.region };

// A short upstream timeout makes the old two-minute hang show within the test's time.
const TIMEOUT = ['--upstream-timeout-ms', '15000'];
const passthrough = await startGateway({ upstream: rgw.http, plaintext: true, args: ['--auth-mode', 'passthrough', ...TIMEOUT] });
const client = newClient('defects');
const sigv4 = await startSigv4Gateway(rgw, { doc: { clients: [client] }, args: TIMEOUT });
const none = await startGateway({ upstream: rgw.http, args: ['--auth-mode', 'none', '--upstream-access-key-id', rgw.accessKey, '--upstream-secret-access-key', 'env:UPSTREAM_SECRET', ...TIMEOUT], env: { UPSTREAM_SECRET: rgw.secretKey } });
const passthroughEp: Endpoint = { url: passthrough.url, accessKey: rgw.accessKey, secretKey: rgw.secretKey, region: rgw.region, caFile: passthrough.caFile };

t.teardown(async () => {
  await Promise.all([passthrough.stop(), sigv4.stop(), none.stop()]);
  await rm(work, { recursive: true, force: true });
});

interface H2Answer { status: number; headers: http2.IncomingHttpHeaders; body: Buffer; gotContinue: boolean; rst?: number }

/**
 * One HTTP/2 request as aws-sdk-go sends a large PUT: `Expect: 100-Continue`, body written only
 * once the server says 100 (or after waitMs without it, as Go does after its ExpectContinueTimeout).
 */
function h2Request(base: string, ca: Buffer, headers: Record<string, string>, body?: Buffer, waitMs = 1000): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(base, { ca });
    session.on('error', reject);
    const stream = session.request(headers, { endStream: body === undefined });
    let gotContinue = false;
    let sent = false;
    const send = () => { if (sent || !body) return; sent = true; stream.end(body); };
    stream.on('continue', () => { gotContinue = true; send(); });
    if (body && headers.expect === undefined) send();
    else if (body) setTimeout(send, waitMs).unref();
    let status = 0;
    let rh: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => { rh = h; status = Number(h[':status']); });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => { /* a reset after the answer: reported through rstCode */ });
    stream.on('close', () => {
      session.close();
      if (!status) { reject(new Error(`h2 stream closed without an answer (rst ${stream.rstCode})`)); return; }
      resolve({ status, headers: rh, body: Buffer.concat(chunks), gotContinue, rst: stream.rstCode });
    });
  });
}

async function signedH2Headers(base: string, method: string, objectPath: string, extra: Record<string, string>, query?: Record<string, string>): Promise<Record<string, string>> {
  const s = await signRequest(base, rgwCreds, { method, path: objectPath, query, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...extra } });
  const out: Record<string, string> = { ':method': method, ':path': s.path };
  for (const [k, v] of Object.entries(s.headers)) if (k !== 'host') out[k] = v;
  out[':authority'] = new URL(base).host;
  return out;
}

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) || 1 : 0, stdout, stderr }));
  });
}

// ---- 1. HTTP/2 Expect: 100-Continue ------------------------------------------------------------

t.test('1. HTTP/2 PUT with `Expect: 100-Continue` (aws-sdk-go spelling) gets 100, then the object is stored', async (t) => {
  const ca = readFileSync(passthrough.caFile);
  for (const expect of ['100-Continue', '100-continue', '100-CONTINUE']) {
    const body = randomBytes(3 << 20);
    const key = `expect-h2-${expect}`;
    const headers = await signedH2Headers(passthrough.url, 'PUT', `/${bucket}/${key}`, { 'content-length': String(body.length) });
    headers.expect = expect;
    const r = await h2Request(passthrough.url, ca, headers, body, 5000);
    t.equal(r.status, 200, `Expect: ${expect} → 200 (was 417 Expectation Failed)`);
    t.ok(r.gotContinue, `Expect: ${expect}: the client was told 100 Continue before sending the body`);
    const stored = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}/${key}` });
    t.equal(sha256(stored.body), sha256(body), `Expect: ${expect}: RGW holds the bytes`);
  }
  // an expectation the gateway cannot meet is still refused (RFC 9110 §10.1.1)
  const other = await signedH2Headers(passthrough.url, 'PUT', `/${bucket}/expect-other`, { 'content-length': '3' });
  other.expect = 'something-else';
  const r = await h2Request(passthrough.url, ca, other, Buffer.from('abc'), 100);
  t.equal(r.status, 417, 'Expect: something-else → 417');
});

t.test('1. curl --http2 -H "Expect: 100-Continue" --data-binary (auth mode none)', async (t) => {
  const file = path.join(work, 'curl-body');
  const body = randomBytes(3 << 20);
  await writeFile(file, body);
  const r = await run('curl', ['-sS', '--http2', '--cacert', none.caFile, '-X', 'PUT', '-H', 'Expect: 100-Continue', '--data-binary', `@${file}`,
    '-o', '/dev/null', '-w', '%{http_code} %{http_version}', `${none.url}/${bucket}/curl-expect`]);
  t.equal(r.stdout, '200 2', `curl over HTTP/2 stored the object (${r.stderr.trim()})`);
  const stored = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}/curl-expect` });
  t.equal(sha256(stored.body), sha256(body), 'RGW holds the bytes');
});

t.test('1. rclone (aws-sdk-go v1) multipart upload with SSE-C through the gateway', async (t) => {
  const secret = randomBytes(16).toString('hex'); // 32 characters: rclone's sse_customer_key
  const k = sseKey(secret);
  const src = path.join(work, 'rclone-src');
  const body = randomBytes(12 << 20);
  await writeFile(src, body);
  const ep = sigv4.endpoint(client);
  const up = await rclone(ep, ['copyto', src, `gw:${bucket}/rclone/multipart`, '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M', '--retries', '1', '--low-level-retries', '1'], { sseCustomerKey: secret });
  t.equal(up.code, 0, `rclone copyto up (${up.stderr.slice(-400)})`);
  const lines = requestLines(sigv4).filter((l) => l.op === 'UploadPart');
  t.ok(lines.length >= 3, `uploaded in parts (${lines.length})`);
  t.ok(lines.every((l) => l.status === 200), 'every part 200');
  t.comment(`rclone's parts went as ${[...new Set(lines.map((l) => l.proto))].join(', ')}`);
  const down = path.join(work, 'rclone-down');
  const get = await rclone(ep, ['copyto', `gw:${bucket}/rclone/multipart`, down], { sseCustomerKey: secret });
  t.equal(get.code, 0, 'rclone copyto down');
  t.equal(sha256(readFileSync(down)), sha256(body), 'same bytes back');
  t.equal((await onRgw(rgw, 'GET', bucket, 'rclone/multipart')).status, 400, 'encrypted at rest: RGW refuses a GET without the key');
  t.equal((await onRgw(rgw, 'HEAD', bucket, 'rclone/multipart', k)).status, 200, 'and opens it with the key');
});

t.test('1. HTTP/1.1 `Expect: 100-Continue` on the plaintext listener still works', async (t) => {
  const body = randomBytes(1 << 20);
  const s = await signRequest(passthrough.httpUrl!, rgwCreds, { method: 'PUT', path: `/${bucket}/expect-h1`, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': String(body.length) } });
  const status = await new Promise<number>((resolve, reject) => {
    const u = new URL(passthrough.httpUrl!);
    const req = http.request({ method: 'PUT', host: u.hostname, port: u.port, path: s.path, headers: { ...s.headers, expect: '100-Continue' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('continue', () => req.end(body));
    req.on('error', reject);
  });
  t.equal(status, 200);
});

// ---- 2 and 7: early answers, and what they say ------------------------------------------------

const K1 = sseKey();
const K2 = sseKey();

/** boto3 with default settings: a multipart upload under K1, then parts with K2, without a key, with K1; complete; read. */
async function botoParts(ep: Endpoint, key: string, env: Record<string, string>) {
  const r = await boto3(ep, `
    bucket, key, k1, k2 = sys.argv[1:5]
    k1 = base64.b64decode(k1); k2 = base64.b64decode(k2)
    def sse(k): return dict(SSECustomerAlgorithm='AES256', SSECustomerKey=k)
    def err(f):
        try:
            f(); return None
        except Exception as e:
            r = getattr(e, 'response', None)
            if r is None: return {'exception': type(e).__name__, 'text': str(e)}
            return {'status': r['ResponseMetadata']['HTTPStatusCode'], 'code': r['Error'].get('Code'), 'message': r['Error'].get('Message')}
    res = {}
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, **sse(k1))['UploadId']
    part = os.urandom(8 << 20)
    res['otherKey'] = err(lambda: s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=1, Body=part, **sse(k2)))
    res['noKey'] = err(lambda: s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=1, Body=part))
    p = s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=1, Body=part, **sse(k1))
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up, MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': p['ETag']}]})
    g = s3.get_object(Bucket=bucket, Key=key, **sse(k1))
    res['same'] = hashlib.sha256(g['Body'].read()).hexdigest() == hashlib.sha256(part).hexdigest()
    res['getNoKey'] = err(lambda: s3.get_object(Bucket=bucket, Key=key))
    res['headNoKey'] = err(lambda: s3.head_object(Bucket=bucket, Key=key))
    res['getOtherKey'] = err(lambda: s3.get_object(Bucket=bucket, Key=key, **sse(k2)))
    res['rangeNoKey'] = err(lambda: s3.get_object(Bucket=bucket, Key=key, Range='bytes=0-9'))
    print(json.dumps(res))
  `, { args: [bucket, key, K1.b64, K2.b64], env: { AWS_MAX_ATTEMPTS: '1', ...env }, timeoutMs: 100_000 });
  return r;
}

for (const [mode, ep] of [['passthrough', () => passthroughEp], ['sigv4', () => sigv4.endpoint(client)]] as const) {
  t.test(`2+7. boto3 (${mode}): an 8 MiB upload_part with another key is answered at once, in plain words`, async (t) => {
    // passthrough cannot re-frame botocore's default aws-chunked bodies, which RGW 16 refuses (real-clients.md A)
    const r = await botoParts(ep(), `early-${mode}`, mode === 'passthrough' ? { AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required' } : {});
    t.equal(r.code, 0, `boto3 script ran (${r.stderr.slice(-600)})`);
    const j = JSON.parse(r.stdout) as Record<string, { status?: number; code?: string; message?: string; exception?: string } | boolean>;
    t.same(j.otherKey, { status: 400, code: 'InvalidArgument', message: ERRORS.UploadKeyMismatch.message }, 'another key: 400 InvalidArgument naming the upload\'s key (was ConnectionClosedError after upstream.timeoutMs)');
    t.same(j.noKey, { status: 400, code: 'InvalidRequest', message: ERRORS.UploadNeedsKey.message }, 'no key: S3\'s InvalidRequest for parts of an encrypted upload');
    t.equal(j.same, true, 'the upload then completes with the right key and reads back the same bytes');
    t.same(j.getNoKey, { status: 400, code: 'InvalidRequest', message: ERRORS.ObjectEncryptedNoKey.message }, 'GET without a key: S3\'s InvalidRequest "stored using a form of Server Side Encryption"');
    t.match(j.headNoKey, { status: 400 }, 'HEAD without a key: 400');
    t.same(j.getOtherKey, { status: 400, code: 'InvalidArgument', message: ERRORS.SseCKeyMismatch.message }, 'GET with another key: RGW\'s 400, saying the key is not the object\'s');
    t.same(j.rangeNoKey, { status: 400, code: 'InvalidRequest', message: ERRORS.ObjectEncryptedNoKey.message }, 'ranged GET without a key: the same');
  });
}

for (const proto of ['--http2', '--http1.1'] as const) {
  t.test(`2. curl ${proto}: an early answer to a 16 MiB UploadPart reaches the client, which stops sending`, async (t) => {
    const key = `early-curl${proto}`;
    const create = await rgwRequest(rgw, { method: 'POST', path: `/${bucket}/${key}`, query: { uploads: '' }, headers: { 'x-forwarded-proto': 'https', ...ssecHeaders(K1) } });
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(create.body.toString())![1]!;
    const file = path.join(work, 'sixteen');
    await writeFile(file, randomBytes(16 << 20));
    const h = Object.entries(ssecHeaders(K2)).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
    // --max-time bounds the old behaviour (the answer only after upstream.timeoutMs, 15 s here)
    const r = await run('curl', ['-sS', proto, '--max-time', '10', '--cacert', none.caFile, '-X', 'PUT', ...h, '--data-binary', `@${file}`,
      '-w', '\n%{http_code}', `${none.url}/${bucket}/${key}?partNumber=1&uploadId=${encodeURIComponent(uploadId)}`]);
    t.equal(r.code, 0, `curl finished (${r.stderr.trim()})`);
    const [xml, status] = [r.stdout.slice(0, r.stdout.lastIndexOf('\n')), r.stdout.slice(r.stdout.lastIndexOf('\n') + 1)];
    t.equal(status, '400', 'the upstream\'s 400 reached the client');
    t.same(parseError(xml), { code: 'InvalidArgument', message: ERRORS.UploadKeyMismatch.message, requestId: parseError(xml).requestId, stringToSign: undefined, headersNotSigned: undefined }, 'with its S3 error body');
    const parts = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}/${key}`, query: { uploadId } });
    t.notMatch(parts.body.toString(), /<Part>/, 'no part was stored');
  });
}

// ---- 3. bytes that do not parse behind a pending answer ---------------------------------------

/** A fake upstream that holds each answer until release() — only to order the gateway's answers deterministically. */
async function holdingUpstream() {
  const held: (() => void)[] = [];
  const seen: { method: string; url: string; body: Buffer }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, body: Buffer.concat(chunks) });
      held.push(() => res.writeHead(200, { etag: '"held"', 'content-length': '0' }).end());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen,
    release: () => { for (const f of held.splice(0)) f(); },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** Writes raw bytes on a fresh connection and returns everything read until the server closes it. */
function rawExchange(connect: () => net.Socket, bytes: string, onWritten: () => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect();
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => { got += d; });
    s.on('error', reject);
    s.on('close', () => resolve(got));
    s.write(bytes, () => onWritten());
    setTimeout(() => { s.destroy(); }, 20_000).unref();
  });
}

t.test('3. HTTP/1.1: a PUT whose body runs past Content-Length gets ITS answer first, then the connection closes', async (t) => {
  const up = await holdingUpstream();
  const gw = await startGateway({ upstream: up.url, plaintext: true, args: ['--auth-mode', 'passthrough'] });
  t.teardown(async () => { await gw.stop(); await up.close(); });
  const request = 'PUT /bkt/obj HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\n\r\nhello' + 'GARBAGE THAT IS NOT HTTP\r\n\r\n';
  for (const [name, connect] of [
    ['plaintext', () => net.connect(Number(new URL(gw.httpUrl!).port), '127.0.0.1')],
    ['TLS', () => tls.connect({ port: Number(new URL(gw.url).port), host: '127.0.0.1', ca: readFileSync(gw.caFile), ALPNProtocols: ['http/1.1'] })],
  ] as const) {
    up.seen.length = 0;
    // the answer to the PUT is held until the gateway has seen the bytes that do not parse
    const got = await rawExchange(connect as () => net.Socket, request, () => { void sleep(300).then(() => up.release()); });
    t.match(got, /^HTTP\/1\.1 200 /, `${name}: the first answer on the wire is the PUT's 200 (was Node's 400 ahead of it)`);
    t.notMatch(got, /400 Bad Request/, `${name}: no 400 that the client would read as the PUT's answer`);
    t.same(up.seen.map((s) => [s.method, s.url, s.body.toString()]), [['PUT', '/bkt/obj', 'hello']], `${name}: the upstream got the PUT with its 5 bytes only`);
  }
  // with nothing pending, bytes that do not parse still get a 400 and a close
  const bad = await rawExchange(() => net.connect(Number(new URL(gw.httpUrl!).port), '127.0.0.1'), 'NOT HTTP AT ALL\r\n\r\n', () => undefined);
  t.match(bad, /^HTTP\/1\.1 400 Bad Request/, 'a lone malformed request: 400');
});

t.test('3. the same against RGW over TLS, signed: the client reads the PUT\'s 200, RGW holds the declared bytes', async (t) => {
  const s = await signRequest(passthrough.url, rgwCreds, { method: 'PUT', path: `/${bucket}/overlong`, headers: { 'content-length': '5' }, body: Buffer.from('hello') });
  const head = [`PUT ${s.path} HTTP/1.1`, ...Object.entries(s.headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
  const got = await rawExchange(() => tls.connect({ port: Number(new URL(passthrough.url).port), host: '127.0.0.1', ca: readFileSync(passthrough.caFile), ALPNProtocols: ['http/1.1'] }),
    head + 'hello' + 'EXTRA BYTES\r\n\r\n', () => undefined);
  t.match(got, /^HTTP\/1\.1 200 /, 'the first answer is the PUT\'s 200');
  t.notMatch(got, /400 Bad Request/, 'no 400 read as the PUT\'s answer');
  const stored = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}/overlong` });
  t.equal(stored.body.toString(), 'hello', 'RGW holds the 5 declared bytes');
});

// ---- 5. UploadPartCopy into an SSE-C upload ---------------------------------------------------

for (const [mode, ep] of [['passthrough', () => passthroughEp], ['sigv4', () => sigv4.endpoint(client)]] as const) {
  t.test(`5. boto3 (${mode}): upload_part_copy into an SSE-C upload echoes the SSE-C headers`, async (t) => {
    const src = `partcopy-src-${mode}`;
    const srcBody = randomBytes(6 << 20);
    await rgwRequest(rgw, { method: 'PUT', path: `/${bucket}/${src}`, body: srcBody });
    const r = await boto3(ep(), `
      bucket, src, key, k1 = sys.argv[1:5]
      sse = dict(SSECustomerAlgorithm='AES256', SSECustomerKey=base64.b64decode(k1))
      up = s3.create_multipart_upload(Bucket=bucket, Key=key, **sse)['UploadId']
      c = s3.upload_part_copy(Bucket=bucket, Key=key, UploadId=up, PartNumber=1, CopySource={'Bucket': bucket, 'Key': src}, **sse)
      s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up, MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': c['CopyPartResult']['ETag']}]})
      g = s3.get_object(Bucket=bucket, Key=key, **sse)
      print(json.dumps({'alg': c.get('SSECustomerAlgorithm'), 'md5': c.get('SSECustomerKeyMD5'), 'sha': hashlib.sha256(g['Body'].read()).hexdigest()}))
    `, { args: [bucket, src, `partcopy-${mode}`, K1.b64] });
    t.equal(r.code, 0, `boto3 script (${r.stderr.slice(-400)})`);
    const j = JSON.parse(r.stdout) as { alg?: string; md5?: string; sha: string };
    t.equal(j.alg, 'AES256', 'SSECustomerAlgorithm echoed');
    t.equal(j.md5, K1.md5, 'SSECustomerKeyMD5 echoed');
    t.equal(j.sha, sha256(srcBody), 'the copy reads back with the key');
    t.equal((await onRgw(rgw, 'GET', bucket, `partcopy-${mode}`)).status, 400, 'encrypted at rest');
  });
}
