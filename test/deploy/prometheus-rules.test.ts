// prometheus/ssec-gateway.rules.yaml: promtool check rules (lint fatal), promtool test rules (the
// unit tests in prometheus/ssec-gateway.rules.test.yaml), mutations that the unit tests must catch,
// and every metric the rules use exists in src/metrics/registry.ts.
import t from 'tap';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { REPO, requireCommand, run, tryRun } from './lib/tools.js';
import { RULES_FILE } from './lib/generated.js';
import { registryMetricNames, seriesNames } from './lib/metrics.js';

const TEST_FILE = join(REPO, 'prometheus', 'ssec-gateway.rules.test.yaml');
const promtool = requireCommand('promtool');

interface Rule { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
const groups = (parseYaml(readFileSync(RULES_FILE, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups;
const rules = groups.flatMap((g) => g.rules);
const alerts = rules.filter((r) => r.alert);

t.test('promtool check rules (lint fatal)', async (t) => {
  const out = run(promtool, ['check', 'rules', '--lint=all', '--lint-fatal', RULES_FILE]);
  t.match(out, new RegExp(`SUCCESS: ${rules.length} rules found`), `${rules.length} rules (${alerts.length} alerts)`);
});

t.test('promtool test rules: the unit tests pass', async (t) => {
  const out = run(promtool, ['test', 'rules', TEST_FILE], { cwd: join(REPO, 'prometheus') });
  t.match(out, /SUCCESS/, 'prometheus/ssec-gateway.rules.test.yaml');
});

t.test('the alerts the issue asks for exist, labelled and annotated, each unit-tested', async (t) => {
  const required: [string, RegExp][] = [
    ['key exposed', /^SsecGatewayKeyExposed$/],
    ['keys overdue for rotation', /^SsecGatewayKeysOverdueRotation$/],
    ['retired key used', /^SsecGatewayRetiredKeyUsed$/],
    ['error ratio', /^SsecGatewayHighErrorRatio$/],
    ['upstream latency', /^SsecGatewayUpstreamLatencyHigh$/],
    ['Redis down', /^SsecGatewayFingerprintStoreDown$/],
    ['dropped events', /^SsecGatewayFingerprintEventsDropped$/],
    ['load shedding (issue 11)', /^SsecGatewayShedding$/],
    ['log lines dropped (issue 11)', /^SsecGatewayLogLinesDropped$/],
  ];
  for (const [what, re] of required) t.ok(alerts.some((a) => re.test(a.alert!)), `${what}: ${re.source}`);
  const tests = readFileSync(TEST_FILE, 'utf8');
  for (const a of alerts) {
    t.match(a.labels?.severity, /^(critical|warning|info)$/, `${a.alert}: severity label`);
    t.ok(a.annotations?.summary && a.annotations.description, `${a.alert}: summary and description`);
    t.match(tests, new RegExp(`alertname: ${a.alert}\\b`), `${a.alert}: has a promtool unit test`);
  }
});

t.test('every metric used by the rules is in src/metrics/registry.ts', async (t) => {
  const known = await registryMetricNames();
  const recorded = new Set(rules.filter((r) => r.record).map((r) => r.record!));
  for (const r of rules) {
    for (const name of seriesNames(r.expr)) {
      if (recorded.has(name)) continue;
      t.ok(known.has(name), `${r.alert ?? r.record}: ${name}`);
    }
  }
});

t.test('the unit tests catch changed thresholds and durations (mutation check)', async (t) => {
  const text = readFileSync(RULES_FILE, 'utf8');
  const mutations: [string, string, string][] = [
    ['error ratio threshold 5% → 10%', 'job:ssec_gateway_requests_5xx:ratio_rate5m > 0.05', 'job:ssec_gateway_requests_5xx:ratio_rate5m > 0.10'],
    ['Redis down for 2m → 20m', 'ssec_gateway_fingerprint_store_up) == 0\n        for: 2m', 'ssec_gateway_fingerprint_store_up) == 0\n        for: 20m'],
    ['rotation overdue for 1h → 5m', '(ssec_gateway_keys_overdue) > 0\n        for: 1h', '(ssec_gateway_keys_overdue) > 0\n        for: 5m'],
    ['upstream p99 2 s → 10 s', '}[5m]))) > 2\n', '}[5m]))) > 10\n'],
    ['retired key: wrong kind', 'kind="retired_used"', 'kind="rotation_due"'],
    ['exposures window 15m → 1m', 'ssec_gateway_key_exposures_total[15m]', 'ssec_gateway_key_exposures_total[1m]'],
    ['shedding threshold 0.1/s → 1/s', '(rate(ssec_gateway_requests_shed_total[5m])) > 0.1', '(rate(ssec_gateway_requests_shed_total[5m])) > 1'],
    ['shedding for 5m → 15m', '(rate(ssec_gateway_requests_shed_total[5m])) > 0.1\n        for: 5m', '(rate(ssec_gateway_requests_shed_total[5m])) > 0.1\n        for: 15m'],
    ['dropped log lines: wrong metric', 'increase(ssec_gateway_log_lines_dropped_total[10m])', 'increase(ssec_gateway_fingerprint_events_dropped_total[10m])'],
  ];
  const dir = mkdtempSync(join(tmpdir(), 'ssec-rules-mut-'));
  try {
    copyFileSync(TEST_FILE, join(dir, 'ssec-gateway.rules.test.yaml'));
    for (const [what, from, to] of mutations) {
      t.ok(text.includes(from), `${what}: mutation applies`);
      writeFileSync(join(dir, 'ssec-gateway.rules.yaml'), text.replace(from, to));
      const r = tryRun(promtool, ['test', 'rules', 'ssec-gateway.rules.test.yaml'], { cwd: dir });
      t.not(r.status, 0, `${what}: promtool test rules fails`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
