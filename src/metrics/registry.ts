/**
 * Every metric of the gateway, in one registry (prom-client). Labels are closed sets only:
 * operation (S3 operation names), method, status class, protocol, outcome/reason — never bucket,
 * object key, access key or key fingerprint.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
    connections: new Gauge({ name: 'ssec_gateway_connections', help: 'Open client connections by protocol.', labelNames: ['protocol'] as const, registers: [registry] }),
    tlsFailures: new Counter({ name: 'ssec_gateway_tls_handshake_failures_total', help: 'TLS handshakes that failed.', registers: [registry] }),
    sseC: new Counter({
      name: 'ssec_gateway_sse_c_requests_total', help: 'SSE-C decisions: ok, rejected_plaintext, invalid_* (by reason), conflict.',
      labelNames: ['outcome'] as const, registers: [registry],
    }),
    keyExposures: new Counter({ name: 'ssec_gateway_key_exposures_total', help: 'SSE-C keys seen on the plaintext listener (each must be rotated).', registers: [registry] }),
    upstreamErrors: new Counter({ name: 'ssec_gateway_upstream_errors_total', help: 'Upstream failures by kind: unreachable, timeout, truncated.', labelNames: ['kind'] as const, registers: [registry] }),
    upstreamMessagesFilled: new Counter({ name: 'ssec_gateway_upstream_error_messages_filled_total', help: 'Upstream error bodies whose empty <Message/> was filled in.', labelNames: ['code'] as const, registers: [registry] }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;

export function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}
