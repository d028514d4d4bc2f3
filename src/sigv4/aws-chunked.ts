/**
 * Streaming decoder for `Content-Encoding: aws-chunked` bodies (S3 sigv4-streaming, sigv4-streaming-trailers):
 *
 *   hex-size[;chunk-signature=sig]\r\n  data  \r\n   …   0[;chunk-signature=sig]\r\n
 *   [name:value\r\n]*  [x-amz-trailer-signature:sig\r\n]  \r\n
 *
 * - Signed chunks (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]): each chunk's signature chains from the previous
 *   one, starting at the request's signature:
 *     HMAC(kSigning, "AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n<prev-sig>\n<sha256("")>\n<sha256(chunk)>")
 *   A chunk's bytes are emitted only after its signature holds, so at most one chunk (≤ maxChunkSize) is buffered.
 * - Trailer signature (…-PAYLOAD-TRAILER), chained from the final 0-size chunk's signature, over the trailer lines
 *   as canonical headers (`name:value\n`, sorted; AWS SDK for Java v2 SigV4TrailerProvider, MinIO, versitygw):
 *     HMAC(kSigning, "AWS4-HMAC-SHA256-TRAILER\n<date>\n<scope>\n<prev-sig>\n<sha256(trailer lines)>")
 * - Unsigned (STREAMING-UNSIGNED-PAYLOAD-TRAILER, what aws-cli ≥ 1.36 / boto3 / SDK v3 streams send): no chunk
 *   signatures; integrity comes from the x-amz-trailer checksum, computed here over the decoded bytes.
 * - S3's framing rules: every chunk but the last ≥ 8 KiB (InvalidChunkSizeError), the decoded total equals
 *   x-amz-decoded-content-length, nothing after the final CRLF. Any other framing fault is IncompleteBody
 *   "The request body terminated unexpectedly", as S3 answers (versitygw issues #1660/#1666, observed on AWS).
 *
 * The last `holdBackBytes` decoded bytes are released only when the input has ended and every signature and the
 * trailer checksum have been verified. Forward the output with a fixed Content-Length = decodedLength: an upstream
 * then never sees a complete body unless it verified. On any failure the stream is destroyed with a GatewayError
 * (SigV4Error); the caller must then destroy the upstream request. Backpressure: a Transform; input is consumed
 * while the output is below its highWaterMark.
 */
import { createHash, timingSafeEqual, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { GatewayError } from '../errors/gateway-error.js';
import { assertChecksum, CHECKSUM_HEADERS, createChecksummer, isChecksumHeader, type Checksummer, type ChecksumHeader, type ClaimedChecksum } from './checksum.js';
import { CHUNK_ALGORITHM, EMPTY_SHA256, HEADER, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER, TRAILER_ALGORITHM } from './constants.js';
import { SigV4Error } from './errors.js';
import { hmac, sha256Hex } from './signing-key.js';
import { TailHolder } from './tail.js';
import type { ChunkSigning, VerifiedRequest } from './verify.js';

export type ChunkedMode = typeof STREAMING_SIGNED | typeof STREAMING_SIGNED_TRAILER | typeof STREAMING_UNSIGNED_TRAILER;

export interface AwsChunkedOptions {
  mode: ChunkedMode;
  /** x-amz-decoded-content-length */
  decodedLength: number;
  /** the checksum named by x-amz-trailer (trailer modes) */
  trailer?: ChecksumHeader;
  /** signed modes: from VerifiedRequest.signing */
  signing?: ChunkSigning;
  /** every chunk but the last must be at least this big (S3: 8192; 0 turns the rule off) */
  minChunkSize?: number;
  /** signed modes buffer one chunk: refuse bigger ones (default 16 MiB) */
  maxChunkSize?: number;
  /** decoded bytes kept back until everything verified (default 16 KiB) */
  holdBackBytes?: number;
}

const MAX_LINE = 4096;
const MAX_TRAILER_LINES = 16;
const EMPTY = Buffer.alloc(0);

const enum State { Header, Data, DataCr, DataLf, Trailer, Done, Failed }

const malformed = () => new GatewayError('BodyIncomplete');

export class AwsChunkedDecoder extends Transform {
  /** the verified trailer checksum (after 'end'), e.g. { name: 'x-amz-checksum-crc32', value: 'sOO8/Q==' } */
  checksum?: ClaimedChecksum;
  /** decoded bytes read so far (not all emitted yet) */
  decodedBytes = 0;
  /** data chunks seen (the final 0-size chunk not counted) */
  chunks = 0;

  private readonly signed: boolean;
  private readonly trailerMode: boolean;
  private readonly minChunk: number;
  private readonly maxChunk: number;
  private readonly tail: TailHolder;
  private readonly sum?: Checksummer;

  private state = State.Header;
  private line: Buffer[] = [];
  private lineLen = 0;
  private remaining = 0;
  private lastSize = -1;
  private final = false;
  private prevSignature: string;
  private chunkSignature = '';
  private chunkHash?: Hash;
  private chunkPieces: Buffer[] = [];
  private trailers = new Map<string, string>();
  private trailerLines = 0;
  private trailerSignature?: string;

  constructor(private readonly opts: AwsChunkedOptions) {
    super();
    this.signed = opts.mode !== STREAMING_UNSIGNED_TRAILER;
    this.trailerMode = opts.mode !== STREAMING_SIGNED;
    if (this.signed && !opts.signing) throw new TypeError('signed aws-chunked modes need the request signing context');
    // client-supplied values, when a caller builds the decoder from raw headers (verify() checked them already)
    if (!Number.isSafeInteger(opts.decodedLength) || opts.decodedLength < 0) throw new SigV4Error('DecodedLengthMissing');
    if (opts.trailer !== undefined && (!this.trailerMode || !isChecksumHeader(opts.trailer))) throw new SigV4Error('TrailerNotSupported');
    this.minChunk = opts.minChunkSize ?? 8192;
    this.maxChunk = opts.maxChunkSize ?? 16 * 1024 * 1024;
    this.prevSignature = opts.signing?.seedSignature ?? '';
    if (opts.trailer) this.sum = createChecksummer(CHECKSUM_HEADERS[opts.trailer]);
    this.tail = new TailHolder(opts.holdBackBytes ?? 16 * 1024, (b) => this.push(b));
  }

  /** A decoder for a verified aws-chunked request (payloadMode STREAMING-*). */
  static forRequest(v: VerifiedRequest, opts: Omit<AwsChunkedOptions, 'mode' | 'decodedLength' | 'trailer' | 'signing'> = {}): AwsChunkedDecoder {
    if (v.payloadMode !== STREAMING_SIGNED && v.payloadMode !== STREAMING_SIGNED_TRAILER && v.payloadMode !== STREAMING_UNSIGNED_TRAILER) {
      throw new TypeError(`not an aws-chunked payload: ${v.payloadMode}`);
    }
    return new AwsChunkedDecoder({ ...opts, mode: v.payloadMode, decodedLength: v.decodedContentLength!, trailer: v.trailer, signing: v.signing });
  }

  /** Bytes emitted so far (what a consumer has been handed). */
  get emittedBytes(): number {
    return this.tail.emitted;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.consume(chunk);
      cb();
    } catch (e) {
      this.state = State.Failed;
      cb(e as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    if (this.state !== State.Done) {
      this.state = State.Failed;
      cb(malformed());
      return;
    }
    this.tail.release();
    cb();
  }

  private consume(buf: Buffer): void {
    let pos = 0;
    const n = buf.length;
    while (pos < n) {
      switch (this.state) {
        case State.Header:
        case State.Trailer: {
          const nl = buf.indexOf(0x0a, pos);
          const end = nl === -1 ? n : nl + 1;
          this.lineLen += end - pos;
          if (this.lineLen > MAX_LINE) throw this.state === State.Trailer ? new GatewayError('TrailerMalformed') : malformed();
          this.line.push(buf.subarray(pos, end));
          pos = end;
          if (nl === -1) break;
          const line = this.line.length === 1 ? this.line[0]! : Buffer.concat(this.line, this.lineLen);
          this.line = [];
          this.lineLen = 0;
          if (line.length < 2 || line[line.length - 2] !== 0x0d) throw malformed();
          const text = line.toString('latin1', 0, line.length - 2);
          if (this.state === State.Header) this.chunkHeader(text);
          else this.trailerLine(text);
          break;
        }
        case State.Data: {
          const take = Math.min(this.remaining, n - pos);
          const piece = buf.subarray(pos, pos + take);
          pos += take;
          this.remaining -= take;
          this.decodedBytes += take;
          this.sum?.update(piece);
          if (this.signed) {
            this.chunkHash!.update(piece);
            this.chunkPieces.push(piece);
          } else {
            this.tail.add(piece);
          }
          if (this.remaining === 0) this.state = State.DataCr;
          break;
        }
        case State.DataCr:
          if (buf[pos++] !== 0x0d) throw malformed();
          this.state = State.DataLf;
          break;
        case State.DataLf:
          if (buf[pos++] !== 0x0a) throw malformed();
          this.chunkDone();
          break;
        case State.Done:
          throw malformed(); // bytes after the final CRLF
        case State.Failed:
          return;
      }
    }
  }

  /** `hex-size[;chunk-signature=sig][;ext…]` */
  private chunkHeader(text: string): void {
    const semi = text.indexOf(';');
    const hex = semi === -1 ? text : text.slice(0, semi);
    if (!/^[0-9a-fA-F]{1,13}$/.test(hex)) throw malformed();
    const size = parseInt(hex, 16);
    let signature: string | undefined;
    if (semi !== -1) {
      for (const ext of text.slice(semi + 1).split(';')) {
        const eq = ext.indexOf('=');
        if (eq !== -1 && ext.slice(0, eq).trim() === 'chunk-signature') signature = ext.slice(eq + 1).trim();
      }
    }
    if (this.signed) {
      if (signature === undefined || !/^[0-9a-f]{64}$/i.test(signature)) throw malformed();
      this.chunkSignature = signature.toLowerCase();
    }
    if (size > 0) {
      if (this.lastSize >= 0 && this.lastSize < this.minChunk) {
        throw new SigV4Error('ChunkTooSmall', { details: { Chunk: String(this.chunks), BadChunkSize: String(this.lastSize) } });
      }
      if (size > this.opts.decodedLength - this.decodedBytes) throw new GatewayError('DecodedLengthMismatch');
      if (this.signed && size > this.maxChunk) throw new SigV4Error('ChunkTooLarge', { message: `The chunk size exceeds the ${this.maxChunk} bytes this endpoint accepts.` });
      this.chunks++;
      this.lastSize = size;
      this.remaining = size;
      if (this.signed) this.chunkHash = createHash('sha256');
      this.state = State.Data;
      return;
    }
    // the final, 0-size chunk
    if (this.decodedBytes !== this.opts.decodedLength) throw new GatewayError('DecodedLengthMismatch');
    this.final = true;
    if (this.signed) this.checkChunkSignature(EMPTY_SHA256);
    this.state = State.Trailer;
  }

  /** End of a data chunk's CRLF: check its signature, then hand its bytes on. */
  private chunkDone(): void {
    if (this.signed) {
      this.checkChunkSignature(this.chunkHash!.digest('hex'));
      for (const p of this.chunkPieces) this.tail.add(p);
      this.chunkPieces = [];
      this.chunkHash = undefined;
    }
    this.state = State.Header;
  }

  private checkChunkSignature(chunkSha256: string): void {
    const s = this.opts.signing!;
    const sts = `${CHUNK_ALGORITHM}\n${s.amzDate}\n${s.scope}\n${this.prevSignature}\n${EMPTY_SHA256}\n${chunkSha256}`;
    this.prevSignature = this.compare(sts, this.chunkSignature);
  }

  /** Compares HMAC(kSigning, sts) with the hex signature sent, in constant time; returns the expected hex. */
  private compare(sts: string, provided: string): string {
    const expected = hmac(this.opts.signing!.signingKey, sts);
    const got = /^[0-9a-f]{64}$/i.test(provided) ? Buffer.from(provided, 'hex') : EMPTY;
    if (got.length !== 32 || !timingSafeEqual(expected, got)) {
      throw new SigV4Error('SignatureDoesNotMatch', { details: { StringToSign: sts, SignatureProvided: provided } });
    }
    return expected.toString('hex');
  }

  /** A trailer line, or the empty line that ends the body. */
  private trailerLine(text: string): void {
    if (text !== '') {
      if (!this.trailerMode) throw malformed();
      if (++this.trailerLines > MAX_TRAILER_LINES) throw new GatewayError('TrailerMalformed');
      const colon = text.indexOf(':');
      if (colon <= 0) throw new GatewayError('TrailerMalformed');
      const name = text.slice(0, colon).trim().toLowerCase();
      const value = text.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
      if (name === HEADER.trailerSignature) {
        if (!this.signed || this.trailerSignature !== undefined) throw new GatewayError('TrailerMalformed');
        this.trailerSignature = value;
      } else {
        // only the trailer announced in x-amz-trailer, once, and before the signature
        if (name !== this.opts.trailer || this.trailers.has(name) || this.trailerSignature !== undefined) throw new GatewayError('TrailerMalformed');
        this.trailers.set(name, value);
      }
      return;
    }
    // end of the trailer section
    if (this.trailerMode) this.finishTrailers();
    this.state = State.Done;
  }

  private finishTrailers(): void {
    const name = this.opts.trailer;
    if (name !== undefined && !this.trailers.has(name)) throw new GatewayError('TrailerMalformed');
    if (this.signed) {
      if (this.trailerSignature === undefined) throw new GatewayError('TrailerMalformed');
      const canonical = [...this.trailers.keys()].sort().map((k) => `${k}:${this.trailers.get(k)!}\n`).join('');
      const s = this.opts.signing!;
      const sts = `${TRAILER_ALGORITHM}\n${s.amzDate}\n${s.scope}\n${this.prevSignature}\n${sha256Hex(canonical)}`;
      this.compare(sts, this.trailerSignature);
    }
    if (name !== undefined) {
      const claimed = { name, value: this.trailers.get(name)! };
      assertChecksum(claimed, this.sum!.digest(), true);
      this.checksum = claimed;
    }
  }

  /** For tests and metrics: whether the final chunk has been seen. */
  get sawFinalChunk(): boolean {
    return this.final;
  }
}
