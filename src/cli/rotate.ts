/**
 * `ssec-gateway rotate`: re-key every object protected by an old SSE-C key to a new key.
 *
 * Which objects: the key's inventory in the fingerprint store, or (`--bucket`, `--prefix`) every
 * object of a listing that the old key opens. Each object is first checked with a HEAD using the
 * new key — objects already re-keyed are skipped, so an interrupted run resumes where it stopped.
 * Then it is copied onto itself: CopyObject with the copy-source triplet where the upstream can
 * (`upstream.profile` rgw, aws, minio), or a streamed GET → PUT through the gateway's copy engine
 * where it cannot (RGW 16). Metadata and content type are kept. Every re-keyed object is verified
 * by a HEAD with the new key (size unchanged) and the inventory is updated.
 *
 * Versioned buckets: the current version, unless `--all-versions`: then every version the old key
 * opens is copied (oldest first, so the current version stays current) and the old-key version is
 * deleted once its copy is verified — S3 cannot re-encrypt a version in place.
 */
import { readFileSync } from 'node:fs';
import type { GatewayConfig } from '../config/load.js';
import { resolveSecret } from '../config/load.js';
import { COPY_MULTIPART_THRESHOLD, COPY_PART_SIZE, copyObject } from '../copy/stream-copy.js';
import { createFingerprintStore } from '../fingerprints/store.js';
import type { FingerprintStore } from '../fingerprints/types.js';
import { fingerprintSecret } from '../fingerprints/secret.js';
import { createLogger } from '../logging/logger.js';
import { createMetrics } from '../metrics/registry.js';
import { COPY_SSEC } from '../s3/headers.js';
import { xmlBlocks, xmlField } from '../s3/xml.js';
import { CustomerKey, shortId } from '../sse-c/customer-key.js';
import { credentialSource } from '../upstream/credentials.js';
import { encodeKey, expectOk, readBody, UpstreamS3 } from '../upstream/s3-client.js';
import { createUpstream } from '../upstream/upstream.js';
import { detectProfile } from '../upstream/detect-profile.js';
import { EMPTY_POLICY, encryptionModeOf, loadPolicyFile } from '../auth/policy-file.js';
import { formatOpens, rekeyInPlace } from '../encryption/rekey.js';

export const ROTATE_HELP = `Usage: ssec-gateway rotate --old-key KEY --new-key KEY [options] [gateway flags]

Re-keys every object protected by the old SSE-C key to the new key, in place.
KEY is file:/path (32 raw bytes, or their base64 or hex) or env:NAME (same forms, or a
32-character passphrase as aws-cli's --sse-c-key takes it).

Options:
  --bucket B          re-key the objects of bucket B the old key opens (default: the old key's
                      inventory in the fingerprint store)
  --prefix P          with --bucket: only keys under P
  --concurrency N     objects re-keyed at once (default 4)
  --dry-run           list what would be re-keyed; change nothing
  --all-versions      versioned buckets: every version the old key opens, not only the current one
                      (each is copied, oldest first, and the old-key version deleted once verified)
  --reencrypt         objects of encryption.mode gateway: encrypt the data again under a new data
                      key (for a compromised key), instead of re-wrapping the data key in place
Gateway flags (--config, --upstream, --upstream-credentials, --upstream-access-key-id,
--upstream-secret-access-key, --upstream-profile, --redis-url, --fingerprint-secret, …) say
where the objects and the inventory are; see 'ssec-gateway serve --help'.
`;

export const ROTATE_FLAGS = ['old-key', 'new-key', 'bucket', 'prefix', 'concurrency', 'dry-run', 'all-versions', 'reencrypt'];
export const ROTATE_BOOLEANS = ['dry-run', 'all-versions', 'reencrypt'];

interface Target { bucket: string; key: string; versionId?: string; size?: number; isLatest?: boolean }

function loadKey(spec: string | undefined, name: string): CustomerKey {
  if (!spec) throw new Error(`--${name} is required (file:/path or env:NAME)`);
  if (!/^(file|env):/.test(spec)) throw new Error(`--${name} must be file:/path or env:NAME (a key never goes on the command line)`);
  // a key file is read as bytes: 32 raw bytes (openssl rand 32) are not text
  const content = spec.startsWith('file:') ? readFileSync(spec.slice(5)) : Buffer.from(resolveSecret(spec), 'utf8');
  try {
    return CustomerKey.fromKeyFile(content);
  } catch (e) {
    throw new Error(`--${name} ${spec.split(':')[0]}:…: ${(e as Error).message}`);
  }
}


async function* listBucket(s3: UpstreamS3, bucket: string, prefix: string, allVersions: boolean): AsyncGenerator<Target> {
  let marker = '';
  let vmarker = '';
  for (;;) {
    const q = allVersions
      ? `versions&prefix=${encodeURIComponent(prefix)}${marker ? `&key-marker=${encodeURIComponent(marker)}&version-id-marker=${encodeURIComponent(vmarker)}` : ''}`
      : `list-type=2&prefix=${encodeURIComponent(prefix)}${marker ? `&continuation-token=${encodeURIComponent(marker)}` : ''}`;
    const xml = await readBody(await expectOk(await s3.send({ method: 'GET', bucket, query: q })), 64 << 20);
    if (allVersions) {
      const versions = xmlBlocks(xml, 'Version').map((v) => ({ bucket, key: xmlField(v, 'Key') ?? '', versionId: xmlField(v, 'VersionId'), size: Number(xmlField(v, 'Size')), isLatest: xmlField(v, 'IsLatest') === 'true' }));
      // oldest first within a key, so the current version is copied last and stays current
      yield* versions.reverse();
      if (xmlField(xml, 'IsTruncated') !== 'true') return;
      marker = xmlField(xml, 'NextKeyMarker') ?? '';
      vmarker = xmlField(xml, 'NextVersionIdMarker') ?? '';
    } else {
      for (const c of xmlBlocks(xml, 'Contents')) yield { bucket, key: xmlField(c, 'Key') ?? '', size: Number(xmlField(c, 'Size')) };
      if (xmlField(xml, 'IsTruncated') !== 'true') return;
      marker = xmlField(xml, 'NextContinuationToken') ?? '';
    }
  }
}

async function* fromInventory(store: FingerprintStore, fp: string): AsyncGenerator<Target> {
  for await (const e of store.objects(fp)) yield { bucket: e.bucket, key: e.key, versionId: e.versionId, size: e.size ?? undefined };
}

/** HEAD with a key: the object's size when that key opens it, undefined when not. */
async function opens(s3: UpstreamS3, t: Target, key: CustomerKey, versionId = t.versionId): Promise<{ size: number; etag: string } | undefined> {
  const res = await s3.send({ method: 'HEAD', bucket: t.bucket, key: t.key, query: versionId ? `versionId=${encodeURIComponent(versionId)}` : undefined, headers: key.headers() });
  res.resume();
  if (res.statusCode === 200) return { size: Number(res.headers['content-length'] ?? 0), etag: String(res.headers.etag ?? '') };
  if (res.statusCode === 404 || res.statusCode === 400 || res.statusCode === 403) return undefined;
  throw new Error(`HEAD s3://${t.bucket}/${t.key} answered ${res.statusCode}`);
}

class Progress {
  done = 0; skipped = 0; failed = 0; bytes = 0; readonly started = Date.now();
  constructor(private readonly out: NodeJS.WritableStream & { isTTY?: boolean }, private readonly total?: number) {}
  line(text: string): void {
    if (this.out.isTTY) this.out.write('\r\x1b[K');
    this.out.write(text + '\n');
    this.bar();
  }
  bar(): void {
    if (!this.out.isTTY) return;
    const n = this.done + this.skipped + this.failed;
    const s = Math.max(0.001, (Date.now() - this.started) / 1000);
    const rate = n / s;
    const mib = this.bytes / 1048576 / s;
    const eta = this.total && rate > 0 ? `, ETA ${Math.ceil((this.total - n) / rate)} s` : '';
    const width = 30;
    const filled = this.total ? Math.round((n / this.total) * width) : 0;
    const bar = this.total ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : '';
    this.out.write(`\r\x1b[K${bar}${n}${this.total ? '/' + this.total : ''} objects, ${rate.toFixed(1)}/s, ${mib.toFixed(1)} MiB/s${eta}`);
  }
  summary(dryRun: boolean): string {
    const s = (Date.now() - this.started) / 1000;
    if (this.out.isTTY) this.out.write('\r\x1b[K');
    return `${dryRun ? 'would re-key' : 're-keyed'} ${this.done}, already on the new key ${this.skipped}, failed ${this.failed}; ${(this.bytes / 1048576).toFixed(1)} MiB in ${s.toFixed(1)} s\n`;
  }
}

export async function rotateCommand(flags: Map<string, string[]>, config: GatewayConfig, out: NodeJS.WritableStream & { isTTY?: boolean }): Promise<number> {
  const get = (n: string) => flags.get(n)?.at(-1);
  const oldKey = loadKey(get('old-key'), 'old-key');
  const newKey = loadKey(get('new-key'), 'new-key');
  if (oldKey.equals(newKey)) throw new Error('--old-key and --new-key are the same key');
  const concurrency = Math.max(1, Number(get('concurrency') ?? 4) || 4);
  const dryRun = get('dry-run') === 'true';
  const allVersions = get('all-versions') === 'true';
  const bucket = get('bucket');
  const log = createLogger('warn', process.stderr);
  const metrics = createMetrics();
  const { secret } = fingerprintSecret(config.fingerprint.secret, config.stateDir);
  const oldFp = oldKey.fingerprint(secret);
  const newFp = newKey.fingerprint(secret);
  const upstream = createUpstream(config.upstream);
  const u = config.upstream;
  const creds = await credentialSource({ source: u.credentials, accessKeyId: u.accessKeyId, secretAccessKey: u.secretAccessKey ? resolveSecret(u.secretAccessKey) : undefined, sessionToken: u.sessionToken ? resolveSecret(u.sessionToken) : undefined });
  const s3 = new UpstreamS3(upstream, creds, u.region);
  const store = await createFingerprintStore(config, { metrics, log, role: 'cli' });
  const profile = config.upstream.profile === 'auto' ? (await detectProfile(upstream)).profile : config.upstream.profile;
  const selfCopy = profile === 'rgw16';
  // encryption.mode gateway (globally or by the clients file's rules): the gateway's format, re-keyed by re-wrapping
  const policy = config.auth.clientsFile ? loadPolicyFile(config.auth.clientsFile) : EMPTY_POLICY;
  const gatewayFormat = (t: Target) => encryptionModeOf(policy, config.encryption.mode, t.bucket, t.key) === 'gateway';
  const reencrypt = get('reencrypt') === 'true';
  const opensWith = (t: Target, key: CustomerKey, versionId = t.versionId) => (gatewayFormat(t) ? formatOpens(s3, { ...t, versionId }, key) : opens(s3, t, key, versionId));
  let total: number | undefined;
  if (!bucket) total = (await store.get(oldFp))?.objects;
  const progress = new Progress(out, total);
  out.write(`rotating ${shortId(oldFp)} → ${shortId(newFp)} (${bucket ? `bucket ${bucket}${get('prefix') ? ' prefix ' + get('prefix') : ''}` : 'inventory'}; ${config.encryption.mode === 'gateway' ? (reencrypt ? 'gateway format: encrypted again under new data keys' : 'gateway format: data keys re-wrapped in place') : selfCopy ? 'GET → PUT through the gateway' : 'CopyObject in place'}${dryRun ? '; dry run' : ''})\n`);

  const source = bucket ? listBucket(s3, bucket, get('prefix') ?? '', allVersions) : fromInventory(store, oldFp);
  const one = async (t: Target): Promise<void> => {
    const name = `s3://${t.bucket}/${t.key}${t.versionId ? ` (version ${t.versionId})` : ''}`;
    try {
      const already = allVersions ? undefined : await opensWith(t, newKey, undefined);
      if (already) {
        // re-keyed before (an interrupted run): make sure the inventory says so too
        store.objectRekeyed({ bucket: t.bucket, key: t.key, fingerprint: newFp, size: already.size, at: new Date(), fromVersionId: t.versionId, dropFrom: oldFp });
        progress.skipped++;
        progress.bar();
        return;
      }
      const before = await opensWith(t, oldKey);
      if (!before) {
        if (!bucket) progress.line(`skip ${name}: the old key does not open it (overwritten or deleted since)`);
        if (!bucket) store.objectWritten({ bucket: t.bucket, key: t.key, versionId: t.versionId, fingerprint: undefined, at: new Date() });
        return;
      }
      if (dryRun) { progress.done++; progress.bytes += before.size; progress.line(`would re-key ${name} (${before.size} bytes)`); return; }
      let versionId: string | undefined;
      const source = { bucket: t.bucket, key: t.key, versionId: allVersions ? t.versionId : undefined };
      if (gatewayFormat(t)) {
        versionId = await rekeyInPlace(s3, source, oldKey, newKey, reencrypt);
      } else if (selfCopy) {
        const r = await copyObject(s3, { source, sourceKey: oldKey, dest: { bucket: t.bucket, key: t.key }, destKey: newKey, metadataDirective: 'COPY', requestHeaders: {}, multipartThreshold: COPY_MULTIPART_THRESHOLD, partSize: COPY_PART_SIZE });
        versionId = r.versionId;
      } else {
        const res = await expectOk(await s3.send({
          method: 'PUT', bucket: t.bucket, key: t.key,
          headers: {
            'x-amz-copy-source': `/${encodeKey(t.bucket)}/${encodeKey(t.key)}${source.versionId ? `?versionId=${encodeURIComponent(source.versionId)}` : ''}`,
            'x-amz-metadata-directive': 'COPY',
            ...oldKey.headers(COPY_SSEC),
            ...newKey.headers(),
          },
        }));
        const body = await readBody(res);
        if (body.includes('<Error>')) throw new Error(`CopyObject failed: ${xmlField(body, 'Code')}`);
        versionId = res.headers['x-amz-version-id'] as string | undefined;
      }
      const after = await opensWith(t, newKey, versionId);
      if (!after || after.size !== before.size) throw new Error(`verification failed: HEAD with the new key ${after ? `shows ${after.size} bytes, not ${before.size}` : 'does not open it'}`);
      if (allVersions && t.versionId && versionId !== t.versionId) {
        await expectOk(await s3.send({ method: 'DELETE', bucket: t.bucket, key: t.key, query: `versionId=${encodeURIComponent(t.versionId)}` })).then((r) => r.resume());
      }
      store.objectRekeyed({ bucket: t.bucket, key: t.key, versionId, fromVersionId: t.versionId, fingerprint: newFp, size: after.size, at: new Date(), dropFrom: oldFp });
      progress.done++;
      progress.bytes += after.size;
      if (!out.isTTY) progress.line(`re-keyed ${name} (${after.size} bytes)`);
      else progress.bar();
    } catch (e) {
      progress.failed++;
      progress.line(`FAILED ${name}: ${(e as Error).message}`);
    }
  };

  // a bounded pool over the (streamed) listing
  const iterator = source[Symbol.asyncIterator]();
  // --all-versions must keep the per-key order (oldest first): one worker
  const workers = Array.from({ length: allVersions ? 1 : concurrency }, async () => {
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      await one(next.value);
    }
  });
  await Promise.all(workers);
  out.write(progress.summary(dryRun));
  await store.flush(10_000);
  await store.close();
  upstream.close();
  return progress.failed ? 1 : 0;
}
