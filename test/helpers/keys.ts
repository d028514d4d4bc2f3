// Checks that SSE-C key material never shows up in logs, error bodies, metrics, client output, ...

/** The minimal assertion surface used here; a tap Test satisfies it. */
export interface Asserter {
  pass(message: string): unknown;
  fail(message: string, extra: Record<string, unknown>): unknown;
}

const FORM_NAMES = ['raw', 'base64', 'hex', 'base64url'] as const;

/** The forms in which a key could leak: raw bytes as a latin1 string, base64, hex (lower case), base64url. */
export function keyForms(raw: Buffer): string[] {
  return [raw.toString('latin1'), raw.toString('base64'), raw.toString('hex'), raw.toString('base64url')];
}

/**
 * One tap assertion: fails if any form of any key appears in `text` (hex compared case-insensitively,
 * base64 also without its `=` padding). The failure names the key index, the form and the offset,
 * never the key itself.
 */
export function assertNoKeyMaterial(t: Asserter, text: string, keys: Buffer[], label: string): boolean {
  const lower = text.toLowerCase();
  const found: { key: number; form: string; offset: number }[] = [];
  keys.forEach((raw, key) => {
    if (raw.length === 0) return;
    keyForms(raw).forEach((form, i) => {
      const name = FORM_NAMES[i]!;
      let offset: number;
      if (name === 'hex') offset = lower.indexOf(form.toLowerCase());
      else if (name === 'base64') offset = text.indexOf(form.replace(/=+$/, ''));
      else offset = text.indexOf(form);
      if (offset >= 0) found.push({ key, form: name, offset });
    });
  });
  if (found.length === 0) {
    t.pass(`${label}: no key material (${keys.length} key(s), ${text.length} chars checked)`);
    return true;
  }
  t.fail(`${label}: key material found`, { found });
  return false;
}
