/**
 * pino JSON logs. The gateway logs no request headers at all; redaction is the second fence: any
 * object that carries SSE-C key headers, authorization, security tokens or cookies is censored,
 * and URLs are logged through redactUrl (presign signatures and hoisted SSE-C query parameters).
 */
import { pino, type Logger } from 'pino';
import { SECRET_HEADERS } from '../s3/headers.js';

export type { Logger };

const paths = SECRET_HEADERS.flatMap((h) => [`headers["${h}"]`, `req.headers["${h}"]`, `*.headers["${h}"]`]);

let dropped = 0;
/** Log lines dropped so far because stdout did not keep up (log.maxBufferBytes). */
export const logLinesDropped = (): number => dropped;

/**
 * JSON lines on stdout (or `destination`). pino's stdout writer queues what the pipe does not take
 * at once, without bound: under overload (a 503 line per shed request, a busy log collector) that
 * queue held 52 MiB after 160 s and RSS grew with it. Past `maxBufferBytes` lines are dropped,
 * counted, and a warning says how many once there is room again.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream, maxBufferBytes = 8 << 20): Logger {
  const out = destination ? (destination as pino.DestinationStream) : pino.destination({ fd: 1, sync: false, maxLength: maxBufferBytes });
  const logger = pino({ level, base: { svc: 'ssec-gateway' }, redact: { paths, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime }, out);
  if (!destination) {
    let reported = 0;
    let note: NodeJS.Timeout | undefined;
    (out as unknown as NodeJS.EventEmitter).on('drop', (data: string) => {
      for (let i = data.indexOf('\n'); i >= 0; i = data.indexOf('\n', i + 1)) dropped++;
      note ??= setTimeout(() => {
        note = undefined;
        const before = dropped;
        logger.warn({ droppedLines: before - reported }, 'log lines dropped: stdout did not take them fast enough (log.maxBufferBytes)');
        // a warning that was dropped itself is counted, and tried again a second later
        if (dropped === before) reported = before;
      }, 1000).unref();
    });
  }
  return logger;
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
