// S3 error bodies: the gateway's own (errorXml) and upstream ones whose empty <Message/> is filled
// (RGW 16 leaves it empty; aws-cli 1.45 then crashes with "argument of type 'NoneType' is not iterable").
import t from 'tap';
import { UPSTREAM_MESSAGES } from '../../src/errors/table.js';
import { errorXml, fillMessage, readErrorXml } from '../../src/s3/error-xml.js';
import { CustomerKey } from '../../src/sse-c/customer-key.js';
import { messageFor, normalizeErrorBody } from '../../src/upstream/normalize-error.js';
import { KEY_A, KEY_B, makeCtx } from './fixtures.js';

const DECL = '<?xml version="1.0" encoding="UTF-8"?>';
const SECURE_MSG = 'The storage service refused an SSE-C request as not made over a secure connection. Configure Ceph RGW with `rgw trust forwarded https = true` (the gateway sends X-Forwarded-Proto: https), or point the gateway at the RGW TLS endpoint.';
const COPY_MSG = 'The storage service cannot copy an object encrypted with a customer-provided key (Ceph RGW before release 20 does not implement it).';

/** RGW 16's real shape for an error with an empty message. */
function rgwBody(code: string, message = '<Message></Message>'): string {
  return `${DECL}<Error><Code>${code}</Code>${message}<BucketName>b</BucketName><RequestId>tx00000a1b2c3d4e5f60718-0066aa0bb1-1f2e-default</RequestId><HostId>1f2e-default-default</HostId></Error>`;
}

t.test('errorXml', async (t) => {
  t.equal(
    errorXml({ code: 'InvalidArgument', message: 'The secret key was invalid for the specified algorithm.', requestId: 'ABCDEF0123456789', argumentName: 'x-amz-server-side-encryption-customer-key', resource: '/b/k' }),
    `${DECL}\n<Error><Code>InvalidArgument</Code><Message>The secret key was invalid for the specified algorithm.</Message><ArgumentName>x-amz-server-side-encryption-customer-key</ArgumentName><Resource>/b/k</Resource><RequestId>ABCDEF0123456789</RequestId></Error>`,
    'all fields, in S3 order',
  );
  t.equal(
    errorXml({ code: 'AccessDenied', message: 'This endpoint accepts requests over HTTPS only.', requestId: 'R1' }),
    `${DECL}\n<Error><Code>AccessDenied</Code><Message>This endpoint accepts requests over HTTPS only.</Message><RequestId>R1</RequestId></Error>`,
    'no ArgumentName, no Resource when not given',
  );
  t.equal(
    errorXml({ code: 'A', message: 'm', requestId: 'r', argumentName: '', resource: '' }),
    `${DECL}\n<Error><Code>A</Code><Message>m</Message><RequestId>r</RequestId></Error>`,
    'empty ArgumentName/Resource are left out',
  );
  t.equal(
    errorXml({ code: 'C<&>', message: `a<b & c>d "q" 'a' &amp;`, requestId: 'r"1\'', resource: '/b/x<y>&z', argumentName: 'n&"' }),
    `${DECL}\n<Error><Code>C&lt;&amp;&gt;</Code><Message>a&lt;b &amp; c&gt;d &quot;q&quot; &apos;a&apos; &amp;amp;</Message><ArgumentName>n&amp;&quot;</ArgumentName><Resource>/b/x&lt;y&gt;&amp;z</Resource><RequestId>r&quot;1&apos;</RequestId></Error>`,
    'every field escaped (<, >, &, ", \')',
  );
  const withKey = errorXml({ code: 'InvalidURI', message: "Couldn't parse the specified URI.", requestId: 'r', resource: '/b/</Resource><Injected>x</Injected>' });
  t.notMatch(withKey, /<Injected>/, 'a key cannot inject elements');
  t.match(withKey, /<Message>Couldn&apos;t parse the specified URI\.<\/Message>/, "apostrophe in Couldn't escaped");
  const round = readErrorXml(errorXml({ code: 'SlowDown', message: 'Please reduce your request rate.', requestId: 'r' }));
  t.same(round, { code: 'SlowDown', message: 'Please reduce your request rate.' }, 'readErrorXml reads what errorXml writes');
});

t.test('readErrorXml', async (t) => {
  t.same(readErrorXml(rgwBody('NoSuchKey')), { code: 'NoSuchKey', message: '' }, 'RGW body: empty <Message></Message>');
  t.same(readErrorXml(rgwBody('NoSuchKey', '<Message/>')), { code: 'NoSuchKey', message: '' }, '<Message/>');
  t.same(readErrorXml(rgwBody('NoSuchKey', '')), { code: 'NoSuchKey', message: '' }, 'no Message element');
  t.same(readErrorXml(rgwBody('InvalidRequest', '<Message>   </Message>')), { code: 'InvalidRequest', message: '' }, 'blank Message is empty');
  t.same(readErrorXml(rgwBody('AccessDenied', '<Message> Access Denied </Message>')), { code: 'AccessDenied', message: 'Access Denied' }, 'message trimmed');
  t.same(readErrorXml('<Error><Message>x</Message></Error>'), { code: undefined, message: 'x' }, 'no Code');
  t.same(readErrorXml(''), { code: undefined, message: '' }, 'empty body');
  t.same(readErrorXml('<html><body>502 Bad Gateway</body></html>'), { code: undefined, message: '' }, 'non-XML body');
  t.same(readErrorXml('<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><Code>Other</Code></Error>'), { code: 'NoSuchBucket', message: 'The specified bucket does not exist' }, 'first Code wins');
});

t.test('fillMessage', async (t) => {
  const M = 'The specified key does not exist.';
  const expected = rgwBody('NoSuchKey', `<Message>${M}</Message>`);
  t.equal(fillMessage(rgwBody('NoSuchKey', '<Message/>'), M), expected, '<Message/>');
  t.equal(fillMessage(rgwBody('NoSuchKey', '<Message />'), M), expected, '<Message />');
  t.equal(fillMessage(rgwBody('NoSuchKey', '<Message></Message>'), M), expected, '<Message></Message>');
  t.equal(fillMessage(rgwBody('NoSuchKey', '<Message>\n  </Message>'), M), expected, 'whitespace-only Message');
  t.equal(fillMessage(rgwBody('NoSuchKey', ''), M), expected, 'missing Message is inserted right after Code');
  t.equal(fillMessage(rgwBody('InvalidRequest', ''), 'a <b> & "c"'), rgwBody('InvalidRequest', '<Message>a &lt;b&gt; &amp; &quot;c&quot;</Message>'), 'the filled message is escaped');
  // String.prototype.replace replacement patterns ($&, $1, $$) in the message must stay literal text
  t.equal(fillMessage(rgwBody('X', ''), 'costs $1 and $& more'), rgwBody('X', '<Message>costs $1 and $&amp; more</Message>'), '$ patterns in the message are literal');
  t.equal(fillMessage(rgwBody('X', '<Message/>'), 'costs $1 and $& more'), rgwBody('X', '<Message>costs $1 and $&amp; more</Message>'), '$ patterns literal (<Message/>)');
});

t.test('normalizeErrorBody with RGW bodies', async (t) => {
  const ctx = makeCtx({ operation: 'GetObject', method: 'GET' });
  const noSuchKey = rgwBody('NoSuchKey');
  t.same(normalizeErrorBody(noSuchKey, ctx), { body: rgwBody('NoSuchKey', '<Message>The specified key does not exist.</Message>'), filled: 'NoSuchKey' }, 'NoSuchKey: message filled, BucketName/RequestId/HostId kept');
  for (const code of ['AccessDenied', 'NoSuchBucket', 'SignatureDoesNotMatch', 'BucketNotEmpty', 'NoSuchUpload', 'InvalidPart', 'XAmzContentSHA256Mismatch', 'InvalidArgument']) {
    const put = makeCtx({ operation: 'PutObject' });
    t.same(normalizeErrorBody(rgwBody(code), put), { body: rgwBody(code, `<Message>${escapeXml(UPSTREAM_MESSAGES[code]!)}</Message>`), filled: code }, `${code}: filled from the standard S3 message`);
  }
  t.same(normalizeErrorBody(rgwBody('SignatureDoesNotMatch', '<Message/>'), ctx).body, rgwBody('SignatureDoesNotMatch', '<Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message>'), 'self-closing Message filled');
  t.same(normalizeErrorBody(rgwBody('XAmzContentSHA256Mismatch', ''), ctx).body, rgwBody('XAmzContentSHA256Mismatch', "<Message>The provided &apos;x-amz-content-sha256&apos; header does not match what was computed.</Message>"), 'missing Message inserted, apostrophe escaped');
  t.same(normalizeErrorBody(rgwBody('SomethingNew'), ctx), { body: rgwBody('SomethingNew', '<Message>SomethingNew</Message>'), filled: 'SomethingNew' }, 'unknown code: the code is the message');
  const hasMessage = rgwBody('NoSuchKey', '<Message>custom upstream text</Message>');
  t.same(normalizeErrorBody(hasMessage, ctx), { body: hasMessage }, 'an upstream message is kept as is, not marked filled');
  t.same(normalizeErrorBody('', ctx), { body: '' }, 'empty body untouched');
  t.same(normalizeErrorBody('<html>oops</html>', ctx), { body: '<html>oops</html>' }, 'non-S3 body untouched');
  t.same(normalizeErrorBody(`${DECL}<Error><Message></Message></Error>`, ctx), { body: `${DECL}<Error><Message></Message></Error>` }, 'body without Code untouched');
});

t.test('messageFor: context-specific messages', async (t) => {
  const keyA = CustomerKey.fromRaw(KEY_A.raw);
  const keyB = CustomerKey.fromRaw(KEY_B.raw);
  const withKeys = (operation: string, sseC?: CustomerKey, copySourceSseC?: CustomerKey) => {
    const c = makeCtx({ operation });
    if (sseC) c.sseC = sseC;
    if (copySourceSseC) c.copySourceSseC = copySourceSseC;
    return c;
  };
  // InvalidRequest: RGW's rgw_crypt_require_ssl refusal, when the request used SSE-C or was a read
  t.equal(messageFor('InvalidRequest', withKeys('PutObject', keyA)), SECURE_MSG, 'InvalidRequest on PutObject with SSE-C');
  t.equal(messageFor('InvalidRequest', withKeys('UploadPart', keyA)), SECURE_MSG, 'InvalidRequest on UploadPart with SSE-C');
  t.equal(messageFor('InvalidRequest', withKeys('CopyObject', undefined, keyB)), SECURE_MSG, 'InvalidRequest on CopyObject with copy-source SSE-C only');
  t.equal(messageFor('InvalidRequest', withKeys('GetObject')), SECURE_MSG, 'InvalidRequest on GetObject (SSE-C object read)');
  t.equal(messageFor('InvalidRequest', withKeys('HeadObject')), SECURE_MSG, 'InvalidRequest on HeadObject');
  t.equal(messageFor('InvalidRequest', withKeys('PutObject')), 'Invalid Request', 'InvalidRequest on PutObject without SSE-C: generic');
  t.equal(messageFor('InvalidRequest', withKeys('ListObjectsV2')), 'Invalid Request', 'InvalidRequest on ListObjectsV2: generic');
  // NotImplemented: RGW < 20 cannot copy an SSE-C source
  t.equal(messageFor('NotImplemented', withKeys('CopyObject', undefined, keyA)), COPY_MSG, 'NotImplemented on CopyObject with copy-source key');
  t.equal(messageFor('NotImplemented', withKeys('CopyObject', keyB, keyA)), COPY_MSG, 'NotImplemented on CopyObject re-keying');
  t.equal(messageFor('NotImplemented', withKeys('CopyObject', keyB)), 'A header you provided implies functionality that is not implemented.', 'NotImplemented on CopyObject with destination key only: generic');
  t.equal(messageFor('NotImplemented', withKeys('UploadPartCopy', undefined, keyA)), 'A header you provided implies functionality that is not implemented.', 'NotImplemented on UploadPartCopy: generic');
  t.equal(messageFor('NotImplemented', withKeys('PutObject', keyA)), 'A header you provided implies functionality that is not implemented.', 'NotImplemented on PutObject: generic');
  // others: the table
  t.equal(messageFor('NoSuchKey', withKeys('GetObject', keyA)), 'The specified key does not exist.', 'NoSuchKey');
  t.equal(messageFor('AccessDenied', withKeys('GetObject', keyA)), 'Access Denied', 'AccessDenied');
  t.equal(messageFor('Nope', withKeys('GetObject')), 'Nope', 'unknown code');
  // through normalizeErrorBody, with RGW's body
  t.same(normalizeErrorBody(rgwBody('InvalidRequest'), withKeys('PutObject', keyA)), { body: rgwBody('InvalidRequest', `<Message>${escapeXml(SECURE_MSG)}</Message>`), filled: 'InvalidRequest' }, 'RGW InvalidRequest on an SSE-C PutObject');
  t.same(normalizeErrorBody(rgwBody('NotImplemented', '<Message/>'), withKeys('CopyObject', undefined, keyA)), { body: rgwBody('NotImplemented', `<Message>${escapeXml(COPY_MSG)}</Message>`), filled: 'NotImplemented' }, 'RGW NotImplemented on an SSE-C CopyObject');
  const all = [SECURE_MSG, COPY_MSG].join('\n');
  t.notMatch(all, new RegExp(KEY_A.b64.slice(0, 16).replace(/[+/]/g, '\\$&')), 'messages carry no key');
});

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}
