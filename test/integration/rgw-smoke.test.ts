// Smoke test of the test infrastructure: the suite-wide RGW answers SSE-C over its own TLS
// frontend, and enforces rgw_crypt_require_ssl on its plain http frontend.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import t from 'tap';
import { bucketName, createBucket, rgwRequest, sharedRgw } from '../helpers/rgw.js';

const rgw = await sharedRgw();
const bucket = bucketName('rgw-smoke');
await createBucket(rgw, bucket);

const key = randomBytes(32);
const keyB64 = key.toString('base64');
const keyMd5 = createHash('md5').update(key).digest('base64');
const ssecHeaders = {
  'x-amz-server-side-encryption-customer-algorithm': 'AES256',
  'x-amz-server-side-encryption-customer-key': keyB64,
  'x-amz-server-side-encryption-customer-key-md5': keyMd5,
};

const s3 = new S3Client({
  endpoint: rgw.https,
  region: rgw.region,
  credentials: { accessKeyId: rgw.accessKey, secretAccessKey: rgw.secretKey },
  forcePathStyle: true,
  // RGW 16 cannot take aws-chunked bodies with checksum trailers (the SDK default)
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
  requestHandler: { httpsAgent: new Agent({ ca: readFileSync(rgw.caFile), keepAlive: true }) },
  maxAttempts: 1,
});
t.teardown(() => s3.destroy());

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

t.test('SSE-C PUT/GET over RGW https with @aws-sdk/client-s3', async (t) => {
  const body = randomBytes(100_000);
  const put = await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: 'obj one', Body: body, SSECustomerAlgorithm: 'AES256', SSECustomerKey: keyB64 }),
  );
  t.equal(put.SSECustomerAlgorithm, 'AES256', 'PUT answers with the SSE-C algorithm');
  t.equal(put.SSECustomerKeyMD5, keyMd5, 'PUT answers with the key MD5');

  const got = await s3.send(
    new GetObjectCommand({ Bucket: bucket, Key: 'obj one', SSECustomerAlgorithm: 'AES256', SSECustomerKey: keyB64 }),
  );
  const bytes = Buffer.from(await got.Body!.transformToByteArray());
  t.ok(bytes.equals(body), 'GET with the key returns the same bytes');

  const err = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'obj one' })).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err, 'GET without the key fails');
  t.equal(httpStatus(err), 400, 'GET without the key: HTTP 400');
});

t.test('SSE-C PUT over RGW plain http: require ssl decides', async (t) => {
  t.equal(rgw.requireSsl, true, 'shared RGW has rgw_crypt_require_ssl = true');
  const plain = await rgwRequest(rgw, { method: 'PUT', path: `/${bucket}/over-http`, headers: ssecHeaders, body: 'hello' });
  t.equal(plain.status, 400, 'without X-Forwarded-Proto: HTTP 400');
  t.match(plain.body.toString('utf8'), /<Code>InvalidRequest<\/Code>/, 'without X-Forwarded-Proto: InvalidRequest');

  if (rgw.trustForwarded) {
    const fwd = await rgwRequest(rgw, {
      method: 'PUT',
      path: `/${bucket}/over-http`,
      headers: { ...ssecHeaders, 'x-forwarded-proto': 'https' },
      body: 'hello',
    });
    t.equal(fwd.status, 200, 'with X-Forwarded-Proto: https (trust forwarded on): HTTP 200');
    const back = await rgwRequest(rgw, {
      method: 'GET',
      path: `/${bucket}/over-http`,
      headers: { ...ssecHeaders, 'x-forwarded-proto': 'https' },
    });
    t.equal(back.status, 200, 'GET back with X-Forwarded-Proto: https');
    t.equal(back.body.toString('utf8'), 'hello', 'same bytes');
  }
});
