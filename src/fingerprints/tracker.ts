/**
 * The request-path side of key fingerprints, in two calls:
 *
 *   stage()   the `key_policy` stage: fingerprints the request's keys once and refuses a key known
 *             to be compromised (keys.onExposed = deny). Synchronous, reads the local cache only.
 *   record()  at the end of the request (response closed): turns what happened into store events —
 *             the key's use, and for successful writes/deletes the inventory changes. Never throws,
 *             never waits: everything is queued.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from '../errors/gateway-error.js';
import type { RequestContext, Stage } from '../request/context.js';
import { shortId } from '../sse-c/customer-key.js';
import { normVersion } from './ids.js';
import { parseCopySource as parseCopySourceHeader } from '../s3/copy-source.js';
import type { FingerprintStore, KeyStatus, ObjectRef } from './types.js';

export interface RecordExtra {
  /** the upstream response headers (x-amz-version-id, x-amz-delete-marker); res.getHeader is tried otherwise */
  responseHeaders?: IncomingHttpHeaders;
  /** CreateMultipartUpload: the UploadId of the answer (parseUploadId). Optional: parts carry the key too. */
  uploadId?: string;
  /** DeleteObjects: the objects deleted (deletedObjects(bucket, requestXml, responseXml)) */
  deleted?: ObjectRef[];
  /** POST Object: the object key, size and key fingerprint from the form fields */
  post?: { key: string; fingerprint?: string; size?: number };
  /** the answer was a 2xx whose body is an <Error> (CompleteMultipartUpload: isErrorBody) */
  failed?: boolean;
  at?: Date;
}

interface Fingerprints { key?: string; copySource?: string; admitted: boolean; keySeen?: KeyStatus; copySourceSeen?: KeyStatus }

const WRITES = new Set(['PutObject', 'UploadPart', 'PostObject']);

function one(v: string | string[] | number | undefined): string | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v[0] : String(v);
}

/** The copy source, with the version id as the inventory spells it. */
export function parseCopySource(v: string | undefined): ObjectRef | undefined {
  const src = parseCopySourceHeader(v);
  return src && { ...src, versionId: normVersion(src.versionId) };
}

/** `bytes=first-last` → its length. */
export function rangeLength(v: string | undefined): number | undefined {
  const m = v ? /^bytes=(\d+)-(\d+)$/.exec(v.trim()) : null;
  return m ? Number(m[2]) - Number(m[1]) + 1 : undefined;
}

export class KeyTracker {
  readonly #store: FingerprintStore;
  readonly #secret: Buffer;
  readonly #onExposed: 'deny' | 'warn';
  readonly #fps = new WeakMap<RequestContext, Fingerprints>();

  constructor(store: FingerprintStore, secret: Buffer, onExposed: 'deny' | 'warn') {
    this.#store = store;
    this.#secret = secret;
    this.#onExposed = onExposed;
  }

  /** The HMAC fingerprints of the request's destination and copy-source keys (computed once per request). */
  fingerprintsOf(ctx: RequestContext): Fingerprints {
    let f = this.#fps.get(ctx);
    if (!f) {
      f = { key: ctx.sseC?.fingerprint(this.#secret), copySource: ctx.copySourceSseC?.fingerprint(this.#secret), admitted: false };
      this.#fps.set(ctx, f);
    }
    return f;
  }

  /** The `key_policy` stage: after authenticate, before forwarding. */
  stage(): Stage {
    return { name: 'key_policy', run: (ctx) => this.check(ctx) };
  }

  check(ctx: RequestContext): void {
    const f = this.fingerprintsOf(ctx);
    for (const [fp, which] of [[f.key, 'key'], [f.copySource, 'copy-source key']] as const) {
      if (!fp || this.#onExposed !== 'deny') continue;
      const status = this.#store.statusOf(fp);
      if (status?.status === 'compromised') {
        ctx.sseCOutcome = 'exposed_key_denied';
        ctx.failure = `compromised ${which} ${shortId(fp)}`;
        const when = status.exposedAt ? ` on ${status.exposedAt.toISOString().replace(/\.\d{3}Z$/, 'Z')}` : '';
        throw new GatewayError('KeyExposedDenied', {
          message: `Access Denied: the SSE-C ${which} of this request (id ${shortId(fp)}) was exposed over plaintext HTTP${when} and must be rotated; it is refused.`,
        });
      }
    }
    f.keySeen = f.key ? this.#store.statusOf(f.key)?.status : undefined;
    f.copySourceSeen = f.copySource ? this.#store.statusOf(f.copySource)?.status : undefined;
    f.admitted = true;
  }

  /** Once per request, when its response is over (also for failures: only 2xx change the inventory). */
  record(ctx: RequestContext, extra: RecordExtra = {}): void {
    try {
      this.#record(ctx, extra);
    } catch {
      // bookkeeping must never break a request
    }
  }

  #record(ctx: RequestContext, extra: RecordExtra): void {
    const store = this.#store;
    const f = this.#fps.get(ctx) ?? (ctx.sseC || ctx.copySourceSseC ? this.fingerprintsOf(ctx) : undefined);
    const status = ctx.res.statusCode;
    const ok = status >= 200 && status < 300 && !extra.failed;
    const at = extra.at ?? new Date();
    const op = ctx.operation;
    const bucket = ctx.target?.bucket;
    const key = ctx.target?.key;
    const query = ctx.target?.query;
    const resHeader = (name: string): string | undefined => {
      const v = extra.responseHeaders ? extra.responseHeaders[name] : (ctx.res as { getHeader?(n: string): string | string[] | number | undefined }).getHeader?.(name);
      return one(v as string | string[] | number | undefined);
    };
    const size = (): number => {
      const n = Number(one(ctx.headers['x-amz-decoded-content-length']) ?? one(ctx.headers['content-length']) ?? NaN);
      return Number.isFinite(n) && n >= 0 ? n : ctx.bytesIn;
    };

    if (f?.admitted) {
      const base = { at, client: ctx.remoteAddress, bucket, operation: op };
      if (f.key) store.use({ ...base, fingerprint: f.key, seen: f.keySeen, bytesWritten: ok && WRITES.has(op) ? (op === 'PostObject' ? extra.post?.size ?? 0 : size()) : 0 });
      if (f.copySource && f.copySource !== f.key) store.use({ ...base, fingerprint: f.copySource, seen: f.copySourceSeen, bytesWritten: 0 });
    }
    if (!ok || !bucket) return;
    const versionId = normVersion(resHeader('x-amz-version-id'));
    const uploadId = query?.get('uploadId') ?? undefined;
    switch (op) {
      case 'PutObject':
        if (key !== undefined) store.objectWritten({ fingerprint: f?.key, bucket, key, versionId, size: size(), at });
        break;
      case 'PostObject':
        if (extra.post) store.objectWritten({ fingerprint: extra.post.fingerprint, bucket, key: extra.post.key, versionId, size: extra.post.size, at });
        break;
      case 'CopyObject':
        if (key !== undefined) store.objectWritten({ fingerprint: f?.key, bucket, key, versionId, at, copySource: parseCopySource(one(ctx.headers['x-amz-copy-source'])) });
        break;
      case 'CreateMultipartUpload':
        if (f?.key && key !== undefined && extra.uploadId) store.uploadStarted({ uploadId: extra.uploadId, fingerprint: f.key, bucket, key, at });
        break;
      case 'UploadPart':
      case 'UploadPartCopy': {
        const partNumber = Number(query?.get('partNumber'));
        if (!uploadId || !Number.isInteger(partNumber)) break;
        const partSize = op === 'UploadPart' ? size() : rangeLength(one(ctx.headers['x-amz-copy-source-range']));
        store.uploadPart({ uploadId, partNumber, size: partSize, fingerprint: f?.key, bucket, key });
        break;
      }
      case 'CompleteMultipartUpload':
        if (uploadId && key !== undefined) store.uploadCompleted({ uploadId, bucket, key, versionId, at, fingerprint: f?.key });
        break;
      case 'AbortMultipartUpload':
        if (uploadId) store.uploadAborted(uploadId);
        break;
      case 'DeleteObject': {
        if (key === undefined) break;
        const asked = normVersion(query?.get('versionId'));
        if (asked !== undefined) store.objectRemoved({ bucket, key, versionId: asked });
        // only a delete marker was laid (versioned bucket) unless the marker is the "null" version (suspended)
        else if (resHeader('x-amz-delete-marker') !== 'true' || versionId === undefined) store.objectRemoved({ bucket, key });
        break;
      }
      case 'DeleteObjects':
        for (const d of extra.deleted ?? []) store.objectRemoved({ bucket, key: d.key, versionId: d.versionId });
        break;
      default:
        break;
    }
  }
}
