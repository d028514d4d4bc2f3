import { ERRORS } from './table.js';

/** The README's error table, generated from the error table. */
export function errorsMarkdown(): string {
  const rows = ['| HTTP | S3 Code | Message | When |', '|---|---|---|---|'];
  for (const e of Object.values(ERRORS)) rows.push(`| ${e.status} | \`${e.code}\` | ${e.message.replace(/\|/g, '\\|')} | ${e.when} |`);
  return rows.join('\n');
}
