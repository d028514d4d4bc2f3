import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The quick-start certificate: created once with openssl in `stateDir/tls/` and kept, so clients
 * can trust it (`AWS_CA_BUNDLE=…/cert.pem`). Valid for 127.0.0.1, ::1 and localhost.
 */
export function ensureSelfSigned(stateDir: string): { cert: string; key: string; certFile: string; created: boolean } {
  const dir = join(stateDir, 'tls');
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  let created = false;
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '825',
        '-subj', '/CN=ssec-gateway self-signed', '-addext', 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost',
        '-keyout', keyFile, '-out', certFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      throw new Error(`cannot create a self-signed certificate with openssl (give --tls-cert and --tls-key instead): ${(e as Error).message}`);
    }
    created = true;
  }
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), certFile, created };
}
