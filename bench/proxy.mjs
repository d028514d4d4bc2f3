#!/usr/bin/env node
// Forwarding benchmark: the same requests straight to a local Ceph RGW (the baseline) and through
// the gateway, in one run, printed side by side. Not a test: numbers, no assertions.
//
//   npm run build && node bench/proxy.mjs [--seconds 5] [--clients 16]
//
// Starts a throwaway RGW (scripts/rgw.sh) and the gateway (passthrough) on loopback. Small GETs
// use h2load (nghttp2-client) on a public-read 1 KiB object: `--h1` straight to RGW's http port,
// then through the gateway over TLS with HTTP/1.1 and with HTTP/2. Large objects: one 256 MiB
// SSE-C PUT and GET with node's https client (SigV4 with UNSIGNED-PAYLOAD, @smithy/signature-v4),
// direct to RGW's TLS port and through the gateway. Reports the gateway's CPU seconds per request
// and per GiB (from /proc), and its peak RSS.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';

const arg = (n, d) => { const i = process.argv.indexOf(`--${n}`); return i > 0 ? process.argv[i + 1] : d; };
const SECONDS = Number(arg('seconds', 5));
const CLIENTS = Number(arg('clients', 16));
const BIG = Number(arg('mib', 256)) << 20;
const repo = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'ssec-bench-'));

execFileSync('bash', [join(repo, 'scripts/rgw.sh'), 'start', join(dir, 'rgw')], { stdio: ['ignore', 'ignore', 'inherit'] });
const rgw = JSON.parse(readFileSync(join(dir, 'rgw', 'rgw.json'), 'utf8'));
const gwProc = spawn(process.execPath, [join(repo, 'bin/ssec-gateway.js'), 'serve', '--upstream', rgw.http, '--https-port', '0', '--admin-port', '0', '--state-dir', join(dir, 'gw'), '--log-level', 'warn', '--workers', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
let gwOut = '';
gwProc.stdout.on('data', (c) => { gwOut += c; });
gwProc.stderr.on('data', (c) => { gwOut += c; });
const gwPort = await new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error(gwOut)), 15000);
  const check = () => { const m = /https:\/\/127\.0\.0\.1:(\d+)/.exec(gwOut); if (m) { clearTimeout(t); resolve(Number(m[1])); } };
  gwProc.stderr.on('data', check); gwProc.stdout.on('data', check);
});
const gwCa = readFileSync(join(dir, 'gw', 'tls', 'cert.pem'));
const rgwCa = readFileSync(rgw.caFile);
const cleanup = () => { gwProc.kill('SIGKILL'); try { execFileSync('bash', [join(repo, 'scripts/rgw.sh'), 'stop', join(dir, 'rgw'), '--clean'], { stdio: 'ignore' }); } catch { /* */ } };
process.on('exit', cleanup);

const signer = new SignatureV4({ credentials: { accessKeyId: rgw.accessKey, secretAccessKey: rgw.secretKey }, region: rgw.region, service: 's3', sha256: Hash.bind(null, 'sha256'), uriEscapePath: false });
async function send(base, ca, method, path, headers = {}, body) {
  const u = new URL(base);
  const signed = await signer.sign(new HttpRequest({ method, protocol: u.protocol, hostname: u.hostname, port: Number(u.port), path, headers: { host: u.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...headers } }));
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request({ host: u.hostname, port: u.port, method, path, headers: signed.headers, ca, agent: false }, (res) => {
      const h = createHash('sha256'); let n = 0;
      res.on('data', (c) => { h.update(c); n += c.length; });
      res.on('end', () => resolve({ status: res.statusCode, bytes: n, sha: h.digest('hex') }));
    });
    req.on('error', reject);
    if (body instanceof Readable) body.pipe(req); else req.end(body);
  });
}
const gw = `https://127.0.0.1:${gwPort}`;
await send(rgw.http, undefined, 'PUT', '/bench');
await send(rgw.http, undefined, 'PUT', '/bench/small', { 'x-amz-acl': 'public-read', 'content-length': '1024' }, randomBytes(1024));

function cpu() {
  const f = readFileSync(`/proc/${gwProc.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 10 ms
}
function peakRss() { return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${gwProc.pid}/status`, 'utf8'))[1]) * 1024; }

function h2load(url, h1) {
  const out = execFileSync('h2load', [...(h1 ? ['--h1'] : []), '-D', String(SECONDS), '-c', String(CLIENTS), '-m', h1 ? '1' : '10', '-t', '1', url], { encoding: 'utf8' });
  const rps = Number(/finished in [^,]+, ([\d.]+) req\/s/.exec(out)?.[1] ?? NaN);
  const ok = Number(/(\d+) succeeded/.exec(out)?.[1] ?? 0);
  return { rps, ok };
}
const rows = [];
const small = (label, url, h1, throughGw) => {
  const c0 = throughGw ? cpu() : 0;
  const r = h2load(url, h1);
  const cpuUs = throughGw ? ((cpu() - c0) / r.ok) * 1e6 : undefined;
  rows.push([label, `${r.rps.toFixed(0)} req/s`, cpuUs ? `${cpuUs.toFixed(0)} µs CPU/req` : '']);
  return r.rps;
};
const base = small('1 KiB GET, direct to RGW (http/1.1, baseline)', `${rgw.http}/bench/small`, true, false);
const g1 = small('1 KiB GET, via gateway (TLS, http/1.1)', `${gw}/bench/small`, true, true);
const g2 = small('1 KiB GET, via gateway (TLS, h2, 10 streams/conn)', `${gw}/bench/small`, false, true);

const key = randomBytes(32);
const sse = { 'x-amz-server-side-encryption-customer-algorithm': 'AES256', 'x-amz-server-side-encryption-customer-key': key.toString('base64'), 'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(key).digest('base64') };
function body() {
  let left = BIG; const block = randomBytes(1 << 20);
  return new Readable({ read() { if (left <= 0) return this.push(null); const n = Math.min(left, block.length); left -= n; this.push(block.subarray(0, n)); } });
}
async function big(label, base, ca, throughGw) {
  const c0 = throughGw ? cpu() : 0;
  let t = process.hrtime.bigint();
  const put = await send(base, ca, 'PUT', `/bench/big-${throughGw ? 'gw' : 'direct'}`, { ...sse, 'content-length': String(BIG) }, body());
  const putS = Number(process.hrtime.bigint() - t) / 1e9;
  t = process.hrtime.bigint();
  const get = await send(base, ca, 'GET', `/bench/big-${throughGw ? 'gw' : 'direct'}`, sse);
  const getS = Number(process.hrtime.bigint() - t) / 1e9;
  if (put.status !== 200 || get.status !== 200 || get.bytes !== BIG) throw new Error(`${label}: PUT ${put.status} GET ${get.status} ${get.bytes} bytes`);
  const cpuPerGiB = throughGw ? ((cpu() - c0) / ((2 * BIG) / 2 ** 30)).toFixed(1) + ' CPU-s/GiB' : '';
  rows.push([`${BIG >> 20} MiB SSE-C PUT / GET, ${label}`, `${(BIG / 1048576 / putS).toFixed(0)} / ${(BIG / 1048576 / getS).toFixed(0)} MiB/s`, cpuPerGiB]);
}
await big('direct to RGW TLS (baseline)', rgw.https, rgwCa, false);
await big('via gateway (TLS h1 → RGW http)', gw, gwCa, true);

const w = Math.max(...rows.map((r) => r[0].length));
console.log(`\nssec-gateway forwarding benchmark (${SECONDS} s per small-GET run, ${CLIENTS} connections, h2load; node ${process.version}, ${readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm).length} cores)`);
for (const r of rows) console.log(`${r[0].padEnd(w)}  ${r[1].padStart(22)}  ${r[2]}`);
console.log(`gateway / direct, small GETs: h1 ×${(g1 / base).toFixed(2)}, h2 ×${(g2 / base).toFixed(2)}; gateway peak RSS ${(peakRss() / 1048576).toFixed(0)} MiB`);
cleanup();
process.exit(0);
