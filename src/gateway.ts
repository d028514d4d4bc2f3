/**
 * Composition root: builds every part from the frozen config and returns { listen, close }.
 */
import type { AddressInfo } from 'node:net';
import { createAdminServer } from './admin/admin-server.js';
import type { GatewayConfig } from './config/load.js';
import { KeyEvents } from './events/key-events.js';
import { fingerprintSecret } from './fingerprints/secret.js';
import { createLogger, type Logger } from './logging/logger.js';
import { createMetrics, type Metrics } from './metrics/registry.js';
import { buildPipeline } from './pipeline/build-pipeline.js';
import { createHandler } from './pipeline/run-pipeline.js';
import { createHttpsListener, createPlaintextListener, listen, wrapServer } from './server/listeners.js';
import { ensureSelfSigned } from './server/self-signed.js';
import { readFileSync } from 'node:fs';
import { createUpstream } from './upstream/upstream.js';

export interface Addresses { https: AddressInfo; http?: AddressInfo; admin: AddressInfo }

export interface Gateway {
  listen(): Promise<Addresses>;
  close(): Promise<void>;
  readonly events: KeyEvents;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** the certificate file clients should trust, when the gateway made its own */
  readonly selfSignedCert?: string;
}

export function createGateway(config: GatewayConfig, opts: { logDestination?: NodeJS.WritableStream } = {}): Gateway {
  const log = createLogger(config.log.level, opts.logDestination);
  const metrics = createMetrics();
  const { secret, generatedAt } = fingerprintSecret(config.fingerprint.secret, config.stateDir);
  if (generatedAt) log.warn({ file: generatedAt }, 'no fingerprint.secret configured: using the one kept in the state directory (set fingerprint.secret for more than one replica)');
  const events = new KeyEvents(secret);
  events.on('exposed', (e) => {
    metrics.keyExposures.inc();
    log.warn({ event: 'key_exposed', fingerprint: e.fingerprint, client: e.client, listener: e.listener, header: e.header, requestId: e.requestId }, KeyEvents.describe(e));
  });

  let tls: { cert: string; key: string };
  let selfSignedCert: string | undefined;
  if (config.tls.cert && config.tls.key) {
    tls = { cert: readFileSync(config.tls.cert, 'utf8'), key: readFileSync(config.tls.key, 'utf8') };
  } else {
    const made = ensureSelfSigned(config.stateDir);
    tls = made;
    selfSignedCert = made.certFile;
    log.warn({ cert: made.certFile, created: made.created }, 'no tls.cert/tls.key configured: serving a self-signed certificate (clients must trust this file)');
  }

  const upstream = createUpstream(config.upstream);
  const stages = buildPipeline(config, events);
  const https = createHttpsListener({ ...tls, minVersion: config.tls.minVersion }, createHandler('https', stages, upstream, metrics, log), metrics);
  const plain = config.listen.httpPort !== undefined ? createPlaintextListener(createHandler('http', stages, upstream, metrics, log), metrics) : undefined;
  let draining = false;
  const admin = createAdminServer(metrics, { draining: () => draining, upstream: upstream.url });
  const adminListener = wrapServer(admin);

  return {
    events, metrics, log, selfSignedCert,
    async listen() {
      const a: Addresses = {
        https: await listen(https, config.listen.httpsPort, config.listen.host),
        http: plain ? await listen(plain, config.listen.httpPort!, config.listen.host) : undefined,
        admin: await listen(adminListener, config.listen.adminPort, config.listen.adminHost),
      };
      log.info({ https: a.https, http: a.http, admin: a.admin, upstream: upstream.url.origin }, 'listening');
      return a;
    },
    async close() {
      draining = true;
      await Promise.all([https, ...(plain ? [plain] : [])].map((l) => l.close(config.shutdown.graceMs)));
      await adminListener.close(0);
      upstream.close();
      log.flush?.();
    },
  };
}
