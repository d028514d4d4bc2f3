// POST Object's SigV4 POST policy (src/sigv4/post-policy.ts): AWS's documented example and botocore's
// presigned POST as test vectors, S3's errors for each fault, and the gateway's own upstream policy.
import t, { type Test } from 'tap';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { deriveSigningKey } from '../../src/sigv4/signing-key.js';
import { parsePolicy, postSignature, signPostPolicy, verifyPostPolicy, type PostPolicyInput } from '../../src/sigv4/post-policy.js';
import type { FormField } from '../../src/s3/post-form.js';

const AK = 'AKIAIOSFODNN7EXAMPLE';
const SK = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const lookup = (ak: string) => (ak === AK ? { secretAccessKey: SK } : undefined);

// AWS "Example: Browser-Based Upload using HTTP POST (Using AWS Signature Version 4)": the policy (CRLF lines) and its signature
const AWS_POLICY = 'eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9';
const AWS_SIGNATURE = '8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e';
/** the example form's fields (names as the example spells them), `${filename}` already expanded for photo.jpg */
const awsFields = (over: Record<string, string> = {}): FormField[] => Object.entries({
  key: 'user/user1/photo.jpg', acl: 'public-read',
  success_action_redirect: 'http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html',
  'Content-Type': 'image/jpeg', 'x-amz-meta-uuid': '14365123651274', 'x-amz-server-side-encryption': 'AES256',
  'X-Amz-Credential': `${AK}/20151229/us-east-1/s3/aws4_request`, 'X-Amz-Algorithm': 'AWS4-HMAC-SHA256', 'X-Amz-Date': '20151229T000000Z',
  'x-amz-meta-tag': '', Policy: AWS_POLICY, 'X-Amz-Signature': AWS_SIGNATURE, ...over,
}).map(([name, value]) => ({ name, value }));
const input = (fields: FormField[], over: Partial<PostPolicyInput> = {}): PostPolicyInput => ({
  fields, bucket: 'sigv4examplebucket', lookup, now: new Date('2015-12-29T12:00:00Z'), ...over,
});

function expectError(t: Test, fn: () => unknown, code: string, message: string, label: string): void {
  try {
    fn();
    t.fail(`${label}: no error`);
  } catch (e) {
    t.ok(e instanceof GatewayError, `${label}: a GatewayError`);
    t.same({ code: (e as GatewayError).code, message: (e as GatewayError).message }, { code, message }, label);
  }
}

t.test('AWS\'s documented example: signature vector and a form that passes', async (t) => {
  t.equal(postSignature(deriveSigningKey(SK, '20151229', 'us-east-1', 's3'), AWS_POLICY), AWS_SIGNATURE, 'hex HMAC-SHA256 of the base64 policy = the documented signature');
  const v = verifyPostPolicy(input(awsFields()));
  t.equal(v.accessKeyId, AK, 'verified');
  t.same(v.expiration.toISOString(), '2015-12-30T12:00:00.000Z', 'expiration read');
  t.equal(v.contentLengthRange, undefined, 'no range');
  // field names are case-insensitive ("The post parameters are case insensitive")
  const lower = awsFields().map((f) => ({ name: f.name.toLowerCase(), value: f.value }));
  t.equal(verifyPostPolicy(input(lower)).accessKeyId, AK, 'lower-case field names pass too');
});

t.test('botocore generate_presigned_post vector', async (t) => {
  const policy = 'eyJleHBpcmF0aW9uIjogIjIwMTUtMTItMjlUMDE6MDA6MDBaIiwgImNvbmRpdGlvbnMiOiBbeyJidWNrZXQiOiAic2lndjRleGFtcGxlYnVja2V0In0sIHsia2V5IjogInVzZXIvdXNlcjEvcGhvdG8uanBnIn0sIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwgeyJ4LWFtei1jcmVkZW50aWFsIjogIkFLSUFJT1NGT0ROTjdFWEFNUExFLzIwMTUxMjI5L3VzLWVhc3QtMS9zMy9hd3M0X3JlcXVlc3QifSwgeyJ4LWFtei1kYXRlIjogIjIwMTUxMjI5VDAwMDAwMFoifV19';
  const fields: FormField[] = [
    { name: 'key', value: 'user/user1/photo.jpg' }, { name: 'x-amz-algorithm', value: 'AWS4-HMAC-SHA256' },
    { name: 'x-amz-credential', value: `${AK}/20151229/us-east-1/s3/aws4_request` }, { name: 'x-amz-date', value: '20151229T000000Z' },
    { name: 'policy', value: policy }, { name: 'x-amz-signature', value: '3364624b39010d9b06f5d9b8c9a18a6e478d261c048159c92f2fd6fa885f14e6' },
  ];
  t.equal(verifyPostPolicy(input(fields, { now: new Date('2015-12-29T00:30:00Z') })).accessKeyId, AK, 'botocore\'s presigned POST verifies');
  expectError(t, () => verifyPostPolicy(input(fields, { now: new Date('2015-12-29T01:00:01Z') })), 'AccessDenied', 'Invalid according to Policy: Policy expired.', 'one second after its expiration');
});

t.test('S3\'s errors for each fault, in S3\'s order', async (t) => {
  const drop = (name: string) => awsFields().filter((f) => f.name !== name);
  expectError(t, () => verifyPostPolicy(input(drop('X-Amz-Algorithm'))), 'InvalidArgument', "Bucket POST must contain a field named 'X-Amz-Algorithm'.  If it is specified, please check the order of the fields.", 'no algorithm');
  expectError(t, () => verifyPostPolicy(input(drop('X-Amz-Signature'))), 'InvalidArgument', "Bucket POST must contain a field named 'X-Amz-Signature'.  If it is specified, please check the order of the fields.", 'no signature');
  expectError(t, () => verifyPostPolicy(input(awsFields({ 'X-Amz-Credential': `${AK}/20151229/eu-west-1/s3/aws4_request` }), { region: 'us-east-1' })), 'InvalidArgument', "the region 'eu-west-1' is wrong; expecting 'us-east-1'", 'wrong region');
  expectError(t, () => verifyPostPolicy(input(awsFields({ 'X-Amz-Date': '2015-12-29' }))), 'InvalidArgument', 'X-Amz-Date must be formated via ISO8601 Long format', 'bad date');
  expectError(t, () => verifyPostPolicy(input(awsFields({ 'X-Amz-Credential': 'AKIAOTHER/20151229/us-east-1/s3/aws4_request' }))), 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', 'unknown key');
  expectError(t, () => verifyPostPolicy(input(awsFields({ 'X-Amz-Signature': AWS_SIGNATURE.replace('8a', '8b') }))), 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', 'bad signature');
  expectError(t, () => verifyPostPolicy(input(awsFields({ Policy: AWS_POLICY.slice(0, -4) }))), 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', 'truncated policy: the signature is checked first');
  expectError(t, () => verifyPostPolicy(input(awsFields(), { now: new Date('2015-12-30T12:00:01Z') })), 'AccessDenied', 'Invalid according to Policy: Policy expired.', 'expired');
  expectError(t, () => verifyPostPolicy(input(awsFields({ key: 'user/user2/photo.jpg' }))), 'AccessDenied', 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "user/user1/"]', 'key prefix');
  expectError(t, () => verifyPostPolicy(input(awsFields({ acl: 'private' }))), 'AccessDenied', 'Invalid according to Policy: Policy Condition failed: ["eq", "$acl", "public-read"]', 'simple condition printed as eq');
  expectError(t, () => verifyPostPolicy(input(awsFields(), { bucket: 'other' })), 'AccessDenied', 'Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "sigv4examplebucket"]', 'bucket of the URL');
  expectError(t, () => verifyPostPolicy(input(awsFields({ 'Content-Type': 'image/jpeg,text/plain' }))), 'AccessDenied', 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$Content-Type", "image/"]', 'a Content-Type list: each value must match');
  t.equal(verifyPostPolicy(input(awsFields({ 'Content-Type': 'image/jpeg,image/png' }))).accessKeyId, AK, 'a Content-Type list of images passes');
  expectError(t, () => verifyPostPolicy(input(awsFields().filter((f) => f.name !== 'x-amz-meta-tag'))), 'AccessDenied', 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$x-amz-meta-tag", ""]', 'absent field fails even starts-with ""');
  expectError(t, () => verifyPostPolicy(input([...awsFields(), { name: 'Filename', value: 'x' }])), 'AccessDenied', 'Invalid according to Policy: Extra input fields: Filename', 'uncovered field named as sent');
  t.equal(verifyPostPolicy(input([...awsFields(), { name: 'x-ignore-flash', value: 'x' }])).accessKeyId, AK, 'x-ignore-* is exempt');
  expectError(t, () => verifyPostPolicy(input([{ name: 'AWSAccessKeyId', value: AK }, { name: 'signature', value: 'x' }, { name: 'policy', value: AWS_POLICY }])), 'InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.', 'SigV2 form');
});

t.test('policy documents: InvalidPolicyDocument texts', async (t) => {
  const b64 = (o: unknown) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64');
  const exp = '2030-01-01T00:00:00Z';
  const cases: [string, string, string][] = [
    ['not base64', '!!!', 'Invalid Policy: invalid Base64 encoding.'],
    ['not JSON', b64('{"expiration": '), 'Invalid Policy: Invalid JSON.'],
    ['no expiration', b64({ conditions: [] }), 'Invalid Policy: Policy missing expiration.'],
    ['no conditions', b64({ expiration: exp }), 'Invalid Policy: Policy missing conditions.'],
    ['EXPIRATION', b64({ EXPIRATION: exp, conditions: [] }), "Invalid Policy: Unexpected: 'expiration'"],
    ['offset expiration', b64({ expiration: '2030-01-01T00:00:00+02:00', conditions: [] }), "Invalid Policy: Invalid 'expiration' value: '2030-01-01T00:00:00+02:00'"],
    ['conditions not a list', b64({ expiration: exp, conditions: {} }), "Invalid Policy: Invalid 'conditions' value: must be a List."],
    ['empty simple condition', b64({ expiration: exp, conditions: [{}] }), 'Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.'],
    ['number value', b64({ expiration: exp, conditions: [{ 'Content-Length': 6199034 }] }), 'Invalid Policy: Invalid Simple-Condition: value must be a string.'],
    ['unknown operation', b64({ expiration: exp, conditions: [['ends-with', '$key', 'x']] }), "Invalid Policy: Invalid Condition: unknown operation 'ends-with'."],
    ['two-item range', b64({ expiration: exp, conditions: [['content-length-range', 0]] }), 'Invalid Policy: Invalid content-length-range: wrong number of arguments.'],
    ['float bound', b64({ expiration: exp, conditions: [['content-length-range', 0, 512.5]] }), 'Invalid Policy: Invalid JSON.'],
    ['empty condition', b64({ expiration: exp, conditions: [[]] }), 'Invalid Policy: Invalid Condition: missing operation identifier.'],
  ];
  for (const [label, policy, message] of cases) expectError(t, () => parsePolicy(policy), 'InvalidPolicyDocument', message, label);
  const r = parsePolicy(b64({ expiration: exp, conditions: [['content-length-range', '5', 10], ['StArTs-WiTh', '$KeY', 'foo']] }));
  t.same(r.conditions.map((c) => c.op), ['content-length-range', 'starts-with'], 'operators case-insensitive, string bounds accepted');
});

t.test('the gateway\'s upstream policy verifies, covers exactly the fields it names, and keeps the key out', async (t) => {
  const now = new Date('2026-05-01T10:00:00Z');
  const fields: FormField[] = [{ name: 'key', value: 'a/b.txt' }, { name: 'Content-Type', value: 'text/plain' }, { name: 'x-amz-server-side-encryption-customer-key', value: 'SECRETKEYMATERIAL' }];
  const auth = signPostPolicy({
    bucket: 'bkt', conditions: [{ field: 'key', value: 'a/b.txt' }, { field: 'content-type', value: 'text/plain' }, { field: 'x-amz-server-side-encryption-customer-key', any: true }],
    range: { min: 1, max: 99 }, credentials: { accessKeyId: AK, secretAccessKey: SK, sessionToken: 'TOKEN' }, region: 'us-east-1', now, ttlMs: 900_000,
  });
  t.same(auth.map((f) => f.name), ['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-security-token', 'policy', 'x-amz-signature'], 'the SigV4 fields, security token included');
  const policy = Buffer.from(auth.find((f) => f.name === 'policy')!.value, 'base64').toString();
  t.notMatch(policy, /SECRETKEYMATERIAL/, 'the key is not in the policy document');
  t.match(policy, /"expiration":"2026-05-01T10:15:00.000Z"/, 'expires after the ttl');
  const v = verifyPostPolicy({ fields: [...fields, ...auth], bucket: 'bkt', lookup, now });
  t.same(v.contentLengthRange, { min: 1, max: 99 }, 'verifies with the same credential; the range travels');
});
