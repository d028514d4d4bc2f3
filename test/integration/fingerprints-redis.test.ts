// The Redis store against real redis-servers: an exposure seen on another replica (another store
// instance, and another process) within 1 s; Redis SIGKILLed during a burst (nothing waits or throws,
// drops counted past the limit, the queue drains when Redis is back on the same port); and a scan of
// every Redis key and value after realistic traffic that finds no key material.
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { keysCommand } from '../../src/cli/keys.js';
import { loadConfig, type GatewayConfig } from '../../src/config/load.js';
import { KeyEvents } from '../../src/events/key-events.js';
import { createFingerprintStore } from '../../src/fingerprints/store.js';
import { KeyTracker } from '../../src/fingerprints/tracker.js';
import { deletedObjects } from '../../src/fingerprints/s3-xml.js';
import type { FingerprintStore } from '../../src/fingerprints/types.js';
import { createLogger } from '../../src/logging/logger.js';
import { createMetrics, type Metrics } from '../../src/metrics/registry.js';
import type { ClientResponse, RequestContext } from '../../src/request/context.js';
import { CustomerKey } from '../../src/sse-c/customer-key.js';
import { assertNoKeyMaterial } from '../helpers/keys.js';
import { repoRoot, runScript, sharedRedis, stateRoot } from '../helpers/rgw.js';
import { KEY_A, KEY_B, KEY_GUIDE } from '../unit/fixtures.js';

const REDIS_SH = join(repoRoot, 'scripts', 'redis.sh');
const SECRET = Buffer.from('fingerprints-redis-test-secret');

function config(redis: Partial<GatewayConfig['redis']>, over: Partial<GatewayConfig> = {}): GatewayConfig {
  const base = loadConfig({ env: {} });
  return { ...base, ...over, redis: { ...base.redis, ...redis } };
}

interface Opened { store: FingerprintStore; metrics: Metrics; logs: Record<string, unknown>[]; logText(): string }
async function open(t: Test, cfg: GatewayConfig, extra: { webhook?: { baseDelayMs: number } } = {}): Promise<Opened> {
  const metrics = createMetrics();
  const logs: Record<string, unknown>[] = [];
  let text = '';
  const sink = new Writable({ write(c, _e, cb) { text += String(c); for (const l of String(c).split('\n')) if (l) logs.push(JSON.parse(l) as Record<string, unknown>); cb(); } });
  const store = await createFingerprintStore(cfg, { metrics, log: createLogger('debug', sink), refreshMs: 0, webhook: extra.webhook });
  t.teardown(() => store.close());
  return { store, metrics, logs, logText: () => text };
}

let seq = 0;
const prefix = () => `fpr:${process.pid}:${++seq}:`;
const fpOf = (raw: Buffer) => CustomerKey.fromRaw(raw).fingerprint(SECRET);

/** A private redis-server (scripts/redis.sh), stopped at teardown. */
async function privateRedis(t: Test): Promise<{ url: string; dir: string; port: number; pid: number }> {
  const dir = join(stateRoot(), 'private', `fp-redis-${process.pid}-${randomBytes(3).toString('hex')}`);
  await runScript(REDIS_SH, ['start', dir]);
  t.teardown(() => runScript(REDIS_SH, ['stop', dir, '--clean']).then(() => undefined));
  const j = JSON.parse(readFileSync(join(dir, 'redis.json'), 'utf8')) as { url: string; pid: number };
  return { url: j.url, dir, pid: j.pid, port: Number(new URL(j.url).port) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms: number, step = 1): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (cond()) return true; await sleep(step); }
  return cond();
}

function stats(xs: number[]): { min: number; median: number; p90: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, p90: s[Math.floor(s.length * 0.9)]!, max: s[s.length - 1]! };
}
const fmt = (x: { min: number; median: number; p90: number; max: number }) => `min ${x.min.toFixed(1)} ms, median ${x.median.toFixed(1)} ms, p90 ${x.p90.toFixed(1)} ms, max ${x.max.toFixed(1)} ms`;

t.test('an exposure through store A is refused by store B within 1 s', async (t) => {
  const { url } = await sharedRedis();
  const cfg = config({ url, keyPrefix: prefix() });
  const a = await open(t, cfg);
  const b = await open(t, cfg);
  const lat: number[] = [];
  for (let i = 0; i < 20; i++) {
    const fp = randomBytes(32).toString('hex');
    t.equal(b.store.statusOf(fp), undefined);
    const t0 = performance.now();
    void a.store.exposed({ fingerprint: fp, at: new Date(), client: '198.51.100.1', listener: 'http', header: 'x-amz-server-side-encryption-customer-key', requestId: `R${i}` });
    t.equal(a.store.statusOf(fp)?.status, 'compromised', 'A: at once');
    const seen = await until(() => b.store.statusOf(fp)?.status === 'compromised', 1000, 0);
    lat.push(performance.now() - t0);
    t.ok(seen, `B sees exposure ${i}`);
  }
  const s = stats(lat);
  t.ok(s.max < 1000, `cross-replica latency (2 stores, 1 process, 20 exposures): ${fmt(s)}`);
  t.comment(`cross-replica latency, in-process: ${fmt(s)}`);

  // status changes and forgetting travel the same way
  const fp = randomBytes(32).toString('hex');
  a.store.use({ fingerprint: fp, at: new Date(), client: 'c', operation: 'GetObject', bytesWritten: 0 });
  await a.store.flush();
  await a.store.setStatus(fp, 'retired');
  t.ok(await until(() => b.store.statusOf(fp)?.status === 'retired', 1000), 'B sees retired');
  await a.store.setStatus(fp, 'active');
  t.ok(await until(() => b.store.statusOf(fp) === undefined, 1000), 'B sees active again');
  await a.store.exposed({ fingerprint: fp, at: new Date(), client: 'c', listener: 'http', header: 'h', requestId: 'r' });
  t.ok(await until(() => b.store.statusOf(fp)?.status === 'compromised', 1000), 'B sees compromised');
  await b.store.forget(fp);
  t.ok(await until(() => a.store.statusOf(fp) === undefined, 1000), 'A sees it forgotten');

  // a replica started later loads the set in full
  const late = await open(t, cfg);
  t.equal(late.store.statusOf((await a.store.list()).find((r) => r.status === 'compromised')!.fingerprint)?.status, 'compromised', 'a new replica starts with every compromised key');
});

const CHILD = `
const [{ createFingerprintStore }, { loadConfig }, { createMetrics }, { createLogger }, { createInterface }] = await Promise.all([
  import(process.env.FP_STORE), import(process.env.FP_LOAD), import(process.env.FP_METRICS), import(process.env.FP_LOGGER), import('node:readline')]);
const base = loadConfig({ env: {} });
const cfg = { ...base, redis: { ...base.redis, url: process.env.FP_URL, keyPrefix: process.env.FP_PREFIX } };
const store = await createFingerprintStore(cfg, { metrics: createMetrics(), log: createLogger('silent'), refreshMs: 0 });
const say = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const watching = new Map();
setInterval(() => {
  for (const [fp, prev] of watching) {
    const s = store.statusOf(fp)?.status;
    if (s !== prev) { watching.set(fp, s); say({ fp, status: s ?? 'active', t: Date.now() }); }
  }
}, 1);
createInterface({ input: process.stdin }).on('line', async (line) => {
  const m = JSON.parse(line);
  if (m.watch) { watching.set(m.watch, store.statusOf(m.watch)?.status); say({ watching: m.watch }); }
  if (m.expose) { await store.exposed({ fingerprint: m.expose, at: new Date(), client: '203.0.113.5', listener: 'http', header: 'x-amz-server-side-encryption-customer-key', requestId: 'CHILD' }); }
  if (m.quit) { await store.close(); process.exit(0); }
});
say({ ready: true });
`;

t.test('two gateway-like processes on one Redis: an exposure in either is seen by the other within 1 s', async (t) => {
  const { url } = await sharedRedis();
  const pfx = prefix();
  const loader = process.execArgv.filter((a) => a.includes('@tapjs/typescript'));
  const mod = (p: string) => pathToFileURL(join(repoRoot, p)).href;
  const child = spawn(process.execPath, [...loader, '--input-type=module', '-e', CHILD], {
    env: { ...process.env, FP_URL: url, FP_PREFIX: pfx, FP_STORE: mod('src/fingerprints/store.ts'), FP_LOAD: mod('src/config/load.ts'), FP_METRICS: mod('src/metrics/registry.ts'), FP_LOGGER: mod('src/logging/logger.ts') },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const msgs: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => { try { msgs.push(JSON.parse(l) as Record<string, unknown>); } catch { /* not ours */ } });
  const send = (o: unknown) => child.stdin!.write(JSON.stringify(o) + '\n');
  t.ok(await until(() => msgs.some((m) => m.ready), 30_000, 10), 'child store ready');
  const parent = await open(t, config({ url, keyPrefix: pfx }));

  const lat: number[] = [];
  for (let i = 0; i < 10; i++) {
    const fp = randomBytes(32).toString('hex');
    send({ watch: fp });
    await until(() => msgs.some((m) => m.watching === fp), 5000);
    const t0 = Date.now();
    await parent.store.exposed({ fingerprint: fp, at: new Date(), client: '198.51.100.2', listener: 'http', header: 'x-amz-server-side-encryption-customer-key', requestId: `P${i}` });
    const ok = await until(() => msgs.some((m) => m.fp === fp && m.status === 'compromised'), 2000);
    t.ok(ok, `child sees exposure ${i}`);
    const m = msgs.find((x) => x.fp === fp && x.status === 'compromised');
    if (m) lat.push((m.t as number) - t0);
  }
  const s = stats(lat);
  t.ok(s.max < 1000, `parent → child process: ${fmt(s)}`);
  t.comment(`cross-process latency (parent exposes, child's statusOf flips; 1 ms poll): ${fmt(s)}`);

  const back: number[] = [];
  for (let i = 0; i < 10; i++) {
    const fp = randomBytes(32).toString('hex');
    const t0 = performance.now();
    send({ expose: fp });
    t.ok(await until(() => parent.store.statusOf(fp)?.status === 'compromised', 2000, 0), `parent sees the child's exposure ${i}`);
    back.push(performance.now() - t0);
  }
  const s2 = stats(back);
  t.ok(s2.max < 1000, `child → parent process: ${fmt(s2)}`);
  t.comment(`cross-process latency (child exposes on a stdin command, parent's statusOf flips): ${fmt(s2)}`);
  send({ quit: true });
  await new Promise((r) => child.once('exit', r));
});

t.test('Redis SIGKILLed during a burst: nothing waits or throws, drops are counted, the queue drains after a restart on the same port', async (t) => {
  const r = await privateRedis(t);
  const limit = 200;
  const cfg = config({ url: r.url, keyPrefix: 'kill:', queueLimit: limit });
  const { store, metrics, logs } = await open(t, cfg);
  const other = await open(t, cfg);
  const FP = 'f'.repeat(64);
  t.match(store.health(), { up: true, queueDepth: 0, dropped: 0 });

  const callUs: number[] = [];
  let threw = 0;
  let i = 0;
  const put = () => {
    const t0 = process.hrtime.bigint();
    try {
      store.objectWritten({ fingerprint: FP, bucket: 'kb', key: `k-${i++}`, size: 1, at: new Date() });
      store.use({ fingerprint: FP, at: new Date(), client: '10.1.1.1', bucket: 'kb', operation: 'PutObject', bytesWritten: 1 });
    } catch {
      threw++;
    }
    callUs.push(Number(process.hrtime.bigint() - t0) / 2000);
  };
  // the burst: 2000 writes, Redis killed half way
  for (let n = 0; n < 2000; n++) {
    put();
    if (n % 20 === 0) await new Promise((res) => setImmediate(res));
    if (n === 1000) process.kill(r.pid, 'SIGKILL');
  }
  t.ok(await until(() => !store.health().up, 5000, 5), 'the store notices Redis is gone');
  const d0 = store.health().queueDepth;
  const beforeDrops = store.health().dropped;
  // while down: more events than the queue takes; an exposure too
  const tExp = performance.now();
  const FPX = 'e'.repeat(64);
  await store.exposed({ fingerprint: FPX, at: new Date(), client: '198.51.100.3', listener: 'http', header: 'h', requestId: 'DOWN' });
  const exposedMs = performance.now() - tExp;
  t.ok(exposedMs < 250, `exposed() resolves at once while Redis is down (${exposedMs.toFixed(1)} ms)`);
  t.equal(store.statusOf(FPX)?.status, 'compromised', 'the local replica refuses the key anyway');
  const flushT0 = performance.now();
  t.notOk(await store.flush(50), 'flush() gives up at its timeout instead of waiting for Redis');
  t.ok(performance.now() - flushT0 < 1000, 'and returns');
  for (let n = 0; n < 1000; n++) put();
  t.equal(store.objectWritten({ fingerprint: FP, bucket: 'kb', key: 'sync', at: new Date() }) as unknown, undefined, 'the request-path calls are synchronous (no promise to wait on)');
  const h = store.health();
  t.equal(threw, 0, 'no call threw');
  // The calls are synchronous (they cannot wait on a socket); a call that waited on Redis would take its
  // reconnect interval (100-1000 ms) or command timeout (5 s). The p99 bound leaves room for a loaded machine.
  const cs = stats(callUs);
  const p99 = [...callUs].sort((x, y) => x - y)[Math.floor(callUs.length * 0.99)]!;
  t.ok(p99 < 1000, `no call waited: ${callUs.length} calls, median ${cs.median.toFixed(1)} µs, p99 ${p99.toFixed(1)} µs, max ${cs.max.toFixed(0)} µs (the max is CPU scheduling on a loaded machine)`);
  t.equal(h.queueDepth, limit + 1, 'the queue stopped at redis.queueLimit (+1 exposure, which is never dropped)');
  t.ok(h.dropped > beforeDrops, `events dropped: ${h.dropped}`);
  t.equal((await metrics.storeDropped.get()).values[0]?.value, h.dropped, 'ssec_gateway_fingerprint_events_dropped_total');
  t.equal((await metrics.storeUp.get()).values[0]?.value, 0, 'ssec_gateway_fingerprint_store_up 0');
  t.equal((await metrics.storeQueueDepth.get()).values[0]?.value, limit + 1, 'queue depth gauge');
  const dropLines = logs.filter((l) => l.event === 'fingerprint_events_dropped');
  t.equal(dropLines.length, 1, 'one rate-limited log line for the drops');
  t.ok(logs.some((l) => l.event === 'fingerprint_store_down'), 'store down logged');
  t.comment(`queued when the outage was noticed: ${d0} events; dropped in all: ${h.dropped} of ${2 * i} events`);

  // Redis back on the same port (empty: it has no persistence)
  const pidFile = join(r.dir, 'redis.pid');
  rmSync(pidFile, { force: true });
  const started = spawnSync('redis-server', [join(r.dir, 'redis.conf')]);
  t.equal(started.status, 0, 'redis-server restarted');
  t.ok(await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 5000, 20), 'pid file');
  writeFileSync(join(r.dir, 'redis.pidrec'), readFileSync(pidFile, 'utf8').trim() + '\n'); // so redis.sh stop ends the new one
  t.ok(await until(() => store.health().up, 10_000, 20), 'the store reconnects');
  t.ok(await store.flush(15_000), 'the queue drains');
  t.equal(store.health().queueDepth, 0);
  t.equal((await metrics.storeUp.get()).values[0]?.value, 1, 'store up again');
  t.ok(logs.some((l) => l.event === 'fingerprint_store_up'), 'store up logged');

  const rec = await store.get(FP);
  t.ok(rec, 'the key is known again');
  const queuedPuts = Math.ceil(d0 / 2);
  t.ok(rec!.objects >= 1 && rec!.objects <= queuedPuts + limit, `the queued inventory was written (${rec!.objects} objects)`);
  t.match(await store.get(FPX), { status: 'compromised', exposure: { requestId: 'DOWN' } }, 'the exposure made while down was persisted');
  t.ok(await until(() => other.store.statusOf(FPX)?.status === 'compromised', 5000), 'and reached the other replica');
  // pub/sub resumed too (not only the reload on reconnect)
  const FPY = 'd'.repeat(64);
  await store.exposed({ fingerprint: FPY, at: new Date(), client: '198.51.100.4', listener: 'http', header: 'h', requestId: 'AFTER' });
  t.ok(await until(() => other.store.statusOf(FPY)?.status === 'compromised', 1000), 'an exposure after the restart reaches the other replica over pub/sub');
  // the inventory resumes
  store.objectWritten({ fingerprint: FP, bucket: 'kb', key: 'after-restart', size: 7, at: new Date() });
  await store.flush();
  const keys: string[] = [];
  for await (const o of store.objects(FP)) keys.push(o.key);
  t.ok(keys.includes('after-restart'), 'new writes are recorded again');
});

function ctx(op: string, o: { bucket: string; key?: string; query?: string; headers?: Record<string, string>; sseC?: Buffer; copy?: Buffer; status?: number; remote?: string }): RequestContext {
  return {
    id: randomBytes(8).toString('hex').toUpperCase(), listener: 'https', protocol: 'h1', req: {} as RequestContext['req'], res: { statusCode: o.status ?? 200 } as ClientResponse,
    method: 'PUT', authority: 'gw', headers: o.headers ?? {}, remoteAddress: o.remote ?? '192.0.2.44', startedAt: 0n, expectContinue: false,
    target: { bucket: o.bucket, key: o.key, rawPath: '', rawQuery: o.query ?? '', query: new URLSearchParams(o.query ?? ''), style: 'path' },
    operation: op, sseC: o.sseC ? CustomerKey.fromRaw(o.sseC) : undefined, copySourceSseC: o.copy ? CustomerKey.fromRaw(o.copy) : undefined,
    upstreamHeaders: {}, bytesIn: 0, bytesOut: 0,
  };
}

t.test('after realistic traffic, no Redis key or value, pub/sub message, log line, webhook payload or CLI output holds key material', async (t) => {
  const r = await privateRedis(t);
  const raws = [KEY_A.raw, KEY_B.raw, KEY_GUIDE.raw, randomBytes(32)];
  const [ka, kb, kg, kr] = raws as [Buffer, Buffer, Buffer, Buffer];
  const hooks: string[] = [];
  const receiver = createServer((req: IncomingMessage, res) => { let b = ''; req.on('data', (c) => { b += c; }); req.on('end', () => { hooks.push(b); res.end(); }); });
  await new Promise<void>((res) => receiver.listen(0, '127.0.0.1', res));
  t.teardown(() => new Promise<void>((res) => receiver.close(() => res())));
  const cfg = config({ url: r.url, keyPrefix: 'ssecgw:' }, {
    rotation: { maxAgeDays: 0, maxObjects: 2, maxBytes: 0 }, alerts: { webhookUrl: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts` },
    keys: { onExposed: 'warn' },
  });
  const { store, logText } = await open(t, cfg, { webhook: { baseDelayMs: 10 } });
  const sub = new Redis(r.url);
  const published: string[] = [];
  await sub.subscribe('ssecgw:status');
  sub.on('message', (_c: string, m: string) => published.push(m));
  t.teardown(() => sub.quit().then(() => undefined));

  const tracker = new KeyTracker(store, SECRET, 'warn');
  const events = new KeyEvents(SECRET);
  events.on('exposed', (e) => { void store.exposed(e); });
  const run = (c: RequestContext, extra = {}) => { tracker.check(c); tracker.record(c, extra); };
  for (let i = 0; i < 5; i++) run(ctx('PutObject', { bucket: 'photos', key: `2026/img-${i}.jpg`, headers: { 'content-length': String(1000 + i) }, sseC: ka }));
  run(ctx('PutObject', { bucket: 'photos', key: 'guide.txt', headers: { 'content-length': '32' }, sseC: kg }));
  run(ctx('GetObject', { bucket: 'photos', key: '2026/img-1.jpg', sseC: ka }));
  run(ctx('CopyObject', { bucket: 'backup', key: 'img-0.jpg', headers: { 'x-amz-copy-source': '/photos/2026/img-0.jpg' }, sseC: kb, copy: ka }));
  run(ctx('CreateMultipartUpload', { bucket: 'videos', key: 'big.mp4', query: 'uploads', sseC: kr }), { uploadId: 'mp-1' });
  run(ctx('UploadPart', { bucket: 'videos', key: 'big.mp4', query: 'partNumber=1&uploadId=mp-1', headers: { 'content-length': String(5 << 20) }, sseC: kr }));
  run(ctx('UploadPart', { bucket: 'videos', key: 'big.mp4', query: 'partNumber=2&uploadId=mp-1', headers: { 'content-length': '77' }, sseC: kr }));
  run(ctx('CompleteMultipartUpload', { bucket: 'videos', key: 'big.mp4', query: 'uploadId=mp-1' }));
  run(ctx('DeleteObject', { bucket: 'photos', key: '2026/img-4.jpg' }));
  run(ctx('DeleteObjects', { bucket: 'photos', query: 'delete' }), { deleted: deletedObjects('photos', '<Delete><Object><Key>2026/img-3.jpg</Key></Object></Delete>', '<DeleteResult><Deleted><Key>2026/img-3.jpg</Key></Deleted></DeleteResult>') });
  // the guide's key goes over plaintext: exposed; then used again (onExposed warn)
  events.exposed({ keyHeaderValue: kg.toString('base64'), header: 'x-amz-server-side-encryption-customer-key', client: '198.51.100.66', listener: 'http', requestId: 'PLAIN1' });
  run(ctx('GetObject', { bucket: 'photos', key: 'guide.txt', sseC: kg }));
  await store.flush();
  await store.setStatus(fpOf(kb), 'retired');
  run(ctx('GetObject', { bucket: 'backup', key: 'img-0.jpg', sseC: kb }));
  await store.flush();
  await store.refresh();
  const alertsPosted = () => hooks.reduce((n, h) => n + (JSON.parse(h) as unknown[]).length, 0);
  t.ok(await until(() => alertsPosted() >= 4, 5000, 10), 'exposed, compromised_used, rotation_due and retired_used posted');

  // sanity: the traffic really landed
  const a = await store.get(fpOf(ka));
  t.match(a, { objects: 3, requests: 7 }, 'key A: 3 objects left (2 deleted), 7 uses (5 puts, a get, a copy source)');
  t.match(await store.get(fpOf(kr)), { objects: 1, objectBytes: (5 << 20) + 77 }, 'multipart recorded with the summed size');
  t.match(await store.get(fpOf(kg)), { status: 'compromised', exposure: { requestId: 'PLAIN1' } });
  t.match(await store.get(fpOf(kb)), { status: 'retired', objects: 1 });
  t.equal((await store.get(fpOf(kb)))!.objectBytes, 1000, 'copy size taken from the source');

  // every key and value in the Redis
  const rc = new Redis(r.url);
  t.teardown(() => rc.quit().then(() => undefined));
  let dump = '';
  const types = new Map<string, number>();
  let cursor = '0';
  do {
    const [next, keys] = await rc.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await rc.type(key);
      types.set(type, (types.get(type) ?? 0) + 1);
      dump += `\n${type} ${key}\n`;
      if (type === 'string') dump += await rc.get(key);
      else if (type === 'hash') dump += JSON.stringify(await rc.hgetall(key));
      else if (type === 'set') dump += JSON.stringify(await rc.smembers(key));
      else if (type === 'zset') dump += JSON.stringify(await rc.zrange(key, '0', '-1', 'WITHSCORES'));
      else if (type === 'list') dump += JSON.stringify(await rc.lrange(key, 0, -1));
      else dump += JSON.stringify(await rc.dump(key));
    }
  } while (cursor !== '0');
  t.ok((types.get('hash') ?? 0) >= 8 && (types.get('zset') ?? 0) >= 3, `scanned ${[...types].map(([k, n]) => `${n} ${k}`).join(', ')}`);
  t.ok(dump.includes(fpOf(ka)) && dump.includes('2026/img-0.jpg'), 'the dump holds fingerprints and object names (the check is not vacuous)');
  assertNoKeyMaterial(t, dump, raws, 'every Redis key and value');
  assertNoKeyMaterial(t, published.join('\n'), raws, 'pub/sub messages');
  t.ok(published.length >= 2, `${published.length} status messages published`);
  assertNoKeyMaterial(t, logText(), raws, 'log lines');
  t.ok(hooks.length >= 1, `${hooks.length} webhook posts`);
  assertNoKeyMaterial(t, hooks.join('\n'), raws, 'webhook payloads');
  const out: string[] = [];
  const sink = new Writable({ write(c, _e, cb) { out.push(String(c)); cb(); } });
  for (const argv of [['list'], ['list', '--json'], ['show', fpOf(ka).slice(0, 8)], ['objects', fpOf(ka).slice(0, 8), '--json'], ['show', fpOf(kg).slice(0, 8), '--json']]) {
    t.equal(await keysCommand(argv, cfg, sink, { err: sink }), 0, `keys ${argv.join(' ')}`);
  }
  t.ok(out.join('').includes(fpOf(ka).slice(0, 16)), 'the CLI printed the keys');
  assertNoKeyMaterial(t, out.join(''), raws, 'CLI output');
});
