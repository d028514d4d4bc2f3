// refuse_plaintext stage (sse-c-reference.md Part A §3 row 1, §7 rule 2): on the plaintext listener any
// SSE-C / copy-source SSE-C header — by presence, even malformed — is refused and the key reported as
// exposed (fingerprinted, never carried); browser-form POST Object is left to post_object; `refuse` mode closes it all.
import t, { type Test } from 'tap';
import { createHmac } from 'node:crypto';
import { inspect } from 'node:util';
import { KeyEvents, type KeyExposure } from '../../src/events/key-events.js';
import type { Headers } from '../../src/request/context.js';
import { refusePlaintext } from '../../src/pipeline/stages/refuse-plaintext.js';
import { CustomerKey, parseTriplet } from '../../src/sse-c/customer-key.js';
import { SSEC } from '../../src/s3/headers.js';
import { KEY_A, KEY_B, KEY_GUIDE, assertNoKeyMaterial, expectGatewayError, keyOfLength, makeCtx, type Expected } from './fixtures.js';

const SECRET = Buffer.from('plaintext-unit-test-secret');

const H = {
  algorithm: 'x-amz-server-side-encryption-customer-algorithm',
  key: 'x-amz-server-side-encryption-customer-key',
  keyMd5: 'x-amz-server-side-encryption-customer-key-md5',
  copyAlgorithm: 'x-amz-copy-source-server-side-encryption-customer-algorithm',
  copyKey: 'x-amz-copy-source-server-side-encryption-customer-key',
  copyKeyMd5: 'x-amz-copy-source-server-side-encryption-customer-key-md5',
} as const;
const ALL_SIX = Object.values(H);

const PLAINTEXT_SSEC: Expected = {
  error: 'PlaintextSseC', status: 400, code: 'InvalidRequest',
  message: 'Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.',
};
const CLOSED: Expected = { error: 'PlaintextClosed', status: 403, code: 'AccessDenied', message: 'This endpoint accepts requests over HTTPS only.' };

function setup(mode: 'forward' | 'refuse') {
  const events = new KeyEvents(SECRET);
  const seen: KeyExposure[] = [];
  events.on('exposed', (e) => seen.push(e));
  return { stage: refusePlaintext(mode, events), seen };
}

const fp = (raw: Buffer) => createHmac('sha256', SECRET).update(raw).digest('hex');

/** what every exposure event must look like, besides its fingerprint */
function checkEvent(t: Test, e: KeyExposure | undefined, header: string, label: string, ctx = { id: 'REQ0000000000001', remoteAddress: '192.0.2.10' }): void {
  t.ok(e, `${label}: event emitted`);
  if (!e) return;
  t.same(Object.keys(e).sort(), ['at', 'client', 'fingerprint', 'header', 'listener', 'requestId'], `${label}: event fields`);
  t.match(e, { header, client: ctx.remoteAddress, listener: 'http', requestId: ctx.id }, `${label}: header, client, listener, requestId`);
  t.ok(e.at instanceof Date && !Number.isNaN(e.at.getTime()), `${label}: at is a Date`);
  t.match(e.fingerprint, /^[0-9a-f]{64}$/, `${label}: fingerprint is 64 hex digits`);
}

t.test('stage identity', async (t) => {
  t.equal(setup('forward').stage.name, 'refuse_plaintext');
});

t.test('each of the six SSE-C header names alone is refused on http', async (t) => {
  const values: Record<string, string[]> = {
    [H.algorithm]: ['AES256', 'AES128', 'garbage'],
    [H.copyAlgorithm]: ['AES256', 'aes256'],
    [H.keyMd5]: [KEY_A.md5, 'zz'],
    [H.copyKeyMd5]: [KEY_B.md5, 'not base64'],
    [H.key]: [KEY_A.b64, 'short', '!!not-base64!!'],
    [H.copyKey]: [KEY_B.b64, 'x'],
  };
  for (const mode of ['forward', 'refuse'] as const) {
    for (const name of ALL_SIX) {
      for (const v of values[name]!) {
        const { stage, seen } = setup(mode);
        const ctx = makeCtx({ listener: 'http', operation: 'PutObject', headers: { host: 'gw', [name]: v } });
        expectGatewayError(t, () => stage.run(ctx), PLAINTEXT_SSEC, `${mode}: ${name}: ${JSON.stringify(v.slice(0, 6))}…`);
        t.equal(ctx.sseCOutcome, 'rejected_plaintext', `${mode}: ${name}: sseCOutcome`);
        const isKey = name === H.key || name === H.copyKey;
        t.equal(seen.length, isKey ? 1 : 0, `${mode}: ${name}: ${isKey ? 'one exposure event' : 'no exposure event (no key material)'}`);
        if (isKey) checkEvent(t, seen[0], name, `${mode}: ${name}`);
      }
    }
  }
  // even an empty value counts as presence
  const { stage, seen } = setup('forward');
  expectGatewayError(t, () => stage.run(makeCtx({ listener: 'http', headers: { [H.key]: '' } })), PLAINTEXT_SSEC, 'empty key header is refused');
  t.equal(seen.length, 0, 'empty key header: nothing to report');
});

t.test('exposed fingerprint of a valid key equals CustomerKey.fingerprint', async (t) => {
  for (const v of [KEY_A, KEY_B, KEY_GUIDE]) {
    for (const [keyName, md5Name, algName] of [[H.key, H.keyMd5, H.algorithm], [H.copyKey, H.copyKeyMd5, H.copyAlgorithm]] as const) {
      const { stage, seen } = setup('forward');
      const ctx = makeCtx({ listener: 'http', id: 'PLAINREQ00000042', remoteAddress: '203.0.113.7', operation: 'GetObject', method: 'GET',
        headers: { [algName]: 'AES256', [keyName]: v.b64, [md5Name]: v.md5 } });
      expectGatewayError(t, () => stage.run(ctx), PLAINTEXT_SSEC, `${v.name} in ${keyName}`);
      t.equal(seen.length, 1, `${v.name} in ${keyName}: one event`);
      checkEvent(t, seen[0], keyName, `${v.name} in ${keyName}`, { id: 'PLAINREQ00000042', remoteAddress: '203.0.113.7' });
      const used = CustomerKey.fromRaw(v.raw).fingerprint(SECRET);
      t.equal(seen[0]?.fingerprint, used, `${v.name} in ${keyName}: fingerprint equals the fingerprint of the key used over HTTPS`);
      t.equal(seen[0]?.fingerprint, parseTriplet({ [SSEC.algorithm]: 'AES256', [SSEC.key]: v.b64, [SSEC.keyMd5]: v.md5 }, SSEC)!.fingerprint(SECRET), `${v.name}: same as a parsed key`);
      t.equal(seen[0]?.fingerprint, fp(v.raw), `${v.name}: HMAC-SHA256(secret, raw key)`);
      t.match(KeyEvents.describe(seen[0]!), new RegExp(`^SSE-C key ${used.slice(0, 16)} was sent over plaintext HTTP by 203\\.0\\.113\\.7; treat it as exposed and rotate it$`), `${v.name}: describe()`);
    }
  }
  // a different secret gives a different fingerprint (the fingerprint is keyed)
  const other = new KeyEvents(Buffer.from('another-secret'));
  let got: KeyExposure | undefined;
  other.on('exposed', (e) => { got = e; });
  other.exposed({ keyHeaderValue: KEY_A.b64, header: H.key, client: 'c', listener: 'http', requestId: 'r' });
  t.not(got?.fingerprint, fp(KEY_A.raw), 'fingerprint depends on the secret');
});

t.test('malformed keys are still reported, fingerprinted over the header text', async (t) => {
  const K16 = keyOfLength(16);
  for (const v of ['not-base64-at-all!!', K16.b64, KEY_A.b64.replace(/=$/, ''), `${KEY_A.b64}, ${KEY_A.b64}`]) {
    const { stage, seen } = setup('forward');
    const ctx = makeCtx({ listener: 'http', headers: { [H.key]: v } });
    expectGatewayError(t, () => stage.run(ctx), PLAINTEXT_SSEC, `malformed key ${JSON.stringify(v.slice(0, 8))}…`);
    t.equal(seen.length, 1, 'one event');
    checkEvent(t, seen[0], H.key, 'malformed key');
    t.equal(seen[0]?.fingerprint, createHmac('sha256', SECRET).update(Buffer.from(v, 'utf8')).digest('hex'), 'HMAC over the header text');
  }
  // surrounding whitespace does not change the fingerprint of a well-formed key
  const { stage, seen } = setup('forward');
  expectGatewayError(t, () => stage.run(makeCtx({ listener: 'http', headers: { [H.key]: ` ${KEY_B.b64} ` } })), PLAINTEXT_SSEC, 'padded key');
  t.equal(seen[0]?.fingerprint, fp(KEY_B.raw), 'padded key: same fingerprint as the key');
});

t.test('both key headers: two events, one per header', async (t) => {
  const { stage, seen } = setup('forward');
  const ctx = makeCtx({ listener: 'http', operation: 'CopyObject', headers: {
    [H.algorithm]: 'AES256', [H.key]: KEY_B.b64, [H.keyMd5]: KEY_B.md5,
    [H.copyAlgorithm]: 'AES256', [H.copyKey]: KEY_A.b64, [H.copyKeyMd5]: KEY_A.md5,
    'x-amz-copy-source': '/b/src',
  } });
  expectGatewayError(t, () => stage.run(ctx), PLAINTEXT_SSEC, 'CopyObject with both triplets');
  t.same(seen.map((e) => [e.header, e.fingerprint]), [[H.key, fp(KEY_B.raw)], [H.copyKey, fp(KEY_A.raw)]], 'destination then copy-source, each with its own fingerprint');
});

t.test('no event payload contains key material', async (t) => {
  const { stage, seen } = setup('forward');
  const headers: Headers = { [H.algorithm]: 'AES256', [H.key]: KEY_A.b64, [H.keyMd5]: KEY_A.md5, [H.copyKey]: KEY_GUIDE.b64 };
  expectGatewayError(t, () => stage.run(makeCtx({ listener: 'http', headers })), PLAINTEXT_SSEC, 'request with keys');
  const bad = setup('forward');
  expectGatewayError(t, () => bad.stage.run(makeCtx({ listener: 'http', headers: { [H.key]: 'my-passphrase-key-0123456789' } })), PLAINTEXT_SSEC, 'request with passphrase');
  const all = [...seen, ...bad.seen];
  t.equal(all.length, 3, 'three events');
  const text = all.map((e) => `${JSON.stringify(e)}\n${inspect(e, { depth: Infinity, showHidden: true })}\n${KeyEvents.describe(e)}`).join('\n');
  assertNoKeyMaterial(t, text, [KEY_A.raw, KEY_GUIDE.raw], 'events', ['my-passphrase-key-0123456789']);
  t.notMatch(text, /AES256|DWygnHRtgiJ77HCm/, 'neither algorithm nor key-MD5 value copied into the event');
});

t.test('POST multipart/form-data on http: left to post_object (it reads the fields), closed in refuse mode', async (t) => {
  for (const ct of ['multipart/form-data; boundary=----x', 'Multipart/Form-Data; boundary=abc', 'multipart/form-data']) {
    const fwd = setup('forward');
    const ctx = makeCtx({ listener: 'http', method: 'POST', operation: 'PostObject', headers: { 'content-type': ct } });
    await fwd.stage.run(ctx);
    t.equal(ctx.sseCOutcome, undefined, `forward: POST ${ct} passes this stage`);
    const ref = setup('refuse');
    expectGatewayError(t, () => ref.stage.run(makeCtx({ listener: 'http', method: 'POST', operation: 'PostObject', headers: { 'content-type': ct } })), CLOSED, `refuse: POST ${ct}`);
    t.equal(fwd.seen.length + ref.seen.length, 0, `POST ${ct}: no event here`);
  }
  // SSE-C headers win over the POST rule
  const { stage } = setup('forward');
  expectGatewayError(t, () => stage.run(makeCtx({ listener: 'http', method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=z', [H.algorithm]: 'AES256' } })), PLAINTEXT_SSEC, 'POST form with SSE-C header → PlaintextSseC');
});

t.test('forward mode: requests without SSE-C pass on http', async (t) => {
  const { stage, seen } = setup('forward');
  const cases: [string, Headers][] = [
    ['GET', { host: 'gw' }],
    ['PUT', { 'content-type': 'application/octet-stream', 'x-amz-server-side-encryption': 'AES256' }],
    ['PUT', { 'content-type': 'multipart/form-data; boundary=x' }],
    ['POST', { 'content-type': 'application/xml' }],
    ['POST', {}],
    ['DELETE', { 'x-amz-server-side-encryption-aws-kms-key-id': 'arn:x' }],
  ];
  for (const [method, headers] of cases) {
    const ctx = makeCtx({ listener: 'http', method, headers });
    await stage.run(ctx);
    t.equal(ctx.sseCOutcome, undefined, `${method} ${JSON.stringify(headers)} passes, no outcome`);
  }
  t.equal(seen.length, 0, 'no events');
});

t.test('refuse mode: everything else → PlaintextClosed', async (t) => {
  const { stage, seen } = setup('refuse');
  for (const method of ['GET', 'HEAD', 'PUT', 'DELETE', 'POST']) {
    const ctx = makeCtx({ listener: 'http', method, headers: { host: 'gw', 'content-type': 'application/xml' } });
    expectGatewayError(t, () => stage.run(ctx), CLOSED, `refuse: ${method}`);
    t.equal(ctx.sseCOutcome, undefined, `refuse: ${method}: no SSE-C outcome`);
  }
  t.equal(seen.length, 0, 'no events');
});

t.test('https listener: nothing happens', async (t) => {
  for (const mode of ['forward', 'refuse'] as const) {
    const { stage, seen } = setup(mode);
    const headersList: [string, Headers][] = [
      ['PUT', { [H.algorithm]: 'AES256', [H.key]: KEY_A.b64, [H.keyMd5]: KEY_A.md5, [H.copyAlgorithm]: 'AES128', [H.copyKey]: 'junk', [H.copyKeyMd5]: 'x' }],
      ['POST', { 'content-type': 'multipart/form-data; boundary=x' }],
      ['GET', {}],
    ];
    for (const [method, headers] of headersList) {
      const ctx = makeCtx({ listener: 'https', method, headers });
      await stage.run(ctx);
      t.equal(ctx.sseCOutcome, undefined, `${mode}: https ${method}: passes untouched`);
    }
    t.equal(seen.length, 0, `${mode}: https: no events`);
  }
});
