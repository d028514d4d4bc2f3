/**
 * SSE-C validation end to end: real gateway process, real Ceph RGW 16 behind it, raw requests
 * signed by an independent signer (@smithy/signature-v4) for the gateway's own host:port
 * (auth passthrough: RGW checks the signature).
 *
 * Expected answers are the AWS texts of src/errors/table.ts (sse-c-reference.md Part A §3, the
 * validation order of §7 rule 3). Each is written out literally below and checked against the table
 * once, so the two cannot drift apart silently. Every rejected write is proven absent on RGW.
 */
import t, { type Test } from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ERRORS } from '../../src/errors/table.js';
import { awsCli, sseKey, type Endpoint, type SseKey } from '../helpers/clients.js';
import { startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { assertNoKeyMaterial } from '../helpers/keys.js';
import { bucketName, createBucket, rgwRequest, sharedRgw, startRgw, type RgwInfo } from '../helpers/rgw.js';
import { parseS3Error, signedRequest, type SignedRequestOpts, type SignedResponse } from '../helpers/signed-request.js';

const started = performance.now();

// ---- expected answers (literal; checked against src/errors/table.ts in the first test) ----------

const P = 'Requests specifying Server Side Encryption with Customer provided keys must';
interface Expected { name: keyof typeof ERRORS; status: number; code: string; message: string }
const X = {
  MissingAlgorithm: { name: 'SseCMissingAlgorithm', status: 400, code: 'InvalidArgument', message: `${P} provide a valid encryption algorithm.` },
  InvalidAlgorithm: { name: 'SseCInvalidAlgorithm', status: 400, code: 'InvalidEncryptionAlgorithmError', message: 'The Encryption request you specified is not valid. Supported value: AES256.' },
  MissingKey: { name: 'SseCMissingKey', status: 400, code: 'InvalidArgument', message: `${P} provide an appropriate secret key.` },
  MissingKeyMd5: { name: 'SseCMissingKeyMd5', status: 400, code: 'InvalidArgument', message: `${P} provide the client calculated MD5 of the secret key.` },
  InvalidKey: { name: 'SseCInvalidKey', status: 400, code: 'InvalidArgument', message: 'The secret key was invalid for the specified algorithm.' },
  Md5Mismatch: { name: 'SseCKeyMd5Mismatch', status: 400, code: 'InvalidArgument', message: 'The calculated MD5 hash of the key did not match the hash that was provided.' },
  Incompatible: { name: 'SseCIncompatible', status: 400, code: 'InvalidArgument', message: 'Server Side Encryption with Customer provided key is incompatible with the encryption method specified' },
  SseOnRead: { name: 'SseHeaderOnRead', status: 400, code: 'InvalidArgument', message: 'x-amz-server-side-encryption header is not supported for this operation.' },
  Plaintext: { name: 'PlaintextSseC', status: 400, code: 'InvalidRequest', message: `${P} be made over a secure connection.` },
  PlaintextClosed: { name: 'PlaintextClosed', status: 403, code: 'AccessDenied', message: 'This endpoint accepts requests over HTTPS only.' },
  Unreachable: { name: 'UpstreamUnreachable', status: 503, code: 'ServiceUnavailable', message: 'The gateway could not reach the storage service. Please try again.' },
} as const satisfies Record<string, Expected>;

// messages the gateway puts into RGW's empty <Message/> (src/upstream/normalize-error.ts)
const NO_SUCH_KEY = 'The specified key does not exist.';
// in passthrough the gateway now refuses this copy itself, naming the fix (passthrough-gaps.ts)
const COPY_SSEC_NOT_IMPLEMENTED = 'The storage service cannot copy an object encrypted with a customer-provided key (Ceph RGW before release 20 does not implement it). Run the gateway in auth mode sigv4 to have it perform such copies.';

const H = {
  algorithm: 'x-amz-server-side-encryption-customer-algorithm',
  key: 'x-amz-server-side-encryption-customer-key',
  keyMd5: 'x-amz-server-side-encryption-customer-key-md5',
} as const;
const CH = {
  algorithm: 'x-amz-copy-source-server-side-encryption-customer-algorithm',
  key: 'x-amz-copy-source-server-side-encryption-customer-key',
  keyMd5: 'x-amz-copy-source-server-side-encryption-customer-key-md5',
} as const;
const SSE = 'x-amz-server-side-encryption';

// ---- keys -----------------------------------------------------------------------------------------

/** every raw key material sent in this file: none may ever appear in the gateway's output */
const sentKeys: Buffer[] = [];
function key(raw?: Buffer): SseKey {
  const k = raw ? { raw, b64: raw.toString('base64'), md5: md5b64(raw) } : sseKey();
  sentKeys.push(k.raw);
  return k;
}
function md5b64(b: Buffer): string {
  return createHash('md5').update(b).digest('base64');
}

const K = key();
const K2 = key();
const K16 = key(randomBytes(16));
const K33 = key(randomBytes(33));
const NOT_B64 = 'this is *not* base64, not at all: !!!!!!!!!!'; // 44 characters, like a real key
sentKeys.push(Buffer.from(NOT_B64, 'latin1'));
const NOT_B64_MD5 = md5b64(Buffer.from(NOT_B64));

type Triplet = { algorithm?: string; key?: string; keyMd5?: string };
function triplet(tr: Triplet, names: typeof H | typeof CH = H): Record<string, string> {
  const out: Record<string, string> = {};
  if (tr.algorithm !== undefined) out[names.algorithm] = tr.algorithm;
  if (tr.key !== undefined) out[names.key] = tr.key;
  if (tr.keyMd5 !== undefined) out[names.keyMd5] = tr.keyMd5;
  return out;
}
const valid = (k: SseKey): Triplet => ({ algorithm: 'AES256', key: k.b64, keyMd5: k.md5 });

interface Case { name: string; tr: Triplet; expect: Expected; arg: keyof typeof H }
const CASES: Case[] = [
  { name: 'algorithm missing (key and MD5 present)', tr: { key: K.b64, keyMd5: K.md5 }, expect: X.MissingAlgorithm, arg: 'algorithm' },
  { name: 'algorithm missing (only the key present)', tr: { key: K.b64 }, expect: X.MissingAlgorithm, arg: 'algorithm' },
  { name: 'algorithm missing (only the MD5 present)', tr: { keyMd5: K.md5 }, expect: X.MissingAlgorithm, arg: 'algorithm' },
  { name: 'algorithm AES128', tr: { algorithm: 'AES128', key: K.b64, keyMd5: K.md5 }, expect: X.InvalidAlgorithm, arg: 'algorithm' },
  { name: 'algorithm aes256 (lower case)', tr: { algorithm: 'aes256', key: K.b64, keyMd5: K.md5 }, expect: X.InvalidAlgorithm, arg: 'algorithm' },
  { name: 'algorithm aws:kms', tr: { algorithm: 'aws:kms', key: K.b64, keyMd5: K.md5 }, expect: X.InvalidAlgorithm, arg: 'algorithm' },
  { name: 'key missing (algorithm and MD5 present)', tr: { algorithm: 'AES256', keyMd5: K.md5 }, expect: X.MissingKey, arg: 'key' },
  { name: 'MD5 missing (algorithm and key present)', tr: { algorithm: 'AES256', key: K.b64 }, expect: X.MissingKeyMd5, arg: 'keyMd5' },
  { name: 'key of 16 bytes (MD5 consistent)', tr: valid(K16), expect: X.InvalidKey, arg: 'key' },
  { name: 'key of 33 bytes (MD5 consistent)', tr: valid(K33), expect: X.InvalidKey, arg: 'key' },
  { name: 'key not base64', tr: { algorithm: 'AES256', key: NOT_B64, keyMd5: NOT_B64_MD5 }, expect: X.InvalidKey, arg: 'key' },
  { name: 'MD5 does not match the key', tr: { algorithm: 'AES256', key: K.b64, keyMd5: K2.md5 }, expect: X.Md5Mismatch, arg: 'keyMd5' },
];

// ---- setup ----------------------------------------------------------------------------------------

const rgw = await sharedRgw();
const creds = { accessKey: rgw.accessKey, secretKey: rgw.secretKey, region: rgw.region };
const WHEN_REQUIRED = { AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required', AWS_RESPONSE_CHECKSUM_VALIDATION: 'when_required' };

// RGW in its default configuration (no trust of X-Forwarded-Proto): started now, used much later
const defaultRgwP = startRgw({ requireSsl: true, trustForwarded: false });
defaultRgwP.catch(() => undefined);

const bucket = bucketName('validation-e2e');
const PASSTHROUGH = ['--auth-mode', 'passthrough'];
const [gw, gwRefuse, gwTls, gwNoCa] = await Promise.all([
  startGateway({ upstream: rgw.http, plaintext: true, args: PASSTHROUGH }),
  startGateway({ upstream: rgw.http, plaintext: true, args: [...PASSTHROUGH, '--plaintext-mode', 'refuse'] }),
  startGateway({ upstream: rgw.https, args: [...PASSTHROUGH, '--upstream-ca', rgw.caFile] }),
  startGateway({ upstream: rgw.https, args: PASSTHROUGH }),
  createBucket(rgw, bucket),
]);
const gateways: GatewayProcess[] = [gw, gwRefuse, gwTls, gwNoCa];
const work = await mkdtemp(path.join(os.tmpdir(), 'validation-e2e-'));

// a plain object for GET/HEAD (RGW would answer 200 to any SSE-C headers on it) and as copy source
const PLAIN = 'plain-object';
const put = await rgwRequest(rgw, { method: 'PUT', path: `/${bucket}/${PLAIN}`, body: 'plain body' });
if (put.status !== 200) throw new Error(`setup PUT on RGW: ${put.status} ${put.body.toString()}`);

t.teardown(async () => {
  await Promise.all(gateways.map((g) => g.stop()));
  const d = await defaultRgwP.catch(() => undefined);
  await d?.stop();
  await rm(work, { recursive: true, force: true });
  t.comment(`validation-e2e wall time: ${((performance.now() - started) / 1000).toFixed(1)} s`);
});

// ---- helpers --------------------------------------------------------------------------------------

const cas = new Map<GatewayProcess, Buffer>();
/** A signed request to the gateway's HTTPS listener (trusting its own self-signed certificate) or its plaintext one. */
async function send(g: GatewayProcess, req: SignedRequestOpts, listener: 'https' | 'http' = 'https', c = creds): Promise<SignedResponse> {
  if (!cas.has(g)) cas.set(g, await readFile(g.caFile));
  return signedRequest(listener === 'https' ? g.url : g.httpUrl!, c, { ...req, ca: cas.get(g) });
}

/** status, Code, Message (and ArgumentName when given) exactly; RequestId == x-amz-request-id; HEAD: no body. */
function assertError(t: Test, res: SignedResponse, exp: Expected, label: string, opts: { head?: boolean; argumentName?: string } = {}): void {
  t.equal(res.status, exp.status, `${label}: HTTP ${exp.status}`);
  const rid = res.headers['x-amz-request-id'];
  t.match(rid, /^[0-9A-F]{16}$/, `${label}: answered by the gateway (its x-amz-request-id), not by RGW`);
  if (opts.head) {
    t.equal(res.body.length, 0, `${label}: HEAD error has an empty body`);
    return;
  }
  t.match(String(res.headers['content-type']), /xml/, `${label}: XML body`);
  const e = parseS3Error(res.text);
  t.equal(e.code, exp.code, `${label}: Code ${exp.code}`);
  t.equal(e.message, exp.message, `${label}: Message`);
  t.equal(e.requestId, rid, `${label}: <RequestId> equals the x-amz-request-id header`);
  if (opts.argumentName !== undefined) t.equal(e.argumentName, opts.argumentName, `${label}: ArgumentName ${opts.argumentName}`);
}

/** HEAD straight to RGW (no SSE-C headers): the object must not exist. */
async function assertAbsentOnRgw(t: Test, key: string, label: string, r: RgwInfo = rgw, b = bucket): Promise<void> {
  const head = await rgwRequest(r, { method: 'HEAD', path: `/${b}/${key}` });
  t.equal(head.status, 404, `${label}: no object ${key} on RGW (HEAD → 404)`);
}

async function createUploadOnRgw(key: string): Promise<string> {
  const res = await rgwRequest(rgw, { method: 'POST', path: `/${bucket}/${key}`, query: { uploads: '' } });
  const id = /<UploadId>([^<]+)<\/UploadId>/.exec(res.body.toString())?.[1];
  if (res.status !== 200 || !id) throw new Error(`CreateMultipartUpload on RGW: ${res.status} ${res.body.toString()}`);
  return id;
}

async function partsOnRgw(key: string, uploadId: string): Promise<number> {
  const res = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}/${key}`, query: { uploadId } });
  if (res.status !== 200) throw new Error(`ListParts on RGW: ${res.status} ${res.body.toString()}`);
  return (res.body.toString().match(/<Part>/g) ?? []).length;
}

async function uploadsOnRgw(prefix: string): Promise<number> {
  const res = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}`, query: { uploads: '', prefix } });
  if (res.status !== 200) throw new Error(`ListMultipartUploads on RGW: ${res.status} ${res.body.toString()}`);
  return (res.body.toString().match(/<Upload>/g) ?? []).length;
}

let seq = 0;
const fresh = (p: string) => `${p}-${++seq}-${randomBytes(3).toString('hex')}`;

// ---- tests ----------------------------------------------------------------------------------------

t.test('the expectations written here are the rows of src/errors/table.ts', async (t) => {
  for (const exp of Object.values(X)) {
    const row = ERRORS[exp.name];
    t.same({ status: row.status, code: row.code, message: row.message }, { status: exp.status, code: exp.code, message: exp.message }, exp.name);
  }
});

t.test('a valid SSE-C round trip works through the gateway (baseline for everything below)', async (t) => {
  const k = fresh('baseline');
  const body = randomBytes(3000);
  // header names as AWS's documentation spells them (…-Key-MD5): names are case-insensitive
  const docCase = {
    'X-Amz-Server-Side-Encryption-Customer-Algorithm': 'AES256',
    'X-Amz-Server-Side-Encryption-Customer-Key': K.b64,
    'X-Amz-Server-Side-Encryption-Customer-Key-MD5': K.md5,
  };
  const p = await send(gw, { method: 'PUT', path: `/${bucket}/${k}`, headers: docCase, body });
  t.equal(p.status, 200, 'PUT 200', { body: p.text });
  t.equal(p.headers[H.algorithm], 'AES256');
  t.equal(p.headers[H.keyMd5], K.md5);
  const g = await send(gw, { method: 'GET', path: `/${bucket}/${k}`, headers: triplet(valid(K)) });
  t.equal(g.status, 200);
  t.ok(g.body.equals(body), 'same bytes back');
  const direct = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}/${k}`, endpoint: 'https' });
  t.equal(direct.status, 400, 'stored encrypted: RGW refuses a GET without the key');
});

t.test('PutObject: each malformed triplet → exact error, nothing written', async (t) => {
  for (const c of CASES) {
    const k = fresh('put');
    const res = await send(gw, { method: 'PUT', path: `/${bucket}/${k}`, headers: triplet(c.tr), body: 'must not be stored' });
    assertError(t, res, c.expect, `PUT ${c.name}`, { argumentName: H[c.arg] });
    await assertAbsentOnRgw(t, k, `PUT ${c.name}`);
  }
});

t.test('GetObject: each malformed triplet → exact error (RGW would answer 200 for this plain object)', async (t) => {
  for (const c of CASES) {
    const res = await send(gw, { method: 'GET', path: `/${bucket}/${PLAIN}`, headers: triplet(c.tr) });
    assertError(t, res, c.expect, `GET ${c.name}`, { argumentName: H[c.arg] });
  }
});

t.test('HeadObject: each malformed triplet → status only, empty body', async (t) => {
  for (const c of CASES) {
    const res = await send(gw, { method: 'HEAD', path: `/${bucket}/${PLAIN}`, headers: triplet(c.tr) });
    assertError(t, res, c.expect, `HEAD ${c.name}`, { head: true });
  }
});

t.test('CopyObject: each malformed copy-source triplet → exact error naming the copy-source header, no destination', async (t) => {
  for (const c of CASES) {
    const k = fresh('copy');
    const res = await send(gw, {
      method: 'PUT', path: `/${bucket}/${k}`,
      headers: { 'x-amz-copy-source': `/${bucket}/${PLAIN}`, ...triplet(c.tr, CH) },
    });
    assertError(t, res, c.expect, `CopyObject copy-source ${c.name}`, { argumentName: CH[c.arg] });
    await assertAbsentOnRgw(t, k, `CopyObject copy-source ${c.name}`);
  }
});

t.test('UploadPartCopy: each malformed copy-source triplet → exact error, no part uploaded', async (t) => {
  const k = fresh('upc');
  const uploadId = await createUploadOnRgw(k);
  for (const c of CASES) {
    const res = await send(gw, {
      method: 'PUT', path: `/${bucket}/${k}`, query: { partNumber: '1', uploadId },
      headers: { 'x-amz-copy-source': `/${bucket}/${PLAIN}`, ...triplet(c.tr, CH) },
    });
    assertError(t, res, c.expect, `UploadPartCopy copy-source ${c.name}`, { argumentName: CH[c.arg] });
  }
  t.equal(await partsOnRgw(k, uploadId), 0, 'the upload on RGW has no part');
  // control: the same request with a valid copy-source triplet reaches RGW and uploads the part
  const ok = await send(gw, {
    method: 'PUT', path: `/${bucket}/${k}`, query: { partNumber: '1', uploadId },
    headers: { 'x-amz-copy-source': `/${bucket}/${PLAIN}` },
  });
  t.equal(ok.status, 200, 'control UploadPartCopy without SSE-C reaches RGW', { body: ok.text });
  t.equal(await partsOnRgw(k, uploadId), 1, 'control: one part on RGW');
});

t.test('first failing check wins when several faults are combined', async (t) => {
  const combos: { name: string; method: 'PUT' | 'GET'; headers: Record<string, string>; copy?: boolean; upc?: boolean; expect: Expected; arg: string }[] = [
    { name: 'AES128 + 16-byte key + wrong MD5 → algorithm', method: 'PUT', headers: triplet({ algorithm: 'AES128', key: K16.b64, keyMd5: K2.md5 }), expect: X.InvalidAlgorithm, arg: H.algorithm },
    { name: 'no algorithm + key not base64 + wrong MD5 → missing algorithm', method: 'PUT', headers: triplet({ key: NOT_B64, keyMd5: K2.md5 }), expect: X.MissingAlgorithm, arg: H.algorithm },
    { name: 'empty algorithm + valid key → missing algorithm', method: 'PUT', headers: triplet({ algorithm: '', key: K.b64, keyMd5: K.md5 }), expect: X.MissingAlgorithm, arg: H.algorithm },
    { name: 'aws:kms alone (no key, no MD5) → algorithm', method: 'PUT', headers: triplet({ algorithm: 'aws:kms' }), expect: X.InvalidAlgorithm, arg: H.algorithm },
    { name: 'AES256 alone (no key, no MD5) → missing key', method: 'PUT', headers: triplet({ algorithm: 'AES256' }), expect: X.MissingKey, arg: H.key },
    { name: 'key not base64 and no MD5 → missing MD5 (presence before validity)', method: 'PUT', headers: triplet({ algorithm: 'AES256', key: NOT_B64 }), expect: X.MissingKeyMd5, arg: H.keyMd5 },
    { name: '16-byte key + wrong MD5 → invalid key (before the MD5 comparison)', method: 'PUT', headers: triplet({ algorithm: 'AES256', key: K16.b64, keyMd5: K.md5 }), expect: X.InvalidKey, arg: H.key },
    { name: 'missing MD5 + x-amz-server-side-encryption: aws:kms → triplet before conflict', method: 'PUT', headers: { ...triplet({ algorithm: 'AES256', key: K.b64 }), [SSE]: 'aws:kms' }, expect: X.MissingKeyMd5, arg: H.keyMd5 },
    { name: 'GET: invalid key + x-amz-server-side-encryption → triplet before the read check', method: 'GET', headers: { ...triplet(valid(K16)), [SSE]: 'AES256' }, expect: X.InvalidKey, arg: H.key },
    { name: 'CopyObject: bad destination triplet + bad copy-source triplet → destination first', method: 'PUT', copy: true, headers: { ...triplet({ algorithm: 'AES256', keyMd5: K.md5 }), ...triplet({ algorithm: 'AES128', key: K.b64, keyMd5: K.md5 }, CH) }, expect: X.MissingKey, arg: H.key },
    { name: 'CopyObject: valid destination + SSE conflict + MD5-mismatched copy-source → copy-source before conflict', method: 'PUT', copy: true, headers: { ...triplet(valid(K)), [SSE]: 'AES256', ...triplet({ algorithm: 'AES256', key: K.b64, keyMd5: K2.md5 }, CH) }, expect: X.Md5Mismatch, arg: CH.keyMd5 },
    { name: 'UploadPartCopy: bad destination triplet + bad copy-source triplet → destination first', method: 'PUT', upc: true, headers: { ...triplet({ key: K.b64, keyMd5: K.md5 }), ...triplet({ algorithm: 'AES256' }, CH) }, expect: X.MissingAlgorithm, arg: H.algorithm },
  ];
  const upcKey = fresh('combo-upc');
  const uploadId = await createUploadOnRgw(upcKey);
  for (const c of combos) {
    const k = c.method === 'GET' ? PLAIN : c.upc ? upcKey : fresh('combo');
    const headers = c.copy || c.upc ? { 'x-amz-copy-source': `/${bucket}/${PLAIN}`, ...c.headers } : c.headers;
    const res = await send(gw, {
      method: c.method, path: `/${bucket}/${k}`, headers,
      query: c.upc ? { partNumber: '1', uploadId } : undefined,
      body: c.method === 'PUT' && !c.copy && !c.upc ? 'must not be stored' : undefined,
    });
    assertError(t, res, c.expect, c.name, { argumentName: c.arg });
    if (c.method === 'PUT' && !c.upc) await assertAbsentOnRgw(t, k, c.name);
  }
  t.equal(await partsOnRgw(upcKey, uploadId), 0, 'no part uploaded');
});

t.test('SSE-C + x-amz-server-side-encryption on writes → 400 InvalidArgument (RGW alone would accept it)', async (t) => {
  for (const sse of ['AES256', 'aws:kms']) {
    // RGW's own answer, for the record: it accepts the conflict (sse-c-reference.md Part B)
    const k0 = fresh('rgw-accepts');
    const direct = await rgwRequest(rgw, { method: 'PUT', path: `/${bucket}/${k0}`, endpoint: 'https', headers: { ...triplet(valid(K)), [SSE]: sse }, body: 'x' });
    t.equal(direct.status, 200, `RGW itself accepts PutObject with SSE-C + ${sse}`);

    const kp = fresh('conflict-put');
    const p = await send(gw, { method: 'PUT', path: `/${bucket}/${kp}`, headers: { ...triplet(valid(K)), [SSE]: sse }, body: 'must not be stored' });
    assertError(t, p, X.Incompatible, `PutObject SSE-C + ${sse}`, { argumentName: SSE });
    await assertAbsentOnRgw(t, kp, `PutObject SSE-C + ${sse}`);

    const km0 = fresh('rgw-accepts-mpu');
    const directM = await rgwRequest(rgw, { method: 'POST', path: `/${bucket}/${km0}`, query: { uploads: '' }, endpoint: 'https', headers: { ...triplet(valid(K)), [SSE]: sse } });
    t.equal(directM.status, 200, `RGW itself accepts CreateMultipartUpload with SSE-C + ${sse}`);
    const kc0 = fresh('rgw-accepts-copy');
    const directC = await rgwRequest(rgw, { method: 'PUT', path: `/${bucket}/${kc0}`, endpoint: 'https', headers: { 'x-amz-copy-source': `/${bucket}/${PLAIN}`, ...triplet(valid(K)), [SSE]: sse } });
    t.equal(directC.status, 200, `RGW itself accepts CopyObject with SSE-C + ${sse}`);

    const km = fresh('conflict-mpu');
    const m = await send(gw, { method: 'POST', path: `/${bucket}/${km}`, query: { uploads: '' }, headers: { ...triplet(valid(K)), [SSE]: sse } });
    assertError(t, m, X.Incompatible, `CreateMultipartUpload SSE-C + ${sse}`, { argumentName: SSE });
    t.equal(await uploadsOnRgw(km), 0, `CreateMultipartUpload SSE-C + ${sse}: no upload on RGW`);

    const kc = fresh('conflict-copy');
    const c = await send(gw, { method: 'PUT', path: `/${bucket}/${kc}`, headers: { 'x-amz-copy-source': `/${bucket}/${PLAIN}`, ...triplet(valid(K)), [SSE]: sse } });
    assertError(t, c, X.Incompatible, `CopyObject SSE-C + ${sse}`, { argumentName: SSE });
    await assertAbsentOnRgw(t, kc, `CopyObject SSE-C + ${sse}`);
  }
  // not a conflict: the copy-source triplet only decrypts the source; the destination may use SSE-S3
  const kd = fresh('copy-to-sse-s3');
  const ok = await send(gw, { method: 'PUT', path: `/${bucket}/${kd}`, headers: { 'x-amz-copy-source': `/${bucket}/${PLAIN}`, ...triplet(valid(K), CH), [SSE]: 'AES256' } });
  // (passthrough on RGW 16: refused as a copy from an SSE-C source, 501 — passthrough-gaps.ts — but not as a conflict)
  t.notSame(parseS3Error(ok.text).code, 'InvalidArgument', 'CopyObject copy-source SSE-C + destination SSE-S3: not refused as a conflict', { status: ok.status, body: ok.text });
  const kms = fresh('conflict-kms-id');
  const p = await send(gw, { method: 'PUT', path: `/${bucket}/${kms}`, headers: { ...triplet(valid(K)), 'x-amz-server-side-encryption-aws-kms-key-id': 'some-key-id' }, body: 'x' });
  assertError(t, p, X.Incompatible, 'PutObject SSE-C + KMS key id');
  await assertAbsentOnRgw(t, kms, 'PutObject SSE-C + KMS key id');
});

t.test('x-amz-server-side-encryption on GET/HEAD → 400', async (t) => {
  for (const sse of ['AES256', 'aws:kms']) {
    const g = await send(gw, { method: 'GET', path: `/${bucket}/${PLAIN}`, headers: { [SSE]: sse } });
    assertError(t, g, X.SseOnRead, `GET + ${sse}`, { argumentName: SSE });
    const h = await send(gw, { method: 'HEAD', path: `/${bucket}/${PLAIN}`, headers: { [SSE]: sse } });
    assertError(t, h, X.SseOnRead, `HEAD + ${sse}`, { head: true });
  }
  const g = await send(gw, { method: 'GET', path: `/${bucket}/${PLAIN}`, headers: { ...triplet(valid(K)), [SSE]: 'AES256' } });
  assertError(t, g, X.SseOnRead, 'GET with a valid triplet + AES256');
});

t.test('SSE-C headers on operations that do not take them are not validated: they reach RGW', async (t) => {
  const bad = triplet({ algorithm: 'AES128', key: NOT_B64 });
  const k = fresh('delete-me');
  t.equal((await rgwRequest(rgw, { method: 'PUT', path: `/${bucket}/${k}`, body: 'x' })).status, 200);
  const d = await send(gw, { method: 'DELETE', path: `/${bucket}/${k}`, headers: bad });
  t.equal(d.status, 204, "DeleteObject with a malformed triplet: RGW's 204", { body: d.text });
  t.notMatch(String(d.headers['x-amz-request-id']), /^[0-9A-F]{16}$/, 'DeleteObject answered by RGW (its request id)');
  await assertAbsentOnRgw(t, k, 'DeleteObject really deleted');

  const l = await send(gw, { method: 'GET', path: `/${bucket}`, query: { 'list-type': '2' }, headers: { ...bad, ...triplet({ algorithm: 'x' }, CH) } });
  t.equal(l.status, 200, 'ListObjectsV2 with malformed triplets: 200');
  t.match(l.text, /<ListBucketResult/);
  t.match(l.text, new RegExp(`<Key>${PLAIN}</Key>`));
});

// ---- plaintext listener ---------------------------------------------------------------------------

t.test('plaintext listener: any SSE-C header → 400 InvalidRequest, Connection: close, nothing reaches RGW', async (t) => {
  const KP = key();
  const KC = key();
  const MALFORMED = `not-a-key-${randomBytes(8).toString('hex')}`;
  sentKeys.push(Buffer.from(MALFORMED, 'latin1'));
  const requests: { label: string; key: string; headers: Record<string, string>; body?: string; header: string }[] = [
    { label: 'valid triplet', key: fresh('plain-valid'), headers: triplet(valid(KP)), body: 'secret data', header: H.key },
    { label: 'malformed triplet', key: fresh('plain-malformed'), headers: triplet({ algorithm: 'AES128', key: MALFORMED }), body: 'secret data', header: H.key },
    { label: 'copy-source headers only', key: fresh('plain-copy'), headers: { 'x-amz-copy-source': `/${bucket}/${PLAIN}`, ...triplet(valid(KC), CH) }, header: CH.key },
  ];
  const ids: string[] = [];
  for (const r of requests) {
    const res = await send(gw, { method: 'PUT', path: `/${bucket}/${r.key}`, headers: r.headers, body: r.body }, 'http');
    assertError(t, res, X.Plaintext, `plaintext ${r.label}`);
    t.equal(res.headers.connection, 'close', `plaintext ${r.label}: Connection: close`);
    await assertAbsentOnRgw(t, r.key, `plaintext ${r.label}`);
    ids.push(String(res.headers['x-amz-request-id']));
  }
  await waitFor(() => exposures(gw).length >= 3);
  requests.forEach((r, i) => {
    const e = exposures(gw).find((l) => l.requestId === ids[i]);
    t.ok(e, `plaintext ${r.label}: a key_exposed log line for the request`);
    if (!e) return;
    t.equal(e.level, 40, `plaintext ${r.label}: logged as a warning`);
    t.match(String(e.fingerprint), /^[0-9a-f]{64}$/, `plaintext ${r.label}: 64-hex fingerprint`);
    t.equal(e.header, r.header, `plaintext ${r.label}: names the header that carried the key`);
  });
  const fps = exposures(gw).map((e) => e.fingerprint);
  t.equal(new Set(fps).size, fps.length, 'distinct keys, distinct fingerprints');
  assertNoKeyMaterial(t, gw.output(), [KP.raw, KC.raw, Buffer.from(MALFORMED, 'latin1')], 'gateway output after plaintext exposures');
  t.notOk(gw.output().includes(MALFORMED), 'the malformed key text is not in the output either');
});

t.test('plaintext listener: an SSE-C key hoisted into the query string (presign style) is refused too', async (t) => {
  // Some SDKs hoist x-amz-* headers into presigned URLs (sse-c-reference.md Part A §2); the gateway's
  // logger already redacts these parameters. Over plaintext the key crossed the network in clear all the same.
  const KQ = key();
  const k = fresh('plain-query');
  const res = await send(gw, {
    method: 'PUT', path: `/${bucket}/${k}`, body: 'secret data',
    query: { [H.algorithm]: 'AES256', [H.key]: KQ.b64, 'x-amz-server-side-encryption-customer-key-MD5': KQ.md5 },
  }, 'http');
  const e = parseS3Error(res.text);
  t.same({ status: res.status, code: e.code, message: e.message }, { status: X.Plaintext.status, code: X.Plaintext.code, message: X.Plaintext.message },
    'plaintext, SSE-C in the query string: 400 InvalidRequest (secure connection required)');
  await assertAbsentOnRgw(t, k, 'plaintext, SSE-C in the query string');
  const rid = String(res.headers['x-amz-request-id']);
  await waitFor(() => exposures(gw).some((e) => e.requestId === rid), 500);
  t.ok(exposures(gw).some((e) => e.requestId === rid), 'the key is reported as exposed');
});

t.test('plaintext listener: a request without SSE-C headers is forwarded (ListObjects)', async (t) => {
  const res = await send(gw, { method: 'GET', path: `/${bucket}` }, 'http');
  t.equal(res.status, 200, 'ListObjects 200', { body: res.text });
  t.match(res.text, new RegExp(`<Key>${PLAIN}</Key>`), 'the listing');
});

t.test('--plaintext-mode refuse: every plaintext request → 403 AccessDenied; HTTPS still served', async (t) => {
  const res = await send(gwRefuse, { method: 'GET', path: `/${bucket}` }, 'http');
  assertError(t, res, X.PlaintextClosed, 'refuse-mode ListObjects');
  const https = await send(gwRefuse, { method: 'GET', path: `/${bucket}` });
  t.equal(https.status, 200, 'the HTTPS listener of the same gateway forwards');
});

t.test('aws-cli v1 put-object with SSE-C over http:// → clean InvalidRequest error, no traceback', async (t) => {
  const k = fresh('awscli-plain');
  const kk = key();
  const file = path.join(work, 'small.txt');
  await writeFile(file, 'hello over plaintext');
  const ep: Endpoint = { url: gw.httpUrl!, ...creds };
  const r = await awsCli('v1', ep, ['s3api', 'put-object', '--bucket', bucket, '--key', k, '--body', file,
    '--sse-customer-algorithm', 'AES256', '--sse-customer-key', kk.b64, '--sse-customer-key-md5', kk.md5], { env: WHEN_REQUIRED, timeoutMs: 60_000 });
  t.not(r.code, 0, 'aws-cli exits non-zero');
  t.match(r.stderr, /InvalidRequest/, 'stderr names InvalidRequest');
  t.ok(r.stderr.includes(X.Plaintext.message), `stderr carries the message: ${r.stderr.trim()}`);
  t.notMatch(r.stderr, /Traceback|NoneType/, 'no Python traceback');
  await assertAbsentOnRgw(t, k, 'aws-cli over plaintext');
});

// ---- upstream errors with empty messages ----------------------------------------------------------

t.test("RGW's empty <Message/> is filled: NoSuchKey (raw and aws-cli v1)", async (t) => {
  const missing = fresh('does-not-exist');
  const direct = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}/${missing}` });
  t.equal(parseS3Error(direct.body.toString()).message ?? '', '', "RGW's own NoSuchKey body has an empty Message (the reason for the fill)");
  const raw = await send(gw, { method: 'GET', path: `/${bucket}/${missing}` });
  t.equal(raw.status, 404);
  const e = parseS3Error(raw.text);
  t.equal(e.code, 'NoSuchKey');
  t.equal(e.message, NO_SUCH_KEY);

  const ep: Endpoint = { url: gw.url, ...creds, caFile: gw.caFile };
  const r = await awsCli('v1', ep, ['s3api', 'get-object', '--bucket', bucket, '--key', missing, path.join(work, 'out.bin')], { env: WHEN_REQUIRED, timeoutMs: 60_000 });
  t.not(r.code, 0, 'aws-cli exits non-zero');
  t.match(r.stderr, /NoSuchKey/, 'stderr names NoSuchKey');
  t.ok(r.stderr.includes(NO_SUCH_KEY), `stderr carries the message: ${r.stderr.trim()}`);
  t.notMatch(r.stderr, /NoneType/, "no \"argument of type 'NoneType' is not iterable\" crash");
  t.notMatch(r.stderr, /Traceback/);
});

t.test("RGW's 501 for CopyObject from an SSE-C source gets the explanatory message (raw and aws-cli v1)", async (t) => {
  const src = fresh('ssec-src');
  const p = await send(gw, { method: 'PUT', path: `/${bucket}/${src}`, headers: triplet(valid(K)), body: 'encrypted source' });
  t.equal(p.status, 200, 'PUT 200', { body: p.text });
  const headers = { 'x-amz-copy-source': `/${bucket}/${src}`, ...triplet(valid(K), CH), ...triplet(valid(K2)) };
  const direct = await rgwRequest(rgw, { method: 'PUT', path: `/${bucket}/${fresh('direct-dst')}`, endpoint: 'https', headers });
  t.equal(direct.status, 501, 'RGW 16 itself: 501');
  t.equal(parseS3Error(direct.body.toString()).message ?? '', '', "RGW's NotImplemented body has an empty Message");

  const dst = fresh('ssec-dst');
  const raw = await send(gw, { method: 'PUT', path: `/${bucket}/${dst}`, headers });
  t.equal(raw.status, 501);
  const e = parseS3Error(raw.text);
  t.equal(e.code, 'NotImplemented');
  t.equal(e.message, COPY_SSEC_NOT_IMPLEMENTED);
  await assertAbsentOnRgw(t, dst, 'failed copy');

  const ep: Endpoint = { url: gw.url, ...creds, caFile: gw.caFile };
  const r = await awsCli('v1', ep, ['s3api', 'copy-object', '--bucket', bucket, '--key', fresh('cli-dst'), '--copy-source', `${bucket}/${src}`,
    '--copy-source-sse-customer-algorithm', 'AES256', '--copy-source-sse-customer-key', K.b64, '--copy-source-sse-customer-key-md5', K.md5,
    '--sse-customer-algorithm', 'AES256', '--sse-customer-key', K2.b64, '--sse-customer-key-md5', K2.md5], { env: WHEN_REQUIRED, timeoutMs: 60_000 });
  t.not(r.code, 0, 'aws-cli exits non-zero');
  t.match(r.stderr, /NotImplemented/);
  t.ok(r.stderr.includes(COPY_SSEC_NOT_IMPLEMENTED), `stderr carries the message: ${r.stderr.trim()}`);
  t.notMatch(r.stderr, /NoneType|Traceback/, 'no crash');
});

// ---- upstream configurations ----------------------------------------------------------------------

t.test('RGW in its default configuration (no trust of X-Forwarded-Proto): SSE-C PUT gets the explanatory 400', async (t) => {
  const d = await defaultRgwP;
  const b = bucketName('default-rgw');
  await createBucket(d, b);
  const g = await startGateway({ upstream: d.http, args: PASSTHROUGH });
  gateways.push(g);
  const k = fresh('default-rgw');
  const res = await signedRequest(g.url, { accessKey: d.accessKey, secretKey: d.secretKey, region: d.region }, {
    method: 'PUT', path: `/${b}/${k}`, headers: triplet(valid(K)), body: 'x', ca: await readFile(g.caFile),
  });
  t.equal(res.status, 400, 'HTTP 400', { body: res.text });
  const e = parseS3Error(res.text);
  t.equal(e.code, 'InvalidRequest', "RGW's code is kept");
  t.match(e.message, /rgw trust forwarded https/, `the message explains the RGW setting: ${e.message}`);
  t.match(e.requestId, /^tx/, "RGW's own error body, relayed with its Message filled");
  await assertAbsentOnRgw(t, k, 'default-config RGW', d, b);
});

t.test('gateway → RGW over TLS with --upstream-ca: SSE-C round trip', async (t) => {
  const k = fresh('tls-upstream');
  const body = randomBytes(5000);
  const tlsCa = await readFile(gwTls.caFile);
  const p = await signedRequest(gwTls.url, creds, { method: 'PUT', path: `/${bucket}/${k}`, headers: triplet(valid(K)), body, ca: tlsCa });
  t.equal(p.status, 200, 'PUT 200', { body: p.text });
  t.equal(p.headers[H.keyMd5], K.md5, 'key MD5 echoed');
  const g = await signedRequest(gwTls.url, creds, { method: 'GET', path: `/${bucket}/${k}`, headers: triplet(valid(K)), ca: tlsCa });
  t.equal(g.status, 200);
  t.ok(g.body.equals(body), 'same bytes back');
  const h = await signedRequest(gwTls.url, creds, { method: 'HEAD', path: `/${bucket}/${k}`, headers: triplet(valid(K)), ca: tlsCa });
  t.equal(h.status, 200);
  t.equal(h.headers['content-length'], String(body.length), 'plaintext length');
  const noKey = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}/${k}`, endpoint: 'https' });
  t.equal(noKey.status, 400, 'stored encrypted (RGW refuses a GET without the key)');
});

t.test('gateway → RGW over TLS without --upstream-ca: 503, and the log says the certificate is not trusted', async (t) => {
  const res = await signedRequest(gwNoCa.url, creds, { method: 'GET', path: `/${bucket}`, ca: await readFile(gwNoCa.caFile) });
  assertError(t, res, X.Unreachable, 'untrusted upstream certificate');
  const rid = String(res.headers['x-amz-request-id']);
  await waitFor(() => gwNoCa.logs().some((l) => l.id === rid));
  const line = gwNoCa.logs().find((l) => l.id === rid);
  t.ok(line, 'a log line for the request');
  t.match(String(line?.failure), /CERT|certificate/i, `the log names the certificate problem: ${String(line?.failure)}`);
});

t.test('no key material in anything the gateways printed', async (t) => {
  for (const [i, g] of gateways.entries()) assertNoKeyMaterial(t, g.output(), sentKeys, `gateway #${i} output`);
});

// ---- small utilities ------------------------------------------------------------------------------

function exposures(g: GatewayProcess): Record<string, unknown>[] {
  return g.logs().filter((l) => l.event === 'key_exposed');
}

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
}
