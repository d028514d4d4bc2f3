// Redis memory per inventory entry, measured with MEMORY USAGE (SAMPLES 0: exact) on real entries
// written by the store: object keys of 10 and of 200 characters, in a small (100 objects) and a large
// (10 000 objects) inventory. The figures are quoted in src/fingerprints/README.md.
import t from 'tap';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config/load.js';
import { createFingerprintStore } from '../../src/fingerprints/store.js';
import { createLogger } from '../../src/logging/logger.js';
import { createMetrics } from '../../src/metrics/registry.js';
import { sharedRedis } from '../helpers/rgw.js';

const { url } = await sharedRedis();
const rc = new Redis(url);
t.teardown(() => rc.quit().then(() => undefined));

async function usage(prefix: string): Promise<{ total: number; inventory: number; index: number; record: number; keys: number }> {
  const out = { total: 0, inventory: 0, index: 0, record: 0, keys: 0 };
  let cursor = '0';
  do {
    const [next, keys] = await rc.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) {
      const m = Number(await rc.call('MEMORY', 'USAGE', k, 'SAMPLES', '0'));
      out.total += m;
      out.keys++;
      if (k.includes('{o:')) out.index += m;
      else if (k.endsWith(':o')) out.inventory += m;
      else out.record += m;
    }
  } while (cursor !== '0');
  return out;
}

const rows: string[] = [];
let run = 0;
for (const n of [100, 10_000]) {
  for (const keyLen of [10, 200]) {
    t.test(`${n} objects, ${keyLen}-character keys`, async (t) => {
      const prefix = `fpm:${process.pid}:${++run}:`;
      const base = loadConfig({ env: {} });
      const store = await createFingerprintStore({ ...base, redis: { ...base.redis, url, keyPrefix: prefix } }, { metrics: createMetrics(), log: createLogger('warn'), refreshMs: 0 });
      t.teardown(() => store.close());
      const FP = 'a7'.repeat(32);
      store.use({ fingerprint: FP, at: new Date(), client: '10.0.0.1', bucket: 'bench-bucket', operation: 'PutObject', bytesWritten: 1 });
      await store.flush();
      const before = await usage(prefix);
      const name = (i: number) => (keyLen === 10 ? `obj-${String(i).padStart(6, '0')}` : `data/2026/${'x'.repeat(keyLen - 21)}/${String(i).padStart(10, '0')}`);
      t.equal(name(1).length, keyLen);
      for (let i = 0; i < n; i++) store.objectWritten({ fingerprint: FP, bucket: 'bench-bucket', key: name(i), size: 1_048_576 + i, at: new Date() });
      t.ok(await store.flush(60_000), 'written');
      t.equal((await store.get(FP))?.objects, n);
      const after = await usage(prefix);
      const per = (after.total - before.total) / n;
      const inv = (after.inventory - before.inventory) / n;
      const idx = (after.index - before.index) / n;
      rows.push(`| ${n} | ${keyLen} | ${per.toFixed(0)} | ${inv.toFixed(0)} | ${idx.toFixed(0)} | ${after.keys - before.keys} |`);
      t.comment(`${n} objects × ${keyLen}-char keys: ${per.toFixed(1)} B per entry (inventory ${inv.toFixed(1)}, index ${idx.toFixed(1)}); ${after.keys} Redis keys; per-key record ${before.total} B`);
      // bounds that catch a regression of the layout (e.g. the full key or fingerprint creeping back into the index)
      t.ok(idx < 160, `index entry ${idx.toFixed(0)} B does not grow with the key length`);
      t.ok(per < 2.6 * keyLen + 260, `${per.toFixed(0)} B per entry`);
    });
  }
}

t.test('summary', async (t) => {
  t.comment(['', '| objects | key length | bytes/entry | inventory | index | Redis keys |', '|---|---|---|---|---|---|', ...rows].join('\n# '));
  t.equal(rows.length, 4);
});
