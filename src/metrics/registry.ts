/**
 * Every metric of the gateway, in one registry (prom-client). Labels are closed sets only:
 * operation (S3 operation names), method, status class, protocol, outcome/reason — never bucket,
 * object key, access key or key fingerprint.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { logLinesDropped } from '../logging/logger.js';

/** Lines the logger dropped (logger.ts counts them per process; read at each scrape). */
function logDrops(registry: Registry): Counter {
  let seen = logLinesDropped();
  return new Counter({
    name: 'ssec_gateway_log_lines_dropped_total', help: 'Log lines dropped because stdout did not take them fast enough (log.maxBufferBytes).', registers: [registry],
    collect() { const now = logLinesDropped(); if (now > seen) this.inc(now - seen); seen = now; },
  });
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ssec_gateway_' });
  const m = {
    registry,
    requestDuration: new Histogram({
      name: 'ssec_gateway_request_duration_seconds', help: 'Time from request headers to the end of the response, by S3 operation.',
      labelNames: ['operation', 'method', 'status_class', 'protocol'] as const, buckets: LATENCY_BUCKETS, registers: [registry],
    }),
    upstreamDuration: new Histogram({
      name: 'ssec_gateway_upstream_duration_seconds', help: 'Time from sending the request upstream to its response headers.',
      labelNames: ['operation', 'status_class'] as const, buckets: LATENCY_BUCKETS, registers: [registry],
    }),
    requestBytes: new Counter({ name: 'ssec_gateway_request_bytes_total', help: 'Request body bytes received from clients.', labelNames: ['operation'] as const, registers: [registry] }),
    responseBytes: new Counter({ name: 'ssec_gateway_response_bytes_total', help: 'Response body bytes sent to clients.', labelNames: ['operation'] as const, registers: [registry] }),
    inFlight: new Gauge({ name: 'ssec_gateway_requests_in_flight', help: 'Requests being served.', labelNames: ['listener'] as const, registers: [registry] }),
    shed: new Counter({ name: 'ssec_gateway_requests_shed_total', help: 'Requests answered 503 SlowDown because limits.maxInFlight requests were in flight.', labelNames: ['listener'] as const, registers: [registry] }),
    connections: new Gauge({ name: 'ssec_gateway_connections', help: 'Open client connections by protocol.', labelNames: ['protocol'] as const, registers: [registry] }),
    tlsFailures: new Counter({ name: 'ssec_gateway_tls_handshake_failures_total', help: 'TLS handshakes that failed.', registers: [registry] }),
    sseC: new Counter({
      name: 'ssec_gateway_sse_c_requests_total', help: 'SSE-C decisions: ok, rejected_plaintext, invalid_* (by reason), conflict.',
      labelNames: ['outcome'] as const, registers: [registry],
    }),
    keyExposures: new Counter({ name: 'ssec_gateway_key_exposures_total', help: 'SSE-C keys seen on the plaintext listener (each must be rotated).', registers: [registry] }),
    upstreamErrors: new Counter({ name: 'ssec_gateway_upstream_errors_total', help: 'Upstream failures by kind: unreachable, timeout, truncated.', labelNames: ['kind'] as const, registers: [registry] }),
    upstreamMessagesFilled: new Counter({ name: 'ssec_gateway_upstream_error_messages_filled_total', help: 'Upstream error bodies whose empty <Message/> was filled in, or whose answer about the object\'s key was put in S3\'s words (code: the upstream\'s).', labelNames: ['code'] as const, registers: [registry] }),
    // authentication (auth.mode sigv4 / none)
    authFailures: new Counter({ name: 'ssec_gateway_auth_failures_total', help: 'Client authentication failures by reason (S3 error code).', labelNames: ['reason'] as const, registers: [registry] }),
    sigv4Duration: new Histogram({
      name: 'ssec_gateway_sigv4_duration_seconds', help: 'CPU time of SigV4 work per request: verify (client) and sign (upstream).',
      labelNames: ['op'] as const, buckets: [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01], registers: [registry],
    }),
    // key fingerprints
    keyAlerts: new Counter({ name: 'ssec_gateway_key_alerts_total', help: 'Key alerts raised: exposed, rotation_due, retired_used, compromised_used.', labelNames: ['kind'] as const, registers: [registry] }),
    // the same figure in every worker (read from the one store): /metrics of several workers shows it once (max), not summed
    keys: new Gauge({ name: 'ssec_gateway_keys', help: 'Known key fingerprints by status (active, retired, compromised).', labelNames: ['status'] as const, registers: [registry], aggregator: 'max' }),
    keysOverdue: new Gauge({ name: 'ssec_gateway_keys_overdue', help: 'Active keys past the rotation policy (age, objects or bytes).', registers: [registry], aggregator: 'max' }),
    storeUp: new Gauge({ name: 'ssec_gateway_fingerprint_store_up', help: '1 when the fingerprint store (Redis) answers, 0 when not.', registers: [registry], aggregator: 'max' }),
    storeQueueDepth: new Gauge({ name: 'ssec_gateway_fingerprint_queue_depth', help: 'Fingerprint events waiting to be written to the store.', registers: [registry] }),
    // processes (`workers`)
    workers: new Gauge({ name: 'ssec_gateway_workers', help: 'Worker processes listening (the `workers` setting; 1 for a single process).', registers: [registry] }),
    workerRestarts: new Counter({ name: 'ssec_gateway_worker_restarts_total', help: 'Worker processes that exited unexpectedly and were started again.', registers: [registry] }),
    logLinesDropped: logDrops(registry),
    storeDropped: new Counter({ name: 'ssec_gateway_fingerprint_events_dropped_total', help: 'Fingerprint events dropped because the queue was full (store down too long).', registers: [registry] }),
  };
  // Closed label sets start at 0, so rate() and the dashboard see a series before the first event.
  for (const outcome of SSE_C_OUTCOMES) m.sseC.inc({ outcome }, 0);
  for (const kind of ['unreachable', 'timeout', 'truncated']) m.upstreamErrors.inc({ kind }, 0);
  for (const kind of ['exposed', 'rotation_due', 'retired_used', 'compromised_used']) m.keyAlerts.inc({ kind }, 0);
  for (const status of ['active', 'retired', 'compromised']) m.keys.set({ status }, 0);
  for (const reason of AUTH_FAILURE_REASONS) m.authFailures.inc({ reason }, 0);
  m.shed.inc({ listener: 'https' }, 0); // (the plaintext listener's series appears with its first shed request)
  return m;
}

/** Every value of `ssec_gateway_sse_c_requests_total{outcome}`. */
export const SSE_C_OUTCOMES = [
  'ok', 'injected', 'rejected_plaintext', 'exposed_key_denied', 'conflict', 'invalid_missing_algorithm', 'invalid_algorithm', 'invalid_missing_key',
  'invalid_missing_key_md5', 'invalid_key', 'invalid_key_md5_mismatch', 'invalid_sse_on_read', 'invalid_key_in_query', 'invalid',
] as const;

/** The usual values of `ssec_gateway_auth_failures_total{reason}` (S3 error codes). */
export const AUTH_FAILURE_REASONS = [
  'SignatureDoesNotMatch', 'InvalidAccessKeyId', 'RequestTimeTooSkewed', 'AccessDenied', 'AuthorizationHeaderMalformed',
  'AuthorizationQueryParametersError', 'InvalidArgument', 'InvalidRequest',
] as const;

export type Metrics = ReturnType<typeof createMetrics>;

export function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}
