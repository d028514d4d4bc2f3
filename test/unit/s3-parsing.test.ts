// S3 request parsing: the operation name (it decides which SSE-C triplets are validated — Part A §2)
// and the bucket/key of path-style and virtual-hosted-style requests.
import t from 'tap';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { SSEC_OPERATIONS, operationOf, sseCUse } from '../../src/s3/operations.js';
import { hostname, parseTarget } from '../../src/s3/target.js';
import { validateSseC } from '../../src/pipeline/stages/validate-sse-c.js';
import { expectGatewayError, makeCtx, type Expected } from './fixtures.js';

/** method, path (with query), extra headers, expected operation */
type Row = [method: string, url: string, headers: Record<string, string>, op: string];
const COPY = { 'x-amz-copy-source': '/src-bucket/src-key' };

const ROWS: Row[] = [
  // --- Part A §2: every operation that takes SSE-C headers ---
  ['PUT', '/b/k', {}, 'PutObject'],
  ['POST', '/b', { 'content-type': 'multipart/form-data; boundary=x' }, 'PostObject'],
  ['POST', '/b/', {}, 'PostObject'],
  ['GET', '/b/k', {}, 'GetObject'],
  ['GET', '/b/k?versionId=3HL4kqtJlcpXroDTDmJ%2Brmsf', {}, 'GetObject'],
  ['GET', '/b/k?partNumber=2', {}, 'GetObject'],
  ['GET', '/b/k?response-content-type=text%2Fplain&response-cache-control=no-cache', {}, 'GetObject'],
  ['HEAD', '/b/k', {}, 'HeadObject'],
  ['HEAD', '/b/k?partNumber=1&versionId=v1', {}, 'HeadObject'],
  ['GET', '/b/k?attributes', {}, 'GetObjectAttributes'],
  ['GET', '/b/k?attributes=&versionId=v', {}, 'GetObjectAttributes'],
  ['POST', '/b/k?select&select-type=2', {}, 'SelectObjectContent'],
  ['POST', '/b/k?uploads', {}, 'CreateMultipartUpload'],
  ['POST', '/b/k?uploads=', {}, 'CreateMultipartUpload'],
  ['PUT', '/b/k?partNumber=1&uploadId=2~abc', {}, 'UploadPart'],
  ['PUT', '/b/k?uploadId=2~abc&partNumber=10000', {}, 'UploadPart'],
  ['PUT', '/b/k?partNumber=3&uploadId=2~abc', COPY, 'UploadPartCopy'],
  ['POST', '/b/k?uploadId=2~abc', {}, 'CompleteMultipartUpload'],
  ['GET', '/b/k?uploadId=2~abc', {}, 'ListParts'],
  ['GET', '/b/k?uploadId=2~abc&max-parts=10&part-number-marker=2', {}, 'ListParts'],
  ['PUT', '/b/k', COPY, 'CopyObject'],
  ['PUT', '/b/k', { 'x-amz-copy-source': 'src-bucket/src-key?versionId=v1' }, 'CopyObject'],
  // --- common others ---
  ['GET', '/', {}, 'ListBuckets'],
  ['GET', '/?x-id=ListBuckets', {}, 'ListBuckets'],
  ['GET', '/b', {}, 'ListObjects'],
  ['GET', '/b/', {}, 'ListObjects'],
  ['GET', '/b?prefix=dir%2F&delimiter=%2F&marker=m', {}, 'ListObjects'],
  ['GET', '/b?list-type=2', {}, 'ListObjectsV2'],
  ['GET', '/b?list-type=2&continuation-token=abc&prefix=p', {}, 'ListObjectsV2'],
  ['GET', '/b?versions', {}, 'ListObjectVersions'],
  ['GET', '/b?uploads', {}, 'ListMultipartUploads'],
  ['GET', '/b?location', {}, 'GetBucketLocation'],
  ['PUT', '/b', {}, 'CreateBucket'],
  ['HEAD', '/b', {}, 'HeadBucket'],
  ['DELETE', '/b', {}, 'DeleteBucket'],
  ['DELETE', '/b/k', {}, 'DeleteObject'],
  ['DELETE', '/b/k?versionId=v1', {}, 'DeleteObject'],
  ['POST', '/b?delete', {}, 'DeleteObjects'],
  ['POST', '/b?delete=', {}, 'DeleteObjects'],
  ['DELETE', '/b/k?uploadId=2~abc', {}, 'AbortMultipartUpload'],
  ['POST', '/b/k?restore', {}, 'RestoreObject'],
  // object sub-resources
  ['PUT', '/b/k?tagging', {}, 'PutObjectTagging'],
  ['GET', '/b/k?tagging', {}, 'GetObjectTagging'],
  ['DELETE', '/b/k?tagging', {}, 'DeleteObjectTagging'],
  ['GET', '/b/k?acl', {}, 'GetObjectAcl'],
  ['PUT', '/b/k?acl', {}, 'PutObjectAcl'],
  ['GET', '/b/k?retention', {}, 'GetObjectRetention'],
  ['PUT', '/b/k?retention', {}, 'PutObjectRetention'],
  ['GET', '/b/k?legal-hold', {}, 'GetObjectLegalHold'],
  ['PUT', '/b/k?legal-hold', {}, 'PutObjectLegalHold'],
  ['GET', '/b/k?torrent', {}, 'GetObjectTorrent'],
  ['PUT', '/b/k?tagging', COPY, 'PutObjectTagging'],
  // bucket sub-resources
  ['GET', '/b?versioning', {}, 'GetBucketVersioning'],
  ['PUT', '/b?versioning', {}, 'PutBucketVersioning'],
  ['GET', '/b?acl', {}, 'GetBucketAcl'],
  ['PUT', '/b?acl', {}, 'PutBucketAcl'],
  ['GET', '/b?tagging', {}, 'GetBucketTagging'],
  ['PUT', '/b?tagging', {}, 'PutBucketTagging'],
  ['DELETE', '/b?tagging', {}, 'DeleteBucketTagging'],
  ['GET', '/b?policy', {}, 'GetBucketPolicy'],
  ['PUT', '/b?policy', {}, 'PutBucketPolicy'],
  ['DELETE', '/b?policy', {}, 'DeleteBucketPolicy'],
  ['GET', '/b?policyStatus', {}, 'GetBucketPolicyStatus'],
  ['GET', '/b?cors', {}, 'GetBucketCors'],
  ['PUT', '/b?cors', {}, 'PutBucketCors'],
  ['DELETE', '/b?cors', {}, 'DeleteBucketCors'],
  ['GET', '/b?lifecycle', {}, 'GetBucketLifecycleConfiguration'],
  ['PUT', '/b?lifecycle', {}, 'PutBucketLifecycleConfiguration'],
  ['GET', '/b?encryption', {}, 'GetBucketEncryption'],
  ['PUT', '/b?encryption', {}, 'PutBucketEncryption'],
  ['DELETE', '/b?encryption', {}, 'DeleteBucketEncryption'],
  ['GET', '/b?website', {}, 'GetBucketWebsite'],
  ['GET', '/b?replication', {}, 'GetBucketReplication'],
  ['GET', '/b?notification', {}, 'GetBucketNotificationConfiguration'],
  ['GET', '/b?logging', {}, 'GetBucketLogging'],
  ['GET', '/b?ownershipControls', {}, 'GetBucketOwnershipControls'],
  ['GET', '/b?publicAccessBlock', {}, 'GetBucketPublicAccessBlock'],
  ['GET', '/b?requestPayment', {}, 'GetBucketRequestPayment'],
  ['GET', '/b?accelerate', {}, 'GetBucketAccelerateConfiguration'],
  ['GET', '/b?intelligent-tiering', {}, 'GetBucketIntelligentTieringConfiguration'],
  // method case does not matter
  ['get', '/b/k', {}, 'GetObject'],
  ['put', '/b/k?partNumber=1&uploadId=u', {}, 'UploadPart'],
  // no S3 operation
  ['PUT', '/', {}, 'Unknown'],
  ['DELETE', '/', {}, 'Unknown'],
  ['PATCH', '/b/k', {}, 'Unknown'],
  ['OPTIONS', '/b', {}, 'Unknown'],
  ['POST', '/b/k', {}, 'Unknown'],
  ['POST', '/b?tagging', {}, 'Unknown'],
];

t.test('operationOf', async (t) => {
  for (const [method, url, headers, op] of ROWS) {
    const target = parseTarget(url, 'gateway.test:8443', []);
    t.equal(operationOf(method, target.bucket, target.key, target.query, headers), op, `${method} ${url}${headers['x-amz-copy-source'] ? ' (x-amz-copy-source)' : ''} → ${op}`);
  }
  // also through virtual-hosted-style addressing
  const vh = (method: string, url: string, h: Record<string, string> = {}) => {
    const target = parseTarget(url, 'b.s3.example.com', ['s3.example.com']);
    return operationOf(method, target.bucket, target.key, target.query, h);
  };
  t.equal(vh('PUT', '/k'), 'PutObject', 'vhost PUT /k');
  t.equal(vh('GET', '/'), 'ListObjects', 'vhost GET /');
  t.equal(vh('GET', '/?list-type=2'), 'ListObjectsV2', 'vhost GET /?list-type=2');
  t.equal(vh('PUT', '/k?partNumber=1&uploadId=u', COPY), 'UploadPartCopy', 'vhost UploadPartCopy');
  t.equal(vh('POST', '/?delete'), 'DeleteObjects', 'vhost DeleteObjects');
});

t.test('sseCUse follows Part A §2', async (t) => {
  const triplet = ['PutObject', 'PostObject', 'GetObject', 'HeadObject', 'GetObjectAttributes', 'SelectObjectContent', 'CreateMultipartUpload', 'UploadPart', 'UploadPartCopy', 'CompleteMultipartUpload', 'ListParts', 'CopyObject'];
  t.same(Object.keys(SSEC_OPERATIONS).sort(), [...triplet].sort(), 'exactly the operations whose input shape has the SSE-C members');
  for (const op of triplet) {
    t.same(sseCUse(op), {
      triplet: true,
      copySource: op === 'CopyObject' || op === 'UploadPartCopy',
      write: ['PutObject', 'PostObject', 'CreateMultipartUpload', 'CopyObject'].includes(op),
      read: op === 'GetObject' || op === 'HeadObject',
    }, `${op}`);
  }
  const none = { triplet: false, copySource: false, write: false, read: false };
  for (const op of new Set(ROWS.map((r) => r[3]).filter((o) => !triplet.includes(o)))) t.same(sseCUse(op), none, `${op}: takes no SSE-C headers`);
});

// Query parameter names are client-chosen: a name that happens to be an Object.prototype member
// (toString, constructor, __proto__, hasOwnProperty, valueOf) is not an S3 sub-resource. S3 and RGW
// ignore unknown query parameters, so `PUT /b/k?constructor` is still a PutObject upstream — and must
// be validated as one, or its SSE-C headers bypass validate_sse_c.
t.test('operationOf: prototype-member query names are not sub-resources', async (t) => {
  const cases: [string, string, string][] = [
    ['GET', '/b/k?toString', 'GetObject'],
    ['PUT', '/b/k?constructor', 'PutObject'],
    ['HEAD', '/b/k?__proto__', 'HeadObject'],
    ['DELETE', '/b/k?hasOwnProperty', 'DeleteObject'],
    ['GET', '/b?valueOf', 'ListObjects'],
    ['PUT', '/b?toString', 'CreateBucket'],
  ];
  for (const [method, url, op] of cases) {
    const target = parseTarget(url, 'h', []);
    t.equal(operationOf(method, target.bucket, target.key, target.query, {}), op, `${method} ${url} → ${op}`);
  }
  // consequence: SSE-C headers on such a request must still be validated
  const target = parseTarget('/b/k?constructor', 'h', []);
  const ctx = makeCtx({ operation: operationOf('PUT', target.bucket, target.key, target.query, {}), headers: {
    'x-amz-server-side-encryption-customer-algorithm': 'AES128',
    'x-amz-server-side-encryption-customer-key': 'not-a-key',
  } });
  expectGatewayError(t, () => validateSseC().run(ctx), {
    error: 'SseCInvalidAlgorithm', status: 400, code: 'InvalidEncryptionAlgorithmError',
    message: 'The Encryption request you specified is not valid. Supported value: AES256.',
    argumentName: 'x-amz-server-side-encryption-customer-algorithm',
  }, 'PUT /b/k?constructor with a bad SSE-C algorithm is refused like any PutObject');
});

t.test('hostname', async (t) => {
  const cases: [string, string][] = [
    ['localhost', 'localhost'], ['localhost:8443', 'localhost'], ['S3.Example.COM:443', 's3.example.com'],
    ['[::1]:8443', '[::1]'], ['[::1]', '[::1]'], ['[2001:db8::7]:9000', '[2001:db8::7]'], ['127.0.0.1:80', '127.0.0.1'], [' b.s3.example.com ', 'b.s3.example.com'],
  ];
  for (const [a, h] of cases) t.equal(hostname(a), h, `${JSON.stringify(a)} → ${h}`);
});

t.test('parseTarget: path-style', async (t) => {
  t.same(parseTarget('/b/k', 'localhost:8443', []), { bucket: 'b', key: 'k', rawPath: '/b/k', rawQuery: '', query: new URLSearchParams(''), style: 'path' }, '/b/k');
  const withQuery = parseTarget('/b/dir/sub/k.txt?versionId=v1&partNumber=2', 'localhost', []);
  t.match(withQuery, { bucket: 'b', key: 'dir/sub/k.txt', rawPath: '/b/dir/sub/k.txt', rawQuery: 'versionId=v1&partNumber=2', style: 'path' }, 'nested key with query');
  t.equal(withQuery.query.get('versionId'), 'v1', 'query versionId');
  t.equal(withQuery.query.get('partNumber'), '2', 'query partNumber');
  t.match(parseTarget('/b', 'h', []), { bucket: 'b', key: undefined, rawPath: '/b' }, '/b: bucket only');
  t.match(parseTarget('/b/', 'h', []), { bucket: 'b', key: undefined, rawPath: '/b/' }, '/b/: bucket only');
  t.match(parseTarget('/', 'h', []), { bucket: undefined, key: undefined, rawPath: '/' }, '/: no bucket');
  t.match(parseTarget('/?x-id=ListBuckets', 'h', []), { bucket: undefined, key: undefined, rawQuery: 'x-id=ListBuckets' }, '/?query: no bucket');
  t.match(parseTarget('/b//leading-slash', 'h', []), { bucket: 'b', key: '/leading-slash' }, 'key with a leading slash');
  t.match(parseTarget('/b/dir/', 'h', []), { bucket: 'b', key: 'dir/' }, 'key ending in a slash (folder marker)');
  t.match(parseTarget('/b/k?', 'h', []), { key: 'k', rawQuery: '' }, 'empty query');
  t.match(parseTarget('/b/a?b?c', 'h', []), { key: 'a', rawQuery: 'b?c' }, 'only the first ? splits');
  // a host that is not under a base domain is path-style
  t.match(parseTarget('/b/k', 'other.example.org', ['s3.example.com']), { bucket: 'b', key: 'k', style: 'path' }, 'foreign host → path-style');
  t.match(parseTarget('/b/k', 's3.example.com:8443', ['s3.example.com']), { bucket: 'b', key: 'k', style: 'path' }, 'the base domain itself → path-style');
  t.match(parseTarget('/b/k', 'evils3.example.com', ['s3.example.com']), { bucket: 'b', key: 'k', style: 'path' }, 'suffix without a dot is not under the base domain');
  t.match(parseTarget('/b/k', '[::1]:8443', ['s3.example.com']), { bucket: 'b', key: 'k', style: 'path' }, '[::1]:8443 → path-style');
  t.match(parseTarget('/b/k', '127.0.0.1:8443', ['s3.example.com']), { bucket: 'b', key: 'k', style: 'path' }, 'IPv4 → path-style');
  t.match(parseTarget('/b/k', '', []), { bucket: 'b', key: 'k', style: 'path' }, 'no Host header → path-style');
});

t.test('parseTarget: virtual-hosted-style', async (t) => {
  const bases = ['s3.example.com', 'localhost'];
  t.same(parseTarget('/k', 'mybucket.s3.example.com', bases), { bucket: 'mybucket', key: 'k', rawPath: '/k', rawQuery: '', query: new URLSearchParams(''), style: 'virtual-host' }, 'bucket.BASE/k');
  t.match(parseTarget('/dir/k?uploads', 'mybucket.s3.example.com:8443', bases), { bucket: 'mybucket', key: 'dir/k', rawQuery: 'uploads', style: 'virtual-host' }, 'port in host');
  t.match(parseTarget('/', 'mybucket.s3.example.com:8443', bases), { bucket: 'mybucket', key: undefined, style: 'virtual-host' }, 'bucket root');
  t.match(parseTarget('/?list-type=2', 'mybucket.s3.example.com', bases), { bucket: 'mybucket', key: undefined, rawQuery: 'list-type=2' }, 'bucket root with query');
  t.match(parseTarget('/k', 'my.dotted.bucket.s3.example.com', bases), { bucket: 'my.dotted.bucket', key: 'k' }, 'dotted bucket name');
  t.match(parseTarget('/k', 'MyBucket.S3.Example.COM:443', bases), { bucket: 'mybucket', key: 'k', style: 'virtual-host' }, 'host is case-insensitive');
  t.match(parseTarget('/k', 'b.localhost:8443', bases), { bucket: 'b', key: 'k', style: 'virtual-host' }, 'bucket.localhost:8443 with base localhost');
  t.match(parseTarget('/k', 'b.s3.example.com', ['S3.EXAMPLE.COM']), { bucket: 'b', style: 'virtual-host' }, 'base domain is case-insensitive');
  t.match(parseTarget('//k', 'b.s3.example.com', bases), { bucket: 'b', key: '/k' }, 'key with a leading slash');
  t.match(parseTarget('/b/k', 'b.s3.example.com', bases), { bucket: 'b', key: 'b/k' }, 'the path is all key');
  t.match(parseTarget('/k', 'localhost:8443', bases), { bucket: 'k', key: undefined, style: 'path' }, 'the base domain itself → path-style');
});

t.test('parseTarget: percent-encoded keys', async (t) => {
  const key = "dir/weird key (1)!*~+=&$@,;:'ü€.txt";
  // what SDKs send: every segment URI-encoded, slashes kept (AWS SigV4 style encodes !'()* too)
  const sigv4 = key.split('/').map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())).join('/');
  const minimal = key.split('/').map(encodeURIComponent).join('/');
  t.equal(sigv4, 'dir/weird%20key%20%281%29%21%2A~%2B%3D%26%24%40%2C%3B%3A%27%C3%BC%E2%82%AC.txt', 'the SigV4 encoding of the key');
  for (const [label, enc] of [['SigV4 encoding', sigv4], ['encodeURIComponent', minimal], ['lower-case hex', sigv4.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())]] as const) {
    const p = parseTarget(`/my-bucket/${enc}?versionId=v`, 'localhost', []);
    t.same([p.bucket, p.key, p.rawPath, p.style], ['my-bucket', key, `/my-bucket/${enc}`, 'path'], `path-style, ${label}`);
    const v = parseTarget(`/${enc}`, 'my-bucket.s3.example.com', ['s3.example.com']);
    t.same([v.bucket, v.key, v.rawPath, v.style], ['my-bucket', key, `/${enc}`, 'virtual-host'], `virtual-host, ${label}`);
  }
  t.equal(parseTarget('/b/a+b', 'h', []).key, 'a+b', 'a literal + in the path stays +');
  t.equal(parseTarget('/b/a%2Bb', 'h', []).key, 'a+b', '%2B is +');
  t.equal(parseTarget('/b/a%2Fb', 'h', []).key, 'a/b', '%2F in the key is /');
  t.equal(parseTarget('/b/%25', 'h', []).key, '%', '%25 is %');
  t.equal(parseTarget('/b/%F0%9F%98%80', 'h', []).key, '😀', '4-byte UTF-8');
  t.equal(parseTarget('/my%2Dbucket/k', 'h', []).bucket, 'my-bucket', 'percent-encoded bucket');
  t.match(parseTarget('/b/k?prefix=a%20b', 'h', []), { rawQuery: 'prefix=a%20b' }, 'raw query is kept encoded');
  t.equal(parseTarget('/b/k?prefix=a%20b+c', 'h', []).query.get('prefix'), 'a b c', 'query is form-decoded');
});

t.test('parseTarget: invalid URIs', async (t) => {
  const INVALID_URI: Expected = { error: 'InvalidURI', status: 400, code: 'InvalidURI', message: "Couldn't parse the specified URI." };
  const bad: [string, string, string[]][] = [
    ['/b/%', 'h', []],
    ['/b/%zz', 'h', []],
    ['/b/%E0%A4%A', 'h', []],
    ['/b/%C3%28', 'h', []], // invalid UTF-8 sequence
    ['/b/%FF', 'h', []],
    ['/b/ok/%G1', 'h', []],
    ['/%zz/k', 'h', []], // bucket segment
    ['/%', 'b.s3.example.com', ['s3.example.com']],
    ['/dir/%E2%82', 'b.s3.example.com:8443', ['s3.example.com']],
    ['b/k', 'h', []], // not origin-form
    ['http://h/b/k', 'h', []], // absolute-form
    ['*', 'h', []],
    ['', 'h', []],
  ];
  for (const [url, host, bases] of bad) expectGatewayError(t, () => parseTarget(url, host, bases), INVALID_URI, `${JSON.stringify(url)} on ${host}`);
  const INVALID_BUCKET: Expected = { error: 'InvalidBucketName', status: 400, code: 'InvalidBucketName', message: 'The specified bucket is not valid.' };
  expectGatewayError(t, () => parseTarget('/a%2Fb/k', 'h', []), INVALID_BUCKET, 'bucket containing an encoded slash');
  expectGatewayError(t, () => parseTarget('/' + 'b'.repeat(256) + '/k', 'h', []), INVALID_BUCKET, '256-character bucket');
  t.match(parseTarget('/' + 'b'.repeat(255) + '/k', 'h', []), { bucket: 'b'.repeat(255), key: 'k' }, '255-character bucket is parsed (S3 decides)');
  t.ok(new GatewayError('InvalidURI') instanceof Error, 'GatewayError is an Error');
});
