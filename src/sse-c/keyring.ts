/**
 * The keyring: a directory of key files (a mounted Kubernetes Secret works as is), one key per
 * file, the file name being the key id. Hidden files (the Secret's `..data` links) are skipped.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../config/load.js';
import { CustomerKey } from './customer-key.js';

export type Keyring = ReadonlyMap<string, CustomerKey>;

export function loadKeyring(dir: string): Keyring {
  const keys = new Map<string, CustomerKey>();
  const problems: string[] = [];
  let names: string[];
  try { names = readdirSync(dir); } catch (e) { throw new ConfigError([`keyring ${dir}: ${(e as NodeJS.ErrnoException).code ?? e}`]); }
  for (const name of names.sort()) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    try {
      if (!statSync(path).isFile()) continue;
      keys.set(name, CustomerKey.fromKeyFile(readFileSync(path)));
    } catch (e) {
      problems.push(`keyring ${path}: ${(e as Error).message}`);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return keys;
}
