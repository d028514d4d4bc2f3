// Log redaction (sse-c-reference.md Part A §7 rule 1): URLs lose presign signatures, credentials,
// tokens and hoisted SSE-C keys; logged objects lose key / authorization headers.
import t from 'tap';
import { Writable } from 'node:stream';
import { createLogger, redactUrl } from '../../src/logging/logger.js';
import { KEY_A, KEY_B, assertNoKeyMaterial } from './fixtures.js';

const A_ENC = encodeURIComponent(KEY_A.b64); // pO3upElrwuEXSoFwCfnZPdSsmt%2FxWeFa0N9KgDijwVs%3D
const B_ENC = encodeURIComponent(KEY_B.b64);

t.test('redactUrl: SigV4 presigned URL', async (t) => {
  const url = '/b/photos/cat.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request'
    + '&X-Amz-Date=20260101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host%3Bx-amz-server-side-encryption-customer-algorithm'
    + '&X-Amz-Security-Token=FwoGZXIvYXdzEBYaDH%2Bsecret%2Btoken&x-id=GetObject'
    + '&X-Amz-Signature=3a1b5c7d9e0f2a4b6c8d0e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c3d5e7f9a1b';
  t.equal(redactUrl(url),
    '/b/photos/cat.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=[redacted]'
    + '&X-Amz-Date=20260101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host%3Bx-amz-server-side-encryption-customer-algorithm'
    + '&X-Amz-Security-Token=[redacted]&x-id=GetObject'
    + '&X-Amz-Signature=[redacted]',
  'Credential, Security-Token, Signature redacted; everything else kept in place');
  t.equal(redactUrl('/b/k?x-amz-signature=abc&x-amz-credential=AKIA%2Fx'), '/b/k?x-amz-signature=[redacted]&x-amz-credential=[redacted]', 'lower-case names');
  t.equal(redactUrl('/b/k?X-Amz-Signature=abc&X-Amz-Signature=def'), '/b/k?X-Amz-Signature=[redacted]&X-Amz-Signature=[redacted]', 'repeated parameter: every occurrence');
  t.equal(redactUrl('/b/k?X-Amz-Signature'), '/b/k?X-Amz-Signature=[redacted]', 'parameter without =');
});

t.test('redactUrl: SigV2 presigned URL', async (t) => {
  t.equal(redactUrl('/b/k?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1767225600&Signature=vjbyPxybdZaNmGa%2ByT272YEAiv4%3D'),
    '/b/k?AWSAccessKeyId=[redacted]&Expires=1767225600&Signature=[redacted]', 'Signature (and the access key id) redacted, Expires kept');
  t.equal(redactUrl('/b/k?signature=x&response-content-type=image%2Fjpeg'), '/b/k?signature=[redacted]&response-content-type=image%2Fjpeg', 'case-insensitive; response-* kept');
});

t.test('redactUrl: hoisted SSE-C keys', async (t) => {
  const url = `/b/k?x-amz-server-side-encryption-customer-algorithm=AES256&x-amz-server-side-encryption-customer-key=${A_ENC}`
    + `&x-amz-copy-source-server-side-encryption-customer-key=${B_ENC}&versionId=v1`;
  const r = redactUrl(url);
  t.equal(r, '/b/k?x-amz-server-side-encryption-customer-algorithm=AES256&x-amz-server-side-encryption-customer-key=[redacted]'
    + '&x-amz-copy-source-server-side-encryption-customer-key=[redacted]&versionId=v1', 'key and copy-source key redacted, algorithm and versionId kept');
  assertNoKeyMaterial(t, r, [KEY_A.raw, KEY_B.raw], 'hoisted keys');
  // the key not percent-encoded (some SDKs), and with mixed-case names (Ruby v3 / JS v2 hoisting)
  t.equal(redactUrl(`/b/k?X-Amz-Server-Side-Encryption-Customer-Key=${KEY_A.b64}&a=1`), '/b/k?X-Amz-Server-Side-Encryption-Customer-Key=[redacted]&a=1', 'mixed-case name, raw base64 value');
  // percent-encoded parameter names
  const encName = encodeURIComponent('x-amz-server-side-encryption-customer-key').replace(/-/g, '%2D');
  t.equal(redactUrl(`/b/k?${encName}=${A_ENC}&b=2`), `/b/k?${encName}=[redacted]&b=2`, 'name with %2D escapes');
  t.equal(redactUrl(`/b/k?%78-amz-server-side-encryption-customer-key=${A_ENC}`), '/b/k?%78-amz-server-side-encryption-customer-key=[redacted]', 'name with %78 (x)');
  t.equal(redactUrl(`/b/k?x-amz-copy-source-server-side-encryption-customer-%6Bey=${B_ENC}`), '/b/k?x-amz-copy-source-server-side-encryption-customer-%6Bey=[redacted]', 'copy-source name with %6B (k)');
  for (const u of [`/b/k?${encName}=${A_ENC}`, `/b/k?X-AMZ-SERVER-SIDE-ENCRYPTION-CUSTOMER-KEY=${KEY_A.b64}`, `/b/k?x-amz-copy-source-server-side-encryption-customer-key=${A_ENC}`]) {
    assertNoKeyMaterial(t, redactUrl(u), [KEY_A.raw], u.slice(0, 40));
  }
});

t.test('redactUrl: everything else is kept', async (t) => {
  for (const u of ['/b/k', '/', '/b/k?', '/b/k?uploads', '/b/k?partNumber=1&uploadId=2~abc', '/b?list-type=2&prefix=a%2Fb&delimiter=%2F',
    '/b/k?versionId=3HL4kqtJlcpXroDTDmJ%2Brmsf&response-content-disposition=attachment%3B%20filename%3D%22x.txt%22',
    '/b/k?x-amz-server-side-encryption-customer-algorithm=AES256', '/b/k?%zz=1&a=%', '/b/k?=v&&x=']) {
    t.equal(redactUrl(u), u, `${u} unchanged`);
  }
});

/** A pino destination that collects the JSON lines. */
function collector() {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { lines.push(...String(chunk).split('\n').filter(Boolean)); cb(); } });
  return { stream, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

t.test('createLogger redacts secret headers', async (t) => {
  const c = collector();
  const log = createLogger('info', c.stream);
  const headers = () => ({
    host: 'gw.test:8443',
    'x-amz-server-side-encryption-customer-algorithm': 'AES256',
    'x-amz-server-side-encryption-customer-key': KEY_A.b64,
    'x-amz-server-side-encryption-customer-key-md5': KEY_A.md5,
    'x-amz-copy-source-server-side-encryption-customer-key': KEY_B.b64,
    authorization: 'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=deadbeef',
    'x-amz-security-token': 'FwoGZXIvYXdzEBYaDHsecrettoken',
    cookie: 'session=s3cr3t-cookie',
    'proxy-authorization': 'Basic dXNlcjpwYXNzd29yZA==',
    'x-amz-date': '20260101T000000Z',
  });
  const expected = {
    host: 'gw.test:8443',
    'x-amz-server-side-encryption-customer-algorithm': 'AES256',
    'x-amz-server-side-encryption-customer-key': '[redacted]',
    'x-amz-server-side-encryption-customer-key-md5': KEY_A.md5,
    'x-amz-copy-source-server-side-encryption-customer-key': '[redacted]',
    authorization: '[redacted]',
    'x-amz-security-token': '[redacted]',
    cookie: '[redacted]',
    'proxy-authorization': '[redacted]',
    'x-amz-date': '20260101T000000Z',
  };
  log.info({ headers: headers() }, 'top-level headers');
  log.warn({ req: { method: 'PUT', url: '/b/k', headers: headers() } }, 'req.headers');
  log.error({ upstream: { status: 400, headers: headers() } }, 'nested one level');
  log.child({ requestId: 'R1' }).info({ headers: headers() }, 'child logger');
  log.debug({ headers: headers() }, 'below level: not written');
  const recs = c.records();
  t.equal(recs.length, 4, 'four lines (debug filtered at info)');
  t.same(recs[0]!.headers, expected, 'headers[...] redacted, others kept');
  t.same((recs[1]!.req as { headers: unknown }).headers, expected, 'req.headers[...] redacted');
  t.same((recs[2]!.upstream as { headers: unknown }).headers, expected, '*.headers[...] redacted');
  t.same(recs[3]!.headers, expected, 'child logger keeps redaction');
  t.match(recs[0], { svc: 'ssec-gateway', level: 30, msg: 'top-level headers' }, 'base fields');
  t.match(String(recs[0]!.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'ISO timestamp');
  t.equal(recs[3]!.requestId, 'R1', 'child binding kept');
  const all = c.lines.join('\n');
  assertNoKeyMaterial(t, all, [KEY_A.raw, KEY_B.raw], 'log output', ['AKIAIOSFODNN7EXAMPLE', 'FwoGZXIvYXdzEBYaDHsecrettoken', 's3cr3t-cookie', 'dXNlcjpwYXNzd29yZA==']);
  // the caller's object is not modified by logging
  const h = headers();
  log.info({ headers: h }, 'again');
  t.equal(h['x-amz-server-side-encryption-customer-key'], KEY_A.b64, "the logged object itself is left intact");
});

t.test('createLogger: level and silent', async (t) => {
  const c = collector();
  const log = createLogger('silent', c.stream);
  log.fatal({ headers: { authorization: 'x' } }, 'nothing');
  t.equal(c.lines.length, 0, 'silent writes nothing');
  const w = collector();
  const warn = createLogger('warn', w.stream);
  warn.info('no');
  warn.warn('yes');
  t.same(w.records().map((r) => r.msg), ['yes'], 'level threshold');
});
