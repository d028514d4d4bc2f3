import http from 'node:http';
import net from 'node:net';
import type { Registry } from 'prom-client';

/**
 * Set once, on shutdown. /readyz answers 503 from then on, including a /readyz still waiting for
 * its checks (a worker's answer can take up to 2 s): that one is answered at once instead of being
 * cut off when the admin listener closes (seen as "socket hang up" by a probe during a SIGTERM).
 */
export class Drain {
  #on = false;
  #begin!: () => void;
  readonly begun = new Promise<'draining'>((resolve) => { this.#begin = () => resolve('draining'); });
  get on(): boolean { return this.#on; }
  begin(): void { this.#on = true; this.#begin(); }
}

export interface Readiness {
  drain: Drain;
  /** a reason the fingerprint store (or the workers) keep this replica from serving correctly, if any */
  store(): string | undefined | Promise<string | undefined>;
  upstream: URL;
}

/** TCP connect to the upstream, at most once per second (probes are frequent, the answer changes slowly). */
function upstreamProbe(url: URL): () => Promise<string | undefined> {
  let last = 0;
  let result: string | undefined = 'not checked yet';
  return async () => {
    if (Date.now() - last < 1000) return result;
    last = Date.now();
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    result = await new Promise<string | undefined>((resolve) => {
      const s = net.connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port, timeout: 2000 });
      s.once('connect', () => { s.destroy(); resolve(undefined); });
      s.once('timeout', () => { s.destroy(); resolve('upstream connect timed out'); });
      s.once('error', (e: NodeJS.ErrnoException) => resolve(`upstream unreachable: ${e.code ?? e.message}`));
    });
    return result;
  };
}

/** The text of /metrics: one registry, or (several workers) the registries of all processes aggregated. */
export type Scrape = () => Promise<{ body: string; contentType: string }>;

export function registryScrape(registry: Registry): Scrape {
  return async () => ({ body: await registry.metrics(), contentType: registry.contentType });
}

/**
 * /metrics, /healthz (process), /readyz (upstream reachable, Redis when configured, not draining).
 * Never serves data. Redis counts for readiness until the replica has loaded the set of exposed
 * keys once: without it, it could not refuse them. After that a Redis outage keeps the replica
 * ready — requests keep flowing and key events queue (issue #4) — and only the metric shows it.
 */
export function createAdminServer(scrape: Scrape, readiness: Readiness): http.Server {
  const probe = upstreamProbe(readiness.upstream);
  return http.createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405).end(); return; }
    if (path === '/metrics') {
      const { body, contentType } = await scrape();
      res.writeHead(200, { 'content-type': contentType }).end(body);
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const checks = async () => await readiness.store() ?? await probe();
      const problem = readiness.drain.on ? 'draining' : await Promise.race([checks(), readiness.drain.begun]);
      res.writeHead(problem ? 503 : 200, { 'content-type': 'text/plain' }).end(problem ? `not ready: ${problem}\n` : 'ready\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
}
