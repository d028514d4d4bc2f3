/**
 * pino JSON logs. The gateway logs no request headers at all; redaction is the second fence: any
 * object that carries SSE-C key headers, authorization, security tokens or cookies is censored,
 * and URLs are logged through redactUrl (presign signatures and hoisted SSE-C query parameters).
 */
import { pino, type Logger } from 'pino';
import { SECRET_HEADERS } from '../s3/headers.js';

export type { Logger };

const paths = SECRET_HEADERS.flatMap((h) => [`headers["${h}"]`, `req.headers["${h}"]`, `*.headers["${h}"]`]);

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino({ level, base: { svc: 'ssec-gateway' }, redact: { paths, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime }, destination as pino.DestinationStream | undefined);
}

const SECRET_QUERY = /^(x-amz-signature|x-amz-credential|x-amz-security-token|signature|awsaccesskeyid|x-amz-server-side-encryption-customer-key|x-amz-copy-source-server-side-encryption-customer-key)$/i;

/** The request URL with presign signatures, credentials and any hoisted SSE-C key removed. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const parts = url.slice(q + 1).split('&').map((p) => {
    const eq = p.indexOf('=');
    const k = eq < 0 ? p : p.slice(0, eq);
    let name = k;
    try { name = decodeURIComponent(k); } catch { /* keep raw */ }
    return SECRET_QUERY.test(name) || /server-side-encryption-customer-key/i.test(name) ? `${k}=[redacted]` : p;
  });
  return url.slice(0, q + 1) + parts.join('&');
}
