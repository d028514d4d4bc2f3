// Key alerts: metric + structured log + Alertmanager-compatible webhook with bounded retries and
// backoff, never blocking the caller. Local HTTP receivers on port 0.
import t, { type Test } from 'tap';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/load.js';
import { Alerter, toAlertmanager, WebhookSender, type AlertmanagerAlert } from '../../src/fingerprints/alerts.js';
import { createFingerprintStore } from '../../src/fingerprints/store.js';
import { createLogger } from '../../src/logging/logger.js';
import { createMetrics } from '../../src/metrics/registry.js';

const FP = '0123456789abcdef'.repeat(4);

interface Receiver { url: string; posts: { body: AlertmanagerAlert[]; headers: IncomingMessage['headers']; at: number }[]; attempts: number }
async function receiver(t: Test, answer: (n: number, req: IncomingMessage, res: ServerResponse) => void = (_n, _q, res) => res.end()): Promise<Receiver> {
  const r: Receiver = { url: '', posts: [], attempts: 0 };
  const server: Server = createServer((req, res) => {
    let b = '';
    req.on('data', (c) => { b += c; });
    req.on('end', () => {
      r.attempts++;
      try { r.posts.push({ body: JSON.parse(b) as AlertmanagerAlert[], headers: req.headers, at: Date.now() }); } catch { /* not JSON */ }
      answer(r.attempts, req, res);
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  t.teardown(() => new Promise<void>((res) => { server.closeAllConnections(); server.close(() => res()); }));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v2/alerts`;
  return r;
}

function logSink() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write(c, _e, cb) { for (const l of String(c).split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>); cb(); } });
  return { lines, log: createLogger('debug', sink) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('the Alertmanager payload of each kind', async (t) => {
  const a = toAlertmanager({ kind: 'exposed', fingerprint: FP, at: new Date('2026-11-27T10:00:00Z'), summary: 'key exposed', details: { client: '198.51.100.1', listener: 'http', none: undefined } });
  t.same(a, {
    labels: { alertname: 'SseCKeyExposed', fingerprint: '0123456789abcdef', severity: 'critical', kind: 'exposed', service: 'ssec-gateway' },
    annotations: { summary: 'key exposed', description: 'key exposed', client: '198.51.100.1', listener: 'http' },
    startsAt: '2026-11-27T10:00:00.000Z',
  });
  t.match(toAlertmanager({ kind: 'rotation_due', fingerprint: FP, at: new Date(), summary: 's' }).labels, { alertname: 'SseCKeyRotationDue', severity: 'warning' });
  t.match(toAlertmanager({ kind: 'retired_used', fingerprint: FP, at: new Date(), summary: 's' }).labels, { alertname: 'SseCRetiredKeyUsed', severity: 'warning' });
  t.match(toAlertmanager({ kind: 'compromised_used', fingerprint: FP, at: new Date(), summary: 's' }).labels, { alertname: 'SseCCompromisedKeyUsed', severity: 'critical' });
});

t.test('an alert is a metric, a log event and a webhook POST', async (t) => {
  const r = await receiver(t);
  const metrics = createMetrics();
  const { lines, log } = logSink();
  const alerter = new Alerter({ metrics, log, webhookUrl: r.url, webhook: { baseDelayMs: 10 } });
  alerter.raise({ kind: 'exposed', fingerprint: FP, at: new Date('2026-11-27T10:00:00Z'), summary: 'SSE-C key 0123456789abcdef was sent over plaintext', details: { client: '198.51.100.1' } });
  await alerter.webhook!.idle();
  t.equal(r.posts.length, 1);
  t.equal(r.posts[0]!.headers['content-type'], 'application/json');
  t.ok(Array.isArray(r.posts[0]!.body), 'a list of alerts');
  t.match(r.posts[0]!.body[0], { labels: { alertname: 'SseCKeyExposed', fingerprint: '0123456789abcdef', severity: 'critical' }, annotations: { summary: /plaintext/ }, startsAt: '2026-11-27T10:00:00.000Z' });
  t.equal((await metrics.keyAlerts.get()).values.find((v) => v.labels.kind === 'exposed')?.value, 1);
  t.match(lines.find((l) => l.event === 'key_alert'), { level: 50, alert: 'exposed', alertname: 'SseCKeyExposed', fingerprint: FP, keyId: '0123456789abcdef', client: '198.51.100.1' });
  await alerter.close();
});

t.test('a receiver that fails twice gets the alert on the third attempt, after backoff', async (t) => {
  const r = await receiver(t, (n, _q, res) => { res.statusCode = n <= 2 ? 503 : 200; res.end(); });
  const { lines, log } = logSink();
  const w = new WebhookSender(r.url, log, { baseDelayMs: 40, maxDelayMs: 1000 });
  const t0 = Date.now();
  w.send(toAlertmanager({ kind: 'rotation_due', fingerprint: FP, at: new Date(), summary: 'due' }));
  await w.idle();
  t.equal(r.attempts, 3, 'three attempts');
  t.equal(w.sent, 1);
  t.equal(w.failed, 0);
  t.same(r.posts.map((p) => p.body[0]!.labels.alertname), ['SseCKeyRotationDue', 'SseCKeyRotationDue', 'SseCKeyRotationDue'], 'the same payload each time');
  const gaps = [r.posts[1]!.at - r.posts[0]!.at, r.posts[2]!.at - r.posts[1]!.at];
  t.ok(gaps[0]! >= 30 && gaps[1]! >= 60, `exponential backoff (${gaps.join(' ms, ')} ms)`);
  t.ok(Date.now() - t0 < 5000);
  t.equal(lines.filter((l) => l.event === 'alert_webhook_retry').length, 2, 'each failure logged');
});

t.test('bounded: a receiver that keeps failing is given up on; a 4xx is not retried; an unreachable one neither blocks', async (t) => {
  const down = await receiver(t, (_n, _q, res) => { res.statusCode = 500; res.end(); });
  const { lines, log } = logSink();
  const w = new WebhookSender(down.url, log, { attempts: 3, baseDelayMs: 5 });
  w.send(toAlertmanager({ kind: 'exposed', fingerprint: FP, at: new Date(), summary: 's' }));
  await w.idle();
  t.equal(down.attempts, 3, 'attempts bounded');
  t.equal(w.failed, 1);
  t.ok(lines.some((l) => l.event === 'alert_webhook_failed'), 'giving up is logged');

  const bad = await receiver(t, (_n, _q, res) => { res.statusCode = 400; res.end(); });
  const w2 = new WebhookSender(bad.url, log, { attempts: 5, baseDelayMs: 5 });
  w2.send(toAlertmanager({ kind: 'exposed', fingerprint: FP, at: new Date(), summary: 's' }));
  await w2.idle();
  t.equal(bad.attempts, 1, '400: the payload will not get better, no retry');

  const w3 = new WebhookSender('http://127.0.0.1:1/nothing-listens', log, { attempts: 2, baseDelayMs: 5 });
  const t0 = performance.now();
  w3.send(toAlertmanager({ kind: 'exposed', fingerprint: FP, at: new Date(), summary: 's' }));
  t.ok(performance.now() - t0 < 100, 'send() returns at once');
  await w3.idle();
  t.equal(w3.failed, 1);
});

t.test('a hanging receiver: sends time out, the queue is bounded, raise() never waits, close() is bounded', async (t) => {
  const hang = await receiver(t, () => { /* never answers */ });
  const metrics = createMetrics();
  const { lines, log } = logSink();
  const alerter = new Alerter({ metrics, log, webhookUrl: hang.url, webhook: { maxQueue: 3, maxBatch: 1, attempts: 2, baseDelayMs: 5, timeoutMs: 200 } });
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) alerter.raise({ kind: 'retired_used', fingerprint: FP, at: new Date(), summary: `use ${i}` });
  t.ok(performance.now() - t0 < 200, `10 raises in ${(performance.now() - t0).toFixed(2)} ms`);
  t.equal((await metrics.keyAlerts.get()).values.find((v) => v.labels.kind === 'retired_used')?.value, 10, 'every alert counted');
  t.equal(alerter.webhook!.dropped, 7, 'beyond the queue: dropped');
  t.ok(lines.some((l) => l.event === 'alert_webhook_dropped'), 'drops logged');
  await sleep(300);
  t.ok(hang.attempts >= 1, 'the first POST timed out');
  const c0 = performance.now();
  await alerter.close(300);
  t.ok(performance.now() - c0 < 1500, `close() bounded (${(performance.now() - c0).toFixed(0)} ms)`);
});

t.test('the store raises an exposure through its webhook (alerts.webhookUrl)', async (t) => {
  const r = await receiver(t);
  const base = loadConfig({ env: {} });
  const { log } = logSink();
  const store = await createFingerprintStore({ ...base, alerts: { webhookUrl: r.url } }, { metrics: createMetrics(), log, refreshMs: 0 });
  await store.exposed({ fingerprint: FP, at: new Date(), client: '198.51.100.9', listener: 'http', header: 'x-amz-server-side-encryption-customer-key', requestId: 'REQ9' });
  for (let i = 0; i < 100 && !r.posts.length; i++) await sleep(10);
  t.match(r.posts[0]?.body[0], { labels: { alertname: 'SseCKeyExposed', fingerprint: FP.slice(0, 16), severity: 'critical' }, annotations: { client: '198.51.100.9', requestId: 'REQ9', listener: 'http' } });
  await store.close();
});
