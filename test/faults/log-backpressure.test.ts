/**
 * A log reader that does not keep up (a busy container log collector, a full pipe) must not grow
 * the gateway's memory or stop it serving. Found under sustained overload (npm run test:load,
 * 1,000 connections against limits.maxInFlight 256): RSS rose for the whole run; heap snapshots
 * showed 52 MiB of log lines queued for stdout after 160 s, a line per shed request.
 * Since then lines past log.maxBufferBytes are dropped and counted, and a warning says how many.
 *
 * The gateway's stdout is a pipe this test stops reading; its requests are refused by the gateway
 * itself (a bad SSE-C algorithm), so no upstream is needed.
 */
import t from 'tap';
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import { startGateway } from '../helpers/gateway.js';
import { admin, closedPort, sample, sleep, until } from '../helpers/faults.js';

const gw = await startGateway({ upstream: `http://127.0.0.1:${await closedPort()}`, args: ['--log-max-buffer-bytes', '65536'] });
t.teardown(() => gw.stop());
const ca = readFileSync(gw.caFile);
const session = http2.connect(gw.url, { ca });
t.teardown(() => session.destroy());

const BAD = { 'x-amz-server-side-encryption-customer-algorithm': 'AES128', 'x-amz-server-side-encryption-customer-key': 'AAAA', 'x-amz-server-side-encryption-customer-key-md5': 'AAAA' };
const get = (path: string) => new Promise<number>((resolve) => {
  const s = session.request({ ':path': path, ...BAD });
  let status = 0;
  s.on('response', (h) => { status = Number(h[':status']); });
  s.resume();
  s.on('close', () => resolve(status));
});
const dropped = async () => sample((await admin(gw.adminUrl, '/metrics')).text, 'ssec_gateway_log_lines_dropped_total');

t.test('stdout not read: lines past log.maxBufferBytes are dropped and counted, requests are served meanwhile', async (t) => {
  t.equal(await dropped(), 0, 'nothing dropped while stdout is read');
  gw.child.stdout!.pause();
  const N = 6000;
  const statuses = new Map<number, number>();
  for (let i = 0; i < N; i += 200) {
    const batch = await Promise.all(Array.from({ length: 200 }, (_, j) => get(`/logbp/o-${i + j}`)));
    for (const s of batch) statuses.set(s, (statuses.get(s) ?? 0) + 1);
  }
  t.same(Object.fromEntries(statuses), { 400: N }, `all ${N} requests answered (400 InvalidEncryptionAlgorithmError) while nobody reads the log`);
  const t0 = Date.now();
  const late = await get('/logbp/while-blocked');
  t.equal(late, 400, `one more request answered in ${Date.now() - t0} ms`);
  const n = await dropped();
  // each request line is ~330 bytes: 6,000 of them are ~2 MB, 64 KiB of which may wait
  t.ok(n > N / 2, `ssec_gateway_log_lines_dropped_total: ${n} of ${N + 1} request lines`);
  const rss = gw.memory().current;

  gw.child.stdout!.resume();
  const isNote = (l: Record<string, unknown>) => String(l.msg).startsWith('log lines dropped');
  const note = await until(() => { const x = gw.logs().filter(isNote); return x.length ? x : undefined; }, 10_000);
  const lines = gw.logs().filter((l) => l.msg === 'request' && String(l.url).startsWith('/logbp/'));
  const reported = (note || []).reduce((a, l) => a + Number(l.droppedLines), 0);
  t.ok(note && note.length > 0 && note[0]!.level === 40, `a warning says lines were dropped (${reported} in ${note ? note.length : 0} warning(s))`);
  const final = await dropped();
  t.ok(lines.length < N && lines.length + final >= N + 1, `every request line either written (${lines.length}) or counted as dropped (${final})`);
  await sleep(1500); // a warning for the rest, if any were dropped after the first one
  const notes = gw.logs().filter(isNote);
  t.equal(notes.reduce((a, l) => a + Number(l.droppedLines), 0), await dropped(), 'the warnings add up to the counter');
  t.ok(rss < 256 * 2 ** 20, `RSS while blocked: ${(rss / 2 ** 20).toFixed(0)} MiB`);
});
