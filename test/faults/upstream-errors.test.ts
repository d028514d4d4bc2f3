/**
 * Faults of the upstream that a client must see as S3 answers (issue 11, item 3.2), with stand-in
 * upstreams started here on 127.0.0.1 (no RGW needed: radosgw itself stopped under a running
 * gateway is in upstream-kill.test.ts). Each in encryption modes `upstream` (forward.ts / dispatch.ts)
 * and `gateway` (operations.ts, the gateway's own S3 client):
 *  - nothing listening (connection refused): 503 ServiceUnavailable as S3 XML for GET, HEAD and PUT,
 *    over HTTP/1.1 and HTTP/2; a large upload gets its 503 too, whether its client keeps the
 *    connection alive (which then serves the next request) or sent `Connection: close`;
 *  - an upstream that accepts and never answers: 504 GatewayTimeout once --upstream-timeout-ms has
 *    passed, for GET and PUT, and the gateway closes the stalled upstream connection;
 *  - an upstream that stops reading an upload midway (its socket buffers full): 504 too, not a hang;
 *  - an upload that is merely slow (steady, longer than --upstream-timeout-ms) is not cut off;
 *  - an upstream answering 500 InternalError / 503 ServiceUnavailable / 503 SlowDown: relayed with the
 *    same status and code (SDKs retry them), as XML.
 */
import t from 'tap';
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import { startGateway, type GatewayProcess } from '../helpers/gateway.js';
import {
  Generated, MiB, acceptingUpstream, closedPort, connectionsTo, failingUpstream, request, s3Code, ssecHeaders, stalledUpstream, transfer, until, rawHttp1, sleep,
  type TransferResult,
} from '../helpers/faults.js';

const TIMEOUT_MS = 2000;
const BUCKET = 'faults-bucket';
const MODES = ['upstream', 'gateway'] as const;
type Mode = (typeof MODES)[number];
const common = ['--auth-mode', 'none', '--upstream-access-key-id', 'AKFAKE', '--upstream-secret-access-key', 'fake-secret',
  '--upstream-profile', 'rgw16', '--upstream-timeout-ms', String(TIMEOUT_MS)];

type Gw = GatewayProcess & { ca: Buffer };
async function gateway(upstream: string, mode: Mode): Promise<Gw> {
  const gw = await startGateway({ upstream, args: [...common, ...(mode === 'gateway' ? ['--encryption-mode', 'gateway'] : [])] });
  t.teardown(() => gw.stop());
  return Object.assign(gw, { ca: readFileSync(gw.caFile) });
}

/** A transfer's result, or (status -1) when it took longer than ms: a hang. */
async function within(p: Promise<TransferResult>, ms: number): Promise<TransferResult> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<TransferResult>((resolve) => {
    timer = setTimeout(() => resolve({ status: -1, body: Buffer.alloc(0), received: 0, sha256: '', complete: false, error: `no answer within ${ms} ms`, ms, headers: {} }), ms);
  });
  try { return await Promise.race([p, hang]); } finally { clearTimeout(timer); }
}

const describe = (r: TransferResult) => `${r.status} ${s3Code(r.body) ?? ''}${r.error ? ` (${r.error})` : ''} after ${r.ms} ms`;
const answer = (r: TransferResult) => `${r.status} ${s3Code(r.body) ?? ''}`.trim();

t.test('nothing listening on the upstream port: 503 ServiceUnavailable as S3 XML', async (t) => {
  const port = await closedPort();
  for (const mode of MODES) {
    const gw = await gateway(`http://127.0.0.1:${port}`, mode);
    const K = ssecHeaders();
    const cases: [string, () => Promise<TransferResult>][] = [
      ['GET', () => request({ method: 'GET', url: gw.url, path: `/${BUCKET}/obj`, ca: gw.ca, headers: K })],
      ['GET without SSE-C', () => request({ method: 'GET', url: gw.url, path: `/${BUCKET}/obj`, ca: gw.ca })],
      ['PUT 4 KiB', () => request({ method: 'PUT', url: gw.url, path: `/${BUCKET}/obj`, ca: gw.ca, headers: K, data: Buffer.alloc(4096, 1) })],
    ];
    for (const [name, run] of cases) {
      const r = await within(run(), 10_000);
      t.equal(answer(r), '503 ServiceUnavailable', `${mode}: ${name}: 503 ServiceUnavailable (${describe(r)})`);
      t.match(String(r.headers['content-type']), /xml/, `${mode}: ${name}: an XML body`);
    }
    const head = await within(request({ method: 'HEAD', url: gw.url, path: `/${BUCKET}/obj`, ca: gw.ca, headers: K }), 10_000);
    t.equal(head.status, 503, `${mode}: HEAD: 503, no body`);
    const session = http2.connect(gw.url, { ca: gw.ca });
    const h2 = await within(transfer({ method: 'GET', url: gw.url, path: `/${BUCKET}/obj`, ca: gw.ca, headers: K, session }).done, 10_000);
    const h2put = await within(transfer({ method: 'PUT', url: gw.url, path: `/${BUCKET}/obj`, ca: gw.ca, headers: K, session, body: new Generated(16 * MiB, 'h2') }).done, 10_000);
    session.close();
    t.equal(answer(h2), '503 ServiceUnavailable', `${mode}: HTTP/2 GET: 503 ServiceUnavailable`);
    t.equal(answer(h2put), '503 ServiceUnavailable', `${mode}: HTTP/2 PUT of 16 MiB: 503 ServiceUnavailable (${describe(h2put)})`);
    const line = gw.logs().find((l) => l.msg === 'request' && l.status === 503);
    t.match(String(line?.failure), /upstream_unreachable: ECONNREFUSED|UpstreamUnreachable/, `${mode}: the log line says why (${String(line?.failure)})`);
  }
});

t.test('a large upload whose upstream is unreachable gets its 503: the rest of the body is read and dropped', async (t) => {
  // The answer goes out after ~50 KiB of a 16 MiB body, and the client is still writing: it must
  // still get the answer. Before the fix: with `Connection: close`, node:http destroyed the socket
  // right after the answer with the body still arriving, the kernel reset the connection and the
  // client got EPIPE/ECONNRESET instead of the 503 (both modes); in mode gateway the rest of the
  // body was never read at all, so a client writing its whole body before reading (botocore)
  // stalled mid-body until limits.idleTimeoutMs (60 s) and was then reset.
  const port = await closedPort();
  for (const mode of MODES) {
    const gw = await gateway(`http://127.0.0.1:${port}`, mode);
    const put = (close: boolean) => `PUT /${BUCKET}/big HTTP/1.1\r\nHost: gw\r\n${close ? 'Connection: close\r\n' : ''}${Object.entries(ssecHeaders()).map(([k, v]) => `${k}: ${v}\r\n`).join('')}Content-Length: ${16 * MiB}\r\n\r\n`;
    for (let i = 0; i < 3; i++) {
      // node:https without an agent: `Connection: close`, stops writing once answered
      const viaNode = await within(transfer({ method: 'PUT', url: gw.url, path: `/${BUCKET}/big${i}`, ca: gw.ca, headers: ssecHeaders(), body: new Generated(16 * MiB, 'big') }).done, 10_000);
      t.equal(answer(viaNode), '503 ServiceUnavailable', `${mode}: node:https PUT of 16 MiB, Connection: close, #${i + 1}: 503 ServiceUnavailable (${describe(viaNode)})`);
      // by hand: `Connection: close`, the whole body written whatever comes back
      const c = await rawHttp1(gw.url, gw.ca);
      await c.send(put(true), 16 * MiB);
      await Promise.race([c.closed, sleep(10_000)]);
      t.same(c.statuses(), [503], `${mode}: raw PUT of 16 MiB, Connection: close, #${i + 1}: the 503 arrives`);
      t.same(c.errors, [], `${mode}: raw PUT, Connection: close, #${i + 1}: the connection closed cleanly (no reset)`);
      c.destroy();
    }
    // by hand, keep-alive: three 16 MiB PUTs and a GET on one connection, each body written whole
    const c = await rawHttp1(gw.url, gw.ca);
    const started = Date.now();
    for (let i = 0; i < 3; i++) {
      const sent = await Promise.race([c.send(put(false), 16 * MiB), sleep(15_000).then(() => -1)]);
      t.equal(sent, 16 * MiB, `${mode}: keep-alive PUT #${i + 1}: the whole body was taken (drained by the gateway)`);
    }
    await c.send(`GET /${BUCKET}/obj HTTP/1.1\r\nHost: gw\r\n\r\n`);
    t.ok(await until(() => c.statuses().length === 4, 10_000), `${mode}: four answers on the connection`);
    t.same(c.statuses(), [503, 503, 503, 503], `${mode}: 503 to each of them, the connection reused (${Date.now() - started} ms)`);
    t.same(c.errors, [], `${mode}: no reset`);
    c.destroy();
  }
});

t.test('an upstream that accepts and never answers: 504 GatewayTimeout after upstream.timeoutMs, and the connection is closed', async (t) => {
  for (const mode of MODES) {
    const stalled = await stalledUpstream({ read: true });
    t.teardown(() => stalled.close());
    const gw = await gateway(stalled.url, mode);
    const K = ssecHeaders();
    const cases: [string, () => Promise<TransferResult>][] = [
      ['GET', () => request({ method: 'GET', url: gw.url, path: `/${BUCKET}/obj`, ca: gw.ca, headers: K })],
      ['PUT 4 KiB', () => request({ method: 'PUT', url: gw.url, path: `/${BUCKET}/obj`, ca: gw.ca, headers: K, data: Buffer.alloc(4096, 1) })],
      ['PUT 8 MiB', () => transfer({ method: 'PUT', url: gw.url, path: `/${BUCKET}/big`, ca: gw.ca, headers: K, body: new Generated(8 * MiB, 'big') }).done],
    ];
    for (const [name, run] of cases) {
      const before = stalled.accepted.length;
      const r = await within(run(), TIMEOUT_MS + 10_000);
      t.equal(answer(r), '504 GatewayTimeout', `${mode}: ${name}: 504 GatewayTimeout (${describe(r)})`);
      // undici checks its headersTimeout once a second: up to ~1 s late
      t.ok(r.ms >= TIMEOUT_MS - 100 && r.ms < TIMEOUT_MS + 2000, `${mode}: ${name}: answered after ${r.ms} ms (upstream.timeoutMs ${TIMEOUT_MS})`);
      const conns = stalled.accepted.slice(before);
      t.ok(conns.length >= 1, `${mode}: ${name}: the request reached the stalled upstream`);
      t.ok(await until(() => conns.every((c) => c.closedAfter !== undefined), 3000), `${mode}: ${name}: the gateway closed its stalled upstream connection (${conns.map((c) => c.closedAfter).join(', ')} ms after it was opened)`);
    }
  }
});

t.test('an upstream that stops reading an upload midway: 504 GatewayTimeout after upstream.timeoutMs, not a hang', async (t) => {
  // Before the fix (upstream mode), forward.ts armed upstream.timeoutMs only once the whole body
  // had gone up ('finish'), which never happens here: the request hung for ever.
  for (const mode of MODES) {
    const stalled = await stalledUpstream({ read: false });
    t.teardown(() => stalled.close());
    const gw = await gateway(stalled.url, mode);
    for (const [name, session] of [['HTTP/1.1', undefined], ['HTTP/2', http2.connect(gw.url, { ca: gw.ca })]] as const) {
      // 64 MiB: far more than the loopback socket buffers hold, so the upload stops mid-body
      const r = await within(transfer({ method: 'PUT', url: gw.url, path: `/${BUCKET}/big`, ca: gw.ca, headers: ssecHeaders(), body: new Generated(64 * MiB, 'big'), session }).done, TIMEOUT_MS + 10_000);
      session?.close();
      t.equal(answer(r), '504 GatewayTimeout', `${mode}: ${name}: 504 GatewayTimeout (${describe(r)})`);
      t.ok(r.ms >= TIMEOUT_MS - 100 && r.ms < TIMEOUT_MS + 3000, `${mode}: ${name}: answered after ${r.ms} ms (upstream.timeoutMs ${TIMEOUT_MS})`);
      // the stand-in never reads, so it cannot see the close: the gateway's side tells
      const held = await until(() => connectionsTo(gw.child.pid!, stalled.port).filter((c) => c.state === 'ESTABLISHED').length === 0, 3000);
      t.ok(held, `${mode}: ${name}: the gateway holds no connection to the stalled upstream any more`);
    }
  }
});

t.test('an upload slower than upstream.timeoutMs but steady is not cut off', async (t) => {
  const up = await acceptingUpstream();
  t.teardown(() => up.close());
  for (const mode of MODES) {
    const gw = await gateway(up.url, mode);
    // 4 MiB in 128 KiB pieces every 120 ms: ~3.8 s, against upstream.timeoutMs 2 s
    const r = await within(transfer({ method: 'PUT', url: gw.url, path: `/${BUCKET}/slow`, ca: gw.ca, headers: ssecHeaders(), body: new Generated(4 * MiB, 'slow'), chunk: 128 * 1024, intervalMs: 120 }).done, 20_000);
    t.ok(r.ms > TIMEOUT_MS, `${mode}: the upload took ${r.ms} ms (longer than upstream.timeoutMs ${TIMEOUT_MS})`);
    // (regression, mode gateway: s3-client.ts bounded the whole upload by upstream.timeoutMs)
    t.equal(answer(r), '200', `${mode}: 200 (${describe(r)})`);
  }
});

t.test('a client that pauses mid-upload for longer than upstream.timeoutMs is not answered 504: the upstream is not the one waiting', async (t) => {
  const up = await acceptingUpstream();
  t.teardown(() => up.close());
  for (const mode of MODES) {
    const gw = await gateway(up.url, mode);
    // 1 MiB, a pause of 1.75 × upstream.timeoutMs (well inside limits.bodyTimeoutMs, 60 s), 1 MiB
    const r = await within(transfer({ method: 'PUT', url: gw.url, path: `/${BUCKET}/paused`, ca: gw.ca, headers: ssecHeaders(), body: new Generated(2 * MiB, 'paused'), chunk: MiB, intervalMs: 1.75 * TIMEOUT_MS }).done, 20_000);
    t.equal(answer(r), '200', `${mode}: 200 (${describe(r)})`);
  }
});

t.test('an upstream answering 500 / 503 with S3 XML: relayed with the same status and code', async (t) => {
  for (const [status, code] of [[500, 'InternalError'], [503, 'ServiceUnavailable'], [503, 'SlowDown']] as const) {
    const up = await failingUpstream(status, code);
    t.teardown(() => up.close());
    for (const mode of MODES) {
      const gw = await gateway(up.url, mode);
      const K = ssecHeaders();
      const session = http2.connect(gw.url, { ca: gw.ca });
      const answers = [
        ['GET', await request({ method: 'GET', url: gw.url, path: `/${BUCKET}/obj`, ca: gw.ca, headers: K })],
        ['PUT', await request({ method: 'PUT', url: gw.url, path: `/${BUCKET}/obj`, ca: gw.ca, headers: K, data: Buffer.alloc(100_000, 2) })],
        ['PUT 8 MiB', await transfer({ method: 'PUT', url: gw.url, path: `/${BUCKET}/big`, ca: gw.ca, headers: K, body: new Generated(8 * MiB, 'x') }).done],
        ['HTTP/2 GET', await transfer({ method: 'GET', url: gw.url, path: `/${BUCKET}/obj`, ca: gw.ca, headers: K, session }).done],
        ['HTTP/2 PUT', await transfer({ method: 'PUT', url: gw.url, path: `/${BUCKET}/obj`, ca: gw.ca, headers: K, session, body: new Generated(MiB, 'x') }).done],
      ] as const;
      session.close();
      for (const [name, r] of answers) {
        t.equal(answer(r), `${status} ${code}`, `${mode}: ${name}: ${status} ${code} relayed`);
        t.match(String(r.headers['content-type']), /xml/, `${mode}: ${name}: as XML`);
      }
      const head = await request({ method: 'HEAD', url: gw.url, path: `/${BUCKET}/obj`, ca: gw.ca, headers: K });
      t.equal(head.status, status, `${mode}: HEAD: ${status}`);
      await gw.stop();
    }
  }
});
