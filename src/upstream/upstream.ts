import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { GatewayConfig } from '../config/load.js';

/** The upstream endpoint and its keep-alive connection pool. */
export interface Upstream {
  readonly url: URL;
  readonly request: typeof http.request;
  readonly agent: http.Agent;
  readonly timeoutMs: number;
  close(): void;
}

export function createUpstream(cfg: GatewayConfig['upstream']): Upstream {
  const url = new URL(cfg.url);
  const secure = url.protocol === 'https:';
  const opts = { keepAlive: true, maxSockets: cfg.maxSockets, maxFreeSockets: Math.min(64, cfg.maxSockets), scheduling: 'lifo' as const };
  const agent = secure
    ? new https.Agent({ ...opts, ca: cfg.ca ? [...rootCertificates, readFileSync(cfg.ca, 'utf8')] : undefined, minVersion: 'TLSv1.2' })
    : new http.Agent(opts);
  return {
    url,
    request: (secure ? https.request : http.request) as typeof http.request,
    agent,
    timeoutMs: cfg.timeoutMs,
    close: () => agent.destroy(),
  };
}
