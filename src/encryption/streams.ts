/**
 * Streaming encryption and decryption in the gateway format (format.ts): at most one segment
 * (64 KiB) is held at a time, whatever the object size.
 */
import { Transform, type TransformCallback } from 'node:stream';
import {
  FormatError, HEADER, SEGMENT, TAG, cipherPartSize, decodeHeader, encodeHeader, openSegment, partKey, sealSegment, segmentsOf,
  type PartHeader,
} from './format.js';

/** Takes exactly `plainSize` bytes of plaintext; emits the part header and its sealed segments. */
export class EncryptPart extends Transform {
  readonly #key: Buffer;
  readonly #header: PartHeader;
  readonly #segments: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #index = 0;
  #received = 0;

  constructor(dataKey: Buffer, partNumber: number, plainSize: number, salt?: Buffer) {
    super();
    this.#header = encodeHeader(partNumber, plainSize, salt);
    this.#key = partKey(dataKey, this.#header);
    this.#segments = segmentsOf(plainSize);
    this.push(this.#header.raw);
  }

  /** Bytes this transform will emit in total. */
  get cipherSize(): number { return cipherPartSize(this.#header.plainSize); }

  #want(): number {
    return Math.min(SEGMENT, this.#header.plainSize - this.#index * SEGMENT);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#received += chunk.length;
    if (this.#received > this.#header.plainSize) { done(new FormatError(`more than the ${this.#header.plainSize} bytes announced`)); return; }
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    // the last segment waits for _flush: the upstream gets the complete part only once the body has
    // ended where announced and every check before this transform has passed (nothing partial is stored)
    while (this.#index < this.#segments - 1 && this.#pendingBytes >= this.#want()) {
      const want = this.#want();
      const all = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingBytes);
      this.push(sealSegment(this.#key, this.#header, this.#index, false, all.subarray(0, want)));
      this.#index++;
      const rest = all.subarray(want);
      this.#pending = rest.length ? [rest] : [];
      this.#pendingBytes = rest.length;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.#received !== this.#header.plainSize) { done(new FormatError(`the body ended after ${this.#received} of ${this.#header.plainSize} bytes`)); return; }
    const rest = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingBytes);
    this.push(sealSegment(this.#key, this.#header, this.#segments - 1, true, rest));
    this.#key.fill(0);
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

/** Ciphertext in, plaintext out; FormatError on anything that does not authenticate or is cut short. */
export class DecryptStream extends Transform {
  readonly #o: DecryptOptions;
  #header: PartHeader | undefined;
  #key: Buffer | undefined;
  #segments = 0;
  #index = 0;
  #buf: Buffer[] = [];
  #bufBytes = 0;
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

  #need(): number {
    if (!this.#header) return HEADER;
    return Math.min(SEGMENT, this.#header.plainSize - this.#index * SEGMENT) + TAG;
  }

  #take(n: number): Buffer {
    const all = this.#buf.length === 1 ? this.#buf[0]! : Buffer.concat(this.#buf, this.#bufBytes);
    const rest = all.subarray(n);
    this.#buf = rest.length ? [rest] : [];
    this.#bufBytes = rest.length;
    return all.subarray(0, n);
  }

  #emit(plain: Buffer): void {
    let p = plain;
    if (this.#skip) { const s = Math.min(this.#skip, p.length); p = p.subarray(s); this.#skip -= s; }
    if (p.length > this.#left) p = p.subarray(0, this.#left);
    this.#left -= p.length;
    if (p.length) this.push(p);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.#left <= 0) { done(); return; } // the range is complete: the rest is not needed
    this.#buf.push(chunk);
    this.#bufBytes += chunk.length;
    try {
      while (this.#left > 0 && this.#bufBytes >= this.#need()) {
        if (!this.#header) { this.#enter(decodeHeader(this.#take(HEADER)), 0); continue; }
        const last = this.#index === this.#segments - 1;
        this.#emit(openSegment(this.#key!, this.#header, this.#index, last, this.#take(this.#need())));
        this.#index++;
        if (last) this.#header = undefined; // the next part's header follows
      }
    } catch (e) {
      done(e as Error);
      return;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    this.#key?.fill(0);
    if (this.#o.length !== undefined) {
      done(this.#left > 0 ? new FormatError(`the object ended ${this.#left} bytes before the end of the range`) : undefined);
      return;
    }
    if (this.#header || this.#bufBytes) { done(new FormatError('the object is truncated: it ends inside a part')); return; }
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
