/**
 * The gateway's on-disk format, version 1 (docs/format.md is the specification; this file is its
 * reference implementation and the test vectors there are generated from it).
 *
 * An object is one or more *parts* (a PutObject is one part; a multipart upload has one per
 * UploadPart). A part is a 32-byte header followed by AES-256-GCM segments of 64 KiB of plaintext
 * each (the last one shorter, empty only for an empty part), each with its 16-byte tag:
 *
 *   header  = "SGW1" | part number (u32 BE) | plaintext size of the part (u64 BE) | salt (16 bytes)
 *   partKey = HKDF-SHA256(ikm = data key, salt = header.salt, info = "ssec-gateway/v1/part")
 *   segment i = AES-256-GCM(partKey, nonce = i (u88 BE) | last (0x01 or 0x00), aad = header)
 *
 * This is the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015) as age and Tink's
 * streaming AEAD use it: the counter orders the segments, the last flag ends the part, the header is
 * authenticated with every segment. The data key is random per object and stored wrapped in the
 * object's metadata under a key derived from the customer key, the bucket and the object name:
 *
 *   kek     = HKDF-SHA256(ikm = customer key, salt = 16 random bytes, info = "ssec-gateway/v1/kek" | u16 len | bucket | u16 len | key)
 *   wrapped = AES-256-GCM(kek, nonce = 12 zero bytes, data key, aad = "ssec-gateway/v1/wrap")   (a fresh salt, so a fresh kek, per wrap)
 *   x-amz-meta-ssecgw = "1." base64url(salt) "." base64url(wrapped)
 *
 * Testing a guess of the customer key against this metadata costs HKDF and a GCM decryption: more
 * than AES itself. A ciphertext copied to another name does not open (the kek differs).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, type CipherGCM, type DecipherGCM } from 'node:crypto';

export const FORMAT_VERSION = 1;
/** Plaintext bytes per segment. */
export const SEGMENT = 64 * 1024;
export const TAG = 16;
export const HEADER = 32;
/** The metadata header that marks (and opens) an object in this format. */
export const META = 'x-amz-meta-ssecgw';
const MAGIC = Buffer.from('SGW1', 'latin1');
const INFO_PART = Buffer.from('ssec-gateway/v1/part', 'latin1');
const INFO_KEK = 'ssec-gateway/v1/kek';
const AAD_WRAP = Buffer.from('ssec-gateway/v1/wrap', 'latin1');

/** Something wrong with a ciphertext: it was altered, truncated, reordered, moved or opened with another key. */
export class FormatError extends Error {
  constructor(message: string) { super(message); this.name = 'FormatError'; }
}

// ---- sizes ----

export function segmentsOf(plainSize: number): number {
  return Math.max(1, Math.ceil(plainSize / SEGMENT));
}

/** Ciphertext bytes of a part holding `plainSize` bytes. */
export function cipherPartSize(plainSize: number): number {
  return HEADER + plainSize + TAG * segmentsOf(plainSize);
}

/**
 * Plaintext size of an object from its ciphertext size and part count (1 for a PutObject; the
 * `-N` of a multipart ETag). Exact when every part but the last holds a multiple of SEGMENT bytes
 * and the last is not empty (CompleteMultipartUpload enforces it). undefined: not a size this
 * format produces.
 */
export function plainSizeOf(cipherSize: number, parts = 1): number | undefined {
  const x = cipherSize - HEADER * parts;
  if (parts < 1 || x < TAG) return undefined;
  const m = Math.ceil(x / (SEGMENT + TAG));
  const p = x - TAG * m;
  return p >= 0 && segmentsOf(p) === m ? p : undefined;
}

// ---- the part header ----

export interface PartHeader { partNumber: number; plainSize: number; salt: Buffer; raw: Buffer }

export function encodeHeader(partNumber: number, plainSize: number, salt: Buffer = randomBytes(16)): PartHeader {
  const raw = Buffer.alloc(HEADER);
  MAGIC.copy(raw, 0);
  raw.writeUInt32BE(partNumber, 4);
  raw.writeBigUInt64BE(BigInt(plainSize), 8);
  salt.copy(raw, 16, 0, 16);
  return { partNumber, plainSize, salt: raw.subarray(16), raw };
}

export function decodeHeader(raw: Buffer): PartHeader {
  if (raw.length < HEADER || !raw.subarray(0, 4).equals(MAGIC)) throw new FormatError('not a part header of the gateway format (version 1)');
  const plain = raw.readBigUInt64BE(8);
  if (plain > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError('part header: impossible size');
  const copy = Buffer.from(raw.subarray(0, HEADER));
  return { partNumber: copy.readUInt32BE(4), plainSize: Number(plain), salt: copy.subarray(16), raw: copy };
}

export function partKey(dataKey: Buffer, header: PartHeader): Buffer {
  return Buffer.from(hkdfSync('sha256', dataKey, header.salt, INFO_PART, 32));
}

function nonce(index: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  n.writeUIntBE(index, 5, 6); // u88 counter: the low 48 bits are enough for any object S3 can hold
  n[11] = last ? 1 : 0;
  return n;
}

/** The cipher of one segment, associated data set: a stream encrypts a segment piece by piece as its bytes arrive. */
export function segmentCipher(key: Buffer, header: PartHeader, index: number, last: boolean): CipherGCM {
  return createCipheriv('aes-256-gcm', key, nonce(index, last)).setAAD(header.raw);
}

/** The decipher of one segment; its plaintext must not leave before `final()` has checked the tag. */
export function segmentDecipher(key: Buffer, header: PartHeader, index: number, last: boolean): DecipherGCM {
  return createDecipheriv('aes-256-gcm', key, nonce(index, last)).setAAD(header.raw);
}

export function sealSegment(key: Buffer, header: PartHeader, index: number, last: boolean, plain: Buffer): Buffer {
  const c = createCipheriv('aes-256-gcm', key, nonce(index, last));
  c.setAAD(header.raw);
  const out = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
  return out;
}

// ---- the data key ----

export function newDataKey(): Buffer {
  return randomBytes(32);
}

function lengthPrefixed(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

/** HKDF info binding a kek to one object name. */
export function kekInfo(bucket: string, key: string): Buffer {
  return Buffer.concat([Buffer.from(INFO_KEK, 'latin1'), lengthPrefixed(bucket), lengthPrefixed(key)]);
}

/** A source of keks: the customer key, which never leaves CustomerKey (see sse-c/customer-key.ts deriveKey). */
export interface KekSource { deriveKey(salt: Buffer, info: Buffer): Buffer }

export function wrapDataKey(customer: KekSource, bucket: string, key: string, dataKey: Buffer, salt: Buffer = randomBytes(16)): string {
  const kek = customer.deriveKey(salt, kekInfo(bucket, key));
  const c = createCipheriv('aes-256-gcm', kek, Buffer.alloc(12));
  c.setAAD(AAD_WRAP);
  const wrapped = Buffer.concat([c.update(dataKey), c.final(), c.getAuthTag()]);
  kek.fill(0);
  return `${FORMAT_VERSION}.${salt.toString('base64url')}.${wrapped.toString('base64url')}`;
}

/** The data key of an object, or FormatError when this customer key (or this name) does not open it. */
export function unwrapDataKey(customer: KekSource, bucket: string, key: string, meta: string): Buffer {
  const m = /^1\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{64})$/.exec(meta.trim());
  if (!m) throw new FormatError(`${META}: not version 1 of the gateway format`);
  const salt = Buffer.from(m[1]!, 'base64url');
  const wrapped = Buffer.from(m[2]!, 'base64url');
  const kek = customer.deriveKey(salt, kekInfo(bucket, key));
  const d = createDecipheriv('aes-256-gcm', kek, Buffer.alloc(12));
  d.setAAD(AAD_WRAP);
  d.setAuthTag(wrapped.subarray(32));
  const dataKey = d.update(wrapped.subarray(0, 32));
  kek.fill(0);
  try {
    d.final();
  } catch {
    dataKey.fill(0);
    throw new FormatError('the data key does not unwrap: another customer key, or the object was moved from another name');
  }
  return dataKey;
}

/** Whether object metadata marks an object in this format. */
export function isGatewayObject(headers: Record<string, string | string[] | undefined>): boolean {
  return typeof headers[META] === 'string';
}
