/**
 * `workers`: one port served by several processes (issue 8). Against the real RGW: requests are
 * spread over the workers and all succeed; /metrics is one view of every process; a key exposed on
 * one worker's plaintext listener is refused by all (in-memory store in the primary, and Redis); a
 * worker that dies is replaced and the new one knows the exposed keys; SIGTERM makes /readyz fail,
 * lets an upload in flight finish, and exits 0.
 */
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { bucketName, createBucket, sharedRgw, sharedRedis } from '../helpers/rgw.js';
import { s3Raw, type RawResponse } from '../helpers/s3-raw.js';
import { s3Error, sleep, until } from '../helpers/fingerprints-e2e.js';

const rgw = await sharedRgw();
const bucket = bucketName('workers');
await createBucket(rgw, bucket);

const newKey = () => {
  const raw = randomBytes(32);
  return {
    'x-amz-server-side-encryption-customer-algorithm': 'AES256',
    'x-amz-server-side-encryption-customer-key': raw.toString('base64'),
    'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(raw).digest('base64'),
  };
};
const ep = (gw: GatewayProcess, plaintext = false) => ({
  url: plaintext ? gw.httpUrl! : gw.url, accessKey: rgw.accessKey, secretKey: rgw.secretKey, region: rgw.region, caFile: gw.caFile,
});
/** The worker processes: the children of the gateway's process. */
const workerPids = (gw: GatewayProcess) => readFileSync(`/proc/${gw.child.pid}/task/${gw.child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
/** utime + stime of a process, in clock ticks */
const cpuTicks = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return Number(f[11]) + Number(f[12]); };
/** One admin request on a connection of its own (no keep-alive socket shared with the polls before it). */
const admin = (gw: GatewayProcess, path: string) => new Promise<{ status: number; text: string }>((resolve, reject) => {
  http.get(`${gw.adminUrl}${path}`, { agent: false }, (res) => {
    let text = '';
    res.setEncoding('utf8').on('data', (c: string) => { text += c; }).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
  }).on('error', (e) => reject(new Error(`admin ${path}: ${e.message}\n--- gateway output:\n${gw.output().slice(-3000)}`)));
});
const metrics = async (gw: GatewayProcess) => (await admin(gw, '/metrics')).text;
/** The sum of every sample of `name` whose labels contain all of `labels`. */
const sample = (text: string, name: string, labels: Record<string, string> = {}) => text.split('\n')
  .filter((l) => l.startsWith(name + '{') || l.startsWith(name + ' '))
  .filter((l) => Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)))
  .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
const exitOf = (gw: GatewayProcess) => new Promise<{ code: number | null; signal: string | null }>((resolve) => {
  if (gw.child.exitCode !== null) resolve({ code: gw.child.exitCode, signal: null });
  gw.child.once('exit', (code, signal) => resolve({ code, signal }));
});

t.test('in-memory store: two workers on one port', async (t) => {
  const gw = await startGateway({ upstream: rgw.http, plaintext: true, args: ['--workers', '2', '--fingerprint-secret', 'workers-test'] });
  t.teardown(() => gw.stop());
  const pids = workerPids(gw);
  t.equal(pids.length, 2, 'two worker processes under the gateway');
  const K = newKey();
  const exposed = newKey();

  await t.test('every request is served, by both workers, and /metrics counts them all once', async (t) => {
    const before = pids.map(cpuTicks);
    const n = 16;
    let ok = 0;
    for (let i = 0; i < n; i++) { // each s3Raw request is a new TLS connection: handed round-robin to the workers
      const body = randomBytes(1000 + i);
      const put = await s3Raw(ep(gw), { method: 'PUT', path: `/${bucket}/obj-${i}`, headers: K, body });
      const get = await s3Raw(ep(gw), { method: 'GET', path: `/${bucket}/obj-${i}`, headers: K });
      if (put.status === 200 && get.status === 200 && get.body.equals(body)) ok++;
    }
    t.equal(ok, n, `${n} SSE-C PUT + GET round trips, bytes equal`);
    const used = pids.map((p, i) => cpuTicks(p) - before[i]!);
    t.ok(used.every((u) => u > 0), `both workers served (CPU ticks used: ${used.join(', ')})`);
    const m = await metrics(gw);
    t.equal(sample(m, 'ssec_gateway_request_duration_seconds_count', { operation: 'PutObject', status_class: '2xx' }), n, 'PutObject counted once per request, summed over the workers');
    t.equal(sample(m, 'ssec_gateway_request_duration_seconds_count', { operation: 'GetObject', status_class: '2xx' }), n, 'GetObject likewise');
    t.equal(sample(m, 'ssec_gateway_sse_c_requests_total', { outcome: 'ok' }), 2 * n, 'SSE-C decisions summed');
    t.equal(sample(m, 'ssec_gateway_workers'), 2, 'ssec_gateway_workers 2');
    t.equal(sample(m, 'ssec_gateway_fingerprint_store_up'), 1, 'store up, shown once (not summed)');
    t.match(m, /^ssec_gateway_process_resident_memory_bytes \d+/m, 'process metrics of the processes, summed');
    t.equal((await admin(gw, '/readyz')).status, 200, '/readyz 200');
  });

  await t.test('a key exposed on one worker is refused by every worker', async (t) => {
    const res = await s3Raw(ep(gw, true), { method: 'PUT', path: `/${bucket}/exposed`, headers: exposed, body: 'secret' });
    t.equal(res.status, 400, 'refused on the plaintext listener');
    const answers: RawResponse[] = [];
    for (let i = 0; i < 8; i++) answers.push(await s3Raw(ep(gw), { method: 'PUT', path: `/${bucket}/after-exposure-${i}`, headers: exposed, body: 'x' }));
    t.same(answers.map((a) => `${a.status} ${s3Error(a.body).code}`), Array(8).fill('403 AccessDenied'), 'then refused over HTTPS on 8 new connections (both workers)');
    const m = await metrics(gw);
    t.equal(sample(m, 'ssec_gateway_key_exposures_total'), 1, 'one exposure counted (by the store, in the primary)');
    t.equal(sample(m, 'ssec_gateway_sse_c_requests_total', { outcome: 'exposed_key_denied' }), 8, 'eight denials counted');
  });

  await t.test('a worker that dies is replaced; the new one knows the exposed keys', async (t) => {
    process.kill(pids[0]!, 'SIGKILL');
    // A connection the primary hands to a worker at the moment it dies is lost with it (Node's
    // round-robin handoff has no retry): requests from the moment the primary knows are served.
    t.ok(await until(() => gw.logs().some((l) => l.event === 'worker_exit'), 5000, 10), 'the primary saw the worker die');
    const served = await Promise.all([0, 1, 2, 3].map(() => s3Raw(ep(gw), { method: 'GET', path: `/${bucket}/obj-1`, headers: K })));
    t.same(served.map((r) => r.status), [200, 200, 200, 200], 'requests meanwhile are served by the other worker');
    t.ok(await until(async () => sample(await metrics(gw), 'ssec_gateway_workers') === 2, 15_000, 100), 'two workers listening again');
    const now = workerPids(gw);
    t.equal(now.length, 2);
    t.notOk(now.includes(pids[0]!), 'the dead worker was replaced by a new process');
    t.equal(sample(await metrics(gw), 'ssec_gateway_worker_restarts_total'), 1, 'ssec_gateway_worker_restarts_total 1');
    t.ok(gw.logs().some((l) => l.event === 'worker_exit' && l.level === 50 && l.signal === 'SIGKILL'), 'the exit is logged as an error');
    const answers: number[] = [];
    for (let i = 0; i < 6; i++) answers.push((await s3Raw(ep(gw), { method: 'GET', path: `/${bucket}/obj-1`, headers: exposed })).status);
    t.same(answers, Array(6).fill(403), 'the exposed key is refused by both, the new worker included');
  });

  await t.test('SIGTERM: not ready at once, the upload in flight finishes, exit 0', async (t) => {
    const exited = exitOf(gw);
    const workers = workerPids(gw);
    const body = randomBytes(1 << 20);
    const slow = slowPut(gw, `/${bucket}/during-shutdown`, body, K);
    await slow.started;
    t.ok(await until(async () => sample(await metrics(gw), 'ssec_gateway_requests_in_flight') === 1, 5000, 20), 'the upload is in flight');
    gw.child.kill('SIGTERM');
    t.ok(await until(async () => (await admin(gw, '/readyz')).status === 503, 5000, 20), '/readyz 503 while draining');
    const res = await slow.done;
    t.equal(res.status, 200, 'the upload in flight got its 200');
    const { code } = await exited;
    t.equal(code, 0, 'the gateway exited 0');
    const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
    t.same(workers.filter(alive), [], 'no worker process left behind');
    const reader = await startGateway({ upstream: rgw.http });
    t.teardown(() => reader.stop());
    const get = await s3Raw(ep(reader), { method: 'GET', path: `/${bucket}/during-shutdown`, headers: K });
    t.ok(get.status === 200 && get.body.equals(body), 'the object is whole and readable with its key');
  });
});

t.test('SIGTERM while a /readyz waits for a worker\'s answer: that probe gets 503 draining at once, not a hang-up', async (t) => {
  // (CI, 2026-12-06: a /readyz sent just before SIGTERM waited on the workers' readiness answers,
  // and the admin listener closed under it once they had exited: "socket hang up")
  const gw = await startGateway({ upstream: rgw.http, args: ['--workers', '2', '--fingerprint-secret', 'workers-readyz'] });
  t.teardown(() => gw.stop());
  t.equal((await admin(gw, '/readyz')).status, 200, 'ready');
  const [stopped] = workerPids(gw);
  process.kill(stopped!, 'SIGSTOP'); // it cannot answer the primary's readiness question now
  t.teardown(() => { try { process.kill(stopped!, 'SIGCONT'); } catch { /* gone */ } });
  const exited = exitOf(gw);
  const pending = admin(gw, '/readyz').then((r) => ({ ...r, at: Date.now() }), (e: Error) => ({ status: 0, text: e.message.split('\n')[0]!, at: Date.now() }));
  await sleep(300); // the probe waits for the stopped worker (up to 2 s)
  const sentAt = Date.now();
  gw.child.kill('SIGTERM');
  const r = await pending;
  t.ok(r.status === 503 && r.text.includes('draining'), `the waiting probe: ${r.status} ${r.text.trim()}`);
  t.ok(r.at - sentAt < 1000, `answered ${r.at - sentAt} ms after SIGTERM (a worker's answer is waited for up to 2 s)`);
  process.kill(stopped!, 'SIGCONT');
  const { code } = await exited;
  t.equal(code, 0, 'the gateway exited 0');
});

t.test('Redis store: each worker a replica; an exposure reaches the others over pub/sub', async (t) => {
  const redis = await sharedRedis();
  const gw = await startGateway({ upstream: rgw.http, plaintext: true, args: ['--workers', '2', '--redis-url', redis.url, '--redis-key-prefix', `wk${process.pid}:`, '--fingerprint-secret', 'workers-redis'] });
  t.teardown(() => gw.stop());
  t.equal(workerPids(gw).length, 2, 'two workers');
  t.equal((await admin(gw, '/readyz')).status, 200, '/readyz 200: every worker loaded the exposed keys');
  const exposed = newKey();
  t.equal((await s3Raw(ep(gw, true), { method: 'PUT', path: `/${bucket}/r-exposed`, headers: exposed, body: 'secret' })).status, 400);
  // the worker that saw it refuses at once; the other hears it over Redis pub/sub, promised within
  // 1 s (a request in between could reach the worker that has not heard yet: seen once under load)
  await sleep(1000);
  const answers: number[] = [];
  for (let i = 0; i < 6; i++) answers.push((await s3Raw(ep(gw), { method: 'PUT', path: `/${bucket}/r-after-${i}`, headers: exposed, body: 'x' })).status);
  t.same(answers, Array(6).fill(403), 'refused over HTTPS by both workers');
  const m = await metrics(gw);
  t.equal(sample(m, 'ssec_gateway_key_exposures_total'), 1, 'one exposure counted');
  t.equal(sample(m, 'ssec_gateway_fingerprint_store_up'), 1, 'store up');
});

/** A SigV4 PUT (UNSIGNED-PAYLOAD) whose body goes up in 64 KiB pieces every 40 ms. */
function slowPut(gw: GatewayProcess, path: string, body: Buffer, headers: Record<string, string>): { started: Promise<void>; done: Promise<{ status: number }> } {
  const u = new URL(gw.url);
  let markStarted: () => void = () => undefined;
  const started = new Promise<void>((r) => { markStarted = r; });
  const done = (async () => {
    const signer = new SignatureV4({ service: 's3', region: rgw.region, credentials: { accessKeyId: rgw.accessKey, secretAccessKey: rgw.secretKey }, sha256: Hash.bind(null, 'sha256'), uriEscapePath: false });
    const signed = await signer.sign(new HttpRequest({
      method: 'PUT', protocol: 'https:', hostname: u.hostname, port: Number(u.port), path,
      headers: { host: u.host, 'content-length': String(body.length), 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...headers },
    }));
    return new Promise<{ status: number }>((resolve, reject) => {
      const req = https.request({ method: 'PUT', hostname: u.hostname, port: Number(u.port), path, headers: signed.headers, ca: readFileSync(gw.caFile), agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      });
      req.on('error', reject);
      let off = 0;
      const step = () => {
        const piece = body.subarray(off, off + 65536);
        off += piece.length;
        if (off >= body.length) { req.end(piece); return; }
        req.write(piece);
        if (off === piece.length) markStarted();
        setTimeout(step, 40);
      };
      step();
    });
  })();
  return { started, done };
}
