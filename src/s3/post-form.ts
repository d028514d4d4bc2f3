/**
 * POST Object (browser form upload): the `multipart/form-data` body read as a stream.
 *
 *  - readFormPrefix() reads only the fields before the `file` part (RFC 7578 / RFC 2046 §5.1),
 *    bounded by S3's limit: "The form data and boundaries (excluding the contents of the file)
 *    cannot exceed 20KB" (20,480 bytes; S3 answers MaxPostPreDataLengthExceeded). The file part's
 *    content is never buffered: the bytes read past its headers are handed back as `rest`.
 *  - FilePartMeter counts the file's bytes in the rest of the body (up to the delimiter that
 *    follows it) and, when asked, enforces a POST policy's content-length-range by holding the
 *    delimiter back until the size is known, so an upload that breaks the range never completes.
 *  - serializeFields() writes a new prefix (fields, then the file part's original header bytes).
 *
 * S3 behaviour followed: field names are case-insensitive ("The post parameters are case
 * insensitive"); the file is the `form-data` part named `file` (another name counts as a field);
 * fields after it are ignored by S3 and streamed on untouched here.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { GatewayError } from '../errors/gateway-error.js';
import { SigV4Error } from '../sigv4/errors.js';
import type { ClientRequest } from '../request/context.js';

/** S3's bound on the form bytes before the file content. */
export const MAX_PRE_DATA = 20 * 1024;

export interface FormField {
  /** the name as sent */
  name: string;
  value: string;
}

export interface FormPrefix {
  boundary: string;
  /** the fields before the file part, in order */
  fields: FormField[];
  /** the file part: its name as sent, its `filename` parameter (absent: none sent), and its raw header bytes */
  file: { name: string; filename?: string; headers: Buffer };
  /** every byte of the body up to the file's content (delimiter and file part headers included) */
  prefix: Buffer;
  /** bytes already read after `prefix` (the start of the file's content) */
  rest: Buffer;
}

/** `boundary` parameter of a multipart/form-data Content-Type, or undefined when it is not one. */
export function formBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^\s*multipart\/form-data\s*(;|$)/i.test(contentType)) return undefined;
  const params = parseParams(contentType.slice(contentType.indexOf(';') + 1 || contentType.length));
  const b = params.get('boundary');
  if (!b || b.length > 70) throw new GatewayError('PostMalformed');
  return b;
}

export function isFormPost(method: string, contentType: string | undefined): boolean {
  return method === 'POST' && !!contentType && /^\s*multipart\/form-data\s*(;|$)/i.test(contentType);
}

/**
 * `; a=b; c="d"` → Map (names lower-case). A backslash is literal: browsers escape `"` as %22 and
 * never backslashes (WHATWG multipart/form-data), and old browsers send Windows paths as filenames.
 */
export function parseParams(s: string): Map<string, string> {
  const out = new Map<string, string>();
  // a parameter starts at the beginning or after `;`: anchored, so text without `=` is scanned
  // once, not once per character (a 16 KiB header took 0.25 s; found by fuzzing)
  const re = /(?:^|;)\s*([^=;\s]+)\s*=\s*(?:"([^"]*)"|([^;]*))/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    const name = m[1]!.toLowerCase();
    const value = m[2] !== undefined ? m[2] : m[3]!.trim();
    if (!out.has(name)) out.set(name, value);
  }
  return out;
}

interface PartHead { name?: string; filename?: string; formData: boolean }

function partHead(raw: Buffer): PartHead {
  const text = raw.toString('utf8');
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.slice(0, colon).trim().toLowerCase() !== 'content-disposition') continue;
    const v = line.slice(colon + 1).trim();
    const semi = v.indexOf(';');
    const type = (semi < 0 ? v : v.slice(0, semi)).trim().toLowerCase();
    const params = semi < 0 ? new Map<string, string>() : parseParams(v.slice(semi));
    return { formData: type === 'form-data', name: params.get('name'), filename: params.get('filename') };
  }
  return { formData: false };
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * Parses as much of `buf` as it can: the fields, and the file part when its headers are complete.
 * Returns undefined when more bytes are needed. Throws S3's errors for what cannot be a form.
 */
function tryParse(buf: Buffer, boundary: string): { fields: FormField[]; file?: FormPrefix['file']; end: number } | undefined {
  const dash = Buffer.from(`--${boundary}`);
  const delim = Buffer.from(`\r\n--${boundary}`);
  // the first delimiter: at the very start, or after a preamble (RFC 2046: "[preamble CRLF] dash-boundary")
  const atStart = buf.subarray(0, dash.length).equals(dash);
  let pos = atStart ? 0 : buf.indexOf(delim);
  if (pos < 0) return undefined;
  if (!atStart) pos += 2; // past the CRLF (also when the preamble is empty: the body starts with CRLF)
  const fields: FormField[] = [];
  for (;;) {
    pos += dash.length;
    if (buf.length < pos + 2) return undefined;
    if (buf[pos] === 0x2d && buf[pos + 1] === 0x2d) return { fields, end: pos + 2 }; // close delimiter: no file
    const eol = buf.indexOf(CRLF, pos);
    if (eol < 0) return undefined;
    if (buf.subarray(pos, eol).toString('latin1').trim() !== '') throw new GatewayError('PostMalformed'); // only transport padding allowed
    const hstart = eol + 2;
    let hend: number;
    let bodyStart: number;
    if (buf.length >= hstart + 2 && buf[hstart] === 0x0d && buf[hstart + 1] === 0x0a) {
      hend = hstart; // no header fields
      bodyStart = hstart + 2;
    } else {
      hend = buf.indexOf(HEADER_END, hstart);
      if (hend < 0) return undefined;
      bodyStart = hend + 4;
    }
    const head = partHead(buf.subarray(hstart, hend));
    if (head.formData && head.name?.toLowerCase() === 'file') {
      return { fields, file: { name: head.name, filename: head.filename, headers: Buffer.from(buf.subarray(hstart, hend)) }, end: bodyStart };
    }
    const next = buf.indexOf(delim, bodyStart);
    if (next < 0) return undefined;
    if (head.name === undefined) throw new GatewayError('PostMalformed');
    fields.push({ name: head.name, value: buf.subarray(bodyStart, next).toString('utf8') });
    pos = next + 2;
  }
}

/**
 * Reads the body of `req` up to the file's content and pauses it there. The caller owns the rest:
 * `rest`, then whatever `req` still delivers. Bounded by MAX_PRE_DATA (S3's 20 KB).
 */
export function readFormPrefix(req: ClientRequest, boundary: string, limit = MAX_PRE_DATA): Promise<FormPrefix> {
  return new Promise<FormPrefix>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (err: unknown, value?: FormPrefix) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      req.pause();
      if (err) reject(err); else resolve(value!);
    };
    const attempt = (ended: boolean) => {
      const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      chunks.length = 0;
      chunks.push(buf);
      let parsed: ReturnType<typeof tryParse>;
      try { parsed = tryParse(buf, boundary); } catch (e) { finish(e); return; }
      if (parsed?.file) {
        if (parsed.end > limit) { finish(preDataTooLarge(limit)); return; }
        finish(undefined, { boundary, fields: parsed.fields, file: parsed.file, prefix: Buffer.from(buf.subarray(0, parsed.end)), rest: Buffer.from(buf.subarray(parsed.end)) });
        return;
      }
      if (parsed) { finish(noFile()); return; } // closed without a file part
      if (buf.length > limit) { finish(preDataTooLarge(limit)); return; }
      if (ended) finish(new GatewayError('PostMalformed'));
    };
    const onData = (c: Buffer) => { chunks.push(c); attempt(false); };
    const onEnd = () => attempt(true);
    const onError = (e: Error) => finish(e);
    const onAborted = () => finish(new GatewayError('ClientTimeout'));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('aborted', onAborted);
  });
}

function preDataTooLarge(limit: number): SigV4Error {
  return new SigV4Error('PostPreDataTooLarge', { details: { MaxPostPreDataLengthBytes: String(limit) } });
}

function noFile(): SigV4Error {
  return new SigV4Error('PostNoFile', { argumentName: 'file', details: { ArgumentValue: '0' } });
}

/** `${filename}` as S3 substitutes it: the text after the last `/` or `\` of the file part's filename. */
export function baseFilename(filename: string): string {
  const i = Math.max(filename.lastIndexOf('/'), filename.lastIndexOf('\\'));
  return i >= 0 ? filename.slice(i + 1) : filename;
}

/**
 * Replaces `${filename}` in a field value ("recognized by all form fields"). A file part without
 * a filename parameter leaves the variable as is (S3 2026, observed: the object kept the literal name).
 */
export function expandFilename(value: string, filename: string | undefined): string {
  return filename === undefined ? value : value.split('${filename}').join(baseFilename(filename));
}

/** A field name as a browser writes it into Content-Disposition (WHATWG: `"` CR LF percent-escaped). */
function quoteName(name: string): string {
  return name.replace(/\r/g, '%0D').replace(/\n/g, '%0A').replace(/"/g, '%22');
}

/** A new form prefix: the fields, then the file part's original headers, ready for the file content. */
export function serializeFields(boundary: string, fields: readonly FormField[], fileHeaders: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${quoteName(f.name)}"\r\n\r\n`, 'utf8'));
    parts.push(Buffer.from(f.value, 'utf8'), CRLF);
  }
  parts.push(Buffer.from(`--${boundary}\r\n`, 'utf8'), fileHeaders, HEADER_END);
  return Buffer.concat(parts);
}

export interface MeterOptions {
  boundary: string;
  /** bytes to send first (the form prefix), before the file content */
  head?: Buffer;
  /** the POST policy's content-length-range, inclusive */
  range?: { min: number; max: number };
  /** called once with the file's size, when the delimiter after it has been seen */
  onSize?: (size: number) => void;
  /** emit the file's content only, nothing of the form around it (gateway encryption stores the file itself) */
  fileOnly?: boolean;
}

/**
 * Passes the rest of a form body (the file content onwards) through, counting the file's bytes
 * up to the delimiter that ends it. With a range, bytes beyond `max` fail the stream
 * (EntityTooLarge) before they are passed on, and the delimiter is held back until the size is
 * known to be at least `min` (EntityTooSmall): the upstream never sees a complete form that breaks
 * the policy. Holds back at most delimiter-length − 1 bytes between chunks.
 */
export class FilePartMeter extends Transform {
  readonly #delim: Buffer;
  readonly #range?: { min: number; max: number };
  readonly #onSize?: (size: number) => void;
  readonly #fileOnly: boolean;
  #carry: Buffer = Buffer.alloc(0);
  #size = 0;
  #found = false;

  constructor(o: MeterOptions) {
    super();
    this.#delim = Buffer.from(`\r\n--${o.boundary}`);
    this.#range = o.range;
    this.#onSize = o.onSize;
    this.#fileOnly = o.fileOnly ?? false;
    if (o.head?.length && !this.#fileOnly) this.push(o.head);
  }

  get size(): number { return this.#size; }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.#found) { cb(null, this.#fileOnly ? undefined : chunk); return; }
    const carry = this.#carry;
    const d = this.#delim;
    // a delimiter that starts in the held-back bytes (only the small seam is copied, never the chunk)
    // (offset in `chunk`; negative: the delimiter starts in `carry`)
    let at: number | undefined;
    if (carry.length) {
      const seam = Buffer.concat([carry, chunk.subarray(0, d.length - 1)]).indexOf(d);
      if (seam >= 0) at = seam - carry.length;
    }
    if (at === undefined) {
      const i = chunk.indexOf(d);
      if (i >= 0) at = i;
    }
    if (at !== undefined) {
      this.#size += carry.length + at;
      this.#found = true;
      this.#carry = Buffer.alloc(0);
      const err = this.#check(true);
      if (err) { cb(err); return; }
      this.#onSize?.(this.#size);
      if (this.#fileOnly) {
        // the file ends where the delimiter starts: `at` bytes into the chunk, or (negative) inside the held-back bytes
        if (at < 0) this.push(carry.subarray(0, carry.length + at));
        else { if (carry.length) this.push(carry); if (at > 0) this.push(chunk.subarray(0, at)); }
        cb();
        return;
      }
      if (carry.length) this.push(carry);
      cb(null, chunk);
      return;
    }
    const total = carry.length + chunk.length;
    const keep = Math.min(total, d.length - 1);
    let out: Buffer[];
    if (keep >= chunk.length) {
      // a tiny chunk: all of it joins the held-back bytes
      const all = Buffer.concat([carry, chunk]);
      out = [all.subarray(0, all.length - keep)];
      this.#carry = Buffer.from(all.subarray(all.length - keep));
    } else {
      out = [carry, chunk.subarray(0, chunk.length - keep)];
      this.#carry = Buffer.from(chunk.subarray(chunk.length - keep));
    }
    this.#size += total - keep;
    const err = this.#check(false);
    if (err) { cb(err); return; }
    for (const b of out) if (b.length) this.push(b);
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (!this.#found) { cb(new GatewayError('PostMalformed')); return; }
    cb();
  }

  #check(complete: boolean): GatewayError | undefined {
    const r = this.#range;
    if (!r) return undefined;
    if (this.#size > r.max) return new SigV4Error('PostEntityTooLarge', { details: { ProposedSize: String(this.#size), MaxSizeAllowed: String(r.max) } });
    if (complete && this.#size < r.min) return new SigV4Error('PostEntityTooSmall', { details: { ProposedSize: String(this.#size), MinSizeAllowed: String(r.min) } });
    return undefined;
  }
}
