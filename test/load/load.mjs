#!/usr/bin/env node
// Load: many concurrent connections doing SSE-C GETs and PUTs, then many idle TLS connections.
// Prints what a user would look at and exits 1 when a promise of the README's "Failure behaviour
// and limits" does not hold (a 5xx other than the configured shedding, RSS growing, connections not
// released). Bounded in time: --seconds (default 60) plus about a minute of setup and idle phase.
//
//   npm run test:load [-- --seconds 60 --connections 1000 --idle 10000 --max-in-flight 1024]
//
// Starts its own RGW (scripts/rgw.sh) and gateway (auth mode none, one process) on loopback.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const arg = (n, d) => { const i = process.argv.indexOf(`--${n}`); return i > 0 ? Number(process.argv[i + 1]) : d; };
const SECONDS = arg('seconds', 60);
const CONNECTIONS = arg('connections', 1000);
const IDLE = arg('idle', 10000);
const MAX_IN_FLIGHT = arg('max-in-flight', 1024); // the gateway's limits.maxInFlight (its default)
const WORKERS = arg('workers', 1); // worker processes; with more than one the primary accepts and hands connections over
const OBJECT = 64 * 1024;
const repo = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'ssec-load-'));

execFileSync('bash', [join(repo, 'scripts/rgw.sh'), 'start', join(dir, 'rgw')], { stdio: ['ignore', 'ignore', 'inherit'] });
const rgw = JSON.parse(readFileSync(join(dir, 'rgw', 'rgw.json'), 'utf8'));
// --heap-snapshots DIR: the gateway writes a heap snapshot (after a full GC) into DIR at each
// quarter of the run, to tell what holds memory (SIGUSR2, node --heapsnapshot-signal)
const SNAPSHOTS = (() => { const i = process.argv.indexOf('--heap-snapshots'); return i > 0 ? process.argv[i + 1] : undefined; })();
const gw = spawn(process.execPath, [...(SNAPSHOTS ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${SNAPSHOTS}`] : []), join(repo, 'bin/ssec-gateway.js'), 'serve', '--upstream', rgw.http, '--https-port', '0', '--admin-port', '0',
  '--state-dir', join(dir, 'gw'), '--log-level', 'warn', '--workers', String(WORKERS), '--auth-mode', 'none', '--max-in-flight', String(MAX_IN_FLIGHT),
  '--upstream-access-key-id', rgw.accessKey, '--upstream-secret-access-key', rgw.secretKey], { stdio: ['ignore', 'pipe', 'pipe'] });
let out = '';
gw.stdout.on('data', (c) => { out += c; });
gw.stderr.on('data', (c) => { out += c; });
const [port, adminPort] = await new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error(out)), 20000);
  const check = () => { const m = /https:\/\/127\.0\.0\.1:(\d+).*admin http:\/\/127\.0\.0\.1:(\d+)/.exec(out); if (m) { clearTimeout(t); resolve([Number(m[1]), Number(m[2])]); } };
  gw.stdout.on('data', check);
  gw.stderr.on('data', check);
});
const ca = readFileSync(join(dir, 'gw', 'tls', 'cert.pem'));
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${gw.pid}/status`, 'utf8'))[1]) * 1024;
const cpu = () => { const f = readFileSync(`/proc/${gw.pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / 100; };
const mib = (b) => (b / 2 ** 20).toFixed(0) + ' MiB';
const metric = async (name, label = '') => {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].filter((m) => m[0].includes(label)).reduce((a, m) => a + Number(m[1]), 0);
};

const key = randomBytes(32);
const sse = {
  'x-amz-server-side-encryption-customer-algorithm': 'AES256',
  'x-amz-server-side-encryption-customer-key': key.toString('base64'),
  'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(key).digest('base64'),
};
const body = randomBytes(OBJECT);
const bodyMd5 = createHash('md5').update(body).digest('hex');

// ---- one request over HTTP/1.1 (own keep-alive agent per connection) or HTTP/2 (own session) ----
function h1(agent, method, path, data) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const req = https.request({ host: '127.0.0.1', port, method, path, agent, ca, headers: { ...sse, ...(data ? { 'content-length': data.length } : {}) } }, (res) => {
      const h = createHash('md5');
      res.on('data', (c) => h.update(c));
      res.on('end', () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6, md5: h.digest('hex') }));
      res.on('error', () => resolve({ status: 0, ms: 0 }));
    });
    req.on('error', () => resolve({ status: 0, ms: 0 }));
    req.end(data);
  });
}
function h2(session, method, path, data) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    let status = 0;
    const h = createHash('md5');
    const req = session.request({ ':method': method, ':path': path, ...sse, ...(data ? { 'content-length': data.length } : {}) });
    req.on('response', (hd) => { status = Number(hd[':status']); });
    req.on('data', (c) => h.update(c));
    req.on('end', () => resolve({ status, ms: Number(process.hrtime.bigint() - started) / 1e6, md5: h.digest('hex') }));
    req.on('error', () => resolve({ status: 0, ms: 0 }));
    req.end(data);
  });
}

// ---- setup: a bucket and 100 SSE-C objects ----
const setupAgent = new https.Agent({ keepAlive: true, maxSockets: 16 });
await new Promise((resolve, reject) => https.request({ host: '127.0.0.1', port, method: 'PUT', path: '/load', agent: setupAgent, ca }, (r) => { r.resume(); r.on('end', resolve); }).on('error', reject).end());
await Promise.all(Array.from({ length: 100 }, (_, i) => h1(setupAgent, 'PUT', `/load/o${i}`, body)));
setupAgent.destroy();

// ---- phase 1: CONNECTIONS concurrent connections, half HTTP/1.1 and half HTTP/2, for SECONDS ----
const rssStart = rss();
const cpuStart = cpu();
const statuses = new Map();
const latencies = [];
const slow = []; // 200s that took over 5 s: which protocol and method
let badBytes = 0;
let rssMax = rssStart;
const rssQuarters = [];
const deadline = Date.now() + SECONDS * 1000;
const sampler = setInterval(() => {
  const now = rss();
  rssMax = Math.max(rssMax, now);
  const q = Math.floor((1 - (deadline - Date.now()) / (SECONDS * 1000)) * 4);
  if (q >= 1 && q <= 4 && rssQuarters.length < q) { rssQuarters.push(now); if (SNAPSHOTS) gw.kill('SIGUSR2'); }
  // every tenth of the run: RSS next to V8's heap in use and the Buffers outside it, to tell a leak
  // (heap or external growing) from an allocator that keeps freed pages (only RSS growing)
  const d = Math.floor((1 - (deadline - Date.now()) / (SECONDS * 1000)) * 10);
  if (d >= 1 && d <= 10 && memory.length < d) {
    memory.push(undefined);
    void Promise.all([metric('ssec_gateway_nodejs_heap_size_used_bytes'), metric('ssec_gateway_nodejs_external_memory_bytes'), metric('ssec_gateway_connections')])
      .then(([heap, ext, conns]) => { memory[d - 1] = `${mib(now)}/${mib(heap)}/${mib(ext)}`; connsSeen[d - 1] = conns; }, () => {});
  }
}, 500);
const memory = [];
const connsSeen = []; // the gateway's connections gauge (TLS handshakes completed) at each tenth
console.log(`load: ${CONNECTIONS} connections (HTTP/1.1 and HTTP/2 alternating) doing 64 KiB SSE-C GETs (70 %) and PUTs for ${SECONDS} s`);
await Promise.all(Array.from({ length: CONNECTIONS }, async (_, c) => {
  const useH2 = c % 2 === 1;
  const agent = useH2 ? undefined : new https.Agent({ keepAlive: true, maxSockets: 1 });
  const session = useH2 ? http2.connect(`https://127.0.0.1:${port}`, { ca }) : undefined;
  session?.on('error', () => {});
  let n = 0;
  while (Date.now() < deadline) {
    const i = (c * 7 + n++) % 100;
    const put = Math.random() < 0.3;
    const path = put ? `/load/w${c % 100}` : `/load/o${i}`;
    const r = useH2 ? await h2(session, put ? 'PUT' : 'GET', path, put ? body : undefined) : await h1(agent, put ? 'PUT' : 'GET', path, put ? body : undefined);
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    if (r.status === 200) { latencies.push(r.ms); if (r.ms > 5000) slow.push([r.ms, `${useH2 ? 'h2' : 'h1'} ${put ? 'PUT' : 'GET'} ${(r.ms / 1000).toFixed(1)} s (request ${n} of its connection, ended ${((Date.now() - (deadline - SECONDS * 1000)) / 1000).toFixed(0)} s into the run)`]); }
    if (r.status === 200 && !put && r.md5 !== bodyMd5) badBytes++;
    if (r.status === 503) await new Promise((res) => setTimeout(res, 100 + Math.random() * 200)); // SlowDown: back off as SDKs do
  }
  agent?.destroy();
  session?.close();
}));
clearInterval(sampler);
const cpuUsed = cpu() - cpuStart;
const total = [...statuses.values()].reduce((a, b) => a + b, 0);
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]?.toFixed(1);
const shed = await metric('ssec_gateway_requests_shed_total');
const other5xx = [...statuses].filter(([s]) => s >= 500 && s !== 503).reduce((a, [, n]) => a + n, 0);
const failed = statuses.get(0) ?? 0;
await new Promise((r) => setTimeout(r, 2000));
const rssAfter = rss();
console.log(`  ${total} requests, ${(total / SECONDS).toFixed(0)}/s; statuses ${JSON.stringify(Object.fromEntries(statuses))}; shed (503 SlowDown) ${shed}`);
console.log(`  latency of 200s: p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${latencies.at(-1)?.toFixed(1)} ms; gateway CPU ${cpuUsed.toFixed(1)} s`);
// the gateway's own view: requests it took over 5 s, from its request headers to the end of its answer
const over5 = (await metric('ssec_gateway_request_duration_seconds_count')) - (await metric('ssec_gateway_request_duration_seconds_bucket', 'le="5"'));
console.log(`  requests the gateway itself took over 5 s (from their headers to the end of the answer): ${over5}`);
if (slow.length) console.log(`  200s over 5 s: ${slow.length}; the slowest: ${slow.sort((a, b) => b[0] - a[0]).slice(0, 6).map((x) => x[1]).join('; ')}`);
console.log(`  gateway RSS: ${mib(rssStart)} before, at each quarter of the run ${rssQuarters.map(mib).join(', ')}, peak ${mib(rssMax)}, ${mib(rssAfter)} after; wrong bytes ${badBytes}`);
console.log(`  gateway memory at each tenth of the run, RSS/heap used/external: ${memory.join(', ')}; log lines dropped ${await metric('ssec_gateway_log_lines_dropped_total')}; connections at each tenth ${connsSeen.join(', ')}`);

// ---- phase 2: IDLE idle TLS connections held, then released ----
console.log(`idle: ${IDLE} TLS connections opened and held`);
const rssIdle0 = rss();
const idle = [];
for (let i = 0; i < IDLE; i += 200) {
  idle.push(...await Promise.all(Array.from({ length: Math.min(200, IDLE - i) }, () => new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, ALPNProtocols: ['http/1.1'] }, () => resolve(s));
    s.on('error', () => resolve(undefined));
  }))));
}
const opened = idle.filter(Boolean).length;
await new Promise((r) => setTimeout(r, 2000));
const held = idle.filter((s) => s && !s.destroyed).length;
const gauge = await metric('ssec_gateway_connections');
const rssHeld = rss();
const served = await h1(new https.Agent({ keepAlive: false }), 'GET', '/load/o1');
for (const s of idle) s?.destroy();
await new Promise((r) => setTimeout(r, 3000));
const gaugeAfter = await metric('ssec_gateway_connections');
const rssReleased = rss();
console.log(`  opened ${opened}, still held after 2 s ${held}, gateway's connections gauge ${gauge}; a request meanwhile: ${served.status} in ${served.ms.toFixed(1)} ms`);
console.log(`  gateway RSS ${mib(rssIdle0)} → ${mib(rssHeld)} held (${((rssHeld - rssIdle0) / Math.max(1, held) / 1024).toFixed(1)} KiB each) → ${mib(rssReleased)} released; gauge after ${gaugeAfter}`);

gw.kill('SIGTERM');
await new Promise((r) => gw.once('exit', r));
execFileSync('bash', [join(repo, 'scripts/rgw.sh'), 'stop', join(dir, 'rgw'), '--clean'], { stdio: 'ignore' });
rmSync(dir, { recursive: true, force: true });

const problems = [];
if (other5xx) problems.push(`${other5xx} answers 5xx other than 503 SlowDown`);
if (failed) problems.push(`${failed} requests failed without an answer`);
if (badBytes) problems.push(`${badBytes} GETs returned wrong bytes`);
if (statuses.get(503) !== undefined && statuses.get(503) !== shed) problems.push(`503s (${statuses.get(503)}) other than shedding (${shed})`);
// flat: once the connections are up (first quarter), the rest of the run adds no more than a quarter
const warm = rssQuarters[0] ?? rssStart;
if (rssAfter > warm * 1.25 + 32 * 2 ** 20) problems.push(`RSS grew from ${mib(warm)} (a quarter into the run) to ${mib(rssAfter)}`);
if (held < Math.min(IDLE, 19000) * 0.99) problems.push(`only ${held} of ${IDLE} idle connections held`);
if (served.status !== 200) problems.push(`a request while ${held} connections were held: ${served.status}`);
if (gaugeAfter > 10) problems.push(`${gaugeAfter} connections still counted after release`);
console.log(problems.length ? `FAILED: ${problems.join('; ')}` : 'load: every promise held');
process.exit(problems.length ? 1 : 0);
