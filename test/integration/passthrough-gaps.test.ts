/**
 * Auth mode passthrough in front of the real Ceph RGW 16 (clients sign with RGW's own credential;
 * RGW checks the signature). The gateway holds no upstream credential there, so it cannot do the
 * SSE-C copies RGW 16 gets wrong (upstream-gaps.ts does them in sigv4/none); it refuses them with
 * 501 NotImplemented naming auth mode sigv4 instead of letting RGW store a plain → SSE-C copy as
 * plaintext behind a 200. An AWS-like upstream (detected at start-up) is not refused. Also the
 * SigV4 time checks that need no secret (RGW 16 accepts a presigned URL dated in the future).
 */
import t, { type Test } from 'tap';
import { createHash, createHmac } from 'node:crypto';
import https from 'node:https';
import { readFile } from 'node:fs/promises';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { ERRORS } from '../../src/errors/table.js';
import { startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { bucketName, createBucket, encodePath, rfc3986, rgwRequest, sharedRgw } from '../helpers/rgw.js';
import { parseS3Error, signedRequest, type SignedRequestOpts, type SignedResponse } from '../helpers/signed-request.js';
import { ssecHeaders } from '../helpers/sigv4-gateway.js';
import { boto3, randomSecret, sseKey, type Endpoint } from '../helpers/clients.js';
import { fakeS3Upstream } from '../helpers/fake-upstream.js';

// the rows this feature adds (looked up by name so that the test runs, and fails, without them)
const row = (name: string) => (ERRORS as Record<string, { status: number; code: string; message: string } | undefined>)[name];
const TO_SSEC = row('PassthroughCopyToSseC');
const FROM_SSEC = row('PassthroughCopyFromSseC');
const PART_KEYS = row('PassthroughPartCopyKeys');

const rgw = await sharedRgw();
const creds = { accessKey: rgw.accessKey, secretKey: rgw.secretKey, region: rgw.region };
const bucket = bucketName('passthrough-gaps');
const [gw] = await Promise.all([startGateway({ upstream: rgw.http, args: ['--auth-mode', 'passthrough'] }), createBucket(rgw, bucket)]);
const ca = await readFile(gw.caFile);
t.teardown(() => gw.stop());

let n = 0;
const fresh = (p: string) => `${p}-${++n}`;
const send = (req: SignedRequestOpts, g: GatewayProcess = gw, c = ca): Promise<SignedResponse> => signedRequest(g.url, creds, { ...req, ca: c });
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** 501 NotImplemented with the row's message, answered by the gateway (its request id, not RGW's). */
function refused(t: Test, res: SignedResponse, expected: { message: string } | undefined, label: string): void {
  t.equal(res.status, 501, `${label}: HTTP 501`, { body: res.text });
  const e = parseS3Error(res.text);
  t.equal(e.code, 'NotImplemented', `${label}: NotImplemented`);
  t.equal(e.message, expected?.message, `${label}: the message`);
  t.match(e.message ?? '', /auth mode sigv4/, `${label}: the message names auth mode sigv4 as the fix`);
  t.match(String(res.headers['x-amz-request-id']), /^[0-9A-F]{16}$/, `${label}: answered by the gateway`);
}

async function absentOnRgw(t: Test, key: string, label: string): Promise<void> {
  const head = await rgwRequest(rgw, { method: 'HEAD', path: `/${bucket}/${key}` });
  t.equal(head.status, 404, `${label}: no object ${key} on RGW (HEAD straight on RGW → 404)`);
}

// sources: a plain object and one SSE-C object (K1), both through the gateway
const K1 = sseKey();
const K2 = sseKey();
const BODY = Buffer.from('passthrough copy source '.repeat(1000));
const PLAIN = 'src-plain';
const ENC = 'src-ssec';
for (const [k, h] of [[PLAIN, {}], [ENC, ssecHeaders(K1)]] as const) {
  const r = await send({ method: 'PUT', path: `/${bucket}/${k}`, headers: h, body: BODY });
  if (r.status !== 200) throw new Error(`setup PUT ${k}: ${r.status} ${r.text}`);
}

t.test('CopyObject plain → SSE-C destination: 501 naming sigv4, nothing stored on RGW (RGW 16 would store plaintext)', async (t) => {
  const dst = fresh('copy-to-ssec');
  const res = await send({ method: 'PUT', path: `/${bucket}/${dst}`, headers: { 'x-amz-copy-source': `/${bucket}/${PLAIN}`, ...ssecHeaders(K2) } });
  refused(t, res, TO_SSEC, 'plain → SSE-C');
  await absentOnRgw(t, dst, 'plain → SSE-C');
});

t.test('CopyObject from an SSE-C source (copy-source triplet): 501 naming sigv4, to SSE-C and to plain', async (t) => {
  for (const [label, dest] of [['SSE-C → SSE-C (same key)', ssecHeaders(K1)], ['SSE-C → SSE-C (new key)', ssecHeaders(K2)], ['SSE-C → plain', {}]] as const) {
    const dst = fresh('copy-from-ssec');
    const res = await send({ method: 'PUT', path: `/${bucket}/${dst}`, headers: { 'x-amz-copy-source': `/${bucket}/${ENC}`, ...ssecHeaders(K1, true), ...dest } });
    refused(t, res, FROM_SSEC, label);
    await absentOnRgw(t, dst, label);
  }
});

t.test('CopyObject plain → plain still works (forwarded to RGW)', async (t) => {
  const dst = fresh('copy-plain');
  const res = await send({ method: 'PUT', path: `/${bucket}/${dst}`, headers: { 'x-amz-copy-source': `/${bucket}/${PLAIN}` } });
  t.equal(res.status, 200, 'copy 200', { body: res.text });
  t.match(res.text, /<CopyObjectResult/);
  const got = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}/${dst}` });
  t.equal(got.status, 200, 'the copy is on RGW');
  t.equal(sha256(got.body), sha256(BODY), 'with the source bytes');
});

t.test('boto3 copy_object with SSECustomerKey from a plain source sees 501 NotImplemented with the message', async (t) => {
  const secret = randomSecret();
  const dst = fresh('boto3-copy');
  const ep: Endpoint = { url: gw.url, ...creds, caFile: gw.caFile };
  const r = await boto3(ep, `
    from botocore.exceptions import ClientError
    try:
        s3.copy_object(Bucket=sys.argv[1], Key=sys.argv[2], CopySource={'Bucket': sys.argv[1], 'Key': sys.argv[3]},
                       SSECustomerAlgorithm='AES256', SSECustomerKey=sys.argv[4])
        print(json.dumps({'ok': True}))
    except ClientError as e:
        print(json.dumps({'status': e.response['ResponseMetadata']['HTTPStatusCode'], 'code': e.response['Error'].get('Code'), 'message': e.response['Error'].get('Message')}))
  `, { args: [bucket, dst, PLAIN, secret], timeoutMs: 60_000 });
  t.equal(r.code, 0, 'boto3 ran', { stderr: r.stderr });
  const out = JSON.parse(r.stdout.trim().split('\n').pop() || '{}') as { ok?: boolean; status?: number; code?: string; message?: string };
  t.notOk(out.ok, 'copy_object raised instead of pretending the copy is encrypted');
  t.equal(out.status, 501);
  t.equal(out.code, 'NotImplemented');
  t.equal(out.message, TO_SSEC?.message, 'boto3 reads the message');
  await absentOnRgw(t, dst, 'boto3 copy_object');
  t.notOk(r.stdout.includes(secret) || r.stderr.includes(secret) || gw.output().includes(sseKey(secret).b64), 'the key appears nowhere');
});

// ---- UploadPartCopy (RGW 16 decrypts the source with the UPLOAD's key) -------------------------------

async function upload(key: string, destKey?: ReturnType<typeof sseKey>): Promise<string> {
  const r = await send({ method: 'POST', path: `/${bucket}/${key}`, query: { uploads: '' }, headers: destKey ? ssecHeaders(destKey) : {} });
  const id = /<UploadId>([^<]+)<\/UploadId>/.exec(r.text)?.[1];
  if (!id) throw new Error(`CreateMultipartUpload: ${r.status} ${r.text}`);
  return id;
}
async function partsOnRgw(key: string, uploadId: string): Promise<number> {
  const r = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}/${key}`, query: { uploadId } });
  return (r.body.toString().match(/<Part>/g) ?? []).length;
}
async function complete(key: string, uploadId: string, etag: string, destKey?: ReturnType<typeof sseKey>): Promise<SignedResponse> {
  const body = `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${etag}</ETag></Part></CompleteMultipartUpload>`;
  return send({ method: 'POST', path: `/${bucket}/${key}`, query: { uploadId }, headers: destKey ? ssecHeaders(destKey) : {}, body });
}

t.test('UploadPartCopy: what RGW 16 does right is forwarded (plain → SSE-C upload, SSE-C → same key)', async (t) => {
  for (const [label, src, srcKey, destKey] of [['plain → SSE-C upload', PLAIN, undefined, K2], ['SSE-C → upload with the same key', ENC, K1, K1]] as const) {
    const k = fresh('upc-ok');
    const id = await upload(k, destKey);
    const r = await send({ method: 'PUT', path: `/${bucket}/${k}`, query: { partNumber: '1', uploadId: id }, headers: { 'x-amz-copy-source': `/${bucket}/${src}`, ...(srcKey ? ssecHeaders(srcKey, true) : {}), ...ssecHeaders(destKey) } });
    t.equal(r.status, 200, `${label}: 200`, { body: r.text });
    const etag = /<ETag>([^<]+)<\/ETag>/.exec(r.text)?.[1]?.replace(/&quot;/g, '"') ?? '';
    t.equal((await complete(k, id, etag, destKey)).status, 200, `${label}: completed`);
    const noKey = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}/${k}`, endpoint: 'https' });
    t.equal(noKey.status, 400, `${label}: stored encrypted (GET without the key straight on RGW: 400)`);
    const withKey = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}/${k}`, endpoint: 'https', headers: ssecHeaders(destKey) });
    t.equal(sha256(withKey.body), sha256(BODY), `${label}: the upload's key decrypts the source bytes`);
  }
});

t.test('UploadPartCopy from an SSE-C source into an upload with another key, or none: 501 naming sigv4, no part', async (t) => {
  for (const [label, destKey] of [['SSE-C → upload with another key', K2], ['SSE-C → plain upload', undefined]] as const) {
    const k = fresh('upc-refused');
    const id = await upload(k, destKey);
    const r = await send({ method: 'PUT', path: `/${bucket}/${k}`, query: { partNumber: '1', uploadId: id }, headers: { 'x-amz-copy-source': `/${bucket}/${ENC}`, ...ssecHeaders(K1, true), ...(destKey ? ssecHeaders(destKey) : {}) } });
    refused(t, r, PART_KEYS, label);
    t.equal(await partsOnRgw(k, id), 0, `${label}: the upload on RGW has no part`);
    await rgwRequest(rgw, { method: 'DELETE', path: `/${bucket}/${k}`, query: { uploadId: id } });
  }
});

// ---- the upstream's profile, detected at start-up in passthrough too ---------------------------------

const fakeUpstream = fakeS3Upstream;

for (const [name, headers, profile, forwarded] of [['AWS (Server: AmazonS3)', { server: 'AmazonS3' }, 'aws', true], ['an unrecognised upstream', {}, 'rgw16', false]] as const) {
  t.test(`passthrough in front of ${name}: profile ${profile} detected, plain → SSE-C CopyObject ${forwarded ? 'forwarded' : 'refused'}`, async (t) => {
    const up = await fakeUpstream(headers);
    const g = await startGateway({ upstream: up.url, args: ['--auth-mode', 'passthrough'] });
    t.teardown(async () => { await g.stop(); await up.close(); });
    t.match(g.logs().find((l) => l.msg === 'upstream profile detected'), { profile }, `profile ${profile} detected at start-up`);
    const res = await send({ method: 'PUT', path: '/bkt/copy', headers: { 'x-amz-copy-source': '/bkt/src', ...ssecHeaders(K2) } }, g, await readFile(g.caFile));
    const puts = up.seen.filter((s) => s.method === 'PUT');
    if (forwarded) {
      t.equal(res.status, 200, 'the upstream answered', { body: res.text });
      t.equal(puts.length, 1, 'the CopyObject reached the upstream as it was');
      t.equal(puts[0]?.headers['x-amz-server-side-encryption-customer-key-md5'], K2.md5, 'with the destination key');
    } else {
      refused(t, res, TO_SSEC, name);
      t.equal(puts.length, 0, 'nothing reached the upstream');
    }
  });
}

// ---- SigV4 time checks that need no secret ------------------------------------------------------------

const amzDate = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
const hmac = (k: Buffer | string, s: string) => createHmac('sha256', k).update(s).digest();

/** A presigned GET URL for the gateway, signed by hand (SDK presigners refuse X-Amz-Expires above a week). */
function presign(path: string, date: Date, expires: number): string {
  const host = new URL(gw.url).host;
  const d = amzDate(date);
  const scope = `${d.slice(0, 8)}/${creds.region}/s3/aws4_request`;
  const q: Record<string, string> = { 'X-Amz-Algorithm': 'AWS4-HMAC-SHA256', 'X-Amz-Credential': `${creds.accessKey}/${scope}`, 'X-Amz-Date': d, 'X-Amz-Expires': String(expires), 'X-Amz-SignedHeaders': 'host' };
  const qs = Object.keys(q).sort().map((k) => `${rfc3986(k)}=${rfc3986(q[k]!)}`).join('&');
  const canonical = ['GET', encodePath(path), qs, `host:${host}\n`, 'host', 'UNSIGNED-PAYLOAD'].join('\n');
  const sts = ['AWS4-HMAC-SHA256', d, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let k = hmac(`AWS4${creds.secretKey}`, d.slice(0, 8));
  for (const part of [creds.region, 's3', 'aws4_request']) k = hmac(k, part);
  return `${gw.url}${encodePath(path)}?${qs}&X-Amz-Signature=${hmac(k, sts).toString('hex')}`;
}

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    https.get(url, { ca, headers, agent: false }, (res) => {
      const c: Buffer[] = [];
      res.on('data', (b: Buffer) => c.push(b));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(c).toString() }));
    }).on('error', reject);
  });
}

t.test('presigned URL dated in the future (RGW 16 accepts it): 403 "Request is not valid yet"', async (t) => {
  const path = `/${bucket}/${PLAIN}`;
  const now = await get(presign(path, new Date(), 300));
  t.equal(now.status, 200, 'control: a presigned URL dated now works');
  const soon = await get(presign(path, new Date(Date.now() + 5 * 60_000), 300));
  t.equal(soon.status, 200, 'control: dated 5 min ahead (within the 15 min S3 allows) works');
  for (const [label, ms] of [['+20 min', 20 * 60_000], ['+2 h', 2 * 3600_000]] as const) {
    const r = await get(presign(path, new Date(Date.now() + ms), 300));
    t.equal(r.status, 403, `${label}: 403`, { body: r.text });
    t.has(parseS3Error(r.text), { code: 'AccessDenied', message: 'Request is not valid yet' }, `${label}: S3's answer`);
  }
});

t.test('expired presigned URL, X-Amz-Expires above a week, skewed x-amz-date: S3\'s answers instead of RGW\'s empty ones', async (t) => {
  const path = `/${bucket}/${PLAIN}`;
  const expired = await get(presign(path, new Date(Date.now() - 10 * 60_000), 60));
  t.equal(expired.status, 403);
  t.has(parseS3Error(expired.text), { code: 'AccessDenied', message: 'Request has expired' }, 'expired: AccessDenied "Request has expired"');
  const week = await get(presign(path, new Date(), 604801));
  t.equal(week.status, 400, 'X-Amz-Expires 604801: 400 (RGW 16: 403 AccessDenied)');
  const w = parseS3Error(week.text);
  t.equal(w.code, 'AuthorizationQueryParametersError');
  t.match(w.message ?? '', /^X-Amz-Expires must be less than a week \(in seconds\); that is, the given X-Amz-Expires must be less than 604800 seconds/);
  // a header-signed request 20 minutes off: RGW 16 refuses it too, without S3's details
  const signer = new SignatureV4({ service: 's3', region: creds.region, credentials: { accessKeyId: creds.accessKey, secretAccessKey: creds.secretKey }, sha256: Hash.bind(null, 'sha256'), uriEscapePath: false });
  const u = new URL(gw.url);
  const signed = await signer.sign(new HttpRequest({ method: 'GET', protocol: 'https:', hostname: u.hostname, port: Number(u.port), path: encodePath(path), headers: { host: u.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }),
    { signingDate: new Date(Date.now() - 20 * 60_000) });
  const skewed = await get(`${gw.url}${encodePath(path)}`, signed.headers as Record<string, string>);
  t.equal(skewed.status, 403);
  t.equal(parseS3Error(skewed.text).code, 'RequestTimeTooSkewed');
  t.match(skewed.text, /<MaxAllowedSkewMilliseconds>900000<\/MaxAllowedSkewMilliseconds>/, 'with S3\'s details (answered by the gateway)');
});
