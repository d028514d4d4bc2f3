/**
 * What both stores share: the bounded event queue and its batch writer, the local status cache,
 * alert decisions (rotation due, retired/compromised key used) and the key gauges.
 *
 * The request path only ever calls the synchronous methods: they append to the queue (or, past
 * `redis.queueLimit`, drop and count) and return. A single writer loop takes batches from the
 * queue and hands them to the implementation (`applyBatch`), which marks each op done as it is
 * written; when the backing store fails, the unfinished ops go back to the front of the queue and
 * the loop waits for the store to come back (`kick()`).
 */
import type { KeyExposure } from '../events/key-events.js';
import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/registry.js';
import { shortId } from '../sse-c/customer-key.js';
import type { Alerter } from './alerts.js';
import { writeToken } from './ids.js';
import { walkObjects } from './walk-objects.js';
import { overdueReasons, type RotationPolicy } from './policy.js';
import {
  KEY_STATUSES, type FingerprintStore, type KeyRecord, type KeyStatus, type KeyUse, type ObjectEntry, type ObjectRef, type ObjectsPage,
  type ObjectWrite, type StatusInfo, type StoreHealth, type UploadComplete, type UploadPart, type UploadStart,
} from './types.js';

/**
 * How far an object op got in a store that writes it in several steps (Redis): a retry after a
 * failure resumes there instead of redoing steps whose effect later ops of the batch built on.
 */
export interface ObjectProgress {
  /** the write as resolved (completion → object, copy size looked up); null = nothing to write */
  resolved?: { ref: ObjectRef; fingerprint?: string; size: number | null; at: number; token: string } | null;
  /** the index entry this op replaced (null: none), once swapped */
  old?: string | null;
}

interface OpBase { done?: boolean; tries?: number; progress?: ObjectProgress }
export type Op = OpBase & (
  | { t: 'use'; e: KeyUse }
  | { t: 'put'; e: ObjectWrite; token: string }
  | { t: 'rm'; e: ObjectRef }
  | { t: 'ups'; e: UploadStart }
  | { t: 'upp'; e: UploadPart }
  | { t: 'upc'; e: UploadComplete; token: string }
  | { t: 'upa'; uploadId: string }
  | { t: 'expose'; e: KeyExposure; waiters: (() => void)[] });

/** What a batch learnt about a key it counted a use of: enough to decide on alerts. */
export interface UseSummary {
  fingerprint: string;
  status: KeyStatus;
  firstSeen: Date;
  bytesWritten: number;
  objects: number;
  alerts: Partial<Record<string, number>>;
  /** the last client of the batch, for the alert text */
  client: string;
}

export interface StoreOptions {
  queueLimit: number;
  rotation: RotationPolicy;
  /** gauges and rotation-by-age alerts, every refreshMs (0: never; the CLI) */
  refreshMs: number;
}

export interface StoreDeps {
  metrics: Metrics;
  log: Logger;
  alerter: Alerter;
  now?: () => Date;
}

export const MAX_CLIENTS = 100;
export const MAX_BUCKETS = 100;
/** retired_used / compromised_used: at most one alert per key per this interval (across replicas) */
export const USED_ALERT_INTERVAL_MS = 3_600_000;
/** multipart upload records live this long after their last part */
export const UPLOAD_TTL_S = 7 * 86_400;
/** …and this long after completion (so a retried completion finds the same result) */
export const UPLOAD_DONE_TTL_S = 3600;
const BATCH = 2000;
const CRITICAL_LIMIT = 10_000;
const MAX_TRIES = 5;

export abstract class BaseStore implements FingerprintStore {
  abstract readonly kind: 'memory' | 'redis';
  protected readonly log: Logger;
  protected readonly metrics: Metrics;
  protected readonly alerter: Alerter;
  protected readonly now: () => Date;
  /** retired / compromised keys only */
  protected cache = new Map<string, StatusInfo>();
  readonly #opts: StoreOptions;
  #ops: Op[] = [];
  #head = 0;
  #critical: Op[] = [];
  #dropped = 0;
  #droppedSinceLog = 0;
  #lastDropLog = 0;
  #lastFailLog = 0;
  #scheduled = false;
  #flushing: Promise<void> | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #refreshTimer: NodeJS.Timeout | undefined;
  #up = false;
  protected closed = false;

  constructor(deps: StoreDeps, opts: StoreOptions) {
    this.log = deps.log;
    this.metrics = deps.metrics;
    this.alerter = deps.alerter;
    this.now = deps.now ?? (() => new Date());
    this.#opts = opts;
  }

  /** Starts the periodic refresh (after the implementation is ready). */
  protected startTimers(): void {
    if (this.#opts.refreshMs > 0) {
      this.#refreshTimer = setInterval(() => { this.refresh().catch((e) => this.log.debug({ err: String(e) }, 'key refresh failed')); }, this.#opts.refreshMs);
      this.#refreshTimer.unref();
    }
  }

  // ---- implementation hooks ----
  /** The backing store can take writes now. */
  protected abstract isUp(): boolean;
  /** Writes a batch in order; marks each op `done` once written; throws when the store fails. */
  protected abstract applyBatch(ops: Op[]): Promise<UseSummary[]>;
  /** Sets alert field `a:<kind>` to now unless it was set less than intervalMs ago (-1: ever). True when this call set it. */
  protected abstract claimAlert(fp: string, kind: string, at: Date, intervalMs: number): Promise<boolean>;
  protected abstract writeStatus(fp: string, status: KeyStatus, at: Date): Promise<StatusInfo | undefined>;
  protected abstract removeAll(fp: string): Promise<void>;
  abstract get(fingerprint: string): Promise<KeyRecord | undefined>;
  abstract list(): Promise<KeyRecord[]>;
  abstract objectsPage(fingerprint: string, opts?: { cursor?: string; count?: number }): Promise<ObjectsPage>;
  protected abstract closeBackend(): Promise<void>;

  // ---- the request path ----
  use(e: KeyUse): void { this.#enqueue({ t: 'use', e }); }
  objectWritten(e: ObjectWrite): void { this.#enqueue({ t: 'put', e, token: writeToken() }); }
  objectRemoved(e: ObjectRef): void { this.#enqueue({ t: 'rm', e }); }
  objectRekeyed(e: ObjectWrite & { fromVersionId?: string }): void {
    const { fromVersionId, ...w } = e;
    this.#enqueue({ t: 'put', e: w, token: writeToken() });
    if (fromVersionId !== undefined && fromVersionId !== e.versionId) this.#enqueue({ t: 'rm', e: { bucket: e.bucket, key: e.key, versionId: fromVersionId } });
  }
  uploadStarted(e: UploadStart): void { this.#enqueue({ t: 'ups', e }); }
  uploadPart(e: UploadPart): void { this.#enqueue({ t: 'upp', e }); }
  uploadCompleted(e: UploadComplete): void { this.#enqueue({ t: 'upc', e, token: writeToken() }); }
  uploadAborted(uploadId: string): void { this.#enqueue({ t: 'upa', uploadId }); }

  statusOf(fingerprint: string): StatusInfo | undefined {
    return this.cache.get(fingerprint);
  }

  statuses(): ReadonlyMap<string, StatusInfo> {
    return this.cache;
  }

  // ---- events, administration ----
  exposed(e: KeyExposure): Promise<void> {
    try {
      this.metrics.keyExposures.inc();
      const prev = this.cache.get(e.fingerprint);
      this.cache.set(e.fingerprint, { status: 'compromised', exposedAt: prev?.exposedAt ?? e.at });
      this.alerter.raise({
        kind: 'exposed', fingerprint: e.fingerprint, at: e.at,
        summary: `SSE-C key ${shortId(e.fingerprint)} was sent over plaintext HTTP by ${e.client}; it is now refused as compromised: rotate it`,
        details: { client: e.client, listener: e.listener, header: e.header, requestId: e.requestId },
      });
    } catch { /* never throw at the caller */ }
    if (this.closed) return Promise.resolve();
    if (this.#critical.length >= CRITICAL_LIMIT) { this.#drop(1); return Promise.resolve(); }
    return new Promise<void>((resolve) => {
      const op: Op = { t: 'expose', e, waiters: [resolve] };
      this.#critical.push(op);
      this.#updateDepth();
      if (!this.isUp()) resolve(); // persisted when the store is back
      this.#schedule();
    });
  }

  async setStatus(fingerprint: string, status: KeyStatus): Promise<void> {
    const info = await this.writeStatus(fingerprint, status, this.now());
    if (info) this.cache.set(fingerprint, info);
    else this.cache.delete(fingerprint);
  }

  async forget(fingerprint: string): Promise<void> {
    await this.removeAll(fingerprint);
    this.cache.delete(fingerprint);
  }

  objects(fingerprint: string, opts: { count?: number } = {}): AsyncIterable<ObjectEntry> {
    return walkObjects(this, fingerprint, opts);
  }

  async ready(_timeoutMs?: number): Promise<void> { /* the memory store is always ready */ }

  health(): StoreHealth {
    return { up: this.isUp() && this.#up, queueDepth: this.#depth(), dropped: this.#dropped, kind: this.kind };
  }

  async flush(timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#depth() === 0 && !this.#flushing && !this.#scheduled) return true;
      if (Date.now() >= deadline) return false;
      this.#schedule();
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async refresh(): Promise<void> {
    const keys = await this.list();
    const now = this.now();
    const counts: Record<KeyStatus, number> = { active: 0, retired: 0, compromised: 0 };
    let overdue = 0;
    for (const r of keys) {
      counts[r.status]++;
      const reasons = overdueReasons(r, this.#opts.rotation, now);
      if (!reasons.length) continue;
      overdue++;
      if (!r.alerts.rotation_due) await this.#rotationDue(r.fingerprint, reasons, r.clients[0] ?? '', now);
    }
    for (const s of KEY_STATUSES) this.metrics.keys.set({ status: s }, counts[s]);
    this.metrics.keysOverdue.set(overdue);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.#refreshTimer);
    await this.flush(2000);
    this.closed = true;
    clearTimeout(this.#retryTimer);
    await this.alerter.close(2000);
    await this.closeBackend();
  }

  // ---- for the implementations ----
  /** The backing store came (back) up or went down. */
  protected markUp(up: boolean): void {
    if (up === this.#up) return;
    this.#up = up;
    this.metrics.storeUp.set(up ? 1 : 0);
    if (this.closed) return;
    if (up) {
      this.log.info({ event: 'fingerprint_store_up', kind: this.kind, queued: this.#depth() }, 'fingerprint store reachable');
      this.kick();
    } else {
      this.log.warn({ event: 'fingerprint_store_down', kind: this.kind, queued: this.#depth() }, 'fingerprint store unreachable: key events are queued (and dropped past redis.queueLimit)');
    }
  }

  /** Something changed (store ready again): try to write what is queued. */
  protected kick(): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#schedule();
  }

  /** A status change learnt from elsewhere (pub/sub, reload). */
  protected applyRemoteStatus(fp: string, info: StatusInfo | undefined): void {
    // a local exposure not yet written wins over an older state read back from the store
    if (this.#critical.some((o) => o.t === 'expose' && o.e.fingerprint === fp) && info?.status !== 'compromised') return;
    if (info) this.cache.set(fp, info);
    else this.cache.delete(fp);
  }

  /** Exposures not yet written: kept in the cache across a full reload. */
  protected pendingExposures(): Map<string, StatusInfo> {
    const m = new Map<string, StatusInfo>();
    for (const o of this.#critical) if (o.t === 'expose') m.set(o.e.fingerprint, this.cache.get(o.e.fingerprint) ?? { status: 'compromised', exposedAt: o.e.at });
    return m;
  }

  // ---- the queue ----
  #depth(): number {
    return this.#ops.length - this.#head + this.#critical.length;
  }

  #updateDepth(): void {
    this.metrics.storeQueueDepth.set(this.#depth());
  }

  #enqueue(op: Op): void {
    if (this.closed) return;
    if (this.#ops.length - this.#head >= this.#opts.queueLimit) { this.#drop(1); return; }
    this.#ops.push(op);
    this.metrics.storeQueueDepth.set(this.#depth());
    this.#schedule();
  }

  #drop(n: number): void {
    this.#dropped += n;
    this.#droppedSinceLog += n;
    this.metrics.storeDropped.inc(n);
    const now = Date.now();
    if (now - this.#lastDropLog >= 10_000) {
      this.log.warn({ event: 'fingerprint_events_dropped', dropped: this.#droppedSinceLog, total: this.#dropped, queueLimit: this.#opts.queueLimit },
        'fingerprint store unreachable and its queue is full: key events dropped');
      this.#droppedSinceLog = 0;
      this.#lastDropLog = now;
    }
  }

  #take(n: number): Op[] {
    const out = this.#ops.slice(this.#head, this.#head + n);
    this.#head += out.length;
    if (this.#head >= this.#ops.length) { this.#ops = []; this.#head = 0; }
    else if (this.#head > 4096 && this.#head * 2 > this.#ops.length) { this.#ops = this.#ops.slice(this.#head); this.#head = 0; }
    return out;
  }

  #schedule(): void {
    if (this.#scheduled || this.#flushing || this.#retryTimer || this.closed) return;
    if (this.#depth() === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#flushing ??= this.#writeLoop().finally(() => {
        this.#flushing = undefined;
        this.#updateDepth();
        if (this.#depth() && this.isUp() && !this.#retryTimer) this.#schedule();
      });
    });
  }

  async #writeLoop(): Promise<void> {
    while (this.#depth() && this.isUp() && !this.closed) {
      const critical = this.#critical.splice(0);
      const batch = [...critical, ...this.#take(BATCH - critical.length)];
      let summaries: UseSummary[];
      try {
        summaries = await this.applyBatch(batch);
        this.markUp(true);
      } catch (e) {
        this.#requeue(batch, e);
        return;
      } finally {
        for (const op of batch) if (op.t === 'expose' && (op.done || !this.isUp())) { for (const w of op.waiters.splice(0)) w(); }
        this.#updateDepth();
      }
      const seen = new Map<string, KeyStatus>();
      for (const op of batch) if (op.t === 'use' && op.e.seen && op.e.seen !== 'active') seen.set(op.e.fingerprint, op.e.seen);
      await this.#alertsFor(summaries, seen).catch((e) => this.log.debug({ err: String(e) }, 'key alert bookkeeping failed'));
    }
  }

  #requeue(batch: Op[], e: unknown): void {
    const up = this.isUp();
    const again: Op[] = [];
    const critical: Op[] = [];
    let poisoned = 0;
    for (const op of batch) {
      if (op.done) continue;
      op.tries = (op.tries ?? 0) + (up ? 1 : 0);
      if (op.tries >= MAX_TRIES) { poisoned++; if (op.t === 'expose') for (const w of op.waiters.splice(0)) w(); continue; }
      (op.t === 'expose' ? critical : again).push(op);
    }
    this.#critical.unshift(...critical);
    if (again.length) this.#ops.splice(this.#head, 0, ...again);
    // the queue never holds more than the limit: the newest events go first
    const over = this.#ops.length - this.#head - this.#opts.queueLimit;
    if (over > 0) { this.#ops.length -= over; poisoned += over; }
    if (poisoned) this.#drop(poisoned);
    const now = Date.now();
    if (now - this.#lastFailLog >= 10_000) {
      this.log.warn({ event: 'fingerprint_store_write_failed', err: (e as Error)?.message ?? String(e), requeued: again.length + critical.length, dropped: poisoned },
        'fingerprint store write failed; retrying');
      this.#lastFailLog = now;
    }
    if (!up) this.markUp(false);
    // retry in a second, or as soon as the implementation says the store is back (kick)
    this.#retryTimer = setTimeout(() => { this.#retryTimer = undefined; this.#schedule(); }, 1000);
    this.#retryTimer.unref();
  }

  async #alertsFor(summaries: UseSummary[], seen: ReadonlyMap<string, KeyStatus>): Promise<void> {
    const now = this.now();
    for (const s of summaries) {
      if (s.status === 'retired' || s.status === 'compromised') {
        // only a use that was admitted while the key was already retired / compromised counts
        const status = seen.get(s.fingerprint);
        if (status !== 'retired' && status !== 'compromised') continue;
        const kind = status === 'retired' ? 'retired_used' : 'compromised_used';
        const last = s.alerts[kind];
        if (last !== undefined && now.getTime() - last < USED_ALERT_INTERVAL_MS) continue;
        if (!(await this.claimAlert(s.fingerprint, kind, now, USED_ALERT_INTERVAL_MS))) continue;
        this.alerter.raise({
          kind, fingerprint: s.fingerprint, at: now,
          summary: status === 'retired'
            ? `retired SSE-C key ${shortId(s.fingerprint)} is still in use (last by ${s.client})`
            : `compromised SSE-C key ${shortId(s.fingerprint)} is still in use (last by ${s.client}); it was exposed and must be rotated`,
          details: { client: s.client },
        });
        continue;
      }
      if (s.alerts.rotation_due !== undefined) continue;
      const reasons = overdueReasons({ status: s.status, firstSeen: s.firstSeen, objects: s.objects, bytesWritten: s.bytesWritten }, this.#opts.rotation, now);
      if (reasons.length) await this.#rotationDue(s.fingerprint, reasons, s.client, now);
    }
  }

  async #rotationDue(fp: string, reasons: string[], client: string, now: Date): Promise<void> {
    if (!(await this.claimAlert(fp, 'rotation_due', now, -1))) return;
    this.alerter.raise({
      kind: 'rotation_due', fingerprint: fp, at: now,
      summary: `SSE-C key ${shortId(fp)} is due for rotation (${reasons.join(', ')} over the rotation policy)`,
      details: { reasons: reasons.join(','), client: client || undefined },
    });
  }
}

/** Groups the `use` ops of a batch by key: one write per key and batch. */
export function groupUses(ops: Op[]): Map<string, { ops: Op[]; first: number; last: number; requests: number; bytes: number; clients: Map<string, number>; buckets: Map<string, number>; client: string }> {
  const g = new Map<string, { ops: Op[]; first: number; last: number; requests: number; bytes: number; clients: Map<string, number>; buckets: Map<string, number>; client: string }>();
  for (const op of ops) {
    if (op.t !== 'use' || op.done) continue;
    const e = op.e;
    const at = e.at.getTime();
    let x = g.get(e.fingerprint);
    if (!x) { x = { ops: [], first: at, last: at, requests: 0, bytes: 0, clients: new Map(), buckets: new Map(), client: e.client }; g.set(e.fingerprint, x); }
    x.ops.push(op);
    x.first = Math.min(x.first, at);
    if (at >= x.last) { x.last = at; x.client = e.client; }
    x.requests++;
    x.bytes += Math.max(0, e.bytesWritten || 0);
    if (e.client) x.clients.set(e.client, Math.max(x.clients.get(e.client) ?? 0, at));
    if (e.bucket) x.buckets.set(e.bucket, Math.max(x.buckets.get(e.bucket) ?? 0, at));
  }
  return g;
}
