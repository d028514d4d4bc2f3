// The metric names the gateway exposes, from src/metrics/registry.ts (and prom-client's defaults).
import { createMetrics } from '../../../src/metrics/registry.js';

/** Every series name the registry can expose: counters/gauges by name, histograms with _bucket/_count/_sum. */
export async function registryMetricNames(): Promise<Set<string>> {
  const { registry } = createMetrics();
  const out = new Set<string>();
  for (const m of await registry.getMetricsAsJSON()) {
    out.add(m.name);
    if (['histogram', 'summary'].includes(String(m.type))) for (const s of ['_bucket', '_count', '_sum']) out.add(m.name + s);
  }
  return out;
}

/** The gateway metric names (ssec_gateway_*) a PromQL expression reads. */
export function seriesNames(expr: string): string[] {
  return [...new Set(expr.match(/(?<![\w:])ssec_gateway_[a-z0-9_]+(?![\w:])/g) ?? [])];
}
