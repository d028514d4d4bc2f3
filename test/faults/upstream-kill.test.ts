/**
 * radosgw SIGKILLed under a running gateway (issue 11, item 3.1), against a private RGW of this file:
 * mid-PUT of a large object, mid-multipart (parts acknowledged, then the kill during a part), and
 * mid-GET, in encryption modes `upstream` (SSE-C headers go to RGW) and `gateway` (ciphertext), over
 * HTTP/1.1 and HTTP/2. What a client must see: an error (503 ServiceUnavailable as S3 XML, or a
 * transfer broken off), NEVER a 200 for an incomplete object; while radosgw is down, 503 and /readyz
 * 503; once radosgw is back, the same gateway process serves again (no restart of the gateway).
 *
 * What memstore lets us prove: the objects live in the OSD's memory, not in radosgw. Only radosgw is
 * killed and started again (same ceph.conf, same ports: helpers/faults.ts restartRadosgw), so what
 * was stored survives the kill: an object acknowledged (200) before the kill is read back whole after
 * it, the parts acknowledged before the kill are still listed and complete the upload, and an upload
 * cut off by the kill is shown absent (404), not just unreadable. (A restart of the whole cluster,
 * rgw.sh start, would lose everything and prove none of this.) The bucket is created before the first
 * kill: a killed radosgw leaves its watch behind for ~30 s, which metadata writes wait for.
 */
import t, { type Test } from 'tap';
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import { startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { bucketName, createBucket, rgwRequest } from '../helpers/rgw.js';
import {
  Generated, MiB, admin, killRadosgw, request, restartRadosgw, s3Code, sleep, ssecHeaders, startPrivateRgw, transfer, until, type TransferResult,
} from '../helpers/faults.js';

const rgw = await startPrivateRgw();
t.teardown(() => rgw.stop());
const bucket = bucketName('faults-kill');
await createBucket(rgw, bucket);

const MODES = ['upstream', 'gateway'] as const;
type Mode = (typeof MODES)[number];
type Gw = GatewayProcess & { ca: Buffer; mode: Mode };
const gws = {} as Record<Mode, Gw>;
for (const mode of MODES) {
  const gw = await startGateway({
    upstream: rgw.http,
    args: ['--auth-mode', 'none', '--upstream-access-key-id', rgw.accessKey, '--upstream-secret-access-key', rgw.secretKey,
      '--upstream-timeout-ms', '5000', ...(mode === 'gateway' ? ['--encryption-mode', 'gateway'] : [])],
  });
  t.teardown(() => gw.stop());
  gws[mode] = Object.assign(gw, { ca: readFileSync(gw.caFile), mode });
}

const answer = (r: TransferResult) => `${r.status} ${s3Code(r.body) ?? ''}`.trim();
const describe = (r: TransferResult) => `${answer(r)}${r.error ? ` (${r.error})` : ''}, ${(r.received / MiB).toFixed(1)} MiB received, after ${r.ms} ms`;

/** Objects acknowledged before any kill, one per mode, read back after every restart. */
const before = {} as Record<Mode, { key: string; K: Record<string, string>; size: number; sha: string }>;
t.before(async () => {
  for (const mode of MODES) {
    const gw = gws[mode];
    const entry = { key: `before-${mode}`, K: ssecHeaders(), size: 8 * MiB + 123, sha: Generated.digest(8 * MiB + 123, `before-${mode}`) };
    const put = await transfer({ method: 'PUT', url: gw.url, path: `/${bucket}/${entry.key}`, ca: gw.ca, headers: entry.K, body: new Generated(entry.size, entry.key) }).done;
    if (put.status !== 200) throw new Error(`${mode}: setup PUT: ${describe(put)}`);
    before[mode] = entry;
  }
});

/** While radosgw is down: new requests get 503 ServiceUnavailable, /readyz says not ready. */
async function whileDown(t: Test, gw: Gw): Promise<void> {
  const get = await request({ method: 'GET', url: gw.url, path: `/${bucket}/${before[gw.mode].key}`, ca: gw.ca, headers: before[gw.mode].K });
  t.equal(answer(get), '503 ServiceUnavailable', `${gw.mode}: radosgw down: a GET is answered 503 ServiceUnavailable`);
  const put = await request({ method: 'PUT', url: gw.url, path: `/${bucket}/while-down`, ca: gw.ca, headers: ssecHeaders(), data: Buffer.alloc(70_000, 3) });
  t.equal(answer(put), '503 ServiceUnavailable', `${gw.mode}: radosgw down: a PUT is answered 503 ServiceUnavailable`);
  t.ok(await until(async () => (await admin(gw.adminUrl, '/readyz')).status === 503, 3000), `${gw.mode}: radosgw down: /readyz 503`);
}

/** After radosgw is back: the same gateway process serves again; what was acknowledged before the kill is whole. */
async function afterRestart(t: Test, gw: Gw, pidBefore: number): Promise<void> {
  t.equal(gw.child.pid, pidBefore, `${gw.mode}: the same gateway process`);
  t.equal(gw.child.exitCode, null, `${gw.mode}: still running`);
  const b = before[gw.mode];
  const old = await request({ method: 'GET', url: gw.url, path: `/${bucket}/${b.key}`, ca: gw.ca, headers: b.K });
  t.ok(old.status === 200 && old.sha256 === b.sha && old.received === b.size, `${gw.mode}: the object acknowledged before the kill reads back whole (${describe(old)})`);
  const key = `after-${gw.mode}-${Date.now()}`;
  const K = ssecHeaders();
  const put = await transfer({ method: 'PUT', url: gw.url, path: `/${bucket}/${key}`, ca: gw.ca, headers: K, body: new Generated(3 * MiB + 5, key) }).done;
  const get = await request({ method: 'GET', url: gw.url, path: `/${bucket}/${key}`, ca: gw.ca, headers: K });
  t.ok(put.status === 200 && get.status === 200 && get.sha256 === Generated.digest(3 * MiB + 5, key), `${gw.mode}: a new PUT and GET round-trip (${answer(put)}, ${describe(get)})`);
  t.ok(await until(async () => (await admin(gw.adminUrl, '/readyz')).status === 200, 3000), `${gw.mode}: /readyz 200 again`);
}

/** HEAD straight to RGW (no key needed for a 404). */
const storedStatus = async (key: string) => (await rgwRequest(rgw, { method: 'HEAD', path: `/${bucket}/${key}` })).status;

t.test('radosgw killed mid-PUT of 128 MiB: 503, nothing stored; served again after its restart', async (t) => {
  const SIZE = 128 * MiB;
  const cases: [Mode, 'HTTP/1.1' | 'HTTP/2'][] = [['upstream', 'HTTP/1.1'], ['upstream', 'HTTP/2'], ['gateway', 'HTTP/1.1'], ['gateway', 'HTTP/2']];
  for (const [mode, proto] of cases) {
    const gw = gws[mode];
    const pid = gw.child.pid!;
    const key = `killed-put-${mode}-${proto === 'HTTP/2' ? 'h2' : 'h1'}`;
    const session = proto === 'HTTP/2' ? http2.connect(gw.url, { ca: gw.ca }) : undefined;
    // 1 MiB every 10 ms: ~1.3 s for the whole body at best; the kill comes after 24 MiB
    const x = transfer({ method: 'PUT', url: gw.url, path: `/${bucket}/${key}`, ca: gw.ca, headers: ssecHeaders(), body: new Generated(SIZE, key), intervalMs: 10, session });
    t.ok(await until(() => x.sent() >= 24 * MiB, 20_000), `${mode} ${proto}: 24 MiB of the body sent`);
    await killRadosgw(rgw);
    const r = await Promise.race([x.done, sleep(15_000).then(() => undefined)]);
    t.ok(r, `${mode} ${proto}: the client got an answer within 15 s of the kill`);
    if (r) {
      t.not(r.status, 200, `${mode} ${proto}: never a 200 (${describe(r)}, ${(x.sent() / MiB).toFixed(0)} of 128 MiB sent)`);
      t.equal(answer(r), '503 ServiceUnavailable', `${mode} ${proto}: 503 ServiceUnavailable as S3 XML`);
    }
    session?.close();
    await whileDown(t, gw);
    const back = await restartRadosgw(rgw);
    t.comment(`${mode} ${proto}: radosgw back in ${back.ms} ms`);
    t.equal(await storedStatus(key), 404, `${mode} ${proto}: the upload cut off by the kill stored no object (HEAD on RGW: 404)`);
    await afterRestart(t, gw, pid);
  }
});

t.test('radosgw killed during a part of a multipart upload: the part fails, the acknowledged parts stay and complete the upload', async (t) => {
  const PART = 8 * MiB; // a multiple of 64 KiB: the layout mode gateway needs
  for (const mode of MODES) {
    const gw = gws[mode];
    const key = `killed-multipart-${mode}`;
    const K = ssecHeaders();
    const create = await request({ method: 'POST', url: gw.url, path: `/${bucket}/${key}?uploads`, ca: gw.ca, headers: K });
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(create.data.toString())?.[1];
    t.ok(create.status === 200 && uploadId, `${mode}: CreateMultipartUpload 200`);
    const q = (n: number) => `?partNumber=${n}&uploadId=${encodeURIComponent(uploadId!)}`;
    const etags: string[] = [];
    for (const n of [1, 2]) {
      const p = await transfer({ method: 'PUT', url: gw.url, path: `/${bucket}/${key}${q(n)}`, ca: gw.ca, headers: K, body: new Generated(PART, `${key}-${n}`) }).done;
      t.equal(p.status, 200, `${mode}: part ${n} acknowledged`);
      etags.push(String(p.headers.etag));
    }
    // part 3: 48 MiB, paced; the kill after 8 MiB
    const x = transfer({ method: 'PUT', url: gw.url, path: `/${bucket}/${key}${q(3)}`, ca: gw.ca, headers: K, body: new Generated(48 * MiB, `${key}-3-lost`), intervalMs: 10 });
    t.ok(await until(() => x.sent() >= 8 * MiB, 20_000), `${mode}: part 3 under way`);
    await killRadosgw(rgw);
    const r = await Promise.race([x.done, sleep(15_000).then(() => undefined)]);
    t.ok(r && r.status !== 200, `${mode}: part 3 is not acknowledged (${r ? describe(r) : 'no answer in 15 s'})`);
    t.equal(r && answer(r), '503 ServiceUnavailable', `${mode}: 503 ServiceUnavailable`);
    await restartRadosgw(rgw);
    const list = await request({ method: 'GET', url: gw.url, path: `/${bucket}/${key}?uploadId=${encodeURIComponent(uploadId!)}`, ca: gw.ca, headers: K });
    const listed = [...list.data.toString().matchAll(/<PartNumber>(\d+)<\/PartNumber>/g)].map((m) => Number(m[1]));
    t.same(listed, [1, 2], `${mode}: ListParts after the restart: parts 1 and 2 (acknowledged before the kill), not part 3`);
    // the client retries part 3 and completes
    const p3 = await transfer({ method: 'PUT', url: gw.url, path: `/${bucket}/${key}${q(3)}`, ca: gw.ca, headers: K, body: new Generated(PART / 2, `${key}-3`) }).done;
    t.equal(p3.status, 200, `${mode}: part 3 sent again: 200`);
    etags.push(String(p3.headers.etag));
    const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
    const done = await request({ method: 'POST', url: gw.url, path: `/${bucket}/${key}?uploadId=${encodeURIComponent(uploadId!)}`, ca: gw.ca, headers: K, data: Buffer.from(xml) });
    t.ok(done.status === 200 && !/<Error>/.test(done.data.toString()), `${mode}: CompleteMultipartUpload 200 (${done.data.toString().slice(0, 120)})`);
    const get = await request({ method: 'GET', url: gw.url, path: `/${bucket}/${key}`, ca: gw.ca, headers: K });
    const want = Generated.digestAll([[PART, `${key}-1`], [PART, `${key}-2`], [PART / 2, `${key}-3`]]);
    t.ok(get.status === 200 && get.sha256 === want, `${mode}: the object reads back as parts 1, 2 and the new 3, nothing of the lost part (${describe(get)})`);
  }
});

t.test('radosgw killed mid-GET: the transfer breaks off (never a short 200), and the object reads whole afterwards', async (t) => {
  const SIZE = 64 * MiB;
  const objects = {} as Record<Mode, { key: string; K: Record<string, string>; sha: string }>;
  for (const mode of MODES) {
    const gw = gws[mode];
    const key = `get-${mode}`;
    const K = ssecHeaders();
    const put = await transfer({ method: 'PUT', url: gw.url, path: `/${bucket}/${key}`, ca: gw.ca, headers: K, body: new Generated(SIZE, key) }).done;
    t.equal(put.status, 200, `${mode}: 64 MiB stored`);
    objects[mode] = { key, K, sha: Generated.digest(SIZE, key) };
  }
  const cases: [Mode, 'HTTP/1.1' | 'HTTP/2'][] = [['upstream', 'HTTP/1.1'], ['upstream', 'HTTP/2'], ['gateway', 'HTTP/1.1'], ['gateway', 'HTTP/2']];
  for (const [mode, proto] of cases) {
    const gw = gws[mode];
    const o = objects[mode];
    const session = proto === 'HTTP/2' ? http2.connect(gw.url, { ca: gw.ca }) : undefined;
    // the client reads 4 MiB, then stops reading: the rest of the object is then held up between
    // RGW and the client when radosgw dies; then it reads again
    const x = transfer({ method: 'GET', url: gw.url, path: `/${bucket}/${o.key}`, ca: gw.ca, headers: o.K, session, pauseAfter: 4 * MiB });
    t.ok(await until(() => x.received() >= 4 * MiB, 20_000), `${mode} ${proto}: 4 MiB received`);
    await sleep(300);
    await killRadosgw(rgw);
    await sleep(300);
    x.resume();
    const r = await Promise.race([x.done, sleep(15_000).then(() => undefined)]);
    session?.close();
    t.ok(r, `${mode} ${proto}: the transfer ended within 15 s of the kill`);
    if (r) {
      t.equal(r.status, 200, `${mode} ${proto}: it had begun (200 and the first bytes)`);
      t.notOk(r.complete, `${mode} ${proto}: it did not end as a complete answer (${describe(r)})`);
      t.ok(r.error, `${mode} ${proto}: the client sees a broken transfer: ${r.error}`);
      t.ok(r.received < SIZE, `${mode} ${proto}: fewer bytes than the object (${r.received} < ${SIZE})`);
    }
    await restartRadosgw(rgw);
    const again = await request({ method: 'GET', url: gw.url, path: `/${bucket}/${o.key}`, ca: gw.ca, headers: o.K });
    t.ok(again.status === 200 && again.sha256 === o.sha, `${mode} ${proto}: read again after the restart: whole (${describe(again)})`);
  }
});
