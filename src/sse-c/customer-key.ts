/**
 * The only module that touches a raw customer key. It validates an SSE-C header triplet in the one
 * fixed order of sse-c-reference.md Part A §7 rule 3 (first failure wins) and turns a valid key into
 * a CustomerKey whose raw bytes never leave this file: callers get the key-MD5 (which S3 echoes
 * anyway), an HMAC fingerprint, and — for forwarding — the header value.
 */
import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';
import { GatewayError } from '../errors/gateway-error.js';
import { SSEC, type TripletHeaders } from '../s3/headers.js';

// 32 bytes in canonical base64 are 43 characters plus one '=' (the last character carries 2 zero bits).
const KEY_B64 = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
const MD5_B64 = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

export class CustomerKey {
  readonly #raw: Buffer;
  readonly #b64: string;
  /** base64 MD5 of the raw key, as sent in `…-customer-key-MD5` */
  readonly keyMd5: string;

  private constructor(raw: Buffer, b64: string, keyMd5: string) {
    this.#raw = raw;
    this.#b64 = b64;
    this.keyMd5 = keyMd5;
  }

  /** Builds a key from 32 raw bytes (keyring files, rotation). */
  static fromRaw(raw: Buffer): CustomerKey {
    if (raw.length !== 32) throw new GatewayError('SseCInvalidKey');
    const copy = Buffer.from(raw);
    return new CustomerKey(copy, copy.toString('base64'), createHash('md5').update(copy).digest('base64'));
  }

  /**
   * A keyring file's content: 32 raw bytes (`openssl rand 32 > key`, or a Kubernetes Secret whose
   * data is the raw key), or text holding base64 (44 characters) or hex (64 digits) of 32 bytes.
   */
  static fromKeyFile(content: Buffer): CustomerKey {
    if (content.length === 32) return CustomerKey.fromRaw(content);
    const text = content.toString('utf8').trim();
    if (KEY_B64.test(text)) return CustomerKey.fromRaw(Buffer.from(text, 'base64'));
    if (/^[0-9a-fA-F]{64}$/.test(text)) return CustomerKey.fromRaw(Buffer.from(text, 'hex'));
    throw new Error('not a 32-byte key: expected 32 raw bytes, 44 characters of base64 or 64 hex digits');
  }

  /** HMAC-SHA256(secret, raw key), hex. Never a plain hash: keys may be passphrases. */
  fingerprint(secret: Buffer): string {
    return createHmac('sha256', secret).update(this.#raw).digest('hex');
  }

  /** HKDF-SHA256 of the raw key: the gateway format's key-encryption keys (encryption/format.ts). */
  deriveKey(salt: Buffer, info: Buffer): Buffer {
    return Buffer.from(hkdfSync('sha256', this.#raw, salt, info, 32));
  }

  /** The triplet as request headers (`SSEC`, or `COPY_SSEC` for a copy source), for the upstream. */
  headers(names: TripletHeaders = SSEC): Record<string, string> {
    return { [names.algorithm]: 'AES256', [names.key]: this.#b64, [names.keyMd5]: this.keyMd5 };
  }

  equals(other: CustomerKey): boolean {
    return timingSafeEqual(this.#raw, other.#raw);
  }

  toJSON(): string { return `CustomerKey(md5=${this.keyMd5})`; }
  toString(): string { return this.toJSON(); }
  [inspect.custom](): string { return this.toJSON(); }
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

/**
 * Validates one triplet. Returns undefined when none of its three headers is present.
 * Order (Part A §7 rule 3): algorithm present → algorithm AES256 → key present → MD5 present →
 * key strict base64 of 32 bytes → MD5(raw key) matches. Error messages name headers, never values.
 */
export function parseTriplet(headers: Record<string, string | string[] | undefined>, names: TripletHeaders): CustomerKey | undefined {
  const algorithm = single(headers[names.algorithm]);
  const key = single(headers[names.key]);
  const keyMd5 = single(headers[names.keyMd5]);
  if (algorithm === undefined && key === undefined && keyMd5 === undefined) return undefined;
  if (algorithm === undefined || algorithm === '') throw new GatewayError('SseCMissingAlgorithm', { argumentName: names.algorithm });
  if (algorithm !== 'AES256') throw new GatewayError('SseCInvalidAlgorithm', { argumentName: names.algorithm });
  if (key === undefined || key.trim() === '') throw new GatewayError('SseCMissingKey', { argumentName: names.key });
  if (keyMd5 === undefined || keyMd5.trim() === '') throw new GatewayError('SseCMissingKeyMd5', { argumentName: names.keyMd5 });
  const k = key.trim();
  if (!KEY_B64.test(k)) throw new GatewayError('SseCInvalidKey', { argumentName: names.key });
  const raw = Buffer.from(k, 'base64');
  const md5 = createHash('md5').update(raw).digest();
  const sent = keyMd5.trim();
  if (!MD5_B64.test(sent) || !timingSafeEqual(md5, Buffer.from(sent, 'base64'))) {
    raw.fill(0);
    throw new GatewayError('SseCKeyMd5Mismatch', { argumentName: names.keyMd5 });
  }
  return CustomerKey.fromRaw(raw);
}

/**
 * Fingerprint of whatever key material a request carried, valid or not — used when a key must be
 * treated as exposed (plaintext listener). A well-formed key is fingerprinted over its raw bytes so
 * it matches the fingerprint of the same key used correctly; anything else over the header text.
 */
export function exposedFingerprint(headerValue: string, secret: Buffer): string {
  const v = headerValue.trim();
  const material = KEY_B64.test(v) ? Buffer.from(v, 'base64') : Buffer.from(v, 'utf8');
  return createHmac('sha256', secret).update(material).digest('hex');
}

/** Short id shown to people: the first 16 hex digits of the fingerprint. */
export function shortId(fingerprint: string): string {
  return fingerprint.slice(0, 16);
}
