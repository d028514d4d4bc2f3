/**
 * Key injection in auth mode `sigv4` (issue #3 item 8): s3cmd 2.3, which has no SSE-C at all, used as
 * people use it (put / get / ls / a 20 MiB multipart put), with the gateway injecting a keyring key by rule,
 * proven encrypted on RGW. Then the rule modes (`enforce`: another key or SSE-S3 refused with the reason;
 * `default`: a client key is used as is), a rule naming a missing key (500, reason logged, nothing stored),
 * the clients file reloaded without a restart (and a broken one ignored), and `allow` scopes.
 */
import t, { type Test } from 'tap';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { awsCli, s3cmd, sseKey, type RunResult, type SseKey } from '../helpers/clients.js';
import { assertNoKeyMaterial } from '../helpers/keys.js';
import { bucketName, createBucket, sharedRgw } from '../helpers/rgw.js';
import {
  credsOf, keyOf, makeKeyring, newClient, onRgw, parseError, randomFile, requestLines, sendSigned, sha256, sha256File, sleep,
  ssecHeaders, startSigv4Gateway, writeClientsFile, type ClientsDoc, type RawResponse, type Sigv4Client,
} from '../helpers/sigv4-gateway.js';

const started = performance.now();
const rgw = await sharedRgw();
const bucket = bucketName('injection');
const other = bucketName('injection-other');
const keyring = await makeKeyring(['team-a']);
const TEAM_A = keyOf(keyring.keys.get('team-a')!);

// s3cmd's client: every object under s3cmd/ is SSE-C with team-a (enforce)
const legacy = newClient('legacy', { inject: [{ bucket, prefix: 's3cmd/', key: 'team-a', mode: 'enforce' }] });
const app = newClient('app', {
  inject: [
    { bucket, prefix: 'enf/', key: 'team-a', mode: 'enforce' },
    { bucket, prefix: 'dflt/', key: 'team-a', mode: 'default' },
    { bucket, prefix: 'missing/', key: 'no-such-key', mode: 'default' },
  ],
});
const scoped = newClient('scoped', { allow: [{ bucket, prefix: 'p/' }] });
const doc: ClientsDoc = { clients: [legacy, app, scoped] };

const [gw] = await Promise.all([
  startSigv4Gateway(rgw, { doc, keyringDir: keyring.dir }),
  createBucket(rgw, bucket),
  createBucket(rgw, other),
]);
const work = await mkdtemp(path.join(os.tmpdir(), 'injection-'));
const small = path.join(work, 'small.bin');
const smallSha = await randomFile(small, 100 * 1024 + 7);
const big = path.join(work, 'big.bin');
const bigSha = await randomFile(big, 20 * 1024 * 1024);
const BODY = Buffer.from('a small object body\n'.repeat(500));
const K: SseKey = sseKey();
const sentKeys = [K.raw, TEAM_A.raw];

const timings: [string, number][] = [];
t.teardown(async () => {
  await gw.stop();
  await rm(work, { recursive: true, force: true });
  await rm(gw.dir, { recursive: true, force: true });
  await rm(keyring.dir, { recursive: true, force: true });
  t.comment(`timings: ${timings.map(([n, ms]) => `${n} ${(ms / 1000).toFixed(1)} s`).join('; ')}`);
  t.comment(`injection wall time: ${((performance.now() - started) / 1000).toFixed(1)} s`);
});

function section(name: string, fn: (t: Test) => Promise<void>): void {
  t.test(name, async (tt) => {
    const t0 = performance.now();
    try { await fn(tt); } finally { timings.push([name.split(':')[0]!, performance.now() - t0]); }
  });
}

function ok(tt: Test, r: RunResult, what: string): boolean {
  return tt.equal(r.code, 0, `${what}: exit 0`, { stdout: r.stdout.slice(-2000), stderr: r.stderr.slice(-4000) });
}

const send = (c: Sigv4Client, req: Parameters<typeof sendSigned>[3]) => sendSigned(gw.url, gw.ca, credsOf(c), req);

function s3Error(tt: Test, res: RawResponse, status: number, code: string, message: string | RegExp | undefined, label: string): void {
  tt.equal(res.status, status, `${label}: HTTP ${status}`, { body: res.text.slice(0, 2000) });
  const e = parseError(res.text);
  tt.equal(e.code, code, `${label}: Code ${code}`);
  if (message !== undefined) tt.match(e.message, message, `${label}: Message`);
}

/** Straight on RGW: no key → 400; `k` → the bytes (sha); optionally the multipart ETag. */
async function encryptedWith(tt: Test, key: string, k: SseKey, sha: string, label: string, parts?: number): Promise<void> {
  const noKey = await onRgw(rgw, 'GET', bucket, key);
  tt.equal(noKey.status, 400, `${label}: a GET straight to RGW without a key → 400 (encrypted at rest)`);
  const withKey = await onRgw(rgw, 'GET', bucket, key, k);
  tt.equal(withKey.status, 200, `${label}: a GET straight to RGW with the expected key → 200`);
  tt.equal(sha256(withKey.body), sha, `${label}: the same bytes`);
  if (parts !== undefined) tt.match(String(withKey.headers.etag), new RegExp(`-${parts}"?$`), `${label}: stored ETag ends with -${parts} (multipart, ${parts} parts)`);
}

async function absent(tt: Test, key: string, label: string, b = bucket): Promise<void> {
  tt.equal((await onRgw(rgw, 'HEAD', b, key)).status, 404, `${label}: nothing stored at ${b}/${key} (RGW HEAD → 404)`);
}

// ---- s3cmd through injection ------------------------------------------------------------------------

section('s3cmd 2.3 put / get / ls / 20 MiB multipart, keys injected: encrypted on RGW with the keyring key', async (tt) => {
  const ep = gw.endpoint(legacy);
  const run = (args: string[]) => s3cmd(ep, ['--no-progress', ...args], { cwd: work });
  tt.comment((await run(['--version'])).stdout.trim());
  ok(tt, await run(['put', small, `s3://${bucket}/s3cmd/small.bin`]), 's3cmd put 100 KiB');
  ok(tt, await run(['put', big, `s3://${bucket}/s3cmd/big.bin`]), 's3cmd put 20 MiB (multipart, 15 MB chunks)');
  const ls = await run(['ls', `s3://${bucket}/s3cmd/`]);
  if (ok(tt, ls, 's3cmd ls')) {
    tt.match(ls.stdout, new RegExp(`\\b102407\\s+s3://${bucket}/s3cmd/small\\.bin`), 'ls: small.bin with its size');
    tt.match(ls.stdout, new RegExp(`\\b20971520\\s+s3://${bucket}/s3cmd/big\\.bin`), 'ls: big.bin with its size');
  }
  for (const [name, sha] of [['small.bin', smallSha], ['big.bin', bigSha]] as const) {
    const out = path.join(work, `s3cmd-${name}.out`);
    ok(tt, await run(['get', '--force', `s3://${bucket}/s3cmd/${name}`, out]), `s3cmd get ${name}`);
    tt.equal((await sha256File(out).catch(() => ({ sha: 'missing' }))).sha, sha, `s3cmd get ${name}: identical bytes`);
  }
  // a server-side copy: CopyObject with both keys injected (done by the gateway: RGW 16 cannot copy SSE-C objects)
  ok(tt, await run(['cp', `s3://${bucket}/s3cmd/small.bin`, `s3://${bucket}/s3cmd/copy.bin`]), 's3cmd cp (server-side copy)');
  await encryptedWith(tt, 's3cmd/copy.bin', TEAM_A, smallSha, 's3cmd cp result, team-a key');
  ok(tt, await run(['del', `s3://${bucket}/s3cmd/copy.bin`]), 's3cmd del');
  tt.equal((await onRgw(rgw, 'HEAD', bucket, 's3cmd/copy.bin')).status, 404, 's3cmd del: gone from RGW');
  await encryptedWith(tt, 's3cmd/small.bin', TEAM_A, smallSha, 's3cmd small.bin, team-a key (read from the keyring file)');
  await encryptedWith(tt, 's3cmd/big.bin', TEAM_A, bigSha, 's3cmd big.bin, team-a key', 2);
  const lines = requestLines(gw).filter((l) => String(l.url).startsWith(`/${bucket}/s3cmd/`) && ['PutObject', 'UploadPart', 'CreateMultipartUpload', 'GetObject'].includes(String(l.op)));
  tt.ok(lines.length >= 5 && lines.every((l) => l.sseC === 'injected'), `the gateway logged every s3cmd data request as sseC=injected (${lines.length} lines)`);
});

// ---- enforce -----------------------------------------------------------------------------------------

section('enforce: no key → injected; another SSE-C key → 403 with the reason; x-amz-server-side-encryption: AES256 → 403', async (tt) => {
  const put = await send(app, { method: 'PUT', path: `/${bucket}/enf/injected`, body: BODY });
  tt.equal(put.status, 200, 'PUT without a key under enforce: 200');
  tt.equal(put.headers['x-amz-server-side-encryption-customer-key-md5'], TEAM_A.md5, 'the response names the injected key (its MD5)');
  await encryptedWith(tt, 'enf/injected', TEAM_A, sha256(BODY), 'enforce, no client key');
  const get = await send(app, { method: 'GET', path: `/${bucket}/enf/injected` });
  tt.equal(get.status, 200, 'GET without a key: the key is injected');
  tt.equal(sha256(get.body), sha256(BODY), 'GET: identical bytes');

  const same = await send(app, { method: 'PUT', path: `/${bucket}/enf/same-key`, body: BODY, headers: ssecHeaders(TEAM_A) });
  tt.equal(same.status, 200, 'PUT with the rule key itself: allowed');

  const diff = await send(app, { method: 'PUT', path: `/${bucket}/enf/other-key`, body: BODY, headers: ssecHeaders(K) });
  s3Error(tt, diff, 403, 'AccessDenied',
    `Access Denied: objects under s3://${bucket}/enf/ must be encrypted with the key set by the gateway's policy; the request carried a different SSE-C key.`,
    'enforce, a different SSE-C key');
  await absent(tt, 'enf/other-key', 'enforce, a different key');

  const sse = await send(app, { method: 'PUT', path: `/${bucket}/enf/sse-s3`, body: BODY, headers: { 'x-amz-server-side-encryption': 'AES256' } });
  s3Error(tt, sse, 403, 'AccessDenied',
    `Access Denied: objects under s3://${bucket}/enf/ must be encrypted with SSE-C by the gateway's policy; the request asked for x-amz-server-side-encryption instead.`,
    'enforce, x-amz-server-side-encryption: AES256');
  await absent(tt, 'enf/sse-s3', 'enforce, SSE-S3');

  // the same, as a person with aws-cli would see it
  const ep = gw.endpoint(app);
  const cli = await awsCli('v1', ep, ['s3api', 'put-object', '--bucket', bucket, '--key', 'enf/cli-other-key', '--body', small, '--sse-customer-algorithm', 'AES256', '--sse-customer-key', K.b64, '--sse-customer-key-md5', K.md5]);
  tt.not(cli.code, 0, 'aws-cli put-object with another key under enforce fails');
  tt.match(cli.stderr, /AccessDenied.*must be encrypted with the key set by the gateway's policy/, 'aws-cli shows AccessDenied and the reason');
  const cli2 = await awsCli('v1', ep, ['s3', 'cp', small, `s3://${bucket}/enf/cli-sse-s3`, '--sse', 'AES256']);
  tt.not(cli2.code, 0, 'aws s3 cp --sse AES256 under enforce fails');
  tt.match(cli2.stderr, /AccessDenied/, 'aws s3 cp --sse AES256: AccessDenied');
  await absent(tt, 'enf/cli-other-key', 'aws-cli, another key');
  await absent(tt, 'enf/cli-sse-s3', 'aws-cli, --sse AES256');
});

// ---- default -----------------------------------------------------------------------------------------

section('default: a client-supplied key is used as is; no key → the rule key', async (tt) => {
  const put = await send(app, { method: 'PUT', path: `/${bucket}/dflt/client-key`, body: BODY, headers: ssecHeaders(K) });
  tt.equal(put.status, 200, 'PUT with the client key under default: 200');
  tt.equal(put.headers['x-amz-server-side-encryption-customer-key-md5'], K.md5, 'the response names the client key');
  await encryptedWith(tt, 'dflt/client-key', K, sha256(BODY), 'default, client key');
  const ruleKey = await onRgw(rgw, 'GET', bucket, 'dflt/client-key', TEAM_A);
  tt.not(ruleKey.status, 200, `not readable with the rule's key straight on RGW (HTTP ${ruleKey.status})`);
  const get = await send(app, { method: 'GET', path: `/${bucket}/dflt/client-key`, headers: ssecHeaders(K) });
  tt.equal(get.status, 200, 'GET through the gateway with the client key: 200');
  tt.equal(sha256(get.body), sha256(BODY), 'identical bytes');
  const noKey = await send(app, { method: 'GET', path: `/${bucket}/dflt/client-key` });
  tt.ok(noKey.status >= 400 && noKey.status < 500, `GET without a key (the rule key is injected, the wrong one) → ${noKey.status} ${parseError(noKey.text).code}`);

  const put2 = await send(app, { method: 'PUT', path: `/${bucket}/dflt/no-key`, body: BODY });
  tt.equal(put2.status, 200, 'PUT without a key under default: 200');
  await encryptedWith(tt, 'dflt/no-key', TEAM_A, sha256(BODY), 'default, no client key → team-a');
});

// ---- a rule naming a missing key ----------------------------------------------------------------------

section('a rule naming a key missing from the keyring → 500, the reason in the log, nothing stored', async (tt) => {
  const res = await send(app, { method: 'PUT', path: `/${bucket}/missing/obj`, body: BODY });
  s3Error(tt, res, 500, 'InternalError', 'We encountered an internal error. Please try again.', 'PUT under a rule with a missing key');
  await absent(tt, 'missing/obj', 'missing key id');
  await sleep(200);
  const line = requestLines(gw).find((l) => l.id === res.headers['x-amz-request-id']);
  tt.match(String(line?.failure), /key injection rule names key "no-such-key", which is not in the keyring/, 'the log line says why');
  tt.equal(line?.upstreamId, undefined, 'the request never went upstream');
  const get = await send(app, { method: 'GET', path: `/${bucket}/missing/obj` });
  tt.equal(get.status, 500, 'a GET under that rule is refused the same way (no plaintext read either)');

  // the operator adds the key file (`openssl rand 32`): the keyring is reloaded without a restart
  const { execFileSync } = await import('node:child_process');
  execFileSync('openssl', ['rand', '-out', path.join(keyring.dir, 'no-such-key'), '32']);
  const added = keyOf(await readFile(path.join(keyring.dir, 'no-such-key')));
  sentKeys.push(added.raw);
  const t0 = Date.now();
  await sleep(3000);
  let again = await send(app, { method: 'PUT', path: `/${bucket}/missing/obj`, body: BODY });
  while (again.status !== 200 && Date.now() - t0 < 10_000) {
    await sleep(500);
    again = await send(app, { method: 'PUT', path: `/${bucket}/missing/obj`, body: BODY });
  }
  tt.equal(again.status, 200, `once the key file exists the rule works (~${((Date.now() - t0) / 1000).toFixed(1)} s later, no restart)`);
  await encryptedWith(tt, 'missing/obj', added, sha256(BODY), 'the key added to the keyring');
});

// ---- allow scopes ---------------------------------------------------------------------------------------

section('allow scopes: a client limited to {bucket, prefix: p/} gets 403 elsewhere', async (tt) => {
  const ok1 = await send(scoped, { method: 'PUT', path: `/${bucket}/p/inside`, body: BODY });
  tt.equal(ok1.status, 200, 'PUT inside the scope: 200');
  const get = await send(scoped, { method: 'GET', path: `/${bucket}/p/inside` });
  tt.equal(get.status, 200, 'GET inside the scope: 200');
  const list = await send(scoped, { method: 'GET', path: `/${bucket}`, query: { 'list-type': '2', prefix: 'p/' } });
  tt.equal(list.status, 200, 'ListObjectsV2 of the allowed bucket: 200');

  const cases: [string, Parameters<typeof sendSigned>[3], string, string][] = [
    ['PUT under another prefix', { method: 'PUT', path: `/${bucket}/q/outside`, body: BODY }, bucket, 'q/outside'],
    ['PUT at the bucket root', { method: 'PUT', path: `/${bucket}/root-object`, body: BODY }, bucket, 'root-object'],
    ['PUT in another bucket, same prefix', { method: 'PUT', path: `/${other}/p/outside`, body: BODY }, other, 'p/outside'],
    ['GET of an object outside the prefix', { method: 'GET', path: `/${bucket}/enf/injected` }, '', ''],
    ['ListObjectsV2 of another bucket', { method: 'GET', path: `/${other}`, query: { 'list-type': '2' } }, '', ''],
    ['CopyObject into the scope from outside it', { method: 'PUT', path: `/${bucket}/p/copied`, headers: { 'x-amz-copy-source': `/${bucket}/enf/injected` } }, bucket, 'p/copied'],
    ['DeleteObject outside the prefix', { method: 'DELETE', path: `/${bucket}/dflt/no-key` }, '', ''],
  ];
  for (const [label, req, b, key] of cases) {
    const res = await send(scoped, req);
    s3Error(tt, res, 403, 'AccessDenied', 'Access Denied', label);
    if (key) await absent(tt, key, label, b);
  }
  tt.equal((await onRgw(rgw, 'GET', bucket, 'dflt/no-key', TEAM_A)).status, 200, 'the object the DELETE named is still there');
  const cli = await awsCli('v1', gw.endpoint(scoped), ['s3', 'ls', `s3://${other}/`]);
  tt.not(cli.code, 0, 'aws s3 ls of another bucket fails');
  tt.match(cli.stderr, /AccessDenied/, 'aws-cli shows AccessDenied');
});

// ---- reload ----------------------------------------------------------------------------------------------

section('clients file reloaded without a restart; a broken file keeps the previous version in force', async (tt) => {
  const newbie = newClient('newbie');
  const before = await send(newbie, { method: 'GET', path: `/${bucket}`, query: { 'list-type': '2' } });
  s3Error(tt, before, 403, 'InvalidAccessKeyId', undefined, 'a client not yet in the file');

  await writeClientsFile(gw.clientsFile, { clients: [...doc.clients, newbie] });
  const t0 = Date.now();
  await sleep(3000);
  let after = await send(newbie, { method: 'PUT', path: `/${bucket}/newbie/obj`, body: BODY });
  while (after.status !== 200 && Date.now() - t0 < 10_000) {
    await sleep(500);
    after = await send(newbie, { method: 'PUT', path: `/${bucket}/newbie/obj`, body: BODY });
  }
  tt.equal(after.status, 200, `the added client works ~${((Date.now() - t0) / 1000).toFixed(1)} s after the file changed, without a restart`);
  tt.ok(gw.logs().some((l) => l.msg === 'clients file reloaded'), 'the log says the clients file was reloaded');
  tt.equal(gw.child.exitCode, null, 'same gateway process');

  // an editor saving a broken file in place
  await writeFile(gw.clientsFile, 'clients:\n  - accessKeyId: [unclosed\n    secretAccessKey: x\n');
  await sleep(3000);
  const complaint = gw.logs().find((l) => l.msg === 'clients file not reloaded: keeping the previous version');
  tt.ok(complaint, 'the log says the broken file was not loaded');
  tt.match(String(complaint?.err), /clients\.yaml/, `…and why: ${String(complaint?.err).slice(0, 200)}`);
  const still = await send(newbie, { method: 'GET', path: `/${bucket}/newbie/obj` });
  tt.equal(still.status, 200, 'the previous version stays in force: the added client still works');
  const legacyStill = await send(legacy, { method: 'GET', path: `/${bucket}/s3cmd/small.bin` });
  tt.equal(legacyStill.status, 200, '…and so do the injection rules (legacy GET with the injected key)');
  tt.equal(sha256(legacyStill.body), smallSha, '…identical bytes');
});

section('no key material in the gateway output', async (tt) => {
  assertNoKeyMaterial(tt, gw.output(), sentKeys, 'gateway stdout+stderr');
});
