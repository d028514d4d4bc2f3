/**
 * The canonical forms S3 uses for SigV4 (sig-v4-header-based-auth "Canonical request"):
 *  - URI: each path segment percent-decoded, then UriEncode()d once: RFC 3986 unreserved bytes kept, every other
 *    byte %XX (upper case), `/` between segments kept. S3 does not normalise `.`/`..`/`//` (unlike other services)
 *    and never double-encodes, so a key sent as `a%20b` or `a b` both canonicalise to `a%20b`.
 *  - Query: each name and value decoded then UriEncode()d (`/` too), sorted by name then value, `name=value`
 *    joined with `&`; a parameter without `=` is `name=` (`?uploads`). A literal `+` is a plus, not a space.
 *  - Header values: sequential spaces/tabs folded to one space, leading/trailing ones trimmed. Only ASCII
 *    whitespace: node hands header bytes over as latin1, where U+00A0 may be the second byte of a UTF-8 letter.
 * Strings built here are "byte strings" (every char < 0x100, one char per wire byte): hash them as latin1.
 */
import { GatewayError } from '../errors/gateway-error.js';

const HEX = '0123456789ABCDEF';
/** RFC 3986 unreserved: A-Z a-z 0-9 - . _ ~ */
const UNRESERVED = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  UNRESERVED[c] = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e ? 1 : 0;
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** UriEncode() of each byte value */
const ENC: readonly string[] = Array.from({ length: 256 }, (_, b) => (UNRESERVED[b] ? String.fromCharCode(b) : `%${HEX[b >> 4]}${HEX[b & 15]}`));

/** decode-then-UriEncode of `s` in one pass (see decodeBytes for how chars map to bytes); undefined on a bad escape. */
function reencode(s: string, keepSlash: boolean): string | undefined {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const hi = hexVal(s.charCodeAt(i + 1));
      const lo = hexVal(s.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return undefined;
      out += ENC[(hi << 4) | lo]!;
      i += 2;
    } else if (c === 0x2f && keepSlash) {
      out += '/';
    } else if (c < 0x100) {
      out += ENC[c]!;
    } else {
      const cp = s.codePointAt(i)!;
      if (cp > 0xffff) i++;
      for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) out += ENC[b]!;
    }
  }
  return out;
}

/**
 * Percent-decodes `s` into bytes and feeds each to `emit`. Chars other than `%XX` count as their own bytes:
 * < 0x100 as latin1 (node's decoding of raw wire bytes), others as UTF-8. Returns false on a malformed escape
 * (`%` not followed by two hex digits).
 */
function decodeBytes(s: string, emit: (b: number) => void): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const hi = hexVal(s.charCodeAt(i + 1));
      const lo = hexVal(s.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return false;
      emit((hi << 4) | lo);
      i += 2;
    } else if (c < 0x100) {
      emit(c);
    } else {
      // UTF-8 of a char above latin1 (a raw non-ASCII char that reached us decoded as UTF-8)
      const cp = s.codePointAt(i)!;
      if (cp > 0xffff) i++;
      for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) emit(b);
    }
  }
  return true;
}

function isCanonical(s: string, slashOk: boolean): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x100 || (!UNRESERVED[c] && !(slashOk && c === 0x2f))) return false;
  }
  return true;
}

/** The canonical URI of a raw wire path (without `?query`). Throws InvalidURI on a malformed escape. */
export function canonicalPath(rawPath: string): string {
  if (rawPath === '') return '/';
  if (isCanonical(rawPath, true)) return rawPath;
  const out = reencode(rawPath, true);
  if (out === undefined) throw new GatewayError('InvalidURI');
  return out;
}

/** UriEncode(decode(s)) for a query name or value, `/` encoded. Throws InvalidURI on a malformed escape. */
export function canonicalQueryComponent(s: string): string {
  if (isCanonical(s, false)) return s;
  const out = reencode(s, false);
  if (out === undefined) throw new GatewayError('InvalidURI');
  return out;
}

/** The decoded text of a query name or value (UTF-8), for reading X-Amz-* parameters. */
export function decodeQueryComponent(s: string): string {
  if (s.indexOf('%') === -1) return s;
  const bytes: number[] = [];
  if (!decodeBytes(s, (b) => bytes.push(b))) throw new GatewayError('InvalidURI');
  return Buffer.from(bytes).toString('utf8');
}

/** One parameter of a raw query string: its raw form, decoded name/value, and canonical `name=value`. */
export interface QueryParam {
  readonly rawName: string;
  readonly rawValue: string;
  /** canonical (UriEncoded) name and value */
  readonly name: string;
  readonly value: string;
  /** false for a bare `name` (no `=`) */
  readonly hasValue: boolean;
}

/** Splits a raw query (without `?`) into parameters, in wire order. Empty pieces (`a&&b`) are skipped. */
export function parseQuery(rawQuery: string): QueryParam[] {
  const params: QueryParam[] = [];
  if (rawQuery === '') return params;
  for (const piece of rawQuery.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const rawName = eq === -1 ? piece : piece.slice(0, eq);
    const rawValue = eq === -1 ? '' : piece.slice(eq + 1);
    params.push({ rawName, rawValue, name: canonicalQueryComponent(rawName), value: canonicalQueryComponent(rawValue), hasValue: eq !== -1 });
  }
  return params;
}

/** The canonical query string of `params` (minus those `skip` says no to), sorted by name, then value. */
export function canonicalQuery(params: readonly QueryParam[], skip?: (p: QueryParam) => boolean): string {
  const kept: QueryParam[] = [];
  for (const p of params) if (!skip?.(p)) kept.push(p);
  if (kept.length > 1) kept.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  let s = '';
  for (let i = 0; i < kept.length; i++) s += (i ? '&' : '') + kept[i]!.name + '=' + kept[i]!.value;
  return s;
}

/** SigV4 "Trimall" of one header value, ASCII whitespace only (see above). */
export function foldHeaderValue(v: string): string {
  if (v.indexOf('  ') === -1 && v.indexOf('\t') === -1 && v.charCodeAt(0) !== 0x20 && v.charCodeAt(v.length - 1) !== 0x20) return v;
  return v.replace(/[ \t]+/g, ' ').replace(/^ | $/g, '');
}

/** `YYYYMMDDTHHMMSSZ` → Date, or undefined if malformed or not a real date/time. */
export function parseAmzDate(s: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = [+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59) return undefined;
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, se));
  return date.getUTCDate() === d ? date : undefined; // 20260230 rolls over to March: not a date
}

/** Date → `YYYYMMDDTHHMMSSZ`. */
export function formatAmzDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/** An HTTP `Date` header (RFC 7231 IMF-fixdate, or the obsolete forms Date.parse reads) → Date. */
export function parseHttpDate(s: string): Date | undefined {
  if (!/^[A-Za-z]{3},? /.test(s)) return undefined;
  const t = Date.parse(s);
  return Number.isFinite(t) ? new Date(Math.floor(t / 1000) * 1000) : undefined;
}

/** True for 64 hex digits (either case). */
export function isHex64(s: string): boolean {
  return s.length === 64 && /^[0-9a-fA-F]{64}$/.test(s);
}
