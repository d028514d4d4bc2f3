/**
 * createFingerprintStore: Redis (standalone, Sentinel or Cluster) when configured, else the
 * in-memory store. It never fails because Redis is down: it waits at most `connectWaitMs` for the
 * first connection (to load the retired/compromised set), then returns a store that queues.
 */
import { createRequire } from 'node:module';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { resolveSecret, type GatewayConfig } from '../config/load.js';
import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/registry.js';
import { Alerter, type WebhookOptions } from './alerts.js';
import type { StoreOptions } from './base-store.js';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';
import type { FingerprintStore } from './types.js';

export interface CreateStoreDeps {
  metrics: Metrics;
  log: Logger;
  /** `server` (default): periodic gauges/alerts and the webhook. `cli`: neither (one-shot commands). */
  role?: 'server' | 'cli';
  /** gauges and rotation-by-age alerts every refreshMs (default 60 s; server role only) */
  refreshMs?: number;
  /** how long creation waits for a first Redis connection (default 3 s) */
  connectWaitMs?: number;
  webhook?: WebhookOptions;
  now?: () => Date;
}

/** Redis is used when `redis.url` is set, or in sentinel/cluster mode with `redis.nodes`. */
export function usesRedis(config: GatewayConfig): boolean {
  return Boolean(config.redis.url) || (config.redis.mode !== 'standalone' && config.redis.nodes.length > 0);
}

/**
 * The store, connected and loaded: waits at most `connectWaitMs` (default 3 s) for Redis, then
 * returns a store that queues until Redis is there.
 */
export async function createFingerprintStore(config: GatewayConfig, deps: CreateStoreDeps): Promise<FingerprintStore> {
  const store = openFingerprintStore(config, deps);
  await store.ready(deps.connectWaitMs ?? 3000);
  if (!store.health().up) deps.log.warn({ event: 'fingerprint_store_down', mode: config.redis.mode }, 'Redis is not reachable yet: key events are queued until it is');
  return store;
}

/**
 * The same, synchronously: it connects in the background. For a composition root that is not
 * async — call `await store.ready()` before the listeners accept requests, so that the
 * retired/compromised set is loaded before the first key is checked.
 */
export function openFingerprintStore(config: GatewayConfig, deps: CreateStoreDeps): FingerprintStore {
  const role = deps.role ?? 'server';
  const alerter = new Alerter({ metrics: deps.metrics, log: deps.log, webhookUrl: role === 'server' ? config.alerts.webhookUrl : undefined, webhook: deps.webhook });
  const opts: StoreOptions = {
    queueLimit: config.redis.queueLimit,
    rotation: config.rotation,
    refreshMs: role === 'server' ? deps.refreshMs ?? 60_000 : 0,
  };
  const storeDeps = { metrics: deps.metrics, log: deps.log, alerter, now: deps.now };
  let store: FingerprintStore;
  if (!usesRedis(config)) {
    store = new MemoryStore(storeDeps, opts);
  } else {
    const prefix = config.redis.keyPrefix;
    if (/[{}]/.test(prefix)) throw new Error(`redis.keyPrefix must not contain "{" or "}" (the store's keys carry Redis Cluster hash tags): ${JSON.stringify(prefix)}`);
    store = new RedisStore(redisClients(config), prefix, storeDeps, opts);
  }
  if (role === 'server') void store.ready().then(() => store.refresh()).catch(() => undefined);
  return store;
}

/** ioredis is loaded only when Redis is configured (it adds ~20 MiB RSS to a gateway that does not use it). */
const ioredis = () => createRequire(import.meta.url)('ioredis') as typeof import('ioredis');

function node(s: string, defaultPort: number): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(s.trim());
  if (!m) throw new Error(`redis.nodes: not host:port: ${JSON.stringify(s)}`);
  return { host: m[1]!, port: m[2] ? Number(m[2]) : defaultPort };
}

/** The two connections of a Redis store: commands (no offline queue: the store queues) and pub/sub. */
export function redisClients(config: GatewayConfig): { client: Redis | Cluster; sub: Redis | Cluster } {
  const r = config.redis;
  const password = r.password ? resolveSecret(r.password) : undefined;
  const url = r.url ? new URL(r.url) : undefined;
  const tls = url?.protocol === 'rediss:' ? {} : undefined;
  const db = url && url.pathname.length > 1 ? Number(url.pathname.slice(1)) || 0 : undefined;
  const username = url?.username ? decodeURIComponent(url.username) : undefined;
  const pass = password ?? (url?.password ? decodeURIComponent(url.password) : undefined);
  const common: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    enableAutoPipelining: true,
    connectTimeout: 3000,
    commandTimeout: 5000,
    retryStrategy: (n: number) => Math.min(100 * n, 1000),
  };
  const forSub: Partial<RedisOptions> = { enableAutoPipelining: false, commandTimeout: undefined };
  if (r.mode === 'cluster') {
    const seeds = r.nodes.length ? r.nodes.map((n) => node(n, 6379)) : url ? [{ host: url.hostname, port: Number(url.port || 6379) }] : [];
    const client = new (ioredis().Cluster)(seeds, {
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      clusterRetryStrategy: (n: number) => Math.min(100 * n, 1000),
      redisOptions: { password: pass, username, tls, connectTimeout: 3000, commandTimeout: 5000, maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false },
    });
    const sub = new (ioredis().Cluster)(seeds, {
      enableAutoPipelining: false,
      clusterRetryStrategy: (n: number) => Math.min(100 * n, 1000),
      redisOptions: { password: pass, username, tls, connectTimeout: 3000 },
    });
    return { client, sub };
  }
  if (r.mode === 'sentinel') {
    const client = new (ioredis().Redis)({
      ...common, sentinels: r.nodes.map((n) => node(n, 26379)), name: r.sentinelName, password: pass, username, sentinelPassword: pass, db, tls,
      sentinelRetryStrategy: (n: number) => Math.min(100 * n, 1000),
    });
    return { client, sub: client.duplicate(forSub) };
  }
  if (!r.url) throw new Error('redis.url is required in standalone mode');
  const client = new (ioredis().Redis)(r.url, { ...common, ...(password ? { password } : {}) });
  return { client, sub: client.duplicate(forSub) };
}
