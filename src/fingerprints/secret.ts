import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveSecret } from '../config/load.js';

/**
 * The HMAC secret of key fingerprints. From config (value, env: or file:); without one, the
 * quick-start default creates a random one in stateDir and keeps it (the caller warns), so that
 * fingerprints stay stable across restarts of one machine.
 */
export function fingerprintSecret(spec: string | undefined, stateDir: string): { secret: Buffer; generatedAt?: string } {
  if (spec) return { secret: Buffer.from(resolveSecret(spec), 'utf8') };
  const file = join(stateDir, 'fingerprint-secret');
  if (!existsSync(file)) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
  }
  return { secret: Buffer.from(readFileSync(file, 'utf8').trim(), 'utf8'), generatedAt: file };
}
