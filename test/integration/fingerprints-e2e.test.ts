// Key fingerprints end to end (issue #4 item 9): real gateway processes, a real redis-server and a real
// RGW. A key exposed on replica A's plaintext listener is refused by replica B within 1 s (and let
// through, with an alert, by a replica in `--on-exposed-key warn`); `ssec-gateway keys` shows the
// exposure and the object inventory (overwrite without a key and DeleteObject drop entries, an
// aws-cli multipart upload is recorded with its total size); Redis SIGKILLed under steady SSE-C
// traffic fails no request and shows in /metrics, and the inventory resumes once it is back on the same
// port; finally no Redis key or value, gateway output or CLI output holds key material.
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { awsCli, randomSecret, sseKey, type Endpoint, type RunResult, type SseKey } from '../helpers/clients.js';
import {
  cliRuns, dumpRedis, fingerprintOf, keysList, keysObjects, metricsOf, privateRedis, removeBucket, s3Error, sleep, triplet, until, type ObjectJson,
} from '../helpers/fingerprints-e2e.js';
import { startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { assertNoKeyMaterial } from '../helpers/keys.js';
import { bucketName, createBucket, sharedRedis, sharedRgw } from '../helpers/rgw.js';
import { s3Raw, type RawRequest, type RawResponse } from '../helpers/s3-raw.js';

const started = performance.now();
const rgw = await sharedRgw();
const redis = await sharedRedis();
const SECRET = 'fingerprints-e2e-test-secret';
const PREFIX = `fpe2e${process.pid}:`;
const STORE = ['--redis-url', redis.url, '--fingerprint-secret', SECRET, '--redis-key-prefix', PREFIX];
const WHEN_REQUIRED = { AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required' };

const gateways: GatewayProcess[] = [];
const [gwA, gwB, gwW] = await Promise.all([
  startGateway({ upstream: rgw.http, plaintext: true, args: STORE }),
  startGateway({ upstream: rgw.http, args: STORE }),
  startGateway({ upstream: rgw.http, args: [...STORE, '--on-exposed-key', 'warn'] }),
]);
gateways.push(gwA, gwB, gwW);
const ep = (gw: GatewayProcess): Endpoint => ({ url: gw.url, accessKey: rgw.accessKey, secretKey: rgw.secretKey, region: rgw.region, caFile: gw.caFile });
const epA = ep(gwA);
const plainA: Endpoint = { ...epA, url: gwA.httpUrl!, caFile: undefined };
const epB = ep(gwB);
const epW = ep(gwW);

const bucket = bucketName('fp-e2e');
await createBucket(rgw, bucket);
const work = await mkdtemp(path.join(os.tmpdir(), 'fp-e2e-'));

// every key used, searched for at the end
const allKeys: Buffer[] = [];
const key = (secret?: string): SseKey => { const k = sseKey(secret); allKeys.push(k.raw); return k; };
const fp = (k: SseKey) => fingerprintOf(k.raw, SECRET);
const id = (k: SseKey) => fp(k).slice(0, 16);
const clientOutputs: RunResult[] = [];

const K = key(); // exposed through A
const K2 = key(); // inventory (raw requests)
const secret3 = randomSecret();
const K3 = key(secret3); // aws-cli multipart
const K4 = key(); // traffic while Redis is killed
const extraExposed = [key(), key(), key(), key()]; // more exposures, for latency figures

t.teardown(async () => {
  await Promise.all(gateways.map((g) => g.stop()));
  await removeBucket(rgw, bucket);
  await rm(work, { recursive: true, force: true });
  t.comment(`fingerprints-e2e wall time: ${((performance.now() - started) / 1000).toFixed(1)} s`);
});

const put = (e: Endpoint, k: string, body: Buffer, sse?: SseKey, headers: Record<string, string> = {}) =>
  s3Raw(e, { method: 'PUT', path: `/${bucket}/${k}`, headers: { ...(sse ? triplet(sse) : {}), ...headers }, body });
const get = (e: Endpoint, k: string, sse?: SseKey, extra: Partial<RawRequest> = {}) =>
  s3Raw(e, { method: 'GET', path: `/${bucket}/${k}`, headers: sse ? triplet(sse) : {}, ...extra });
const del = (e: Endpoint, k: string) => s3Raw(e, { method: 'DELETE', path: `/${bucket}/${k}` });
const detail = (r: RawResponse) => ({ status: r.status, body: r.body.toString('utf8').slice(0, 400) });

/** Polls `keys objects ID` until check(entries) holds (the store writes in batches, asynchronously). */
async function objectsUntil(k: SseKey, check: (o: ObjectJson[]) => boolean, ms = 10_000, store = STORE): Promise<ObjectJson[]> {
  let last: ObjectJson[] = [];
  await until(async () => check((last = await keysObjects(store, id(k)))), ms, 200);
  return last;
}

interface Exposure { ms: number; polls: number; requestId: string; t0Wall: number; refusal: RawResponse }

/** Writes an object with k through B, sends k over A's plaintext listener, polls B until it refuses k. */
async function exposeAndWatch(tt: Test, k: SseKey, name: string): Promise<Exposure> {
  const body = randomBytes(1000);
  tt.equal((await put(epB, name, body, k)).status, 200, `PUT ${name} with the key through B`);
  const before = await get(epB, name, k);
  tt.equal(before.status, 200, 'B serves it before the exposure');
  const t0Wall = Date.now();
  const t0 = performance.now();
  const plain = await put(plainA, `${name}.plain`, body, k);
  tt.equal(plain.status, 400, 'SSE-C PUT over A\'s plaintext listener: 400', detail(plain));
  tt.equal(s3Error(plain.body).code, 'InvalidRequest');
  const requestId = String(plain.headers['x-amz-request-id'] ?? '');
  let polls = 0;
  let r: RawResponse;
  const seen = new Set<number>();
  for (;;) {
    r = await get(epB, name, k);
    polls++;
    seen.add(r.status);
    if (r.status !== 200 || performance.now() - t0 > 5000) break;
  }
  const ms = performance.now() - t0;
  tt.equal(r.status, 403, `B refuses the key (after ${polls} GETs; statuses seen ${[...seen].join(',')})`, detail(r));
  tt.ok(ms < 1000, `within 1 s of the plaintext request: ${ms.toFixed(0)} ms`);
  return { ms, polls, requestId, t0Wall, refusal: r };
}

t.test('a key exposed through replica A is refused by replica B within 1 s; warn mode lets it through with an alert', async (tt) => {
  const x = await exposeAndWatch(tt, K, 'exp/k.bin');
  const err = s3Error(x.refusal.body);
  tt.equal(err.code, 'AccessDenied', 'S3 code AccessDenied');
  const m = /exposed over plaintext HTTP on (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) and must be rotated/.exec(err.message ?? '');
  tt.ok(m, `the message says when the key was exposed and that it must be rotated: "${err.message}"`);
  if (m) {
    const when = Date.parse(m[1]!);
    tt.ok(when >= Math.floor(x.t0Wall / 1000) * 1000 - 1000 && when <= Date.now() + 1000, `the date is the exposure's (${m[1]})`);
  }
  tt.match(err.message, new RegExp(`id ${id(K)}`), 'and names the key id');

  // a PUT with K is refused too, on B and on A's own HTTPS listener
  const putB = await put(epB, 'exp/k-again.bin', randomBytes(10), K);
  tt.equal(putB.status, 403, 'PUT with K on B: 403', detail(putB));
  tt.equal(s3Error(putB.body).code, 'AccessDenied');
  const getA = await get(epA, 'exp/k.bin', K);
  tt.equal(getA.status, 403, 'GET with K on A (HTTPS): 403');

  // another key still works on B
  const other = randomBytes(1234);
  tt.equal((await put(epB, 'exp/k2.bin', other, K2)).status, 200, 'PUT with another key on B: 200');
  const back = await get(epB, 'exp/k2.bin', K2);
  tt.equal(back.status, 200, 'GET with another key on B: 200');
  tt.ok(back.body.equals(other), 'same bytes');

  // more exposures, for the latency figures
  const lat = [x.ms];
  for (const [i, k] of extraExposed.entries()) lat.push((await exposeAndWatch(tt, k, `exp/extra-${i}.bin`)).ms);
  const s = [...lat].sort((a, b) => a - b);
  tt.comment(`exposure on A (plaintext PUT sent) → B answers 403: ${lat.map((v) => v.toFixed(0)).join(', ')} ms (median ${s[Math.floor(s.length / 2)]!.toFixed(0)} ms, max ${s[s.length - 1]!.toFixed(0)} ms; B polled back-to-back over new TLS connections)`);

  // a third replica in warn mode lets K through and raises compromised_used
  const w = await get(epW, 'exp/k.bin', K);
  tt.equal(w.status, 200, '--on-exposed-key warn: GET with the exposed key is forwarded (200)', detail(w));
  const alert = await until(() => gwW.logs().find((l) => l.event === 'key_alert' && l.alert === 'compromised_used' && l.fingerprint === fp(K)), 10_000);
  tt.ok(alert, 'warn replica logs a compromised_used key alert for K');
  if (!alert) {
    const rec = (await keysList(STORE)).find((k) => k.fingerprint === fp(K));
    tt.comment(`diagnostics: K's record ${JSON.stringify({ status: rec?.status, requests: rec?.requests, lastSeen: rec?.lastSeen, alerts: rec?.alerts, exposure: rec?.exposure?.at })}; GET on W at ${new Date(Date.now()).toISOString()}`);
    for (const [name, g] of [['A', gwA], ['B', gwB], ['W', gwW]] as const) {
      const lines = g.logs().filter((l) => l.event === 'key_alert' && l.fingerprint === fp(K)).map((l) => ({ alert: l.alert, at: l.at, client: l.client, msg: l.msg }));
      tt.comment(`diagnostics: key_alert lines for K on ${name}: ${JSON.stringify(lines)}`);
    }
    tt.comment(`diagnostics: W's log: ${JSON.stringify(gwW.logs().filter((l) => l.event || (l.level as number) >= 40).map((l) => ({ level: l.level, event: l.event, msg: l.msg, alert: l.alert, keyId: l.keyId, time: l.time }))).slice(0, 4000)}`);
  }
  tt.match(alert, { level: 50, keyId: id(K), alertname: 'SseCCompromisedKeyUsed', severity: 'critical' });
  tt.notOk(gwB.logs().some((l) => l.event === 'key_alert' && l.alert === 'compromised_used' && l.fingerprint === fp(K)),
    'B (deny mode: it served K only before the exposure, refused it after) raises no compromised_used alert');
  const mw = await metricsOf(gwW.adminUrl);
  tt.ok((mw.get('ssec_gateway_key_alerts_total{kind="compromised_used"}') ?? 0) >= 1, 'ssec_gateway_key_alerts_total{kind="compromised_used"} on the warn replica');

  // A logged the exposure and alerted on it
  tt.ok(gwA.logs().some((l) => l.event === 'key_exposed' && l.fingerprint === fp(K) && l.listener === 'http' && l.requestId === x.requestId), 'A logs key_exposed with the request id');
  tt.ok(await until(() => gwA.logs().some((l) => l.event === 'key_alert' && l.alert === 'exposed' && l.fingerprint === fp(K)), 5000), 'A raises the exposed alert');
  const ma = await metricsOf(gwA.adminUrl);
  tt.equal(ma.get('ssec_gateway_key_exposures_total'), 1 + extraExposed.length, 'ssec_gateway_key_exposures_total on A');
});

t.test('keys list shows the exposure; keys objects the inventory: overwrite without a key and DeleteObject drop entries, multipart has its total size', async (tt) => {
  const all = await keysList(STORE);
  const rec = all.find((k) => k.fingerprint === fp(K));
  tt.ok(rec, `keys list --json lists K (${all.length} keys)`);
  tt.match(rec, {
    id: id(K), status: 'compromised',
    exposure: { listener: 'http', header: 'x-amz-server-side-encryption-customer-key', count: 1, client: /^(::ffff:)?127\.0\.0\.1$/ },
  }, 'K: compromised, exposure client/listener/header');
  tt.ok(rec?.exposure?.requestId && gwA.logs().some((l) => l.event === 'key_exposed' && l.requestId === rec.exposure!.requestId), `exposure request id ${rec?.exposure?.requestId} is A's plaintext request`);
  tt.ok(rec && Math.abs(Date.parse(rec.exposure!.at) - Date.parse(rec.statusAt ?? '')) < 5000, 'statusAt ≈ exposure time');
  tt.equal(rec?.objects, 1, 'K protects the one object written before the exposure');
  for (const k of extraExposed) tt.equal(all.find((r) => r.fingerprint === fp(k))?.status, 'compromised', `extra key ${id(k)} compromised`);
  const r2 = all.find((k) => k.fingerprint === fp(K2));
  tt.match(r2, { status: 'active', exposure: null }, 'K2 is active, never exposed');

  // objects written through the three replicas land in one inventory
  const sizes: Record<string, number> = { 'inv/a.bin': 3000, 'inv/b.bin': 4000, 'inv/c.bin': 5000 };
  tt.equal((await put(epB, 'inv/a.bin', randomBytes(3000), K2)).status, 200, 'PUT inv/a through B');
  tt.equal((await put(epA, 'inv/b.bin', randomBytes(4000), K2)).status, 200, 'PUT inv/b through A (HTTPS)');
  tt.equal((await put(epW, 'inv/c.bin', randomBytes(5000), K2)).status, 200, 'PUT inv/c through W');
  const want = (o: ObjectJson[]) => Object.entries(sizes).every(([k, n]) => o.some((e) => e.bucket === bucket && e.key === k && e.size === n));
  let objs = await objectsUntil(K2, want);
  tt.ok(want(objs), `keys objects ${id(K2)}: the three objects with bucket, key and size`, { objs });
  tt.ok(objs.some((e) => e.key === 'exp/k2.bin' && e.size === 1234), 'and the object written in the first test');
  tt.equal(objs.length, 4, '4 entries');

  // overwrite without a key, DeleteObject
  const plainOverwrite = await put(epB, 'inv/a.bin', randomBytes(100));
  tt.equal(plainOverwrite.status, 200, 'PUT inv/a without SSE-C (overwrite) through B');
  const d = await del(epA, 'inv/b.bin');
  tt.equal(d.status, 204, 'DELETE inv/b through A');
  const gone = (o: ObjectJson[]) => !o.some((e) => e.key === 'inv/a.bin' || e.key === 'inv/b.bin');
  objs = await objectsUntil(K2, gone);
  tt.ok(gone(objs), 'the overwritten and the deleted objects left the inventory', { objs });
  tt.same(objs.map((e) => e.key).sort(), ['exp/k2.bin', 'inv/c.bin'], 'the others stay');

  // multipart: aws-cli s3 cp of 20 MiB (8 MiB parts) with --sse-c
  const big = randomBytes(20 << 20);
  await writeFile(path.join(work, 'big.bin'), big);
  const cp = await awsCli('v1', epB, ['s3', 'cp', 'big.bin', `s3://${bucket}/inv/big.bin`, '--sse-c', 'AES256', '--sse-c-key', secret3], { env: WHEN_REQUIRED, cwd: work });
  clientOutputs.push(cp);
  tt.equal(cp.code, 0, 'aws-cli s3 cp 20 MiB --sse-c through B', { stderr: cp.stderr.slice(-1000) });
  const head = await s3Raw(epB, { method: 'HEAD', path: `/${bucket}/inv/big.bin`, headers: triplet(K3) });
  tt.match(String(head.headers.etag), /-3"?$/, `it is a 3-part multipart object (ETag ${head.headers.etag})`);
  const mp = (o: ObjectJson[]) => o.some((e) => e.key === 'inv/big.bin' && e.size === 20 << 20);
  objs = await objectsUntil(K3, mp);
  tt.ok(mp(objs), `keys objects ${id(K3)}: inv/big.bin with 20971520 bytes`, { objs });
  const r3 = (await keysList(STORE)).find((k) => k.fingerprint === fp(K3));
  tt.match(r3, { objects: 1, objectBytes: 20 << 20 }, 'keys list: K3 protects 1 object of 20 MiB');
  tt.ok((r3?.bytesWritten ?? 0) >= 20 << 20, `bytes written counted (${r3?.bytesWritten})`);
  const text = cliRuns.at(-1)!.stdout;
  tt.ok(text.length > 0, 'the CLI printed');
});

t.test('Redis SIGKILLed under steady SSE-C traffic: no request fails, /metrics shows it, the inventory resumes after a restart on the same port', async (tt) => {
  const r = await privateRedis();
  tt.teardown(() => r.stop());
  const store = ['--redis-url', r.url, '--fingerprint-secret', SECRET, '--redis-key-prefix', PREFIX];
  const gw = await startGateway({ upstream: rgw.http, args: [...store, '--redis-queue-limit', '100'] });
  gateways.push(gw);
  const e = ep(gw);
  const metric = async (name: string) => (await metricsOf(gw.adminUrl)).get(name);
  tt.equal(await metric('ssec_gateway_fingerprint_store_up'), 1, 'store up at start');

  const statuses = new Map<string, number>();
  const count = (what: string) => statuses.set(what, (statuses.get(what) ?? 0) + 1);
  const written: { key: string; at: number }[] = [];
  const durations: { at: number; ms: number }[] = [];
  let tKill = Infinity;
  let stop = false;
  let n = 0;
  let restartedAt = Infinity;
  const worker = async (w: number) => {
    while (!stop) {
      const name = `kill/w${w}-${n++}.bin`;
      const body = randomBytes(2048);
      const startedAt = performance.now();
      try {
        const p = await put(e, name, body, K4);
        const mid = performance.now();
        durations.push({ at: startedAt, ms: mid - startedAt });
        count(`PUT ${p.status}`);
        if (p.status === 200) written.push({ key: name, at: startedAt });
        const g = await get(e, name, K4);
        durations.push({ at: mid, ms: performance.now() - mid });
        count(`GET ${g.status}${g.status === 200 && !g.body.equals(body) ? ' (wrong bytes)' : ''}`);
      } catch (err) {
        count(`error ${(err as Error).message}`);
      }
    }
  };
  const workers = [worker(0), worker(1)];
  try {
    await sleep(1500);
    const beforeKill = n;
    tKill = performance.now();
    r.kill();
    const down = await until(async () => (await metric('ssec_gateway_fingerprint_store_up')) === 0, 10_000, 50);
    tt.ok(down, `ssec_gateway_fingerprint_store_up 0 on /metrics, ${(performance.now() - tKill).toFixed(0)} ms after the SIGKILL`);
    const dropped = await until(async () => ((await metric('ssec_gateway_fingerprint_events_dropped_total')) ?? 0) > 0, 30_000, 100);
    tt.ok(dropped, 'events dropped once the queue (--redis-queue-limit 100) is full');
    const m = await metricsOf(gw.adminUrl);
    const depth = m.get('ssec_gateway_fingerprint_queue_depth') ?? -1;
    tt.ok(depth >= 100 && depth <= 101, `ssec_gateway_fingerprint_queue_depth ${depth} (the limit)`);
    const droppedN = m.get('ssec_gateway_fingerprint_events_dropped_total') ?? 0;
    tt.comment(`while down: queue depth ${depth}, dropped ${droppedN}, requests so far ${n} (${n - beforeKill} since the kill)`);
    await sleep(500);

    await r.restart();
    const up = await until(async () => (await metric('ssec_gateway_fingerprint_store_up')) === 1, 15_000, 50);
    tt.ok(up, 'store up again after Redis restarted on the same port');
    restartedAt = performance.now();
    const drained = await until(async () => (await metric('ssec_gateway_fingerprint_queue_depth')) === 0, 15_000, 50);
    tt.ok(drained, 'the queue drained');
    await sleep(1500);
  } finally {
    stop = true;
    await Promise.all(workers);
  }
  const lat = (xs: { ms: number }[]) => { const v = xs.map((x) => x.ms).sort((a, b) => a - b); return v.length ? `median ${v[Math.floor(v.length / 2)]!.toFixed(0)} ms, max ${v[v.length - 1]!.toFixed(0)} ms (${v.length})` : 'none'; };
  const duringOutage = durations.filter((d) => d.at >= tKill && d.at <= restartedAt);
  tt.comment(`request latency: Redis up ${lat(durations.filter((d) => d.at < tKill || d.at > restartedAt))}; Redis down or reconnecting ${lat(duringOutage)}`);
  tt.ok(duringOutage.length > 0 && duringOutage.every((d) => d.ms < 3000), 'no request waited on Redis while it was down (each < 3 s; the store\'s connect/command timeouts are 3 s/5 s)');
  const after = written.filter((w) => w.at > restartedAt).map((w) => w.key);
  tt.ok(after.length > 0, `${after.length} objects written after the restart`);
  const total = [...statuses.values()].reduce((a, b) => a + b, 0);
  tt.same([...statuses.keys()].sort(), ['GET 200', 'PUT 200'], `every request answered 200: ${JSON.stringify(Object.fromEntries(statuses))} (${total} requests)`);

  const objs = await objectsUntil(K4, (o) => after.every((k) => o.some((x) => x.key === k)), 10_000, store);
  const missing = after.filter((k) => !objs.some((x) => x.key === k));
  tt.same(missing, [], `keys objects ${id(K4)} (private Redis) lists every object written after the restart (${objs.length} entries in all)`);
  if (missing.length) {
    const d = await dumpRedis(r.url);
    tt.comment(`diagnostics: private Redis after the restart holds ${d.keys} keys: ${d.text.split('\n').filter((l) => /^(hash|zset|string|set|list) /.test(l)).map((l) => l.replace(fp(K4), 'FP(K4)')).join(' | ').slice(0, 3000)}`);
    tt.comment(`diagnostics: gateway store log lines: ${JSON.stringify(gw.logs().filter((l) => String(l.event ?? '').startsWith('fingerprint')).map((l) => ({ event: l.event, err: l.err, what: l.what, queued: l.queued, requeued: l.requeued, dropped: l.dropped }))).slice(0, 3000)}`);
  }
  tt.ok(objs.filter((x) => after.includes(x.key)).every((x) => x.size === 2048 && x.bucket === bucket), 'with bucket and size');
  tt.ok(gw.logs().some((l) => l.event === 'fingerprint_store_down'), 'store down logged');
  tt.ok(gw.logs().some((l) => l.event === 'fingerprint_events_dropped'), 'drops logged');
  tt.ok(gw.logs().some((l) => l.event === 'fingerprint_store_up'), 'store up logged');

  const dump = await dumpRedis(r.url);
  assertNoKeyMaterial(tt, dump.text, allKeys, `every key and value of the private Redis (${dump.keys} keys)`);
});

t.test('no key material in any Redis key or value, in the gateways\' output or in the CLI\'s', async (tt) => {
  const dump = await dumpRedis(redis.url);
  tt.ok(dump.text.includes(fp(K)) && dump.text.includes(`${bucket}/inv/c.bin`), 'the dump holds fingerprints and object names (the check is not vacuous)');
  tt.ok((dump.types.get('hash') ?? 0) >= 5 && (dump.types.get('zset') ?? 0) >= 3, `scanned ${dump.keys} keys: ${[...dump.types].map(([k, n]) => `${n} ${k}`).join(', ')}`);
  assertNoKeyMaterial(tt, dump.text, allKeys, 'every key and value of the shared Redis');
  for (const [i, g] of gateways.entries()) {
    tt.ok(g.output().length > 0, `gateway ${i} printed`);
    assertNoKeyMaterial(tt, g.output(), allKeys, `gateway ${i} output`);
  }
  assertNoKeyMaterial(tt, cliRuns.map((r) => r.stdout + r.stderr).join('\n'), allKeys, `output of ${cliRuns.length} ssec-gateway keys runs`);
  assertNoKeyMaterial(tt, clientOutputs.map((r) => r.stdout + r.stderr).join('\n'), allKeys, 'aws-cli output');
});
