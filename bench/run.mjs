#!/usr/bin/env node
// `npm run bench`: the gateway against Debian's nginx as a plain TLS proxy, in front of the same
// upstreams, in one run (../shared/docs/performance-method.md; issue 8). Not a test: numbers only.
//
//   npm run bench -- [--rounds 3] [--seconds 4] [--gib 1] [--only small|big]
//
// Starts on loopback: a throwaway Ceph RGW 16 (scripts/rgw.sh, memstore, beast tcp_nodelay=1); a
// null upstream (nginx answering a fixed 4 KiB body, streaming a large file, dropping PUT bodies:
// as cheap as an upstream gets); nginx 1.22 as a TLS proxy (one worker, h1 + h2, no buffering,
// keep-alive upstream) in front of each; the gateway in passthrough and in sigv4 mode in front of
// each. Every workload runs against every target in alternation, round after round; the figures
// are the medians, with each ratio to nginx from the same run.
//   small GETs   4 KiB presigned GET replayed unchanged: wrk -t1 -c64 (HTTP/1.1), h2load -t1 -c8 -m8
//                (HTTP/2), wrk -c1 for p50/p99 on one keep-alive connection
//   large        one 1 GiB GET and one 1 GiB PUT (presigned, UNSIGNED-PAYLOAD) with curl, h1 and h2
//   CPU          utime + stime of each proxy's process tree from /proc, before and after each run
// Needs: nginx, wrk, h2load (nghttp2-client), curl — `bash scripts/debian-deps.sh install bench`.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, writeFileSync, ftruncateSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';

const arg = (n, d) => { const i = process.argv.indexOf(`--${n}`); return i > 0 ? process.argv[i + 1] : d; };
const ROUNDS = Number(arg('rounds', 3));
const SECONDS = Number(arg('seconds', 4));
const GIB = Number(arg('gib', 1));
const ONLY = arg('only', 'all');
const BIG = Math.round(GIB * 2 ** 30);
const repo = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'ssec-bench-'));
chmodSync(dir, 0o755); // nginx's workers (nobody) read the null upstream's files
const children = [];
const nginxNames = []; // nginx instances started, stopped by cleanup()
const log = (...a) => console.error('[bench]', ...a);

for (const bin of ['nginx', 'wrk', 'h2load', 'curl']) {
  if (spawnSync('sh', ['-c', `command -v ${bin} || test -x /usr/sbin/${bin}`]).status !== 0) {
    console.error(`bench: ${bin} not found (as root: bash scripts/debian-deps.sh install bench)`);
    process.exit(1);
  }
}
const NGINX = spawnSync('sh', ['-c', 'command -v nginx || echo /usr/sbin/nginx'], { encoding: 'utf8' }).stdout.trim();

// ---- processes and their CPU -------------------------------------------------------------------

/** utime + stime in seconds of pid and all its descendants. */
function treeCpu(pid) {
  const kids = new Map();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
      const ppid = Number(f[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push({ pid: Number(p), cpu: (Number(f[11]) + Number(f[12])) / 100 });
    } catch { /* gone */ }
  }
  let own = 0;
  try { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); own = (Number(f[11]) + Number(f[12])) / 100; } catch { /* gone */ }
  const walk = (p) => (kids.get(p) ?? []).reduce((s, k) => s + k.cpu + walk(k.pid), 0);
  return own + walk(pid);
}

function cleanup() {
  for (const c of children) { try { process.kill(c.pid, 'SIGKILL'); } catch { /* */ } }
  // SIGTERM: nginx's master stops its workers (a SIGKILLed master leaves them running)
  for (const n of nginxNames) {
    try { process.kill(Number(readFileSync(join(dir, n, 'nginx.pid'), 'utf8')), 'SIGTERM'); } catch { /* */ }
  }
  try { execFileSync('bash', [join(repo, 'scripts/rgw.sh'), 'stop', join(dir, 'rgw'), '--clean'], { stdio: 'ignore' }); } catch { /* */ }
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

async function freePort() {
  const net = await import('node:net');
  return new Promise((resolve) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });
}

// ---- the upstreams ----------------------------------------------------------------------------

log('starting RGW 16 …');
execFileSync('bash', [join(repo, 'scripts/rgw.sh'), 'start', join(dir, 'rgw')], { stdio: ['ignore', 'ignore', 'inherit'] });
const rgw = JSON.parse(readFileSync(join(dir, 'rgw', 'rgw.json'), 'utf8'));
const rgwPid = rgw.pids.rgw;
const osdPid = rgw.pids.osd;

// one self-signed certificate for every TLS proxy (the gateway's own, made by a first start)
const tlsDir = join(dir, 'tls');

function startNginx(name, conf) {
  nginxNames.push(name);
  const d = join(dir, name);
  mkdirSync(join(d, 'tmp'), { recursive: true });
  writeFileSync(join(d, 'nginx.conf'), `pid ${d}/nginx.pid; error_log ${d}/error.log warn; daemon on;\n${conf}`);
  execFileSync(NGINX, ['-p', d, '-c', join(d, 'nginx.conf')], { stdio: 'inherit' });
  return Number(readFileSync(join(d, 'nginx.pid'), 'utf8'));
}
const tempPaths = (d) => `client_body_temp_path ${d}/tmp/cb; proxy_temp_path ${d}/tmp/px; fastcgi_temp_path ${d}/tmp/fc; uwsgi_temp_path ${d}/tmp/uw; scgi_temp_path ${d}/tmp/sc;`;

// the null upstream: nginx answering from memory / a sparse file, dropping PUT bodies
const nullPort = await freePort();
const bigFile = join(dir, 'null-big.bin');
{ const fd = openSync(bigFile, 'w'); ftruncateSync(fd, BIG); closeSync(fd); }
writeFileSync(join(dir, 'small.bin'), randomBytes(4096));
const nullPid = startNginx('nginx-null', `worker_processes 1; events { worker_connections 4096; }
http { access_log off; server_tokens off; tcp_nodelay on; keepalive_requests 1000000; ${tempPaths(join(dir, 'nginx-null'))}
  client_max_body_size 0;
  server { listen 127.0.0.1:${nullPort};
    location = /bench/small { alias ${dir}/small.bin; }
    location = /bench/big { if ($request_method = PUT) { return 200; } alias ${bigFile}; }
    location / { return 200; } } }`);

// ---- the proxies ------------------------------------------------------------------------------

async function startGateway(name, upstream, extra = [], env = {}) {
  const port = await freePort();
  const p = spawn(process.execPath, [join(repo, 'bin/ssec-gateway.js'), 'serve', '--upstream', upstream, '--https-port', String(port), '--admin-port', '0', '--workers', '1',
    '--state-dir', join(dir, 'gw-state'), '--log-level', 'warn', ...extra], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.push(p);
  let out = '';
  p.stdout.on('data', (c) => { out += c; });
  p.stderr.on('data', (c) => { out += c; });
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${name} did not start:\n${out}`)), 20000);
    const check = () => { if (/ssec-gateway [\d.]+: https:/.test(out)) { clearTimeout(t); resolve(); } };
    p.stdout.on('data', check); p.stderr.on('data', check);
    p.once('exit', (c) => reject(new Error(`${name} exited ${c}:\n${out}`)));
  });
  p.removeAllListeners('exit');
  return { name, url: `https://127.0.0.1:${port}`, pid: p.pid, kind: 'gateway' };
}

const nginxProxyConf = (d, port, upstreamPort, workers = 1) => `worker_processes ${workers}; events { worker_connections 4096; }
http { access_log off; server_tokens off; tcp_nodelay on; keepalive_requests 1000000; keepalive_timeout 75s; ${tempPaths(d)}
  ssl_certificate ${tlsDir}/cert.pem; ssl_certificate_key ${tlsDir}/key.pem;
  ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache shared:SSL:10m;
  upstream up { server 127.0.0.1:${upstreamPort}; keepalive 128; }
  client_max_body_size 0;
  proxy_http_version 1.1; proxy_set_header Connection "";
  proxy_set_header Host $http_host; proxy_set_header X-Forwarded-Proto https;
  proxy_request_buffering off; proxy_buffering off;
  proxy_buffer_size 256k; proxy_buffers 4 256k; client_body_buffer_size 256k;
  proxy_read_timeout 300s; proxy_send_timeout 300s;
  server { listen 127.0.0.1:${port} ssl http2; location / { proxy_pass http://up; } } }`;

async function startNginxProxy(name, upstreamPort, workers = 1) {
  const port = await freePort();
  const pid = startNginx(name, nginxProxyConf(join(dir, name), port, upstreamPort, workers));
  return { name, url: `https://127.0.0.1:${port}`, pid, kind: 'nginx' };
}

// sigv4 mode: one client, signing upstream with RGW's credential
const client = { accessKeyId: 'BENCHCLIENT000000001', secretAccessKey: randomBytes(20).toString('hex') };
writeFileSync(join(dir, 'clients.yaml'), `clients:\n  - accessKeyId: ${client.accessKeyId}\n    secretAccessKey: ${client.secretAccessKey}\n`);
const sigv4Args = ['--auth-mode', 'sigv4', '--clients-file', join(dir, 'clients.yaml'), '--upstream-access-key-id', rgw.accessKey, '--upstream-secret-access-key', 'env:BENCH_UPSTREAM_SECRET'];
const sigv4Env = { BENCH_UPSTREAM_SECRET: rgw.secretKey };
const rgwPort = Number(new URL(rgw.http).port);

log('starting proxies …');
const first = await startGateway('gateway (passthrough)', rgw.http, ['--auth-mode', 'passthrough']);
mkdirSync(tlsDir, { recursive: true });
writeFileSync(join(tlsDir, 'cert.pem'), readFileSync(join(dir, 'gw-state', 'tls', 'cert.pem')));
writeFileSync(join(tlsDir, 'key.pem'), readFileSync(join(dir, 'gw-state', 'tls', 'key.pem')));
const rgwTargets = [
  await startNginxProxy('nginx-rgw', rgwPort),
  first,
  await startGateway('gateway (sigv4)', rgw.http, sigv4Args, sigv4Env),
];
// encryption.mode gateway: the gateway encrypts (docs/format.md); the 1 GiB workloads send SSE-C headers to it
const encTarget = ONLY === 'small' ? undefined : await startGateway('gateway (sigv4, encryption gateway)', rgw.http, [...sigv4Args, '--encryption-mode', 'gateway'], sigv4Env);
if (encTarget) encTarget.sse = true;
const bigTargets = [...rgwTargets, ...(encTarget ? [encTarget] : [])];
const nullTargets = [
  await startNginxProxy('nginx-nullproxy', nullPort),
  await startGateway('gateway (passthrough) → null', `http://127.0.0.1:${nullPort}`, ['--auth-mode', 'passthrough', '--upstream-profile', 'aws']),
];
nullTargets[0].name = 'nginx → null';
// every core: nginx with a worker per CPU against the gateway with one process and with `workers` = CPUs
const coreTargets = ONLY === 'big' ? [] : [
  await startNginxProxy('nginx-allcores', nullPort, cpus().length),
  nullTargets[1],
  await startGateway(`gateway (passthrough, ${cpus().length} workers) → null`, `http://127.0.0.1:${nullPort}`, ['--auth-mode', 'passthrough', '--upstream-profile', 'aws', '--workers', String(cpus().length)]),
];
if (coreTargets.length) coreTargets[0].name = `nginx (${cpus().length} workers) → null`;

// ---- requests ---------------------------------------------------------------------------------

const rgwSigner = new SignatureV4({ credentials: { accessKeyId: rgw.accessKey, secretAccessKey: rgw.secretKey }, region: rgw.region, service: 's3', sha256: Hash.bind(null, 'sha256'), uriEscapePath: false });
const clientSigner = new SignatureV4({ credentials: client, region: 'us-east-1', service: 's3', sha256: Hash.bind(null, 'sha256'), uriEscapePath: false });
const benchKey = randomBytes(32);
const SSE_HEADERS = {
  'x-amz-server-side-encryption-customer-algorithm': 'AES256',
  'x-amz-server-side-encryption-customer-key': benchKey.toString('base64'),
  'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(benchKey).digest('base64'),
};
const sseCurl = (t) => (t.sse ? Object.entries(SSE_HEADERS).flatMap(([k, v]) => ['-H', `${k}: ${v}`]) : []);
async function presign(target, method, path) {
  const u = new URL(target.url);
  const signer = target.name.includes('sigv4') ? clientSigner : rgwSigner;
  // S3 presigned URLs sign UNSIGNED-PAYLOAD (what @aws-sdk/s3-request-presigner does); SSE-C headers
  // are signed as headers (a key in a URL would be refused)
  const sse = target.sse ? SSE_HEADERS : {};
  const r = await signer.presign(new HttpRequest({ method, protocol: u.protocol, hostname: u.hostname, port: Number(u.port), path, headers: { host: u.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...sse } }),
    { expiresIn: 3600, unhoistableHeaders: new Set(Object.keys(sse)) }); // hoisted: X-Amz-Content-Sha256=UNSIGNED-PAYLOAD in the query
  const q = Object.entries(r.query).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
  return `${target.url}${path}?${q}`;
}
function curl(args) {
  const r = spawnSync('curl', ['-sS', '-k', ...args], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`curl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
// the objects on RGW: a 4 KiB object and (unless --only small) a 1 GiB one to GET
const direct = { name: 'direct', url: rgw.http };
writeFileSync(join(dir, 'small.obj'), randomBytes(4096));
curl(['-X', 'PUT', await presign(direct, 'PUT', '/bench')]);
curl(['-T', join(dir, 'small.obj'), await presign(direct, 'PUT', '/bench/small')]);
const bigPut = join(dir, 'big.put');
if (ONLY !== 'small') {
  execFileSync('head', ['-c', String(BIG), '/dev/urandom'], { stdio: ['ignore', openSync(bigPut, 'w'), 'inherit'] });
  curl(['-T', bigPut, await presign(direct, 'PUT', '/bench/big')]);
  // the same bytes in the gateway's format, for the encrypting gateway's GETs
  if (encTarget) curl([...sseCurl(encTarget), '-T', bigPut, await presign(encTarget, 'PUT', '/bench/big-enc')]);
}

// memstore keeps everything in the OSD's RAM and RGW frees overwritten data only in its garbage
// collection: every 1 GiB PUT is deleted and collected at once, or the OSD fills up and RGW stalls
const deleteBigPut = await presign(direct, 'DELETE', '/bench/big-put');
function freeBigPut() {
  curl(['-X', 'DELETE', deleteBigPut]);
  execFileSync('radosgw-admin', ['-c', join(dir, 'rgw', 'ceph.conf'), 'gc', 'process', '--include-all'], { stdio: 'ignore', timeout: 120_000 });
}

// ---- workloads --------------------------------------------------------------------------------

const measure = (t, fn) => {
  const procs = { proxy: t.pid, rgw: rgwPid, osd: osdPid, null: nullPid };
  const before = Object.fromEntries(Object.entries(procs).map(([k, p]) => [k, treeCpu(p)]));
  const t0 = process.hrtime.bigint();
  const out = fn();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = Object.fromEntries(Object.entries(procs).map(([k, p]) => [k, treeCpu(p) - before[k]]));
  return { ...out, secs, cpu };
};
const ms = (s) => { const m = /([\d.]+)(us|ms|s)\b/.exec(s); if (!m) return NaN; return Number(m[1]) * (m[2] === 'us' ? 1e-3 : m[2] === 's' ? 1e3 : 1); };

function wrk(url, conns, threads = 1) {
  const out = execFileSync('wrk', [`-t${threads}`, `-c${conns}`, `-d${SECONDS}s`, '--latency', url], { encoding: 'utf8' });
  const n = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors: (.*)/.exec(out)?.[1];
  return { n: n - non2xx, bad: non2xx, errors, p50: ms(/ 50%\s+(\S+)/.exec(out)?.[1] ?? ''), p99: ms(/ 99%\s+(\S+)/.exec(out)?.[1] ?? '') };
}
function h2load(url) {
  const out = execFileSync('h2load', ['-t1', '-c8', '-m8', '-D', String(SECONDS), url], { encoding: 'utf8' });
  const failed = Number(/(\d+) failed/.exec(out)?.[1] ?? 0) + Number(/(\d+) errored/.exec(out)?.[1] ?? 0);
  const s2 = Number(/status codes: (\d+) 2xx/.exec(out)?.[1] ?? 0);
  const other = [...(/status codes: \d+ 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out) ?? [])].slice(1).reduce((a, b) => a + Number(b), 0);
  return { n: s2, bad: failed + other };
}

const results = []; // { workload, target, round, ... }
const WORKLOADS = [];
const smallUrl = new Map();
const bigUrls = new Map();
for (const t of [...bigTargets, ...nullTargets, ...coreTargets.filter((c) => !nullTargets.includes(c))]) {
  smallUrl.set(t, await presign(t, 'GET', '/bench/small'));
  bigUrls.set(t, { get: await presign(t, 'GET', t.sse ? '/bench/big-enc' : '/bench/big'), put: await presign(t, 'PUT', '/bench/big-put') });
}
// every target must answer the small GET before anything is measured
for (const t of [...rgwTargets, ...nullTargets, ...coreTargets]) {
  const out = curl(['-w', '\n%{http_code}', smallUrl.get(t)]);
  if (!out.endsWith('\n200')) { console.error(`bench: ${t.name} answers the small GET with:\n${out}`); process.exit(1); }
}
if (ONLY !== 'big') {
  for (const [group, targets] of [['RGW', rgwTargets], ['null', nullTargets]]) {
    WORKLOADS.push({ name: `small GET h1 64 conns (${group})`, targets, run: (t) => measure(t, () => wrk(smallUrl.get(t), 64)), per: 'req' });
    WORKLOADS.push({ name: `small GET h2 8×8 (${group})`, targets, run: (t) => measure(t, () => h2load(smallUrl.get(t))), per: 'req' });
    WORKLOADS.push({ name: `small GET h1 1 conn (${group})`, targets, run: (t) => measure(t, () => wrk(smallUrl.get(t), 1)), per: 'lat' });
  }
  WORKLOADS.push({ name: 'small GET h1 64 conns (null, all cores)', targets: coreTargets, run: (t) => measure(t, () => wrk(smallUrl.get(t), 64, 2)), per: 'req' });
}
if (ONLY !== 'small') {
  for (const h of ['--http1.1', '--http2']) {
    WORKLOADS.push({ name: `1 GiB GET ${h.slice(2)} (RGW)`, targets: bigTargets, per: 'GiB', run: (t) => measure(t, () => {
      const out = curl([h, ...sseCurl(t), '-o', '/dev/null', '-w', '%{http_code} %{size_download}', bigUrls.get(t).get]);
      const [code, size] = out.split(' ').map(Number);
      return { n: code === 200 && size === BIG ? 1 : 0, bad: code === 200 && size === BIG ? 0 : 1 };
    }) });
    WORKLOADS.push({ name: `1 GiB PUT ${h.slice(2)} (RGW)`, targets: bigTargets, per: 'GiB', run: (t) => measure(t, () => {
      const out = curl([h, ...sseCurl(t), '-T', bigPut, '-o', '/dev/null', '-w', '%{http_code}', bigUrls.get(t).put]);
      return { n: out === '200' ? 1 : 0, bad: out === '200' ? 0 : 1 };
    }), after: freeBigPut });
  }
}

for (let round = 1; round <= ROUNDS; round++) {
  for (const w of WORKLOADS) {
    for (const t of w.targets) {
      const r = w.run(t);
      await w.after?.();
      results.push({ workload: w.name, per: w.per, target: t.name, kind: t.kind, round, ...r });
      log(`round ${round} ${w.name.padEnd(32)} ${t.name.padEnd(30)} n=${r.n} bad=${r.bad} ${r.secs.toFixed(1)} s proxy CPU ${r.cpu.proxy.toFixed(2)} s${r.p50 !== undefined ? ` p50 ${r.p50} ms p99 ${r.p99} ms` : ''}`);
    }
  }
}

// ---- the table --------------------------------------------------------------------------------

const median = (xs) => { const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN; };
const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');
console.log(`\n## ssec-gateway vs ${spawnSync(NGINX, ['-v'], { encoding: 'utf8' }).stderr.trim().replace(/^nginx version: /, '')}`);
console.log(`${cpus().length} × ${cpus()[0].model}; node ${process.version}; ${ROUNDS} rounds, ${SECONDS} s per small-GET run, ${GIB} GiB per large run; medians (ratio to nginx of the same round, median)\n`);
console.log('| workload | target | rate | proxy CPU | ratio to nginx | p50 / p99 |');
console.log('|---|---|---|---|---|---|');
for (const w of WORKLOADS) {
  const rows = results.filter((r) => r.workload === w.name);
  for (const t of w.targets) {
    const mine = rows.filter((r) => r.target === t.name);
    const unit = w.per === 'GiB' ? (r) => r.cpu.proxy / (GIB * r.n || NaN) : (r) => (r.cpu.proxy / r.n) * 1e4;
    const cpu = median(mine.map(unit));
    const ratio = median(mine.map((r) => { const n = rows.find((x) => x.round === r.round && x.kind === 'nginx'); return n ? unit(r) / unit(n) : NaN; }));
    const rate = w.per === 'GiB' ? `${fmt(median(mine.map((r) => (GIB * 1024 * r.n) / r.secs)), 0)} MiB/s` : `${fmt(median(mine.map((r) => r.n / r.secs)), 0)} req/s`;
    const cpuText = w.per === 'GiB' ? `${fmt(cpu)} s/GiB` : `${fmt(cpu)} s/10k`;
    const lat = w.per === 'lat' ? `${fmt(median(mine.map((r) => r.p50)))} / ${fmt(median(mine.map((r) => r.p99)))} ms` : '';
    const bad = mine.reduce((s, r) => s + r.bad, 0);
    console.log(`| ${w.name} | ${t.name} | ${rate}${bad ? ` (${bad} failed)` : ''} | ${cpuText} | ${t.kind === 'nginx' ? '1' : `×${fmt(ratio)}`} | ${lat} |`);
  }
}
process.exit(0);
