/**
 * The command line as a user meets it: `node bin/ssec-gateway.js …` spawned as a child process
 * (built dist/), with an environment stripped of any SSEC_GATEWAY_* variable of this machine.
 * Upstreams here are local servers this file controls (live, slow) or a dead port: no RGW needed.
 */
import t from 'tap';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { parse as parseYaml } from 'yaml';
import { REPO } from '../helpers/gateway.js';

const started = performance.now();
const BIN = path.join(REPO, 'bin', 'ssec-gateway.js');
const tmpDirs: string[] = [];
const tmp = (p: string) => { const d = mkdtempSync(path.join(os.tmpdir(), `ssec-cli-${p}-`)); tmpDirs.push(d); return d; };

/** The flags the brief promises a user finds in every help text. */
const FLAGS = ['--upstream', '--upstream-region', '--host', '--https-port', '--http-port', '--admin-port', '--tls-cert', '--tls-key', '--upstream-ca'];

function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('SSEC_GATEWAY_')) env[k] = v;
  return { ...env, ...extra };
}

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Runs the CLI to completion. */
function cli(args: string[], env: Record<string, string> = {}, timeoutMs = 15_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`ssec-gateway ${args.join(' ')}: no exit in ${timeoutMs} ms\n${stdout}${stderr}`)); }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

interface Served {
  child: ChildProcess;
  https: number;
  admin: number;
  stdout(): string;
  stderr(): string;
  logs(): Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  stop(): Promise<void>;
}

/** `serve ARGS` until its `listening` log line and its stderr banner; stop() = SIGTERM (SIGKILL after 10 s). */
async function serve(args: string[], env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
  const logs = () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => { try { return JSON.parse(l) as Record<string, unknown>; } catch { return {}; } });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, at: performance.now() }));
  });
  const listening = await Promise.race([
    (async () => {
      for (;;) {
        const l = logs().find((x) => x.msg === 'listening');
        // and its banner on stderr, written just after the log line but through another pipe:
        // a test reading stderr as soon as stdout said 'listening' sometimes found it empty (CI)
        if (l && /^ssec-gateway .*\n/m.test(err)) return l as unknown as { https: AddressInfo; admin: AddressInfo };
        await sleep(20);
      }
    })(),
    exited.then((e) => { throw new Error(`serve exited (${e.code ?? e.signal}) before listening:\n${out}${err}`); }),
    sleep(15_000).then(() => { throw new Error(`serve did not listen in 15 s:\n${out}${err}`); }),
  ]);
  const s: Served = {
    child, https: listening.https.port, admin: listening.admin.port,
    stdout: () => out, stderr: () => err, logs, exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  running.add(s);
  return s;
}
const running = new Set<Served>();
t.teardown(async () => {
  await Promise.all([...running].map((s) => s.stop()));
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
  t.comment(`cli wall time: ${((performance.now() - started) / 1000).toFixed(1)} s`);
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** true when nothing accepts TCP connections on 127.0.0.1:port */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
function nothingListens(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

interface Res { status: number; headers: http.IncomingHttpHeaders; body: string }
function get(url: string, opts: { ca?: string | Buffer; agent?: https.Agent | false; method?: string } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = (mod.request as typeof https.request)(u, { method: opts.method ?? 'GET', ca: opts.ca, agent: opts.agent ?? false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.setTimeout(20_000, () => req.destroy(new Error(`GET ${url}: no answer in 20 s`)));
    req.on('error', reject);
    req.end();
  });
}

function flagRe(flag: string): RegExp {
  return new RegExp(`${flag.replace(/-/g, '\\-')}(?![\\w-])`);
}

// ---- help -----------------------------------------------------------------------------------------

t.test('help texts mention every flag', async (t) => {
  const runs = await Promise.all([['--help'], ['serve', '--help'], ['config', 'check', '--help']].map(async (args) => ({ args, r: await cli(args) })));
  for (const { args, r } of runs) {
    const label = `ssec-gateway ${args.join(' ')}`;
    t.equal(r.code, 0, `${label}: exit 0`);
    t.equal(r.stderr, '', `${label}: nothing on stderr`);
    const missing = FLAGS.filter((f) => !flagRe(f).test(r.stdout));
    t.same(missing, [], `${label}: mentions ${FLAGS.join(' ')}`);
  }
});

// ---- config check ---------------------------------------------------------------------------------

t.test('config check prints the effective configuration as YAML', async (t) => {
  const state = tmp('check');
  const r = await cli(['config', 'check', '--upstream', 'http://rgw.example:7480', '--state-dir', state, '--http-port', '8080']);
  t.equal(r.code, 0, 'exit 0', { stderr: r.stderr });
  const cfg = parseYaml(r.stdout) as Record<string, Record<string, unknown>>;
  t.equal(cfg.upstream?.url, 'http://rgw.example:7480', 'flag value');
  t.equal(cfg.upstream?.region, 'us-east-1', 'default region');
  t.equal(cfg.listen?.httpsPort, 8443, 'default HTTPS port, as a number');
  t.equal(cfg.listen?.httpPort, 8080, 'the plaintext port given');
  t.equal(cfg.listen?.adminPort, 9464, 'default admin port');
  t.equal(cfg.listen?.host, '127.0.0.1', 'default bind address');
  t.equal((cfg as Record<string, unknown>).stateDir, state);
  t.equal(cfg.plaintext?.mode, 'forward');
  t.notOk(existsSync(path.join(state, 'tls')), 'config check creates nothing in the state dir');
});

t.test('precedence: YAML file < SSEC_GATEWAY_* environment < flags', async (t) => {
  const dir = tmp('precedence');
  const file = path.join(dir, 'gw.yaml');
  writeFileSync(file, 'upstream:\n  region: from-file\nlisten:\n  httpsPort: 1111\n');
  const env = { SSEC_GATEWAY_UPSTREAM_REGION: 'from-env', SSEC_GATEWAY_LISTEN_HTTPS_PORT: '2222' };
  const flags = ['--upstream-region', 'from-flag', '--https-port', '3333'];
  const check = async (args: string[], e: Record<string, string>) => {
    const r = await cli(['config', 'check', ...args], e);
    if (r.code !== 0) return { error: r.stderr };
    const c = parseYaml(r.stdout) as { upstream: { region: string }; listen: { httpsPort: number } };
    return { region: c.upstream.region, port: c.listen.httpsPort };
  };
  const [fileOnly, fileEnv, all, viaEnvFile] = await Promise.all([
    check(['--config', file], {}),
    check(['--config', file], env),
    check(['--config', file, ...flags], env),
    check(flags.slice(0, 2), { SSEC_GATEWAY_CONFIG: file }),
  ]);
  t.same(fileOnly, { region: 'from-file', port: 1111 }, 'file over defaults');
  t.same(fileEnv, { region: 'from-env', port: 2222 }, 'environment over file');
  t.same(all, { region: 'from-flag', port: 3333 }, 'flags over environment and file');
  t.same(viaEnvFile, { region: 'from-flag', port: 1111 }, 'SSEC_GATEWAY_CONFIG names the file too; a flag still wins');
});

t.test('every configuration problem is reported in one run (exit 2)', async (t) => {
  const dir = tmp('problems');
  const file = path.join(dir, 'bad.yaml');
  writeFileSync(file, 'nonsense: 1\nupstream:\n  url: "not a url"\n');
  const env = { SSEC_GATEWAY_NO_SUCH_SETTING: 'x' };
  const args = ['--config', file, '--no-such-flag', 'x', '--https-port', 'eighty'];
  for (const cmd of [['config', 'check'], ['serve']]) {
    const label = cmd.join(' ');
    const r = await cli([...cmd, ...args], env);
    t.equal(r.code, 2, `${label}: exit 2`);
    t.equal(r.stdout, '', `${label}: nothing on stdout (no YAML, no log: it did not start)`);
    t.match(r.stderr, /5 problems/, `${label}: five problems counted`);
    t.match(r.stderr, /unknown key "nonsense"/, `${label}: unknown YAML key`);
    t.match(r.stderr, /unknown environment variable SSEC_GATEWAY_NO_SUCH_SETTING/, `${label}: unknown env var`);
    t.match(r.stderr, /unknown flag --no-such-flag/, `${label}: unknown flag`);
    t.match(r.stderr, /listen\.httpsPort \(from --https-port\): expected an integer, got "eighty"/, `${label}: bad int`);
    t.match(r.stderr, /upstream\.url \(from [^)]*bad\.yaml\): not a URL: "not a url"/, `${label}: bad URL`);
    t.notMatch(r.stderr, /\n\s+at /, `${label}: no stack trace`);
  }
});

t.test('argument-parsing problems are reported together with the configuration problems', async (t) => {
  // A flag missing its value, and an unknown flag followed by another flag, are problems of the same run:
  // the user should see all of them at once, and an unknown flag must be named as such.
  const r1 = await cli(['config', 'check', '--https-port', '1', '--upstream-region'], { SSEC_GATEWAY_TYPO: '1' });
  t.equal(r1.code, 2);
  t.match(r1.stderr, /--upstream-region needs a value/, 'missing value reported');
  t.match(r1.stderr, /unknown environment variable SSEC_GATEWAY_TYPO/, 'the unknown env var in the same run');
  const r2 = await cli(['config', 'check', '--no-such-flag', '--https-port', '1']);
  t.equal(r2.code, 2);
  t.match(r2.stderr, /unknown flag --no-such-flag/, 'an unknown flag followed by another flag is reported as unknown');
});

t.test('a literal fingerprint.secret is redacted in config check output', async (t) => {
  const secret = 'literal-S3cret-value-4d1f9c';
  const dir = tmp('secret');
  const file = path.join(dir, 's.yaml');
  writeFileSync(file, `fingerprint:\n  secret: ${secret}\n`);
  const runs = await Promise.all([
    cli(['config', 'check', '--fingerprint-secret', secret]),
    cli(['config', 'check'], { SSEC_GATEWAY_FINGERPRINT_SECRET: secret }),
    cli(['config', 'check', '--config', file]),
  ]);
  for (const [i, r] of runs.entries()) {
    const label = ['flag', 'env', 'YAML'][i]!;
    t.equal(r.code, 0, `${label}: exit 0`);
    t.notOk((r.stdout + r.stderr).includes(secret), `${label}: the secret is not printed`);
    t.equal((parseYaml(r.stdout) as { fingerprint: { secret: string } }).fingerprint.secret, '<redacted>', `${label}: shown as <redacted>`);
  }
  const ref = await cli(['config', 'check', '--fingerprint-secret', 'env:MY_FP_SECRET']);
  t.equal((parseYaml(ref.stdout) as { fingerprint: { secret: string } }).fingerprint.secret, 'env:MY_FP_SECRET', 'a reference (env:NAME) is shown');
});

// ---- serve ----------------------------------------------------------------------------------------

t.test('serve with no configuration: self-signed certificate in the state dir, kept across restarts; HTTPS answers', async (t) => {
  const state = tmp('selfsigned');
  const certFile = path.join(state, 'tls', 'cert.pem');
  const deadDefault = await nothingListens(7480);

  const s1 = await serve(['--state-dir', state, '--admin-port', '0', '--https-port', '0']);
  t.ok(existsSync(certFile), 'certificate created in STATE/tls/cert.pem');
  t.ok(s1.stderr().includes(certFile), `stderr says where: ${s1.stderr().trim()}`);
  t.match(s1.stderr(), /https:\/\/127\.0\.0\.1:\d+ → http:\/\/127\.0\.0\.1:7480/, 'banner: listener and default upstream');
  const pem1 = readFileSync(certFile, 'utf8');
  const cert = new X509Certificate(pem1);
  t.match(cert.subjectAltName ?? '', /IP Address:127\.0\.0\.1/, 'valid for 127.0.0.1');

  const peer = await peerCertificate(s1.https, pem1);
  t.equal(peer.fingerprint256, cert.fingerprint256, 'the HTTPS listener serves that certificate (trusted with it as the CA)');

  const r = await get(`https://127.0.0.1:${s1.https}/`, { ca: pem1 });
  if (deadDefault) {
    t.equal(r.status, 503, 'unsigned GET / forwarded to the dead default upstream → 503');
    t.match(String(r.headers['content-type']), /xml/);
    t.match(r.body, /<Code>ServiceUnavailable<\/Code>/, 'S3 XML error');
  } else {
    t.comment('something listens on 127.0.0.1:7480: the dead-upstream 503 check is skipped');
  }
  await s1.stop();
  t.equal((await s1.exited).code, 0, 'SIGTERM → exit 0');

  const s2 = await serve(['--state-dir', state, '--admin-port', '0', '--https-port', '0']);
  t.equal(readFileSync(certFile, 'utf8'), pem1, 'restart: same certificate file content');
  t.ok(s2.stderr().includes(certFile), 'restart: stderr still says where');
  const peer2 = await peerCertificate(s2.https, pem1).catch((e: Error) => { t.fail(`restart: ${e.message}`, { https: s2.https, stdout: s2.stdout(), stderr: s2.stderr(), exit: s2.child.exitCode, signal: s2.child.signalCode }); return undefined; });
  t.equal(peer2?.fingerprint256, cert.fingerprint256, 'restart: the same certificate is served');
  await s2.stop();
});

const port8443Free = await portFree(8443);
t.test('serve on the true default port 8443', { skip: port8443Free ? false : '127.0.0.1:8443 is in use on this machine' }, async (t) => {
  const state = tmp('default-port');
  const s = await serve(['--state-dir', state, '--admin-port', '0']);
  t.equal(s.https, 8443, 'listens on 8443 by default');
  t.match(s.stderr(), /https:\/\/127\.0\.0\.1:8443 /, 'banner names it');
  const r = await get('https://127.0.0.1:8443/', { ca: readFileSync(path.join(state, 'tls', 'cert.pem')) });
  t.ok(r.status === 503 || r.status < 500, `answers HTTPS (${r.status})`);
  await s.stop();
  t.equal((await s.exited).code, 0);
});

t.test('--tls-cert/--tls-key: the given certificate is served, no self-signed one is made', async (t) => {
  const dir = tmp('tls');
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=cli-test.example',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:cli-test.example', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
  const pem = readFileSync(certFile, 'utf8');
  const state = tmp('tls-state');
  const s = await serve(['--state-dir', state, '--admin-port', '0', '--https-port', '0', '--tls-cert', certFile, '--tls-key', keyFile]);
  const peer = await peerCertificate(s.https, pem);
  t.equal(peer.fingerprint256, new X509Certificate(pem).fingerprint256, 'peer certificate is the one given');
  t.equal(peer.subject.CN, 'cli-test.example');
  t.notOk(existsSync(path.join(state, 'tls', 'cert.pem')), 'no self-signed certificate created');
  t.notMatch(s.stderr(), /self-signed/, 'no self-signed notice');
  await s.stop();
});

// ---- admin endpoints and shutdown -----------------------------------------------------------------

/** A local upstream that answers every request after `delayMs`. */
async function slowUpstream(delayMs: number) {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain', 'x-amz-request-id': 'slow-1' }).end('slow-ok'), delayMs);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

t.test('/healthz, /readyz (live and dead upstream), /metrics', async (t) => {
  const up = await slowUpstream(0);
  t.teardown(up.close);
  const deadPort = await freePort();
  const liveState = tmp('admin-live');
  const [live, dead] = await Promise.all([
    serve(['--state-dir', liveState, '--admin-port', '0', '--https-port', '0', '--upstream', up.url]),
    serve(['--state-dir', tmp('admin-dead'), '--admin-port', '0', '--https-port', '0', '--upstream', `http://127.0.0.1:${deadPort}`]),
  ]);
  const a = (s: Served, p: string) => get(`http://127.0.0.1:${s.admin}${p}`);
  t.equal((await a(live, '/healthz')).status, 200, '/healthz 200');
  t.equal((await a(dead, '/healthz')).status, 200, '/healthz 200 even when the upstream is down (the process is healthy)');
  t.equal((await a(live, '/readyz')).status, 200, '/readyz 200 with a live upstream');
  const notReady = await a(dead, '/readyz');
  t.equal(notReady.status, 503, '/readyz 503 with a dead upstream');
  t.match(notReady.body, /unreachable|ECONNREFUSED/, `says why: ${notReady.body.trim()}`);
  // one request through, so request series exist
  const through = await get(`https://127.0.0.1:${live.https}/bucket/key`, { ca: readFileSync(path.join(liveState, 'tls', 'cert.pem')) });
  t.equal(through.status, 200, 'a GET through the gateway');
  const m = await a(live, '/metrics');
  t.equal(m.status, 200, '/metrics 200');
  t.match(String(m.headers['content-type']), /text\/plain/, 'Prometheus text format');
  t.match(m.body, /^ssec_gateway_\w+/m, 'ssec_gateway_ series');
  t.match(m.body, /ssec_gateway_\w+_bucket\{[^}]*operation="GetObject"/, 'a request histogram with the S3 operation label');
  await Promise.all([live.stop(), dead.stop()]);
});

t.test('SIGTERM: an in-flight request completes, then the process exits 0 within the grace period', async (t) => {
  const delay = 1500;
  const grace = 8000;
  const up = await slowUpstream(delay);
  t.teardown(up.close);
  const state = tmp('sigterm');
  const s = await serve(['--state-dir', state, '--admin-port', '0', '--https-port', '0', '--upstream', up.url, '--shutdown-grace-ms', String(grace)]);
  const ca = readFileSync(path.join(state, 'tls', 'cert.pem'));
  const agent = new https.Agent({ keepAlive: true, ca }); // a keep-alive client: its idle socket must not hold the exit
  t.teardown(() => agent.destroy());

  const inFlight = get(`https://127.0.0.1:${s.https}/bucket/slow-object`, { ca, agent });
  // (the start-up profile detection's `GET /` is not the request in flight)
  const arrived = () => up.seen.filter((s) => s === 'GET /bucket/slow-object').length;
  for (let i = 0; i < 200 && arrived() === 0; i++) await sleep(10);
  t.equal(arrived(), 1, 'the request reached the upstream');
  const termAt = performance.now();
  s.child.kill('SIGTERM');

  await sleep(150);
  const during = await get(`http://127.0.0.1:${s.admin}/readyz`).catch((e: Error) => ({ status: -1, body: e.message, headers: {} }));
  t.equal(during.status, 503, `/readyz during the drain: 503 (${during.body.trim()})`);
  const newConn = await new Promise<string>((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port: s.https });
    c.once('connect', () => { c.destroy(); resolve('connected'); });
    c.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
  t.equal(newConn, 'ECONNREFUSED', 'no new connections once draining');

  const res = await inFlight;
  t.equal(res.status, 200, 'the in-flight request completed');
  t.equal(res.body, 'slow-ok', 'with its whole body');
  const exit = await s.exited;
  const ms = exit.at - termAt;
  t.equal(exit.code, 0, 'exit code 0');
  t.equal(exit.signal, null, 'not killed by a signal');
  t.ok(ms < grace, `exited ${Math.round(ms)} ms after SIGTERM, within the ${grace} ms grace period`);
  t.ok(ms < delay + 2000, 'did not sit out the grace period once the request was done (idle keep-alive socket closed)');
  t.ok(ms >= delay - 200, 'did not exit before the in-flight request was done');
});

// ---- utilities ------------------------------------------------------------------------------------

function peerCertificate(port: number, ca: string): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      const c = s.getPeerCertificate();
      s.destroy();
      resolve(c);
    });
    s.once('error', reject);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
}

