// `ssec-gateway rotate` end to end (issue #4 item 9) against a real RGW 16 and a real redis-server:
// 200 objects (small ones written with raw signed requests, large ones multipart with aws-cli `s3 cp`)
// written through a gateway that shares the Redis and the fingerprint secret, so the inventory knows
// them; `--dry-run` changes nothing; a run SIGKILLed after about a third of the objects and rerun
// finishes (already re-keyed objects skipped); afterwards the old key opens nothing, the new key opens
// every object with identical bytes, content type and metadata, and the inventory names the new key;
// `--bucket --prefix` re-keys without any inventory. Also: key files in the documented raw form.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { awsCli, randomSecret, sseKey, type Endpoint, type SseKey } from '../helpers/clients.js';
import {
  cliRuns, fingerprintOf, keysList, keysObjects, pool, removeBucket, spawnCli, ssecCli, triplet, type CliRun,
} from '../helpers/fingerprints-e2e.js';
import { startGateway } from '../helpers/gateway.js';
import { assertNoKeyMaterial } from '../helpers/keys.js';
import { bucketName, createBucket, rgwRequest, sharedRedis, sharedRgw } from '../helpers/rgw.js';
import { s3Raw, type RawResponse } from '../helpers/s3-raw.js';

const started = performance.now();
const rgw = await sharedRgw();
const redis = await sharedRedis();
const SECRET = 'rotate-test-fingerprint-secret';
const PREFIX = `rot${process.pid}:`;
const STORE = ['--redis-url', redis.url, '--fingerprint-secret', SECRET, '--redis-key-prefix', PREFIX];
const WHEN_REQUIRED = { AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required' };

const gw = await startGateway({ upstream: rgw.http, args: STORE });
const ep: Endpoint = { url: gw.url, accessKey: rgw.accessKey, secretKey: rgw.secretKey, region: rgw.region, caFile: gw.caFile };
const bucket = bucketName('rotate');
await createBucket(rgw, bucket);
const work = await mkdtemp(path.join(os.tmpdir(), 'rotate-'));
const UPSTREAM = ['--upstream', rgw.http, '--upstream-access-key-id', rgw.accessKey, '--upstream-secret-access-key', rgw.secretKey, '--state-dir', path.join(work, 'state')];

t.teardown(async () => {
  await gw.stop();
  await removeBucket(rgw, bucket);
  await rm(work, { recursive: true, force: true });
  t.comment(`rotate wall time: ${((performance.now() - started) / 1000).toFixed(1)} s`);
});

// keys: 32 printable characters (aws-cli's --sse-c-key takes them as they are), kept in key files as the raw 32 bytes
const allKeys: Buffer[] = [];
const secretA = randomSecret();
const secretB = randomSecret();
const A = sseKey(secretA);
const B = sseKey(secretB);
allKeys.push(A.raw, B.raw);
const keyFile = async (name: string, content: Buffer | string) => { const f = path.join(work, name); await writeFile(f, content, { mode: 0o600 }); return f; };
const fileA = await keyFile('A.key', A.raw);
const fileB = await keyFile('B.key', B.raw);
const fp = (k: SseKey) => fingerprintOf(k.raw, SECRET);
const id = (k: SseKey) => fp(k).slice(0, 16);
const ROTATE = ['rotate', '--old-key', `file:${fileA}`, '--new-key', `file:${fileB}`, ...UPSTREAM, ...STORE];

interface Obj { key: string; size: number; sha: string; contentType: string; owner: string }
const objects: Obj[] = [];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const SMALL = 194;
const BIG_MIB = [10, 12, 14, 16, 18, 20];
const MiB = 1 << 20;

const head = (k: string, sse?: SseKey) => s3Raw(ep, { method: 'HEAD', path: `/${bucket}/${k}`, headers: sse ? triplet(sse) : {} });
const get = (k: string, sse?: SseKey) => s3Raw(ep, { method: 'GET', path: `/${bucket}/${k}`, headers: sse ? triplet(sse) : {} });

interface Summary { verb: string; done: number; skipped: number; failed: number; mib: number; seconds: number }
function summary(r: Pick<CliRun, 'stdout'>): Summary | undefined {
  const m = /^(would re-key|re-keyed) (\d+), already on the new key (\d+), failed (\d+); ([\d.]+) MiB in ([\d.]+) s$/m.exec(r.stdout);
  return m ? { verb: m[1]!, done: Number(m[2]), skipped: Number(m[3]), failed: Number(m[4]), mib: Number(m[5]), seconds: Number(m[6]) } : undefined;
}
const tail = (r: CliRun) => ({ code: r.code, signal: r.signal, stdout: r.stdout.split('\n').slice(-8).join('\n'), stderr: r.stderr.slice(-1500) });

/** Every object checked with a HEAD: status per key. */
async function headAll(sse: SseKey): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  await pool(objects, 8, async (o) => { m.set(o.key, (await head(o.key, sse)).status); });
  return m;
}
const countStatus = (m: Map<string, number>, s: number) => [...m.values()].filter((v) => v === s).length;

t.test('200 objects written with key A through the gateway (190+ small, 6 multipart with aws-cli)', async (tt) => {
  const t0 = performance.now();
  const small = Array.from({ length: SMALL }, (_, i) => ({ key: `inv/s-${String(i).padStart(3, '0')}.bin`, body: randomBytes(2048 + ((i * 397) % 4096)), contentType: `application/x-rot-${i % 3}`, owner: `u${i}` }));
  const statuses = await pool(small, 8, async (o) => {
    const r = await s3Raw(ep, { method: 'PUT', path: `/${bucket}/${o.key}`, headers: { ...triplet(A), 'content-type': o.contentType, 'x-amz-meta-owner': o.owner }, body: o.body });
    return r.status;
  });
  tt.equal(statuses.filter((s) => s === 200).length, SMALL, `${SMALL} small objects PUT with key A`);
  for (const o of small) objects.push({ key: o.key, size: o.body.length, sha: sha(o.body), contentType: o.contentType, owner: o.owner });

  const dir = path.join(work, 'big');
  await mkdir(dir);
  for (const [i, mib] of BIG_MIB.entries()) {
    const body = randomBytes(mib * MiB);
    await writeFile(path.join(dir, `big-${i}.bin`), body);
    objects.push({ key: `inv/big-${i}.bin`, size: body.length, sha: sha(body), contentType: 'application/x-big', owner: 'big' });
  }
  const cp = await awsCli('v1', ep, ['s3', 'cp', 'big', `s3://${bucket}/inv/`, '--recursive', '--sse-c', 'AES256', '--sse-c-key', secretA,
    '--content-type', 'application/x-big', '--metadata', 'owner=big'], { env: WHEN_REQUIRED, cwd: work, timeoutMs: 180_000 });
  tt.equal(cp.code, 0, `aws-cli s3 cp --recursive of ${BIG_MIB.length} objects of ${BIG_MIB.join('/')} MiB with --sse-c`, { stderr: cp.stderr.slice(-1500) });
  assertNoKeyMaterial(tt, cp.stdout + cp.stderr, allKeys, 'aws-cli output');
  for (const [i] of BIG_MIB.entries()) {
    const h = await head(`inv/big-${i}.bin`, A);
    tt.match(String(h.headers.etag), /-\d+"?$/, `big-${i} is multipart (ETag ${h.headers.etag})`);
  }
  tt.equal(objects.length, 200);
  tt.comment(`wrote 200 objects (${(objects.reduce((a, o) => a + o.size, 0) / MiB).toFixed(1)} MiB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // the inventory knows all of them, with their sizes (multipart: the sum of the parts)
  let inv = await keysObjects(STORE, id(A));
  for (let i = 0; i < 50 && inv.length < 200; i++) { await new Promise((r) => setTimeout(r, 200)); inv = await keysObjects(STORE, id(A)); }
  tt.equal(inv.length, 200, `keys objects ${id(A)} lists 200 objects`);
  const bad = objects.filter((o) => !inv.some((e) => e.bucket === bucket && e.key === o.key && e.size === o.size));
  tt.same(bad.map((o) => o.key), [], 'each with its bucket, key and size');
});

t.test('--dry-run lists the 200 and changes nothing', async (tt) => {
  const r = await ssecCli([...ROTATE, '--dry-run', '--concurrency', '8']);
  tt.equal(r.code, 0, 'exit 0', tail(r));
  const s = summary(r);
  tt.match(s, { verb: 'would re-key', done: 200, skipped: 0, failed: 0 }, `summary: ${r.stdout.trim().split('\n').pop()}`);
  tt.equal(r.stdout.split('\n').filter((l) => l.startsWith('would re-key s3://')).length, 200, '200 "would re-key" lines');
  tt.match(r.stdout.split('\n')[0], /^rotating [0-9a-f]{16} → [0-9a-f]{16} \(inventory; GET → PUT through the gateway; dry run\)$/, 'header line: inventory, GET → PUT (RGW 16)');
  const withA = await headAll(A);
  tt.equal(countStatus(withA, 200), 200, 'key A still opens all 200');
  // key B checked straight on RGW: through the gateway the HEADs would make B known to the store
  const sampleB = await Promise.all(objects.filter((_, i) => i % 10 === 0).map((o) => rgwRequest(rgw, { method: 'HEAD', path: `/${bucket}/${o.key}`, endpoint: 'https', headers: triplet(B) })));
  tt.ok(sampleB.every((h) => h.status !== 200), `key B opens none of a sample of ${sampleB.length} (${[...new Set(sampleB.map((h) => h.status))].join(',')})`);
  tt.equal((await keysObjects(STORE, id(A))).length, 200, 'the inventory still names key A');
  tt.equal((await keysList(STORE)).find((k) => k.fingerprint === fp(B)), undefined, 'key B unknown to the store');
});

let rekeyedRun1 = 0;
let run1: { objects: number; bytes: number; ms: number } = { objects: 0, bytes: 0, ms: 0 };
let run2: Summary | undefined;
let run2Ms = 0;

t.test('a run SIGKILLed after about a third of the objects, rerun: it finishes, skipping what is already on the new key', async (tt) => {
  const third = Math.round(objects.length / 3);
  let killedAt = 0;
  const t0 = performance.now();
  const p = spawnCli([...ROTATE, '--concurrency', '8'], {
    timeoutMs: 180_000,
    onLine: (line, proc) => {
      if (line.startsWith('re-keyed s3://') && !killedAt && proc.lines.filter((l) => l.startsWith('re-keyed s3://')).length >= third) {
        killedAt = performance.now();
        proc.child.kill('SIGKILL');
      }
    },
  });
  const r1 = await p.done;
  cliRuns.push(r1);
  tt.equal(r1.signal, 'SIGKILL', 'the first run was SIGKILLed', tail(r1));
  const lines1 = r1.stdout.split('\n').filter((l) => l.startsWith('re-keyed s3://'));
  rekeyedRun1 = lines1.length;
  const bytes1 = lines1.reduce((a, l) => a + Number(/\((\d+) bytes\)$/.exec(l)?.[1] ?? 0), 0);
  run1 = { objects: rekeyedRun1, bytes: bytes1, ms: killedAt - t0 };
  tt.ok(rekeyedRun1 >= third && rekeyedRun1 < objects.length, `killed after ${rekeyedRun1} "re-keyed" lines`);
  tt.notMatch(r1.stdout, /FAILED/, 'no failure before the kill');

  // what the store says between the runs
  const leftA = (await keysObjects(STORE, id(A))).length;
  const onB = (await keysObjects(STORE, id(B))).length;
  tt.comment(`between the runs: inventory of A ${leftA}, of B ${onB}; re-keyed lines printed ${rekeyedRun1}`);
  const withB = await headAll(B);
  const reallyOnB = countStatus(withB, 200);
  tt.ok(reallyOnB >= rekeyedRun1, `${reallyOnB} objects open with key B after the kill (≥ the ${rekeyedRun1} reported)`);

  const t2 = performance.now();
  const r2 = await ssecCli([...ROTATE, '--concurrency', '8'], { timeoutMs: 180_000 });
  run2Ms = performance.now() - t2;
  tt.equal(r2.code, 0, 'the rerun exits 0', tail(r2));
  run2 = summary(r2);
  tt.ok(run2, `summary line: ${r2.stdout.trim().split('\n').pop()}`);
  tt.equal(run2?.failed, 0, 'failed 0');
  tt.equal((run2?.done ?? 0) + (run2?.skipped ?? 0), leftA, `the rerun walked what the inventory still gave to A (${leftA}): re-keyed ${run2?.done} + already on the new key ${run2?.skipped}`);
  tt.equal(run2?.done, objects.length - reallyOnB, 'it re-keyed exactly the objects still on A');
  tt.equal(run2?.skipped, reallyOnB - (objects.length - leftA), `"already on the new key" counts the objects re-keyed by the killed run whose inventory move was not written yet (${run2?.skipped})`);
  tt.comment(`rerun summary: re-keyed ${run2?.done}, already on the new key ${run2?.skipped} (objects on B before the rerun ${reallyOnB}, inventory entries of A ${leftA})`);

  // resumability without the inventory: the bucket listing gives all 200 again, every one is skipped
  const r3 = await ssecCli(['rotate', '--old-key', `file:${fileA}`, '--new-key', `file:${fileB}`, ...UPSTREAM, '--bucket', bucket, '--prefix', 'inv/', '--concurrency', '8']);
  tt.equal(r3.code, 0, 'a third run (--bucket, no Redis) exits 0', tail(r3));
  tt.match(summary(r3), { verb: 're-keyed', done: 0, skipped: 200, failed: 0 }, `it finds every object already on the new key: ${r3.stdout.trim().split('\n').pop()}`);
});

t.test('after the rotation: key A opens nothing, key B opens all 200 with the same bytes, content type and metadata', async (tt) => {
  const problems: string[] = [];
  let viaA = 0;
  const statusesA = new Map<number, number>();
  await pool(objects, 6, async (o) => {
    const a = await get(o.key, A);
    statusesA.set(a.status, (statusesA.get(a.status) ?? 0) + 1);
    if (a.status === 200) viaA++;
    const b: RawResponse = await get(o.key, B);
    if (b.status !== 200) { problems.push(`${o.key}: GET with B ${b.status}`); return; }
    if (b.body.length !== o.size || sha(b.body) !== o.sha) problems.push(`${o.key}: sha256 differs`);
    if (b.headers['content-type'] !== o.contentType) problems.push(`${o.key}: content-type ${b.headers['content-type']} (was ${o.contentType})`);
    if (b.headers['x-amz-meta-owner'] !== o.owner) problems.push(`${o.key}: x-amz-meta-owner ${b.headers['x-amz-meta-owner']} (was ${o.owner})`);
  });
  tt.equal(viaA, 0, `GET with key A fails for every object (statuses ${JSON.stringify(Object.fromEntries(statusesA))})`);
  tt.same(problems, [], 'GET with key B: 200, identical bytes (sha256), content type and x-amz-meta-* kept, for all 200');

  // the inventory moved to B
  const invB = await keysObjects(STORE, id(B));
  tt.equal(invB.length, 200, `keys objects ${id(B)} lists the 200`);
  const missing = objects.filter((o) => !invB.some((e) => e.bucket === bucket && e.key === o.key && e.size === o.size));
  tt.same(missing.map((o) => o.key), [], 'each with its size');
  const invA = await keysObjects(STORE, id(A));
  tt.same(invA.map((e) => e.key), [], `keys objects ${id(A)} lists none`);
  if (invA.length) tt.comment(`diagnostics: ${invA.length} entries left under A (the rerun counted ${run2?.skipped} objects "already on the new key"): ${invA.map((e) => e.key).join(', ')}; with key B they answer ${(await Promise.all(invA.map((e) => head(e.key, B)))).map((h) => h.status).join(',')}`);
  const list = await keysList(STORE);
  tt.match(list.find((k) => k.fingerprint === fp(B)), { objects: 200, objectBytes: objects.reduce((a, o) => a + o.size, 0) }, 'keys list: B protects 200 objects and their bytes');
  tt.match(list.find((k) => k.fingerprint === fp(A)), { objects: 0, objectBytes: 0 }, 'A protects none');

  const totalMiB = objects.reduce((a, o) => a + o.size, 0) / MiB;
  const objs = run1.objects + (run2?.done ?? 0);
  const secs = (run1.ms + run2Ms) / 1000;
  const mib = (run1.bytes / MiB) + (run2?.mib ?? 0);
  tt.comment(`rotation throughput (--concurrency 8, RGW 16 GET → PUT, 2-core machine): run 1 ${run1.objects} objects / ${(run1.bytes / MiB).toFixed(1)} MiB in ${(run1.ms / 1000).toFixed(1)} s until the kill; run 2 ${run2?.done} objects / ${run2?.mib} MiB in ${run2?.seconds} s (its own summary; ${(run2Ms / 1000).toFixed(1)} s with process start); overall ${(objs / secs).toFixed(1)} objects/s, ${(mib / secs).toFixed(1)} MiB/s (${objs} objects, ${mib.toFixed(1)} of ${totalMiB.toFixed(1)} MiB)`);
});

t.test('--bucket B --prefix p/ re-keys without the inventory (no Redis at all); other prefixes and other keys untouched', async (tt) => {
  const C = sseKey(randomSecret());
  const D = sseKey(randomSecret());
  const E = sseKey(randomSecret());
  allKeys.push(C.raw, D.raw, E.raw);
  const fileC = await keyFile('C.key', C.raw);
  const fileD = await keyFile('D.key', D.raw);
  // written straight to RGW (not through the gateway): no inventory knows them
  const put = async (key: string, body: Buffer, k?: SseKey) => {
    const r = await rgwRequest(rgw, { method: 'PUT', path: `/${bucket}/${key}`, endpoint: 'https', headers: { ...(k ? triplet(k) : {}), 'content-type': 'text/x-p', 'x-amz-meta-tag': 'keep' }, body });
    if (r.status !== 200) throw new Error(`PUT ${key}: ${r.status} ${r.body.toString()}`);
  };
  const set: { key: string; body: Buffer; k?: SseKey }[] = [
    ...Array.from({ length: 10 }, (_, i) => ({ key: `p/obj-${i}.txt`, body: randomBytes(3000 + i), k: C })),
    ...Array.from({ length: 4 }, (_, i) => ({ key: `q/obj-${i}.txt`, body: randomBytes(1000 + i), k: C })),
    ...Array.from({ length: 3 }, (_, i) => ({ key: `p/other-${i}.txt`, body: randomBytes(500 + i), k: E })),
  ];
  await pool(set, 8, (o) => put(o.key, o.body, o.k));
  const r = await ssecCli(['rotate', '--old-key', `file:${fileC}`, '--new-key', `file:${fileD}`, ...UPSTREAM, '--bucket', bucket, '--prefix', 'p/', '--concurrency', '8']);
  tt.equal(r.code, 0, 'exit 0', tail(r));
  tt.match(r.stdout.split('\n')[0], /\(bucket \S+ prefix p\/; GET → PUT through the gateway\)/, 'header names the bucket and prefix');
  tt.match(summary(r), { verb: 're-keyed', done: 10, skipped: 0, failed: 0 }, `summary: ${r.stdout.trim().split('\n').pop()}`);
  const check = async (o: typeof set[number], k: SseKey, label: string) => {
    const g = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}/${o.key}`, endpoint: 'https', headers: triplet(k) });
    return g.status === 200 && g.body.equals(o.body) && g.headers['x-amz-meta-tag'] === 'keep' && g.headers['content-type'] === 'text/x-p' ? '' : `${o.key} with ${label}: ${g.status}`;
  };
  const p = set.filter((o) => o.key.startsWith('p/obj-'));
  tt.same((await Promise.all(p.map((o) => check(o, D, 'D')))).filter(Boolean), [], 'p/ objects of key C: now opened by D, same bytes and metadata');
  const stillC = await Promise.all(p.map((o) => rgwRequest(rgw, { method: 'HEAD', path: `/${bucket}/${o.key}`, endpoint: 'https', headers: triplet(C) })));
  tt.ok(stillC.every((h) => h.status !== 200), 'and no longer by C');
  tt.same((await Promise.all(set.filter((o) => o.key.startsWith('q/')).map((o) => check(o, C, 'C')))).filter(Boolean), [], 'q/ (outside the prefix) untouched, still key C');
  tt.same((await Promise.all(set.filter((o) => o.key.startsWith('p/other-')).map((o) => check(o, E, 'E')))).filter(Boolean), [], 'p/ objects of another key untouched');
  assertNoKeyMaterial(tt, r.stdout + r.stderr, allKeys, 'rotate output');
});

t.test('inventory mode: an object found already on the new key is skipped, and its inventory entry moves to the new key', async (tt) => {
  const F = sseKey(randomSecret());
  const G = sseKey(randomSecret());
  allKeys.push(F.raw, G.raw);
  const fileF = await keyFile('F.key', F.raw);
  const fileG = await keyFile('G.key', G.raw);
  const x = randomBytes(3333);
  const y = randomBytes(4444);
  for (const [k, b] of [['skip/x.bin', x], ['skip/y.bin', y]] as const) {
    tt.equal((await s3Raw(ep, { method: 'PUT', path: `/${bucket}/${k}`, headers: triplet(F), body: b })).status, 200, `PUT ${k} with F through the gateway`);
  }
  let invF = await keysObjects(STORE, id(F));
  for (let i = 0; i < 50 && invF.length < 2; i++) { await new Promise((r) => setTimeout(r, 100)); invF = await keysObjects(STORE, id(F)); }
  tt.equal(invF.length, 2, 'the inventory of F has both');
  // skip/x.bin is re-keyed to G behind the store's back (what a rotate run SIGKILLed between its PUT and its inventory write leaves)
  const direct = await rgwRequest(rgw, { method: 'PUT', path: `/${bucket}/skip/x.bin`, endpoint: 'https', headers: triplet(G), body: x });
  tt.equal(direct.status, 200, 'skip/x.bin re-written with G straight on RGW');
  const r = await ssecCli(['rotate', '--old-key', `file:${fileF}`, '--new-key', `file:${fileG}`, ...UPSTREAM, ...STORE]);
  tt.equal(r.code, 0, 'rotate F → G (inventory) exits 0', tail(r));
  tt.match(summary(r), { done: 1, skipped: 1, failed: 0 }, `summary: ${r.stdout.trim().split('\n').pop()}`);
  const invG = (await keysObjects(STORE, id(G))).map((e) => e.key).sort();
  tt.same(invG, ['skip/x.bin', 'skip/y.bin'], `keys objects ${id(G)}: both objects, also the skipped one`);
  const leftF = (await keysObjects(STORE, id(F))).map((e) => e.key);
  tt.same(leftF, [], `keys objects ${id(F)}: none (F opens neither any more)`);
  const rerun = await ssecCli(['rotate', '--old-key', `file:${fileF}`, '--new-key', `file:${fileG}`, ...UPSTREAM, ...STORE]);
  tt.match(summary(rerun), { done: 0, skipped: 0, failed: 0 }, `a rerun finds nothing left to do: ${rerun.stdout.trim().split('\n').pop()}`);
});

t.test('key files in every documented form: 32 raw bytes (binary), base64, hex', async (tt) => {
  // ROTATE_HELP: "KEY is file:/path (32 raw bytes, or their base64 or hex)". Binary keys with bytes that are not UTF-8.
  const letters = (n: number, base: number, span: number) => Buffer.from(Array.from(randomBytes(n), (b) => base + (b % span)));
  const rawOld = Buffer.concat([letters(16, 0x41, 26), Buffer.from([0xff, 0xfe, 0x80, 0xc3]), letters(12, 0x61, 26)]);
  const rawNew = Buffer.concat([letters(20, 0x41, 26), Buffer.from([0x9f, 0xff]), letters(10, 0x30, 10)]);
  const mk = (raw: Buffer): SseKey => ({ raw, b64: raw.toString('base64'), md5: createHash('md5').update(raw).digest('base64') });
  const O = mk(rawOld);
  const N = mk(rawNew);
  allKeys.push(O.raw, N.raw);
  const content: Record<string, (k: SseKey) => Buffer | string> = { raw: (k) => k.raw, base64: (k) => `${k.b64}\n`, hex: (k) => `${k.raw.toString('hex')}\n` };
  const body = randomBytes(4000);
  for (const [oldForm, newForm] of [['base64', 'base64'], ['hex', 'hex'], ['raw', 'raw'], ['base64', 'raw']] as const) {
    const key = `forms/${oldForm}-${newForm}.bin`;
    tt.equal((await s3Raw(ep, { method: 'PUT', path: `/${bucket}/${key}`, headers: triplet(O), body })).status, 200, `PUT ${key} with the binary key`);
    const fo = await keyFile(`O-${oldForm}-${newForm}`, content[oldForm]!(O));
    const fn = await keyFile(`N-${oldForm}-${newForm}`, content[newForm]!(N));
    const label = `--old-key ${oldForm} file, --new-key ${newForm} file`;
    const r = await ssecCli(['rotate', '--old-key', `file:${fo}`, '--new-key', `file:${fn}`, ...UPSTREAM, '--bucket', bucket, '--prefix', key]);
    tt.equal(r.code, 0, `${label}: exit 0`, tail(r));
    tt.match(summary(r), { done: 1, failed: 0 }, `${label}: re-keyed 1 (${r.stdout.trim().split('\n').pop() ?? r.stderr.trim()})`);
    const g = await get(key, N);
    tt.equal(g.status, 200, `${label}: the object opens with the real new key`);
    tt.ok(g.status === 200 && g.body.equals(body), `${label}: same bytes`);
    if (g.status !== 200) {
      // where did the data go: still the old key, or a key the CLI derived from the file?
      const mangled = (k: SseKey) => mk(Buffer.from(k.raw.toString('utf8').trim(), 'latin1'));
      const diag = { old: (await head(key, O)).status, mangledNew: (await head(key, mangled(N))).status, mangledOld: (await head(key, mangled(O))).status };
      tt.comment(`${label}: HEAD with the old key ${diag.old}; with the new key as the CLI reads it (utf8 → latin1) ${diag.mangledNew}; the old key as the CLI reads it ${diag.mangledOld}`);
    }
  }
});

t.test('no key material in the CLI output', async (tt) => {
  tt.ok(cliRuns.length >= 8, `${cliRuns.length} CLI runs`);
  assertNoKeyMaterial(tt, cliRuns.map((r) => r.stdout + r.stderr).join('\n'), allKeys, 'rotate / keys output');
  assertNoKeyMaterial(tt, gw.output(), allKeys, 'gateway output');
});

