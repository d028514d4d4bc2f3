// Test helpers for auth mode `sigv4`: a gateway started with a clients file (and optionally a keyring),
// raw HTTPS requests to it (signed by @smithy/signature-v4, or not at all), aws-chunked bodies framed by
// hand (STREAMING-UNSIGNED-PAYLOAD-TRAILER and signed chunks, stack-notes §2), and checks straight on RGW.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rename, writeFile, mkdir } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { stringify as toYaml } from 'yaml';
import type { Endpoint, SseKey } from './clients.js';
import { startGateway, type GatewayProcess } from './gateway.js';
import { encodePath, rfc3986, rgwRequest, type RgwInfo, type RgwResponse } from './rgw.js';

export const SSEC_H = {
  algorithm: 'x-amz-server-side-encryption-customer-algorithm',
  key: 'x-amz-server-side-encryption-customer-key',
  keyMd5: 'x-amz-server-side-encryption-customer-key-md5',
} as const;
export const COPY_SSEC_H = {
  algorithm: 'x-amz-copy-source-server-side-encryption-customer-algorithm',
  key: 'x-amz-copy-source-server-side-encryption-customer-key',
  keyMd5: 'x-amz-copy-source-server-side-encryption-customer-key-md5',
} as const;

/** The SSE-C triplet headers for key k (or its copy-source form). */
export function ssecHeaders(k: SseKey, copySource = false): Record<string, string> {
  const n = copySource ? COPY_SSEC_H : SSEC_H;
  return { [n.algorithm]: 'AES256', [n.key]: k.b64, [n.keyMd5]: k.md5 };
}

// ---- clients file --------------------------------------------------------------------------------

export interface Scope { bucket: string; prefix?: string }
export interface InjectRule { bucket: string; prefix?: string; key: string; mode?: 'default' | 'enforce' }
export interface Sigv4Client {
  accessKeyId: string;
  secretAccessKey: string;
  allow?: Scope[];
  inject?: InjectRule[];
}
export interface ClientsDoc { clients: Sigv4Client[]; inject?: InjectRule[] }

/** A client with an AWS-looking access key (20 upper-case characters) and a 40-character hex secret. */
export function newClient(name: string, extra: Omit<Sigv4Client, 'accessKeyId' | 'secretAccessKey'> = {}): Sigv4Client {
  const prefix = name.toUpperCase().replace(/[^A-Z0-9]/g, '').slice(0, 10);
  const accessKeyId = (prefix + randomBytes(10).toString('hex').toUpperCase()).slice(0, 20);
  return { accessKeyId, secretAccessKey: randomBytes(20).toString('hex'), ...extra };
}

/** Writes the clients file as YAML, atomically (temp file + rename, as config tools and Kubernetes do). */
export async function writeClientsFile(file: string, doc: ClientsDoc | string): Promise<void> {
  const text = typeof doc === 'string' ? doc : `# clients of the test gateway\n${toYaml(doc)}`;
  const tmp = `${file}.tmp-${randomBytes(3).toString('hex')}`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, file);
}

export interface Sigv4Gateway extends GatewayProcess {
  /** the clients file the gateway reads (and reloads) */
  clientsFile: string;
  /** a private directory for this gateway's files */
  dir: string;
  /** the gateway's self-signed certificate, to trust */
  ca: Buffer;
  /** the endpoint a real client uses to reach the gateway as `c` */
  endpoint(c: Sigv4Client): Endpoint;
}

/**
 * Starts the gateway in auth mode sigv4 in front of rgw.http, signing upstream with RGW's credential
 * (the secret passed as `env:NAME`, never on the command line).
 */
export async function startSigv4Gateway(rgw: RgwInfo, opts: { doc: ClientsDoc; keyringDir?: string; args?: string[] }): Promise<Sigv4Gateway> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ssec-sigv4-'));
  const clientsFile = path.join(dir, 'clients.yaml');
  await writeClientsFile(clientsFile, opts.doc);
  const gw = await startGateway({
    upstream: rgw.http,
    args: [
      '--auth-mode', 'sigv4', '--clients-file', clientsFile,
      '--upstream-access-key-id', rgw.accessKey, '--upstream-secret-access-key', 'env:SSEC_TEST_UPSTREAM_SECRET',
      ...(opts.keyringDir ? ['--keyring-dir', opts.keyringDir] : []),
      ...(opts.args ?? []),
    ],
    env: { SSEC_TEST_UPSTREAM_SECRET: rgw.secretKey },
  });
  const ca = await readFile(gw.caFile);
  return {
    ...gw, clientsFile, dir, ca,
    endpoint: (c) => ({ url: gw.url, accessKey: c.accessKeyId, secretKey: c.secretAccessKey, region: 'us-east-1', caFile: gw.caFile }),
  };
}

/** A keyring directory holding one key file per id, each made by `openssl rand 32` (raw bytes). */
export async function makeKeyring(ids: string[]): Promise<{ dir: string; keys: Map<string, Buffer> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ssec-keyring-'));
  const keys = new Map<string, Buffer>();
  const { execFileSync } = await import('node:child_process');
  for (const id of ids) {
    const file = path.join(dir, id);
    execFileSync('openssl', ['rand', '-out', file, '32']);
    keys.set(id, await readFile(file));
  }
  return { dir, keys };
}

// ---- raw requests --------------------------------------------------------------------------------

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

export interface RawRequest {
  method: string;
  /** the path and query exactly as sent on the wire (already encoded) */
  path: string;
  headers?: Record<string, string>;
  /** a Buffer is sent as is (add content-length yourself, or get chunked framing); a list is written piece by piece */
  body?: Buffer | Buffer[];
  timeoutMs?: number;
}

/** One request to an https base URL trusting `ca`, the whole answer read. No signing, no headers added but Host. */
export function rawRequest(base: string, ca: Buffer | undefined, req: RawRequest): Promise<RawResponse> {
  const url = new URL(base);
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise<RawResponse>((resolve, reject) => {
    const r = (mod.request as typeof https.request)({
      method: req.method, hostname: url.hostname, port: Number(url.port), path: req.path,
      headers: req.headers ?? {}, agent: false, ...(ca ? { ca } : {}),
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, text: b.toString('utf8') });
      });
      res.on('error', reject);
    });
    r.setTimeout(req.timeoutMs ?? 60_000, () => r.destroy(new Error(`${req.method} ${req.path}: no answer in ${req.timeoutMs ?? 60_000} ms`)));
    r.on('error', reject);
    if (Array.isArray(req.body)) {
      for (const piece of req.body) r.write(piece);
      r.end();
    } else {
      r.end(req.body);
    }
  });
}

export interface Creds { accessKey: string; secretKey: string; region: string }
export const credsOf = (c: Sigv4Client): Creds => ({ accessKey: c.accessKeyId, secretKey: c.secretAccessKey, region: 'us-east-1' });

function signerFor(creds: Creds): SignatureV4 {
  return new SignatureV4({
    service: 's3',
    region: creds.region,
    credentials: { accessKeyId: creds.accessKey, secretAccessKey: creds.secretKey },
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: false,
    applyChecksum: true,
  });
}

export interface SignedParts {
  /** wire path + query */
  path: string;
  headers: Record<string, string>;
  /** the request's signature (the seed of a chunk-signature chain) */
  signature: string;
  signer: SignatureV4;
  signingDate: Date;
}

/**
 * Signs a request for `base` (its host:port) with @smithy/signature-v4. Every header given is signed.
 * `headers['x-amz-content-sha256']`, when given, is the payload hash signed (e.g. a STREAMING-* mode);
 * otherwise the body's SHA-256 is computed and set.
 */
export async function signRequest(base: string, creds: Creds, req: { method: string; path: string; query?: Record<string, string>; headers?: Record<string, string>; body?: Buffer; signingDate?: Date }): Promise<SignedParts> {
  const url = new URL(base);
  const headers: Record<string, string> = { host: url.host, ...(req.headers ?? {}) };
  const signer = signerFor(creds);
  const signingDate = req.signingDate ?? new Date();
  const signed = await signer.sign(new HttpRequest({
    method: req.method, protocol: url.protocol, hostname: url.hostname, port: Number(url.port),
    path: encodePath(req.path), query: req.query ?? {}, headers, body: req.body,
  }), { signingDate });
  const qs = Object.entries(req.query ?? {}).map(([k, v]) => (v === '' ? rfc3986(k) : `${rfc3986(k)}=${rfc3986(v)}`)).join('&');
  const auth = String(signed.headers.authorization);
  return { path: signed.path + (qs ? `?${qs}` : ''), headers: signed.headers as Record<string, string>, signature: /Signature=([0-9a-f]{64})/.exec(auth)![1]!, signer, signingDate };
}

/** signRequest + rawRequest. A Buffer body gets its content-length (signed). */
export async function sendSigned(base: string, ca: Buffer, creds: Creds, req: { method: string; path: string; query?: Record<string, string>; headers?: Record<string, string>; body?: Buffer | string; timeoutMs?: number }): Promise<RawResponse> {
  const body = typeof req.body === 'string' ? Buffer.from(req.body) : req.body;
  const headers = { ...(req.headers ?? {}) };
  if (body !== undefined) headers['content-length'] = String(body.length);
  const s = await signRequest(base, creds, { ...req, headers, body });
  return rawRequest(base, ca, { method: req.method, path: s.path, headers: s.headers, body, timeoutMs: req.timeoutMs });
}

// ---- aws-chunked bodies ----------------------------------------------------------------------------

/** base64 of the big-endian CRC32 of data: the x-amz-checksum-crc32 value. */
export function crc32b64(data: Buffer): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc32(data) >>> 0);
  return b.toString('base64');
}

function* chunksOf(data: Buffer, size: number): Generator<Buffer> {
  for (let off = 0; off < data.length; off += size) yield data.subarray(off, Math.min(off + size, data.length));
}

/** STREAMING-UNSIGNED-PAYLOAD-TRAILER framing: `hex\r\n data\r\n … 0\r\n name:value\r\n \r\n` (as aws-cli / the SDK send it). */
export function frameUnsignedTrailer(data: Buffer, chunkSize: number, trailer: { name: string; value: string }): Buffer {
  const parts: Buffer[] = [];
  for (const c of chunksOf(data, chunkSize)) parts.push(Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n'));
  parts.push(Buffer.from(`0\r\n${trailer.name}:${trailer.value}\r\n\r\n`));
  return Buffer.concat(parts);
}

/**
 * STREAMING-AWS4-HMAC-SHA256-PAYLOAD framing: `hex;chunk-signature=sig\r\n data\r\n … 0;chunk-signature=sig\r\n\r\n`,
 * each signature from smithy's event signer, chained from the request's signature (the S3 chunk string-to-sign:
 * AWS4-HMAC-SHA256-PAYLOAD / date / scope / previous signature / sha256("") / sha256(chunk)).
 * Returns the body and the offset of each chunk's data in it.
 */
export async function frameSignedChunks(data: Buffer, chunkSize: number, seed: SignedParts): Promise<{ body: Buffer; dataOffsets: number[] }> {
  const parts: Buffer[] = [];
  const dataOffsets: number[] = [];
  let offset = 0;
  let prev = seed.signature;
  for (const c of [...chunksOf(data, chunkSize), Buffer.alloc(0)]) {
    const sig = await seed.signer.sign({ headers: new Uint8Array(0), payload: c }, { signingDate: seed.signingDate, priorSignature: prev });
    prev = sig as unknown as string;
    const head = Buffer.from(`${c.length.toString(16)};chunk-signature=${prev}\r\n`);
    parts.push(head, c, Buffer.from('\r\n'));
    dataOffsets.push(offset + head.length);
    offset += head.length + c.length + 2;
  }
  dataOffsets.pop(); // the final 0-size chunk has no data
  return { body: Buffer.concat(parts), dataOffsets };
}

/** The length of a signed-chunk body for `dataLength` bytes in `chunkSize` chunks (needed to sign Content-Length first). */
export function signedChunksLength(dataLength: number, chunkSize: number): number {
  let n = 0;
  const line = (size: number) => size.toString(16).length + ';chunk-signature='.length + 64 + 2;
  for (let off = 0; off < dataLength; off += chunkSize) {
    const size = Math.min(chunkSize, dataLength - off);
    n += line(size) + size + 2;
  }
  return n + line(0) + 2;
}

// ---- bodies and hashes -----------------------------------------------------------------------------

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Writes `size` random bytes to `file` in 1 MiB blocks (never whole in memory); returns the SHA-256. */
export async function randomFile(file: string, size: number): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  const h = createHash('sha256');
  const out = createWriteStream(file);
  for (let left = size; left > 0;) {
    const block = randomBytes(Math.min(left, 1 << 20));
    h.update(block);
    left -= block.length;
    if (!out.write(block)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  return h.digest('hex');
}

export async function sha256File(file: string): Promise<{ sha: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of createReadStream(file)) {
    h.update(c as Buffer);
    size += (c as Buffer).length;
  }
  return { sha: h.digest('hex'), size };
}

/** Hashes a stream to its end: { sha, size }. */
export async function sha256Stream(s: AsyncIterable<unknown>): Promise<{ sha: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of s) {
    const b = c as Uint8Array;
    h.update(b);
    size += b.length;
  }
  return { sha: h.digest('hex'), size };
}

// ---- S3 XML ---------------------------------------------------------------------------------------

export interface S3ErrorBody { code?: string; message?: string; requestId?: string; stringToSign?: string; [k: string]: string | undefined }

export function parseError(xml: string): S3ErrorBody {
  const el = (name: string) => {
    const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
    return m ? m[1]!.replace(/&(lt|gt|amp|apos|quot|#xA|#10);/g, (_, e: string) => ({ lt: '<', gt: '>', amp: '&', apos: "'", quot: '"', '#xA': '\n', '#10': '\n' })[e]!) : undefined;
  };
  return { code: el('Code'), message: el('Message'), requestId: el('RequestId'), stringToSign: el('StringToSign'), headersNotSigned: el('HeadersNotSigned') };
}

// ---- straight to RGW ---------------------------------------------------------------------------------

/** GET/HEAD straight to RGW (signed with RGW's credential), with the SSE-C key when given (X-Forwarded-Proto: https, which RGW trusts). */
export function onRgw(rgw: RgwInfo, method: 'GET' | 'HEAD', bucket: string, key: string, k?: SseKey): Promise<RgwResponse> {
  const headers: Record<string, string> = k ? { 'x-forwarded-proto': 'https', ...ssecHeaders(k) } : {};
  return rgwRequest(rgw, { method, path: `/${bucket}/${key}`, headers });
}

/** An SseKey from raw bytes (e.g. a keyring file). */
export function keyOf(raw: Buffer): SseKey {
  return { raw, b64: raw.toString('base64'), md5: createHash('md5').update(raw).digest('base64') };
}

/** The gateway's `request` log lines. */
export function requestLines(gw: GatewayProcess): Record<string, unknown>[] {
  return gw.logs().filter((l) => l.msg === 'request');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
