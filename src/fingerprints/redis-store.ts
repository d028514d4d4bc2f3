/**
 * The Redis store (standalone, Sentinel or Cluster). The schema is in ./README.md. Every key that a
 * script touches together shares one hash tag (`{k:<fp>}`), so the design works unchanged on a
 * Redis Cluster: a key's record, clients, buckets and inventory live in one slot; the object index
 * is spread over `{o:<bucket>:<shard>}` slots and is only ever touched one key at a time.
 *
 * Object writes go in three steps per batch, so that two replicas writing the same object at the
 * same time leave the index and the inventories consistent:
 *   1. add the entry to the new key's inventory (value carries a random write token);
 *   2. swap the index entry (object → `fp:token`), getting the previous one;
 *   3. remove the previous entry from its key's inventory, only if its token still matches.
 * Each step is one script call per Redis key it touches (per key fingerprint for the inventories,
 * per index shard for the index), carrying all of the batch's entries for that key in op order;
 * ioredis auto-pipelining sends each step's calls as one pipeline per Redis node.
 */
import type { Cluster, Redis } from 'ioredis';
import type { KeyExposure } from '../events/key-events.js';
import { shortId } from '../sse-c/customer-key.js';
import {
  BaseStore, groupUses, MAX_BUCKETS, MAX_CLIENTS, UPLOAD_DONE_TTL_S, UPLOAD_TTL_S,
  type ObjectProgress, type Op, type StoreDeps, type StoreOptions, type UseSummary,
} from './base-store.js';
import { fnv1a, indexField, normVersion, objectField, packFingerprint, parseObjectField, unpackFingerprint } from './ids.js';
import type { AlertKind, KeyRecord, KeyStatus, ObjectEntry, ObjectRef, ObjectsPage, StatusInfo } from './types.js';

/** Shards of each bucket's object index. */
export const INDEX_SHARDS = 64;

/** Every Redis key and channel name, in one place (see README.md). */
export function redisKeys(prefix: string) {
  return {
    key: (fp: string) => `${prefix}{k:${fp}}`,
    clients: (fp: string) => `${prefix}{k:${fp}}:c`,
    buckets: (fp: string) => `${prefix}{k:${fp}}:b`,
    inventory: (fp: string) => `${prefix}{k:${fp}}:o`,
    index: (o: ObjectRef) => `${prefix}{o:${o.bucket}:${fnv1a(o.key) % INDEX_SHARDS}}`,
    upload: (id: string) => `${prefix}{u:${id}}`,
    registry: `${prefix}{reg}`,
    flagged: `${prefix}{flag}`,
    channel: `${prefix}status`,
  };
}

const LUA = {
  // KEYS: record, clients, buckets, inventory. ARGV: first, last, requests, bytes, maxClients, maxBuckets,
  // nClients, (member, score)*, nBuckets, (member, score)*
  fpUse: `
local k = KEYS[1]
local f = tonumber(redis.call('HGET', k, 'first') or '')
if not f or tonumber(ARGV[1]) < f then redis.call('HSET', k, 'first', ARGV[1]); f = tonumber(ARGV[1]) end
local l = tonumber(redis.call('HGET', k, 'last') or '')
if not l or tonumber(ARGV[2]) > l then redis.call('HSET', k, 'last', ARGV[2]) end
if redis.call('HEXISTS', k, 'st') == 0 then redis.call('HSET', k, 'st', 'active') end
redis.call('HINCRBY', k, 'req', ARGV[3])
local bw = redis.call('HINCRBY', k, 'bw', ARGV[4])
local i = 8
local n = tonumber(ARGV[7])
for j = 1, n do redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i]); i = i + 2 end
if n > 0 then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[5]) + 1)) end
n = tonumber(ARGV[i]); i = i + 1
for j = 1, n do redis.call('ZADD', KEYS[3], ARGV[i + 1], ARGV[i]); i = i + 2 end
if n > 0 then redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -(tonumber(ARGV[6]) + 1)) end
return { f, bw, redis.call('HLEN', KEYS[4]), redis.call('HGET', k, 'st') or 'active',
  redis.call('HGET', k, 'a:rotation_due') or '', redis.call('HGET', k, 'a:retired_used') or '', redis.call('HGET', k, 'a:compromised_used') or '' }`,
  // KEYS: record, inventory. ARGV: (field, size ('' = unknown), at, token)*, in write order
  fpInvAdd: `
local delta = 0
local first = nil
for i = 1, #ARGV, 4 do
  local old = redis.call('HGET', KEYS[2], ARGV[i])
  delta = delta + (tonumber(ARGV[i + 1]) or 0)
  if old then
    local os = tonumber(string.match(old, '^([^:]*)'))
    if os then delta = delta - os end
  end
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1] .. ':' .. ARGV[i + 2] .. ':' .. ARGV[i + 3])
  if not first then first = ARGV[i + 2] end
end
if delta ~= 0 then redis.call('HINCRBY', KEYS[1], 'ob', string.format('%d', delta)) end
if first and redis.call('HSETNX', KEYS[1], 'first', first) == 1 then redis.call('HSET', KEYS[1], 'last', first, 'st', 'active') end
return 1`,
  // KEYS: record, inventory. ARGV: (field, token ('' = whatever it is))*. Removes entries still carrying that token.
  fpInvDel: `
local delta = 0
local n = 0
for i = 1, #ARGV, 2 do
  local v = redis.call('HGET', KEYS[2], ARGV[i])
  if v then
    local size, tok = string.match(v, '^([^:]*):[^:]*:(.*)$')
    if ARGV[i + 1] == '' or tok == ARGV[i + 1] then
      redis.call('HDEL', KEYS[2], ARGV[i])
      delta = delta - (tonumber(size) or 0)
      n = n + 1
    end
  end
end
if delta ~= 0 then redis.call('HINCRBY', KEYS[1], 'ob', string.format('%d', delta)) end
return n`,
  // KEYS: index shard. ARGV: (field, value ('' = delete))*, in op order. Returns the previous values ('' = none).
  fpIdxSwap: `
local out = {}
for i = 1, #ARGV, 2 do
  local old = redis.call('HGET', KEYS[1], ARGV[i])
  if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[1], ARGV[i]) else redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
  out[#out + 1] = old or ''
end
return out`,
  // KEYS: index shard. ARGV: field, "packedFp:" — deletes the entry only while it names that key
  fpIdxDelIf: `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v and string.sub(v, 1, string.len(ARGV[2])) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]); return 1 end
return 0`,
  // KEYS: upload. ARGV: fp, bucket, key, at, ttl
  fpUpStart: `
redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'b', ARGV[2], 'k', ARGV[3], 'at', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1`,
  // KEYS: upload. ARGV: partNumber, size ('' = unknown), fp, bucket, key, ttl
  fpUpPart: `
if redis.call('HEXISTS', KEYS[1], 'done') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'p:' .. ARGV[1], ARGV[2])
if ARGV[3] ~= '' then redis.call('HSETNX', KEYS[1], 'fp', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSETNX', KEYS[1], 'b', ARGV[4]) end
if ARGV[5] ~= '' then redis.call('HSETNX', KEYS[1], 'k', ARGV[5]) end
redis.call('EXPIRE', KEYS[1], ARGV[6])
return 1`,
  // KEYS: upload. ARGV: token, ttl. Marks it done (first token wins) and returns it all.
  fpUpDone: `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSETNX', KEYS[1], 'done', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return redis.call('HGETALL', KEYS[1])`,
  // KEYS: record. ARGV: at, client, listener, header, requestId. Returns the first exposure time.
  fpExpose: `
local k = KEYS[1]
local at = tonumber(ARGV[1])
if redis.call('HGET', k, 'st') ~= 'compromised' then redis.call('HSET', k, 'st', 'compromised', 'sat', ARGV[1]) end
local x = tonumber(redis.call('HGET', k, 'xat') or '')
if not x or at < x then redis.call('HSET', k, 'xat', ARGV[1], 'xc', ARGV[2], 'xl', ARGV[3], 'xh', ARGV[4], 'xr', ARGV[5]); x = at end
local xl = tonumber(redis.call('HGET', k, 'xlast') or '')
if not xl or at > xl then redis.call('HSET', k, 'xlast', ARGV[1]) end
redis.call('HINCRBY', k, 'xn', 1)
local f = tonumber(redis.call('HGET', k, 'first') or '')
if not f or at < f then redis.call('HSET', k, 'first', ARGV[1]) end
local l = tonumber(redis.call('HGET', k, 'last') or '')
if not l or at > l then redis.call('HSET', k, 'last', ARGV[1]) end
redis.call('HSET', k, 'a:exposed', ARGV[1])
return x`,
  // KEYS: record. ARGV: status, at. Returns the first exposure time or ''.
  fpStatus: `
local k = KEYS[1]
if redis.call('EXISTS', k) == 0 then redis.call('HSET', k, 'first', ARGV[2], 'last', ARGV[2]) end
if (redis.call('HGET', k, 'st') or 'active') ~= ARGV[1] or redis.call('HEXISTS', k, 'st') == 0 then redis.call('HSET', k, 'st', ARGV[1], 'sat', ARGV[2]) end
return redis.call('HGET', k, 'xat') or ''`,
  // KEYS: record. ARGV: field, now, interval (-1 = once). 1 when this call claimed the alert.
  fpClaim: `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local old = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '')
local iv = tonumber(ARGV[3])
if old and (iv < 0 or tonumber(ARGV[2]) - old < iv) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`,
} as const;

type Arg = string | number;
/** The part of ioredis (Redis or Cluster) this store uses, plus the scripts defined above. */
interface RedisLike {
  status: string;
  hgetall(key: string): Promise<Record<string, string>>;
  hget(key: string, field: string): Promise<string | null>;
  hlen(key: string): Promise<number>;
  hscan(key: string, cursor: string, count: 'COUNT', n: number): Promise<[string, string[]]>;
  zrange(key: string, start: string, stop: string): Promise<string[]>;
  zrevrange(key: string, start: string, stop: string): Promise<string[]>;
  zadd(key: string, nx: 'NX', score: number, member: string): Promise<unknown>;
  zrem(key: string, member: string): Promise<number>;
  hset(key: string, field: string, value: string): Promise<number>;
  hdel(key: string, field: string): Promise<number>;
  del(...keys: string[]): Promise<number>;
  publish(channel: string, message: string): Promise<number>;
  subscribe(channel: string): Promise<unknown>;
  on(event: string, listener: (...args: any[]) => void): unknown;
  quit(): Promise<unknown>;
  disconnect(): void;
  defineCommand(name: string, def: { lua: string; numberOfKeys: number }): void;
  fpUse(...a: Arg[]): Promise<[number, number, number, string, string, string, string]>;
  fpInvAdd(...a: Arg[]): Promise<number>;
  fpInvDel(...a: Arg[]): Promise<number>;
  fpIdxSwap(...a: Arg[]): Promise<string[]>;
  fpIdxDelIf(...a: Arg[]): Promise<number>;
  fpUpStart(...a: Arg[]): Promise<number>;
  fpUpPart(...a: Arg[]): Promise<number>;
  fpUpDone(...a: Arg[]): Promise<string[] | null>;
  fpExpose(...a: Arg[]): Promise<number>;
  fpStatus(...a: Arg[]): Promise<string | number>;
  fpClaim(...a: Arg[]): Promise<number>;
}

const NUM_KEYS: Record<keyof typeof LUA, number> = {
  fpUse: 4, fpInvAdd: 2, fpInvDel: 2, fpIdxSwap: 1, fpIdxDelIf: 1, fpUpStart: 1, fpUpPart: 1, fpUpDone: 1, fpExpose: 1, fpStatus: 1, fpClaim: 1,
};

/** Waits for every promise; throws the first failure after all have settled. */
async function settle<T>(ps: Promise<T>[]): Promise<T[]> {
  const rs = await Promise.allSettled(ps);
  const bad = rs.find((r) => r.status === 'rejected');
  if (bad) throw (bad as PromiseRejectedResult).reason;
  return rs.map((r) => (r as PromiseFulfilledResult<T>).value);
}

function flagValue(info: StatusInfo): string {
  return JSON.stringify({ s: info.status, x: info.exposedAt?.getTime() });
}

function parseFlag(v: string | undefined): StatusInfo | undefined {
  if (!v) return undefined;
  try {
    const j = JSON.parse(v) as { s?: string; x?: number };
    if (j.s !== 'retired' && j.s !== 'compromised') return undefined;
    return { status: j.s, exposedAt: typeof j.x === 'number' ? new Date(j.x) : undefined };
  } catch {
    return undefined;
  }
}

const num = (v: string | undefined): number => (v === undefined || v === '' ? 0 : Number(v));
const optDate = (v: string | undefined): Date | undefined => (v === undefined || v === '' ? undefined : new Date(Number(v)));

export interface RedisStoreClients {
  /** commands (enableOfflineQueue false, auto-pipelining on) */
  client: Redis | Cluster;
  /** pub/sub */
  sub: Redis | Cluster;
}

export class RedisStore extends BaseStore {
  readonly kind = 'redis' as const;
  readonly #c: RedisLike;
  readonly #sub: RedisLike;
  readonly #k: ReturnType<typeof redisKeys>;
  readonly #id = Math.random().toString(36).slice(2, 10);
  #touched: Set<string> | undefined;
  #reloading: Promise<void> | undefined;
  #reloadAgain = false;
  #lastErrLog = 0;
  #loaded = false;

  constructor(clients: RedisStoreClients, prefix: string, deps: StoreDeps, opts: StoreOptions) {
    super(deps, opts);
    this.#c = clients.client as unknown as RedisLike;
    this.#sub = clients.sub as unknown as RedisLike;
    this.#k = redisKeys(prefix);
    for (const [name, lua] of Object.entries(LUA)) this.#c.defineCommand(name, { lua, numberOfKeys: NUM_KEYS[name as keyof typeof LUA] });

    this.metrics.storeUp.set(0);
    this.#c.on('ready', () => { this.markUp(true); this.kick(); this.#reload(); });
    this.#c.on('close', () => this.markUp(false));
    this.#c.on('end', () => this.markUp(false));
    this.#c.on('error', (e: Error) => this.#logError('redis', e));
    this.#sub.on('error', (e: Error) => this.#logError('redis subscriber', e));
    this.#sub.on('ready', () => {
      this.#sub.subscribe(this.#k.channel).then(() => this.#reload(), (e: Error) => this.#logError('redis subscribe', e));
    });
    this.#sub.on('message', (channel: string, message: string) => { if (channel === this.#k.channel) this.#onMessage(message); });
    if (this.#c.status === 'ready') { this.markUp(true); this.#reload(); }
    if (this.#sub.status === 'ready') this.#sub.subscribe(this.#k.channel).then(() => this.#reload(), () => undefined);
    this.startTimers();
  }

  protected isUp(): boolean {
    return this.#c.status === 'ready' && !this.closed;
  }

  #logError(what: string, e: Error): void {
    const now = Date.now();
    if (now - this.#lastErrLog < 10_000) return;
    this.#lastErrLog = now;
    this.log.warn({ event: 'fingerprint_store_error', err: e.message, what }, `${what}: ${e.message}`);
  }

  // ---- pub/sub and the status cache ----
  #onMessage(message: string): void {
    let m: { fp?: string; s?: string | null; x?: number };
    try { m = JSON.parse(message) as typeof m; } catch { return; }
    if (typeof m.fp !== 'string') return;
    this.#touched?.add(m.fp);
    const info = m.s === 'retired' || m.s === 'compromised' ? { status: m.s, exposedAt: typeof m.x === 'number' ? new Date(m.x) : undefined } as StatusInfo : undefined;
    this.applyRemoteStatus(m.fp, info);
  }

  #publish(fp: string, info: StatusInfo | undefined | null): Promise<number> {
    return this.#c.publish(this.#k.channel, JSON.stringify({ fp, s: info === null ? null : info?.status ?? 'active', x: info?.exposedAt?.getTime(), src: this.#id }));
  }

  /** Full reload of the retired/compromised set (on every (re)connect, and with each refresh). */
  #reload(): void {
    if (this.#reloading) { this.#reloadAgain = true; return; }
    if (!this.isUp()) return;
    this.#reloading = (async () => {
      this.#touched = new Set();
      try {
        const h = await this.#c.hgetall(this.#k.flagged);
        const next = new Map<string, StatusInfo>();
        for (const [fp, v] of Object.entries(h)) { const info = parseFlag(v); if (info) next.set(fp, info); }
        for (const fp of this.#touched) { const cur = this.cache.get(fp); if (cur) next.set(fp, cur); else next.delete(fp); }
        for (const [fp, info] of this.pendingExposures()) next.set(fp, info);
        this.cache = next;
        this.#loaded = true;
      } catch (e) {
        this.#logError('status reload', e as Error);
      } finally {
        this.#touched = undefined;
      }
    })().finally(() => {
      this.#reloading = undefined;
      if (this.#reloadAgain) { this.#reloadAgain = false; this.#reload(); }
    });
  }

  override async ready(timeoutMs = 3000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end && !(this.#loaded && this.#sub.status === 'ready')) await new Promise((r) => setTimeout(r, 10));
    while (this.#reloading) await this.#reloading;
  }

  override async refresh(): Promise<void> {
    this.#reload();
    await super.refresh();
  }

  // ---- writes ----
  protected async applyBatch(ops: Op[]): Promise<UseSummary[]> {
    const k = this.#k;
    const c = this.#c;
    const todo = ops.filter((o) => !o.done);

    // exposures first: they are what other replicas wait for
    await settle(todo.filter((o) => o.t === 'expose').map(async (op) => {
      if (op.t !== 'expose') return;
      await this.#writeExposure(op.e);
      op.done = true;
    }));

    // objects before uses, so that a use's summary counts the objects of its own batch
    await this.#applyObjects(todo.filter((o) => o.t !== 'use' && o.t !== 'expose'));

    // key uses: one script per key and batch
    const summaries = await settle([...groupUses(todo)].map(async ([fp, g]) => {
      const clients = [...g.clients].flatMap(([m, s]) => [m, s]);
      const buckets = [...g.buckets].flatMap(([m, s]) => [m, s]);
      const [r] = await settle<unknown>([
        c.fpUse(k.key(fp), k.clients(fp), k.buckets(fp), k.inventory(fp), g.first, g.last, g.requests, g.bytes, MAX_CLIENTS, MAX_BUCKETS,
          g.clients.size, ...clients, g.buckets.size, ...buckets),
        c.zadd(k.registry, 'NX', g.first, fp),
      ]);
      for (const op of g.ops) op.done = true;
      const [first, bw, objects, status, rot, ret, comp] = r as [number, number, number, string, string, string, string];
      const alerts: Partial<Record<string, number>> = {};
      if (rot) alerts.rotation_due = Number(rot);
      if (ret) alerts.retired_used = Number(ret);
      if (comp) alerts.compromised_used = Number(comp);
      return { fingerprint: fp, status: status as KeyStatus, firstSeen: new Date(Number(first)), bytesWritten: Number(bw), objects: Number(objects), alerts, client: g.client } satisfies UseSummary;
    }));

    return summaries;
  }

  async #writeExposure(e: KeyExposure): Promise<void> {
    const k = this.#k;
    const at = e.at.getTime();
    const x = await this.#c.fpExpose(k.key(e.fingerprint), at, e.client, e.listener, e.header, e.requestId);
    const info: StatusInfo = { status: 'compromised', exposedAt: new Date(Number(x)) };
    await settle<unknown>([
      this.#c.hset(k.flagged, e.fingerprint, flagValue(info)),
      this.#c.zadd(k.registry, 'NX', at, e.fingerprint),
      this.#publish(e.fingerprint, info),
    ]);
  }

  /** Uploads, puts and removals, in order; see the file comment for the three steps. */
  async #applyObjects(ops: Op[]): Promise<void> {
    if (!ops.length) return;
    const k = this.#k;
    const c = this.#c;

    // step 0: upload bookkeeping, completions and copy sizes resolved (in op order: same key → same connection → FIFO)
    const lookups: Promise<unknown>[] = [];
    const srcFp = new Map<Op, Promise<string | null>>();
    for (const op of ops) {
      if (op.progress?.resolved !== undefined) continue;
      switch (op.t) {
        case 'ups':
          lookups.push(c.fpUpStart(k.upload(op.e.uploadId), op.e.fingerprint, op.e.bucket, op.e.key, op.e.at.getTime(), UPLOAD_TTL_S).then(() => { op.done = true; }));
          break;
        case 'upp':
          lookups.push(c.fpUpPart(k.upload(op.e.uploadId), op.e.partNumber, op.e.size ?? '', op.e.fingerprint ?? '', op.e.bucket ?? '', op.e.key ?? '', UPLOAD_TTL_S).then(() => { op.done = true; }));
          break;
        case 'upa':
          lookups.push(c.del(k.upload(op.uploadId)).then(() => { op.done = true; }));
          break;
        case 'upc':
          lookups.push(c.fpUpDone(k.upload(op.e.uploadId), op.token, UPLOAD_DONE_TTL_S).then((flat) => {
            const u: Record<string, string> = {};
            for (let i = 0; flat && i + 1 < flat.length; i += 2) u[flat[i]!] = flat[i + 1]!;
            const parts = Object.entries(u).filter(([f]) => f.startsWith('p:')).map(([, v]) => v);
            const size = parts.length && parts.every((v) => v !== '') ? parts.reduce((a, v) => a + Number(v), 0) : null;
            const fp = u.fp || op.e.fingerprint;
            op.progress = { resolved: { ref: { bucket: op.e.bucket, key: op.e.key, versionId: normVersion(op.e.versionId) }, fingerprint: fp, size, at: op.e.at.getTime(), token: u.done || op.token } };
          }));
          break;
        case 'put':
          if (op.e.size === undefined && op.e.copySource) {
            const p = c.hget(k.index(op.e.copySource), indexField(op.e.copySource)).then((v) => (v ? unpackFingerprint(v.slice(0, v.lastIndexOf(':'))) : null));
            srcFp.set(op, p);
            lookups.push(p);
          }
          break;
        default:
          break;
      }
    }
    await settle(lookups);
    const sizes = await settle([...srcFp].map(async ([op, p]) => {
      const fp = await p;
      if (!fp || op.t !== 'put' || !op.e.copySource) return [op, null] as const;
      const v = await c.hget(k.inventory(fp), objectField(op.e.copySource));
      const s = v?.slice(0, v.indexOf(':'));
      return [op, s ? Number(s) : null] as const;
    }));
    const copySize = new Map<Op, number | null>(sizes);
    const batchSizes = new Map<string, number | null>(); // objects written earlier in this batch
    for (const op of ops) {
      if (op.t === 'put' && op.progress?.resolved === undefined) {
        const ref = { bucket: op.e.bucket, key: op.e.key, versionId: normVersion(op.e.versionId) };
        let size: number | null = op.e.size ?? null;
        if (op.e.size === undefined && op.e.copySource) size = batchSizes.get(objectField(op.e.copySource)) ?? copySize.get(op) ?? null;
        op.progress = { resolved: { ref, fingerprint: op.e.fingerprint, size, at: op.e.at.getTime(), token: op.token } };
      }
      if (op.t === 'rm' && op.progress?.resolved === undefined) {
        op.progress = { resolved: { ref: { bucket: op.e.bucket, key: op.e.key, versionId: normVersion(op.e.versionId) }, size: null, at: 0, token: '' } };
      }
      const r = op.progress?.resolved;
      if (r?.fingerprint) batchSizes.set(objectField(r.ref), r.size);
    }

    const writes = ops.filter((op) => (op.t === 'put' || op.t === 'rm' || op.t === 'upc') && !op.done && op.progress?.resolved);
    for (const op of writes) {
      const r = op.progress!.resolved!;
      // a write without a key of a new version leaves the other versions' entries alone
      if (!r.fingerprint && op.t !== 'rm' && r.ref.versionId !== undefined) op.progress!.resolved = null;
    }
    const live = writes.filter((op) => op.progress!.resolved);

    // step 1: add to the new keys' inventories (one script per key, entries in op order)
    const adds = new Map<string, { args: Arg[]; first: number }>();
    for (const op of live) {
      const r = op.progress!.resolved!;
      if (op.progress!.old !== undefined || !r.fingerprint) continue;
      let g = adds.get(r.fingerprint);
      if (!g) { g = { args: [], first: r.at }; adds.set(r.fingerprint, g); }
      g.args.push(objectField(r.ref), r.size ?? '', r.at, r.token);
      g.first = Math.min(g.first, r.at);
    }
    await settle([...adds].flatMap(([fp, g]) => [
      c.fpInvAdd(k.key(fp), k.inventory(fp), ...g.args),
      c.zadd(k.registry, 'NX', g.first, fp),
    ] as Promise<unknown>[]));
    // step 2: swap the index entries (one script per index shard, entries in op order)
    const swaps = new Map<string, { ops: Op[]; args: Arg[] }>();
    for (const op of live) {
      if (op.progress!.old !== undefined) continue;
      const r = op.progress!.resolved!;
      const shard = k.index(r.ref);
      let g = swaps.get(shard);
      if (!g) { g = { ops: [], args: [] }; swaps.set(shard, g); }
      g.ops.push(op);
      g.args.push(indexField(r.ref), r.fingerprint ? `${packFingerprint(r.fingerprint)}:${r.token}` : '');
    }
    await settle([...swaps].map(async ([shard, g]) => {
      const olds = await c.fpIdxSwap(shard, ...g.args);
      g.ops.forEach((op, i) => { op.progress!.old = olds[i] || null; });
    }));
    // step 3: remove each replaced entry from its key's inventory, if it is still that write's
    const dels = new Map<string, { ops: Op[]; args: Arg[] }>();
    for (const op of live) {
      const p = op.progress as ObjectProgress;
      const r = p.resolved!;
      const now = r.fingerprint ? `${packFingerprint(r.fingerprint)}:${r.token}` : '';
      if (!p.old || p.old === now) continue;
      const cut = p.old.lastIndexOf(':');
      const oldFp = unpackFingerprint(p.old.slice(0, cut));
      let g = dels.get(oldFp);
      if (!g) { g = { ops: [], args: [] }; dels.set(oldFp, g); }
      g.args.push(objectField(r.ref), p.old.slice(cut + 1));
    }
    // re-keying: the old key's entry goes, whatever the index said (token '' = whatever it carries)
    for (const op of live) {
      const drop = op.t === 'put' ? op.e.dropFrom : undefined;
      const r = op.progress!.resolved!;
      if (!drop || drop === r.fingerprint) continue;
      let g = dels.get(drop);
      if (!g) { g = { ops: [], args: [] }; dels.set(drop, g); }
      g.args.push(objectField(r.ref), '');
    }
    await settle([...dels].map(([fp, g]) => c.fpInvDel(k.key(fp), k.inventory(fp), ...g.args)));
    for (const op of live) op.done = true;
    for (const op of writes) if (!op.progress!.resolved) op.done = true;
  }

  protected async claimAlert(fp: string, kind: string, at: Date, intervalMs: number): Promise<boolean> {
    return (await this.#c.fpClaim(this.#k.key(fp), `a:${kind}`, at.getTime(), intervalMs)) === 1;
  }

  protected async writeStatus(fp: string, status: KeyStatus, at: Date): Promise<StatusInfo | undefined> {
    this.#ensureUp();
    const k = this.#k;
    const x = await this.#c.fpStatus(k.key(fp), status, at.getTime());
    const info: StatusInfo | undefined = status === 'active' ? undefined : { status, exposedAt: x === '' || x === null ? undefined : new Date(Number(x)) };
    await settle<unknown>([
      info ? this.#c.hset(k.flagged, fp, flagValue(info)) : this.#c.hdel(k.flagged, fp),
      this.#c.zadd(k.registry, 'NX', at.getTime(), fp),
      this.#publish(fp, info),
    ]);
    return info;
  }

  protected async removeAll(fp: string): Promise<void> {
    this.#ensureUp();
    const k = this.#k;
    let cursor = '0';
    do {
      const [next, flat] = await this.#c.hscan(k.inventory(fp), cursor, 'COUNT', 1000);
      const dels: Promise<number>[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        const ref = parseObjectField(flat[i]!);
        dels.push(this.#c.fpIdxDelIf(k.index(ref), indexField(ref), `${packFingerprint(fp)}:`));
      }
      await settle(dels);
      cursor = next;
    } while (cursor !== '0');
    await settle<unknown>([
      this.#c.del(k.key(fp), k.clients(fp), k.buckets(fp), k.inventory(fp)),
      this.#c.hdel(k.flagged, fp),
      this.#c.zrem(k.registry, fp),
    ]);
    await this.#publish(fp, null);
  }

  #ensureUp(): void {
    if (!this.isUp()) throw new Error('fingerprint store (Redis) is not reachable');
  }

  // ---- reads ----
  async get(fp: string): Promise<KeyRecord | undefined> {
    this.#ensureUp();
    const k = this.#k;
    const [h, clients, buckets, objects] = await settle<unknown>([
      this.#c.hgetall(k.key(fp)), this.#c.zrevrange(k.clients(fp), '0', '-1'), this.#c.zrevrange(k.buckets(fp), '0', '-1'), this.#c.hlen(k.inventory(fp)),
    ]) as [Record<string, string>, string[], string[], number];
    if (!h || !h.first) return undefined;
    const alerts: Partial<Record<AlertKind, Date>> = {};
    for (const [f, v] of Object.entries(h)) if (f.startsWith('a:')) alerts[f.slice(2) as AlertKind] = new Date(Number(v));
    const status = (h.st === 'retired' || h.st === 'compromised' ? h.st : 'active') as KeyStatus;
    return {
      fingerprint: fp, id: shortId(fp), status, statusAt: optDate(h.sat),
      firstSeen: new Date(num(h.first)), lastSeen: new Date(num(h.last ?? h.first)),
      requests: num(h.req), bytesWritten: num(h.bw), objects: Number(objects), objectBytes: num(h.ob),
      clients, buckets,
      exposure: h.xat ? {
        at: new Date(num(h.xat)), lastAt: new Date(num(h.xlast ?? h.xat)), count: num(h.xn),
        client: h.xc ?? '', listener: h.xl ?? '', header: h.xh ?? '', requestId: h.xr ?? '',
      } : undefined,
      alerts,
    };
  }

  async list(): Promise<KeyRecord[]> {
    this.#ensureUp();
    const fps = await this.#c.zrange(this.#k.registry, '0', '-1');
    const out: KeyRecord[] = [];
    for (let i = 0; i < fps.length; i += 200) {
      const rs = await settle(fps.slice(i, i + 200).map((fp) => this.get(fp)));
      for (const r of rs) if (r) out.push(r);
    }
    return out.sort((a, b) => a.firstSeen.getTime() - b.firstSeen.getTime() || a.fingerprint.localeCompare(b.fingerprint));
  }

  async objectsPage(fp: string, opts: { cursor?: string; count?: number } = {}): Promise<ObjectsPage> {
    this.#ensureUp();
    const [next, flat] = await this.#c.hscan(this.#k.inventory(fp), opts.cursor ?? '0', 'COUNT', Math.max(1, opts.count ?? 500));
    const entries: ObjectEntry[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const [size, at] = flat[i + 1]!.split(':');
      entries.push({ ...parseObjectField(flat[i]!), size: size === '' || size === undefined ? null : Number(size), at: new Date(Number(at)) });
    }
    return { entries, cursor: next === '0' ? undefined : next };
  }

  protected async closeBackend(): Promise<void> {
    this.markUp(false);
    const quit = (x: RedisLike) => Promise.race([x.quit().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]).then(() => x.disconnect());
    await Promise.all([quit(this.#c), quit(this.#sub)]);
  }
}
