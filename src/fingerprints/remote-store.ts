/**
 * The in-memory fingerprint store shared by the workers of one gateway (`workers` > 1, no Redis):
 * the primary process holds the one MemoryStore (serveStore); each worker talks to it over the
 * cluster IPC channel through a RemoteStore.
 *
 * The request path stays synchronous and never waits: events are batched per tick into one IPC
 * message. statusOf() answers from a local copy of the retired/compromised set, loaded when the
 * worker starts and kept current by the primary's broadcasts — so a key exposed on one worker's
 * plaintext listener is refused by every worker (the deny list is the store's status set).
 */
import type { Worker } from 'node:cluster';
import type { KeyExposure } from '../events/key-events.js';
import type { Metrics } from '../metrics/registry.js';
import { walkObjects } from './walk-objects.js';
import type {
  FingerprintStore, KeyRecord, KeyStatus, KeyUse, ObjectEntry, ObjectRef, ObjectsPage, ObjectWrite, StatusInfo, StoreHealth,
  UploadComplete, UploadPart, UploadStart,
} from './types.js';

/** The request-path methods a worker batches; the primary applies them in order. */
const EVENTS = ['use', 'objectWritten', 'objectRemoved', 'objectRekeyed', 'uploadStarted', 'uploadPart', 'uploadCompleted', 'uploadAborted'] as const;
type EventName = (typeof EVENTS)[number];
/** The administration methods a worker may call on the primary's store. */
const CALLS = ['exposed', 'setStatus', 'forget', 'get', 'list', 'objectsPage', 'flush', 'refresh', 'statuses'] as const;
type CallName = (typeof CALLS)[number];

/** What crosses the IPC channel (structured clone: Dates and Maps survive it). */
export type StoreMessage =
  | { ssec: 'store-events'; events: [EventName, unknown][] }
  | { ssec: 'store-call'; id: number; method: CallName; args: unknown[] }
  | { ssec: 'store-answer'; id: number; value?: unknown; error?: string }
  | { ssec: 'store-status'; fingerprint: string; info?: StatusInfo };

export function isStoreMessage(m: unknown): m is StoreMessage {
  return typeof m === 'object' && m !== null && typeof (m as { ssec?: unknown }).ssec === 'string' && (m as { ssec: string }).ssec.startsWith('store-');
}

/** At most this many events wait for the channel; beyond it they are dropped and counted (as the Redis queue does). */
const PENDING_LIMIT = 100_000;
const CALL_TIMEOUT_MS = 30_000;

export class RemoteStore implements FingerprintStore {
  readonly kind = 'memory' as const;
  readonly #send: (m: StoreMessage) => void;
  readonly #metrics: Metrics;
  readonly #cache = new Map<string, StatusInfo>();
  #pending: [EventName, unknown][] = [];
  #scheduled = false;
  #dropped = 0;
  #loaded = false;
  #nextId = 1;
  readonly #calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  #closed = false;

  /** `send`: the worker's process.send; feed every message from the primary to receive(). */
  constructor(send: (m: StoreMessage) => void, metrics: Metrics) {
    this.#send = send;
    this.#metrics = metrics;
  }

  receive(m: StoreMessage): void {
    if (m.ssec === 'store-status') {
      if (m.info) this.#cache.set(m.fingerprint, m.info);
      else this.#cache.delete(m.fingerprint);
    } else if (m.ssec === 'store-answer') {
      const call = this.#calls.get(m.id);
      if (!call) return;
      this.#calls.delete(m.id);
      clearTimeout(call.timer);
      if (m.error !== undefined) call.reject(new Error(m.error));
      else call.resolve(m.value);
    }
  }

  // ---- the request path: batched per tick ----
  #event(name: EventName, arg: unknown): void {
    if (this.#closed) return;
    if (this.#pending.length >= PENDING_LIMIT) { this.#dropped++; this.#metrics.storeDropped.inc(); return; }
    this.#pending.push([name, arg]);
    if (!this.#scheduled) { this.#scheduled = true; setImmediate(() => this.#flushEvents()); }
  }

  #flushEvents(): void {
    this.#scheduled = false;
    if (!this.#pending.length) return;
    const events = this.#pending;
    this.#pending = [];
    try { this.#send({ ssec: 'store-events', events }); } catch { this.#dropped += events.length; this.#metrics.storeDropped.inc(events.length); }
  }

  use(e: KeyUse): void { this.#event('use', e); }
  objectWritten(e: ObjectWrite): void { this.#event('objectWritten', e); }
  objectRemoved(e: ObjectRef): void { this.#event('objectRemoved', e); }
  objectRekeyed(e: ObjectWrite & { fromVersionId?: string }): void { this.#event('objectRekeyed', e); }
  uploadStarted(e: UploadStart): void { this.#event('uploadStarted', e); }
  uploadPart(e: UploadPart): void { this.#event('uploadPart', e); }
  uploadCompleted(e: UploadComplete): void { this.#event('uploadCompleted', e); }
  uploadAborted(uploadId: string): void { this.#event('uploadAborted', uploadId); }

  statusOf(fingerprint: string): StatusInfo | undefined {
    return this.#cache.get(fingerprint);
  }

  statuses(): ReadonlyMap<string, StatusInfo> {
    return this.#cache;
  }

  // ---- calls to the primary ----
  #call<T>(method: CallName, ...args: unknown[]): Promise<T> {
    this.#flushEvents(); // events before a call are applied before it
    return new Promise<T>((resolve, reject) => {
      const id = this.#nextId++;
      const timer = setTimeout(() => { this.#calls.delete(id); reject(new Error(`fingerprint store: the primary process did not answer ${method} in ${CALL_TIMEOUT_MS / 1000} s`)); }, CALL_TIMEOUT_MS);
      timer.unref();
      this.#calls.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      try { this.#send({ ssec: 'store-call', id, method, args }); } catch (e) { this.#calls.delete(id); clearTimeout(timer); reject(e as Error); }
    });
  }

  /** Compromised here at once (this worker refuses the key from now on), then in the primary, which tells every worker. */
  exposed(e: KeyExposure): Promise<void> {
    const prev = this.#cache.get(e.fingerprint);
    this.#cache.set(e.fingerprint, { status: 'compromised', exposedAt: prev?.exposedAt ?? e.at });
    return this.#call<void>('exposed', e).catch(() => undefined); // never rejects (the interface's promise)
  }
  setStatus(fingerprint: string, status: KeyStatus): Promise<void> { return this.#call('setStatus', fingerprint, status); }
  forget(fingerprint: string): Promise<void> { return this.#call('forget', fingerprint); }
  get(fingerprint: string): Promise<KeyRecord | undefined> { return this.#call('get', fingerprint); }
  list(): Promise<KeyRecord[]> { return this.#call('list'); }
  objectsPage(fingerprint: string, opts?: { cursor?: string; count?: number }): Promise<ObjectsPage> { return this.#call('objectsPage', fingerprint, opts); }
  objects(fingerprint: string, opts?: { count?: number }): AsyncIterable<ObjectEntry> { return walkObjects(this, fingerprint, opts); }
  async flush(timeoutMs = 10_000): Promise<boolean> { return this.#call<boolean>('flush', timeoutMs).catch(() => false); }
  refresh(): Promise<void> { return this.#call('refresh'); }

  /** Loads the retired/compromised set from the primary (the worker must not serve before). */
  async ready(timeoutMs = 3000): Promise<void> {
    if (this.#loaded) return;
    const snapshot = this.#call<ReadonlyMap<string, StatusInfo>>('statuses');
    const timeout = new Promise<undefined>((r) => { setTimeout(() => r(undefined), timeoutMs).unref(); });
    const got = await Promise.race([snapshot.catch(() => undefined), timeout]);
    if (!got) return;
    // a broadcast that arrived meanwhile is as new as the snapshot or newer: keep it
    for (const [fp, info] of got) if (!this.#cache.has(fp)) this.#cache.set(fp, info);
    this.#loaded = true;
    this.#metrics.storeUp.set(1);
  }

  health(): StoreHealth {
    return { up: this.#loaded, queueDepth: this.#pending.length, dropped: this.#dropped, kind: 'memory' };
  }

  async close(): Promise<void> {
    this.#flushEvents();
    this.#closed = true;
  }
}

/**
 * The primary's side: applies the workers' events and calls to `store`, and tells every worker of
 * a status change (an exposure, a retire) as soon as the store's cache has it.
 */
export function serveStore(store: FingerprintStore, workers: () => Iterable<Worker>): (from: Worker, m: StoreMessage) => void {
  const broadcast = (fingerprint: string) => {
    const msg: StoreMessage = { ssec: 'store-status', fingerprint, info: store.statusOf(fingerprint) };
    for (const w of workers()) if (w.isConnected()) w.send(msg);
  };
  return (from, m) => {
    if (m.ssec === 'store-events') {
      for (const [name, arg] of m.events) if (EVENTS.includes(name)) (store[name] as (a: unknown) => void).call(store, arg);
      return;
    }
    if (m.ssec !== 'store-call' || !CALLS.includes(m.method)) return;
    const answer = (value?: unknown, error?: string) => { if (from.isConnected()) from.send({ ssec: 'store-answer', id: m.id, value, error } satisfies StoreMessage); };
    let result: unknown;
    try {
      result = (store[m.method] as (...a: unknown[]) => unknown).apply(store, m.args);
    } catch (e) {
      answer(undefined, (e as Error).message);
      return;
    }
    // exposed() sets the status synchronously: the other workers hear of it before it is written
    if (m.method === 'exposed') broadcast((m.args[0] as KeyExposure).fingerprint);
    void Promise.resolve(result).then((value) => {
      if (m.method === 'setStatus' || m.method === 'forget') broadcast(m.args[0] as string);
      answer(m.method === 'statuses' ? new Map(value as ReadonlyMap<string, StatusInfo>) : value);
    }, (e: Error) => answer(undefined, e.message));
  };
}
