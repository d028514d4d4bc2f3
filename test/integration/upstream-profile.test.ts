/**
 * upstream.profile auto: the gateway tells AWS and MinIO (their Server header) from RGW (its request
 * ids) at start-up, and only for RGW — or anything it cannot recognise — does it perform SSE-C
 * copies itself. A recording upstream stands in for AWS/MinIO (none runs here); the real RGW for RGW.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startGateway } from '../helpers/gateway.js';
import { sharedRgw } from '../helpers/rgw.js';
import { credsOf, newClient, sendSigned, ssecHeaders, writeClientsFile, COPY_SSEC_H } from '../helpers/sigv4-gateway.js';
import { sseKey } from '../helpers/clients.js';
import { fakeS3Upstream } from '../helpers/fake-upstream.js';

const client = newClient('profile');
const dir = await mkdtemp(path.join(os.tmpdir(), 'profile-'));
const clientsFile = path.join(dir, 'clients.yaml');
await writeClientsFile(clientsFile, { clients: [client] });

const fakeUpstream = fakeS3Upstream;

async function gatewayFor(upstream: string) {
  return startGateway({ upstream, args: ['--auth-mode', 'sigv4', '--clients-file', clientsFile, '--upstream-access-key-id', 'AK', '--upstream-secret-access-key', 'SK'] });
}

const detected = (logs: Record<string, unknown>[]) => logs.find((l) => l.msg === 'upstream profile detected');

for (const [name, headers, profile] of [['AWS', { server: 'AmazonS3' }, 'aws'], ['MinIO', { server: 'MinIO' }, 'minio']] as const) {
  t.test(`${name} detected: an SSE-C CopyObject goes to the upstream as a CopyObject`, async (t) => {
    const up = await fakeUpstream(headers);
    const gw = await gatewayFor(up.url);
    t.teardown(async () => { await gw.stop(); await up.close(); });
    t.match(detected(gw.logs()), { profile, evidence: new RegExp(headers.server) });
    const k1 = sseKey(); const k2 = sseKey();
    const r = await sendSigned(gw.url, readFileSync(gw.caFile), credsOf(client), {
      method: 'PUT', path: '/bkt/copy', headers: { 'x-amz-copy-source': '/bkt/src', ...ssecHeaders(k1, true), ...ssecHeaders(k2) },
    });
    t.equal(r.status, 200);
    const puts = up.seen.filter((s) => s.method === 'PUT');
    t.equal(puts.length, 1, 'one request upstream');
    t.equal(puts[0]!.headers['x-amz-copy-source'], '/bkt/src', 'forwarded as CopyObject');
    t.equal(puts[0]!.headers[COPY_SSEC_H.keyMd5], k1.md5, 'with the copy-source key');
    t.notOk(up.seen.some((s) => s.method === 'GET' && s.url.startsWith('/bkt/src')), 'the gateway did not read the source itself');
  });
}

t.test('RGW detected (request ids): SSE-C copies are done by the gateway', async (t) => {
  const rgw = await sharedRgw();
  const gw = await gatewayFor(rgw.http);
  t.teardown(() => gw.stop());
  t.match(detected(gw.logs()), { profile: 'rgw16', evidence: /RGW-style request id/ });
});

t.test('an unreachable or unknown upstream counts as RGW 16 (the safe side)', async (t) => {
  const up = await fakeUpstream({});
  const gw = await gatewayFor(up.url);
  t.teardown(async () => { await gw.stop(); await up.close(); });
  t.match(detected(gw.logs()), { profile: 'rgw16', evidence: /not recognised/ });
  const k1 = sseKey(); const k2 = sseKey();
  await sendSigned(gw.url, readFileSync(gw.caFile), credsOf(client), {
    method: 'PUT', path: '/bkt/copy', headers: { 'x-amz-copy-source': '/bkt/src', ...ssecHeaders(k1, true), ...ssecHeaders(k2) },
  });
  t.ok(up.seen.some((s) => s.method === 'GET' && s.url.startsWith('/bkt/src')), 'the gateway read the source itself (GET → PUT)');
  t.notOk(up.seen.some((s) => s.headers['x-amz-copy-source']), 'no CopyObject reached the upstream');
});
