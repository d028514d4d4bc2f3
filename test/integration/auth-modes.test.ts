/**
 * Auth mode `none` (the sidecar shape) and the upstream credential sources, against the real RGW:
 * an unsigned app on loopback gets its objects encrypted with the injected key and signed with
 * the pod's credentials (static, the environment, or the AWS default chain from a shared config
 * file); the gateway refuses to start `none` on a non-loopback address. Also `sigv4` behind
 * another ingress: the signature is checked against the X-Forwarded-Host the client signed.
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, startGateway } from '../helpers/gateway.js';
import { bucketName, createBucket, rgwRequest, sharedRgw } from '../helpers/rgw.js';
import { makeKeyring, rawRequest, writeClientsFile, newClient, credsOf } from '../helpers/sigv4-gateway.js';
import { parseS3Error } from '../helpers/signed-request.js';

const rgw = await sharedRgw();
const bucket = bucketName('authmodes');
await createBucket(rgw, bucket);
const work = mkdtempSync(join(tmpdir(), 'auth-modes-'));
const { dir: keyringDir, keys } = await makeKeyring(['app-key']);
const policy = join(work, 'policy.yaml');
await writeClientsFile(policy, { clients: [], inject: [{ bucket, key: 'app-key', mode: 'enforce' }] });
const appKey = keys.get('app-key')!;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function unsignedRoundTrip(t: Test, gw: { url: string; caFile: string }, name: string): Promise<void> {
  const ca = readFileSync(gw.caFile);
  const body = randomBytes(100_000);
  const put = await rawRequest(gw.url, ca, { method: 'PUT', path: `/${bucket}/${name}`, headers: { 'content-length': String(body.length), 'content-type': 'application/x-test' }, body });
  t.equal(put.status, 200, `${name}: unsigned PUT accepted`);
  t.equal(put.headers['x-amz-server-side-encryption-customer-key-md5'], createHash('md5').update(appKey).digest('base64'), `${name}: stored with the injected key`);
  const get = await rawRequest(gw.url, ca, { method: 'GET', path: `/${bucket}/${name}` });
  t.equal(get.status, 200, `${name}: unsigned GET`);
  t.equal(sha(get.body), sha(body), `${name}: same bytes back`);
  const atRest = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}/${name}`, endpoint: 'https' });
  t.equal(atRest.status, 400, `${name}: RGW refuses it without the key (encrypted at rest)`);
}

t.test('none mode, static upstream credentials: unsigned app on loopback, key injected', async (t) => {
  const gw = await startGateway({ upstream: rgw.http, args: ['--auth-mode', 'none', '--clients-file', policy, '--keyring-dir', keyringDir,
    '--upstream-access-key-id', rgw.accessKey, '--upstream-secret-access-key', rgw.secretKey] });
  t.teardown(() => gw.stop());
  await unsignedRoundTrip(t, gw, 'static');
  const line = gw.logs().find((l) => l.msg === 'request' && l.op === 'PutObject');
  t.equal(line?.sseC, 'injected', 'the log says the key was injected');
});

t.test('none mode, upstream credentials from the environment', async (t) => {
  const gw = await startGateway({ upstream: rgw.http, args: ['--auth-mode', 'none', '--clients-file', policy, '--keyring-dir', keyringDir, '--upstream-credentials', 'env'],
    env: { AWS_ACCESS_KEY_ID: rgw.accessKey, AWS_SECRET_ACCESS_KEY: rgw.secretKey } });
  t.teardown(() => gw.stop());
  await unsignedRoundTrip(t, gw, 'env');
});

t.test('none mode, upstream credentials from the AWS default chain (shared credentials file)', async (t) => {
  const home = join(work, 'home');
  mkdirSync(join(home, '.aws'), { recursive: true });
  writeFileSync(join(home, '.aws', 'credentials'), `[default]\naws_access_key_id = ${rgw.accessKey}\naws_secret_access_key = ${rgw.secretKey}\n`);
  const env: Record<string, string> = { HOME: home, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '', AWS_EC2_METADATA_DISABLED: 'true' };
  const gw = await startGateway({ upstream: rgw.http, args: ['--auth-mode', 'none', '--clients-file', policy, '--keyring-dir', keyringDir, '--upstream-credentials', 'chain'], env });
  t.teardown(() => gw.stop());
  await unsignedRoundTrip(t, gw, 'chain');
});

t.test('none mode refuses to start on a non-loopback address', async (t) => {
  const r = spawnSync(process.execPath, [join(REPO, 'bin', 'ssec-gateway.js'), 'serve', '--auth-mode', 'none', '--host', '0.0.0.0', '--https-port', '0', '--admin-port', '0',
    '--upstream-access-key-id', 'a', '--upstream-secret-access-key', 'b', '--state-dir', join(work, 'st')], { encoding: 'utf8', timeout: 20000 });
  t.equal(r.status, 2, 'exit code 2');
  t.match(r.stderr, /auth\.mode none accepts unsigned clients: listen\.host must be a loopback address/);
});

t.test('sigv4 behind another ingress: verified against the X-Forwarded-Host the client signed', async (t) => {
  const client = newClient('behind-ingress');
  const clients = join(work, 'clients.yaml');
  await writeClientsFile(clients, { clients: [client] });
  const common = ['--auth-mode', 'sigv4', '--clients-file', clients, '--upstream-access-key-id', rgw.accessKey, '--upstream-secret-access-key', rgw.secretKey];
  const trusting = await startGateway({ upstream: rgw.http, args: [...common, '--trust-forwarded-host'] });
  const plain = await startGateway({ upstream: rgw.http, args: common });
  t.teardown(async () => { await trusting.stop(); await plain.stop(); });
  // The client talked to https://s3.example.org; the ingress in front re-sent it to the gateway.
  const signed = async (gwUrl: string, ca: Buffer) => {
    const creds = credsOf(client);
    // sign for the public host, then send to the gateway with the ingress' headers
    const { SignatureV4 } = await import('@smithy/signature-v4');
    const { HttpRequest } = await import('@smithy/protocol-http');
    const { Hash } = await import('@smithy/hash-node');
    const signer = new SignatureV4({ service: 's3', region: creds.region, credentials: { accessKeyId: creds.accessKey, secretAccessKey: creds.secretKey }, sha256: Hash.bind(null, 'sha256'), uriEscapePath: false });
    const req = await signer.sign(new HttpRequest({ method: 'GET', protocol: 'https:', hostname: 's3.example.org', path: `/${bucket}`, query: { 'list-type': '2' }, headers: { host: 's3.example.org', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }));
    const headers: Record<string, string> = { ...(req.headers as Record<string, string>), 'x-forwarded-host': 's3.example.org', 'x-forwarded-proto': 'https' };
    delete headers.host;
    return rawRequest(gwUrl, ca, { method: 'GET', path: `/${bucket}?list-type=2`, headers });
  };
  const ok = await signed(trusting.url, readFileSync(trusting.caFile));
  t.equal(ok.status, 200, 'trusted X-Forwarded-Host: the signature holds');
  const bad = await signed(plain.url, readFileSync(plain.caFile));
  t.equal(bad.status, 403, 'not trusted: checked against Host, which the client did not sign');
  t.equal(parseS3Error(bad.text).code, 'SignatureDoesNotMatch');
});

t.test('sigv4 mode refuses unsigned requests and never forwards them', async (t) => {
  const clients = join(work, 'clients2.yaml');
  await writeClientsFile(clients, { clients: [newClient('someone')] });
  const gw = await startGateway({ upstream: rgw.http, args: ['--auth-mode', 'sigv4', '--clients-file', clients, '--upstream-access-key-id', rgw.accessKey, '--upstream-secret-access-key', rgw.secretKey] });
  t.teardown(() => gw.stop());
  const r = await rawRequest(gw.url, readFileSync(gw.caFile), { method: 'PUT', path: `/${bucket}/unsigned`, headers: { 'content-length': '3' }, body: Buffer.from('abc') });
  t.equal(r.status, 403);
  t.equal(parseS3Error(r.text).code, 'AccessDenied');
  t.equal((await rgwRequest(rgw, { method: 'HEAD', path: `/${bucket}/unsigned` })).status, 404, 'RGW never saw it');
});
