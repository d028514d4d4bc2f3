/**
 * SigV4 signing keys with node:crypto, and a bounded LRU of derived keys.
 *   kDate = HMAC("AWS4" + secret, yyyymmdd); kRegion = HMAC(kDate, region); kService = HMAC(kRegion, service);
 *   kSigning = HMAC(kService, "aws4_request")        (sig-v4-header-based-auth "Calculating a signature")
 * A key is valid for one (secret, day, region, service): cache it, so a request costs 1 HMAC + 1 SHA-256
 * instead of 5 HMACs. Keyed by the secret itself (the credential store holds it in memory anyway; hashing it
 * would cost a third of a cached verify). Entries are derived keys: never log or export the map.
 */
import { createHash, createHmac } from 'node:crypto';

export function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'latin1').digest();
}

export function sha256Hex(data: string | Uint8Array): string {
  return typeof data === 'string' ? createHash('sha256').update(data, 'latin1').digest('hex') : createHash('sha256').update(data).digest('hex');
}

/** The 4-HMAC derivation, uncached. */
export function deriveSigningKey(secretAccessKey: string, date: string, region: string, service: string): Buffer {
  const kDate = createHmac('sha256', `AWS4${secretAccessKey}`).update(date, 'utf8').digest();
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, service);
  return hmac(kService, 'aws4_request');
}

export class SigningKeyCache {
  private readonly map = new Map<string, Buffer>();
  hits = 0;
  misses = 0;

  constructor(readonly capacity = 1024) {}

  get(secretAccessKey: string, date: string, region: string, service: string): Buffer {
    const id = `${date}\n${region}\n${service}\n${secretAccessKey}`;
    const hit = this.map.get(id);
    if (hit) {
      this.hits++;
      // LRU: move to the most recent end
      this.map.delete(id);
      this.map.set(id, hit);
      return hit;
    }
    this.misses++;
    const key = deriveSigningKey(secretAccessKey, date, region, service);
    this.map.set(id, key);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
    return key;
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
  }
}

/** The process-wide cache verify() uses unless given another. */
export const defaultSigningKeys = new SigningKeyCache();
