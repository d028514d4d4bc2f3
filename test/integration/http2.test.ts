// HTTP/2 clients through the gateway to the real RGW (which speaks HTTP/1.1 only): the JS SDK over h2,
// a raw node:http2 client whose SigV4 signature covers host = :authority, and curl --http2. Each
// request is checked to have really been h2, from the gateway's own request log line (proto: 'h2').
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, type S3ServiceException } from '@aws-sdk/client-s3';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { jsS3Client, sseKey, type Endpoint, type SseKey } from '../helpers/clients.js';
import { startGateway } from '../helpers/gateway.js';
import { assertNoKeyMaterial } from '../helpers/keys.js';
import { bucketName, createBucket, rgwRequest, sharedRgw } from '../helpers/rgw.js';

const rgw = await sharedRgw();
const gw = await startGateway({ upstream: rgw.http });
const ep: Endpoint = { url: gw.url, accessKey: rgw.accessKey, secretKey: rgw.secretKey, region: rgw.region, caFile: gw.caFile };
const ca = readFileSync(gw.caFile);
const authority = new URL(gw.url).host; // 127.0.0.1:PORT
const bucket = bucketName('http2');
await createBucket(rgw, bucket);
const work = await mkdtemp(path.join(os.tmpdir(), 'http2-test-'));
const keys: Buffer[] = [];

t.teardown(async () => {
  await gw.stop();
  const list = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}`, query: { 'list-type': '2' } }).catch(() => undefined);
  for (const m of (list?.body.toString('utf8') ?? '').matchAll(/<Key>([^<]*)<\/Key>/g)) {
    await rgwRequest(rgw, { method: 'DELETE', path: `/${bucket}/${m[1]!}` }).catch(() => undefined);
  }
  await rgwRequest(rgw, { method: 'DELETE', path: `/${bucket}` }).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
});

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const ssecHeaders = (k: SseKey) => ({
  'x-amz-server-side-encryption-customer-algorithm': 'AES256',
  'x-amz-server-side-encryption-customer-key': k.b64,
  'x-amz-server-side-encryption-customer-key-md5': k.md5,
});

/** The gateway's request log lines for one object key (url path ends with it). */
function requestLines(objectKey: string): Record<string, unknown>[] {
  return gw.logs().filter((l) => l.msg === 'request' && typeof l.url === 'string' && (l.url as string).split('?')[0]!.endsWith(`/${bucket}/${objectKey}`));
}

/** The log line is written on response close, so it can trail the client's view by a moment. */
async function waitForLines(objectKey: string, n: number): Promise<Record<string, unknown>[]> {
  for (let i = 0; i < 50; i++) {
    const lines = requestLines(objectKey);
    if (lines.length >= n) return lines;
    await new Promise((r) => setTimeout(r, 50));
  }
  return requestLines(objectKey);
}

/**
 * @aws-sdk/client-s3 over h2 signs the pseudo-header itself (`SignedHeaders=:authority;…`, no `host`:
 * @aws-sdk/core hostHeaderMiddleware). This middleware makes it sign `host` (= the :authority value)
 * instead, as every HTTP/1.1 client and the raw h2 client below do.
 */
function signHostNotAuthority(c: S3Client): void {
  c.middlewareStack.addRelativeTo(
    ((next: (a: { request: unknown }) => Promise<unknown>) => async (args: { request: unknown }) => {
      const req = args.request;
      if (HttpRequest.isInstance(req) && req.headers[':authority'] !== undefined) {
        req.headers.host = req.headers[':authority']!;
        delete req.headers[':authority'];
      }
      return next(args);
    }) as never,
    { relation: 'after', toMiddleware: 'hostHeaderMiddleware', name: 'signHostNotAuthority', override: true },
  );
}

async function sdkRoundTrip(tt: Test, c: S3Client, prefix: string): Promise<void> {
  const k = sseKey();
  keys.push(k.raw);
  const sse = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: k.b64, SSECustomerKeyMD5: k.md5 };
  for (const [name, size] of [['small', 1000], ['3mib', 3 * 1024 * 1024 + 5]] as const) {
    const body = randomBytes(size);
    const key = `${prefix}/${name}`;
    const put = await c.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...sse })).catch((e: unknown) => e as S3ServiceException);
    if (put instanceof Error) {
      const line = (await waitForLines(key, 1))[0];
      tt.fail(`${name}: PutObject over h2 failed: ${put.$metadata?.httpStatusCode} ${put.name}`, {
        message: put.message, gatewayLog: line, signedHeaders: lastSignedHeaders,
      });
      return;
    }
    tt.equal(put.$metadata.httpStatusCode, 200, `${name}: PutObject 200`);
    tt.equal(put.SSECustomerAlgorithm, 'AES256', `${name}: PutObject echoes AES256`);
    tt.equal(put.SSECustomerKeyMD5, k.md5, `${name}: PutObject echoes the key MD5`);

    const got = await c.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...sse }));
    tt.equal(got.SSECustomerKeyMD5, k.md5, `${name}: GetObject echoes the key MD5`);
    tt.equal(got.ContentLength, size, `${name}: GetObject Content-Length`);
    const bytes = await got.Body!.transformToByteArray();
    tt.equal(sha256(bytes), sha256(body), `${name}: GetObject returns the same bytes`);

    const head = await c.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...sse }));
    tt.equal(head.ContentLength, size, `${name}: HeadObject ContentLength = plaintext size`);
    tt.equal(head.SSECustomerAlgorithm, 'AES256', `${name}: HeadObject AES256`);
    tt.equal(head.SSECustomerKeyMD5, k.md5, `${name}: HeadObject key MD5`);

    const noKey = await c.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
      () => 200,
      (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode ?? -1,
    );
    tt.equal(noKey, 400, `${name}: HeadObject without the key → 400`);

    const lines = await waitForLines(key, 4);
    tt.same(lines.map((l) => [l.op, l.proto, l.status]), [
      ['PutObject', 'h2', 200], ['GetObject', 'h2', 200], ['HeadObject', 'h2', 200], ['HeadObject', 'h2', 400],
    ], `${name}: the gateway saw all four requests over h2`);
    tt.equal(lines[1]!.bytesOut, size, `${name}: the gateway counted the GET body`);

    // encrypted at rest (RGW's own TLS port)
    const atRest = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}/${key}`, endpoint: 'https' });
    tt.equal(atRest.status, 400, `${name}: RGW GET without a key → 400`);
  }
}

/** SignedHeaders of the last request the SDK signed (captured for failure reports). */
let lastSignedHeaders: string | undefined;
function captureSignedHeaders(c: S3Client): void {
  c.middlewareStack.add(
    ((next: (a: { request: unknown }) => Promise<unknown>) => async (args: { request: unknown }) => {
      const req = args.request;
      if (HttpRequest.isInstance(req)) lastSignedHeaders = /SignedHeaders=([^,]*)/.exec(String(req.headers.authorization ?? ''))?.[1];
      return next(args);
    }) as never,
    { step: 'finalizeRequest', priority: 'low', name: 'captureSignedHeaders' },
  );
}

t.test('@aws-sdk/client-s3 over HTTP/2 as shipped (it signs :authority): passthrough says why it cannot work', async (tt) => {
  // RGW gets HTTP/1.1 with Host and can never rebuild a canonical request over ':authority'; in
  // passthrough the gateway answers with a clear error instead of RGW's SignatureDoesNotMatch.
  const c = jsS3Client(ep, { http2: true, checksums: 'WHEN_REQUIRED' });
  captureSignedHeaders(c);
  tt.teardown(() => c.destroy());
  const err = await c.send(new PutObjectCommand({ Bucket: bucket, Key: 'sdk-as-shipped', Body: randomBytes(10) })).then(() => undefined, (e: S3ServiceException) => e);
  tt.match(lastSignedHeaders, /^:authority;/, 'the SDK signed the :authority pseudo-header');
  tt.equal(err?.$metadata.httpStatusCode, 400);
  tt.equal(err?.name, 'InvalidRequest');
  tt.match(err?.message, /:authority pseudo-header.*auth mode sigv4/);
  const atRgw = await rgwRequest(rgw, { method: 'HEAD', path: `/${bucket}/sdk-as-shipped` });
  tt.equal(atRgw.status, 404, 'nothing was stored');
});

t.test('@aws-sdk/client-s3 over HTTP/2, signing host = :authority: PutObject, GetObject, HeadObject with SSE-C', async (tt) => {
  const c = jsS3Client(ep, { http2: true, checksums: 'WHEN_REQUIRED' });
  signHostNotAuthority(c);
  captureSignedHeaders(c);
  tt.teardown(() => c.destroy());
  await sdkRoundTrip(tt, c, 'sdk-host');
  tt.match(lastSignedHeaders, /(^|;)host;/, 'the SDK signed host');
});

/** SigV4-signs a request for the gateway with host = the h2 :authority; returns the signed headers. */
async function sign(method: string, objectKey: string, headers: Record<string, string>, body?: Buffer, host = authority): Promise<Record<string, string>> {
  const [hostname, port] = host.split(':');
  const signer = new SignatureV4({
    service: 's3', region: rgw.region, sha256: Hash.bind(null, 'sha256'), uriEscapePath: false, applyChecksum: true,
    credentials: { accessKeyId: rgw.accessKey, secretAccessKey: rgw.secretKey },
  });
  const signed = await signer.sign(new HttpRequest({
    method, protocol: 'https:', hostname, port: Number(port), path: `/${bucket}/${objectKey}`,
    headers: { host, ...headers, ...(body ? { 'content-length': String(body.length) } : {}) }, body,
  }));
  return signed.headers;
}

interface H2Response { status: number; headers: http2.IncomingHttpHeaders; body: Buffer; alpn: string | false | undefined }

function h2request(method: string, objectKey: string, headers: Record<string, string>, body?: Buffer): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(gw.url, { ca });
    session.on('error', reject);
    // HTTP/2 has no Host header: the signed host travels as :authority
    const { host, ...rest } = headers;
    const req = session.request({ ':method': method, ':path': `/${bucket}/${objectKey}`, ':authority': host ?? authority, ...rest });
    req.on('response', (h) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const alpn = (session.socket as unknown as { alpnProtocol?: string | false }).alpnProtocol;
        session.close();
        resolve({ status: Number(h[':status']), headers: h, body: Buffer.concat(chunks), alpn });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

t.test('raw node:http2 client: a SigV4 signature over host = :authority is accepted by RGW', async (tt) => {
  const k = sseKey();
  keys.push(k.raw);
  const key = 'raw/h2-object';
  const body = randomBytes(256 * 1024 + 3);

  const putHeaders = await sign('PUT', key, { ...ssecHeaders(k), 'content-type': 'application/octet-stream' }, body);
  tt.equal(putHeaders.host, authority, `signed host is the :authority ${authority}`);
  tt.match(putHeaders.authorization, /SignedHeaders=[^,]*host[^,]*x-amz-server-side-encryption-customer-key/, 'host and the SSE-C headers are signed');
  const put = await h2request('PUT', key, putHeaders, body);
  tt.equal(put.alpn, 'h2', 'TLS negotiated h2 (ALPN)');
  tt.equal(put.status, 200, 'h2 PUT with SSE-C → 200', { body: put.body.toString('utf8') });
  tt.equal(put.headers['x-amz-server-side-encryption-customer-key-md5'], k.md5, 'PUT echoes the key MD5');

  const get = await h2request('GET', key, await sign('GET', key, ssecHeaders(k)));
  tt.equal(get.status, 200, 'h2 GET with SSE-C → 200', { body: get.body.toString('utf8').slice(0, 500) });
  tt.equal(sha256(get.body), sha256(body), 'h2 GET returns the same bytes');
  tt.equal(get.headers['x-amz-server-side-encryption-customer-algorithm'], 'AES256');

  const head = await h2request('HEAD', key, await sign('HEAD', key, ssecHeaders(k)));
  tt.equal(head.status, 200, 'h2 HEAD → 200');
  tt.equal(head.headers['content-length'], String(body.length), 'HEAD Content-Length = plaintext size');

  // control: the signature really is checked by RGW against the :authority the gateway turned into Host
  const otherHost = await sign('GET', key, ssecHeaders(k), undefined, `localhost:${authority.split(':')[1]}`);
  const bad = await h2request('GET', key, { ...otherHost, host: authority });
  tt.equal(bad.status, 403, 'a signature over another host is refused (403)');
  tt.match(bad.body.toString('utf8'), /SignatureDoesNotMatch/);
  tt.match(bad.body.toString('utf8'), /<Message>[^<]+<\/Message>/, 'with a non-empty Message');

  const lines = await waitForLines(key, 4);
  tt.same(lines.map((l) => [l.method, l.proto, l.status]), [['PUT', 'h2', 200], ['GET', 'h2', 200], ['HEAD', 'h2', 200], ['GET', 'h2', 403]], 'the gateway logged four h2 requests');
});

function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/_CA_BUNDLE$|^SSL_CERT|proxy$/i.test(k)) env[k] = v;
    execFile('curl', args, { cwd: work, env, timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

t.test('curl --http2 (headers signed with @smithy/signature-v4): PUT, GET, HEAD with SSE-C', async (tt) => {
  // Not curl's own --aws-sigv4: curl 7.88 sorts SignedHeaders wrongly once SSE-C headers are present
  // (…-customer-key-md5 before …-customer-key) and RGW answers SignatureDoesNotMatch even over HTTP/1.1
  // straight to RGW; it also omits x-amz-content-sha256. So the headers are signed here and curl sends them.
  const k = sseKey();
  keys.push(k.raw);
  const key = 'curl/h2-object';
  const body = randomBytes(100_000);
  await writeFile(path.join(work, 'curl-body.bin'), body);
  const url = `${gw.url}/${bucket}/${key}`;
  const asArgs = (h: Record<string, string>) => Object.entries(h).filter(([n]) => n !== 'host').flatMap(([n, v]) => ['-H', `${n}: ${v}`]);
  const common = ['--silent', '--show-error', '--http2', '--cacert', gw.caFile, '-w', '%{http_version} %{http_code}'];

  const putH = await sign('PUT', key, ssecHeaders(k), body);
  const put = await curl([...common, ...asArgs(putH), '-T', 'curl-body.bin', '-o', 'curl-put.out', url]);
  tt.equal(put.code, 0, 'curl PUT ran', { stderr: put.stderr });
  tt.equal(put.stdout, '2 200', 'curl PUT: HTTP/2, 200', { response: await readFile(path.join(work, 'curl-put.out'), 'utf8').catch(() => '') });

  const get = await curl([...common, ...asArgs(await sign('GET', key, ssecHeaders(k))), '-o', 'curl-get.out', url]);
  tt.equal(get.code, 0, 'curl GET ran', { stderr: get.stderr });
  tt.equal(get.stdout, '2 200', 'curl GET: HTTP/2, 200');
  const got = await readFile(path.join(work, 'curl-get.out')).catch(() => Buffer.alloc(0));
  tt.equal(sha256(got), sha256(body), 'curl GET returns the same bytes');

  const head = await curl([...common, ...asArgs(await sign('HEAD', key, ssecHeaders(k))), '--head', '-o', 'curl-head.out', url]);
  tt.equal(head.stdout, '2 200', 'curl HEAD: HTTP/2, 200');
  const headText = await readFile(path.join(work, 'curl-head.out'), 'utf8').catch(() => '');
  tt.match(headText, new RegExp(`content-length: ${body.length}\\r?\\n`, 'i'), 'HEAD Content-Length = plaintext size');
  tt.match(headText, new RegExp(`x-amz-server-side-encryption-customer-key-md5: ${k.md5.replace(/[+/]/g, (c) => `\\${c}`)}`, 'i'), 'HEAD echoes the key MD5');

  const lines = await waitForLines(key, 3);
  tt.same(lines.map((l) => [l.method, l.proto, l.status]), [['PUT', 'h2', 200], ['GET', 'h2', 200], ['HEAD', 'h2', 200]], 'the gateway logged all three as h2');
});

t.test('no key material in the gateway output', async (tt) => {
  assertNoKeyMaterial(tt, gw.output(), keys, 'gateway output');
});
