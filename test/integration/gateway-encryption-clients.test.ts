/**
 * `encryption.mode gateway` as users meet it (issue 10): a sigv4 gateway whose clients file turns
 * gateway encryption on for one prefix only; s3cmd with key injection, rclone, the JS SDK and boto3
 * with checksums; the exposure deny list and the key inventory work as in upstream mode.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { bucketName, createBucket, rgwRequest, sharedRedis, sharedRgw } from '../helpers/rgw.js';
import { boto3, jsS3Client, rclone, s3cmd, sseKey } from '../helpers/clients.js';
import { makeKeyring, newClient, startSigv4Gateway, type ClientsDoc } from '../helpers/sigv4-gateway.js';
import { fingerprintOf, keysObjects } from '../helpers/fingerprints-e2e.js';
import { s3Raw } from '../helpers/s3-raw.js';
import { crc32b64 } from '../helpers/sigv4-gateway.js';

const rgw = await sharedRgw();
const redis = await sharedRedis();
const bucket = bucketName('gwenc-cli');
await createBucket(rgw, bucket);
const keyring = await makeKeyring(['team']);
const app = newClient('app');
const legacy = newClient('legacy', { inject: [{ bucket, prefix: 'enc/', key: 'team', mode: 'default' }] });
const SECRET = 'gwenc-clients';
const STORE = ['--redis-url', redis.url, '--redis-key-prefix', `gwc${process.pid}:`, '--fingerprint-secret', SECRET];
const doc = `clients:
  - accessKeyId: ${app.accessKeyId}
    secretAccessKey: ${app.secretAccessKey}
  - accessKeyId: ${legacy.accessKeyId}
    secretAccessKey: ${legacy.secretAccessKey}
    inject: [{ bucket: ${bucket}, prefix: enc/, key: team, mode: default }]
encryption:
  - { bucket: ${bucket}, prefix: enc/, mode: gateway }
`;
// the clients file as YAML text: it carries an `encryption` rule the helper's type does not model
const gw = await startSigv4Gateway(rgw, { doc: doc as unknown as ClientsDoc, keyringDir: keyring.dir, args: ['--http-port', '0', ...STORE] });
t.teardown(() => gw.stop());
const ep = gw.endpoint(app);
const K = sseKey();
const triplet = (k = K) => ({ 'x-amz-server-side-encryption-customer-algorithm': 'AES256', 'x-amz-server-side-encryption-customer-key': k.b64, 'x-amz-server-side-encryption-customer-key-md5': k.md5 });
const onStore = (key: string, headers: Record<string, string> = {}) => rgwRequest(rgw, { method: 'GET', path: `/${bucket}/${key}`, headers });
const dir = mkdtempSync(join(tmpdir(), 'gwenc-cli-'));

t.test('per-prefix rules: enc/ encrypted by the gateway, other prefixes by the store', async (t) => {
  const body = randomBytes(5000);
  t.equal((await s3Raw(ep, { method: 'PUT', path: `/${bucket}/enc/a`, headers: triplet(), body })).status, 200);
  t.equal((await s3Raw(ep, { method: 'PUT', path: `/${bucket}/other/a`, headers: triplet(), body })).status, 200);
  const enc = await onStore('enc/a');
  t.ok(typeof enc.headers['x-amz-meta-ssecgw'] === 'string' && enc.body.indexOf(body.subarray(0, 64)) < 0, 'enc/: ciphertext in the gateway format; the store did no SSE-C');
  const plainRead = await onStore('other/a');
  t.equal(plainRead.status, 400, 'other/: the store encrypted it itself (a read without the key is refused by the store)');
  const withKey = await onStore('other/a', { ...triplet(), 'x-forwarded-proto': 'https' });
  t.ok(withKey.status === 200 && withKey.body.equals(body), 'and opens with the key at the store');
  t.ok((await s3Raw(ep, { method: 'GET', path: `/${bucket}/enc/a`, headers: triplet() })).body.equals(body), 'both read back through the gateway');
});

t.test('a copy out of the gateway\'s scope: the source decrypted by the gateway, the copy encrypted by the store', async (t) => {
  const body = randomBytes(80_000);
  await s3Raw(ep, { method: 'PUT', path: `/${bucket}/enc/src`, headers: triplet(), body });
  const N = sseKey();
  const c = await s3Raw(ep, { method: 'PUT', path: `/${bucket}/other/copy`, headers: {
    'x-amz-copy-source': `/${bucket}/enc/src`, ...triplet(N),
    'x-amz-copy-source-server-side-encryption-customer-algorithm': 'AES256', 'x-amz-copy-source-server-side-encryption-customer-key': K.b64, 'x-amz-copy-source-server-side-encryption-customer-key-md5': K.md5,
  } });
  t.equal(c.status, 200, 'CopyObject enc/ → other/: 200', { body: c.body.toString() });
  const atStore = await onStore('other/copy', { ...triplet(N), 'x-forwarded-proto': 'https' });
  t.ok(atStore.status === 200 && atStore.body.equals(body), 'the store holds the plaintext SSE-C-encrypted under the new key (it opens there with it)');
  t.notOk(typeof atStore.headers['x-amz-meta-ssecgw'] === 'string', 'not in the gateway format');
  t.ok((await s3Raw(ep, { method: 'GET', path: `/${bucket}/other/copy`, headers: triplet(N) })).body.equals(body), 'and reads back through the gateway');
});

t.test('s3cmd with key injection (no SSE-C support of its own)', async (t) => {
  const src = join(dir, 'legacy.bin');
  const data = randomBytes(300_000);
  writeFileSync(src, data);
  const put = await s3cmd(gw.endpoint(legacy), ['put', src, `s3://${bucket}/enc/legacy.bin`]);
  t.equal(put.code, 0, 's3cmd put', { stderr: put.stderr });
  t.notMatch(put.stderr, /MD5 Sums don't match/, 'without a retry: its ETag is a one-part upload\'s, which s3cmd does not compare with the MD5');
  const stored = await onStore('enc/legacy.bin');
  t.ok(typeof stored.headers['x-amz-meta-ssecgw'] === 'string', 'stored in the gateway format with the injected key');
  const back = join(dir, 'legacy.back');
  const get = await s3cmd(gw.endpoint(legacy), ['get', `s3://${bucket}/enc/legacy.bin`, back]);
  t.equal(get.code, 0, 's3cmd get', { stderr: get.stderr });
  t.ok(readFileSync(back).equals(data), 'the same bytes');
  const ls = await s3cmd(gw.endpoint(legacy), ['ls', `s3://${bucket}/enc/`]);
  t.match(ls.stdout, new RegExp(`\\s${data.length}\\s+s3://${bucket}/enc/legacy.bin`), 's3cmd ls: the plaintext size');
  // multipart: s3cmd checks every part's ETag as well
  const big = join(dir, 'legacy-big.bin');
  const bigData = randomBytes(12 * 1024 * 1024 + 77);
  writeFileSync(big, bigData);
  const mput = await s3cmd(gw.endpoint(legacy), ['put', '--multipart-chunk-size-mb=5', big, `s3://${bucket}/enc/legacy-big.bin`]);
  t.equal(mput.code, 0, 's3cmd multipart put (5 MiB chunks)', { stderr: mput.stderr });
  t.notMatch(mput.stderr, /MD5 Sums don't match/, 'no part retried');
  const mget = await s3cmd(gw.endpoint(legacy), ['get', `s3://${bucket}/enc/legacy-big.bin`, join(dir, 'legacy-big.back')]);
  t.equal(mget.code, 0, 's3cmd get');
  t.ok(readFileSync(join(dir, 'legacy-big.back')).equals(bigData), 'the same 12 MiB');
  const fp = fingerprintOf(keyring.keys.get('team')!, SECRET);
  const objects = await keysObjects(STORE, fp.slice(0, 16));
  t.same(objects.filter((o) => o.key === 'enc/legacy.bin').map((o) => o.size), [data.length], 'the inventory: the object under the injected key, with its plaintext size');
});

t.test('rclone and the JS SDK', async (t) => {
  const data = randomBytes(1 << 20);
  writeFileSync(join(dir, 'r.bin'), data);
  const up = await rclone(ep, ['copyto', join(dir, 'r.bin'), `gw:${bucket}/enc/rclone.bin`], { sseCustomerKeyBase64: K.b64 });
  t.equal(up.code, 0, 'rclone copyto', { stderr: up.stderr });
  // multipart: 5 MiB chunks above a 5 MiB cutoff
  const mdata = randomBytes(11 * 1024 * 1024 + 3);
  writeFileSync(join(dir, 'rm.bin'), mdata);
  const mup = await rclone(ep, ['copyto', '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M', join(dir, 'rm.bin'), `gw:${bucket}/enc/rclone-mp.bin`], { sseCustomerKeyBase64: K.b64 });
  t.equal(mup.code, 0, 'rclone multipart copyto', { stderr: mup.stderr });
  const mdown = await rclone(ep, ['copyto', `gw:${bucket}/enc/rclone-mp.bin`, join(dir, 'rm.back')], { sseCustomerKeyBase64: K.b64 });
  t.ok(mdown.code === 0 && readFileSync(join(dir, 'rm.back')).equals(mdata), 'and back, the same bytes', { stderr: mdown.stderr });
  const ls = await rclone(ep, ['ls', `gw:${bucket}/enc/`], { sseCustomerKeyBase64: K.b64 });
  t.match(ls.stdout, new RegExp(`^\\s*${1 << 20} rclone.bin$`, 'm'), 'rclone ls: the plaintext size');
  const down = await rclone(ep, ['copyto', `gw:${bucket}/enc/rclone.bin`, join(dir, 'r.back')], { sseCustomerKeyBase64: K.b64 });
  t.equal(down.code, 0, 'rclone copyto back', { stderr: down.stderr });
  t.ok(readFileSync(join(dir, 'r.back')).equals(data), 'the same bytes');
  const s3 = jsS3Client(ep);
  try {
    const body = randomBytes(100_000);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'enc/js.bin', Body: body, SSECustomerAlgorithm: 'AES256', SSECustomerKey: K.b64 }));
    const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'enc/js.bin', SSECustomerAlgorithm: 'AES256', SSECustomerKey: K.b64, Range: 'bytes=70000-70009' }));
    t.ok(Buffer.from(await r.Body!.transformToByteArray()).equals(body.subarray(70000, 70010)), 'JS SDK: put, ranged get');
    t.equal(r.SSECustomerKeyMD5, K.md5, 'the key-MD5 echoed');
  } finally {
    s3.destroy();
  }
});

t.test('checksums the client sends are of the plaintext: verified by the gateway', async (t) => {
  const b = await boto3(ep, `
    key = base64.b64decode(sys.argv[1])
    s3.put_object(Bucket=sys.argv[2], Key='enc/ck.bin', Body=b'checked' * 1000, SSECustomerAlgorithm='AES256', SSECustomerKey=key, ChecksumAlgorithm='CRC32')
    r = s3.get_object(Bucket=sys.argv[2], Key='enc/ck.bin', SSECustomerAlgorithm='AES256', SSECustomerKey=key)
    print(json.dumps({'ok': r['Body'].read() == b'checked' * 1000}))
  `, { args: [K.b64, bucket] });
  t.same(JSON.parse(b.stdout || '{}'), { ok: true }, 'boto3 put_object with a CRC32 checksum (aws-chunked trailer): stored and read back', { stderr: b.stderr });
  const mp = await boto3(ep, `
    from boto3.s3.transfer import TransferConfig
    import io
    key = base64.b64decode(sys.argv[1])
    data = os.urandom(13 * 1024 * 1024 + 5)
    cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    extra = {'SSECustomerAlgorithm': 'AES256', 'SSECustomerKey': key}
    s3.upload_fileobj(io.BytesIO(data), sys.argv[2], 'enc/boto-mp.bin', ExtraArgs=extra, Config=cfg)
    out = io.BytesIO()
    s3.download_fileobj(sys.argv[2], 'enc/boto-mp.bin', out, ExtraArgs=extra, Config=cfg)
    print(json.dumps({'same': out.getvalue() == data}))
  `, { args: [K.b64, bucket] });
  t.same(JSON.parse(mp.stdout || '{}'), { same: true }, 'boto3 upload_fileobj / download_fileobj, 5 MiB parts, ranged parallel download', { stderr: mp.stderr });
  const body = Buffer.from('the real body');
  const bad = await s3Raw(ep, { method: 'PUT', path: `/${bucket}/enc/bad-ck`, headers: { ...triplet(), 'x-amz-checksum-crc32': crc32b64(Buffer.from('another body')) }, body });
  t.equal(bad.status, 400, 'a CRC32 that does not match the plaintext: 400');
  t.match(bad.body.toString(), /BadDigest/);
  t.equal((await onStore('enc/bad-ck')).status, 404, 'and nothing stored');
  const good = await s3Raw(ep, { method: 'PUT', path: `/${bucket}/enc/good-ck`, headers: { ...triplet(), 'x-amz-checksum-crc32': crc32b64(body) }, body });
  t.equal(good.status, 200, 'the right CRC32: 200');
});

t.test('a key exposed on the plaintext listener is refused for objects of the gateway format too', async (t) => {
  const E = sseKey();
  t.equal((await s3Raw(ep, { method: 'PUT', path: `/${bucket}/enc/e`, headers: triplet(E), body: 'x' })).status, 200, 'written with E over HTTPS');
  const plain = await s3Raw({ ...ep, url: gw.httpUrl! }, { method: 'GET', path: `/${bucket}/enc/e`, headers: triplet(E) });
  t.equal(plain.status, 400, 'E sent over plaintext: refused, and exposed');
  await new Promise((r) => setTimeout(r, 300));
  const after = await s3Raw(ep, { method: 'GET', path: `/${bucket}/enc/e`, headers: triplet(E) });
  t.equal(after.status, 403, 'then refused over HTTPS as exposed');
  t.match(after.body.toString(), /exposed/);
});
