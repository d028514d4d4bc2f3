// The FingerprintStore contract, run unchanged against every implementation: the in-memory store,
// the Redis store on the suite's real redis-server, through a Redis Sentinel, and on a 3-master
// Redis Cluster (both started here when redis-server can) — the cluster run proves the hash-tag
// key design never needs a cross-slot command.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { loadConfig, type GatewayConfig } from '../../src/config/load.js';
import type { Worker } from 'node:cluster';
import { createFingerprintStore, type CreateStoreDeps } from '../../src/fingerprints/store.js';
import { RemoteStore, serveStore, type StoreMessage } from '../../src/fingerprints/remote-store.js';
import type { FingerprintStore, KeyRecord, ObjectEntry } from '../../src/fingerprints/types.js';
import { createLogger } from '../../src/logging/logger.js';
import { createMetrics, type Metrics } from '../../src/metrics/registry.js';
import { sharedRedis } from '../helpers/rgw.js';

const FP = (c: string) => c.repeat(64).slice(0, 64);
const A = FP('a1');
const B = FP('b2');
const C = FP('c3');
const T0 = new Date('2026-11-01T10:00:00Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);

interface Impl {
  name: string;
  config(base: GatewayConfig): GatewayConfig;
  cleanup?(): Promise<void>;
  /** how the store under test is opened, when not createFingerprintStore */
  open?(t: Test, cfg: GatewayConfig, deps: CreateStoreDeps): Promise<FingerprintStore>;
  /** two stores sharing one state, when not two createFingerprintStore on one Redis */
  pair?(t: Test, cfg: GatewayConfig): Promise<[FingerprintStore, FingerprintStore]>;
}

function baseConfig(): GatewayConfig {
  return loadConfig({ env: {} });
}

function withRedis(cfg: GatewayConfig, redis: Partial<GatewayConfig['redis']>, rest: Partial<GatewayConfig> = {}): GatewayConfig {
  return { ...cfg, ...rest, redis: { ...cfg.redis, ...redis } };
}

let prefixSeq = 0;
function prefix(): string {
  return `fpc:${process.pid}:${++prefixSeq}:`;
}

interface Harness { store: FingerprintStore; metrics: Metrics; logs: Record<string, unknown>[] }

async function open(t: Test, impl: Impl, over: Partial<GatewayConfig> = {}): Promise<Harness> {
  const metrics = createMetrics();
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk, _e, cb) { for (const l of String(chunk).split('\n')) if (l) logs.push(JSON.parse(l) as Record<string, unknown>); cb(); } });
  const base = impl.config(baseConfig());
  const cfg: GatewayConfig = { ...base, ...over, redis: { ...base.redis, ...(over.redis ?? {}) } };
  const deps: CreateStoreDeps = { metrics, log: createLogger('debug', sink), refreshMs: 0 };
  const store = impl.open ? await impl.open(t, cfg, deps) : await createFingerprintStore(cfg, deps);
  t.teardown(() => store.close());
  return { store, metrics, logs };
}

async function alertCount(m: Metrics, kind: string): Promise<number> {
  return (await m.keyAlerts.get()).values.find((v) => v.labels.kind === kind)?.value ?? 0;
}

async function all(store: FingerprintStore, fp: string, count?: number): Promise<ObjectEntry[]> {
  const out: ObjectEntry[] = [];
  for await (const o of store.objects(fp, { count })) out.push(o);
  return out.sort((a, b) => (a.bucket + a.key + (a.versionId ?? '')).localeCompare(b.bucket + b.key + (b.versionId ?? '')));
}

const names = (es: ObjectEntry[]) => es.map((e) => `${e.bucket}/${e.key}${e.versionId ? '@' + e.versionId : ''}`);

async function must(store: FingerprintStore, fp: string): Promise<KeyRecord> {
  const r = await store.get(fp);
  if (!r) throw new Error(`no record for ${fp.slice(0, 16)}`);
  return r;
}

function contract(t: Test, impl: Impl): void {
  t.test('use: counters, times, clients, buckets, registry', async (t) => {
    const { store } = await open(t, impl);
    store.use({ fingerprint: A, at: at(10), client: '10.0.0.1', bucket: 'b1', operation: 'PutObject', bytesWritten: 100 });
    store.use({ fingerprint: A, at: at(5), client: '10.0.0.2', bucket: 'b2', operation: 'GetObject', bytesWritten: 0 });
    store.use({ fingerprint: A, at: at(20), client: '10.0.0.1', bucket: 'b1', operation: 'UploadPart', bytesWritten: 50 });
    t.ok(await store.flush(), 'flushed');
    store.use({ fingerprint: A, at: at(30), client: '10.0.0.3', operation: 'HeadObject', bytesWritten: 0 });
    store.use({ fingerprint: B, at: at(40), client: '10.0.0.9', bucket: 'b9', operation: 'GetObject', bytesWritten: 0 });
    t.ok(await store.flush(), 'flushed');
    const a = await must(store, A);
    t.match(a, { fingerprint: A, id: A.slice(0, 16), status: 'active', requests: 4, bytesWritten: 150, objects: 0, objectBytes: 0 });
    t.equal(a.firstSeen.getTime(), at(5).getTime(), 'first seen = earliest use');
    t.equal(a.lastSeen.getTime(), at(30).getTime(), 'last seen = latest use');
    t.same(a.clients, ['10.0.0.3', '10.0.0.1', '10.0.0.2'], 'clients, newest first');
    t.same(a.buckets, ['b1', 'b2'], 'buckets, newest first');
    t.equal(a.exposure, undefined);
    t.same(a.alerts, {});
    t.equal(store.statusOf(A), undefined, 'active: no restriction');
    t.same((await store.list()).map((r) => r.fingerprint), [A, B], 'list, oldest first');
    t.equal(await store.get(C), undefined, 'unknown key');
    t.match(store.health(), { up: true, queueDepth: 0, dropped: 0 });
  });

  t.test('inventory: writes, overwrites with another key or none, deletes, versions, cursor', async (t) => {
    const { store } = await open(t, impl);
    for (let i = 0; i < 7; i++) store.objectWritten({ fingerprint: A, bucket: 'bk', key: `o${i}`, size: 10 + i, at: at(i) });
    store.objectWritten({ fingerprint: A, bucket: 'bk', key: 'dir/we ird\tkey/ü', size: 1, at: at(7) });
    await store.flush();
    let a = await must(store, A);
    t.equal(a.objects, 8);
    t.equal(a.objectBytes, 10 + 11 + 12 + 13 + 14 + 15 + 16 + 1);
    const page1 = await store.objectsPage(A, { count: 3 });
    t.ok(page1.entries.length >= 1, 'a page has entries');
    const walked = await all(store, A, 2);
    t.same(names(walked), ['bk/dir/we ird\tkey/ü', 'bk/o0', 'bk/o1', 'bk/o2', 'bk/o3', 'bk/o4', 'bk/o5', 'bk/o6'], 'the cursor walks every entry once');
    t.match(walked.find((e) => e.key === 'o3'), { size: 13, at: at(3) });

    store.objectWritten({ fingerprint: B, bucket: 'bk', key: 'o1', size: 1000, at: at(20) }); // moved to B
    store.objectWritten({ bucket: 'bk', key: 'o2', size: 5, at: at(21) }); // overwritten without a key
    store.objectRemoved({ bucket: 'bk', key: 'o3' }); // deleted
    store.objectWritten({ fingerprint: A, bucket: 'bk', key: 'o4', size: 40, at: at(22) }); // rewritten, same key, new size
    store.objectRemoved({ bucket: 'bk', key: 'never-written' });
    await store.flush();
    a = await must(store, A);
    t.same(names(await all(store, A)), ['bk/dir/we ird\tkey/ü', 'bk/o0', 'bk/o4', 'bk/o5', 'bk/o6']);
    t.equal(a.objects, 5);
    t.equal(a.objectBytes, 10 + 40 + 15 + 16 + 1, 'bytes follow overwrites and removals');
    const b = await must(store, B);
    t.match(b, { objects: 1, objectBytes: 1000 });
    t.match((await all(store, B))[0], { bucket: 'bk', key: 'o1', size: 1000, at: at(20) });

    // versions: each version is its own entry; a keyless new version leaves them alone
    store.objectWritten({ fingerprint: A, bucket: 'vb', key: 'v', versionId: 'v1', size: 1, at: at(30) });
    store.objectWritten({ fingerprint: B, bucket: 'vb', key: 'v', versionId: 'v2', size: 2, at: at(31) });
    store.objectWritten({ bucket: 'vb', key: 'v', versionId: 'v3', size: 3, at: at(32) });
    store.objectWritten({ fingerprint: C, bucket: 'vb', key: 'v', versionId: 'null', size: 4, at: at(33) }); // "null" = unversioned
    await store.flush();
    t.same(names((await all(store, A)).filter((e) => e.bucket === 'vb')), ['vb/v@v1']);
    t.same(names((await all(store, B)).filter((e) => e.bucket === 'vb')), ['vb/v@v2']);
    t.same(names(await all(store, C)), ['vb/v'], 'version "null" is the unversioned entry');
    store.objectRemoved({ bucket: 'vb', key: 'v', versionId: 'v1' });
    store.objectRemoved({ bucket: 'vb', key: 'v' });
    await store.flush();
    t.same(names((await all(store, A)).filter((e) => e.bucket === 'vb')), [], 'version v1 removed');
    t.same(names(await all(store, C)), [], 'null version removed');
    t.same(names((await all(store, B)).filter((e) => e.bucket === 'vb')), ['vb/v@v2'], 'v2 untouched');
  });

  t.test('same object rewritten within one batch: the last write wins, no stale entry', async (t) => {
    const { store } = await open(t, impl);
    store.objectWritten({ fingerprint: A, bucket: 'bk', key: 'x', size: 1, at: at(1) });
    store.objectWritten({ fingerprint: B, bucket: 'bk', key: 'x', size: 2, at: at(2) });
    store.objectWritten({ fingerprint: A, bucket: 'bk', key: 'x', size: 3, at: at(3) });
    store.objectWritten({ fingerprint: B, bucket: 'bk', key: 'y', size: 1, at: at(1) });
    store.objectRemoved({ bucket: 'bk', key: 'y' });
    store.objectWritten({ fingerprint: B, bucket: 'bk', key: 'y', size: 7, at: at(4) });
    await store.flush();
    t.same((await all(store, A)).map((e) => [e.key, e.size]), [['x', 3]]);
    t.same((await all(store, B)).map((e) => [e.key, e.size]), [['y', 7]]);
    t.match(await must(store, A), { objects: 1, objectBytes: 3 });
    t.match(await must(store, B), { objects: 1, objectBytes: 7 });
  });

  t.test('CopyObject: the size comes from the source entry', async (t) => {
    const { store } = await open(t, impl);
    store.objectWritten({ fingerprint: A, bucket: 'src', key: 'big', size: 12345, at: at(1) });
    await store.flush();
    store.objectWritten({ fingerprint: B, bucket: 'dst', key: 'copy', at: at(2), copySource: { bucket: 'src', key: 'big' } });
    store.objectWritten({ fingerprint: B, bucket: 'dst', key: 'unknown', at: at(3), copySource: { bucket: 'src', key: 'nope' } });
    store.objectWritten({ fingerprint: A, bucket: 'src', key: 'fresh', size: 9, at: at(4) });
    store.objectWritten({ fingerprint: B, bucket: 'dst', key: 'fresh-copy', at: at(5), copySource: { bucket: 'src', key: 'fresh' } });
    await store.flush();
    t.same((await all(store, B)).map((e) => [e.key, e.size]), [['copy', 12345], ['fresh-copy', 9], ['unknown', null]]);
    t.match(await must(store, B), { objects: 3, objectBytes: 12354 });
  });

  t.test('multipart: parts summed, completion without a key recorded under the upload\'s key', async (t) => {
    const { store } = await open(t, impl);
    // the inventory has an older, other-key version of the object
    store.objectWritten({ fingerprint: B, bucket: 'mp', key: 'obj', size: 1, at: at(0) });
    store.uploadStarted({ uploadId: 'UP/ID+1=', fingerprint: A, bucket: 'mp', key: 'obj', at: at(1) });
    store.uploadPart({ uploadId: 'UP/ID+1=', partNumber: 1, size: 5 * 1024 * 1024, fingerprint: A });
    store.uploadPart({ uploadId: 'UP/ID+1=', partNumber: 2, size: 1000, fingerprint: A });
    store.uploadPart({ uploadId: 'UP/ID+1=', partNumber: 1, size: 6 * 1024 * 1024, fingerprint: A }); // part 1 re-sent: replaces
    await store.flush();
    store.uploadCompleted({ uploadId: 'UP/ID+1=', bucket: 'mp', key: 'obj', at: at(9) });
    await store.flush();
    t.same((await all(store, A)).map((e) => [e.key, e.size, e.at.getTime()]), [['obj', 6 * 1024 * 1024 + 1000, at(9).getTime()]]);
    t.same(await all(store, B), [], 'the older entry moved away');

    // parts only (CreateMultipartUpload not seen): the parts' key is used
    store.uploadPart({ uploadId: 'u2', partNumber: 1, size: 10, fingerprint: C, bucket: 'mp', key: 'two' });
    store.uploadPart({ uploadId: 'u2', partNumber: 2, size: 20, fingerprint: C, bucket: 'mp', key: 'two' });
    store.uploadCompleted({ uploadId: 'u2', bucket: 'mp', key: 'two', versionId: 'vv', at: at(10) });
    // a copied part of unknown size makes the object's size unknown
    store.uploadPart({ uploadId: 'u3', partNumber: 1, fingerprint: C, bucket: 'mp', key: 'three' });
    store.uploadCompleted({ uploadId: 'u3', bucket: 'mp', key: 'three', at: at(11) });
    // aborted: nothing recorded; an unknown upload completed without a key drops the old entry
    store.uploadStarted({ uploadId: 'u4', fingerprint: C, bucket: 'mp', key: 'four', at: at(12) });
    store.uploadAborted('u4');
    store.objectWritten({ fingerprint: C, bucket: 'mp', key: 'five', size: 3, at: at(12) });
    store.uploadCompleted({ uploadId: 'u5-unknown', bucket: 'mp', key: 'five', at: at(13) });
    // an unknown upload completed with a key: recorded, size unknown
    store.uploadCompleted({ uploadId: 'u6-unknown', bucket: 'mp', key: 'six', at: at(14), fingerprint: C });
    await store.flush();
    t.same((await all(store, C)).map((e) => [e.key, e.versionId, e.size]), [['six', undefined, null], ['three', undefined, null], ['two', 'vv', 30]]);
  });

  t.test('re-keyed objects (rotate)', async (t) => {
    const { store } = await open(t, impl);
    store.objectWritten({ fingerprint: A, bucket: 'r', key: 'plain', size: 4, at: at(1) });
    store.objectWritten({ fingerprint: A, bucket: 'r', key: 'ver', versionId: 'old', size: 5, at: at(1) });
    await store.flush();
    const seen: string[] = [];
    for await (const o of store.objects(A, { count: 1 })) {
      seen.push(o.key);
      store.objectRekeyed({ fingerprint: B, bucket: o.bucket, key: o.key, size: o.size ?? undefined, at: at(2), versionId: o.versionId ? 'new' : undefined, fromVersionId: o.versionId });
    }
    t.same(seen.sort(), ['plain', 'ver']);
    await store.flush();
    t.same(await all(store, A), [], 'nothing left under the old key');
    t.same(names(await all(store, B)), ['r/plain', 'r/ver@new']);
    t.match(await must(store, A), { objects: 0, objectBytes: 0 });
  });

  t.test('exposure: compromised at once, details kept, alert raised, published', async (t) => {
    const { store, metrics, logs } = await open(t, impl);
    store.use({ fingerprint: A, at: at(0), client: '10.0.0.1', operation: 'PutObject', bytesWritten: 1 });
    await store.flush();
    const p = store.exposed({ fingerprint: A, at: at(60), client: '198.51.100.7', listener: 'http', header: 'x-amz-server-side-encryption-customer-key', requestId: 'REQ1' });
    t.match(store.statusOf(A), { status: 'compromised' }, 'synchronously, before anything is written');
    t.equal(store.statusOf(A)!.exposedAt!.getTime(), at(60).getTime());
    await p;
    await store.exposed({ fingerprint: A, at: at(90), client: '198.51.100.8', listener: 'http', header: 'x-amz-copy-source-server-side-encryption-customer-key', requestId: 'REQ2' });
    await store.flush();
    const a = await must(store, A);
    t.equal(a.status, 'compromised');
    t.ok(a.statusAt, 'status time');
    t.match(a.exposure, { client: '198.51.100.7', listener: 'http', header: 'x-amz-server-side-encryption-customer-key', requestId: 'REQ1', count: 2 });
    t.equal(a.exposure!.at.getTime(), at(60).getTime(), 'first exposure');
    t.equal(a.exposure!.lastAt.getTime(), at(90).getTime(), 'last exposure');
    t.ok(a.alerts.exposed, 'alert time kept');
    t.equal(await alertCount(metrics, 'exposed'), 2, 'one alert per exposure');
    t.equal((await metrics.keyExposures.get()).values[0]?.value, 2, 'exposures counted');
    const line = logs.find((l) => l.event === 'key_alert' && l.alert === 'exposed');
    t.match(line, { fingerprint: A, keyId: A.slice(0, 16), severity: 'critical', client: '198.51.100.7', listener: 'http', requestId: 'REQ1' });
    // an exposure of a key never seen before creates its record
    await store.exposed({ fingerprint: C, at: at(100), client: '198.51.100.9', listener: 'http', header: 'h', requestId: 'R3' });
    await store.flush();
    t.match(await must(store, C), { status: 'compromised', requests: 0 });
    t.equal((await must(store, C)).firstSeen.getTime(), at(100).getTime());
    // a use from before the exposure (admitted while active) raises nothing
    store.use({ fingerprint: A, at: at(119), client: '10.0.0.5', operation: 'GetObject', bytesWritten: 0 });
    await store.flush();
    t.equal(await alertCount(metrics, 'compromised_used'), 0, 'a use admitted before the exposure is no compromised use');
    // a compromised key still used (keys.onExposed = warn): compromised_used, at most once an hour
    store.use({ fingerprint: A, at: at(120), client: '10.0.0.5', operation: 'GetObject', bytesWritten: 0, seen: 'compromised' });
    await store.flush();
    store.use({ fingerprint: A, at: at(121), client: '10.0.0.5', operation: 'GetObject', bytesWritten: 0, seen: 'compromised' });
    await store.flush();
    t.equal(await alertCount(metrics, 'compromised_used'), 1);
  });

  t.test('status: retire, retired key used alerts once, back to active, forget', async (t) => {
    const { store, metrics } = await open(t, impl);
    store.use({ fingerprint: A, at: at(0), client: '10.0.0.1', bucket: 'b', operation: 'PutObject', bytesWritten: 1 });
    store.objectWritten({ fingerprint: A, bucket: 'b', key: 'k1', size: 1, at: at(0) });
    store.objectWritten({ fingerprint: A, bucket: 'b', key: 'k2', size: 2, at: at(0) });
    await store.flush();
    await store.setStatus(A, 'retired');
    t.match(store.statusOf(A), { status: 'retired' });
    t.match(await must(store, A), { status: 'retired' });
    store.use({ fingerprint: A, at: at(10), client: '10.0.0.2', operation: 'GetObject', bytesWritten: 0, seen: 'retired' });
    await store.flush();
    store.use({ fingerprint: A, at: at(11), client: '10.0.0.2', operation: 'GetObject', bytesWritten: 0, seen: 'retired' });
    await store.flush();
    t.equal(await alertCount(metrics, 'retired_used'), 1, 'retired_used raised once (not on every request)');
    t.ok((await must(store, A)).alerts.retired_used);
    await store.setStatus(A, 'active');
    t.equal(store.statusOf(A), undefined);
    t.equal((await must(store, A)).status, 'active');

    await store.forget(A);
    t.equal(await store.get(A), undefined, 'record gone');
    t.same(await all(store, A), [], 'inventory gone');
    t.notOk((await store.list()).some((r) => r.fingerprint === A), 'not listed');
    // the index no longer points at A: writing the object with B does not resurrect A
    store.objectWritten({ fingerprint: B, bucket: 'b', key: 'k1', size: 5, at: at(20) });
    await store.flush();
    t.equal(await store.get(A), undefined, 'still gone');
    t.same(names(await all(store, B)), ['b/k1']);
    await store.exposed({ fingerprint: C, at: at(30), client: 'x', listener: 'http', header: 'h', requestId: 'r' });
    await store.forget(C);
    t.equal(store.statusOf(C), undefined, 'forgetting lifts the cached status');
  });

  t.test('rotation policy: rotation_due once per key; gauges', async (t) => {
    const { store, metrics } = await open(t, impl, { rotation: { maxAgeDays: 0, maxObjects: 2, maxBytes: 1000 } });
    for (let i = 0; i < 3; i++) store.objectWritten({ fingerprint: A, bucket: 'b', key: `k${i}`, size: 1, at: at(i) });
    store.use({ fingerprint: A, at: at(5), client: '10.0.0.1', operation: 'PutObject', bytesWritten: 3 });
    store.use({ fingerprint: B, at: at(5), client: '10.0.0.1', operation: 'PutObject', bytesWritten: 999 });
    await store.flush();
    t.equal(await alertCount(metrics, 'rotation_due'), 1, 'A is over maxObjects');
    store.use({ fingerprint: A, at: at(6), client: '10.0.0.1', operation: 'GetObject', bytesWritten: 0 });
    store.use({ fingerprint: B, at: at(6), client: '10.0.0.1', operation: 'PutObject', bytesWritten: 2 });
    await store.flush();
    t.equal(await alertCount(metrics, 'rotation_due'), 2, 'B went over maxBytes; A not alerted again');
    store.use({ fingerprint: B, at: at(7), client: '10.0.0.1', operation: 'PutObject', bytesWritten: 2 });
    await store.flush();
    await store.refresh();
    t.equal(await alertCount(metrics, 'rotation_due'), 2, 'still two');
    t.equal((await metrics.keysOverdue.get()).values[0]?.value, 2);
    await store.exposed({ fingerprint: C, at: at(8), client: 'x', listener: 'http', header: 'h', requestId: 'r' });
    await store.setStatus(B, 'retired');
    await store.refresh();
    const g = Object.fromEntries((await metrics.keys.get()).values.map((v) => [v.labels.status, v.value]));
    t.same(g, { active: 1, retired: 1, compromised: 1 });
    t.equal((await metrics.keysOverdue.get()).values[0]?.value, 1, 'only active keys are overdue');
  });

  t.test('rotation by age: raised by the periodic refresh', async (t) => {
    const { store, metrics } = await open(t, impl, { rotation: { maxAgeDays: 30, maxObjects: 0, maxBytes: 0 } });
    store.use({ fingerprint: A, at: new Date(Date.now() - 31 * 86_400_000), client: 'c', operation: 'GetObject', bytesWritten: 0 });
    store.use({ fingerprint: B, at: new Date(Date.now() - 29 * 86_400_000), client: 'c', operation: 'GetObject', bytesWritten: 0 });
    await store.flush();
    t.equal(await alertCount(metrics, 'rotation_due'), 1, 'A is older than 30 days (seen at its first use)');
    await store.refresh();
    await store.refresh();
    t.equal(await alertCount(metrics, 'rotation_due'), 1, 'once');
    t.ok((await must(store, A)).alerts.rotation_due);
    t.notOk((await must(store, B)).alerts.rotation_due);
  });

  if (impl.name !== 'memory') t.test('a second store on the same state (Redis, or the primary): status pushed, data shared', async (t) => {
    const cfg = impl.config(baseConfig());
    const mk = async () => {
      const s = await createFingerprintStore(cfg, { metrics: createMetrics(), log: createLogger('silent'), refreshMs: 0 });
      t.teardown(() => s.close());
      return s;
    };
    const [one, two] = impl.pair ? await impl.pair(t, cfg) : [await mk(), await mk()];
    void one.exposed({ fingerprint: A, at: at(1), client: 'c', listener: 'http', header: 'h', requestId: 'r' });
    await one.setStatus(B, 'retired');
    const deadline = Date.now() + 1000;
    while (Date.now() < deadline && !(two.statusOf(A) && two.statusOf(B))) await new Promise((r) => setTimeout(r, 2));
    t.match(two.statusOf(A), { status: 'compromised' }, 'exposure seen by the other instance');
    t.match(two.statusOf(B), { status: 'retired' }, 'retirement seen by the other instance');
    one.objectWritten({ fingerprint: C, bucket: 'b', key: 'k', size: 1, at: at(2) });
    await one.flush();
    t.same(names(await all(two, C)), ['b/k'], 'inventory shared');
  });

  t.test('a burst of events is written in batches', async (t) => {
    const { store, metrics } = await open(t, impl);
    const n = 5000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      store.use({ fingerprint: i % 2 ? A : B, at: at(i), client: `10.0.${i % 7}.1`, bucket: 'burst', operation: 'PutObject', bytesWritten: 10 });
      store.objectWritten({ fingerprint: i % 2 ? A : B, bucket: 'burst', key: `obj-${i}`, size: 10, at: at(i) });
    }
    const perCallUs = Number(process.hrtime.bigint() - t0) / 1000 / (2 * n);
    t.ok(perCallUs < 200, `a queued call costs ${perCallUs.toFixed(2)} µs`);
    t.ok(store.health().queueDepth > 0 || impl.name === 'memory', 'queued, not written inline');
    t.ok(await store.flush(30_000), 'drained');
    t.match(await must(store, A), { requests: n / 2, bytesWritten: n * 5, objects: n / 2, objectBytes: n * 5 });
    t.equal((await must(store, A)).clients.length, 7);
    t.equal((await metrics.storeQueueDepth.get()).values[0]?.value, 0, 'queue depth gauge back to 0');
  });
}

// ---- the implementations ----
const impls: Impl[] = [{ name: 'memory', config: (c) => withRedis(c, { url: undefined }) }];

/**
 * `workers` > 1 without Redis: the in-memory store lives in the primary and each worker reaches it
 * through a RemoteStore. Here the IPC channel is simulated as Node's cluster channel behaves:
 * structured clone ('advanced' serialization), delivered later, in order.
 */
async function workersOfOnePrimary(t: Test, cfg: GatewayConfig, deps: CreateStoreDeps, n: number): Promise<RemoteStore[]> {
  const primary = await createFingerprintStore(cfg, deps);
  t.teardown(() => primary.close());
  const channel = (to: (m: StoreMessage) => void) => (m: StoreMessage) => { const copy = structuredClone(m); setImmediate(() => to(copy)); };
  const workers: Worker[] = [];
  const serve = serveStore(primary, () => workers);
  const remotes: RemoteStore[] = [];
  for (let i = 0; i < n; i++) {
    let remote: RemoteStore | undefined;
    const worker = { isConnected: () => true, send: channel((m) => remote!.receive(m)) } as unknown as Worker;
    workers.push(worker);
    remote = new RemoteStore(channel((m) => serve(worker, m)), deps.metrics);
    await remote.ready();
    t.ok(remote.health().up, 'the worker loaded the primary\'s status set');
    remotes.push(remote);
  }
  return remotes;
}

impls.push({
  name: 'memory in the primary, used by workers (RemoteStore)',
  config: (c) => withRedis(c, { url: undefined }),
  open: async (t, cfg, deps) => (await workersOfOnePrimary(t, cfg, deps, 1))[0]!,
  pair: async (t, cfg) => workersOfOnePrimary(t, cfg, { metrics: createMetrics(), log: createLogger('silent'), refreshMs: 0 }, 2) as Promise<[RemoteStore, RemoteStore]>,
});

const redis = await sharedRedis();
impls.push({ name: 'redis standalone', config: (c) => withRedis(c, { url: redis.url, keyPrefix: prefix() }) });

/** A 3-master Redis Cluster of our own (redis-server cluster-enabled), or undefined when it cannot start. */
async function startCluster(): Promise<{ nodes: string[]; stop(): void } | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'fp-cluster-'));
  const base = 21000 + Math.floor(Math.random() * 8000);
  const ports = [base, base + 1, base + 2];
  const pids: number[] = [];
  const stop = () => {
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    rmSync(dir, { recursive: true, force: true });
  };
  for (const p of ports) {
    const r = spawnSync('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `n${p}.conf`),
      '--save', '', '--appendonly', 'no', '--daemonize', 'yes', '--dir', dir, '--pidfile', join(dir, `n${p}.pid`), '--logfile', join(dir, `n${p}.log`)]);
    if (r.status !== 0) { stop(); return undefined; }
  }
  for (const p of ports) {
    const file = join(dir, `n${p}.pid`);
    for (let i = 0; i < 100 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 20));
    if (existsSync(file)) pids.push(Number(readFileSync(file, 'utf8').trim()));
  }
  const r = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) { stop(); return undefined; }
  // wait until every node agrees the cluster is ok
  for (let i = 0; i < 100; i++) {
    const ok = ports.every((p) => /cluster_state:ok/.test(spawnSync('redis-cli', ['-p', String(p), 'cluster', 'info'], { encoding: 'utf8' }).stdout));
    if (ok) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  return { nodes: ports.map((p) => `127.0.0.1:${p}`), stop };
}

/** One Sentinel watching the shared redis as master "fpmaster", or undefined when it cannot start. */
async function startSentinel(masterUrl: string): Promise<{ nodes: string[]; stop(): void } | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'fp-sentinel-'));
  const port = 21000 + Math.floor(Math.random() * 8000);
  const m = new URL(masterUrl);
  writeFileSync(join(dir, 'sentinel.conf'), [
    `port ${port}`, 'bind 127.0.0.1', 'daemonize yes', `pidfile ${join(dir, 's.pid')}`, `logfile ${join(dir, 's.log')}`, `dir ${dir}`,
    `sentinel monitor fpmaster ${m.hostname} ${m.port} 1`, 'sentinel down-after-milliseconds fpmaster 60000',
  ].join('\n') + '\n');
  let pid: number | undefined;
  const stop = () => { if (pid) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } } rmSync(dir, { recursive: true, force: true }); };
  if (spawnSync('redis-server', [join(dir, 'sentinel.conf'), '--sentinel']).status !== 0) { stop(); return undefined; }
  for (let i = 0; i < 100 && !existsSync(join(dir, 's.pid')); i++) await new Promise((r) => setTimeout(r, 20));
  if (!existsSync(join(dir, 's.pid'))) { stop(); return undefined; }
  pid = Number(readFileSync(join(dir, 's.pid'), 'utf8').trim());
  for (let i = 0; i < 100; i++) {
    const r = spawnSync('redis-cli', ['-p', String(port), 'sentinel', 'get-master-addr-by-name', 'fpmaster'], { encoding: 'utf8' });
    if (r.stdout.includes(m.port)) return { nodes: [`127.0.0.1:${port}`], stop };
    await new Promise((res) => setTimeout(res, 50));
  }
  stop();
  return undefined;
}

const sentinel = process.env.SSEC_SKIP_SENTINEL ? undefined : await startSentinel(redis.url);
if (sentinel) {
  t.teardown(() => sentinel.stop());
  impls.push({ name: 'redis sentinel', config: (c) => withRedis(c, { url: undefined, mode: 'sentinel', nodes: sentinel.nodes, sentinelName: 'fpmaster', keyPrefix: prefix() }) });
}

const cluster = process.env.SSEC_SKIP_CLUSTER ? undefined : await startCluster();
if (cluster) {
  t.teardown(() => cluster.stop());
  impls.push({ name: 'redis cluster', config: (c) => withRedis(c, { url: undefined, mode: 'cluster', nodes: cluster.nodes, keyPrefix: prefix() }) });
}

for (const impl of impls) t.test(impl.name, async (t) => contract(t, impl));

t.test('the Redis implementations were all exercised', async (t) => {
  t.ok(impls.some((i) => i.name === 'redis standalone'), 'standalone');
  if (!cluster) t.comment('no Redis Cluster could be started here: the cluster run was skipped');
  if (!sentinel) t.comment('no Redis Sentinel could be started here: the sentinel run was skipped');
  // every key the cluster run wrote carries one hash tag: sanity-check the slot spread
  if (cluster) {
    const r = new Redis(Number(cluster.nodes[0]!.split(':')[1]), '127.0.0.1');
    const info = await r.cluster('INFO') as string;
    await r.quit();
    t.match(info, /cluster_state:ok/);
  }
});
