// Regenerates the README sections that are generated from code (config schema, error table):
//   node scripts/readme-sections.mjs          rewrite README.md in place
//   node scripts/readme-sections.mjs --check  exit 1 if README.md is stale (the tests run this)
// Needs `npm run build` first (reads dist/).
import { readFileSync, writeFileSync } from 'node:fs';
const { settingsMarkdown } = await import('../dist/config/schema.js');
const { errorsMarkdown } = await import('../dist/errors/markdown.js');
const sections = { 'config-table': settingsMarkdown(), 'error-table': errorsMarkdown() };
try {
  const { metricsMarkdown } = await import('../dist/metrics/markdown.js');
  sections['metrics-table'] = metricsMarkdown();
} catch { /* no metrics table yet */ }
const file = new URL('../README.md', import.meta.url);
const before = readFileSync(file, 'utf8');
let after = before;
for (const [name, body] of Object.entries(sections)) {
  const re = new RegExp(`(<!-- BEGIN ${name} -->\\n)[\\s\\S]*?(<!-- END ${name} -->)`);
  if (!re.test(after)) { console.error(`README.md has no ${name} section`); process.exit(1); }
  after = after.replace(re, `$1${body}\n$2`);
}
if (process.argv.includes('--check')) {
  if (after !== before) { console.error('README.md generated sections are stale: run `npm run build && node scripts/readme-sections.mjs`'); process.exit(1); }
  console.log('README.md generated sections are current');
} else if (after !== before) {
  writeFileSync(file, after);
  console.log('README.md updated');
}
