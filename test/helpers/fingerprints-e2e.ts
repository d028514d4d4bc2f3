// Helpers for the end-to-end fingerprint tests (fingerprints-e2e, rotate): the `ssec-gateway`
// CLI spawned as a user runs it (`keys …`, `rotate …`), a private redis-server that can be
// SIGKILLed and restarted on the same port, /metrics read from a gateway's admin listener, a dump of
// every key and value of a Redis, and bucket clean-up straight on RGW.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { SseKey } from './clients.js';
import { REPO } from './gateway.js';
import { rgwRequest, runScript, stateRoot, type RgwInfo } from './rgw.js';

export const BIN = join(REPO, 'bin', 'ssec-gateway.js');
const REDIS_SH = join(REPO, 'scripts', 'redis.sh');

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls cond (sync or async) every stepMs until it is truthy or ms passed; returns its last value. */
export async function until<T>(cond: () => T | Promise<T>, ms: number, stepMs = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v || Date.now() >= end) return v;
    await sleep(stepMs);
  }
}

export const SSEC_H = {
  algorithm: 'x-amz-server-side-encryption-customer-algorithm',
  key: 'x-amz-server-side-encryption-customer-key',
  keyMd5: 'x-amz-server-side-encryption-customer-key-md5',
} as const;

/** The SSE-C triplet headers of key k. */
export function triplet(k: SseKey): Record<string, string> {
  return { [SSEC_H.algorithm]: 'AES256', [SSEC_H.key]: k.b64, [SSEC_H.keyMd5]: k.md5 };
}

/** The gateway's fingerprint of a key: HMAC-SHA256(secret as UTF-8, raw key), hex (src/fingerprints/secret.ts). */
export function fingerprintOf(raw: Buffer, secret: string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(raw).digest('hex');
}

/** `<Code>` and `<Message>` of an S3 error body. */
export function s3Error(body: Buffer | string): { code?: string; message?: string } {
  const s = body.toString();
  const el = (n: string) => new RegExp(`<${n}>([^<]*)</${n}>`).exec(s)?.[1]?.replace(/&(lt|gt|amp|apos|quot);/g, (_, e: string) => ({ lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' })[e]!);
  return { code: el('Code'), message: el('Message') };
}

// ---- the CLI ---------------------------------------------------------------------------------

function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('SSEC_GATEWAY_')) env[k] = v;
  return { ...env, ...extra };
}

export interface CliRun { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }

export interface CliProcess {
  child: ChildProcess;
  /** complete stdout lines so far */
  lines: string[];
  stdout(): string;
  stderr(): string;
  done: Promise<CliRun>;
}

/** Spawns `node bin/ssec-gateway.js ARGS` (stdout a pipe, so never a TTY); onLine sees every stdout line. */
export function spawnCli(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number; onLine?: (line: string, p: CliProcess) => void } = {}): CliProcess {
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let partial = '';
  const lines: string[] = [];
  const p: CliProcess = { child, lines, stdout: () => out, stderr: () => err, done: undefined as unknown as Promise<CliRun> };
  child.stdout!.on('data', (c: Buffer) => {
    const s = c.toString('utf8');
    out += s;
    partial += s;
    let i: number;
    while ((i = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, i);
      partial = partial.slice(i + 1);
      lines.push(line);
      opts.onLine?.(line, p);
    }
  });
  child.stderr!.on('data', (c: Buffer) => { err += c.toString('utf8'); });
  p.done = new Promise<CliRun>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`ssec-gateway ${args.join(' ')}: no exit in ${opts.timeoutMs ?? 120_000} ms\n${out}${err}`)); }, opts.timeoutMs ?? 120_000);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout: out, stderr: err, ms: performance.now() - t0 }); });
  });
  return p;
}

/** Runs the CLI to completion. Every run is kept in `cliRuns` (for the final no-key-material scan). */
export const cliRuns: CliRun[] = [];
export async function ssecCli(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliRun> {
  const r = await spawnCli(args, opts).done;
  cliRuns.push(r);
  return r;
}

export interface KeyJson {
  id: string; fingerprint: string; status: string; statusAt: string | null; firstSeen: string; lastSeen: string;
  requests: number; bytesWritten: number; objects: number; objectBytes: number; clients: string[]; buckets: string[];
  exposure: { at: string; lastAt: string; count: number; client: string; listener: string; header: string; requestId: string } | null;
  alerts: Record<string, string>;
}
export interface ObjectJson { bucket: string; key: string; versionId: string | null; size: number | null; at: string }

/** `keys list --json` */
export async function keysList(store: string[]): Promise<KeyJson[]> {
  const r = await ssecCli(['keys', 'list', '--json', ...store]);
  if (r.code !== 0) throw new Error(`keys list exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as KeyJson[];
}

/** `keys objects ID --json` ([] when the key is unknown: the CLI then exits 1) */
export async function keysObjects(store: string[], id: string): Promise<ObjectJson[]> {
  const r = await ssecCli(['keys', 'objects', id, '--json', ...store]);
  if (r.code === 1 && /no key/.test(r.stderr)) return [];
  if (r.code !== 0) throw new Error(`keys objects ${id} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as ObjectJson[];
}

// ---- metrics ---------------------------------------------------------------------------------

/** The gateway's /metrics as `name{labels}` → value (also `name` alone for unlabelled series). */
export async function metricsOf(adminUrl: string): Promise<Map<string, number>> {
  const res = await fetch(`${adminUrl}/metrics`);
  const text = await res.text();
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

// ---- Redis -----------------------------------------------------------------------------------

/** SCAN of every key, with TYPE and the whole value, as one text. */
export async function dumpRedis(url: string): Promise<{ text: string; keys: number; types: Map<string, number> }> {
  const rc = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await rc.connect();
  let text = '';
  let keys = 0;
  const types = new Map<string, number>();
  try {
    let cursor = '0';
    do {
      const [next, batch] = await rc.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const key of batch) {
        keys++;
        const type = await rc.type(key);
        types.set(type, (types.get(type) ?? 0) + 1);
        text += `\n${type} ${key}\n`;
        if (type === 'string') text += await rc.get(key);
        else if (type === 'hash') text += JSON.stringify(await rc.hgetall(key));
        else if (type === 'set') text += JSON.stringify(await rc.smembers(key));
        else if (type === 'zset') text += JSON.stringify(await rc.zrange(key, '0', '-1', 'WITHSCORES'));
        else if (type === 'list') text += JSON.stringify(await rc.lrange(key, 0, -1));
        else if (type === 'stream') text += JSON.stringify(await rc.xrange(key, '-', '+'));
        else text += (await rc.dumpBuffer(key))?.toString('latin1') ?? '';
      }
    } while (cursor !== '0');
  } finally {
    rc.disconnect();
  }
  return { text, keys, types };
}

export interface PrivateRedis {
  url: string;
  dir: string;
  port: number;
  pid: number;
  /** SIGKILL of the redis-server this helper started */
  kill(): void;
  /** a new redis-server on the same port (same config file); empty: no persistence */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** A private redis-server (scripts/redis.sh start DIR). */
export async function privateRedis(): Promise<PrivateRedis> {
  const dir = join(stateRoot(), 'private', `fp-e2e-redis-${process.pid}-${randomBytes(3).toString('hex')}`);
  await runScript(REDIS_SH, ['start', dir]);
  const j = JSON.parse(readFileSync(join(dir, 'redis.json'), 'utf8')) as { url: string; pid: number };
  const r: PrivateRedis = {
    url: j.url, dir, pid: j.pid, port: Number(new URL(j.url).port),
    kill() { process.kill(r.pid, 'SIGKILL'); },
    async restart() {
      const pidFile = join(dir, 'redis.pid');
      rmSync(pidFile, { force: true });
      const started = spawnSync('redis-server', [join(dir, 'redis.conf')], { stdio: 'ignore' });
      if (started.status !== 0) throw new Error(`redis-server ${dir}/redis.conf exited ${started.status}`);
      if (!(await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 10_000, 20))) throw new Error('restarted redis wrote no pid file');
      r.pid = Number(readFileSync(pidFile, 'utf8').trim());
      writeFileSync(join(dir, 'redis.pidrec'), `${r.pid}\n`); // so `redis.sh stop` ends the new one
    },
    async stop() { await runScript(REDIS_SH, ['stop', dir, '--clean']); },
  };
  return r;
}

// ---- RGW clean-up ----------------------------------------------------------------------------

/** Deletes every object (and unfinished multipart upload) of a bucket, then the bucket, straight on RGW. */
export async function removeBucket(rgw: RgwInfo, bucket: string): Promise<void> {
  for (let round = 0; round < 50; round++) {
    const list = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}`, query: { 'list-type': '2', 'max-keys': '1000' } }).catch(() => undefined);
    const keys = [...(list?.body.toString('utf8') ?? '').matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]!.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>'));
    if (!keys.length) break;
    for (let i = 0; i < keys.length; i += 16) {
      await Promise.all(keys.slice(i, i + 16).map((k) => rgwRequest(rgw, { method: 'DELETE', path: `/${bucket}/${k}` }).catch(() => undefined)));
    }
  }
  const ups = await rgwRequest(rgw, { method: 'GET', path: `/${bucket}`, query: { uploads: '' } }).catch(() => undefined);
  for (const m of (ups?.body.toString('utf8') ?? '').matchAll(/<Upload>[\s\S]*?<Key>([^<]*)<\/Key>[\s\S]*?<UploadId>([^<]*)<\/UploadId>[\s\S]*?<\/Upload>/g)) {
    await rgwRequest(rgw, { method: 'DELETE', path: `/${bucket}/${m[1]!}`, query: { uploadId: m[2]! } }).catch(() => undefined);
  }
  await rgwRequest(rgw, { method: 'DELETE', path: `/${bucket}` }).catch(() => undefined);
}

/** Runs fn over items with at most n in flight. */
export async function pool<T, R>(items: T[], n: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  }));
  return out;
}
