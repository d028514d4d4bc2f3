/**
 * `workers` > 1: one port served by several processes (node:cluster). The primary accepts the
 * connections and hands them round-robin to the workers (Node's default scheduling on Linux;
 * SO_REUSEPORT in net.Server.listen needs Node 22.12). The primary serves no S3 request. It holds:
 * - the admin listener: one /metrics with every process's registry aggregated, and readiness;
 * - the in-memory fingerprint store when there is no Redis (the workers reach it through
 *   RemoteStore; with Redis each worker is a replica like any other);
 * - the worker lifecycle: a worker that dies is started again, and SIGTERM drains every worker
 *   (each closes its listeners with shutdown.graceMs) before the primary exits 0.
 */
import cluster, { type Worker } from 'node:cluster';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { Drain, createAdminServer, type Scrape } from '../admin/admin-server.js';
import type { GatewayConfig } from '../config/load.js';
import { openFingerprintStore, usesRedis } from '../fingerprints/store.js';
import { isStoreMessage, RemoteStore, serveStore, type StoreMessage } from '../fingerprints/remote-store.js';
import { createGateway, localState, type Addresses } from '../gateway.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { createMetrics } from '../metrics/registry.js';
import { listen, wrapServer } from './listeners.js';

/**
 * The CPUs this process may use: the affinity mask (os.availableParallelism) capped by the cgroup
 * CPU quota — a pod with `limits.cpu: 2` on a 64-core node gets 2, not 64 (Node 20's libuv does
 * not read the quota).
 */
export function cpuBudget(read: (file: string) => string = (f) => readFileSync(f, 'utf8')): number {
  let n = os.availableParallelism();
  const quota = (q: number, period: number) => { if (q > 0 && period > 0) n = Math.min(n, Math.max(1, Math.ceil(q / period))); };
  try {
    const [q, period] = read('/sys/fs/cgroup/cpu.max').trim().split(/\s+/); // cgroup v2: "max 100000" or "200000 100000"
    if (q !== 'max') quota(Number(q), Number(period));
  } catch {
    try { quota(Number(read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')), Number(read('/sys/fs/cgroup/cpu/cpu.cfs_period_us'))); } catch { /* no cgroup limit */ }
  }
  return n;
}

/** `workers`: 0 = one per CPU of cpuBudget(). */
export function workerCount(config: GatewayConfig): number {
  return config.workers > 0 ? config.workers : cpuBudget();
}

type Ask = 'metrics' | 'ready';
/** Messages between the primary and its workers, besides the store's. */
type ClusterMessage =
  | { ssec: 'listening'; https: AddressInfo; http?: AddressInfo }
  | { ssec: 'ask'; id: number; what: Ask }
  | { ssec: 'reply'; id: number; value: unknown }
  | { ssec: 'shutdown' };

const isMessage = (m: unknown): m is ClusterMessage | StoreMessage => typeof m === 'object' && m !== null && typeof (m as { ssec?: unknown }).ssec === 'string';

/** How long the primary waits for a worker to answer a scrape or a readiness question. */
const ASK_TIMEOUT_MS = 2000;

export interface Primary {
  addresses: Addresses & { admin: AddressInfo };
  selfSignedCert?: string;
  log: Logger;
  close(): Promise<void>;
}

/** Forks `n` workers and resolves once all of them listen; rejects if one exits before it does. */
export async function startPrimary(config: GatewayConfig, n: number): Promise<Primary> {
  const log = createLogger(config.log.level, undefined, config.log.maxBufferBytes).child({ worker: 0 });
  const metrics = createMetrics();
  // created here, once, rather than by every worker at the same moment
  const { selfSignedCert } = localState(config, log);
  const store = usesRedis(config) ? undefined : openFingerprintStore(config, { metrics, log });
  await store?.ready();

  const listening = new Map<Worker, { https: AddressInfo; http?: AddressInfo }>();
  const answers = new Map<number, (value: unknown) => void>();
  let nextAsk = 1;
  let stopping = false;
  let started = false;
  let failStartup: (e: Error) => void = () => undefined;
  let restartDelay = 0;
  const workers = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
  const storeHandler = store ? serveStore(store, workers) : undefined;

  const ask = (w: Worker, what: Ask) => new Promise<{ value: unknown } | undefined>((resolve) => {
    const id = nextAsk++;
    const timer = setTimeout(() => { answers.delete(id); resolve(undefined); }, ASK_TIMEOUT_MS);
    answers.set(id, (value) => { clearTimeout(timer); answers.delete(id); resolve({ value }); });
    try { w.send({ ssec: 'ask', id, what } satisfies ClusterMessage); } catch { clearTimeout(timer); answers.delete(id); resolve(undefined); }
  });

  let allListening: () => void = () => undefined;
  const fork = () => {
    const w = cluster.fork();
    const bornAt = Date.now();
    w.on('message', (m: unknown) => {
      if (!isMessage(m)) return;
      if (isStoreMessage(m)) storeHandler?.(w, m);
      else if (m.ssec === 'listening') {
        listening.set(w, { https: m.https, http: m.http });
        metrics.workers.set(listening.size);
        if (listening.size === n) allListening();
      } else if (m.ssec === 'reply') answers.get(m.id)?.(m.value);
    });
    w.on('exit', (code, signal) => {
      const wasListening = listening.delete(w);
      metrics.workers.set(listening.size);
      if (stopping) return;
      if (!started) { failStartup(new Error(`worker ${w.id} exited (${signal ?? `code ${code}`}) before it listened; see its error above`)); return; }
      metrics.workerRestarts.inc();
      // a worker that keeps dying at start is restarted ever more slowly (at most every 30 s)
      restartDelay = Date.now() - bornAt < 10_000 ? Math.min(Math.max(restartDelay * 2, 250), 30_000) : 0;
      log.error({ event: 'worker_exit', worker: w.id, pid: w.process.pid, code, signal, wasListening, restartInMs: restartDelay }, 'worker process exited unexpectedly: starting another');
      setTimeout(() => { if (!stopping) fork(); }, restartDelay).unref();
    });
  };

  cluster.setupPrimary({ serialization: 'advanced' }); // Dates and Maps of the store's messages survive
  await new Promise<void>((resolve, reject) => {
    allListening = resolve;
    failStartup = reject;
    for (let i = 0; i < n; i++) fork();
  }).catch(async (e: Error) => {
    stopping = true;
    for (const w of workers()) w.process.kill('SIGKILL');
    await store?.close();
    throw e;
  });
  started = true;

  /** Every process's registry, aggregated: counters and histograms summed; gauges per their `aggregator`. */
  const scrape: Scrape = async () => {
    const parts = await Promise.all([...listening.keys()].map((w) => ask(w, 'metrics')));
    const all = [await metrics.registry.getMetricsAsJSON(), ...parts.flatMap((p) => (p ? [p.value as MetricObjectWithValues<MetricValue<string>>[]] : []))];
    const registry = AggregatorRegistry.aggregate(all);
    return { body: await registry.metrics(), contentType: registry.contentType };
  };
  const drain = new Drain();
  const readinessProblem = async () => {
    if (!listening.size) return 'no worker process is listening';
    for (const w of listening.keys()) {
      const a = await ask(w, 'ready');
      if (!a) return `worker ${w.id} did not answer`;
      if (typeof a.value === 'string') return `worker ${w.id}: ${a.value}`;
    }
    return undefined;
  };
  const admin = wrapServer(createAdminServer(scrape, { drain, upstream: new URL(config.upstream.url), store: readinessProblem }));
  const first = [...listening.values()][0]!;
  const addresses = { https: first.https, http: first.http, admin: await listen(admin, config.listen.adminPort, config.listen.adminHost) };
  log.info({ https: addresses.https, http: addresses.http, admin: addresses.admin, upstream: new URL(config.upstream.url).origin, workers: n }, 'listening');

  return {
    addresses, selfSignedCert, log,
    async close() {
      stopping = true;
      drain.begin(); // /readyz answers 503 from now on
      const exits = workers().map((w) => new Promise<void>((resolve) => {
        if (w.isDead()) return resolve();
        w.once('exit', () => resolve());
        try { w.send({ ssec: 'shutdown' } satisfies ClusterMessage); } catch { w.process.kill('SIGTERM'); }
      }));
      // each worker gives its requests shutdown.graceMs; one that hangs past that is killed
      const kill = setTimeout(() => { for (const w of workers()) if (!w.isDead()) w.process.kill('SIGKILL'); }, config.shutdown.graceMs + 5000);
      await Promise.all(exits);
      clearTimeout(kill);
      await admin.close(0);
      await store?.close();
      log.flush?.();
    },
  };
}

/** A worker: the whole gateway, minus the admin listener, told to stop by the primary (or by a signal of its own). */
export async function startWorker(config: GatewayConfig): Promise<void> {
  const id = cluster.worker?.id ?? 0;
  const send = (m: ClusterMessage | StoreMessage) => { if (process.connected) process.send!(m); };
  let remote: RemoteStore | undefined;
  const gw = createGateway(config, {
    worker: { id, store: usesRedis(config) ? undefined : (metrics) => (remote = new RemoteStore(send, metrics)) },
  });
  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    gw.log.info({ reason: why }, 'worker shutting down');
    void gw.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('message', (m: unknown) => {
    if (!isMessage(m)) return;
    if (isStoreMessage(m)) remote?.receive(m);
    else if (m.ssec === 'shutdown') stop('asked by the primary');
    else if (m.ssec === 'ask') {
      const reply = (value: unknown) => send({ ssec: 'reply', id: m.id, value });
      if (m.what === 'ready') reply(gw.storeProblem());
      else void gw.metrics.registry.getMetricsAsJSON().then(reply);
    }
  });
  process.on('disconnect', () => stop('the primary process is gone'));
  // Ctrl-C reaches every process of the group: drain, as the primary is about to ask
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  const a = await gw.listen();
  send({ ssec: 'listening', https: a.https, http: a.http });
}
