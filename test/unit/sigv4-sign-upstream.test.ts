// signUpstream: what it sends verifies with our verify() and with smithy as an independent verifier; which headers
// are signed, unsigned or dropped; path/query encoding; session tokens; the aws-chunked header rewrite.
import t from 'tap';
import { decodedBodyHeaders, parse, signUpstream, stripAuthQuery, verify, type HeaderInput, type SignedUpstream, type SigV4Input, type UpstreamRequest } from '../../src/sigv4/index.js';
import { header, loadFixtures, smithySignature, TEST_NOW } from '../fixtures/sigv4/helpers.js';

const UP = { accessKeyId: 'AKIDUPSTREAM', secretAccessKey: 'upstream/secret+KEY=0123456789' };

function asInput(method: string, s: SignedUpstream): SigV4Input {
  const raw: string[] = [];
  for (const [k, v] of Object.entries(s.headers)) raw.push(k, v);
  return { method, rawUrl: s.path, rawHeaders: raw, authority: s.headers.host! };
}

function verifyUpstream(method: string, s: SignedUpstream, creds = UP, now = TEST_NOW) {
  const p = parse(asInput(method, s));
  if (p.kind === 'anonymous') throw new Error('unsigned');
  return verify(p, (ak) => (ak === creds.accessKeyId ? { secretAccessKey: creds.secretAccessKey } : undefined), now, { region: 'us-east-1' });
}

/** The client's headers as a gateway would pass them on (node's req.headers shape). */
function clientHeaders(raw: string[]): HeaderInput {
  const h: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    if (k.startsWith(':')) continue;
    const prev = h[k];
    h[k] = prev === undefined ? raw[i + 1]! : Array.isArray(prev) ? [...prev, raw[i + 1]!] : [prev, raw[i + 1]!];
  }
  return h;
}

t.test('every real client request re-signed for the upstream verifies (ours and smithy\'s) and signs what it should', async (t) => {
  for (const f of loadFixtures()) {
    const q = f.url.indexOf('?');
    const sha = header(f.rawHeaders, 'x-amz-content-sha256');
    const req: UpstreamRequest = {
      method: f.method, protocol: 'http:', hostname: 'rgw.internal', port: 7480,
      rawPath: q === -1 ? f.url : f.url.slice(0, q), rawQuery: stripAuthQuery(q === -1 ? '' : f.url.slice(q + 1)),
      headers: clientHeaders(f.rawHeaders),
      payloadHash: sha && /^[0-9a-f]{64}$/.test(sha) ? sha : 'UNSIGNED-PAYLOAD',
      region: 'us-east-1', signingDate: TEST_NOW,
    };
    const s = await signUpstream(req, UP);
    const v = verifyUpstream(f.method, s);
    t.equal(v.accessKeyId, UP.accessKeyId, `${f.name}: verifies`);
    t.equal(s.headers.host, 'rgw.internal:7480');
    t.notMatch(s.path, /X-Amz-(Signature|Credential|Algorithm)/, `${f.name}: no presign parameters upstream`);
    const sig = /Signature=([0-9a-f]{64})$/.exec(s.headers.authorization!)![1]!;
    t.equal(await smithySignature({ method: f.method, url: s.path, rawHeaders: asInput(f.method, s).rawHeaders, authority: s.headers.host! }, UP.secretAccessKey), sig, `${f.name}: smithy verifies it too`);
    for (const name of Object.keys(s.headers)) {
      const shouldSign = !['user-agent', 'expect', 'authorization', 'x-forwarded-for', 'x-forwarded-proto'].includes(name);
      t.equal(s.signedHeaders.includes(name), shouldSign, `${f.name}: ${name} ${shouldSign ? 'signed' : 'unsigned'}`);
    }
    if (header(f.rawHeaders, 'x-amz-server-side-encryption-customer-key')) {
      t.ok(s.signedHeaders.includes('x-amz-server-side-encryption-customer-key'), 'SSE-C key header signed');
      t.ok(s.signedHeaders.includes('x-amz-server-side-encryption-customer-key-md5'), 'SSE-C key MD5 signed');
    }
  }
});

t.test('the same input signed by smithy directly gives the same Authorization', async (t) => {
  const { SignatureV4 } = await import('@smithy/signature-v4');
  const { HttpRequest } = await import('@smithy/protocol-http');
  const { Hash } = await import('@smithy/hash-node');
  const s = await signUpstream({
    method: 'POST', protocol: 'https:', hostname: 's3.example', rawPath: '/bucket/a%20b/c', rawQuery: 'uploads',
    headers: { 'content-type': 'text/plain', 'x-amz-meta-note': 'spaced   value', 'x-amz-server-side-encryption-customer-algorithm': 'AES256' },
    payloadHash: 'UNSIGNED-PAYLOAD', region: 'us-east-1', signingDate: TEST_NOW,
  }, UP);
  const signer = new SignatureV4({ credentials: UP, region: 'us-east-1', service: 's3', sha256: Hash.bind(null, 'sha256'), uriEscapePath: false, applyChecksum: false });
  const ref = await signer.sign(new HttpRequest({ method: 'POST', protocol: 'https:', hostname: 's3.example', path: '/bucket/a%20b/c', query: { uploads: '' },
    headers: { host: 's3.example', 'content-type': 'text/plain', 'x-amz-meta-note': 'spaced   value', 'x-amz-server-side-encryption-customer-algorithm': 'AES256', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }), { signingDate: TEST_NOW });
  t.equal(s.headers.authorization, ref.headers.authorization);
  t.equal(s.headers['x-amz-date'], '20260301T120000Z');
  t.equal(s.path, '/bucket/a%20b/c?uploads', 'a valueless key stays valueless on the wire');
});

t.test('dropped, unsigned and replaced headers; session token; payload hash', async (t) => {
  const s = await signUpstream({
    method: 'PUT', protocol: 'https:', hostname: 's3.example', port: 443, rawPath: `/b/a b!'()*${Buffer.from('ü', 'utf8').toString('latin1')}`, rawQuery: 'partNumber=1&uploadId=UP%2FID%2B1%3D',
    headers: {
      Authorization: 'AWS4-HMAC-SHA256 Credential=client/…', 'X-Amz-Date': '20200101T000000Z', Date: 'Wed, 01 Jan 2020 00:00:00 GMT',
      'x-amz-security-token': 'CLIENT-TOKEN', 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', host: 'client.example',
      Connection: 'keep-alive', 'Transfer-Encoding': 'chunked', te: 'trailers', expect: '100-continue', 'user-agent': 'aws-cli/1.45',
      'x-forwarded-proto': 'https', 'content-length': 5, 'content-md5': 'XUFAKrxLKna5cZ2REBfFkg==', 'x-amz-meta-a': ['1', '2'],
    },
    payloadHash: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824', region: 'us-east-1', signingDate: TEST_NOW,
  }, { ...UP, sessionToken: 'UPSTREAM-TOKEN' });
  const h = s.headers;
  t.equal(h.host, 's3.example', 'default port left out of Host');
  t.equal(h['x-amz-security-token'], 'UPSTREAM-TOKEN', 'the upstream token replaces the client\'s');
  t.equal(h['x-amz-content-sha256'], '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
  t.equal(h['x-amz-date'], '20260301T120000Z');
  for (const gone of ['date', 'connection', 'transfer-encoding', 'te']) t.notOk(gone in h, `${gone} dropped`);
  t.equal(h.expect, '100-continue', 'expect passed on');
  t.equal(h['x-amz-meta-a'], '1,2', 'repeated values joined');
  t.equal(h['content-length'], '5');
  t.same(s.signedHeaders, ['content-length', 'content-md5', 'host', 'x-amz-content-sha256', 'x-amz-date', 'x-amz-meta-a', 'x-amz-security-token']);
  t.equal(s.path, '/b/a%20b%21%27%28%29%2A%C3%BC?partNumber=1&uploadId=UP%2FID%2B1%3D', 'the path is sent in canonical form');
  const v = verifyUpstream('PUT', s);
  t.equal(v.securityToken, 'UPSTREAM-TOKEN');
  t.equal(v.payloadMode, 'hex');
  await t.rejects(signUpstream({ method: 'GET', protocol: 'https:', hostname: 'h', rawPath: '/', rawQuery: '', headers: {}, payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', region: 'r' }, UP), TypeError);
});

t.test('header values with UTF-8 bytes (as node hands them over, latin1) are signed as the bytes sent', async (t) => {
  const latin1OfUtf8 = Buffer.from('naïve € value', 'utf8').toString('latin1');
  const s = await signUpstream({ method: 'PUT', protocol: 'http:', hostname: 'rgw', port: 7480, rawPath: '/b/k', rawQuery: '', headers: { 'x-amz-meta-u': latin1OfUtf8 }, payloadHash: 'UNSIGNED-PAYLOAD', region: 'us-east-1', signingDate: TEST_NOW }, UP);
  t.equal(s.headers['x-amz-meta-u'], latin1OfUtf8, 'sent as received');
  t.ok(verifyUpstream('PUT', s), 'verifies over the wire bytes');
});

t.test('stripAuthQuery and decodedBodyHeaders', async (t) => {
  t.equal(stripAuthQuery('X-Amz-Algorithm=AWS4-HMAC-SHA256&versionId=v%2B1&x-amz-signature=ab&X-Amz-Credential=a%2Fb&uploads&X-Amz-Security-Token=t'), 'versionId=v%2B1&uploads');
  t.equal(stripAuthQuery(''), '');
  t.same(decodedBodyHeaders({
    'Content-Encoding': 'aws-chunked,gzip', 'x-amz-decoded-content-length': '22', 'x-amz-trailer': 'x-amz-checksum-crc32', 'x-amz-sdk-checksum-algorithm': 'CRC32',
    'transfer-encoding': 'chunked', 'content-type': 'text/plain', 'x-amz-meta-a': 'b',
  }, 22), { 'content-encoding': 'gzip', 'content-type': 'text/plain', 'x-amz-meta-a': 'b', 'content-length': '22' });
  t.same(decodedBodyHeaders({ 'content-encoding': 'aws-chunked', 'content-length': '99' }, 5), { 'content-length': '5' });
});
