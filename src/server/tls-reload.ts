/**
 * Hot reload of the HTTPS listener's certificate and key (`tls.cert` / `tls.key`). When the files
 * are replaced — a Kubernetes Secret volume swapping its `..data` symlink to a new timestamped
 * directory, a rename over the old file, or a write in place — the listener's secure context is
 * swapped with `server.setSecureContext`: TLS connections accepted from then on present the new
 * certificate; connections already open (HTTP/2 sessions, HTTP/1.1 keep-alive, uploads in flight)
 * keep the context they were accepted with and are not touched.
 *
 * Detection is by content, not by events: both files are read every TLS_POLL_MS and compared by
 * digest with the pair in service. That survives every way of replacing them (an fs.watch on a
 * file misses the symlink swap; mtimes can be equal or go backwards) and costs two small reads.
 * A pair that does not load — key not matching, half-written or garbage PEM, already expired —
 * is refused: the previous one keeps being served and an error is logged once for that content
 * (never any key material). A good pair is logged with its SHA-256 fingerprint and notAfter.
 * Same approach as src/auth/reloading.ts (keep the previous value when a load fails); its
 * single-path mtime stamp does not fit a pair of files that change together.
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import tls, { type SecureContextOptions } from 'node:tls';
import type { Logger } from '../logging/logger.js';

/**
 * How often the two files are read and compared with the pair in service (1 s: a rotation is
 * picked up within about a second; reading two small files that often costs nothing).
 */
export const TLS_POLL_MS = 1000;
/**
 * A changed pair is applied only once it has read the same for this long, so that a certificate
 * and key replaced one after the other, or a file still being written, are not taken for a broken
 * pair (and refused with a spurious error) in between.
 */
export const TLS_SETTLE_MS = 300;

/**
 * The secure-context options (other than cert and key) Node keeps on a tls.Server from its
 * creation and that setSecureContext would otherwise reset to their defaults: carried over so a
 * reload changes the certificate and nothing else (e.g. tls.minVersion, or ciphers should the
 * listener set them). Session ticket keys are not carried: the new context gets fresh ones, so
 * every client sees the new certificate on its next handshake rather than resuming past it.
 */
const CARRIED = ['ca', 'crl', 'ciphers', 'sigalgs', 'ecdhCurve', 'dhparam', 'minVersion', 'maxVersion', 'secureProtocol', 'secureOptions', 'honorCipherOrder', 'sessionIdContext', 'sessionTimeout'] as const;

export interface CertificateInfo {
  /** SHA-256 of the leaf certificate's DER, as `openssl x509 -fingerprint -sha256` and getPeerCertificate().fingerprint256 print it */
  fingerprint: string;
  subject: string;
  /** ISO 8601 */
  notAfter: string;
}

/**
 * Checks a PEM certificate chain and private key as a pair: every certificate block complete and
 * parseable, the key matching the leaf, the leaf not expired, and OpenSSL accepting both in a
 * secure context built with `context`. Throws an Error whose message names the problem (and
 * never contains key material).
 */
export function checkPair(cert: string, key: string, context: SecureContextOptions = {}, now = new Date()): CertificateInfo {
  const begins = cert.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
  const blocks = cert.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (begins === 0) throw new Error('no PEM certificate in the certificate file');
  if (blocks.length !== begins) throw new Error('incomplete PEM certificate block in the certificate file (half-written?)');
  let chain: X509Certificate[];
  try { chain = blocks.map((b) => new X509Certificate(b)); } catch (e) { throw new Error(`certificate does not parse: ${(e as Error).message}`); }
  const leaf = chain[0]!;
  let privateKey;
  try { privateKey = createPrivateKey(key); } catch (e) { throw new Error(`private key does not parse: ${(e as Error).message}`); }
  if (!leaf.checkPrivateKey(privateKey)) throw new Error('private key does not match the certificate');
  const notAfter = new Date(leaf.validTo);
  if (!(notAfter.getTime() > now.getTime())) throw new Error(`certificate expired (notAfter ${notAfter.toISOString()})`);
  try { tls.createSecureContext({ ...context, cert, key }); } catch (e) { throw new Error(`certificate/key refused by OpenSSL: ${(e as Error).message}`); }
  return { fingerprint: leaf.fingerprint256, subject: leaf.subject.replace(/\n/g, ', '), notAfter: notAfter.toISOString() };
}

export interface TlsReloadOptions {
  certFile: string;
  keyFile: string;
  /** the pair the server was created with (what it serves now) */
  initial: { cert: string; key: string };
  /** secure-context options to pass on every reload besides cert and key (override what is carried over from the server) */
  context?: SecureContextOptions;
  log: Logger;
  pollMs?: number;
  settleMs?: number;
}

export interface TlsReloader {
  /** the certificate in service */
  readonly current: CertificateInfo | undefined;
  /** reads the files now (what the poll does) */
  check(): void;
  close(): void;
}

const digest = (cert: string, key: string) => createHash('sha256').update(cert).update('\0').update(key).digest('hex');

/** Starts watching `certFile`/`keyFile` and swaps `server`'s secure context when they change to a good pair. */
export function reloadTls(server: http.Server | tls.Server, opts: TlsReloadOptions): TlsReloader {
  if (!(server instanceof tls.Server)) throw new Error('reloadTls: not a TLS server');
  const { certFile, keyFile, log } = opts;
  const files = { certFile, keyFile };
  let applied = digest(opts.initial.cert, opts.initial.key);
  let current: CertificateInfo | undefined;
  try { current = checkPair(opts.initial.cert, opts.initial.key, opts.context); } catch (e) { log.warn({ ...files, err: (e as Error).message }, 'tls certificate in service would not be accepted as a reload'); }
  let refused: string | undefined; // digest of the last pair refused: logged once, tried again only when the files change
  let pending: string | undefined; // digest seen changed, waiting to settle
  let readProblem: string | undefined;
  let settle: NodeJS.Timeout | undefined;
  if (current) log.info({ ...files, ...current }, 'tls certificate in service');

  const contextOptions = (cert: string, key: string): SecureContextOptions => {
    const carried: Record<string, unknown> = {};
    const s = server as unknown as Record<string, unknown>;
    for (const name of CARRIED) if (s[name] !== undefined) carried[name] = s[name];
    return { ...carried, ...opts.context, cert, key };
  };

  const check = () => {
    let cert: string, key: string;
    try {
      cert = readFileSync(certFile, 'utf8');
      key = readFileSync(keyFile, 'utf8');
    } catch (e) {
      const problem = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      if (problem !== readProblem) log.error({ ...files, err: (e as Error).message }, 'tls certificate/key files not readable: keeping the certificate in service');
      readProblem = problem;
      return;
    }
    readProblem = undefined;
    const h = digest(cert, key);
    if (h === applied || h === refused) { pending = undefined; return; }
    if (h !== pending) {
      pending = h;
      clearTimeout(settle);
      settle = setTimeout(check, opts.settleMs ?? TLS_SETTLE_MS);
      settle.unref();
      return;
    }
    pending = undefined;
    try {
      const options = contextOptions(cert, key);
      const info = checkPair(cert, key, options);
      server.setSecureContext(options);
      log.info({ ...files, ...info, previous: current?.fingerprint }, 'tls certificate reloaded');
      applied = h;
      refused = undefined;
      current = info;
    } catch (e) {
      refused = h;
      log.error({ ...files, err: (e as Error).message, serving: current?.fingerprint }, 'tls certificate not reloaded: keeping the certificate in service');
    }
  };

  const poll = setInterval(check, opts.pollMs ?? TLS_POLL_MS);
  poll.unref();
  return {
    get current() { return current; },
    check,
    close() { clearInterval(poll); clearTimeout(settle); },
  };
}
