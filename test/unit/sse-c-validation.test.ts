// validate_sse_c stage: sse-c-reference.md Part A §3 rows 2, 3, 4, 5, 6, 7a, 7b, 11, 12 and the one
// fixed order of §7 rule 3 (first failure wins), for the SSE-C triplet and the copy-source triplet.
// Every failure is asserted exactly as an S3 client sees it: HTTP status, Code, Message, ArgumentName.
import t, { type Test } from 'tap';
import { createHash, createHmac } from 'node:crypto';
import { format, inspect } from 'node:util';
import { GatewayError } from '../../src/errors/gateway-error.js';
import type { ErrorName } from '../../src/errors/table.js';
import type { Headers } from '../../src/request/context.js';
import { validateSseC } from '../../src/pipeline/stages/validate-sse-c.js';
import { CustomerKey, parseTriplet } from '../../src/sse-c/customer-key.js';
import {
  KEY_A, KEY_B, KEY_GUIDE, assertNoKeyMaterial, expectGatewayError, keyOfLength, makeCtx, md5b64,
  type Expected, type KeyVector,
} from './fixtures.js';

// ---- the wire names, spelled out (not imported) so a renamed constant cannot hide a change ----
const DEST = {
  algorithm: 'x-amz-server-side-encryption-customer-algorithm',
  key: 'x-amz-server-side-encryption-customer-key',
  keyMd5: 'x-amz-server-side-encryption-customer-key-md5',
} as const;
const COPY = {
  algorithm: 'x-amz-copy-source-server-side-encryption-customer-algorithm',
  key: 'x-amz-copy-source-server-side-encryption-customer-key',
  keyMd5: 'x-amz-copy-source-server-side-encryption-customer-key-md5',
} as const;
type Names = typeof DEST | typeof COPY;
const SSE = 'x-amz-server-side-encryption';
const KMS_KEY_ID = 'x-amz-server-side-encryption-aws-kms-key-id';

// ---- the error table rows, as AWS words them (Part A §3, AWS column) ----
const P = 'Requests specifying Server Side Encryption with Customer provided keys must';
const ROW: Record<string, Omit<Expected, 'argumentName'> & { outcome: string }> = {
  SseCMissingAlgorithm: { error: 'SseCMissingAlgorithm', status: 400, code: 'InvalidArgument', message: `${P} provide a valid encryption algorithm.`, outcome: 'invalid_missing_algorithm' },
  SseCInvalidAlgorithm: { error: 'SseCInvalidAlgorithm', status: 400, code: 'InvalidEncryptionAlgorithmError', message: 'The Encryption request you specified is not valid. Supported value: AES256.', outcome: 'invalid_algorithm' },
  SseCMissingKey: { error: 'SseCMissingKey', status: 400, code: 'InvalidArgument', message: `${P} provide an appropriate secret key.`, outcome: 'invalid_missing_key' },
  SseCMissingKeyMd5: { error: 'SseCMissingKeyMd5', status: 400, code: 'InvalidArgument', message: `${P} provide the client calculated MD5 of the secret key.`, outcome: 'invalid_missing_key_md5' },
  SseCInvalidKey: { error: 'SseCInvalidKey', status: 400, code: 'InvalidArgument', message: 'The secret key was invalid for the specified algorithm.', outcome: 'invalid_key' },
  SseCKeyMd5Mismatch: { error: 'SseCKeyMd5Mismatch', status: 400, code: 'InvalidArgument', message: 'The calculated MD5 hash of the key did not match the hash that was provided.', outcome: 'invalid_key_md5_mismatch' },
  SseCIncompatible: { error: 'SseCIncompatible', status: 400, code: 'InvalidArgument', message: 'Server Side Encryption with Customer provided key is incompatible with the encryption method specified', outcome: 'conflict' },
  SseHeaderOnRead: { error: 'SseHeaderOnRead', status: 400, code: 'InvalidArgument', message: 'x-amz-server-side-encryption header is not supported for this operation.', outcome: 'invalid_sse_on_read' },
};

/** the triplet member whose header the error names */
type Member = 'algorithm' | 'key' | 'keyMd5';
const ARG_OF: Record<string, Member> = {
  SseCMissingAlgorithm: 'algorithm', SseCInvalidAlgorithm: 'algorithm', SseCMissingKey: 'key',
  SseCMissingKeyMd5: 'keyMd5', SseCInvalidKey: 'key', SseCKeyMd5Mismatch: 'keyMd5',
};

function expectedFor(error: ErrorName, names: Names): Expected {
  const r = ROW[error]!;
  return { error: r.error, status: r.status, code: r.code, message: r.message, argumentName: names[ARG_OF[error]!] };
}

/** A triplet as sent: undefined members are left out of the headers. */
interface Triplet { algorithm?: string | string[]; key?: string | string[]; keyMd5?: string | string[] }

function headersOf(names: Names, tr: Triplet, extra: Headers = {}): Headers {
  const h: Headers = { ...extra };
  if (tr.algorithm !== undefined) h[names.algorithm] = tr.algorithm;
  if (tr.key !== undefined) h[names.key] = tr.key;
  if (tr.keyMd5 !== undefined) h[names.keyMd5] = tr.keyMd5;
  return h;
}

const valid = (v: KeyVector): Triplet => ({ algorithm: 'AES256', key: v.b64, keyMd5: v.md5 });
const K16 = keyOfLength(16);
const K31 = keyOfLength(31);
const K33 = keyOfLength(33);
const A_NOPAD = KEY_A.b64.replace(/=+$/, '');
// 'Vs=' → 'Vt=': same 32 decoded bytes, but the last character's two padding bits are not zero (non-canonical)
const A_NONCANONICAL = KEY_A.b64.slice(0, -2) + 't=';

interface Case { name: string; row: string; tr: Triplet; error: ErrorName; raws: Buffer[] }

/** Part A §3 rows 2, 3, 4, 5, 6, 7a, 7b — each with otherwise-valid members unless the row says otherwise. */
const CASES: Case[] = [
  // row 2: algorithm ≠ AES256 (key + MD5 valid)
  { row: '2', name: 'algorithm AES128', tr: { ...valid(KEY_A), algorithm: 'AES128' }, error: 'SseCInvalidAlgorithm', raws: [KEY_A.raw] },
  { row: '2', name: 'algorithm lower-case aes256', tr: { ...valid(KEY_A), algorithm: 'aes256' }, error: 'SseCInvalidAlgorithm', raws: [KEY_A.raw] },
  { row: '2', name: 'algorithm AES-256', tr: { ...valid(KEY_A), algorithm: 'AES-256' }, error: 'SseCInvalidAlgorithm', raws: [KEY_A.raw] },
  { row: '2', name: 'algorithm aws:kms', tr: { ...valid(KEY_B), algorithm: 'aws:kms' }, error: 'SseCInvalidAlgorithm', raws: [KEY_B.raw] },
  { row: '2', name: 'algorithm sent twice (array value)', tr: { ...valid(KEY_A), algorithm: ['AES256', 'AES256'] }, error: 'SseCInvalidAlgorithm', raws: [KEY_A.raw] },
  // row 3: key not valid (strict) base64
  { row: '3', name: 'key of non-base64 characters', tr: { algorithm: 'AES256', key: '!'.repeat(43) + '=', keyMd5: KEY_A.md5 }, error: 'SseCInvalidKey', raws: [] },
  { row: '3', name: 'key in base64url alphabet', tr: { algorithm: 'AES256', key: KEY_A.raw.toString('base64url'), keyMd5: KEY_A.md5 }, error: 'SseCInvalidKey', raws: [KEY_A.raw] },
  { row: '3', name: 'key base64 without padding', tr: { algorithm: 'AES256', key: A_NOPAD, keyMd5: KEY_A.md5 }, error: 'SseCInvalidKey', raws: [KEY_A.raw] },
  { row: '3', name: 'key base64 non-canonical last character', tr: { algorithm: 'AES256', key: A_NONCANONICAL, keyMd5: KEY_A.md5 }, error: 'SseCInvalidKey', raws: [KEY_A.raw] },
  { row: '3', name: 'key with an embedded space', tr: { algorithm: 'AES256', key: KEY_A.b64.slice(0, 20) + ' ' + KEY_A.b64.slice(20), keyMd5: KEY_A.md5 }, error: 'SseCInvalidKey', raws: [KEY_A.raw] },
  { row: '3', name: 'key as hex', tr: { algorithm: 'AES256', key: KEY_A.raw.toString('hex'), keyMd5: KEY_A.md5 }, error: 'SseCInvalidKey', raws: [KEY_A.raw] },
  { row: '3', name: 'user-guide passphrase sent raw instead of base64', tr: { algorithm: 'AES256', key: KEY_GUIDE.raw.toString('latin1'), keyMd5: KEY_GUIDE.md5 }, error: 'SseCInvalidKey', raws: [KEY_GUIDE.raw] },
  { row: '3', name: 'key sent twice (array value)', tr: { ...valid(KEY_A), key: [KEY_A.b64, KEY_A.b64] }, error: 'SseCInvalidKey', raws: [KEY_A.raw] },
  { row: '3', name: 'key "===="', tr: { algorithm: 'AES256', key: '====', keyMd5: KEY_A.md5 }, error: 'SseCInvalidKey', raws: [] },
  // row 4: key decodes to ≠ 32 bytes, MD5 consistent
  { row: '4', name: '16-byte key, consistent MD5', tr: valid(K16), error: 'SseCInvalidKey', raws: [K16.raw] },
  { row: '4', name: '31-byte key, consistent MD5', tr: valid(K31), error: 'SseCInvalidKey', raws: [K31.raw] },
  { row: '4', name: '33-byte key, consistent MD5', tr: valid(K33), error: 'SseCInvalidKey', raws: [K33.raw] },
  // row 5: MD5 missing (algorithm + key present)
  { row: '5', name: 'MD5 header absent', tr: { algorithm: 'AES256', key: KEY_A.b64 }, error: 'SseCMissingKeyMd5', raws: [KEY_A.raw] },
  { row: '5', name: 'MD5 header empty', tr: { algorithm: 'AES256', key: KEY_A.b64, keyMd5: '' }, error: 'SseCMissingKeyMd5', raws: [KEY_A.raw] },
  { row: '5', name: 'MD5 header blank', tr: { algorithm: 'AES256', key: KEY_B.b64, keyMd5: '   ' }, error: 'SseCMissingKeyMd5', raws: [KEY_B.raw] },
  // row 6: MD5 does not match the key
  { row: '6', name: 'key A with key B\'s MD5', tr: { algorithm: 'AES256', key: KEY_A.b64, keyMd5: KEY_B.md5 }, error: 'SseCKeyMd5Mismatch', raws: [KEY_A.raw] },
  { row: '6', name: 'key B with key A\'s MD5', tr: { algorithm: 'AES256', key: KEY_B.b64, keyMd5: KEY_A.md5 }, error: 'SseCKeyMd5Mismatch', raws: [KEY_B.raw] },
  { row: '6', name: 'MD5 of the base64 text instead of the raw key', tr: { algorithm: 'AES256', key: KEY_A.b64, keyMd5: md5b64(Buffer.from(KEY_A.b64)) }, error: 'SseCKeyMd5Mismatch', raws: [KEY_A.raw] },
  { row: '6', name: 'MD5 as hex', tr: { algorithm: 'AES256', key: KEY_A.b64, keyMd5: createHash('md5').update(KEY_A.raw).digest('hex') }, error: 'SseCKeyMd5Mismatch', raws: [KEY_A.raw] },
  { row: '6', name: 'MD5 without padding', tr: { algorithm: 'AES256', key: KEY_A.b64, keyMd5: KEY_A.md5.replace(/=+$/, '') }, error: 'SseCKeyMd5Mismatch', raws: [KEY_A.raw] },
  { row: '6', name: 'MD5 garbage', tr: { algorithm: 'AES256', key: KEY_A.b64, keyMd5: 'not-an-md5' }, error: 'SseCKeyMd5Mismatch', raws: [KEY_A.raw] },
  { row: '6', name: 'SHA-256 instead of MD5', tr: { algorithm: 'AES256', key: KEY_A.b64, keyMd5: createHash('sha256').update(KEY_A.raw).digest('base64') }, error: 'SseCKeyMd5Mismatch', raws: [KEY_A.raw] },
  { row: '6', name: 'MD5 sent twice (array value)', tr: { ...valid(KEY_A), keyMd5: [KEY_A.md5, KEY_A.md5] }, error: 'SseCKeyMd5Mismatch', raws: [KEY_A.raw] },
  // row 7a: only the algorithm
  { row: '7a', name: 'algorithm only', tr: { algorithm: 'AES256' }, error: 'SseCMissingKey', raws: [] },
  { row: '7a', name: 'algorithm and MD5, no key', tr: { algorithm: 'AES256', keyMd5: KEY_A.md5 }, error: 'SseCMissingKey', raws: [] },
  { row: '7a', name: 'algorithm and empty key', tr: { algorithm: 'AES256', key: '', keyMd5: KEY_A.md5 }, error: 'SseCMissingKey', raws: [] },
  // row 7b: key and/or MD5 without the algorithm
  { row: '7b', name: 'key and MD5, no algorithm', tr: { key: KEY_A.b64, keyMd5: KEY_A.md5 }, error: 'SseCMissingAlgorithm', raws: [KEY_A.raw] },
  { row: '7b', name: 'key only', tr: { key: KEY_B.b64 }, error: 'SseCMissingAlgorithm', raws: [KEY_B.raw] },
  { row: '7b', name: 'MD5 only', tr: { keyMd5: KEY_A.md5 }, error: 'SseCMissingAlgorithm', raws: [] },
  { row: '7b', name: 'empty algorithm with valid key and MD5', tr: { ...valid(KEY_A), algorithm: '' }, error: 'SseCMissingAlgorithm', raws: [KEY_A.raw] },
];

/**
 * §7 rule 3 order: algorithm present → algorithm AES256 → key present → MD5 present → key strict base64 of
 * 32 bytes → MD5 matches. Each case breaks two (or more) adjacent checks; the earlier one must win.
 */
const ORDER: Case[] = [
  { row: 'order', name: 'missing algorithm AND missing MD5 → missing algorithm', tr: { key: KEY_A.b64 }, error: 'SseCMissingAlgorithm', raws: [KEY_A.raw] },
  { row: 'order', name: 'missing algorithm AND malformed key → missing algorithm', tr: { key: 'not base64 at all', keyMd5: KEY_A.md5 }, error: 'SseCMissingAlgorithm', raws: [] },
  { row: 'order', name: 'missing algorithm AND MD5 mismatch → missing algorithm', tr: { key: KEY_A.b64, keyMd5: KEY_B.md5 }, error: 'SseCMissingAlgorithm', raws: [KEY_A.raw] },
  { row: 'order', name: 'bad algorithm AND missing key → algorithm error', tr: { algorithm: 'AES128' }, error: 'SseCInvalidAlgorithm', raws: [] },
  { row: 'order', name: 'bad algorithm AND missing key AND missing MD5 (lower-case aes256) → algorithm error', tr: { algorithm: 'aes256' }, error: 'SseCInvalidAlgorithm', raws: [] },
  { row: 'order', name: 'bad algorithm AND malformed key AND MD5 mismatch → algorithm error', tr: { algorithm: 'AES192', key: K16.b64, keyMd5: KEY_B.md5 }, error: 'SseCInvalidAlgorithm', raws: [K16.raw] },
  { row: 'order', name: 'missing key AND missing MD5 → missing key', tr: { algorithm: 'AES256', key: '' }, error: 'SseCMissingKey', raws: [] },
  { row: 'order', name: 'missing key AND malformed MD5 → missing key', tr: { algorithm: 'AES256', keyMd5: 'garbage' }, error: 'SseCMissingKey', raws: [] },
  { row: 'order', name: 'missing MD5 AND malformed key → MD5-missing error', tr: { algorithm: 'AES256', key: '%%%not-base64%%%' }, error: 'SseCMissingKeyMd5', raws: [] },
  { row: 'order', name: 'missing MD5 AND 16-byte key → MD5-missing error', tr: { algorithm: 'AES256', key: K16.b64 }, error: 'SseCMissingKeyMd5', raws: [K16.raw] },
  { row: 'order', name: '33-byte key AND MD5 mismatch → key error', tr: { algorithm: 'AES256', key: K33.b64, keyMd5: KEY_A.md5 }, error: 'SseCInvalidKey', raws: [K33.raw] },
  { row: 'order', name: 'unpadded key AND malformed MD5 → key error', tr: { algorithm: 'AES256', key: A_NOPAD, keyMd5: 'zz' }, error: 'SseCInvalidKey', raws: [KEY_A.raw] },
];

/** Operations that take the SSE-C triplet (Part A §2), and those that take the copy-source triplet. */
const TRIPLET_OPS = ['PutObject', 'PostObject', 'GetObject', 'HeadObject', 'GetObjectAttributes', 'SelectObjectContent', 'CreateMultipartUpload', 'UploadPart', 'UploadPartCopy', 'CompleteMultipartUpload', 'ListParts', 'CopyObject'];
const COPY_OPS = ['CopyObject', 'UploadPartCopy'];
const TRIPLETS = [
  { label: 'SSE-C triplet', names: DEST as Names, ops: TRIPLET_OPS },
  { label: 'copy-source triplet', names: COPY as Names, ops: COPY_OPS },
];

const stage = validateSseC();

function runFailure(t: Test, operation: string, headers: Headers, exp: Expected, outcome: string, label: string): GatewayError | undefined {
  const ctx = makeCtx({ operation, headers });
  const err = expectGatewayError(t, () => stage.run(ctx), exp, label);
  t.equal(ctx.sseCOutcome, outcome, `${label}: sseCOutcome=${outcome}`);
  return err;
}

t.test('stage identity', async (t) => {
  t.equal(stage.name, 'validate_sse_c');
});

for (const { label, names, ops } of TRIPLETS) {
  t.test(`${label}: Part A §3 failure rows`, async (t) => {
    for (const op of ops) {
      t.test(op, async (t) => {
        for (const c of CASES) {
          const exp = expectedFor(c.error, names);
          const ctx = makeCtx({ operation: op, headers: headersOf(names, c.tr) });
          expectGatewayError(t, () => stage.run(ctx), exp, `row ${c.row}: ${c.name}`);
          t.equal(ctx.sseCOutcome, ROW[c.error]!.outcome, `row ${c.row}: ${c.name}: sseCOutcome`);
          t.equal(ctx.sseC, undefined, `row ${c.row}: ${c.name}: no destination key on ctx`);
          t.equal(ctx.copySourceSseC, undefined, `row ${c.row}: ${c.name}: no copy-source key on ctx`);
        }
      });
    }
  });

  t.test(`${label}: fixed order, first failure wins`, async (t) => {
    for (const op of ops) {
      for (const c of ORDER) runFailure(t, op, headersOf(names, c.tr), expectedFor(c.error, names), ROW[c.error]!.outcome, `${op}: ${c.name}`);
    }
  });

  t.test(`${label}: valid keys are accepted`, async (t) => {
    for (const op of ops) {
      for (const v of [KEY_A, KEY_B, KEY_GUIDE]) {
        const ctx = makeCtx({ operation: op, headers: headersOf(names, valid(v)) });
        await stage.run(ctx);
        const k = names === DEST ? ctx.sseC : ctx.copySourceSseC;
        const other = names === DEST ? ctx.copySourceSseC : ctx.sseC;
        t.ok(k instanceof CustomerKey, `${op} ${v.name}: CustomerKey on ctx`);
        t.equal(other, undefined, `${op} ${v.name}: only the ${label} key is set`);
        t.equal(k?.keyMd5, v.md5, `${op} ${v.name}: keyMd5`);
        t.same(k?.headers(), { 'x-amz-server-side-encryption-customer-algorithm': 'AES256', 'x-amz-server-side-encryption-customer-key': v.b64, 'x-amz-server-side-encryption-customer-key-md5': v.md5 }, `${op} ${v.name}: forwarded header values`);
        t.ok(k?.equals(CustomerKey.fromRaw(v.raw)), `${op} ${v.name}: same key as fromRaw`);
        t.equal(ctx.sseCOutcome, 'ok', `${op} ${v.name}: sseCOutcome=ok`);
      }
    }
  });
}

t.test('user-guide key vector', async (t) => {
  t.equal(KEY_GUIDE.b64, 'MzJieXRlc09mVG90YWxseVJhbmRvbUNoYXJhY3RlcnM=', 'base64 of 32bytesOfTotallyRandomCharacters');
  t.equal(KEY_GUIDE.raw.length, 32);
  t.equal(KEY_GUIDE.md5, createHash('md5').update('32bytesOfTotallyRandomCharacters').digest('base64'));
});

t.test('no SSE-C headers: nothing set, nothing thrown', async (t) => {
  for (const op of [...TRIPLET_OPS, 'DeleteObject', 'ListObjectsV2']) {
    const ctx = makeCtx({ operation: op, headers: { host: 'x', 'content-length': '3' } });
    await stage.run(ctx);
    t.same([ctx.sseC, ctx.copySourceSseC, ctx.sseCOutcome], [undefined, undefined, undefined], `${op}: no key, no outcome`);
  }
});

t.test('both triplets on CopyObject / UploadPartCopy', async (t) => {
  for (const op of COPY_OPS) {
    const ok = makeCtx({ operation: op, headers: { ...headersOf(DEST, valid(KEY_B)), ...headersOf(COPY, valid(KEY_A)) } });
    await stage.run(ok);
    t.equal(ok.sseC?.keyMd5, KEY_B.md5, `${op}: destination key B`);
    t.equal(ok.copySourceSseC?.keyMd5, KEY_A.md5, `${op}: copy-source key A`);
    t.notOk(ok.sseC!.equals(ok.copySourceSseC!), `${op}: the two keys differ`);
    t.equal(ok.sseCOutcome, 'ok', `${op}: outcome ok`);

    // rotation with the same key on both sides (re-key to itself) is valid header-wise
    const same = makeCtx({ operation: op, headers: { ...headersOf(DEST, valid(KEY_A)), ...headersOf(COPY, valid(KEY_A)) } });
    await stage.run(same);
    t.ok(same.sseC!.equals(same.copySourceSseC!), `${op}: same key both sides`);

    // the destination triplet is checked first
    runFailure(t, op, { ...headersOf(DEST, { algorithm: 'AES256' }), ...headersOf(COPY, { key: KEY_A.b64 }) }, expectedFor('SseCMissingKey', DEST), ROW.SseCMissingKey!.outcome, `${op}: both invalid → destination error`);
    runFailure(t, op, { ...headersOf(DEST, { ...valid(KEY_B), keyMd5: KEY_A.md5 }), ...headersOf(COPY, { algorithm: 'AES128' }) }, expectedFor('SseCKeyMd5Mismatch', DEST), ROW.SseCKeyMd5Mismatch!.outcome, `${op}: destination MD5 mismatch beats copy-source bad algorithm`);
    // valid destination, invalid copy-source → the copy-source error, naming the copy-source header
    runFailure(t, op, { ...headersOf(DEST, valid(KEY_B)), ...headersOf(COPY, { ...valid(KEY_A), keyMd5: KEY_B.md5 }) }, expectedFor('SseCKeyMd5Mismatch', COPY), ROW.SseCKeyMd5Mismatch!.outcome, `${op}: copy-source MD5 mismatch`);
    runFailure(t, op, { ...headersOf(DEST, valid(KEY_B)), ...headersOf(COPY, { algorithm: 'AES256', key: KEY_A.b64 }) }, expectedFor('SseCMissingKeyMd5', COPY), ROW.SseCMissingKeyMd5!.outcome, `${op}: copy-source MD5 missing`);
  }
  // copy-source errors come before the conflict check (row 11)
  runFailure(t, 'CopyObject', { ...headersOf(DEST, valid(KEY_B)), ...headersOf(COPY, { key: KEY_A.b64, keyMd5: KEY_A.md5 }), [SSE]: 'AES256' }, expectedFor('SseCMissingAlgorithm', COPY), ROW.SseCMissingAlgorithm!.outcome, 'CopyObject: copy-source missing algorithm beats SSE conflict');
  // destination error comes before the conflict check too (MD5 mismatch AND conflict → mismatch)
  for (const op of ['PutObject', 'CreateMultipartUpload', 'CopyObject']) {
    runFailure(t, op, { ...headersOf(DEST, { ...valid(KEY_A), keyMd5: KEY_B.md5 }), [SSE]: 'AES256' }, expectedFor('SseCKeyMd5Mismatch', DEST), ROW.SseCKeyMd5Mismatch!.outcome, `${op}: MD5 mismatch AND SSE conflict → mismatch`);
  }
});

t.test('headers are only checked for operations that take them', async (t) => {
  const garbage: Headers = {
    [DEST.algorithm]: 'AES128', [DEST.key]: 'not-a-key', [DEST.keyMd5]: 'zz',
    [COPY.algorithm]: 'rot13', [COPY.key]: '!!!', [COPY.keyMd5]: '',
    [SSE]: 'AES256', [KMS_KEY_ID]: 'arn:aws:kms:us-east-1:1:key/x',
  };
  for (const op of ['DeleteObject', 'DeleteObjects', 'ListObjects', 'ListObjectsV2', 'ListBuckets', 'CreateBucket', 'HeadBucket', 'DeleteBucket',
    'AbortMultipartUpload', 'ListMultipartUploads', 'PutObjectTagging', 'GetObjectTagging', 'GetObjectAcl', 'PutObjectAcl', 'GetBucketVersioning', 'RestoreObject', 'Unknown']) {
    const ctx = makeCtx({ operation: op, headers: { ...garbage } });
    await stage.run(ctx);
    t.same([ctx.sseC, ctx.copySourceSseC, ctx.sseCOutcome], [undefined, undefined, undefined], `${op}: garbage SSE-C headers pass validation untouched`);
  }
  // copy-source headers on operations that take only the destination triplet are ignored
  for (const op of ['PutObject', 'GetObject', 'HeadObject', 'UploadPart', 'CreateMultipartUpload', 'CompleteMultipartUpload']) {
    const ctx = makeCtx({ operation: op, headers: headersOf(COPY, { algorithm: 'AES128', key: 'garbage' }) });
    await stage.run(ctx);
    t.same([ctx.sseC, ctx.copySourceSseC, ctx.sseCOutcome], [undefined, undefined, undefined], `${op}: garbage copy-source headers ignored`);
    const ok = makeCtx({ operation: op, headers: { ...headersOf(DEST, valid(KEY_A)), ...headersOf(COPY, valid(KEY_B)) } });
    await stage.run(ok);
    t.equal(ok.copySourceSseC, undefined, `${op}: valid copy-source triplet not parsed`);
    t.equal(ok.sseC?.keyMd5, KEY_A.md5, `${op}: destination key parsed`);
  }
});

t.test('row 11: SSE-C + x-amz-server-side-encryption on a write', async (t) => {
  const exp: Expected = { ...ROW.SseCIncompatible!, argumentName: SSE };
  for (const op of ['PutObject', 'CopyObject', 'CreateMultipartUpload']) {
    for (const [h, v] of [[SSE, 'AES256'], [SSE, 'aws:kms'], [SSE, 'aws:kms:dsse'], [KMS_KEY_ID, 'arn:aws:kms:us-east-1:111122223333:key/abc']] as const) {
      runFailure(t, op, { ...headersOf(DEST, valid(KEY_A)), [h]: v }, exp, 'conflict', `${op}: SSE-C + ${h}: ${v}`);
    }
    // without SSE-C the same header is fine (ordinary SSE-S3 / SSE-KMS write)
    const plain = makeCtx({ operation: op, headers: { [SSE]: 'AES256' } });
    await stage.run(plain);
    t.equal(plain.sseCOutcome, undefined, `${op}: x-amz-server-side-encryption alone passes`);
  }
  // not a write that sets the encryption: UploadPart / UploadPartCopy / CompleteMultipartUpload
  for (const op of ['UploadPart', 'UploadPartCopy', 'CompleteMultipartUpload', 'ListParts']) {
    const ctx = makeCtx({ operation: op, headers: { ...headersOf(DEST, valid(KEY_A)), [SSE]: 'AES256' } });
    await stage.run(ctx);
    t.equal(ctx.sseC?.keyMd5, KEY_A.md5, `${op}: SSE-C + ${SSE} accepted`);
    t.equal(ctx.sseCOutcome, 'ok', `${op}: outcome ok`);
  }
  // SSE-C source → SSE-S3 destination: copy-source triplet + x-amz-server-side-encryption is a plain copy variant (§6)
  const ctx = makeCtx({ operation: 'CopyObject', headers: { ...headersOf(COPY, valid(KEY_A)), [SSE]: 'AES256' } });
  await stage.run(ctx);
  t.equal(ctx.copySourceSseC?.keyMd5, KEY_A.md5, 'CopyObject: SSE-C source to SSE-S3 destination accepted');
  t.equal(ctx.sseCOutcome, 'ok');
});

t.test('row 12: x-amz-server-side-encryption on GET/HEAD', async (t) => {
  const exp: Expected = { ...ROW.SseHeaderOnRead!, argumentName: SSE };
  for (const op of ['GetObject', 'HeadObject']) {
    runFailure(t, op, { [SSE]: 'AES256' }, exp, 'invalid_sse_on_read', `${op}: ${SSE}: AES256`);
    runFailure(t, op, { [SSE]: 'aws:kms' }, exp, 'invalid_sse_on_read', `${op}: ${SSE}: aws:kms`);
    runFailure(t, op, { [KMS_KEY_ID]: 'arn:aws:kms:us-east-1:1:key/x' }, exp, 'invalid_sse_on_read', `${op}: KMS key id`);
    runFailure(t, op, { ...headersOf(DEST, valid(KEY_A)), [SSE]: 'AES256' }, exp, 'invalid_sse_on_read', `${op}: valid SSE-C + ${SSE}`);
    // an invalid triplet is reported before the SSE header
    runFailure(t, op, { ...headersOf(DEST, { algorithm: 'AES256' }), [SSE]: 'AES256' }, expectedFor('SseCMissingKey', DEST), 'invalid_missing_key', `${op}: missing key beats ${SSE}`);
  }
  for (const op of ['PutObject', 'ListParts', 'DeleteObject']) {
    const ctx = makeCtx({ operation: op, headers: { [SSE]: 'AES256' } });
    await stage.run(ctx);
    t.equal(ctx.sseCOutcome, undefined, `${op}: ${SSE} is not a read error`);
  }
});

t.test('CustomerKey never reveals the key', async (t) => {
  const secret = Buffer.from('unit-test-fingerprint-secret');
  for (const v of [KEY_A, KEY_B, KEY_GUIDE]) {
    const parsed = parseTriplet(headersOf(DEST, valid(v)), DEST)!;
    const fromRaw = CustomerKey.fromRaw(v.raw);
    for (const [how, k] of [['parsed', parsed], ['fromRaw', fromRaw]] as const) {
      const label = `${v.name} (${how})`;
      const shown = `CustomerKey(md5=${v.md5})`;
      t.equal(JSON.stringify(k), JSON.stringify(shown), `${label}: JSON.stringify`);
      t.equal(String(k), shown, `${label}: String()`);
      t.equal(`${k}`, shown, `${label}: template literal`);
      t.equal(inspect(k), shown, `${label}: util.inspect`);
      t.same(Object.keys(k), ['keyMd5'], `${label}: Object.keys`);
      t.same(Reflect.ownKeys(k), ['keyMd5'], `${label}: Reflect.ownKeys`);
      t.same(Object.entries(k), [['keyMd5', v.md5]], `${label}: Object.entries`);
      const dumps = [
        JSON.stringify(k), String(k), inspect(k), inspect(k, { showHidden: true, depth: Infinity, customInspect: false, getters: true }),
        format('%s %o %O %j', k, k, k, k), JSON.stringify(structuredClone(k)), JSON.stringify({ ...k }),
        JSON.stringify({ ...makeCtx({ headers: {} }), startedAt: 0, sseC: k, copySourceSseC: k }),
        inspect({ ctx: { sseC: k, copySourceSseC: k } }, { depth: Infinity, showHidden: true }),
        k.fingerprint(secret),
      ];
      assertNoKeyMaterial(t, dumps.join('\n'), [v.raw], `${label}: every rendering`);
      t.equal(k.fingerprint(secret), createHmac('sha256', secret).update(v.raw).digest('hex'), `${label}: fingerprint is HMAC-SHA256(secret, raw key)`);
      t.not(k.fingerprint(secret), createHash('sha256').update(v.raw).digest('hex'), `${label}: fingerprint is not a plain hash`);
    }
  }
  // fromRaw keeps its own copy: wiping the caller's buffer does not change the key
  const buf = Buffer.from(KEY_A.raw);
  const k = CustomerKey.fromRaw(buf);
  const before = k.fingerprint(secret);
  buf.fill(0);
  t.equal(k.fingerprint(secret), before, 'fromRaw copies the raw bytes');
  t.equal(k.headers()['x-amz-server-side-encryption-customer-key'], KEY_A.b64, 'fromRaw copy still forwards key A');
  for (const n of [0, 16, 31, 33]) {
    expectGatewayError(t, () => CustomerKey.fromRaw(Buffer.alloc(n, 7)), { ...ROW.SseCInvalidKey!, argumentName: undefined }, `fromRaw(${n} bytes)`);
  }
});

t.test('thrown errors carry no key material', async (t) => {
  for (const names of [DEST, COPY] as Names[]) {
    for (const c of [...CASES, ...ORDER]) {
      let err: unknown;
      try { parseTriplet(headersOf(names, c.tr), names); } catch (e) { err = e; }
      t.ok(err instanceof GatewayError, `${c.name}: GatewayError`);
      const e = err as GatewayError;
      const text = [e.message, e.stack ?? '', JSON.stringify(e), inspect(e, { depth: Infinity, showHidden: true }), String(e.argumentName)].join('\n');
      // the key header value itself, however malformed (the key-MD5 is no secret: S3 echoes it)
      const literals = [c.tr.key].flat().filter((x): x is string => typeof x === 'string' && x.trim().length >= 8);
      assertNoKeyMaterial(t, text, c.raws, `${names === COPY ? 'copy-source' : 'triplet'} ${c.name}`, literals);
    }
  }
});

