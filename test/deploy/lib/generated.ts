// Generated copies in deploy/monitoring/ (kustomize cannot read files outside its directory):
// the PrometheusRule wrapping prometheus/ssec-gateway.rules.yaml, and grafana/ssec-gateway.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './tools.js';

export const RULES_FILE = join(REPO, 'prometheus', 'ssec-gateway.rules.yaml');

export function expectedMonitoringFiles(): Record<string, string> {
  const rules = readFileSync(RULES_FILE, 'utf8');
  const body = rules.split('\n').filter((l) => !l.startsWith('#')).join('\n').replace(/^\n+/, '');
  const rule = [
    '# GENERATED from prometheus/ssec-gateway.rules.yaml — do not edit; regenerate with',
    '#   SSEC_UPDATE_GENERATED=1 npx tap test/deploy/kustomize.test.ts',
    'apiVersion: monitoring.coreos.com/v1',
    'kind: PrometheusRule',
    'metadata:',
    '  name: ssec-gateway',
    'spec:',
    ...body.trimEnd().split('\n').map((l) => (l ? `  ${l}` : l)),
    '',
  ].join('\n');
  return {
    [join(REPO, 'deploy', 'monitoring', 'prometheusrule.yaml')]: rule,
    [join(REPO, 'deploy', 'monitoring', 'ssec-gateway.json')]: readFileSync(join(REPO, 'grafana', 'ssec-gateway.json'), 'utf8'),
  };
}

/** Files whose content differs from what they should be (rewritten when update is true). */
export function staleMonitoringFiles(update: boolean): string[] {
  const stale: string[] = [];
  for (const [file, want] of Object.entries(expectedMonitoringFiles())) {
    let have = '';
    try { have = readFileSync(file, 'utf8'); } catch { /* missing */ }
    if (have !== want) {
      stale.push(file);
      if (update) writeFileSync(file, want);
    }
  }
  return stale;
}
