/**
 * /readyz and Redis: a replica that has never loaded the set of exposed keys is not ready (it could
 * not refuse them); once loaded, a Redis outage keeps it ready — requests keep flowing (issue #4) —
 * and only ssec_gateway_fingerprint_store_up says so.
 */
import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { sharedRgw } from '../helpers/rgw.js';
import { privateRedis, until } from '../helpers/fingerprints-e2e.js';

const rgw = await sharedRgw();
const redis = await privateRedis();
redis.kill(); // the gateway starts while Redis is down
t.teardown(() => redis.stop());

const gw = await startGateway({ upstream: rgw.http, args: ['--redis-url', redis.url, '--fingerprint-secret', 'readiness-test'] });
t.teardown(() => gw.stop());
const readyz = async () => { const r = await fetch(`${gw.adminUrl}/readyz`); return { status: r.status, text: await r.text() }; };
const storeUp = async () => Number(/^ssec_gateway_fingerprint_store_up (\S+)$/m.exec(await (await fetch(`${gw.adminUrl}/metrics`)).text())?.[1]);

t.test('Redis configured but never reached: not ready, and says why', async (t) => {
  const r = await readyz();
  t.equal(r.status, 503);
  t.match(r.text, /fingerprint store \(Redis\) not reachable yet/);
  t.equal((await fetch(`${gw.adminUrl}/healthz`)).status, 200, 'the process itself is healthy');
});

t.test('Redis comes up: ready', async (t) => {
  await redis.restart();
  const ok = await until(async () => (await readyz()).status === 200, 15_000, 200);
  t.ok(ok, '/readyz 200 once the exposed keys could be loaded');
  t.equal(await storeUp(), 1);
});

t.test('Redis goes down again: still ready (requests keep flowing), the metric shows it', async (t) => {
  redis.kill();
  const down = await until(async () => (await storeUp()) === 0, 15_000, 200);
  t.ok(down, 'ssec_gateway_fingerprint_store_up 0');
  t.equal((await readyz()).status, 200);
});
