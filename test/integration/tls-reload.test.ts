// Hot reload of tls.cert / tls.key (issue 11, item 2). The gateway serves a pair from a directory
// laid out like a mounted Kubernetes Secret (`tls.crt -> ..data/tls.crt`, `..data -> ..<timestamp>`);
// the kubelet's update — a new timestamped directory, `..data` swapped to it by an atomic rename —
// must reach new TLS connections without a restart, while the connections already open (an HTTP/2
// session, an HTTP/1.1 keep-alive connection, an upload whose body is still being sent) carry on
// with the old certificate and lose nothing. Pairs that do not load are refused and the old one
// stays in service; a rename over the files and a write in place are picked up too.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { startGateway } from '../helpers/gateway.js';
import { bucketName, createBucket, rgwRequest, sharedRgw } from '../helpers/rgw.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'tls-reload-test-'));
const mnt = path.join(work, 'secret'); // the Secret's mount point
mkdirSync(mnt);

interface Pair { cert: string; key: string; fingerprint: string }
/** A CA-less self-signed P-256 certificate for 127.0.0.1 (openssl, as an operator would make one). */
function makePair(name: string): Pair {
  const certFile = path.join(work, `${name}.crt`);
  const keyFile = path.join(work, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=127.0.0.1/O=${name}`,
    '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '2', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
  const cert = readFileSync(certFile, 'utf8');
  return { cert, key: readFileSync(keyFile, 'utf8'), fingerprint: new X509Certificate(cert).fingerprint256 };
}
const A = makePair('A'), B = makePair('B'), C = makePair('C'), D = makePair('D'), E = makePair('E');
const ca = [A, B, C, D, E].map((p) => p.cert);

/** What the kubelet's atomic writer does: files into a new `..<timestamp>` dir, `..data` renamed over to point at it, the old dir removed. */
let current: string | undefined;
function kubeletUpdate(stamp: string, cert: string, key: string): void {
  const dir = `..2026_12_06_${stamp}`;
  mkdirSync(path.join(mnt, dir));
  writeFileSync(path.join(mnt, dir, 'tls.crt'), cert);
  writeFileSync(path.join(mnt, dir, 'tls.key'), key, { mode: 0o600 });
  symlinkSync(dir, path.join(mnt, '..data_tmp'));
  renameSync(path.join(mnt, '..data_tmp'), path.join(mnt, '..data'));
  if (current) rmSync(path.join(mnt, current), { recursive: true });
  current = dir;
}
kubeletUpdate('a', A.cert, A.key);
symlinkSync('..data/tls.crt', path.join(mnt, 'tls.crt'));
symlinkSync('..data/tls.key', path.join(mnt, 'tls.key'));

const rgw = await sharedRgw();
const gw = await startGateway({ upstream: rgw.http, args: ['--tls-cert', path.join(mnt, 'tls.crt'), '--tls-key', path.join(mnt, 'tls.key'), '--tls-min-version', 'TLSv1.3'] });
const url = new URL(gw.url);
const authority = url.host;
const bucket = bucketName('tls-reload');
await createBucket(rgw, bucket);

const closers: (() => void)[] = [];
t.teardown(async () => {
  for (const c of closers) c();
  await gw.stop();
  for (const k of ['slow-upload', 'h2-before', 'h2-after', 'h1-before', 'h1-after']) await rgwRequest(rgw, { method: 'DELETE', path: `/${bucket}/${k}` }).catch(() => undefined);
  await rgwRequest(rgw, { method: 'DELETE', path: `/${bucket}` }).catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The certificate a brand-new TLS connection is shown (and whether a handshake is possible at all with these options). */
function newConnectionCert(opts: tls.ConnectionOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: url.hostname, port: Number(url.port), ca, ALPNProtocols: ['h2', 'http/1.1'], ...opts }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.end();
      resolve(fp);
    });
    s.on('error', reject);
  });
}

async function until(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(100);
  }
  return false;
}
const logged = (msg: string) => gw.logs().filter((l) => l.msg === msg);

async function signedHeaders(method: string, objectKey: string, body: Buffer | undefined): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    service: 's3', region: rgw.region, sha256: Hash.bind(null, 'sha256'), uriEscapePath: false, applyChecksum: true,
    credentials: { accessKeyId: rgw.accessKey, secretAccessKey: rgw.secretKey },
  });
  const signed = await signer.sign(new HttpRequest({
    method, protocol: 'https:', hostname: url.hostname, port: Number(url.port), path: `/${bucket}/${objectKey}`,
    headers: { host: authority, ...(body ? { 'content-length': String(body.length) } : {}) }, body,
  }));
  return signed.headers;
}

interface Answer { status: number; body: Buffer }

/** One request on an open HTTP/2 session. */
async function h2(session: http2.ClientHttp2Session, method: string, objectKey: string, body?: Buffer): Promise<Answer> {
  const { host, ...rest } = await signedHeaders(method, objectKey, body);
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': method, ':path': `/${bucket}/${objectKey}`, ':authority': host!, ...rest });
    const chunks: Buffer[] = [];
    let status = 0;
    req.on('response', (h) => { status = Number(h[':status']); });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ status, body: Buffer.concat(chunks) }));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * An HTTP/1.1 request through `agent` (keep-alive) or on a connection of its own. `slow`: the body
 * is sent in two halves, the second once `slow` resolves. Resolves with the answer, the socket's
 * certificate, and whether the socket was one reused from the agent.
 */
async function h1(method: string, objectKey: string, opts: { agent?: https.Agent; body?: Buffer; slow?: Promise<void>; started?: () => void } = {}): Promise<Answer & { cert: string; reused: boolean }> {
  const headers = await signedHeaders(method, objectKey, opts.body);
  return new Promise((resolve, reject) => {
    const req = https.request({ method, hostname: url.hostname, port: url.port, path: `/${bucket}/${objectKey}`, headers, ca, agent: opts.agent ?? false }, (res) => {
      const cert = (res.socket as tls.TLSSocket).getPeerCertificate().fingerprint256;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), cert, reused: req.reusedSocket }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (!opts.body) return void req.end();
    if (!opts.slow) return void req.end(opts.body);
    const half = opts.body.length >> 1;
    req.write(opts.body.subarray(0, half), () => opts.started?.());
    void opts.slow.then(() => req.end(opts.body!.subarray(half)));
  });
}

const h2Cert = (s: http2.ClientHttp2Session) => (s.socket as unknown as tls.TLSSocket).getPeerCertificate().fingerprint256;

t.test('Kubernetes Secret update (..data symlink swap): new connections get the new certificate, open ones carry on', async (t) => {
  t.equal(await newConnectionCert(), A.fingerprint, 'before: certificate A');
  const inService = logged('tls certificate in service')[0];
  t.equal(inService?.fingerprint, A.fingerprint, 'the certificate in service is logged with its fingerprint');

  // (a) an HTTP/2 session, (b) an HTTP/1.1 keep-alive connection, (c) an upload in flight, all opened before the swap
  const session = http2.connect(gw.url, { ca });
  closers.push(() => session.destroy());
  await new Promise<void>((resolve, reject) => { session.once('connect', () => resolve()); session.once('error', reject); });
  t.equal((await h2(session, 'PUT', 'h2-before', randomBytes(100))).status, 200, 'h2: PUT before the swap');
  t.equal(h2Cert(session), A.fingerprint, 'h2 session: certificate A');

  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  closers.push(() => agent.destroy());
  const first = await h1('PUT', 'h1-before', { agent, body: randomBytes(100) });
  t.equal(first.status, 200, 'HTTP/1.1 keep-alive: PUT before the swap');
  t.equal(first.cert, A.fingerprint, 'keep-alive connection: certificate A');

  const upload = randomBytes(4 << 20);
  let finish!: () => void;
  const rest = new Promise<void>((r) => { finish = r; });
  let started!: () => void;
  const halfSent = new Promise<void>((r) => { started = r; });
  const slowPut = h1('PUT', 'slow-upload', { body: upload, slow: rest, started });
  await halfSent;

  kubeletUpdate('b', B.cert, B.key);
  t.ok(await until(async () => (await newConnectionCert()) === B.fingerprint), 'after the swap: a new connection gets certificate B (no restart)');
  const line = logged('tls certificate reloaded').at(-1);
  t.equal(line?.fingerprint, B.fingerprint, 'the reload is logged with the new fingerprint');
  t.equal(line?.previous, A.fingerprint, '… and the previous one');
  t.equal(line?.notAfter, new Date(new X509Certificate(B.cert).validTo).toISOString(), '… and notAfter');
  t.equal(line?.level, 30, '… at info');
  await t.rejects(newConnectionCert({ maxVersion: 'TLSv1.2' }), 'tls.minVersion TLSv1.3 still holds after the reload');

  // the connections opened before the swap still work, still on A
  t.equal((await h2(session, 'PUT', 'h2-after', randomBytes(100))).status, 200, 'h2 session opened before the swap: PUT after it');
  t.equal(h2Cert(session), A.fingerprint, 'h2 session: still certificate A');
  t.equal(session.closed || session.destroyed, false, 'h2 session still open');
  const again = await h1('PUT', 'h1-after', { agent, body: randomBytes(100) });
  t.equal(again.status, 200, 'keep-alive connection: PUT after the swap');
  t.ok(again.reused, '… on the same connection');
  t.equal(again.cert, A.fingerprint, '… still certificate A');

  finish();
  const put = await slowPut;
  t.equal(put.status, 200, 'the upload in flight across the swap completes with 200');
  t.equal(put.cert, A.fingerprint, '… on its connection made with A');
  const got = await h1('GET', 'slow-upload');
  t.equal(got.status, 200, 'the uploaded object is readable (new connection)');
  t.equal(got.cert, B.fingerprint, '… that new connection shows B');
  t.equal(sha256(got.body), sha256(upload), '… with the bytes sent');
});

t.test('a pair that does not load is refused: the certificate in service stays', async (t) => {
  const errorsBefore = logged('tls certificate not reloaded: keeping the certificate in service').length;
  kubeletUpdate('c', C.cert, B.key); // C's certificate with B's key
  t.ok(await until(() => logged('tls certificate not reloaded: keeping the certificate in service').length > errorsBefore), 'the refusal is logged');
  const err = logged('tls certificate not reloaded: keeping the certificate in service').at(-1)!;
  t.equal(err.level, 50, '… at error');
  t.match(err.err, /does not match/, '… saying why');
  t.equal(err.serving, B.fingerprint, '… and which certificate stays');
  t.equal(await newConnectionCert(), B.fingerprint, 'new connections still get certificate B');
  await sleep(2500); // a few more polls: refused once, not again and again
  t.equal(logged('tls certificate not reloaded: keeping the certificate in service').length, errorsBefore + 1, 'the same bad pair is logged once');
  t.equal(await newConnectionCert(), B.fingerprint, 'still B');
});

t.test('rename over the files, then a write in place (half-written first)', async (t) => {
  // a plain rename(2) over each path, as `mv` / an atomic file writer does (the symlinks are replaced by files)
  writeFileSync(path.join(mnt, 'tls.crt.tmp'), D.cert);
  writeFileSync(path.join(mnt, 'tls.key.tmp'), D.key);
  renameSync(path.join(mnt, 'tls.crt.tmp'), path.join(mnt, 'tls.crt'));
  renameSync(path.join(mnt, 'tls.key.tmp'), path.join(mnt, 'tls.key'));
  t.ok(await until(async () => (await newConnectionCert()) === D.fingerprint), 'rename-over: new connections get certificate D');
  t.equal(logged('tls certificate reloaded').at(-1)?.previous, B.fingerprint, 'logged, from B');

  // in place: the key first, then a certificate cut short (refused), then the whole certificate
  const errorsBefore = logged('tls certificate not reloaded: keeping the certificate in service').length;
  writeFileSync(path.join(mnt, 'tls.key'), E.key);
  writeFileSync(path.join(mnt, 'tls.crt'), E.cert.slice(0, E.cert.length >> 1));
  t.ok(await until(() => logged('tls certificate not reloaded: keeping the certificate in service').length > errorsBefore), 'a half-written certificate is refused');
  t.equal(await newConnectionCert(), D.fingerprint, '… and D stays in service');
  writeFileSync(path.join(mnt, 'tls.crt'), E.cert);
  t.ok(await until(async () => (await newConnectionCert()) === E.fingerprint), 'once complete: new connections get certificate E');
});

t.test('no key material in the logs', async (t) => {
  const out = gw.output();
  for (const p of [A, B, C, D, E]) {
    const body = p.key.split('\n').filter((l) => l && !l.startsWith('-----'));
    t.notOk(body.some((l) => out.includes(l)), 'no line of a private key appears in the output');
  }
});
