/**
 * GetObjectAttributes on Ceph RGW 16 (upstream profile rgw16). RGW 16 serves `GET ?attributes` as a
 * plain GetObject (200 with the object's bytes), which boto3 cannot parse. In auth mode sigv4 the
 * gateway answers it from a HEAD made with the client's SSE-C key (src/pipeline/stages/object-attributes.ts);
 * in auth mode passthrough it refuses it with 501 NotImplemented. Driven with boto3 (get_object_attributes,
 * SSECustomerKey) and with raw signed requests for the exact XML and headers.
 */
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { boto3, sseKey, type Endpoint, type SseKey } from '../helpers/clients.js';
import { startGateway } from '../helpers/gateway.js';
import { assertNoKeyMaterial } from '../helpers/keys.js';
import { bucketName, createBucket, rgwRequest, sharedRgw } from '../helpers/rgw.js';
import { credsOf, newClient, onRgw, parseError, sendSigned, ssecHeaders, startSigv4Gateway, type RawResponse } from '../helpers/sigv4-gateway.js';

const rgw = await sharedRgw();
const bucket = bucketName('attrs');
const versioned = bucketName('attrs-v');
const client = newClient('attrs');
const [gw, pt] = await Promise.all([
  startSigv4Gateway(rgw, { doc: { clients: [client] } }), // upstream profile auto: RGW detected → rgw16
  startGateway({ upstream: rgw.http, args: ['--upstream-profile', 'rgw16'] }), // auth mode passthrough
  createBucket(rgw, bucket),
  createBucket(rgw, versioned),
]);
const ep: Endpoint = gw.endpoint(client);
const K = sseKey();
const WRONG = sseKey();
const keys = [K.raw, WRONG.raw];

t.teardown(async () => {
  await Promise.all([gw.stop(), pt.stop()]);
  await rm(gw.dir, { recursive: true, force: true });
});

const PLAIN = Buffer.from('hello attributes\n');
const SECRET = Buffer.from('an SSE-C object, 29 bytes...\n');
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const fw = { 'x-forwarded-proto': 'https' }; // RGW trusts it (rgw trust forwarded https)

// setup straight on RGW
await rgwRequest(rgw, { method: 'PUT', path: `/${bucket}/plain.txt`, body: PLAIN, headers: { 'content-type': 'text/plain' } });
await rgwRequest(rgw, { method: 'PUT', path: `/${bucket}/secret.bin`, body: SECRET, headers: { ...fw, ...ssecHeaders(K) } });

interface Py { ok?: Record<string, unknown>; error?: { Code?: string; Message?: string }; status?: number; headers?: Record<string, string>; exception?: string }

/** boto3 get_object_attributes(**args), with the SSE-C triplet of `key` when given. */
async function attrs(args: Record<string, unknown>, key?: SseKey, endpoint: Endpoint = ep): Promise<Py> {
  const r = await boto3(endpoint, `
    import botocore
    a = json.loads(sys.argv[1])
    if len(sys.argv) > 2:
        # botocore computes the key MD5 (and base64s the key) for GetObject/HeadObject, not for
        # GetObjectAttributes: the caller passes all three, as s3-tests do
        a['SSECustomerAlgorithm'] = 'AES256'
        a['SSECustomerKey'] = sys.argv[2]
        a['SSECustomerKeyMD5'] = sys.argv[3]
    try:
        r = s3.get_object_attributes(**a)
        h = r.pop('ResponseMetadata', {}).get('HTTPHeaders', {})
        print(json.dumps({'ok': r, 'headers': h}, default=str))
    except botocore.exceptions.ClientError as e:
        print(json.dumps({'error': e.response.get('Error'), 'status': e.response['ResponseMetadata'].get('HTTPStatusCode'), 'headers': e.response['ResponseMetadata'].get('HTTPHeaders', {})}))
    except Exception as e:
        print(json.dumps({'exception': type(e).__name__ + ': ' + str(e)[:300]}))
  `, { args: [JSON.stringify(args), ...(key ? [key.b64, key.md5] : [])], timeoutMs: 120_000 });
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Py;
  } catch {
    return { exception: `boto3 exited ${r.code}: ${r.stderr.slice(-1500)}` };
  }
}

const ALL = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'];

function raw(path: string, headers: Record<string, string>, query: Record<string, string> = { attributes: '' }): Promise<RawResponse> {
  return sendSigned(gw.url, gw.ca, credsOf(client), { method: 'GET', path, query, headers });
}

t.test('RGW 16 alone answers ?attributes as a GetObject: 200, the object bytes, not XML (why the gateway answers it)', async (tt) => {
  const r = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}/plain.txt`, query: { attributes: '' }, headers: { 'x-amz-object-attributes': 'ETag,ObjectSize' } });
  tt.equal(r.status, 200, 'RGW: 200');
  tt.same(r.body, PLAIN, 'RGW: the body is the object itself');
  tt.equal(r.headers['content-type'], 'text/plain', "RGW: the object's Content-Type");
});

t.test('plain object: boto3 get_object_attributes gets ETag (no quotes), ObjectSize, StorageClass STANDARD, LastModified; no ObjectParts', async (tt) => {
  const r = await attrs({ Bucket: bucket, Key: 'plain.txt', ObjectAttributes: ALL });
  if (!tt.ok(r.ok, 'boto3 parsed a GetObjectAttributes answer', r)) return;
  tt.equal(r.ok!.ETag, md5(PLAIN), 'ETag = MD5 of the bytes, without quotes');
  tt.equal(r.ok!.ObjectSize, PLAIN.length, 'ObjectSize');
  tt.equal(r.ok!.StorageClass, 'STANDARD', 'StorageClass STANDARD (RGW sends no x-amz-storage-class)');
  tt.ok(r.ok!.LastModified, 'LastModified (from the Last-Modified header)');
  tt.notOk('ObjectParts' in r.ok!, 'no ObjectParts for a single-part object');
  tt.notOk('Checksum' in r.ok!, 'no Checksum: RGW 16 shows none on HEAD');
});

t.test('only the requested attributes are returned (XML checked on the wire)', async (tt) => {
  const r = await attrs({ Bucket: bucket, Key: 'plain.txt', ObjectAttributes: ['ObjectSize'] });
  tt.same(Object.keys(r.ok ?? {}).sort(), ['LastModified', 'ObjectSize'], 'boto3: ObjectSize (and the LastModified header) only', r);
  const w = await raw(`/${bucket}/plain.txt`, { 'x-amz-object-attributes': 'StorageClass,ETag' });
  tt.equal(w.status, 200, '200');
  tt.equal(w.headers['content-type'], 'application/xml', 'application/xml');
  tt.equal(w.text, `<?xml version="1.0" encoding="UTF-8"?>\n<GetObjectAttributesResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ETag>${md5(PLAIN)}</ETag><StorageClass>STANDARD</StorageClass></GetObjectAttributesResponse>`, 'exactly ETag and StorageClass, in the model order');
  tt.ok(w.headers['last-modified'], 'Last-Modified header');
  tt.equal(w.headers['content-length'], String(w.body.length), 'Content-Length of the XML, not of the object');
});

t.test('SSE-C object: with the key → attributes; without → 400 InvalidRequest (S3 text); wrong key → 400 "does not match"', async (tt) => {
  const ok = await attrs({ Bucket: bucket, Key: 'secret.bin', ObjectAttributes: ALL }, K);
  if (tt.ok(ok.ok, 'with the key: boto3 parsed the answer', ok)) {
    tt.equal(ok.ok!.ObjectSize, SECRET.length, 'ObjectSize is the plaintext size');
    tt.match(ok.ok!.ETag, /^[0-9a-f]{32}$/, 'ETag without quotes');
    tt.equal(ok.ok!.StorageClass, 'STANDARD', 'StorageClass');
    tt.notOk(Object.keys(ok.headers ?? {}).some((h) => h.startsWith('x-amz-server-side-encryption')), 'no SSE-C headers in the answer (AWS model: none)');
  }
  const none = await attrs({ Bucket: bucket, Key: 'secret.bin', ObjectAttributes: ['ETag'] });
  tt.equal(none.status, 400, 'without a key: 400', none);
  tt.equal(none.error?.Code, 'InvalidRequest', 'without a key: InvalidRequest (S3), not RGW\'s InvalidArgument');
  tt.equal(none.error?.Message, 'The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.', 'without a key: S3\'s message');
  const wrong = await attrs({ Bucket: bucket, Key: 'secret.bin', ObjectAttributes: ['ETag'] }, WRONG);
  tt.equal(wrong.status, 400, 'wrong key: RGW\'s 400 kept', wrong);
  tt.equal(wrong.error?.Code, 'InvalidArgument', 'wrong key: InvalidArgument');
  tt.equal(wrong.error?.Message, 'The SSE-C key sent does not match the key the object was written with.', 'wrong key: says the key is not the object\'s');
  const w = await raw(`/${bucket}/secret.bin`, { 'x-amz-object-attributes': 'ObjectSize' });
  tt.equal(parseError(w.text).code, 'InvalidRequest', 'raw: the error has an XML body (a HEAD error has none)');
});

t.test('multipart SSE-C object: ObjectParts.TotalPartsCount from the ETag, ObjectSize', async (tt) => {
  const up = await boto3(ep, `
    key = base64.b64decode(sys.argv[1])
    sse = {'SSECustomerAlgorithm': 'AES256', 'SSECustomerKey': key}
    b, k = sys.argv[2], 'multi.bin'
    u = s3.create_multipart_upload(Bucket=b, Key=k, **sse)['UploadId']
    sizes = [5 * 1024 * 1024, 5 * 1024 * 1024, 1000]
    parts = []
    for i, n in enumerate(sizes, 1):
        e = s3.upload_part(Bucket=b, Key=k, UploadId=u, PartNumber=i, Body=bytes([i]) * n, **sse)['ETag']
        parts.append({'ETag': e, 'PartNumber': i})
    s3.complete_multipart_upload(Bucket=b, Key=k, UploadId=u, MultipartUpload={'Parts': parts}, **sse)
    print(json.dumps({'size': sum(sizes)}))
  `, { args: [K.b64, bucket], timeoutMs: 120_000 });
  if (!tt.equal(up.code, 0, 'multipart upload with SSE-C through the gateway', { stderr: up.stderr.slice(-2000) })) return;
  const { size } = JSON.parse(up.stdout.trim()) as { size: number };
  const etag = String((await onRgw(rgw, 'HEAD', bucket, 'multi.bin', K)).headers.etag);
  const r = await attrs({ Bucket: bucket, Key: 'multi.bin', ObjectAttributes: ['ObjectParts', 'ObjectSize', 'ETag'], MaxParts: 5, PartNumberMarker: 0 }, K);
  if (!tt.ok(r.ok, 'boto3 parsed the answer', r)) return;
  tt.equal(r.ok!.ETag, etag.replace(/"/g, ''), 'ETag = RGW\'s (HEAD straight to RGW), without quotes');
  tt.match(r.ok!.ETag, /-3$/, 'ETag keeps the -3 suffix');
  tt.equal((r.ok!.ObjectParts as Record<string, unknown>)?.TotalPartsCount, 3, 'ObjectParts.TotalPartsCount = 3');
  tt.equal((r.ok!.ObjectParts as Record<string, unknown>)?.IsTruncated, false, 'ObjectParts.IsTruncated false (no Part elements: no checksums stored)');
  tt.equal((r.ok!.ObjectParts as Record<string, unknown>)?.MaxParts, 5, 'x-amz-max-parts accepted and echoed');
  tt.equal(r.ok!.ObjectSize, size, 'ObjectSize');
  const none = await attrs({ Bucket: bucket, Key: 'multi.bin', ObjectAttributes: ['ObjectParts'] });
  tt.equal(none.error?.Code, 'InvalidRequest', 'without the key: refused as for a single-part SSE-C object', none);
});

t.test('missing key → 404 NoSuchKey with a body; missing bucket → 404 NoSuchBucket', async (tt) => {
  const r = await attrs({ Bucket: bucket, Key: 'no/such/key', ObjectAttributes: ['ETag'] });
  tt.equal(r.status, 404, 'boto3: 404', r);
  tt.equal(r.error?.Code, 'NoSuchKey', 'boto3: NoSuchKey');
  tt.equal(r.error?.Message, 'The specified key does not exist.', 'boto3: S3\'s message');
  const w = await raw(`/${bucket}-nope/k`, { 'x-amz-object-attributes': 'ETag' });
  tt.equal(w.status, 404, 'raw: 404');
  tt.equal(parseError(w.text).code, 'NoSuchBucket', 'raw: NoSuchBucket');
});

t.test('x-amz-object-attributes missing or empty → 400 InvalidRequest; an unknown name → 400 InvalidArgument (AWS texts)', async (tt) => {
  for (const [label, headers] of [['missing', {}], ['empty', { 'x-amz-object-attributes': '' }], ['only commas', { 'x-amz-object-attributes': ' , ' }]] as const) {
    const w = await raw(`/${bucket}/plain.txt`, headers);
    tt.equal(w.status, 400, `${label}: 400`);
    tt.same({ code: parseError(w.text).code, message: parseError(w.text).message },
      { code: 'InvalidRequest', message: 'The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty' }, `${label}: AWS's code and message`);
  }
  const w = await raw(`/${bucket}/plain.txt`, { 'x-amz-object-attributes': 'ETag,ETags' });
  tt.equal(w.status, 400, 'unknown name: 400');
  tt.same({ code: parseError(w.text).code, message: parseError(w.text).message }, { code: 'InvalidArgument', message: 'Invalid attribute name specified.' }, 'unknown name: AWS\'s code and message');
  tt.match(w.text, '<ArgumentName>x-amz-object-attributes</ArgumentName><ArgumentValue>ETags</ArgumentValue>', 'ArgumentName and ArgumentValue');
  const b = await attrs({ Bucket: bucket, Key: 'plain.txt', ObjectAttributes: ['Size'] });
  tt.equal(b.error?.Code, 'InvalidArgument', 'boto3 (no client-side enum check): InvalidArgument', b);
});

t.test('versionId is honoured (x-amz-version-id); a delete marker answers 404 NoSuchKey', async (tt) => {
  const v = await rgwRequest(rgw, { method: 'PUT', path: `/${versioned}`, query: { versioning: '' }, body: '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>' });
  tt.equal(v.status, 200, 'setup: versioning enabled');
  const v1 = await rgwRequest(rgw, { method: 'PUT', path: `/${versioned}/doc.txt`, body: 'first' });
  const v2 = await rgwRequest(rgw, { method: 'PUT', path: `/${versioned}/doc.txt`, body: 'second version' });
  const id1 = String(v1.headers['x-amz-version-id']);
  tt.not(id1, String(v2.headers['x-amz-version-id']), 'setup: two versions');
  const latest = await attrs({ Bucket: versioned, Key: 'doc.txt', ObjectAttributes: ['ObjectSize'] });
  tt.equal(latest.ok?.ObjectSize, 'second version'.length, 'no versionId: the latest version', latest);
  tt.equal(latest.ok?.VersionId, v2.headers['x-amz-version-id'], 'VersionId of the latest version');
  const old = await attrs({ Bucket: versioned, Key: 'doc.txt', VersionId: id1, ObjectAttributes: ['ObjectSize', 'ETag'] });
  tt.equal(old.ok?.ObjectSize, 'first'.length, 'versionId: that version\'s size', old);
  tt.equal(old.ok?.ETag, md5(Buffer.from('first')), 'versionId: that version\'s ETag');
  tt.equal(old.ok?.VersionId, id1, 'x-amz-version-id: the version asked for');
  await rgwRequest(rgw, { method: 'DELETE', path: `/${versioned}/doc.txt` });
  const gone = await raw(`/${versioned}/doc.txt`, { 'x-amz-object-attributes': 'ETag' });
  tt.equal(gone.status, 404, 'after a delete marker: 404');
  tt.equal(parseError(gone.text).code, 'NoSuchKey', 'NoSuchKey');
  // S3 adds x-amz-delete-marker: true here; RGW 16 sends it on the DELETE only, not on a HEAD or GET of the marker
  // (checked), so the gateway has none to pass on
  tt.equal(gone.headers['x-amz-delete-marker'], undefined, 'no x-amz-delete-marker (RGW 16 sends none on HEAD)');
});

t.test('auth mode passthrough, upstream rgw16: refused with 501 NotImplemented naming auth mode sigv4', async (tt: Test) => {
  const rgwEp: Endpoint = { url: pt.url, accessKey: rgw.accessKey, secretKey: rgw.secretKey, region: 'us-east-1', caFile: pt.caFile };
  const r = await attrs({ Bucket: bucket, Key: 'plain.txt', ObjectAttributes: ['ETag'] }, undefined, rgwEp);
  tt.equal(r.status, 501, 'boto3: 501', r);
  tt.equal(r.error?.Code, 'NotImplemented', 'boto3: NotImplemented');
  tt.match(r.error?.Message, /auth mode sigv4/, 'the message names the fix');
  const g = await boto3(rgwEp, `
    r = s3.get_object(Bucket=sys.argv[1], Key='plain.txt')
    sys.stdout.write(r['Body'].read().decode())
  `, { args: [bucket] });
  tt.equal(g.stdout, PLAIN.toString(), 'a plain GetObject through passthrough still works');
});

t.test('no key material in the gateway output', async (tt) => {
  assertNoKeyMaterial(tt, gw.output(), keys, 'sigv4 gateway log');
  assertNoKeyMaterial(tt, pt.output(), keys, 'passthrough gateway log');
});
