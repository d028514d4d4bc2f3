// `ssec-gateway keys …` against a store with data (the in-memory store handed in; the Redis path
// is exercised in test/integration/fingerprints-redis.test.ts): table and JSON content, prefix
// resolution, retire/forget rules, help and usage errors.
import t, { type Test } from 'tap';
import { Writable } from 'node:stream';
import { formatAge, formatBytes, keysCommand, printable, table } from '../../src/cli/keys.js';
import { loadConfig, type GatewayConfig } from '../../src/config/load.js';
import { createFingerprintStore } from '../../src/fingerprints/store.js';
import type { FingerprintStore } from '../../src/fingerprints/types.js';
import { createLogger } from '../../src/logging/logger.js';
import { createMetrics } from '../../src/metrics/registry.js';

const NOW = new Date('2026-11-27T12:00:00Z');
const day = (d: number) => new Date(NOW.getTime() - d * 86_400_000);
const A = 'aaaa1111' + '0'.repeat(56);
const B = 'bbbb2222' + '1'.repeat(56);
const C = 'bbbb3333' + '2'.repeat(56); // shares the prefix "bbbb" with B
const cfg: GatewayConfig = { ...loadConfig({ env: {} }), rotation: { maxAgeDays: 90, maxObjects: 0, maxBytes: 0 } };

async function withData(t: Test): Promise<FingerprintStore> {
  const store = await createFingerprintStore(cfg, { metrics: createMetrics(), log: createLogger('silent'), refreshMs: 0, now: () => NOW });
  t.teardown(() => store.close());
  store.use({ fingerprint: A, at: day(120), client: '10.0.0.1', bucket: 'photos', operation: 'PutObject', bytesWritten: 3 << 20 });
  store.use({ fingerprint: A, at: day(1), client: '10.0.0.2', bucket: 'photos', operation: 'GetObject', bytesWritten: 0 });
  store.objectWritten({ fingerprint: A, bucket: 'photos', key: 'b.jpg', size: 2 << 20, at: day(120) });
  store.objectWritten({ fingerprint: A, bucket: 'photos', key: 'a.jpg', size: 1 << 20, at: day(119) });
  store.objectWritten({ fingerprint: A, bucket: 'photos', key: 'line\nbreak', versionId: 'v1', size: 5, at: day(118) });
  store.use({ fingerprint: B, at: day(10), client: '10.0.0.3', bucket: 'docs', operation: 'PutObject', bytesWritten: 500 });
  store.objectWritten({ fingerprint: B, bucket: 'docs', key: 'x.pdf', size: 500, at: day(10) });
  store.use({ fingerprint: C, at: day(2), client: '10.0.0.4', operation: 'HeadObject', bytesWritten: 0 });
  await store.flush();
  await store.exposed({ fingerprint: C, at: day(1), client: '198.51.100.5', listener: 'http', header: 'x-amz-server-side-encryption-customer-key', requestId: 'REQX' });
  await store.flush();
  return store;
}

function capture() {
  let text = '';
  const stream = new Writable({ write(c, _e, cb) { text += String(c); cb(); } });
  return { stream, text: () => text };
}

async function run(store: FingerprintStore | undefined, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = capture();
  const err = capture();
  const code = await keysCommand(argv, cfg, out.stream, { store, err: err.stream, now: () => NOW });
  return { code, out: out.text(), err: err.text() };
}

t.test('keys list: an aligned table', async (t) => {
  const store = await withData(t);
  const r = await run(store, 'list');
  t.equal(r.code, 0);
  t.equal(r.err, '');
  const lines = r.out.trimEnd().split('\n');
  t.equal(lines.length, 4, 'header + 3 keys');
  t.match(lines[0], /^KEY\s+STATUS\s+FIRST SEEN \(UTC\)\s+LAST SEEN \(UTC\)\s+AGE\s+OBJECTS\s+OBJ BYTES\s+WRITTEN\s+REQUESTS\s+OVERDUE\s+ALERTS$/);
  t.match(lines[1], /^aaaa111100000000\s+active\s+2026-07-30 12:00\s+2026-11-26 12:00\s+120d\s+3\s+3\.00 MiB\s+3\.00 MiB\s+2\s+age\s+rotation_due$/, 'oldest first, overdue by age, alerted');
  t.match(lines[2], /^bbbb222211111111\s+active\s+2026-11-17 12:00\s+2026-11-17 12:00\s+10d\s+1\s+500 B\s+500 B\s+1\s+-\s+-$/);
  t.match(lines[3], /^bbbb333322222222\s+compromised\s+.*\s+exposed$/);
  const col = (l: string, word: string) => l.indexOf(word);
  t.equal(col(lines[1]!, 'active'), col(lines[0]!, 'STATUS'), 'columns aligned');
  t.equal(col(lines[3]!, 'compromised'), col(lines[0]!, 'STATUS'));
  t.equal(lines[1]!.indexOf('120d') + 4, lines[0]!.indexOf('AGE') + 3, 'numbers right-aligned');

  t.match((await run(store, 'list', '--overdue')).out.trim().split('\n').length, 2, '--overdue: only A');
  t.match((await run(store, 'list', '--status', 'compromised')).out, /bbbb3333/);
  t.notMatch((await run(store, 'list', '--status', 'compromised')).out, /aaaa1111/);
});

t.test('keys list --json', async (t) => {
  const store = await withData(t);
  const r = await run(store, 'list', '--json');
  t.equal(r.code, 0);
  const j = JSON.parse(r.out) as Record<string, unknown>[];
  t.equal(j.length, 3);
  t.match(j[0], {
    id: 'aaaa111100000000', fingerprint: A, status: 'active', firstSeen: day(120).toISOString(), lastSeen: day(1).toISOString(), ageDays: 120,
    requests: 2, bytesWritten: 3 << 20, objects: 3, objectBytes: (3 << 20) + 5, clients: ['10.0.0.2', '10.0.0.1'], buckets: ['photos'], exposure: null, overdue: ['age'],
  });
  t.match(j[2], { fingerprint: C, status: 'compromised', exposure: { client: '198.51.100.5', listener: 'http', requestId: 'REQX', count: 1, at: day(1).toISOString() }, overdue: [] });
  t.ok((j[2]!.alerts as Record<string, string>).exposed, 'alerts with their time');
});

t.test('keys show: by unique prefix, full fingerprint; ambiguous and unknown refused', async (t) => {
  const store = await withData(t);
  const r = await run(store, 'show', 'AAAA');
  t.equal(r.code, 0);
  t.match(r.out, /^key\s+aaaa111100000000$/m);
  t.match(r.out, new RegExp(`^fingerprint\\s+${A}$`, 'm'));
  t.match(r.out, /^status\s+active$/m);
  t.match(r.out, /^first seen\s+2026-07-30 12:00 \(120d ago\)$/m);
  t.match(r.out, /^objects\s+3 \(3\.00 MiB\)$/m);
  t.match(r.out, /^clients\s+10\.0\.0\.2, 10\.0\.0\.1$/m);
  t.match(r.out, /^rotation policy\s+age > 90 d$/m);
  t.match(r.out, /^overdue\s+age$/m);
  t.match((await run(store, 'show', C)).out, /^exposure\s+2026-11-26 12:00 by 198\.51\.100\.5 on http \(x-amz-server-side-encryption-customer-key, request REQX\)$/m);
  t.match(JSON.parse((await run(store, 'show', 'bbbb2', '--json')).out), { fingerprint: B, objects: 1 });
  t.match(JSON.parse((await run(store, 'show', '--json', 'bbbb2')).out), { fingerprint: B }, 'a switch before KEY does not swallow it');
  t.match((await run(store, '-h')).out, /^Usage: ssec-gateway keys COMMAND/);
  const amb = await run(store, 'show', 'bbbb');
  t.equal(amb.code, 1);
  t.match(amb.err, /bbbb is ambiguous: bbbb222211111111, bbbb333322222222/);
  t.match((await run(store, 'show', 'cccc')).err, /no key id starts with cccc/);
  t.match((await run(store, 'show', 'c'.repeat(64))).err, /no key with fingerprint/);
  const bad = await run(store, 'show', 'xyz!');
  t.equal(bad.code, 1);
  t.match(bad.err, /not a key id/);
});

t.test('keys objects', async (t) => {
  const store = await withData(t);
  const r = await run(store, 'objects', 'aaaa');
  t.equal(r.code, 0);
  const lines = r.out.trimEnd().split('\n');
  t.match(lines[0], /^BUCKET\s+KEY\s+VERSION\s+SIZE\s+WRITTEN \(UTC\)$/);
  t.match(lines[1], /^photos\s+a\.jpg\s+-\s+1048576\s+2026-07-31 12:00$/, 'sorted by key');
  t.match(lines[2], /^photos\s+b\.jpg\s+-\s+2097152\s+2026-07-30 12:00$/);
  t.match(lines[3], /^photos\s+line\\x0abreak\s+v1\s+5\s+/, 'control characters escaped');
  const j = JSON.parse((await run(store, 'objects', 'aaaa', '--json')).out) as unknown[];
  t.same(j[2], { bucket: 'photos', key: 'line\nbreak', versionId: 'v1', size: 5, at: day(118).toISOString() });
  const lim = await run(store, 'objects', 'aaaa', '--limit', '1');
  t.match(lim.out, /\(1 of 3 shown\)/);
  t.match((await run(store, 'objects', 'bbbb3')).out, /protects no known objects/);
});

t.test('keys retire / forget', async (t) => {
  const store = await withData(t);
  const r = await run(store, 'retire', 'bbbb2');
  t.equal(r.code, 0);
  t.match(r.out, /key bbbb222211111111 retired/);
  t.equal(store.statusOf(B)?.status, 'retired', 'the cache (and the other replicas) know at once');
  t.match((await run(store, 'retire', 'bbbb2')).out, /already retired/);
  const rc = await run(store, 'retire', 'bbbb3');
  t.equal(rc.code, 1, 'a compromised key cannot be retired');
  t.match(rc.err, /compromised/);
  t.equal(store.statusOf(C)?.status, 'compromised');

  const f1 = await run(store, 'forget', 'bbbb3');
  t.equal(f1.code, 1, 'forgetting a compromised key needs --force');
  t.match(f1.err, /--force/);
  const f2 = await run(store, 'forget', 'bbbb3', '--force');
  t.equal(f2.code, 0);
  t.match(f2.out, /key bbbb333322222222 forgotten \(0 inventory entries dropped\)/);
  t.equal(store.statusOf(C), undefined);
  const f3 = await run(store, 'forget', 'aaaa');
  t.match(f3.out, /3 inventory entries dropped/);
  t.same((await store.list()).map((k) => k.fingerprint), [B]);
});

t.test('help, usage errors, no Redis', async (t) => {
  const store = await withData(t);
  for (const argv of [['--help'], ['help'], []]) {
    const r = await run(store, ...argv);
    if (argv.length) { t.equal(r.code, 0, `keys ${argv.join(' ')}`); t.match(r.out, /^Usage: ssec-gateway keys COMMAND/); }
    else { t.equal(r.code, 2, 'no command'); t.match(r.err, /a command is needed/); }
  }
  for (const cmd of ['list', 'show', 'objects', 'retire', 'forget']) {
    const r = await run(store, cmd, '--help');
    t.equal(r.code, 0);
    t.match(r.out, new RegExp(`^Usage: ssec-gateway keys ${cmd}`), `${cmd} --help`);
    t.match((await run(store, 'help', cmd)).out, new RegExp(`^Usage: ssec-gateway keys ${cmd}`));
  }
  const cases: [string[], RegExp][] = [
    [['frobnicate'], /unknown command "frobnicate"/],
    [['show'], /show takes one KEY/],
    [['list', 'extra'], /unexpected argument/],
    [['list', '--bogus'], /unknown flag --bogus/],
    [['list', '--status', 'weird'], /--status must be/],
    [['objects', 'aaaa', '--limit', '0'], /--limit must be a positive integer/],
  ];
  for (const [argv, re] of cases) {
    const r = await run(store, ...argv);
    t.equal(r.code, 2, `keys ${argv.join(' ')}: exit 2`);
    t.match(r.err, re);
  }
  t.equal((await run(store, 'list', '--redis-url', 'redis://x:1', '--log-level', 'warn')).code, 0, 'configuration flags are accepted (they were used to load the config)');
  const none = await run(undefined, 'list');
  t.equal(none.code, 2, 'no redis.url and no store: nothing to read');
  t.match(none.err, /no Redis is configured/);
});

t.test('formatting helpers', async (t) => {
  t.equal(formatBytes(0), '0 B');
  t.equal(formatBytes(1023), '1023 B');
  t.equal(formatBytes(1536), '1.50 KiB');
  t.equal(formatBytes(150 * 1024 * 1024), '150 MiB');
  t.equal(formatAge(59 * 60_000), '59m');
  t.equal(formatAge(47 * 3_600_000), '47h');
  t.equal(formatAge(3 * 86_400_000), '3d');
  t.equal(printable('a\tb\x7f'), 'a\\x09b\\x7f');
  t.equal(table(['A', 'BB'], [['xyz', '1'], ['x', '22']], new Set([1])), 'A    BB\nxyz  1\nx    22');
});
