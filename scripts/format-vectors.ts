// Prints the test-vector section of docs/format.md, or with --write puts it in place.
//   node --import @tapjs/typescript/import scripts/format-vectors.ts [--write]
import { readFileSync, writeFileSync } from 'node:fs';
import { VECTORS_BEGIN, VECTORS_END, vectorsMarkdown } from '../src/encryption/vectors.js';

const section = vectorsMarkdown();
if (process.argv.includes('--write')) {
  const file = new URL('../docs/format.md', import.meta.url);
  const doc = readFileSync(file, 'utf8');
  const a = doc.indexOf(VECTORS_BEGIN);
  const b = doc.indexOf(VECTORS_END, a);
  if (a < 0 || b < 0) throw new Error('docs/format.md has no format-vectors markers');
  writeFileSync(file, doc.slice(0, a) + section + doc.slice(b + VECTORS_END.length));
} else {
  console.log(section);
}
