/**
 * The embedded default (no `redis.url`): the same store in process memory, for a single replica.
 * Same queue, same semantics, same contract tests as the Redis store; nothing survives a restart.
 */
import type { KeyExposure } from '../events/key-events.js';
import { shortId } from '../sse-c/customer-key.js';
import { BaseStore, groupUses, MAX_BUCKETS, MAX_CLIENTS, UPLOAD_DONE_TTL_S, UPLOAD_TTL_S, type Op, type StoreDeps, type StoreOptions, type UseSummary } from './base-store.js';
import { normVersion, objectField, parseObjectField } from './ids.js';
import type { AlertKind, KeyRecord, KeyStatus, ObjectRef, ObjectsPage, ObjectWrite, StatusInfo } from './types.js';

interface MemEntry { size: number | null; at: number }
interface MemKey {
  first: number;
  last: number;
  requests: number;
  bytesWritten: number;
  objectBytes: number;
  status: KeyStatus;
  statusAt?: number;
  exposure?: { at: number; lastAt: number; count: number; client: string; listener: string; header: string; requestId: string };
  alerts: Map<string, number>;
  clients: Map<string, number>;
  buckets: Map<string, number>;
  inv: Map<string, MemEntry>;
}
interface MemUpload { fingerprint?: string; bucket?: string; key?: string; parts: Map<number, number | null>; expires: number; done?: boolean }

export class MemoryStore extends BaseStore {
  readonly kind = 'memory' as const;
  readonly #keys = new Map<string, MemKey>();
  /** objectField → fingerprint */
  readonly #index = new Map<string, string>();
  readonly #uploads = new Map<string, MemUpload>();

  constructor(deps: StoreDeps, opts: StoreOptions) {
    super(deps, opts);
    this.markUp(true);
    this.startTimers();
  }

  protected isUp(): boolean { return true; }
  protected async closeBackend(): Promise<void> { /* nothing */ }

  #key(fp: string, at: number): MemKey {
    let k = this.#keys.get(fp);
    if (!k) {
      k = { first: at, last: at, requests: 0, bytesWritten: 0, objectBytes: 0, status: 'active', alerts: new Map(), clients: new Map(), buckets: new Map(), inv: new Map() };
      this.#keys.set(fp, k);
    }
    return k;
  }

  protected async applyBatch(ops: Op[]): Promise<UseSummary[]> {
    const now = this.now().getTime();
    for (const op of ops) {
      switch (op.t) {
        case 'expose': this.#expose(op.e); break;
        case 'put': this.#put(op.e); break;
        case 'rm': this.#remove(op.e); break;
        case 'ups': {
          const u = this.#upload(op.e.uploadId, now);
          u.fingerprint = op.e.fingerprint; u.bucket = op.e.bucket; u.key = op.e.key;
          break;
        }
        case 'upp': {
          const u = this.#upload(op.e.uploadId, now);
          u.fingerprint ??= op.e.fingerprint; u.bucket ??= op.e.bucket; u.key ??= op.e.key;
          u.parts.set(op.e.partNumber, op.e.size ?? null);
          u.expires = now + UPLOAD_TTL_S * 1000;
          break;
        }
        case 'upc': {
          const u = this.#uploads.get(op.e.uploadId);
          const live = u && u.expires > now ? u : undefined;
          let size: number | undefined;
          if (live && live.parts.size && [...live.parts.values()].every((s) => s !== null)) size = [...live.parts.values()].reduce<number>((a, b) => a + (b ?? 0), 0);
          this.#put({ fingerprint: live?.fingerprint ?? op.e.fingerprint, bucket: op.e.bucket, key: op.e.key, versionId: op.e.versionId, size, at: op.e.at });
          if (live) { live.done = true; live.expires = now + UPLOAD_DONE_TTL_S * 1000; }
          break;
        }
        case 'upa': this.#uploads.delete(op.uploadId); break;
        case 'use': continue; // below, grouped by key
      }
      op.done = true;
    }
    const out: UseSummary[] = [];
    for (const [fp, g] of groupUses(ops.filter((o) => o.t === 'use'))) {
      const k = this.#key(fp, g.first);
      k.first = Math.min(k.first, g.first);
      k.last = Math.max(k.last, g.last);
      k.requests += g.requests;
      k.bytesWritten += g.bytes;
      touch(k.clients, g.clients, MAX_CLIENTS);
      touch(k.buckets, g.buckets, MAX_BUCKETS);
      for (const op of g.ops) op.done = true;
      out.push({ fingerprint: fp, status: k.status, firstSeen: new Date(k.first), bytesWritten: k.bytesWritten, objects: k.inv.size, alerts: Object.fromEntries(k.alerts), client: g.client });
    }
    if (this.#uploads.size > 1000) for (const [id, u] of this.#uploads) if (u.expires <= now) this.#uploads.delete(id);
    return out;
  }

  #upload(id: string, now: number): MemUpload {
    let u = this.#uploads.get(id);
    if (!u || u.expires <= now) { u = { parts: new Map(), expires: now + UPLOAD_TTL_S * 1000 }; this.#uploads.set(id, u); }
    return u;
  }

  #expose(e: KeyExposure): void {
    const at = e.at.getTime();
    const k = this.#key(e.fingerprint, at);
    if (k.status !== 'compromised') { k.status = 'compromised'; k.statusAt = at; }
    if (!k.exposure) k.exposure = { at, lastAt: at, count: 0, client: e.client, listener: e.listener, header: e.header, requestId: e.requestId };
    k.exposure.count++;
    k.exposure.lastAt = Math.max(k.exposure.lastAt, at);
    k.exposure.at = Math.min(k.exposure.at, at);
    k.first = Math.min(k.first, at);
    k.last = Math.max(k.last, at);
    k.alerts.set('exposed', at);
    this.applyRemoteStatus(e.fingerprint, { status: 'compromised', exposedAt: new Date(k.exposure.at) });
  }

  #put(w: ObjectWrite): void {
    const ref: ObjectRef = { bucket: w.bucket, key: w.key, versionId: normVersion(w.versionId) };
    const field = objectField(ref);
    if (!w.fingerprint) {
      if (ref.versionId === undefined) this.#remove(ref); // overwritten without a key
      return;
    }
    let size: number | null = w.size ?? null;
    if (w.size === undefined && w.copySource) {
      const srcFp = this.#index.get(objectField(w.copySource));
      size = srcFp === undefined ? null : this.#keys.get(srcFp)?.inv.get(objectField(w.copySource))?.size ?? null;
    }
    const at = w.at.getTime();
    const old = this.#index.get(field);
    if (old !== undefined && old !== w.fingerprint) this.#removeFrom(old, field);
    if (w.dropFrom !== undefined && w.dropFrom !== w.fingerprint) this.#removeFrom(w.dropFrom, field);
    const k = this.#key(w.fingerprint, at);
    const prev = k.inv.get(field);
    k.objectBytes += (size ?? 0) - (prev?.size ?? 0);
    k.inv.set(field, { size, at });
    this.#index.set(field, w.fingerprint);
  }

  #remove(ref: ObjectRef): void {
    const field = objectField(ref);
    const fp = this.#index.get(field);
    if (fp === undefined) return;
    this.#index.delete(field);
    this.#removeFrom(fp, field);
  }

  #removeFrom(fp: string, field: string): void {
    const k = this.#keys.get(fp);
    const e = k?.inv.get(field);
    if (!k || !e) return;
    k.inv.delete(field);
    k.objectBytes -= e.size ?? 0;
  }

  protected async claimAlert(fp: string, kind: string, at: Date, intervalMs: number): Promise<boolean> {
    const k = this.#keys.get(fp);
    if (!k) return false;
    const last = k.alerts.get(kind);
    if (last !== undefined && (intervalMs < 0 || at.getTime() - last < intervalMs)) return false;
    k.alerts.set(kind, at.getTime());
    return true;
  }

  protected async writeStatus(fp: string, status: KeyStatus, at: Date): Promise<StatusInfo | undefined> {
    const k = this.#key(fp, at.getTime());
    if (k.status !== status) { k.status = status; k.statusAt = at.getTime(); }
    return status === 'active' ? undefined : { status, exposedAt: k.exposure ? new Date(k.exposure.at) : undefined };
  }

  protected async removeAll(fp: string): Promise<void> {
    const k = this.#keys.get(fp);
    if (!k) return;
    for (const field of k.inv.keys()) if (this.#index.get(field) === fp) this.#index.delete(field);
    this.#keys.delete(fp);
  }

  async get(fp: string): Promise<KeyRecord | undefined> {
    const k = this.#keys.get(fp);
    return k ? toRecord(fp, k) : undefined;
  }

  async list(): Promise<KeyRecord[]> {
    return [...this.#keys].map(([fp, k]) => toRecord(fp, k)).sort((a, b) => a.firstSeen.getTime() - b.firstSeen.getTime() || a.fingerprint.localeCompare(b.fingerprint));
  }

  /** The cursor is the last field returned: entries are walked in field order, so removals during the walk skip nothing. */
  async objectsPage(fp: string, opts: { cursor?: string; count?: number } = {}): Promise<ObjectsPage> {
    const k = this.#keys.get(fp);
    if (!k) return { entries: [] };
    const count = Math.max(1, opts.count ?? 500);
    const after = opts.cursor ? Buffer.from(opts.cursor, 'base64url').toString('utf8') : undefined;
    const fields = [...k.inv.keys()].filter((f) => after === undefined || f > after).sort();
    const page = fields.slice(0, count);
    const entries = page.map((f) => ({ ...parseObjectField(f), size: k.inv.get(f)!.size, at: new Date(k.inv.get(f)!.at) }));
    return { entries, cursor: fields.length > count ? Buffer.from(page[page.length - 1]!, 'utf8').toString('base64url') : undefined };
  }
}

function touch(into: Map<string, number>, from: Map<string, number>, max: number): void {
  for (const [name, at] of from) {
    into.delete(name);
    into.set(name, at);
  }
  // Map order = insertion order; re-inserted = most recent; keep the newest max
  while (into.size > max) into.delete(into.keys().next().value!);
}

function newestFirst(m: Map<string, number>): string[] {
  return [...m].sort((a, b) => b[1] - a[1]).map(([n]) => n);
}

function toRecord(fp: string, k: MemKey): KeyRecord {
  const alerts: Partial<Record<AlertKind, Date>> = {};
  for (const [kind, at] of k.alerts) alerts[kind as AlertKind] = new Date(at);
  return {
    fingerprint: fp, id: shortId(fp), status: k.status, statusAt: k.statusAt !== undefined ? new Date(k.statusAt) : undefined,
    firstSeen: new Date(k.first), lastSeen: new Date(k.last), requests: k.requests, bytesWritten: k.bytesWritten,
    objects: k.inv.size, objectBytes: k.objectBytes, clients: newestFirst(k.clients), buckets: newestFirst(k.buckets),
    exposure: k.exposure ? { ...k.exposure, at: new Date(k.exposure.at), lastAt: new Date(k.exposure.lastAt) } : undefined,
    alerts,
  };
}
