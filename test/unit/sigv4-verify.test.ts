// parse() + verify(): every captured real-client request verifies and agrees with @smithy/signature-v4; every
// tampering gives S3's error; the clock, presign and scope rules; S3's exact codes and messages.
import t, { type Test } from 'tap';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { ERRORS, type ErrorName } from '../../src/errors/table.js';
import { canonicalRequest, parse, stringToSign, verify, type SigV4Input, type SigV4Request, type VerifiedRequest, type VerifyOptions } from '../../src/sigv4/index.js';
import { SigV4Error } from '../../src/sigv4/errors.js';
import { SigningKeyCache } from '../../src/sigv4/signing-key.js';
import { assertNoKeyMaterial } from './fixtures.js';
import {
  AWS_EXAMPLE, TEST_CREDS, TEST_NOW, amzDateToDate, awsStreamingExample, awsTrailerExample, clientPresign, clientSign, flip, header, inputOf, loadFixtures, smithySignature, withHeader, type Fixture,
} from '../fixtures/sigv4/helpers.js';

const fixtures = loadFixtures();
const lookupFor = (secret: string) => (ak: string) => (ak === fixtures[0]!.accessKeyId || ak === TEST_CREDS.accessKeyId || ak === AWS_EXAMPLE.accessKeyId ? { secretAccessKey: secret } : undefined);

function parsed(input: SigV4Input): SigV4Request {
  const p = parse(input);
  if (p.kind === 'anonymous') throw new Error('expected a signed request');
  return p;
}

function run(input: SigV4Input, secret: string, now: Date, opts: VerifyOptions = {}): VerifiedRequest {
  return verify(parsed(input), lookupFor(secret), now, opts);
}

/** Runs fn and returns the GatewayError it threw, checking its table row (and message, when given). */
function expectError(t: Test, fn: () => unknown, name: ErrorName, label: string, message?: string | RegExp): GatewayError | undefined {
  let thrown: unknown;
  try { fn(); } catch (e) { thrown = e; }
  if (!(thrown instanceof GatewayError)) {
    t.fail(`${label}: expected ${name}, got ${thrown === undefined ? 'success' : String(thrown)}`);
    return undefined;
  }
  const row = ERRORS[name];
  t.same({ error: thrown.error, status: thrown.status, code: thrown.code }, { error: name, status: row.status, code: row.code }, `${label}: ${row.status} ${row.code}`);
  if (typeof message === 'string') t.equal(thrown.message, message, `${label}: message`);
  else if (message) t.match(thrown.message, message, `${label}: message`);
  return thrown;
}

function details(e: GatewayError | undefined): Record<string, string> {
  return e instanceof SigV4Error ? { ...e.details } : {};
}

const isPresigned = (f: Fixture) => f.url.includes('X-Amz-Signature=');
const signedHeaderNames = (f: Fixture): string[] =>
  isPresigned(f) ? decodeURIComponent(/X-Amz-SignedHeaders=([^&]*)/.exec(f.url)![1]!).split(';') : /SignedHeaders=([^,]*)/.exec(header(f.rawHeaders, 'authorization')!)![1]!.split(';');

t.test('every captured real-client request verifies, and smithy computes the same signature', async (t) => {
  t.ok(fixtures.length >= 20, `${fixtures.length} fixtures`);
  const clients = new Set(fixtures.map((f) => f.client.split(' ')[0]!.split('/')[0]));
  t.same([...clients].sort(), ['aws-cli', 'aws-sdk-js', 'boto3'], 'aws-cli v1+v2, boto3, SDK v3');
  for (const f of fixtures) {
    const v = run(inputOf(f), f.secretAccessKey, f.captured);
    const provided = isPresigned(f) ? /X-Amz-Signature=([0-9a-f]{64})/.exec(f.url)![1]! : /Signature=([0-9a-f]{64})/.exec(header(f.rawHeaders, 'authorization')!)![1]!;
    t.equal(v.signing.seedSignature, provided, `${f.name}: verified`);
    t.equal(await smithySignature(f, f.secretAccessKey), provided, `${f.name}: smithy agrees`);
    t.equal(v.presigned, isPresigned(f), `${f.name}: presigned flag`);
    t.equal(v.accessKeyId, f.accessKeyId);
    t.equal(v.region, f.region);
    t.same(v.signedHeaders, signedHeaderNames(f));
  }
});

t.test('payload modes of the real clients', async (t) => {
  const mode = (name: string) => run(inputOf(fixtures.find((f) => f.name === name)!), fixtures[0]!.secretAccessKey, fixtures.find((f) => f.name === name)!.captured);
  const cli = mode('cli1-put-object-weird-key');
  t.equal(cli.payloadMode, 'STREAMING-UNSIGNED-PAYLOAD-TRAILER');
  t.equal(cli.decodedContentLength, 22);
  t.equal(cli.trailer, 'x-amz-checksum-crc32');
  t.equal(mode('sdk-put-readable-crc64nvme').trailer, 'x-amz-checksum-crc64nvme');
  const buf = mode('sdk-put-buffer');
  t.equal(buf.payloadMode, 'hex');
  t.equal(buf.payloadHash, header(fixtures.find((f) => f.name === 'sdk-put-buffer')!.rawHeaders, 'x-amz-content-sha256'));
  t.equal(mode('cli2-put-object').payloadMode, 'UNSIGNED-PAYLOAD');
  t.equal(mode('sdk-presign-put').payloadMode, 'UNSIGNED-PAYLOAD');
  t.equal(mode('sdk-h2-get-object').signedHeaders[0], ':authority', 'the SDK signs :authority over HTTP/2');
});

t.test('the AWS documentation examples verify (seed signatures 4f232c43…, 106e2a8a…)', async (t) => {
  for (const ex of [awsStreamingExample(), awsTrailerExample()]) {
    const v = run(ex.input, AWS_EXAMPLE.secretAccessKey, AWS_EXAMPLE.now);
    t.equal(v.signing.seedSignature, ex.signatures[0]);
    t.equal(v.signing.scope, '20130524/us-east-1/s3/aws4_request');
    t.equal(v.signing.amzDate, '20130524T000000Z');
    t.equal(v.decodedContentLength, 66560);
  }
  t.equal(run(awsTrailerExample().input, AWS_EXAMPLE.secretAccessKey, AWS_EXAMPLE.now).trailer, 'x-amz-checksum-crc32c');
});

t.test('one changed character in any signed header, the path, the query or the signature → S3 error', async (t) => {
  for (const f of fixtures) {
    const secret = f.secretAccessKey;
    const presigned = isPresigned(f);
    // signed headers
    for (const h of signedHeaderNames(f)) {
      if (h === 'host' || h === ':authority') {
        expectError(t, () => run({ ...inputOf(f), authority: flip(f.authority) }, secret, f.captured), 'SignatureDoesNotMatch', `${f.name}: ${h}`);
        continue;
      }
      const value = header(f.rawHeaders, h)!;
      if (h === 'x-amz-date') {
        expectError(t, () => run({ ...inputOf(f), rawHeaders: withHeader(f.rawHeaders, h, flip(value, 14)) }, secret, f.captured), 'SignatureDoesNotMatch', `${f.name}: x-amz-date`);
      } else if (h === 'x-amz-content-sha256' && !/^[0-9a-f]{64}$/.test(value)) {
        expectError(t, () => run({ ...inputOf(f), rawHeaders: withHeader(f.rawHeaders, h, flip(value)) }, secret, f.captured), 'ContentSha256Invalid', `${f.name}: ${h}`);
      } else {
        expectError(t, () => run({ ...inputOf(f), rawHeaders: withHeader(f.rawHeaders, h, flip(value)) }, secret, f.captured), 'SignatureDoesNotMatch', `${f.name}: ${h}`);
      }
    }
    // path
    const q = f.url.indexOf('?');
    const path = q === -1 ? f.url : f.url.slice(0, q);
    const query = q === -1 ? '' : f.url.slice(q);
    expectError(t, () => run({ ...inputOf(f), rawUrl: flip(path, 3) + query }, secret, f.captured), 'SignatureDoesNotMatch', `${f.name}: path`);
    // query values other than the signature
    for (const piece of query.slice(1).split('&').filter(Boolean)) {
      const [k, v] = piece.split('=') as [string, string | undefined];
      if (!v || /^X-Amz-(Algorithm|Credential|Date|SignedHeaders)$/.test(k)) continue;
      const changed = query.replace(piece, `${k}=${flip(v)}`);
      // the SDK's presigner puts X-Amz-Content-Sha256=UNSIGNED-PAYLOAD in the query: changed, it is no payload mode
      const expected = k === 'X-Amz-Content-Sha256' ? 'ContentSha256Invalid' : 'SignatureDoesNotMatch';
      expectError(t, () => run({ ...inputOf(f), rawUrl: path + changed }, secret, f.captured), expected, `${f.name}: query ${k}`);
    }
    // a parameter added
    expectError(t, () => run({ ...inputOf(f), rawUrl: path + (query ? `${query}&versionId=null` : '?versionId=null') }, secret, f.captured), 'SignatureDoesNotMatch', `${f.name}: one more parameter`);
    // the header signature
    if (!presigned) {
      const auth = header(f.rawHeaders, 'authorization')!;
      expectError(t, () => run({ ...inputOf(f), rawHeaders: withHeader(f.rawHeaders, 'authorization', flip(auth)) }, secret, f.captured), 'SignatureDoesNotMatch', `${f.name}: signature`);
      // the same signature in upper case is accepted (S3 compares hex)
      t.ok(run({ ...inputOf(f), rawHeaders: withHeader(f.rawHeaders, 'authorization', auth.replace(/[0-9a-f]{64}$/, (s) => s.toUpperCase())) }, secret, f.captured), `${f.name}: upper-case signature`);
    }
    // an x-amz-* header that was not signed
    const e = expectError(t, () => run({ ...inputOf(f), rawHeaders: [...f.rawHeaders, 'x-amz-copy-source', '/other-bucket/secret'] }, secret, f.captured), 'HeadersNotSigned', `${f.name}: unsigned x-amz-copy-source`);
    t.equal(details(e).HeadersNotSigned, 'x-amz-copy-source');
    // unsigned headers may change
    let changed = f.rawHeaders;
    for (const h of ['user-agent', 'amz-sdk-invocation-id', 'accept-encoding', 'expect']) if (!signedHeaderNames(f).includes(h)) changed = withHeader(changed, h, 'changed');
    t.ok(run({ ...inputOf(f), rawHeaders: changed }, secret, f.captured), `${f.name}: unsigned headers changed`);
  }
});

t.test('a wrong secret: SignatureDoesNotMatch with S3 details, never key material', async (t) => {
  for (const f of fixtures) {
    const e = expectError(t, () => run(inputOf(f), 'the-wrong-secret', f.captured), 'SignatureDoesNotMatch', f.name, ERRORS.SignatureDoesNotMatch.message);
    const d = details(e);
    const req = parsed(inputOf(f));
    const amzDate = isPresigned(f) ? /X-Amz-Date=(\w+)/.exec(f.url)![1]! : header(f.rawHeaders, 'x-amz-date')!;
    t.equal(d.StringToSign, stringToSign(amzDate, req.scope.value, canonicalRequest(req)), `${f.name}: StringToSign is what a right secret signs`);
    t.same(Object.keys(d), ['AWSAccessKeyId', 'StringToSign', 'SignatureProvided', 'StringToSignBytes', 'CanonicalRequest', 'CanonicalRequestBytes'], `${f.name}: S3's element order`);
    t.equal(d.AWSAccessKeyId, f.accessKeyId);
    t.match(d.StringToSignBytes, /^[0-9a-f]{2}( [0-9a-f]{2})*$/);
    t.equal(Buffer.from(d.StringToSignBytes!.replace(/ /g, ''), 'hex').toString('latin1'), d.StringToSign);
    assertNoKeyMaterial(t, JSON.stringify({ m: e?.message, d }), [], `${f.name}`, [f.secretAccessKey, 'the-wrong-secret']);
  }
  const sse = fixtures.find((f) => f.name === 'cli1-put-sse-c')!;
  const key = Buffer.from(header(sse.rawHeaders, 'x-amz-server-side-encryption-customer-key')!, 'base64');
  t.equal(key.length, 32, 'the fixture carries an SSE-C key');
  const e = expectError(t, () => run(inputOf(sse), 'the-wrong-secret', sse.captured), 'SignatureDoesNotMatch', 'SSE-C request');
  const d = details(e);
  t.match(d.CanonicalRequest, /\nx-amz-server-side-encryption-customer-key:\[redacted\]\n/, 'the SSE-C key is redacted from CanonicalRequest');
  assertNoKeyMaterial(t, JSON.stringify({ m: e?.message, d }), [key], 'SSE-C request: no key in the error');
});

t.test('unknown access key → InvalidAccessKeyId', async (t) => {
  for (const f of fixtures.slice(0, 3)) {
    const e = expectError(t, () => verify(parsed(inputOf(f)), () => undefined, f.captured), 'InvalidAccessKeyId', f.name, 'The AWS Access Key Id you provided does not exist in our records.');
    t.same(details(e), { AWSAccessKeyId: f.accessKeyId });
  }
});

t.test('clock: ±15 minutes for header auth, RequestTimeTooSkewed beyond', async (t) => {
  const f = fixtures.find((x) => x.name === 'sdk-put-buffer')!;
  const at = (ms: number) => new Date(f.captured.getTime() + ms);
  const signedAt = amzDateToDate(header(f.rawHeaders, 'x-amz-date')!).getTime();
  for (const skew of [-14 * 60_000, 14 * 60_000]) t.ok(run(inputOf(f), f.secretAccessKey, new Date(signedAt + skew)), `${skew / 60000} min: ok`);
  for (const skew of [-16 * 60_000, 16 * 60_000]) {
    const e = expectError(t, () => run(inputOf(f), f.secretAccessKey, new Date(signedAt + skew)), 'RequestTimeTooSkewed', `${skew / 60000} min`, 'The difference between the request time and the current time is too large.');
    t.same(Object.keys(details(e)), ['RequestTime', 'ServerTime', 'MaxAllowedSkewMilliseconds']);
    t.equal(details(e).RequestTime, header(f.rawHeaders, 'x-amz-date'));
    t.equal(details(e).MaxAllowedSkewMilliseconds, '900000');
  }
  // S3 checks the key and the signature before the clock
  expectError(t, () => run(inputOf(f), 'wrong', at(3600_000)), 'SignatureDoesNotMatch', 'bad signature and skewed');
});

t.test('presigned URLs: valid from X-Amz-Date to X-Amz-Date + X-Amz-Expires', async (t) => {
  for (const f of fixtures.filter(isPresigned)) {
    const date = amzDateToDate(/X-Amz-Date=(\w+)/.exec(f.url)![1]!).getTime();
    const expires = Number(/X-Amz-Expires=(\d+)/.exec(f.url)![1]);
    t.ok(run(inputOf(f), f.secretAccessKey, new Date(date + expires * 1000)), `${f.name}: valid at its last second`);
    const e = expectError(t, () => run(inputOf(f), f.secretAccessKey, new Date(date + expires * 1000 + 1)), 'PresignExpired', `${f.name}: expired`, 'Request has expired');
    t.same(Object.keys(details(e)), ['X-Amz-Expires', 'Expires', 'ServerTime']);
    t.ok(run(inputOf(f), f.secretAccessKey, new Date(date - 14 * 60_000)), `${f.name}: 14 min early is ok`);
    expectError(t, () => run(inputOf(f), f.secretAccessKey, new Date(date - 16 * 60_000)), 'PresignNotYetValid', `${f.name}: 16 min early`, 'Request is not valid yet');
  }
  const zero = await clientPresign({ rawPath: '/b/k', expiresIn: 0 });
  expectError(t, () => run(zero, TEST_CREDS.secretAccessKey, TEST_NOW), 'PresignExpired', 'X-Amz-Expires=0 is never valid');
});

t.test('expected region and service', async (t) => {
  const f = fixtures.find((x) => x.name === 'cli1-get-object-range')!;
  t.ok(run(inputOf(f), f.secretAccessKey, f.captured, { region: 'us-east-1' }));
  const e = expectError(t, () => run(inputOf(f), f.secretAccessKey, f.captured, { region: 'eu-west-1' }), 'AuthHeaderMalformed', 'header', "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'");
  t.same(details(e), { Region: 'eu-west-1' });
  const p = fixtures.find((x) => x.name === 'sdk-presign-get')!;
  expectError(t, () => run(inputOf(p), p.secretAccessKey, p.captured, { region: 'eu-west-1' }), 'AuthQueryMalformed', 'presigned', "Error parsing the X-Amz-Credential parameter; the region 'us-east-1' is wrong; expecting 'eu-west-1'");
  const ec2 = await clientSign({ rawPath: '/b/k' });
  const auth = header(ec2.rawHeaders, 'authorization')!.replace('/s3/', '/ec2/');
  expectError(t, () => run({ ...ec2, rawHeaders: withHeader(ec2.rawHeaders, 'authorization', auth) }, TEST_CREDS.secretAccessKey, TEST_NOW), 'AuthHeaderMalformed', 'service', 'The authorization header is malformed; incorrect service "ec2". This endpoint belongs to "s3".');
});

t.test('malformed Authorization headers and presigned parameters: S3 codes and messages', async (t) => {
  const base = await clientSign({ rawPath: '/b/k' });
  const auth = header(base.rawHeaders, 'authorization')!;
  const withAuth = (v: string) => ({ ...base, rawHeaders: withHeader(base.rawHeaders, 'authorization', v) });
  const HM = 'The authorization header is malformed; ';
  const cases: [string, string, ErrorName, string][] = [
    ['no Credential', auth.replace(/Credential=[^,]+, /, ''), 'AuthHeaderMalformed', `${HM}the authorization header requires three components: Credential, SignedHeaders, and Signature.`],
    ['no SignedHeaders', auth.replace(/SignedHeaders=[^,]+, /, ''), 'AuthHeaderMalformed', `${HM}the authorization header requires three components: Credential, SignedHeaders, and Signature.`],
    ['no Signature', auth.replace(/, Signature=.*/, ''), 'AuthHeaderMalformed', `${HM}the authorization header requires three components: Credential, SignedHeaders, and Signature.`],
    ['a credential of four parts', auth.replace('/us-east-1/', '/'), 'AuthHeaderMalformed', `${HM}the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`],
    ['a scope date of seven digits', auth.replace('/20260301/', '/2026030/'), 'AuthHeaderMalformed', `${HM}incorrect date format "2026030". This date in the credential must be in the format "yyyyMMdd".`],
    ['another terminator', auth.replace('aws4_request', 'aws4_reques'), 'AuthHeaderMalformed', `${HM}incorrect terminal "aws4_reques". This endpoint uses "aws4_request".`],
    ['a scope date that is not the request day', auth.replace('/20260301/', '/20260228/'), 'AuthHeaderMalformed', `${HM}Invalid credential date "20260228". This date is not the same as X-Amz-Date: "20260301".`],
    ['a component without "="', auth.replace('SignedHeaders=', 'SignedHeaders '), 'AuthHeaderMalformed', `${HM}the authorization component "SignedHeaders host;x-amz-content-sha256;x-amz-date" is malformed.`],
    ['a component twice', `${auth}, Signature=${'0'.repeat(64)}`, 'AuthHeaderMalformed', `${HM}the authorization component "Signature=${'0'.repeat(64)}" is malformed.`],
    ['Signature Version 2', 'AWS AKIDTESTSIGV4:frJIUN8DYpKDtOLCwo//yllqDzg=', 'SigV2NotSupported', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.'],
    ['the Bearer scheme', 'Bearer token', 'AuthTypeUnsupported', 'Unsupported Authorization Type'],
    ['SigV4a', 'AWS4-ECDSA-P256-SHA256 Credential=x', 'AuthTypeUnsupported', 'Unsupported Authorization Type'],
  ];
  for (const [label, value, name, message] of cases) expectError(t, () => run(withAuth(value), TEST_CREDS.secretAccessKey, TEST_NOW), name, label, message);
  t.equal(parse(withAuth('')).kind, 'anonymous', 'an empty Authorization header is none');
  t.equal(parse({ ...base, rawHeaders: withHeader(base.rawHeaders, 'authorization', undefined) }).kind, 'anonymous', 'no authentication: anonymous');

  expectError(t, () => run({ ...base, rawHeaders: withHeader(base.rawHeaders, 'x-amz-content-sha256', undefined) }, TEST_CREDS.secretAccessKey, TEST_NOW), 'ContentSha256Missing', 'no x-amz-content-sha256', 'Missing required header for this request: x-amz-content-sha256');
  const bad = expectError(t, () => run({ ...base, rawHeaders: withHeader(base.rawHeaders, 'x-amz-content-sha256', 'e3b0c442') }, TEST_CREDS.secretAccessKey, TEST_NOW), 'ContentSha256Invalid', 'x-amz-content-sha256 not a hash', ERRORS.ContentSha256Invalid.message);
  t.equal(bad?.argumentName, 'x-amz-content-sha256');
  for (const mode of ['STREAMING-AWS4-HMAC-SHA256-EVENTS', 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD']) {
    const ev = await clientSign({ method: 'PUT', rawPath: '/b/k', payloadHash: mode, headers: [['x-amz-decoded-content-length', '5']] });
    expectError(t, () => run(ev, TEST_CREDS.secretAccessKey, TEST_NOW), 'PayloadModeNotImplemented', mode, 'A header you provided implies functionality that is not implemented.');
  }
  expectError(t, () => run({ ...base, rawHeaders: withHeader(base.rawHeaders, 'x-amz-date', undefined) }, TEST_CREDS.secretAccessKey, TEST_NOW), 'AuthDateMissing', 'no date', 'AWS authentication requires a valid Date or x-amz-date header');
  expectError(t, () => run({ ...base, rawHeaders: withHeader(base.rawHeaders, 'x-amz-date', '2026-03-01T12:00:00Z') }, TEST_CREDS.secretAccessKey, TEST_NOW), 'AuthDateMissing', 'x-amz-date in another format');
  const host = expectError(t, () => run(withAuth(auth.replace('SignedHeaders=host;', 'SignedHeaders=')), TEST_CREDS.secretAccessKey, TEST_NOW), 'HeadersNotSigned', 'host not signed', 'There were headers present in the request which were not signed');
  t.same(details(host), { HeadersNotSigned: 'host' });

  // presigned parameters
  const pre = await clientPresign({ rawPath: '/b/k', expiresIn: 60 });
  const [path, query] = pre.rawUrl.split('?') as [string, string];
  const edit = (re: RegExp, to: string) => ({ ...pre, rawUrl: `${path}?${query.replace(re, to)}` });
  const QM = 'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.';
  for (const p of ['Algorithm', 'Credential', 'Date', 'Expires', 'SignedHeaders']) expectError(t, () => run(edit(new RegExp(`X-Amz-${p}=[^&]*&?`), ''), TEST_CREDS.secretAccessKey, TEST_NOW), 'AuthQueryMalformed', `no X-Amz-${p}`, QM);
  const queryCases: [string, RegExp, string, string][] = [
    ['another algorithm', /X-Amz-Algorithm=[^&]*/, 'X-Amz-Algorithm=AWS4-HMAC-SHA1', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256 and AWS4-ECDSA-P256-SHA256"'],
    ['X-Amz-Date in another format', /X-Amz-Date=[^&]*/, 'X-Amz-Date=2026-03-01T12%3A00%3A00Z', `X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`],
    ['X-Amz-Expires=604801', /X-Amz-Expires=[^&]*/, 'X-Amz-Expires=604801', 'X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds'],
    ['X-Amz-Expires=-1', /X-Amz-Expires=[^&]*/, 'X-Amz-Expires=-1', 'X-Amz-Expires must be non-negative'],
    ['X-Amz-Expires=1h', /X-Amz-Expires=[^&]*/, 'X-Amz-Expires=1h', 'X-Amz-Expires should be a number'],
    ['another service', /X-Amz-Credential=[^&]*/, `X-Amz-Credential=${TEST_CREDS.accessKeyId}%2F20260301%2Fus-east-1%2Fec2%2Faws4_request`, 'Error parsing the X-Amz-Credential parameter; incorrect service "ec2". This endpoint belongs to "s3".'],
    ['a malformed credential', /X-Amz-Credential=[^&]*/, 'X-Amz-Credential=AK%2F20260301', 'Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'],
    ['a scope date that is not X-Amz-Date', /X-Amz-Credential=[^&]*/, `X-Amz-Credential=${TEST_CREDS.accessKeyId}%2F20260302%2Fus-east-1%2Fs3%2Faws4_request`, 'Invalid credential date "20260302". This date is not the same as X-Amz-Date: "20260301".'],
  ];
  for (const [label, re, to, message] of queryCases) expectError(t, () => run(edit(re, to), TEST_CREDS.secretAccessKey, TEST_NOW), 'AuthQueryMalformed', label, message);
  // both mechanisms, SigV2 query
  const both = expectError(t, () => run({ ...pre, rawHeaders: [...pre.rawHeaders, 'Authorization', auth] }, TEST_CREDS.secretAccessKey, TEST_NOW), 'AuthMechanismConflict', 'header + presigned', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified');
  t.equal(both?.argumentName, 'Authorization');
  expectError(t, () => parse({ ...base, rawHeaders: withHeader(base.rawHeaders, 'authorization', undefined), rawUrl: '/b/k?AWSAccessKeyId=AKID&Expires=1700000000&Signature=abc%3D' }), 'SigV2NotSupported', 'SigV2 presigned URL');
  // parameter names are case-insensitive, and so must be signed as sent
  t.ok(run(pre, TEST_CREDS.secretAccessKey, TEST_NOW), 'presigned ok');
  expectError(t, () => run({ ...pre, rawUrl: pre.rawUrl.replace('X-Amz-Expires', 'x-amz-expires') }, TEST_CREDS.secretAccessKey, TEST_NOW), 'SignatureDoesNotMatch', 'lower-case parameter names parse, and change the canonical query');
  // malformed percent-encoding
  expectError(t, () => parse({ ...base, rawUrl: '/b/k%zz' }).kind === 'anonymous' || run({ ...base, rawUrl: '/b/k%zz' }, TEST_CREDS.secretAccessKey, TEST_NOW), 'InvalidURI', 'bad escape in path');
});

t.test('aws-chunked prerequisites are checked before the body', async (t) => {
  const spec = { method: 'PUT', rawPath: '/b/k', payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' };
  const ok = await clientSign({ ...spec, headers: [['content-encoding', 'aws-chunked'], ['x-amz-decoded-content-length', '5'], ['x-amz-trailer', 'x-amz-checksum-crc32c']] });
  const v = run(ok, TEST_CREDS.secretAccessKey, TEST_NOW);
  t.equal(v.decodedContentLength, 5);
  t.equal(v.trailer, 'x-amz-checksum-crc32c');
  const noLength = await clientSign({ ...spec, headers: [['x-amz-trailer', 'x-amz-checksum-crc32']] });
  expectError(t, () => run(noLength, TEST_CREDS.secretAccessKey, TEST_NOW), 'DecodedLengthMissing', 'no x-amz-decoded-content-length', 'You must provide the Content-Length HTTP header.');
  const badLength = await clientSign({ ...spec, headers: [['x-amz-decoded-content-length', '-1']] });
  expectError(t, () => run(badLength, TEST_CREDS.secretAccessKey, TEST_NOW), 'DecodedLengthMissing', 'negative length');
  const md5 = await clientSign({ ...spec, headers: [['x-amz-decoded-content-length', '5'], ['x-amz-trailer', 'x-amz-checksum-md5']] });
  expectError(t, () => run(md5, TEST_CREDS.secretAccessKey, TEST_NOW), 'TrailerNotSupported', 'x-amz-trailer md5', 'The value specified in the x-amz-trailer header is not supported');
  const signedNoTrailer = await clientSign({ ...spec, payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', headers: [['x-amz-decoded-content-length', '5'], ['x-amz-trailer', 'x-amz-checksum-crc32']] });
  expectError(t, () => run(signedNoTrailer, TEST_CREDS.secretAccessKey, TEST_NOW), 'TrailerNotSupported', 'a trailer without a trailer mode');
});

// ---------------------------------------------------------------------------------------------------------------
// generated requests, smithy as the client

const SEGMENT_CHARS = ["a", "Z", "0", "-", "_", ".", "~", " ", "!", "*", "'", "(", ")", "+", "=", "&", "$", "@", ",", ";", ":", "?", "#", "[", "]", "%", "ü", "€", "日", "😀", "\u0001"];
function rand(n: number): number { return Math.floor(Math.random() * n); }
function randText(len: number): string { let s = ''; for (let i = 0; i < len; i++) s += SEGMENT_CHARS[rand(SEGMENT_CHARS.length)]; return s; }
/** What SDKs put on the wire: each segment UriEncoded (smithy's escapeUri, which also encodes !'()*). */
function wirePath(key: string): string {
  return key.split('/').map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)).join('/');
}

t.test('300 generated requests signed by smithy verify (keys, queries, headers, presign, session tokens)', async (t) => {
  let checked = 0;
  for (let i = 0; i < 300; i++) {
    const key = `${randText(1 + rand(6))}/${randText(rand(8))}/${randText(1 + rand(4))}`;
    const params: string[] = [];
    for (let j = rand(4); j > 0; j--) {
      const name = ['uploads', 'prefix', 'uploadId', 'partNumber', 'x-id', 'delimiter', 'a b', 'list-type'][rand(8)]!;
      params.push(rand(4) === 0 ? encodeURIComponent(name) : `${encodeURIComponent(name)}=${encodeURIComponent(randText(rand(5)))}`);
    }
    const headers: [string, string][] = [['x-amz-meta-note', `${' '.repeat(rand(2))}${randText(3).replace(/[^\x21-\x7e]/g, 'x')}  \t x${' '.repeat(rand(2))}`.trim()], ['content-type', 'text/plain']];
    if (rand(2)) headers.push(['x-amz-meta-dup', 'a'], ['x-amz-meta-dup', 'b  c']);
    const presign = rand(3) === 0;
    const token = rand(4) === 0 ? 'FQoGZXIvYXdzE/token+with=chars' : undefined;
    const spec = { method: ['GET', 'PUT', 'POST', 'HEAD', 'DELETE'][rand(5)]!, rawPath: `/bucket/${wirePath(key)}`, rawQuery: params.join('&'), headers, sessionToken: token, region: ['us-east-1', 'eu-central-1', 'auto'][rand(3)]! };
    const input = presign ? await clientPresign(spec) : await clientSign(spec);
    try {
      const v = run(input, TEST_CREDS.secretAccessKey, TEST_NOW);
      if (v.securityToken !== token) throw new Error('token');
      checked++;
    } catch (e) {
      t.fail(`${JSON.stringify(input)}: ${(e as Error).message} ${JSON.stringify(details(e as GatewayError))}`);
      break;
    }
  }
  t.equal(checked, 300);
});

t.test('duplicate headers are joined with "," and whitespace folded; the Date header works without x-amz-date', async (t) => {
  const dup = await clientSign({ rawPath: '/b/k', headers: [['x-amz-meta-a', '  one   two '], ['X-Amz-Meta-A', 'three\t\tfour']] });
  t.ok(run(dup, TEST_CREDS.secretAccessKey, TEST_NOW));
  t.match(canonicalRequest(parsed(dup)), /\nx-amz-meta-a:one two,three four\n/);
  // A client that signs Date instead of x-amz-date (sig-v4-header-based-auth allows it): the string to sign
  // carries the Date in ISO 8601 basic format. Reference: our canonical request, smithy's HMAC over it.
  const base = await clientSign({ rawPath: '/b/k' });
  const date = TEST_NOW.toUTCString();
  let raw = withHeader(base.rawHeaders, 'x-amz-date', undefined);
  raw = [...raw, 'Date', date];
  const unsigned = parsed({ ...base, rawHeaders: withHeader(raw, 'authorization', header(base.rawHeaders, 'authorization')!.replace('x-amz-date', 'date')) });
  const sts = stringToSign('20260301T120000Z', unsigned.scope.value, canonicalRequest(unsigned));
  const { SignatureV4 } = await import('@smithy/signature-v4');
  const { Hash } = await import('@smithy/hash-node');
  const sig = await new SignatureV4({ credentials: TEST_CREDS, region: 'us-east-1', service: 's3', sha256: Hash.bind(null, 'sha256') }).sign(sts, { signingDate: TEST_NOW });
  const withDate = { ...base, rawHeaders: withHeader(raw, 'authorization', header(base.rawHeaders, 'authorization')!.replace('x-amz-date', 'date').replace(/[0-9a-f]{64}$/, sig)) };
  t.ok(run(withDate, TEST_CREDS.secretAccessKey, TEST_NOW), 'Date-only request verifies');
});

t.test('the signing-key cache is a bounded LRU', async (t) => {
  const keys = new SigningKeyCache(2);
  const f = fixtures[1]!;
  for (let i = 0; i < 3; i++) run(inputOf(f), f.secretAccessKey, f.captured, { keys });
  t.equal(keys.misses, 1);
  t.equal(keys.hits, 2);
  keys.get('s2', '20260101', 'r', 's3');
  keys.get('s3', '20260101', 'r', 's3');
  t.equal(keys.size, 2, 'capacity holds');
  run(inputOf(f), f.secretAccessKey, f.captured, { keys });
  t.equal(keys.misses, 4, 'the oldest entry was evicted');
});
