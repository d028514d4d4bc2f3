/**
 * How an object is named inside the store. Bucket names cannot contain "/", and S3 object keys and
 * version ids cannot contain NUL (they must be representable in XML 1.0), so both encodings are
 * unambiguous.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ObjectRef } from './types.js';

/** "null" is S3's name of the unversioned (or versioning-suspended) version: the same entry as none. */
export function normVersion(v: string | undefined | null): string | undefined {
  return v === undefined || v === null || v === '' || v === 'null' ? undefined : v;
}

/** `bucket/key` or `bucket/key\0versionId`: an inventory field. */
export function objectField(o: ObjectRef): string {
  const v = normVersion(o.versionId);
  return v === undefined ? `${o.bucket}/${o.key}` : `${o.bucket}/${o.key}\0${v}`;
}

export function parseObjectField(field: string): ObjectRef {
  const slash = field.indexOf('/');
  const bucket = field.slice(0, slash);
  const rest = field.slice(slash + 1);
  const nul = rest.indexOf('\0');
  return nul < 0 ? { bucket, key: rest } : { bucket, key: rest.slice(0, nul), versionId: rest.slice(nul + 1) };
}

/**
 * The field of an object in its bucket's index shard: 96 bits of SHA-256(key NUL versionId), base64url
 * (16 characters). The index needs to find an object, not to name it (the inventory does), so its
 * memory does not grow with the key's length; a collision needs ~2^48 objects in one shard.
 */
export function indexField(o: ObjectRef): string {
  return createHash('sha256').update(o.key).update('\0').update(normVersion(o.versionId) ?? '').digest().subarray(0, 12).toString('base64url');
}

/** A fingerprint (64 hex) as the index stores it: base64url, 43 characters. */
export function packFingerprint(fp: string): string {
  return Buffer.from(fp, 'hex').toString('base64url');
}

export function unpackFingerprint(packed: string): string {
  return Buffer.from(packed, 'base64url').toString('hex');
}

/** FNV-1a 32-bit, for spreading a bucket's object index over shards. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const PROCESS_TAG = randomBytes(4).toString('base64url').slice(0, 5);
let tokenSeq = 0;

/**
 * A short token that tells two writes of the same object apart: a random tag of this process and a
 * counter (randomBytes per call costs ~5 µs; this ~0.1 µs).
 */
export function writeToken(): string {
  tokenSeq = (tokenSeq + 1) % 0x7fffffff;
  return PROCESS_TAG + tokenSeq.toString(36);
}
