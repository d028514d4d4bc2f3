// Helpers for the fault suite (test/faults): radosgw killed and restarted under a gateway that keeps
// running, stand-in upstreams that stall or fail, and unsigned transfers (auth mode none) that
// are paced, hashed as they go and report how they ended, over HTTP/1.1 and HTTP/2.
import { spawn } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, appendFileSync, readdirSync, readlinkSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { startRgw, type RgwInfo } from './rgw.js';
import { sleep, until as pollUntil } from './fingerprints-e2e.js';

export const MiB = 1024 * 1024;
export { sleep };

/** fingerprints-e2e's until, polling every 25 ms by default. */
export const until = <T>(cond: () => T | Promise<T>, ms: number, stepMs = 25): Promise<T> => pollUntil(cond, ms, stepMs);

// ---- SSE-C -------------------------------------------------------------------------------------

/** The SSE-C triplet headers of a fresh random key. */
export function ssecHeaders(): Record<string, string> {
  const raw = randomBytes(32);
  return {
    'x-amz-server-side-encryption-customer-algorithm': 'AES256',
    'x-amz-server-side-encryption-customer-key': raw.toString('base64'),
    'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(raw).digest('base64'),
  };
}

/** `<Code>` of an S3 error body. */
export const s3Code = (body: Buffer | string): string | undefined => /<Code>([^<]*)<\/Code>/.exec(body.toString())?.[1];

// ---- radosgw alone: killed and started again ---------------------------------------------------
//
// scripts/rgw.sh runs mon, osd (memstore) and radosgw as separate processes. memstore keeps the
// objects in the OSD's memory, so killing and restarting radosgw ALONE (same ceph.conf: same ports)
// keeps every object stored: what was acknowledged before the kill can be read after it, and an
// upload that never completed can be shown absent. (Restarting the whole cluster, rgw.sh start,
// would lose everything.) A bucket must be created before the first kill: a radosgw killed leaves
// its watch on the cluster's control objects for ~30 s, and a metadata write (CreateBucket) waits
// for that watch to time out (measured: 28 s). Object reads and writes do not.

function pidAlive(pid: number, conf: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    if (/^\d+ \(.*\) [ZX]/.test(stat)) return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').includes(conf);
  } catch {
    return false;
  }
}

/**
 * startRgw(), tried a second time if the first start fails: on a machine running several suites at
 * once a radosgw can die during its start (rgw.sh: "rgw (pid …) exited"), a flake of the
 * environment, not of what these tests look at.
 */
export async function startPrivateRgw(): Promise<Awaited<ReturnType<typeof startRgw>>> {
  try {
    return await startRgw();
  } catch (e) {
    process.stderr.write(`# startRgw failed, trying once more: ${(e as Error).message.split('\n')[0]}\n`);
    return startRgw();
  }
}

/** The pid of the radosgw of this private cluster that is running now (the last one recorded in DIR/pids). */
export function radosgwPid(rgw: RgwInfo): number | undefined {
  const conf = join(rgw.dir, 'ceph.conf');
  const pids = readFileSync(join(rgw.dir, 'pids'), 'utf8').split('\n')
    .map((l) => l.trim().split(/\s+/)).filter((f) => f[0] === 'rgw' && /^\d+$/.test(f[1] ?? '')).map((f) => Number(f[1]));
  return pids.reverse().find((p) => pidAlive(p, conf));
}

const rgwPort = (rgw: RgwInfo) => Number(new URL(rgw.http).port);

/** True when something accepts TCP connections on the RGW's http port. */
export function rgwListening(rgw: RgwInfo): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: rgwPort(rgw) });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** SIGKILLs this private cluster's radosgw (never the shared one: call it only on a startRgw() cluster); resolves once its port refuses. */
export async function killRadosgw(rgw: RgwInfo): Promise<number> {
  const pid = radosgwPid(rgw);
  if (!pid) throw new Error(`no radosgw running for ${rgw.dir}`);
  process.kill(pid, 'SIGKILL');
  const conf = join(rgw.dir, 'ceph.conf');
  if (!await until(async () => !pidAlive(pid, conf) && !await rgwListening(rgw), 10_000)) throw new Error(`radosgw ${pid} still running 10 s after SIGKILL`);
  return pid;
}

/** Starts radosgw again with the cluster's ceph.conf (same ports, same OSD and its objects); resolves when it answers HTTP. */
export async function restartRadosgw(rgw: RgwInfo): Promise<{ pid: number; ms: number }> {
  const t0 = Date.now();
  const conf = join(rgw.dir, 'ceph.conf');
  const out = openSync(join(rgw.dir, 'log', 'client.rgw.a.out'), 'a');
  // detached: its own session, as rgw.sh launches it; recorded in DIR/pids so rgw.sh stop stops it
  const child = spawn('radosgw', ['-f', '-c', conf, '-n', 'client.rgw.a'], { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  child.unref();
  const pid = child.pid!;
  appendFileSync(join(rgw.dir, 'pids'), `rgw ${pid}\n`);
  const up = await until(async () => {
    if (!pidAlive(pid, conf)) throw new Error(`radosgw exited at restart (see ${rgw.dir}/log/client.rgw.a.log)`);
    const status = await new Promise<number>((resolve) => {
      http.get(`${rgw.http}/`, { agent: false, timeout: 1000 }, (res) => { res.resume(); resolve(res.statusCode ?? 0); })
        .on('error', () => resolve(0)).on('timeout', function (this: http.ClientRequest) { this.destroy(); });
    });
    return status > 0;
  }, 30_000, 50);
  if (!up) throw new Error(`radosgw did not answer within 30 s of its restart`);
  return { pid, ms: Date.now() - t0 };
}

// ---- the gateway's connections to an upstream --------------------------------------------------

export interface TcpConn { localPort: number; remotePort: number; state: string; txQueue: number; rxQueue: number }

/** The TCP connections process `pid` holds to 127.0.0.1:port (from /proc: its socket inodes in /proc/net/tcp). */
export function connectionsTo(pid: number, port: number): TcpConn[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch { /* closed meanwhile */ }
  }
  const states: Record<string, string> = { '01': 'ESTABLISHED', '06': 'TIME_WAIT', '08': 'CLOSE_WAIT', '04': 'FIN_WAIT1', '05': 'FIN_WAIT2', '0A': 'LISTEN', '09': 'LAST_ACK', '07': 'CLOSE', '0B': 'CLOSING', '02': 'SYN_SENT' };
  const out: TcpConn[] = [];
  for (const line of readFileSync('/proc/net/tcp', 'latin1').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !inodes.has(f[9]!)) continue;
    const remotePort = parseInt(f[2]!.split(':')[1]!, 16);
    if (remotePort !== port) continue;
    const [tx, rx] = f[4]!.split(':').map((h) => parseInt(h, 16));
    out.push({ localPort: parseInt(f[1]!.split(':')[1]!, 16), remotePort, state: states[f[3]!] ?? f[3]!, txQueue: tx!, rxQueue: rx! });
  }
  return out;
}

// ---- stand-in upstreams ------------------------------------------------------------------------

export interface StalledUpstream {
  url: string;
  port: number;
  /** connections accepted so far, and when each was closed (by the gateway), ms after it was accepted */
  accepted: { at: number; closedAfter?: number; bytes: number }[];
  close(): Promise<void>;
}

/**
 * A TCP server that accepts and never answers. `read: false` never reads either: a request body
 * then fills the socket buffers and stops (an upstream that hangs mid-upload).
 */
export async function stalledUpstream(opts: { read: boolean }): Promise<StalledUpstream> {
  const accepted: StalledUpstream['accepted'] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    const entry: StalledUpstream['accepted'][number] = { at: Date.now(), bytes: 0 };
    accepted.push(entry);
    sockets.add(s);
    if (opts.read) s.on('data', (c: Buffer) => { entry.bytes += c.length; });
    else s.pause();
    s.on('error', () => undefined);
    s.once('close', () => { entry.closedAfter = Date.now() - entry.at; sockets.delete(s); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`, port, accepted,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

/** An HTTP upstream that reads each request whole and answers it with `status` and an S3 error body of `code`. */
export async function failingUpstream(status: number, code: string): Promise<{ url: string; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => {
      const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>stand-in upstream says ${code}</Message><RequestId>tx-fake</RequestId></Error>`;
      res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), 'x-amz-request-id': 'tx-fake' }).end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, seen,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** An HTTP upstream that reads each request body whole and then answers 200 (an ETag, no body): an S3 that takes a PUT as slowly as it comes. */
export async function acceptingUpstream(): Promise<{ url: string; bodies: number[]; close(): Promise<void> }> {
  const bodies: number[] = [];
  const server = http.createServer((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => { n += c.length; });
    req.on('end', () => {
      bodies.push(n);
      res.writeHead(200, { etag: '"0123456789abcdef0123456789abcdef"', 'content-length': 0, 'x-amz-request-id': 'tx-fake' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, bodies,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** A loopback port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

// ---- bodies ------------------------------------------------------------------------------------

/** `size` deterministic pseudo-random bytes for `seed` (AES-128-CTR keystream), produced a piece at a time. */
export class Generated {
  readonly #cipher;
  readonly #zeros = Buffer.alloc(MiB);
  produced = 0;
  constructor(readonly size: number, seed: string) {
    this.#cipher = createCipheriv('aes-128-ctr', createHash('sha256').update(seed).digest().subarray(0, 16), Buffer.alloc(16));
  }
  /** the next at most n bytes (≤ 1 MiB), empty at the end */
  next(n: number): Buffer {
    const len = Math.min(n, MiB, this.size - this.produced);
    this.produced += len;
    return len > 0 ? this.#cipher.update(this.#zeros.subarray(0, len)) : Buffer.alloc(0);
  }
  /** sha256 (hex) of all `size` bytes, computed without keeping them */
  static digest(size: number, seed: string): string {
    return Generated.digestAll([[size, seed]]);
  }
  /** sha256 (hex) of several generated bodies one after the other (the parts of a multipart object) */
  static digestAll(parts: [size: number, seed: string][]): string {
    const h = createHash('sha256');
    for (const [size, seed] of parts) {
      const g = new Generated(size, seed);
      for (let b = g.next(MiB); b.length; b = g.next(MiB)) h.update(b);
    }
    return h.digest('hex');
  }
}

// ---- transfers ---------------------------------------------------------------------------------

export interface TransferResult {
  /** the status of the answer, 0 when none came */
  status: number;
  /** the answer's body for answers that are not 2xx (the error XML); empty for a 2xx */
  body: Buffer;
  /** bytes of the response body received (a GET's object) */
  received: number;
  /** sha256 of the response body received (hex) */
  sha256: string;
  /** the answer ended normally (every byte of its announced length) */
  complete: boolean;
  /** the error that broke the transfer (reset, socket hang up, RST_STREAM), if any */
  error?: string;
  /** ms from start to end */
  ms: number;
  headers: http.IncomingHttpHeaders;
}

export interface Transfer {
  /** request body bytes written so far */
  sent(): number;
  /** response body bytes received so far */
  received(): number;
  /** stop reading the response (the client's receive window fills) / read again */
  pause(): void;
  resume(): void;
  /** the client gives up: the connection (HTTP/1.1) or the stream (HTTP/2) is destroyed */
  destroy(): void;
  done: Promise<TransferResult>;
}

export interface TransferOpts {
  method: 'GET' | 'PUT' | 'HEAD' | 'POST' | 'DELETE';
  /** https://127.0.0.1:PORT */
  url: string;
  /** unencoded simple path, e.g. `/bucket/key` */
  path: string;
  ca: Buffer;
  headers?: Record<string, string>;
  /** PUT: the body, generated; Content-Length is set to its size */
  body?: Generated;
  /** PUT: bytes written per step, and the pause between steps (pacing); default 1 MiB, no pause */
  chunk?: number;
  intervalMs?: number;
  /** HTTP/2: the session to open the stream on (HTTP/1.1 when absent: a connection of its own) */
  session?: http2.ClientHttp2Session;
  /** GET: pause reading after this many bytes of the body */
  pauseAfter?: number;
  /** GET: read the body at about this many bytes per second (a slow client) */
  readRate?: number;
}

/** One request, paced, hashed as it goes; never rejects (the way it ended is in the result). */
export function transfer(o: TransferOpts): Transfer {
  const t0 = Date.now();
  const hash = createHash('sha256');
  let sent = 0;
  let received = 0;
  let status = 0;
  let headers: http.IncomingHttpHeaders = {};
  let paused = false;
  let pausedOnce = false;
  const errChunks: Buffer[] = [];
  let finish: (r: Omit<TransferResult, 'ms' | 'status' | 'received' | 'sha256' | 'body' | 'headers'>) => void = () => undefined;
  const done = new Promise<TransferResult>((resolve) => {
    let settled = false;
    finish = (r) => {
      if (settled) return;
      settled = true;
      stopWriting = true;
      resolve({ ...r, status, headers, received, sha256: hash.digest('hex'), body: Buffer.concat(errChunks), ms: Date.now() - t0 });
    };
  });
  let stopWriting = false;
  const reqHeaders: Record<string, string> = { ...(o.headers ?? {}) };
  if (o.body) reqHeaders['content-length'] = String(o.body.size);

  // the writable side and the readable side, whichever protocol
  let writable: NodeJS.WritableStream & { destroyed?: boolean };
  let readable: (NodeJS.ReadableStream & { destroy(): void }) | undefined;
  let destroy: () => void;
  const onBody = (res: NodeJS.ReadableStream) => {
    readable = res as typeof readable;
    res.on('data', (c: Buffer) => {
      received += c.length;
      if (status >= 200 && status < 300) hash.update(c); else errChunks.push(c);
      if (o.pauseAfter !== undefined && received >= o.pauseAfter && !pausedOnce) { pausedOnce = true; paused = true; res.pause(); }
      if (o.readRate) {
        const ahead = (received / o.readRate) * 1000 - (Date.now() - t0);
        if (ahead > 5 && !paused) { paused = true; res.pause(); setTimeout(() => { paused = false; res.resume(); }, ahead); }
      }
    });
  };

  if (o.session) {
    const stream = o.session.request({ ':method': o.method, ':path': o.path, ...reqHeaders }, { endStream: !o.body });
    writable = stream;
    destroy = () => stream.close(http2.constants.NGHTTP2_CANCEL);
    stream.on('response', (h) => { status = Number(h[':status']); headers = h as http.IncomingHttpHeaders; });
    onBody(stream);
    stream.on('end', () => finish(status ? { complete: true } : { complete: false, error: 'stream ended without an answer' }));
    stream.on('error', (e) => finish({ complete: false, error: e.message }));
    stream.on('close', () => finish({ complete: false, error: stream.rstCode ? `RST_STREAM ${stream.rstCode}` : 'stream closed before its end' }));
  } else {
    const u = new URL(o.url);
    const req = https.request({ method: o.method, hostname: u.hostname, port: Number(u.port), path: o.path, headers: reqHeaders, ca: o.ca, agent: false, ALPNProtocols: ['http/1.1'] } as https.RequestOptions, (res) => {
      status = res.statusCode ?? 0;
      headers = res.headers;
      onBody(res);
      res.on('end', () => finish({ complete: res.complete }));
      res.on('error', (e) => finish({ complete: false, error: e.message }));
      res.on('close', () => finish({ complete: res.complete, error: res.complete ? undefined : 'response closed before its end' }));
    });
    writable = req;
    destroy = () => req.destroy();
    req.on('error', (e) => finish({ complete: false, error: e.message }));
  }

  // the body, paced
  if (o.body) {
    const body = o.body;
    const chunk = o.chunk ?? MiB;
    const step = () => {
      if (stopWriting || writable.destroyed) return;
      const piece = body.next(chunk);
      sent += piece.length;
      const last = body.produced >= body.size;
      const more = last ? (writable.end(piece), false) : writable.write(piece);
      if (last) return;
      const next = () => (o.intervalMs ? setTimeout(step, o.intervalMs) : setImmediate(step));
      if (more) next(); else writable.once('drain', next);
    };
    step();
  } else if (!o.session) {
    writable.end();
  }

  return {
    sent: () => sent,
    received: () => received,
    pause: () => { paused = true; readable?.pause(); },
    resume: () => { paused = false; readable?.resume(); },
    destroy: () => destroy(),
    done,
  };
}

/**
 * HTTP/2 downloads by curl (libcurl + nghttp2), all multiplexed on ONE connection, each read at its
 * own rate (--limit-rate). For what a client sees when the server drains a session: node:http2's
 * client (Node 20) cannot be used for that. Whenever a GOAWAY or the end of the connection arrives
 * while one of its streams is paused, it drops the bytes of that stream that it has received but
 * not yet handed to the reader: the stream closes without 'end', a chunk or so short. This happens
 * against a bare node:http2 server too (measured: the last of three paced 4 MiB downloads lost
 * 16 KB in 4 runs of 4, with the server sending GOAWAY and closing nothing). curl against the same
 * server lost nothing: 18 of 18 downloads whole (3 runs of 3 with GOAWAY alone, 3 with the
 * server's session.close()).
 */
export function curlH2Downloads(o: { url: string; caFile: string; downloads: { path: string; headers: Record<string, string>; readRate: number }[] }): Transfer[] {
  const dir = mkdtempSync(join(tmpdir(), 'ssec-curl-'));
  const W = '%{stderr}CURLDONE %{url_effective} %{http_code} %{size_download} %{exitcode} %{errormsg}\\n';
  const args = ['-sS', '--no-progress-meter', '-Z', '--parallel-max', '64'];
  o.downloads.forEach((d, i) => {
    if (i) args.push('--next');
    args.push('--http2', '--cacert', o.caFile, '-w', W, '--limit-rate', String(Math.max(1024, Math.round(d.readRate))), '-o', join(dir, String(i)));
    for (const [k, v] of Object.entries(d.headers)) args.push('-H', `${k}: ${v}`);
    args.push(`${o.url}${d.path}`);
  });
  const t0 = Date.now();
  const child = spawn('curl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ends = o.downloads.map(() => {
    let resolve!: (r: TransferResult) => void;
    return { promise: new Promise<TransferResult>((r) => { resolve = r; }), resolve, settled: false };
  });
  const size = (i: number) => { try { return statSync(join(dir, String(i))).size; } catch { return 0; } };
  const settle = (i: number, status: number, exitcode: number, error: string) => {
    const e = ends[i]!;
    if (e.settled) return;
    e.settled = true;
    let data = Buffer.alloc(0);
    try { data = readFileSync(join(dir, String(i))); } catch { /* nothing was written */ }
    const ok = status >= 200 && status < 300;
    e.resolve({ status, headers: {}, body: ok ? Buffer.alloc(0) : data, received: data.length, sha256: createHash('sha256').update(ok ? data : Buffer.alloc(0)).digest('hex'),
      complete: exitcode === 0, error: exitcode === 0 ? undefined : `curl ${exitcode}: ${error}`, ms: Date.now() - t0 });
    if (ends.every((x) => x.settled)) rmSync(dir, { recursive: true, force: true });
  };
  let text = '';
  const errors: string[] = []; // curl's own messages (a failed transfer of a parallel run has no -w line)
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    text += c;
    let nl;
    while ((nl = text.indexOf('\n')) >= 0) {
      const line = text.slice(0, nl);
      text = text.slice(nl + 1);
      const m = /CURLDONE (\S+) (\d+) (\d+) (\d+) ?(.*)$/.exec(line);
      if (!m) { if (line.trim()) errors.push(line.trim()); continue; }
      const i = o.downloads.findIndex((d, j) => !ends[j]!.settled && `${o.url}${d.path}` === m[1]);
      if (i >= 0) settle(i, Number(m[2]), Number(m[4]), m[5] ?? '');
    }
  });
  child.on('close', (code) => o.downloads.forEach((_, i) => settle(i, 0, code ?? -1, errors.join('; ') || 'curl ended without reporting this transfer')));
  return o.downloads.map((_, i) => ({
    sent: () => 0,
    received: () => size(i),
    pause: () => { throw new Error('curlH2Downloads: no pause'); },
    resume: () => { throw new Error('curlH2Downloads: no resume'); },
    destroy: () => child.kill(),
    done: ends[i]!.promise,
  }));
}

/** A whole request with a small body (or none), answered in full: status, headers, body. */
export async function request(o: Omit<TransferOpts, 'body'> & { data?: Buffer }): Promise<TransferResult & { data: Buffer }> {
  const chunks: Buffer[] = [];
  const u = new URL(o.url);
  return new Promise((resolve) => {
    const t0 = Date.now();
    const req = https.request({ method: o.method, hostname: u.hostname, port: Number(u.port), path: o.path, ca: o.ca, agent: false,
      headers: { ...(o.headers ?? {}), ...(o.data ? { 'content-length': String(o.data.length) } : {}) } }, (res) => {
      res.on('data', (c: Buffer) => chunks.push(c));
      const end = (error?: string) => {
        const data = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data, data, received: data.length, sha256: createHash('sha256').update(data).digest('hex'), complete: res.complete, error, ms: Date.now() - t0 });
      };
      res.on('end', () => end());
      res.on('error', (e) => end(e.message));
    });
    req.setTimeout(60_000, () => req.destroy(new Error('no answer in 60 s')));
    req.on('error', (e) => resolve({ status: 0, headers: {}, body: Buffer.alloc(0), data: Buffer.alloc(0), received: 0, sha256: '', complete: false, error: e.message, ms: Date.now() - t0 }));
    req.end(o.data);
  });
}

/** GET admin path; status and text */
export function admin(adminUrl: string, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    http.get(`${adminUrl}${path}`, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => { text += c; }).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    }).on('error', (e) => resolve({ status: 0, text: e.message }));
  });
}

/** The sum of every sample of metric `name` whose labels contain all of `labels`. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  return text.split('\n')
    .filter((l) => l.startsWith(name + '{') || l.startsWith(name + ' '))
    .filter((l) => Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

// ---- a raw HTTP/1.1 client ---------------------------------------------------------------------

export interface RawConnection {
  /** everything received so far (latin1) */
  received(): string;
  /** the status codes of the answers received so far, in order */
  statuses(): number[];
  /** socket errors seen (EPIPE, ECONNRESET: the connection was reset) */
  errors: string[];
  /** resolves when the connection is closed */
  closed: Promise<void>;
  /** writes a request head and a body of `size` generated bytes, all of it whatever comes back (as botocore does); resolves when written or the socket is gone */
  send(head: string, size?: number): Promise<number>;
  destroy(): void;
}

/** A TLS connection speaking HTTP/1.1 by hand: no client library deciding when to stop writing or to close. */
export async function rawHttp1(url: string, ca: Buffer): Promise<RawConnection> {
  const u = new URL(url);
  const socket = tls.connect({ host: u.hostname, port: Number(u.port), ca, ALPNProtocols: ['http/1.1'] });
  await new Promise<void>((resolve, reject) => { socket.once('secureConnect', () => resolve()); socket.once('error', reject); });
  let got = '';
  const errors: string[] = [];
  socket.on('data', (c: Buffer) => { got += c.toString('latin1'); });
  socket.on('error', (e) => errors.push((e as NodeJS.ErrnoException).code ?? e.message));
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  return {
    received: () => got,
    statuses: () => [...got.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1])),
    errors,
    closed,
    send: (head, size = 0) => new Promise<number>((resolve) => {
      socket.write(head);
      const body = new Generated(size, 'raw');
      let sent = 0;
      const step = () => {
        if (socket.destroyed || sent >= size) { resolve(sent); return; }
        const piece = body.next(MiB);
        sent += piece.length;
        if (socket.write(piece)) setImmediate(step); else socket.once('drain', step);
      };
      socket.once('close', () => resolve(sent));
      step();
    }),
    destroy: () => socket.destroy(),
  };
}
