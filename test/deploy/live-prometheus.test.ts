// The dashboard and the alert rules against live data: a real gateway in front of the suite's Ceph
// RGW serves real traffic (SSE-C PUT/GET/HEAD, lists, errors, invalid triplets, an SSE-C request on
// the plaintext listener, a failed TLS handshake), a second gateway whose upstream is down answers
// 502s, a real Prometheus (Debian package) scrapes both and evaluates prometheus/ssec-gateway.rules.yaml,
// and every query of every dashboard panel must return data — an empty result is a failure.
//
// SSEC_RENDER_DASHBOARD=1 also renders the panels from this live data (uPlot + Debian chromium;
// an approximation, not Grafana) to grafana/ssec-gateway.png.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SETTINGS } from '../../src/config/schema.js';
import { startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { bucketName, createBucket, rgwRequest, sharedRedis, sharedRgw, type RgwInfo } from '../helpers/rgw.js';
import { dataPanels, loadDashboard, substitute } from './lib/dashboard.js';
import { freePort, startPrometheus, waitForSeries, type Prometheus } from './lib/prometheus.js';
import { RULES_FILE } from './lib/generated.js';
import { REPO, requireCommand } from './lib/tools.js';

requireCommand('prometheus');
const known = new Set((SETTINGS as readonly { path: string }[]).map((s) => s.path));

const key = randomBytes(32);
const sseC = (k: Buffer) => ({
  'x-amz-server-side-encryption-customer-algorithm': 'AES256',
  'x-amz-server-side-encryption-customer-key': k.toString('base64'),
  'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(k).digest('base64'),
});

const gateways: GatewayProcess[] = [];
let prom: Prometheus | undefined;
t.teardown(async () => {
  await prom?.stop();
  await Promise.all(gateways.map((g) => g.stop()));
});

async function viaGateway(rgw: RgwInfo, gw: GatewayProcess, req: Parameters<typeof rgwRequest>[1]) {
  // rgwRequest signs with RGW's credentials; pointed at the gateway's https listener (passthrough)
  return rgwRequest({ ...rgw, https: gw.url, caFile: gw.caFile }, { ...req, endpoint: 'https' });
}

function plaintextSseC(gw: GatewayProcess, bucket: string): Promise<number> {
  const u = new URL(gw.httpUrl!);
  return new Promise((resolve, reject) => {
    const r = http.request({ host: u.hostname, port: u.port, method: 'PUT', path: `/${bucket}/exposed.txt`, headers: { ...sseC(randomBytes(32)), 'content-length': '2' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    r.on('error', reject);
    r.end('hi');
  });
}

/** A client that speaks plain HTTP to the TLS port: a failed handshake. */
function badHandshake(gw: GatewayProcess): Promise<void> {
  const u = new URL(gw.url);
  return new Promise((resolve) => {
    const s = net.connect(Number(u.port), u.hostname, () => s.end('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    s.on('data', () => { /* alert record */ });
    s.on('close', () => resolve());
    s.on('error', () => resolve());
    s.setTimeout(3000, () => s.destroy());
  });
}

async function traffic(rgw: RgwInfo, gw: GatewayProcess, down: GatewayProcess, bucket: string, wave: number) {
  const body = randomBytes(64 * 1024 + wave);
  const results: number[] = [];
  const push = async (p: Promise<{ status: number }>) => results.push((await p).status);
  await push(viaGateway(rgw, gw, { method: 'PUT', path: `/${bucket}/obj-${wave}`, headers: sseC(key), body }));
  await push(viaGateway(rgw, gw, { method: 'GET', path: `/${bucket}/obj-${wave}`, headers: sseC(key) }));
  await push(viaGateway(rgw, gw, { method: 'HEAD', path: `/${bucket}/obj-${wave}`, headers: sseC(key) }));
  await push(viaGateway(rgw, gw, { method: 'GET', path: `/${bucket}`, query: { 'list-type': '2' } }));
  await push(viaGateway(rgw, gw, { method: 'PUT', path: `/${bucket}/plain-${wave}`, body: 'no sse-c' }));
  await push(viaGateway(rgw, gw, { method: 'GET', path: `/${bucket}/plain-${wave}` }));
  // 4xx from RGW: an SSE-C object read without its key
  await push(viaGateway(rgw, gw, { method: 'GET', path: `/${bucket}/obj-${wave}` }));
  // 400 from the gateway: invalid triplets (no upstream call)
  const badMd5 = { ...sseC(key), 'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update('other').digest('base64') };
  await push(viaGateway(rgw, gw, { method: 'PUT', path: `/${bucket}/bad-${wave}`, headers: badMd5, body: 'x' }));
  await push(viaGateway(rgw, gw, { method: 'PUT', path: `/${bucket}/bad-${wave}`, headers: { ...sseC(key), 'x-amz-server-side-encryption-customer-algorithm': 'AES128' }, body: 'x' }));
  // SSE-C on the plaintext listener: refused, key exposed
  results.push(await plaintextSseC(gw, bucket));
  await badHandshake(gw);
  // 502 from the gateway whose upstream is down
  await push(viaGateway(rgw, down, { method: 'GET', path: `/${bucket}/obj-${wave}` }));
  await push(viaGateway(rgw, gw, { method: 'DELETE', path: `/${bucket}/plain-${wave}` }));
  return results;
}

t.test('every dashboard query returns data from a live Prometheus scraping a gateway that served real traffic', async (t) => {
  const t0 = Date.now();
  const rgw = await sharedRgw();
  const dir = mkdtempSync(join(tmpdir(), 'ssec-live-'));
  const config: Record<string, unknown> = {};
  if (known.has('redis.url')) {
    const redis = await sharedRedis();
    config.redis = { url: redis.url };
  }
  const cfgFile = join(dir, 'config.yaml');
  writeFileSync(cfgFile, JSON.stringify(config));
  const gw = await startGateway({ upstream: rgw.http, plaintext: true, args: ['--config', cfgFile] });
  gateways.push(gw);
  const down = await startGateway({ upstream: `http://127.0.0.1:${await freePort()}` });
  gateways.push(down);
  const target = (g: GatewayProcess) => new URL(g.adminUrl).host;
  prom = await startPrometheus({ job: 'ssec-gateway', targets: [target(gw), target(down)], ruleFiles: [RULES_FILE] });
  await waitForSeries(prom, 'up{job="ssec-gateway"} == 1', 2);
  t.comment(`gateways, RGW and Prometheus up; first scrape after ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const trafficStart = Date.now() / 1000;
  const bucket = bucketName('dash');
  await createBucket(rgw, bucket);
  const statuses: number[] = [];
  for (let wave = 0; wave < 3; wave++) {
    statuses.push(...(await traffic(rgw, gw, down, bucket, wave)));
    await new Promise((r) => setTimeout(r, 1200));
  }
  const classes = new Set(statuses.map((s) => `${Math.floor(s / 100)}xx`));
  t.same([...classes].sort(), ['2xx', '4xx', '5xx'], `real traffic: ${statuses.length} requests, ${[...classes].sort().join(' ')}`);
  // two more scrapes after the last request
  await waitForSeries(prom, `ssec_gateway_key_exposures_total{job="ssec-gateway"} >= 3`, 1);
  await new Promise((r) => setTimeout(r, 2500));

  const d = loadDashboard();
  const panels = dataPanels(d);
  let queries = 0;
  for (const p of panels) {
    for (const target of p.targets ?? []) {
      queries++;
      const expr = substitute(target.expr, { rateInterval: '15s', range: '5m' });
      const result = await prom.query(expr);
      const summary = result.slice(0, 4).map((r) => `${Object.values(r.metric).join(',') || '{}'}=${Number(r.value?.[1]).toPrecision(3)}`).join(' ');
      t.ok(result.length > 0, `panel "${p.title}" ${target.refId}: ${result.length} series ${summary}`, { expr });
    }
  }
  t.comment(`${panels.length} panels, ${queries} queries`);

  // the rules evaluate on the real series without errors, and the exposure fired the alert
  const ruleGroups = await prom.get<{ groups: { rules: { name: string; health: string; lastError?: string }[] }[] }>('/api/v1/rules');
  const bad = ruleGroups.groups.flatMap((g) => g.rules).filter((r) => r.health === 'err');
  t.same(bad.map((r) => `${r.name}: ${r.lastError}`), [], `${ruleGroups.groups.flatMap((g) => g.rules).length} rules loaded, none in error`);
  const deadline = Date.now() + 10_000;
  let alerts: { labels: { alertname: string }; state: string }[] = [];
  while (Date.now() < deadline) {
    alerts = (await prom.get<{ alerts: typeof alerts }>('/api/v1/alerts')).alerts;
    if (alerts.some((a) => a.labels.alertname === 'SsecGatewayKeyExposed' && a.state === 'firing')) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  t.ok(alerts.some((a) => a.labels.alertname === 'SsecGatewayKeyExposed' && a.state === 'firing'), 'SsecGatewayKeyExposed fires for the key sent on the plaintext listener');
  t.comment(`alerts: ${alerts.map((a) => `${a.labels.alertname}=${a.state}`).join(', ')}`);

  if (process.env.SSEC_RENDER_DASHBOARD === '1') {
    requireCommand('chromium');
    const { renderDashboard } = await import('./lib/render.js');
    const out = join(REPO, 'grafana', 'ssec-gateway.png');
    const size = await renderDashboard(prom, d, out, { start: trafficStart - 8, end: Date.now() / 1000 });
    t.ok(size < 300 * 1024, `rendered ${out} (${(size / 1024).toFixed(0)} KB)`);
  }
  t.comment(`live check in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});
