#!/usr/bin/env node
// Generates grafana/ssec-gateway.json (the ssec-gateway Grafana dashboard): `node grafana/build-dashboard.mjs`.
// Plain data, no dependencies. test/deploy/grafana-dashboard.test.ts checks that the committed JSON is
// this script's output, type-checks it against @grafana/grafana-foundation-sdk's types, parses every
// query with promtool, and test/deploy/live-prometheus.test.ts runs every query against a real
// Prometheus scraping a gateway that served real traffic against Ceph RGW.
//
// Metric names: src/metrics/registry.ts. Queries aggregate over closed label sets only.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DS = { type: 'prometheus', uid: '${datasource}' };
const SEL = 'job=~"$job", instance=~"$instance"';
const RI = '$__rate_interval';

/** `metric{SEL,extra}` */
const m = (name, extra = '') => `${name}{${SEL}${extra ? ', ' + extra : ''}}`;
const REQ = 'ssec_gateway_request_duration_seconds';
const UP = 'ssec_gateway_upstream_duration_seconds';

let nextId = 1;
let y = 0;
let x = 0;
let rowHeight = 0;
const panels = [];

function row(title) {
  if (x > 0) { y += rowHeight; x = 0; rowHeight = 0; }
  panels.push({ type: 'row', id: nextId++, title, collapsed: false, panels: [], gridPos: { h: 1, w: 24, x: 0, y } });
  y += 1;
}

function place(w, h) {
  if (x + w > 24) { y += rowHeight; x = 0; rowHeight = 0; }
  const pos = { h, w, x, y };
  x += w;
  rowHeight = Math.max(rowHeight, h);
  return pos;
}

function target(expr, legendFormat, refId, extra = {}) {
  return { datasource: DS, refId, expr, legendFormat: legendFormat ?? '__auto', range: true, instant: false, editorMode: 'code', ...extra };
}

function targets(list) {
  return list.map(([expr, legend], i) => target(expr, legend, String.fromCharCode(65 + i)));
}

function thresholds(steps) {
  return { mode: 'absolute', steps: steps.map(([value, color]) => ({ value, color })) };
}

function timeseries({ title, description, w = 12, h = 8, unit = 'short', queries, stack = false, min = 0, decimals }) {
  return {
    type: 'timeseries', id: nextId++, title, description, datasource: DS, gridPos: place(w, h),
    targets: targets(queries),
    fieldConfig: {
      defaults: {
        unit, min, ...(decimals !== undefined ? { decimals } : {}),
        color: { mode: 'palette-classic' },
        thresholds: thresholds([[null, 'green']]),
        custom: {
          drawStyle: 'line', lineInterpolation: 'linear', lineWidth: 1, fillOpacity: stack ? 30 : 10,
          gradientMode: 'none', showPoints: 'never', pointSize: 4, spanNulls: false,
          stacking: { mode: stack ? 'normal' : 'none', group: 'A' },
          axisPlacement: 'auto', axisBorderShow: false, axisCenteredZero: false, axisColorMode: 'text', axisLabel: '',
          scaleDistribution: { type: 'linear' }, barAlignment: 0, insertNulls: false,
          hideFrom: { legend: false, tooltip: false, viz: false },
          thresholdsStyle: { mode: 'off' },
        },
      },
      overrides: [],
    },
    options: {
      legend: { displayMode: 'list', placement: 'bottom', showLegend: true, calcs: [] },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
  };
}

function stat({ title, description, w = 4, h = 4, unit = 'short', query, legend, steps = [[null, 'green']], mappings = [], decimals, colorMode = 'value', graphMode = 'area' }) {
  return {
    type: 'stat', id: nextId++, title, description, datasource: DS, gridPos: place(w, h),
    targets: targets([[query, legend]]),
    fieldConfig: {
      defaults: { unit, ...(decimals !== undefined ? { decimals } : {}), color: { mode: 'thresholds' }, thresholds: thresholds(steps), mappings },
      overrides: [],
    },
    options: {
      graphMode, colorMode, justifyMode: 'auto', textMode: 'auto', wideLayout: true, showPercentChange: false,
      percentChangeColorMode: 'standard', orientation: 'auto',
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
    },
  };
}

const upDown = [
  { type: 'value', options: { 0: { text: 'DOWN', color: 'red', index: 0 }, 1: { text: 'UP', color: 'green', index: 1 } } },
];

const rate = (name, extra) => `rate(${m(name, extra)}[${RI}])`;
const allReq = `sum(${rate(`${REQ}_count`)})`;
const quantile = (q, hist, by = 'operation') => `histogram_quantile(${q}, sum by (${by ? by + ', ' : ''}le) (${rate(`${hist}_bucket`)}))`;

// ---- overview -------------------------------------------------------------------------------
row('Overview');
panels.push(
  stat({ title: 'Requests / s', unit: 'reqps', query: allReq, description: 'All requests answered by the gateway (both listeners).' }),
  stat({
    title: '5xx ratio', unit: 'percentunit', decimals: 2, steps: [[null, 'green'], [0.01, 'orange'], [0.05, 'red']],
    // 0 while there is traffic and no 5xx series, so "no errors" shows as 0 % rather than "No data"
    query: `(sum(${rate(`${REQ}_count`, 'status_class="5xx"')}) or 0 * ${allReq}) / ${allReq}`,
    description: 'Share of requests answered with 5xx (alert SsecGatewayHighErrorRatio above 5 %).',
  }),
  stat({ title: 'p99 latency', unit: 's', query: quantile(0.99, REQ, ''), steps: [[null, 'green'], [1, 'orange'], [5, 'red']], description: 'All operations; large uploads and downloads dominate it.' }),
  stat({
    title: 'SSE-C refused', unit: 'short', decimals: 0, graphMode: 'none', steps: [[null, 'green'], [1, 'orange']],
    query: `sum(increase(${m('ssec_gateway_sse_c_requests_total', 'outcome!="ok"')}[$__range]))`,
    description: 'SSE-C requests refused in the time range: invalid triplets, conflicts, and SSE-C on the plaintext listener.',
  }),
  stat({
    title: 'Keys exposed', unit: 'short', decimals: 0, graphMode: 'none', colorMode: 'background', steps: [[null, 'green'], [1, 'red']],
    query: `sum(increase(${m('ssec_gateway_key_exposures_total')}[$__range]))`,
    description: 'SSE-C keys that arrived on the plaintext listener in the time range. Each must be rotated (alert SsecGatewayKeyExposed).',
  }),
  stat({
    title: 'Fingerprint store', graphMode: 'none', colorMode: 'background', steps: [[null, 'red'], [1, 'green']], mappings: upDown,
    query: `min(${m('ssec_gateway_fingerprint_store_up')})`,
    description: 'Lowest ssec_gateway_fingerprint_store_up over the selected replicas: DOWN when any replica cannot reach Redis.',
  }),
);

// ---- traffic --------------------------------------------------------------------------------
row('Traffic');
panels.push(
  timeseries({ title: 'Requests / s by operation', unit: 'reqps', stack: true, queries: [[`sum by (operation) (${rate(`${REQ}_count`)})`, '{{operation}}']] }),
  timeseries({ title: 'Requests / s by status class', unit: 'reqps', stack: true, queries: [[`sum by (status_class) (${rate(`${REQ}_count`)})`, '{{status_class}}']] }),
  timeseries({
    title: 'Body throughput', unit: 'Bps', queries: [
      [`sum(${rate('ssec_gateway_request_bytes_total')})`, 'from clients'],
      [`sum(${rate('ssec_gateway_response_bytes_total')})`, 'to clients'],
    ],
  }),
  timeseries({
    title: 'In flight and connections', unit: 'short', queries: [
      [`sum by (listener) (${m('ssec_gateway_requests_in_flight')})`, 'in flight ({{listener}})'],
      [`sum by (protocol) (${m('ssec_gateway_connections')})`, 'connections ({{protocol}})'],
    ],
  }),
);

// ---- errors ---------------------------------------------------------------------------------
row('Errors');
panels.push(
  timeseries({ title: 'Error responses / s by operation', unit: 'reqps', w: 6, queries: [[`sum by (operation, status_class) (${rate(`${REQ}_count`, 'status_class=~"4xx|5xx"')})`, '{{operation}} {{status_class}}']] }),
  timeseries({ title: 'Upstream failures / s by kind', unit: 'reqps', w: 6, queries: [[`sum by (kind) (${rate('ssec_gateway_upstream_errors_total')})`, '{{kind}}']], description: 'unreachable, timeout (504), truncated bodies.' }),
  timeseries({ title: 'Shed requests / s (503 SlowDown)', unit: 'reqps', w: 6, queries: [[`sum by (instance) (${rate('ssec_gateway_requests_shed_total')})`, '{{instance}}']], description: 'Answered 503 SlowDown because limits.maxInFlight requests were in flight (alert SsecGatewayShedding).' }),
  timeseries({ title: 'TLS handshake failures / s', unit: 'short', w: 6, queries: [[`sum(${rate('ssec_gateway_tls_handshake_failures_total')})`, 'failed handshakes']] }),
);

// ---- latency --------------------------------------------------------------------------------
row('Latency by operation');
panels.push(
  timeseries({ title: 'p50 request duration', unit: 's', w: 8, queries: [[quantile(0.5, REQ), '{{operation}}']] }),
  timeseries({ title: 'p90 request duration', unit: 's', w: 8, queries: [[quantile(0.9, REQ), '{{operation}}']] }),
  timeseries({ title: 'p99 request duration', unit: 's', w: 8, queries: [[quantile(0.99, REQ), '{{operation}}']] }),
  timeseries({ title: 'p99 upstream time to headers', unit: 's', w: 12, queries: [[quantile(0.99, UP), '{{operation}}']], description: 'From sending the request upstream to its response headers (alert SsecGatewayUpstreamLatencyHigh).' }),
  timeseries({ title: 'Upstream responses / s by status class', unit: 'reqps', w: 12, stack: true, queries: [[`sum by (status_class) (${rate(`${UP}_count`)})`, '{{status_class}}']] }),
);

// ---- SSE-C and keys ---------------------------------------------------------------------------
row('SSE-C and keys');
panels.push(
  timeseries({ title: 'SSE-C decisions / s by outcome', unit: 'reqps', w: 12, stack: true, queries: [[`sum by (outcome) (${rate('ssec_gateway_sse_c_requests_total')})`, '{{outcome}}']], description: 'ok, rejected_plaintext, invalid_* by reason, conflict.' }),
  timeseries({
    title: 'Key alerts by kind', unit: 'short', w: 12, decimals: 0,
    queries: [[`sum by (kind) (increase(${m('ssec_gateway_key_alerts_total')}[$__range]))`, '{{kind}}']],
    description: 'Key alerts raised in the time range: exposed, rotation_due, retired_used.',
  }),
  timeseries({ title: 'Known keys by status', unit: 'short', w: 12, decimals: 0, queries: [[`max by (status) (${m('ssec_gateway_keys')})`, '{{status}}']] }),
  timeseries({ title: 'Keys overdue for rotation', unit: 'short', w: 12, decimals: 0, queries: [[`max(${m('ssec_gateway_keys_overdue')})`, 'overdue']], description: 'Active keys past the rotation policy (alert SsecGatewayKeysOverdueRotation).' }),
);

// ---- fingerprint store ------------------------------------------------------------------------
row('Fingerprint store (Redis)');
panels.push(
  timeseries({ title: 'Store reachable', unit: 'short', w: 8, queries: [[m('ssec_gateway_fingerprint_store_up'), '{{instance}}']], description: '1 when Redis answers (alert SsecGatewayFingerprintStoreDown).' }),
  timeseries({ title: 'Queued key events', unit: 'short', w: 8, queries: [[`sum by (instance) (${m('ssec_gateway_fingerprint_queue_depth')})`, '{{instance}}']] }),
  timeseries({ title: 'Dropped key events / s', unit: 'short', w: 8, queries: [[`sum(${rate('ssec_gateway_fingerprint_events_dropped_total')})`, 'dropped']], description: 'Alert SsecGatewayFingerprintEventsDropped.' }),
);

// ---- process --------------------------------------------------------------------------------
row('Process');
panels.push(
  timeseries({ title: 'Resident memory', unit: 'bytes', w: 6, queries: [[m('ssec_gateway_process_resident_memory_bytes'), '{{instance}}']] }),
  timeseries({ title: 'CPU', unit: 'percentunit', w: 6, queries: [[rate('ssec_gateway_process_cpu_seconds_total'), '{{instance}}']] }),
  timeseries({ title: 'Event loop lag p99', unit: 's', w: 6, queries: [[m('ssec_gateway_nodejs_eventloop_lag_p99_seconds'), '{{instance}}']] }),
  timeseries({ title: 'Dropped log lines / s', unit: 'short', w: 6, queries: [[`sum by (instance) (${rate('ssec_gateway_log_lines_dropped_total')})`, '{{instance}}']], description: 'Log lines stdout did not take fast enough, past log.maxBufferBytes (alert SsecGatewayLogLinesDropped).' }),
);

for (const p of panels) if (p.description === undefined) delete p.description;

const variable = (name, label, metricSelector) => ({
  type: 'query', name, label, datasource: DS,
  query: { query: `label_values(${metricSelector}, ${name})`, refId: 'PrometheusVariableQueryEditor-VariableQuery', qryType: 1 },
  definition: `label_values(${metricSelector}, ${name})`,
  refresh: 2, sort: 1, multi: true, includeAll: true, allValue: '.+',
  current: { selected: true, text: ['All'], value: ['$__all'] }, options: [], hide: 0, regex: '',
});

export const dashboard = {
  uid: 'ssec-gateway',
  title: 'ssec-gateway',
  description: 'SSE-C gateway in front of S3 / Ceph RGW: traffic, errors, latency per S3 operation, SSE-C outcomes, key alerts, upstream and fingerprint store health.',
  tags: ['ssec-gateway', 's3', 'sse-c'],
  editable: true,
  graphTooltip: 1,
  timezone: 'browser',
  time: { from: 'now-6h', to: 'now' },
  refresh: '30s',
  schemaVersion: 39,
  version: 1,
  fiscalYearStartMonth: 0,
  liveNow: false,
  links: [],
  annotations: {
    list: [{
      builtIn: 1, datasource: { type: 'grafana', uid: '-- Grafana --' }, enable: true, hide: true,
      iconColor: 'rgba(0, 211, 255, 1)', name: 'Annotations & Alerts', type: 'dashboard',
    }],
  },
  templating: {
    list: [
      {
        type: 'datasource', name: 'datasource', label: 'Data source', query: 'prometheus', hide: 0, refresh: 1, regex: '',
        current: { selected: false, text: 'default', value: 'default' }, options: [], includeAll: false, multi: false,
      },
      variable('job', 'Job', 'ssec_gateway_process_start_time_seconds'),
      variable('instance', 'Instance', 'ssec_gateway_process_start_time_seconds{job=~"$job"}'),
    ],
  },
  panels,
};

export function dashboardJson() {
  return JSON.stringify(dashboard, null, 2) + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = fileURLToPath(new URL('./ssec-gateway.json', import.meta.url));
  writeFileSync(out, dashboardJson());
  console.error(`wrote ${out} (${panels.filter((p) => p.type !== 'row').length} panels)`);
}
