// A 1 GiB SSE-C object PUT and GET streamed through the gateway to the real RGW, while the gateway's
// resident set stays bounded (< 150 MiB peak, VmHWM). A test of boundedness, not of speed: the body is
// generated on the fly (deterministic pseudo-random, AES-CTR keystream) and hashed as it goes, so neither
// the client nor the gateway has a reason to hold it.
import t, { type Test } from 'tap';
import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { cipherPartSize } from '../../src/encryption/format.js';
import { jsS3Client, sseKey, type Endpoint } from '../helpers/clients.js';
import { startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { assertNoKeyMaterial } from '../helpers/keys.js';
import { bucketName, createBucket, rgwRequest, sharedRgw } from '../helpers/rgw.js';

const MiB = 1024 * 1024;
const SIZE = 1024 * MiB;
const RSS_LIMIT = 150 * MiB;

const rgw = await sharedRgw();
const gw = await startGateway({ upstream: rgw.http });
const ep: Endpoint = { url: gw.url, accessKey: rgw.accessKey, secretKey: rgw.secretKey, region: rgw.region, caFile: gw.caFile };
const bucket = bucketName('large-object');
await createBucket(rgw, bucket);
const objectKey = 'one-gib.bin';
const k = sseKey();
const sse = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: k.b64, SSECustomerKeyMD5: k.md5 };
const s3 = jsS3Client(ep, { checksums: 'WHEN_REQUIRED' });

t.teardown(async () => {
  s3.destroy();
  await gw.stop();
  // memstore keeps the GiB in RAM: remove it (DELETE needs no key)
  await rgwRequest(rgw, { method: 'DELETE', path: `/${bucket}/${objectKey}` }).catch(() => undefined);
  await rgwRequest(rgw, { method: 'DELETE', path: `/${bucket}` }).catch(() => undefined);
});

const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

/** `size` deterministic pseudo-random bytes (AES-128-CTR keystream of a fixed seed), hashed as they are produced. */
function generated(size: number, seed: string): { stream: Readable; digest: () => string; produced: () => number } {
  const cipher = createCipheriv('aes-128-ctr', createHash('sha256').update(seed).digest().subarray(0, 16), Buffer.alloc(16));
  const hash = createHash('sha256');
  const zeros = Buffer.alloc(MiB);
  let produced = 0;
  const stream = new Readable({
    highWaterMark: MiB,
    read() {
      if (produced >= size) return void this.push(null);
      const n = Math.min(MiB, size - produced);
      const chunk = cipher.update(n === MiB ? zeros : zeros.subarray(0, n));
      hash.update(chunk);
      produced += n;
      this.push(chunk);
    },
  });
  let hex: string | undefined;
  return { stream, digest: () => (hex ??= hash.digest('hex')), produced: () => produced };
}

interface Mode { name: string; gw: GatewayProcess; s3: S3Client; atRest: (tt: Test) => Promise<void> }

async function oneGib(tt: Test, { gw, s3, atRest }: Mode): Promise<void> {
  tt.setTimeout(10 * 60_000);
  const startMem = gw.memory();
  tt.comment(`gateway at start: RSS ${mib(startMem.current)}, peak ${mib(startMem.peak)}`);
  let sampledPeak = startMem.current;
  const sampler = setInterval(() => {
    try { sampledPeak = Math.max(sampledPeak, gw.memory().current); } catch { /* exited */ }
  }, 250);
  tt.teardown(() => clearInterval(sampler));

  // PUT: a stream body with Content-Length, SSE-C, request checksums only when required
  const body = generated(SIZE, objectKey);
  const t0 = performance.now();
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: objectKey, Body: body.stream, ContentLength: SIZE, ...sse }));
  const putSeconds = (performance.now() - t0) / 1000;
  tt.equal(put.$metadata.httpStatusCode, 200, 'PutObject 200');
  tt.equal(put.SSECustomerKeyMD5, k.md5, 'PutObject echoes the key MD5');
  tt.equal(body.produced(), SIZE, 'the whole GiB was read from the generator');
  const putSha = body.digest();
  const afterPut = gw.memory();
  tt.comment(`PUT 1 GiB: ${putSeconds.toFixed(1)} s (${(SIZE / MiB / putSeconds).toFixed(0)} MiB/s); gateway peak RSS so far ${mib(afterPut.peak)}`);

  // the request log line is written when the response closes, which can trail the client a little
  let putLine: Record<string, unknown> | undefined;
  for (let i = 0; i < 100 && !putLine; i++) {
    putLine = gw.logs().find((l) => l.msg === 'request' && l.op === 'PutObject');
    if (!putLine) await new Promise((r) => setTimeout(r, 50));
  }
  tt.comment(`PutObject as sent by the SDK, seen by the gateway: status ${String(putLine?.status)}, ${String(putLine?.ms)} ms`);
  tt.equal(putLine?.bytesIn, SIZE, 'the gateway streamed 1 GiB upstream');

  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey, ...sse }));
  tt.equal(head.ContentLength, SIZE, 'HeadObject: 1 GiB plaintext');

  // GET: the body streamed into a hash
  const t1 = performance.now();
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey, ...sse }));
  tt.equal(got.ContentLength, SIZE, 'GetObject Content-Length');
  tt.equal(got.SSECustomerKeyMD5, k.md5, 'GetObject echoes the key MD5');
  const hash = createHash('sha256');
  let received = 0;
  for await (const chunk of got.Body as Readable) {
    hash.update(chunk as Buffer);
    received += (chunk as Buffer).length;
  }
  const getSeconds = (performance.now() - t1) / 1000;
  tt.equal(received, SIZE, 'received 1 GiB');
  tt.equal(hash.digest('hex'), putSha, 'sha256 of the GET body = sha256 of what was PUT');
  clearInterval(sampler);

  const mem = gw.memory();
  tt.comment(`GET 1 GiB: ${getSeconds.toFixed(1)} s (${(SIZE / MiB / getSeconds).toFixed(0)} MiB/s)`);
  tt.comment(`gateway RSS: start ${mib(startMem.current)}, peak (VmHWM) ${mib(mem.peak)}, sampled max ${mib(sampledPeak)}, now ${mib(mem.current)}`);
  tt.ok(mem.peak < RSS_LIMIT, `gateway peak RSS ${mib(mem.peak)} < ${mib(RSS_LIMIT)}`);

  await atRest(tt);
  assertNoKeyMaterial(tt, gw.output(), [k.raw], 'gateway output');
}

t.test('1 GiB SSE-C PUT and GET streamed through the gateway, gateway RSS bounded', async (tt) => oneGib(tt, {
  name: 'upstream', gw, s3,
  async atRest(tt) {
    // encrypted at rest by the store: RGW (TLS port) refuses it without the key
    const noKey = await rgwRequest(rgw, { method: 'HEAD', path: `/${bucket}/${objectKey}`, endpoint: 'https' });
    tt.equal(noKey.status, 400, 'RGW HEAD without the key → 400');
  },
}));

t.test('the same with encryption.mode gateway: the gateway encrypts, RSS bounded all the same', async (tt) => {
  const egw = await startGateway({ upstream: rgw.http, args: ['--auth-mode', 'none', '--encryption-mode', 'gateway', '--upstream-access-key-id', rgw.accessKey, '--upstream-secret-access-key', rgw.secretKey] });
  const es3 = jsS3Client({ ...ep, url: egw.url, caFile: egw.caFile }, { checksums: 'WHEN_REQUIRED' });
  tt.teardown(async () => { es3.destroy(); await egw.stop(); });
  await oneGib(tt, {
    name: 'gateway', gw: egw, s3: es3,
    async atRest(tt) {
      const head = await rgwRequest(rgw, { method: 'HEAD', path: `/${bucket}/${objectKey}` });
      tt.equal(Number(head.headers['content-length']), cipherPartSize(SIZE), 'the store holds the ciphertext: 1 GiB + 16 bytes per 64 KiB + 32');
      tt.ok(typeof head.headers['x-amz-meta-ssecgw'] === 'string' && !head.headers['x-amz-server-side-encryption-customer-algorithm'], 'in the gateway format, no SSE-C at the store');
      // a 1 MiB range in the middle: only its segments come from the store
      const r = await es3.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey, ...sse, Range: `bytes=${512 * MiB + 1000}-${513 * MiB + 999}` }));
      tt.equal(r.ContentLength, MiB, 'a 1 MiB range of the GiB');
      const bytes = Buffer.concat(await (r.Body as Readable).toArray() as Buffer[]);
      tt.equal(bytes.length, MiB, 'read whole');
    },
  });
});
