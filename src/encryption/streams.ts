/**
 * Streaming encryption and decryption in the gateway format (format.ts): at most one segment
 * (64 KiB) is held at a time, whatever the object size.
 */
import type { CipherGCM, DecipherGCM } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import {
  FormatError, HEADER, SEGMENT, TAG, cipherPartSize, decodeHeader, encodeHeader, partKey, segmentCipher, segmentDecipher, segmentsOf,
  type PartHeader,
} from './format.js';

/**
 * Seals one part: takes exactly `plainSize` bytes of plaintext, in pieces of any size, and hands
 * out the part header and its sealed segments. Each piece is encrypted as it arrives (GCM is a
 * stream mode): no segment is gathered first, so nothing is copied. The last segment's tag waits
 * for final(): the upstream gets the complete part only once the body has ended where announced
 * and every check on it has passed (nothing partial is stored). Not a stream, so the gateway's
 * upload path can write its output straight to the upstream socket (putPart).
 */
export class PartSealer {
  readonly #key: Buffer;
  readonly #header: PartHeader;
  readonly #segments: number;
  #cipher: CipherGCM | undefined;
  /** plaintext bytes of the current segment encrypted so far */
  #fill = 0;
  #index = 0;
  #received = 0;

  constructor(dataKey: Buffer, partNumber: number, plainSize: number, salt?: Buffer) {
    this.#header = encodeHeader(partNumber, plainSize, salt);
    this.#key = partKey(dataKey, this.#header);
    this.#segments = segmentsOf(plainSize);
  }

  /** The part header: the first bytes of the part. */
  get header(): Buffer { return this.#header.raw; }

  /** Bytes of the whole part (header included). */
  get cipherSize(): number { return cipherPartSize(this.#header.plainSize); }

  #length(index: number): number {
    return Math.min(SEGMENT, this.#header.plainSize - index * SEGMENT);
  }

  #open(): CipherGCM {
    return (this.#cipher ??= segmentCipher(this.#key, this.#header, this.#index, this.#index === this.#segments - 1));
  }

  /** Encrypts `chunk`; `out` gets its ciphertext and the tags of the segments it completes. */
  update(chunk: Buffer, out: (b: Buffer) => void): void {
    this.#received += chunk.length;
    if (this.#received > this.#header.plainSize) throw new FormatError(`more than the ${this.#header.plainSize} bytes announced`);
    let off = 0;
    while (off < chunk.length) {
      const cipher = this.#open();
      const take = Math.min(this.#length(this.#index) - this.#fill, chunk.length - off);
      const sealed = cipher.update(off === 0 && take === chunk.length ? chunk : chunk.subarray(off, off + take));
      if (sealed.length) out(sealed);
      off += take;
      this.#fill += take;
      if (this.#fill === this.#length(this.#index) && this.#index < this.#segments - 1) {
        cipher.final();
        out(cipher.getAuthTag());
        this.#cipher = undefined;
        this.#index++;
        this.#fill = 0;
      }
    }
  }

  /** The last segment's tag, once exactly `plainSize` bytes went through update(). */
  final(): Buffer {
    if (this.#received !== this.#header.plainSize) throw new FormatError(`the body ended after ${this.#received} of ${this.#header.plainSize} bytes`);
    const cipher = this.#open(); // the last segment (created here when the part is empty)
    cipher.final();
    this.#key.fill(0);
    return cipher.getAuthTag();
  }

  /** Wipes the part key of a part that will not be finished. */
  abandon(): void { this.#key.fill(0); }
}

/** PartSealer as a Transform stream: plaintext in, the part (header and segments) out. */
export class EncryptPart extends Transform {
  readonly #sealer: PartSealer;
  readonly #push = (b: Buffer) => { this.push(b); };

  constructor(dataKey: Buffer, partNumber: number, plainSize: number, salt?: Buffer) {
    super();
    this.#sealer = new PartSealer(dataKey, partNumber, plainSize, salt);
    this.push(this.#sealer.header);
  }

  get cipherSize(): number { return this.#sealer.cipherSize; }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try { this.#sealer.update(chunk, this.#push); } catch (e) { done(e as Error); return; }
    done();
  }

  override _flush(done: TransformCallback): void {
    try { this.push(this.#sealer.final()); } catch (e) { done(e as Error); return; }
    done();
  }
}

export interface DecryptOptions {
  dataKey: Buffer;
  /**
   * Where the ciphertext starts: at a part header (the default), or at segment `segment` of the
   * part whose header is given (fetched separately by a ranged read).
   */
  start?: { header: PartHeader; segment: number };
  /** plaintext bytes to drop at the start (a range that begins inside a segment) */
  skip?: number;
  /** plaintext bytes to emit; undefined = everything, and then the end must be the end of a part */
  length?: number;
  /** whole reads: the number of parts the object has (the `-N` of its ETag), checked at the end */
  parts?: number;
}

/**
 * Ciphertext in, plaintext out; FormatError on anything that does not authenticate or is cut short.
 * Each piece of a segment is deciphered as it arrives, and its plaintext is held until the
 * segment's tag has been checked: nothing unauthenticated leaves, and nothing is gathered first.
 */
export class DecryptStream extends Transform {
  readonly #o: DecryptOptions;
  #header: PartHeader | undefined;
  #key: Buffer | undefined;
  #segments = 0;
  #index = 0;
  /** a part header being read */
  #hdr: Buffer[] = [];
  #hdrBytes = 0;
  /** the current segment: its decipher, ciphertext bytes fed, plaintext held, tag bytes read */
  #decipher: DecipherGCM | undefined;
  #fed = 0;
  #held: Buffer[] = [];
  #tag: Buffer[] = [];
  #tagBytes = 0;
  #skip: number;
  #left: number;
  #parts = 0;
  #lastPartNumber = 0;

  constructor(o: DecryptOptions) {
    super();
    this.#o = o;
    this.#skip = o.skip ?? 0;
    this.#left = o.length ?? Infinity;
    if (o.start) this.#enter(o.start.header, o.start.segment);
  }

  #enter(header: PartHeader, segment: number): void {
    if (header.partNumber <= this.#lastPartNumber) throw new FormatError(`part ${header.partNumber} after part ${this.#lastPartNumber}: parts reordered`);
    this.#lastPartNumber = header.partNumber;
    this.#header = header;
    this.#key?.fill(0);
    this.#key = partKey(this.#o.dataKey, header);
    this.#segments = segmentsOf(header.plainSize);
    this.#index = segment;
    this.#parts++;
  }

  #emit(plain: Buffer): void {
    let p = plain;
    if (this.#skip) { const s = Math.min(this.#skip, p.length); p = p.subarray(s); this.#skip -= s; }
    if (p.length > this.#left) p = p.subarray(0, this.#left);
    this.#left -= p.length;
    if (p.length) this.push(p);
  }

  /** Consumes bytes of `chunk` from `off`; returns the new offset. */
  #step(chunk: Buffer, off: number): number {
    if (!this.#header) {
      const take = Math.min(HEADER - this.#hdrBytes, chunk.length - off);
      this.#hdr.push(chunk.subarray(off, off + take));
      this.#hdrBytes += take;
      if (this.#hdrBytes === HEADER) {
        this.#enter(decodeHeader(Buffer.concat(this.#hdr, HEADER)), 0);
        this.#hdr = [];
        this.#hdrBytes = 0;
      }
      return off + take;
    }
    const length = Math.min(SEGMENT, this.#header.plainSize - this.#index * SEGMENT);
    const last = this.#index === this.#segments - 1;
    const decipher = (this.#decipher ??= segmentDecipher(this.#key!, this.#header, this.#index, last));
    if (this.#fed < length) {
      const take = Math.min(length - this.#fed, chunk.length - off);
      const out = decipher.update(chunk.subarray(off, off + take));
      if (out.length) this.#held.push(out);
      this.#fed += take;
      return off + take;
    }
    const take = Math.min(TAG - this.#tagBytes, chunk.length - off);
    this.#tag.push(chunk.subarray(off, off + take));
    this.#tagBytes += take;
    if (this.#tagBytes === TAG) {
      decipher.setAuthTag(this.#tag.length === 1 ? this.#tag[0]! : Buffer.concat(this.#tag, TAG));
      try {
        const rest = decipher.final();
        if (rest.length) this.#held.push(rest);
      } catch {
        throw new FormatError(`segment ${this.#index} of part ${this.#header.partNumber} does not authenticate: the object was altered, truncated or reordered, or this is not its key`);
      }
      for (const p of this.#held) this.#emit(p); // authenticated: it may leave now
      this.#decipher = undefined;
      this.#fed = 0;
      this.#held = [];
      this.#tag = [];
      this.#tagBytes = 0;
      this.#index++;
      if (last) this.#header = undefined; // the next part's header follows
    }
    return off + take;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      for (let off = 0; off < chunk.length && this.#left > 0;) off = this.#step(chunk, off);
    } catch (e) {
      done(e as Error);
      return;
    }
    done(); // once the range is complete, the rest is not needed
  }

  override _flush(done: TransformCallback): void {
    this.#key?.fill(0);
    if (this.#o.length !== undefined) {
      done(this.#left > 0 ? new FormatError(`the object ended ${this.#left} bytes before the end of the range`) : undefined);
      return;
    }
    if (this.#header || this.#hdrBytes) { done(new FormatError('the object is truncated: it ends inside a part')); return; }
    if (this.#o.parts !== undefined && this.#parts !== this.#o.parts) { done(new FormatError(`the object has ${this.#parts} parts where ${this.#o.parts} were written: truncated`)); return; }
    done();
  }
}

/** Where a plaintext range lies in the ciphertext of an object of `parts` parts of `partSize` plaintext bytes (the last one shorter). */
export interface RangePlan {
  /** inclusive ciphertext byte range to fetch */
  cipherFirst: number;
  cipherLast: number;
  /** the part header to fetch first (ciphertext offset) when the range does not begin at one */
  headerAt?: number;
  segment: number;
  skip: number;
  length: number;
}

export function planRange(plainSize: number, partSize: number, first: number, last: number): RangePlan {
  const cps = cipherPartSize(partSize);
  const parts = Math.max(1, Math.ceil(plainSize / partSize));
  const partPlain = (k: number) => (k === parts - 1 ? plainSize - k * partSize : partSize);
  const k1 = Math.min(parts - 1, Math.floor(first / partSize));
  const j1 = Math.floor((first - k1 * partSize) / SEGMENT);
  const k2 = Math.min(parts - 1, Math.floor(last / partSize));
  const j2 = Math.floor((last - k2 * partSize) / SEGMENT);
  const segStart = (k: number, j: number) => k * cps + HEADER + j * (SEGMENT + TAG);
  const sealed = Math.min(SEGMENT, partPlain(k2) - j2 * SEGMENT) + TAG;
  return {
    cipherFirst: j1 === 0 ? k1 * cps : segStart(k1, j1),
    cipherLast: segStart(k2, j2) + sealed - 1,
    headerAt: j1 === 0 ? undefined : k1 * cps,
    segment: j1,
    skip: first - k1 * partSize - j1 * SEGMENT,
    length: last - first + 1,
  };
}
