// The documented metrics and alerts tables are exactly the registry's metrics and the rules file's
// alerts: every document that holds a table between the markers of scripts/metrics-table.ts must
// hold the generated table (helm/ssec-gateway/README.md always; README.md and docs/metrics.md
// when they carry the markers).
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALERTS_BEGIN, ALERTS_END, BEGIN, END, alertsMarkdown, gatewayMetrics, metricsMarkdown } from '../../scripts/metrics-table.js';
import { REPO } from './lib/tools.js';

const DOCS = ['helm/ssec-gateway/README.md', 'README.md', 'docs/metrics.md'];
const REQUIRED = 'helm/ssec-gateway/README.md';

function section(text: string, begin: string, end: string): string | undefined {
  const a = text.indexOf(begin);
  if (a < 0) return undefined;
  const b = text.indexOf(end, a);
  return b < 0 ? text.slice(a) : text.slice(a, b + end.length);
}

const regen = 'regenerate with: node --import @tapjs/typescript/import scripts/metrics-table.ts [alerts]';

t.test('the generated metrics table lists every registry metric with its type and labels', async (t) => {
  const table = metricsMarkdown();
  const metrics = gatewayMetrics();
  t.ok(metrics.length >= 15, `${metrics.length} gateway metrics`);
  for (const m of metrics) {
    t.match(table, new RegExp(`^\\| \`${m.name}\` \\| ${m.type} \\| ${m.labels.map((l) => `\`${l}\``).join(', ')} \\|`, 'm'), `${m.name} (${m.type}${m.labels.length ? `; ${m.labels.join(', ')}` : ''})`);
  }
  const rows = table.split('\n').filter((l) => l.startsWith('| `'));
  t.equal(rows.length, metrics.length, 'and nothing else');
});

for (const [what, begin, end, gen] of [['metrics', BEGIN, END, metricsMarkdown], ['alerts', ALERTS_BEGIN, ALERTS_END, alertsMarkdown]] as const) {
  t.test(`documents list exactly the ${what}`, async (t) => {
    const want = gen();
    let found = 0;
    for (const doc of DOCS) {
      const file = join(REPO, doc);
      if (!existsSync(file)) continue;
      const got = section(readFileSync(file, 'utf8'), begin, end);
      if (got === undefined) {
        if (doc === REQUIRED) t.fail(`${doc} has no ${what} table (${begin})`);
        else t.comment(`${doc}: no ${what} table markers`);
        continue;
      }
      found++;
      t.equal(got, want, `${doc}: the ${what} table is current (${regen})`);
    }
    t.ok(found >= 1, `${found} document(s) with the ${what} table`);
  });
}
