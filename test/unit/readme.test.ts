/**
 * The README's configuration and error tables are generated from the schema and the error table;
 * a stale README is a failing test, not a silent lie. (`npm test` builds dist/ first.)
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { SETTINGS, envName } from '../../src/config/schema.js';
import { ERRORS } from '../../src/errors/table.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

t.test('generated README sections are current', async (t) => {
  const out = execFileSync(process.execPath, ['scripts/readme-sections.mjs', '--check'], { cwd: new URL('../..', import.meta.url), encoding: 'utf8' });
  t.match(out, /current/);
});

t.test('every setting, its flag and env var appear in the README', async (t) => {
  for (const s of SETTINGS) {
    t.ok(readme.includes(`\`${s.path}\``), s.path);
    t.ok(readme.includes(`\`${envName(s.path)}\``), envName(s.path));
    if ('flag' in s && s.flag) t.ok(readme.includes(`\`--${s.flag}\``), `--${s.flag}`);
  }
});

t.test('every error message of the table appears in the README', async (t) => {
  for (const [name, e] of Object.entries(ERRORS)) t.ok(readme.includes(e.message.replace(/\|/g, '\\|')), name);
});

t.test('the README names the two quick-start commands', async (t) => {
  t.match(readme, /npm ci && npm run demo/);
  t.match(readme, /\nnpm test/);
});
