/**
 * Listings under `encryption.mode gateway` show plaintext sizes (ListObjects, ListObjectsV2,
 * ListObjectVersions): `aws s3 sync` and rclone compare sizes and would otherwise upload everything
 * again. A listing does not say which objects the gateway encrypted, so an entry in a gateway scope
 * is looked up by ETag in a cache that the gateway's own writes and earlier HEADs fill; an unknown
 * one costs a HEAD (no key needed: the format metadata is visible), at most HEAD_CONCURRENCY at once.
 * The plaintext size then follows from the ciphertext size and the ETag's part count.
 */
import type { RequestContext } from '../request/context.js';
import { sendXml } from '../request/respond-error.js';
import { xmlField } from '../s3/xml.js';
import { stripAuthQuery } from '../sigv4/sign-upstream.js';
import { readBody, type UpstreamS3 } from '../upstream/s3-client.js';
import { META, plainSizeOf } from './format.js';
import { partsOf, relay } from './operations.js';

const HEAD_CONCURRENCY = 16;
const CACHE_ENTRIES = 100_000;

/** (bucket, key, version, ETag) → plaintext size, or null for an object not in the format. An ETag changes with the object, so entries never go stale. */
export class SizeCache {
  readonly #m = new Map<string, number | null>();
  static id(bucket: string, key: string, etag: string, versionId?: string): string { return `${bucket}\n${key}\n${versionId ?? ''}\n${etag}`; }
  get(id: string): number | null | undefined { return this.#m.get(id); }
  set(id: string, v: number | null): void {
    if (this.#m.size >= CACHE_ENTRIES) this.#m.delete(this.#m.keys().next().value!);
    this.#m.set(id, v);
  }
}

interface Entry { block: string; key: string; etag: string; size: number; versionId?: string }

export async function listObjects(ctx: RequestContext, s3: UpstreamS3, cache: SizeCache, inScope: (bucket: string, key: string) => boolean): Promise<void> {
  const bucket = ctx.target!.bucket!;
  const query = stripAuthQuery(ctx.target!.rawQuery);
  const res = await s3.send({ method: 'GET', bucket, query });
  if (res.statusCode !== 200) return relay(ctx, res);
  ctx.upstreamResponseHeaders = res.headers;
  const xml = await readBody(res, 64 << 20);
  const urlEncoded = ctx.target!.query.get('encoding-type') === 'url';
  const entries: Entry[] = [];
  for (const m of xml.matchAll(/<(Contents|Version)>([\s\S]*?)<\/\1>/g)) {
    const block = m[2]!;
    const raw = xmlField(block, 'Key') ?? '';
    let key = raw;
    if (urlEncoded) { try { key = decodeURIComponent(raw.replace(/\+/g, ' ')); } catch { /* as is */ } }
    const size = Number(xmlField(block, 'Size'));
    const etag = xmlField(block, 'ETag') ?? '';
    if (!inScope(bucket, key) || !Number.isFinite(size)) continue;
    const versionId = m[1] === 'Version' ? xmlField(block, 'VersionId') : undefined;
    entries.push({ block: m[0], key, etag, size, versionId: versionId === 'null' ? undefined : versionId });
  }
  const sizes = new Map<string, number>();
  let next = 0;
  const worker = async () => {
    while (next < entries.length) {
      const e = entries[next++]!;
      const id = SizeCache.id(bucket, e.key, e.etag, e.versionId);
      let plain = cache.get(id);
      if (plain === undefined) {
        const head = await s3.send({ method: 'HEAD', bucket, key: e.key, query: e.versionId ? `versionId=${encodeURIComponent(e.versionId)}` : undefined });
        head.resume();
        if (head.statusCode !== 200) continue; // gone since the listing, or a delete marker: left as listed
        plain = typeof head.headers[META] === 'string' ? plainSizeOf(e.size, partsOf(e.etag)) ?? null : null;
        cache.set(id, plain);
      }
      if (plain !== null) sizes.set(e.block, plain);
    }
  };
  await Promise.all(Array.from({ length: Math.min(HEAD_CONCURRENCY, entries.length) }, worker));
  const out = sizes.size ? xml.replace(/<(Contents|Version)>[\s\S]*?<\/\1>/g, (block) => {
    const plain = sizes.get(block);
    return plain === undefined ? block : block.replace(/<Size>\d+<\/Size>/, `<Size>${plain}</Size>`);
  }) : xml;
  sendXml(ctx, 200, out, {});
}
