/**
 * limits.*: each bound holds against the real RGW, over HTTP/1.1 and HTTP/2, with S3's answers:
 * slowloris heads (408), too many header fields (400 RequestHeaderSectionTooLarge, never a silent
 * truncation), load shedding (503 SlowDown before anything reaches the store), a stalled body
 * (400 RequestTimeout, nothing stored), idle connections closed, HTTP/2 SETTINGS, connection cap.
 */
import t from 'tap';
import http2 from 'node:http2';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { startGateway } from '../helpers/gateway.js';
import { bucketName, createBucket, sharedRgw } from '../helpers/rgw.js';
import { sendRaw } from '../helpers/s3-raw.js';
import { until as pollUntil } from '../helpers/fingerprints-e2e.js';

const rgw = await sharedRgw();
const bucket = bucketName('limits');
await createBucket(rgw, bucket);
const gw = await startGateway({
  upstream: rgw.http,
  args: ['--auth-mode', 'none', '--upstream-access-key-id', rgw.accessKey, '--upstream-secret-access-key', rgw.secretKey,
    '--headers-timeout-ms', '1000', '--body-timeout-ms', '1500', '--idle-timeout-ms', '3000', '--max-in-flight', '2', '--max-header-count', '40', '--max-connections', '12'],
});
t.teardown(() => gw.stop());
const ca = readFileSync(gw.caFile);
const port = Number(new URL(gw.url).port);

/** A raw TLS connection speaking HTTP/1.1: what it received and when it was closed. */
function raw(): Promise<{ socket: tls.TLSSocket; received: () => string; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = tls.connect({ host: '127.0.0.1', port, ca, ALPNProtocols: ['http/1.1'] }, () => resolve({ socket, received: () => got, closed }));
    let got = '';
    socket.on('data', (c: Buffer) => { got += c.toString('latin1'); });
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - started)));
    socket.once('error', reject);
  });
}

const until = <T>(cond: () => T, ms: number) => pollUntil(cond, ms, 20);

const head = async (key: string) => (await sendRaw(`${gw.url}/${bucket}/${key}`, { method: 'HEAD', caFile: gw.caFile })).status;

t.test('a request head sent too slowly (slowloris): 408 and closed', async (t) => {
  const c = await raw();
  c.socket.write(`PUT /${bucket}/slow HTTP/1.1\r\nHost: x\r\n`);
  const ms = await c.closed;
  t.match(c.received(), /^HTTP\/1\.1 408/, '408 Request Timeout');
  t.ok(ms < 2900, `closed after ${ms} ms (limit 1000 ms, checked every second; before the 3 s idle limit)`);
});

t.test('too many header fields: 400 RequestHeaderSectionTooLarge, on HTTP/1.1 and HTTP/2', async (t) => {
  const many: Record<string, string> = {};
  for (let i = 0; i < 45; i++) many[`x-amz-meta-m${i}`] = 'v';
  const r = await sendRaw(`${gw.url}/${bucket}/many`, { method: 'PUT', headers: many, body: Buffer.from('x'), caFile: gw.caFile });
  t.equal(r.status, 400);
  t.match(r.body.toString(), /<Code>RequestHeaderSectionTooLarge<\/Code>/);
  const session = http2.connect(gw.url, { ca });
  const req = session.request({ ':method': 'PUT', ':path': `/${bucket}/many2`, ...many });
  req.end('x');
  const [status, body] = await new Promise<[number, string]>((resolve) => {
    let s = 0; let b = '';
    req.on('response', (h) => { s = Number(h[':status']); });
    req.on('data', (c: Buffer) => { b += c; });
    req.on('end', () => resolve([s, b]));
  });
  t.equal(status, 400, 'HTTP/2');
  t.match(body, /RequestHeaderSectionTooLarge/);
  t.equal(session.remoteSettings.maxConcurrentStreams, 128, 'HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS from limits.h2MaxConcurrentStreams');
  session.close();
  t.equal(await head('many'), 404, 'nothing stored');
  t.equal(await head('many2'), 404, 'nothing stored (HTTP/2)');
  const fewer: Record<string, string> = {};
  for (let i = 0; i < 30; i++) fewer[`x-amz-meta-m${i}`] = 'v';
  t.equal((await sendRaw(`${gw.url}/${bucket}/fewer`, { method: 'PUT', headers: fewer, body: Buffer.from('x'), caFile: gw.caFile })).status, 200, 'under the limit: stored');
});

t.test('more than limits.maxInFlight requests: 503 SlowDown, nothing sent upstream; then served again', async (t) => {
  // two uploads that trickle their bodies hold both slots
  const slow = await Promise.all([raw(), raw()]);
  for (const [i, c] of slow.entries()) c.socket.write(`PUT /${bucket}/held${i} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab`);
  await new Promise((r) => setTimeout(r, 300));
  const r = await sendRaw(`${gw.url}/${bucket}/shed`, { method: 'PUT', body: Buffer.from('shed'), caFile: gw.caFile });
  t.equal(r.status, 503);
  t.match(r.body.toString(), /<Code>SlowDown<\/Code>/);
  const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
  t.match(metrics, /ssec_gateway_requests_shed_total\{listener="https"\} [1-9]/, 'counted');
  const line = await until(() => gw.logs().find((l) => l.msg === 'request' && String(l.url).endsWith('/shed')), 5000);
  t.ok(line && line.level === 40 && String(line.failure).startsWith('shed:'), `logged as a warning, not an error: overload protection at work (level ${String(line?.level)}, ${String(line?.failure)})`);
  for (const c of slow) c.socket.write('cd');
  const answered = (c: (typeof slow)[number]) => until(() => /\r\n\r\n/.test(c.received()), 10_000);
  await Promise.all(slow.map(answered));
  for (const c of slow) { t.match(c.received(), /^HTTP\/1\.1 200/, 'the held uploads complete'); c.socket.destroy(); }
  t.equal(await head('shed'), 404, 'the shed request stored nothing');
  t.equal((await sendRaw(`${gw.url}/${bucket}/after`, { method: 'PUT', body: Buffer.from('after'), caFile: gw.caFile })).status, 200, 'slots free again: served');
});

t.test('a body that stops: 400 RequestTimeout, the upstream PUT aborted, nothing stored', async (t) => {
  const c = await raw();
  c.socket.write(`PUT /${bucket}/stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n`);
  c.socket.write(Buffer.alloc(100 * 1024, 7));
  const ms = await c.closed;
  t.match(c.received(), /^HTTP\/1\.1 400/);
  t.match(c.received(), /<Code>RequestTimeout<\/Code>/);
  t.ok(ms < 8000, `answered and closed after ${ms} ms (limit 1500 ms)`);
  t.equal(await head('stalled'), 404, 'no object');
  const line = gw.logs().find((l) => l.url === `/${bucket}/stalled`);
  t.match(String(line?.failure), /client_timeout: no body byte/, 'the log says why');
});

t.test('idle connections are closed: HTTP/1.1 keep-alive and HTTP/2 (GOAWAY)', async (t) => {
  const c = await raw();
  c.socket.write(`HEAD /${bucket}/after HTTP/1.1\r\nHost: x\r\n\r\n`);
  const ms = await c.closed;
  t.match(c.received(), /^HTTP\/1\.1 200/);
  t.ok(ms >= 2900 && ms < 9000, `kept alive, then closed after ${ms} ms idle (limit 3000 ms)`);
  const session = http2.connect(gw.url, { ca });
  const goaway = new Promise<number>((r) => session.once('goaway', (code) => r(code)));
  await new Promise((r) => session.once('connect', r));
  t.equal(await goaway, http2.constants.NGHTTP2_NO_ERROR, 'an idle HTTP/2 connection gets GOAWAY(NO_ERROR)');
  session.destroy();
});

t.test('a client that stops reading an answer: ended after limits.idleTimeoutMs, the upstream read released', async (t) => {
  const big = Buffer.alloc(64 << 20, 3);
  t.equal((await sendRaw(`${gw.url}/${bucket}/big`, { method: 'PUT', body: big, caFile: gw.caFile })).status, 200);
  // HTTP/1.1: read the head and a little, then stop
  const c = await raw();
  c.socket.write(`GET /${bucket}/big HTTP/1.1\r\nHost: x\r\n\r\n`);
  await until(() => c.received().length > 1 << 20, 10_000);
  c.socket.pause();
  const stoppedAt = Date.now();
  const aborted = () => gw.logs().some((l) => l.op === 'GetObject' && l.proto === 'h1' && l.aborted === true);
  await until(aborted, 15_000);
  t.ok(aborted(), `HTTP/1.1: the answer was ended and logged as aborted ${Date.now() - stoppedAt} ms after the client stopped reading (idle limit 3000 ms)`);
  c.socket.resume(); // reads what was queued, then sees the connection closed
  const ms = await Promise.race([c.closed, new Promise<number>((r) => setTimeout(() => r(-1), 10_000))]);
  t.ok(ms > 0, 'and the connection closed');
  // HTTP/2: the stream is reset, the connection stays for other requests
  const session = http2.connect(gw.url, { ca });
  const req = session.request({ ':method': 'GET', ':path': `/${bucket}/big` });
  let got = 0;
  req.on('data', (ch: Buffer) => { got += ch.length; if (got > 1 << 20) req.pause(); });
  const code = await new Promise<number>((r) => { req.once('close', () => r(req.rstCode ?? -1)); setTimeout(() => r(-2), 15_000); });
  t.equal(code, http2.constants.NGHTTP2_CANCEL, 'HTTP/2: RST_STREAM(CANCEL)');
  const again = session.request({ ':method': 'HEAD', ':path': `/${bucket}/big` });
  const status = await new Promise<number>((r) => again.once('response', (h) => r(Number(h[':status']))));
  t.equal(status, 200, 'the same HTTP/2 connection serves the next request');
  again.close();
  session.close();
  const peak = gw.memory().peak;
  t.ok(peak < 256 << 20, `peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`);
});

t.test('HTTP/2 protocol errors: GOAWAY names the client\'s fault, never INTERNAL_ERROR', async (t) => {
  const frame = (type: number, flags: number, stream: number, payload = Buffer.alloc(0)) => {
    const h = Buffer.alloc(9);
    h.writeUIntBE(payload.length, 0, 3); h[3] = type; h[4] = flags; h.writeUInt32BE(stream, 5);
    return Buffer.concat([h, payload]);
  };
  const c = http2.constants;
  const cases: [string, Buffer, number][] = [
    ['DATA on stream 0', frame(0, 0, 0, Buffer.from('x')), c.NGHTTP2_PROTOCOL_ERROR],
    ['SETTINGS of a length not a multiple of 6', frame(4, 0, 0, Buffer.alloc(5)), c.NGHTTP2_FRAME_SIZE_ERROR],
    ['WINDOW_UPDATE of 0 on the connection', frame(8, 0, 0, Buffer.alloc(4)), c.NGHTTP2_PROTOCOL_ERROR],
    ['HEADERS that do not decompress', frame(1, 5, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff])), c.NGHTTP2_COMPRESSION_ERROR],
  ];
  for (const [name, bad, want] of cases) {
    const got = await new Promise<number>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca, ALPNProtocols: ['h2'] }, () => {
        s.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(4, 0, 0), bad]));
      });
      let buf = Buffer.alloc(0);
      s.on('data', (d: Buffer) => { buf = Buffer.concat([buf, d]); });
      s.on('error', () => {});
      s.on('close', () => {
        let code = -1;
        for (let off = 0; off + 9 <= buf.length; off += 9 + buf.readUIntBE(off, 3)) if (buf[off + 3] === 7) code = buf.readUInt32BE(off + 13);
        resolve(code);
      });
      setTimeout(() => s.destroy(), 5000);
    });
    t.equal(got, want, `${name}: GOAWAY ${got}`);
  }
});

t.test('limits.maxConnections: a connection past it is closed at once', async (t) => {
  // 14 at once against a limit of 12 (connections of earlier tests may still hold some slots)
  const tries = await Promise.allSettled(Array.from({ length: 14 }, () => raw()));
  const opened = tries.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  await new Promise((r) => setTimeout(r, 1000));
  const alive = opened.filter((c) => !c.socket.destroyed && c.socket.readyState === 'open');
  t.ok(alive.length <= 12, `${alive.length} of 14 connections still open after a second (limit 12)`);
  t.ok(tries.length - alive.length >= 2, `${tries.length - alive.length} closed at once`);
  for (const c of opened) c.socket.destroy();
});
