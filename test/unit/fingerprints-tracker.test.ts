// The request-path side: the key_policy stage (refuses compromised keys from the local cache) and
// record() (what each S3 operation changes in the inventory), on the in-memory store; and the small
// S3 XML/header parsers it relies on.
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config/load.js';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { deletedObjects, isErrorBody, parseDeleteRequest, parseDeleteResult, parseUploadId, xmlText } from '../../src/fingerprints/s3-xml.js';
import { createFingerprintStore } from '../../src/fingerprints/store.js';
import { KeyTracker, parseCopySource, rangeLength } from '../../src/fingerprints/tracker.js';
import type { FingerprintStore, ObjectEntry } from '../../src/fingerprints/types.js';
import { createLogger } from '../../src/logging/logger.js';
import { createMetrics } from '../../src/metrics/registry.js';
import type { ClientResponse, RequestContext } from '../../src/request/context.js';
import { CustomerKey } from '../../src/sse-c/customer-key.js';
import { assertNoKeyMaterial } from '../helpers/keys.js';
import { KEY_A, KEY_B, KEY_GUIDE } from './fixtures.js';

const SECRET = Buffer.from('tracker-unit-secret');
const fp = (raw: Buffer) => CustomerKey.fromRaw(raw).fingerprint(SECRET);

async function setup(t: Test, onExposed: 'deny' | 'warn' = 'deny'): Promise<{ store: FingerprintStore; tracker: KeyTracker }> {
  const store = await createFingerprintStore(loadConfig({ env: {} }), { metrics: createMetrics(), log: createLogger('silent'), refreshMs: 0 });
  t.teardown(() => store.close());
  return { store, tracker: new KeyTracker(store, SECRET, onExposed) };
}

function ctx(op: string, o: { bucket?: string; key?: string; query?: string; headers?: Record<string, string>; sseC?: Buffer; copy?: Buffer; status?: number; bytesIn?: number } = {}): RequestContext {
  return {
    id: randomBytes(8).toString('hex').toUpperCase(), listener: 'https', protocol: 'h1', req: {} as RequestContext['req'], res: { statusCode: o.status ?? 200 } as ClientResponse,
    method: 'PUT', authority: 'gw', headers: o.headers ?? {}, remoteAddress: '192.0.2.7', startedAt: 0n, expectContinue: false,
    target: o.bucket === undefined ? undefined : { bucket: o.bucket, key: o.key, rawPath: '', rawQuery: o.query ?? '', query: new URLSearchParams(o.query ?? ''), style: 'path' },
    operation: op, sseC: o.sseC ? CustomerKey.fromRaw(o.sseC) : undefined, copySourceSseC: o.copy ? CustomerKey.fromRaw(o.copy) : undefined,
    upstreamHeaders: {}, bytesIn: o.bytesIn ?? 0, bytesOut: 0,
  };
}

async function inv(store: FingerprintStore, f: string): Promise<ObjectEntry[]> {
  await store.flush();
  const out: ObjectEntry[] = [];
  for await (const o of store.objects(f)) out.push(o);
  return out.sort((a, b) => (a.bucket + '/' + a.key + (a.versionId ?? '')).localeCompare(b.bucket + '/' + b.key + (b.versionId ?? '')));
}
const brief = (es: ObjectEntry[]) => es.map((e) => [`${e.bucket}/${e.key}${e.versionId ? '@' + e.versionId : ''}`, e.size]);

t.test('key_policy stage: compromised keys refused (deny), let through (warn); retired keys pass', async (t) => {
  const { store, tracker } = await setup(t);
  const stage = tracker.stage();
  t.equal(stage.name, 'key_policy');
  const c = ctx('GetObject', { bucket: 'b', key: 'k', sseC: KEY_A.raw });
  t.same(tracker.fingerprintsOf(c), { key: fp(KEY_A.raw), copySource: undefined, admitted: false }, 'HMAC fingerprint of the raw key');
  await stage.run(c);
  t.ok(tracker.fingerprintsOf(c).admitted, 'admitted');

  void store.exposed({ fingerprint: fp(KEY_A.raw), at: new Date(), client: '198.51.100.1', listener: 'http', header: 'h', requestId: 'R' });
  for (const c2 of [ctx('GetObject', { bucket: 'b', key: 'k', sseC: KEY_A.raw }), ctx('CopyObject', { bucket: 'b', key: 'k2', sseC: KEY_B.raw, copy: KEY_A.raw })]) {
    let err: unknown;
    try { await stage.run(c2); } catch (e) { err = e; }
    t.ok(err instanceof GatewayError, `${c2.operation}: refused`);
    const g = err as GatewayError;
    t.match(g, { status: 403, code: 'AccessDenied', error: 'KeyExposedDenied' });
    t.match(g.message, new RegExp(fp(KEY_A.raw).slice(0, 16)), 'the message names the key id');
    assertNoKeyMaterial(t, `${g.message} ${c2.failure}`, [KEY_A.raw, KEY_B.raw], `${c2.operation} error`);
    t.equal(c2.sseCOutcome, 'exposed_key_denied');
    t.notOk(tracker.fingerprintsOf(c2).admitted);
  }
  const { store: s2, tracker: warn } = await setup(t, 'warn');
  void s2.exposed({ fingerprint: fp(KEY_A.raw), at: new Date(), client: 'x', listener: 'http', header: 'h', requestId: 'R' });
  await t.resolves(async () => warn.stage().run(ctx('GetObject', { bucket: 'b', key: 'k', sseC: KEY_A.raw })), 'warn: let through');
  await s2.setStatus(fp(KEY_B.raw), 'retired');
  await t.resolves(async () => tracker.stage().run(ctx('GetObject', { bucket: 'b', key: 'k', sseC: KEY_B.raw })), 'retired: let through');
  await t.resolves(async () => tracker.stage().run(ctx('ListObjectsV2', { bucket: 'b' })), 'no key: nothing to check');
});

t.test('record: uses and the inventory, operation by operation', async (t) => {
  const { store, tracker } = await setup(t);
  const A = fp(KEY_A.raw);
  const B = fp(KEY_B.raw);
  const G = fp(KEY_GUIDE.raw);
  const go = (c: RequestContext, extra = {}) => { try { tracker.check(c); } catch { /* denied */ } tracker.record(c, extra); };

  go(ctx('PutObject', { bucket: 'b', key: 'p1', sseC: KEY_A.raw, headers: { 'content-length': '100' } }));
  go(ctx('PutObject', { bucket: 'b', key: 'p2', sseC: KEY_A.raw, headers: { 'content-length': '300', 'x-amz-decoded-content-length': '256' } }));
  go(ctx('PutObject', { bucket: 'b', key: 'p3', sseC: KEY_A.raw, bytesIn: 42 }));
  go(ctx('PutObject', { bucket: 'vb', key: 'v', sseC: KEY_A.raw, headers: { 'content-length': '1' } }), { responseHeaders: { 'x-amz-version-id': 'V1' } });
  t.same(brief(await inv(store, A)), [['b/p1', 100], ['b/p2', 256], ['b/p3', 42], ['vb/v@V1', 1]], 'PutObject: size from x-amz-decoded-content-length, content-length or bytes read; version id from the answer');
  t.match(await store.get(A), { requests: 4, bytesWritten: 100 + 256 + 42 + 1, clients: ['192.0.2.7'] });
  t.same([...(await store.get(A))!.buckets].sort(), ['b', 'vb'], 'both buckets (newest first; these uses share a millisecond)');

  go(ctx('PutObject', { bucket: 'b', key: 'p3', headers: { 'content-length': '5' } })); // no key: overwritten in clear
  go(ctx('PutObject', { bucket: 'b', key: 'p2', sseC: KEY_A.raw, headers: { 'content-length': '9' }, status: 500 })); // failed: nothing changes
  go(ctx('GetObject', { bucket: 'b', key: 'p1', sseC: KEY_A.raw }));
  t.same(brief(await inv(store, A)), [['b/p1', 100], ['b/p2', 256], ['vb/v@V1', 1]]);
  t.match(await store.get(A), { requests: 6, bytesWritten: 399 }, 'failed requests and reads count as uses, not as bytes written');

  // CopyObject: destination under its key with the source's size; the source key is used too
  go(ctx('CopyObject', { bucket: 'c', key: 'copy', sseC: KEY_B.raw, copy: KEY_A.raw, headers: { 'x-amz-copy-source': '/b/p2' } }));
  go(ctx('CopyObject', { bucket: 'c', key: 'clear', copy: KEY_A.raw, headers: { 'x-amz-copy-source': 'b/p1' } })); // decrypted into a clear copy
  t.same(brief(await inv(store, B)), [['c/copy', 256]]);
  t.match(await store.get(A), { requests: 8, bytesWritten: 399 });

  // multipart: create (UploadId from the answer), parts (one copied with a range), complete without a key
  go(ctx('CreateMultipartUpload', { bucket: 'm', key: 'big', query: 'uploads', sseC: KEY_GUIDE.raw }), { uploadId: 'UPLOAD-1' });
  go(ctx('UploadPart', { bucket: 'm', key: 'big', query: 'partNumber=1&uploadId=UPLOAD-1', sseC: KEY_GUIDE.raw, headers: { 'content-length': String(5 << 20) } }));
  go(ctx('UploadPartCopy', { bucket: 'm', key: 'big', query: 'partNumber=2&uploadId=UPLOAD-1', sseC: KEY_GUIDE.raw, copy: KEY_A.raw, headers: { 'x-amz-copy-source': 'b/p1', 'x-amz-copy-source-range': 'bytes=0-99' } }));
  go(ctx('CompleteMultipartUpload', { bucket: 'm', key: 'big', query: 'uploadId=UPLOAD-1' }), { responseHeaders: { 'x-amz-version-id': 'null' } });
  // a completion answered 200 with an <Error> body changes nothing; an aborted upload neither
  go(ctx('UploadPart', { bucket: 'm', key: 'other', query: 'partNumber=1&uploadId=UPLOAD-2', sseC: KEY_GUIDE.raw, headers: { 'content-length': '10' } }));
  go(ctx('CompleteMultipartUpload', { bucket: 'm', key: 'other', query: 'uploadId=UPLOAD-2' }), { failed: true });
  go(ctx('UploadPart', { bucket: 'm', key: 'third', query: 'partNumber=1&uploadId=UPLOAD-3', sseC: KEY_GUIDE.raw, headers: { 'content-length': '10' } }));
  go(ctx('AbortMultipartUpload', { bucket: 'm', key: 'third', query: 'uploadId=UPLOAD-3' }));
  go(ctx('CompleteMultipartUpload', { bucket: 'm', key: 'third', query: 'uploadId=UPLOAD-3' }), { responseHeaders: {} });
  t.same(brief(await inv(store, G)), [['m/big', (5 << 20) + 100]], 'the multipart object, summed parts, version "null" = unversioned');
  t.match(await store.get(G), { bytesWritten: (5 << 20) + 10 + 10 }, 'UploadPart bytes count as written');

  // deletes: unversioned; versioned (only a marker laid); suspended (marker is the null version); a version
  go(ctx('PutObject', { bucket: 'd', key: 'plain', sseC: KEY_A.raw, headers: { 'content-length': '1' } }));
  go(ctx('PutObject', { bucket: 'd', key: 'ver', sseC: KEY_A.raw, headers: { 'content-length': '1' } }), { responseHeaders: { 'x-amz-version-id': 'VX' } });
  go(ctx('PutObject', { bucket: 'd', key: 'susp', sseC: KEY_A.raw, headers: { 'content-length': '1' } }));
  go(ctx('PutObject', { bucket: 'd', key: 'v2', sseC: KEY_A.raw, headers: { 'content-length': '1' } }), { responseHeaders: { 'x-amz-version-id': 'V2' } });
  await store.flush();
  go(ctx('DeleteObject', { bucket: 'd', key: 'plain', status: 204 }));
  go(ctx('DeleteObject', { bucket: 'd', key: 'ver', status: 204 }), { responseHeaders: { 'x-amz-delete-marker': 'true', 'x-amz-version-id': 'MARKER1' } });
  go(ctx('DeleteObject', { bucket: 'd', key: 'susp', status: 204 }), { responseHeaders: { 'x-amz-delete-marker': 'true', 'x-amz-version-id': 'null' } });
  go(ctx('DeleteObject', { bucket: 'd', key: 'v2', query: 'versionId=V2', status: 204 }));
  go(ctx('DeleteObject', { bucket: 'b', key: 'p1', status: 404 })); // failed: kept
  t.same(brief((await inv(store, A)).filter((e) => e.bucket === 'd')), [['d/ver@VX', 1]]);

  // DeleteObjects: the lead hands over the parsed result
  go(ctx('DeleteObjects', { bucket: 'b', query: 'delete' }), {
    deleted: deletedObjects('b', '<Delete><Object><Key>p1</Key></Object><Object><Key>p2</Key></Object></Delete>',
      '<DeleteResult><Deleted><Key>p1</Key></Deleted><Error><Key>p2</Key><Code>AccessDenied</Code></Error></DeleteResult>'),
  });
  t.same(brief((await inv(store, A)).filter((e) => e.bucket === 'b')), [['b/p2', 256]]);

  // POST Object: key and key fingerprint from the form (handed over by the lead)
  go(ctx('PostObject', { bucket: 'post', status: 204 }), { post: { key: 'uploads/form.bin', fingerprint: B, size: 77 } });
  t.same(brief((await inv(store, B)).filter((e) => e.bucket === 'post')), [['post/uploads/form.bin', 77]]);

  // record never throws
  t.doesNotThrow(() => tracker.record({ operation: 'PutObject', res: {} } as unknown as RequestContext));
  t.doesNotThrow(() => tracker.record(ctx('PutObject', { sseC: KEY_A.raw })));
});

t.test('a request refused by key_policy is not a use', async (t) => {
  const { store, tracker } = await setup(t);
  void store.exposed({ fingerprint: fp(KEY_A.raw), at: new Date(), client: 'x', listener: 'http', header: 'h', requestId: 'R' });
  await store.flush();
  const c = ctx('PutObject', { bucket: 'b', key: 'k', sseC: KEY_A.raw, status: 403 });
  t.throws(() => tracker.check(c));
  tracker.record(c);
  await store.flush();
  t.match(await store.get(fp(KEY_A.raw)), { requests: 0, objects: 0 });
});

t.test('S3 XML and header parsing', async (t) => {
  t.equal(xmlText('a&amp;b&lt;c&gt;&quot;&apos;&#65;&#x42;'), 'a&b<c>"\'AB');
  t.equal(parseUploadId('<?xml version="1.0"?><InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>2~a&amp;b</UploadId></InitiateMultipartUploadResult>'), '2~a&b');
  t.equal(parseUploadId('<x/>'), undefined);
  t.ok(isErrorBody('<?xml version="1.0"?><Error><Code>InternalError</Code></Error>'));
  t.notOk(isErrorBody('<CompleteMultipartUploadResult><Location>l</Location></CompleteMultipartUploadResult>'));
  t.same(parseDeleteRequest('<Delete><Quiet>true</Quiet><Object><Key>a&amp;b</Key><VersionId>v1</VersionId></Object><Object><Key>c</Key></Object></Delete>', 'bk'),
    { quiet: true, objects: [{ bucket: 'bk', key: 'a&b', versionId: 'v1' }, { bucket: 'bk', key: 'c', versionId: undefined }] });
  t.same(parseDeleteResult('<DeleteResult><Deleted><Key>k</Key><DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>m1</DeleteMarkerVersionId></Deleted><Error><Key>e</Key></Error></DeleteResult>'),
    { deleted: [{ key: 'k', versionId: undefined, deleteMarker: true, deleteMarkerVersionId: 'm1' }], errors: [{ key: 'e', versionId: undefined }] });
  const req = '<Delete><Object><Key>a</Key></Object><Object><Key>b</Key></Object><Object><Key>c</Key><VersionId>v3</VersionId></Object><Object><Key>d</Key></Object></Delete>';
  t.same(deletedObjects('bk', req, '<DeleteResult><Deleted><Key>a</Key></Deleted><Deleted><Key>b</Key><DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>M</DeleteMarkerVersionId></Deleted>' +
    '<Deleted><Key>c</Key><VersionId>v3</VersionId></Deleted><Deleted><Key>d</Key><DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>null</DeleteMarkerVersionId></Deleted></DeleteResult>'),
  [{ bucket: 'bk', key: 'a' }, { bucket: 'bk', key: 'c', versionId: 'v3' }, { bucket: 'bk', key: 'd' }], 'verbose: markers remove nothing except the null one');
  t.same(deletedObjects('bk', req.replace('<Delete>', '<Delete><Quiet>true</Quiet>'), '<DeleteResult><Error><Key>b</Key><Code>AccessDenied</Code></Error></DeleteResult>'),
    [{ bucket: 'bk', key: 'a', versionId: undefined }, { bucket: 'bk', key: 'c', versionId: 'v3' }, { bucket: 'bk', key: 'd', versionId: undefined }], 'quiet: the request minus the errors');
  t.same(parseCopySource('/src-bucket/dir/a%20b%2Bc.txt?versionId=V9'), { bucket: 'src-bucket', key: 'dir/a b+c.txt', versionId: 'V9' });
  t.same(parseCopySource('b/k'), { bucket: 'b', key: 'k', versionId: undefined });
  t.equal(parseCopySource('nobucket'), undefined);
  t.equal(parseCopySource('/b/%E0%A4%A'), undefined, 'bad percent-encoding');
  t.equal(rangeLength('bytes=0-99'), 100);
  t.equal(rangeLength('bytes=10-'), undefined);
  t.equal(rangeLength(undefined), undefined);
});
