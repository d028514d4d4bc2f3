import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { createRequire } from 'node:module';
import type { Pool as PoolType } from 'undici';

import type { GatewayConfig } from '../config/load.js';

/**
 * The upstream endpoint and its keep-alive connection pools: node:http's agent for requests with a
 * body (forward.ts) and the gateway's own S3 calls; undici's Pool for bodyless requests (dispatch.ts).
 */
export interface Upstream {
  readonly url: URL;
  readonly request: typeof http.request;
  readonly agent: http.Agent;
  readonly pool: PoolType;
  readonly timeoutMs: number;
  close(): void;
}

// undici's Pool alone: its index loads fetch, websockets and caches too (~6 MiB more RSS)
const Pool = createRequire(import.meta.url)('undici/lib/dispatcher/pool.js') as typeof PoolType;

export function createUpstream(cfg: GatewayConfig['upstream']): Upstream {
  const url = new URL(cfg.url);
  const secure = url.protocol === 'https:';
  const opts = { keepAlive: true, maxSockets: cfg.maxSockets, maxFreeSockets: Math.min(64, cfg.maxSockets), scheduling: 'lifo' as const };
  const ca = secure && cfg.ca ? [...rootCertificates, readFileSync(cfg.ca, 'utf8')] : undefined;
  const agent = secure ? new https.Agent({ ...opts, ca, minVersion: 'TLSv1.2' }) : new http.Agent(opts);
  const pool = new Pool(url.origin, {
    connections: cfg.maxSockets,
    // no response headers within timeoutMs → 504, as in forward.ts; bodies may take as long as they take
    headersTimeout: cfg.timeoutMs, bodyTimeout: 0,
    ...(secure ? { connect: { ca, minVersion: 'TLSv1.2' as const } } : {}),
  });
  return {
    url,
    request: (secure ? https.request : http.request) as typeof http.request,
    agent,
    pool,
    timeoutMs: cfg.timeoutMs,
    close: () => { agent.destroy(); void pool.destroy(); },
  };
}
