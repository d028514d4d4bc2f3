// Test helpers: a real Ceph RGW (scripts/rgw.sh) and redis (scripts/redis.sh) on loopback.
//
// The suite-wide instances are started by tap's `before` script (test/setup/global-before.ts)
// under the state dir (env SSEC_TEST_STATE, default <repo>/.state/test): <state>/rgw/rgw.json
// and <state>/redis/redis.json.  A test file run on its own (no live suite-wide instance)
// starts a private one for its process and stops it when the process exits.
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type * as http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { signedRequest } from './signed-request.js';

export interface RgwInfo {
  /** e.g. http://127.0.0.1:25714 (plain http frontend) */
  http: string;
  /** e.g. https://127.0.0.1:30981 (RGW's own TLS frontend; trust caFile) */
  https: string;
  accessKey: string;
  secretKey: string;
  /** SigV4 region to sign with (RGW 16 accepts any; us-east-1 is recorded) */
  region: string;
  /** PEM of RGW's self-signed certificate (SAN IP:127.0.0.1, DNS:localhost), usable as a CA file */
  caFile: string;
  /** rgw_crypt_require_ssl */
  requireSsl: boolean;
  /** rgw_trust_forwarded_https */
  trustForwarded: boolean;
  /** the cluster's work dir (ceph.conf, log/, rgw.json, rgw.env) */
  dir: string;
}

export interface RedisInfo {
  url: string;
}

export const repoRoot: string = fileURLToPath(new URL('../../', import.meta.url));

/** Where the suite-wide services live: env SSEC_TEST_STATE, else <repo>/.state/test. */
export function stateRoot(): string {
  return process.env.SSEC_TEST_STATE || join(repoRoot, '.state', 'test');
}

const RGW_SH = join(repoRoot, 'scripts', 'rgw.sh');
const REDIS_SH = join(repoRoot, 'scripts', 'redis.sh');

// ---- process plumbing ---------------------------------------------------------------

/** Run one of our scripts; reject with its stderr (which carries the ceph log tail) on failure. */
export function runScript(script: string, args: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [script, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${script} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      } else {
        resolve(stdout + stderr);
      }
    });
  });
}

// dirs of services this process started and must stop when it exits
const toStopOnExit = new Map<string, string>(); // dir -> script
let exitHookInstalled = false;

function stopOnExit(script: string, dir: string): void {
  toStopOnExit.set(dir, script);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous; spawnSync is fine there
  process.on('exit', () => {
    for (const [d, s] of toStopOnExit) {
      spawnSync('bash', [s, 'stop', d, '--clean'], { stdio: 'ignore', timeout: 60_000 });
    }
    toStopOnExit.clear();
  });
}

function procNames(pid: number, needle: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').includes(needle);
  } catch {
    return false;
  }
}

let privateSeq = 0;
function privateDir(kind: string): string {
  privateSeq += 1;
  return join(stateRoot(), 'private', `${kind}-${process.pid}-${privateSeq}-${randomBytes(3).toString('hex')}`);
}

// ---- RGW ----------------------------------------------------------------------------

interface RgwJson extends RgwInfo {
  pids?: { mon?: number; osd?: number; rgw?: number };
}

function readRgwJson(dir: string): RgwJson {
  const j = JSON.parse(readFileSync(join(dir, 'rgw.json'), 'utf8')) as RgwJson;
  return j;
}

function toInfo(j: RgwJson): RgwInfo {
  return {
    http: j.http,
    https: j.https,
    accessKey: j.accessKey,
    secretKey: j.secretKey,
    region: j.region,
    caFile: j.caFile,
    requireSsl: j.requireSsl,
    trustForwarded: j.trustForwarded,
    dir: j.dir,
  };
}

/** The rgw.json in dir, if the radosgw it names is still running. */
function liveRgw(dir: string): RgwInfo | undefined {
  if (!existsSync(join(dir, 'rgw.json'))) return undefined;
  try {
    const j = readRgwJson(dir);
    const pid = j.pids?.rgw;
    if (!pid || !procNames(pid, join(j.dir, 'ceph.conf'))) return undefined;
    return toInfo(j);
  } catch {
    return undefined;
  }
}

/**
 * A private RGW for tests that need another configuration (e.g. requireSsl false, or
 * RGW's default trustForwarded false).  ~2-3 s to start.  Call stop() when done; it is
 * also stopped when the process exits.
 */
export async function startRgw(opts: { requireSsl?: boolean; trustForwarded?: boolean } = {}): Promise<RgwInfo & { stop(): Promise<void> }> {
  const dir = privateDir('rgw');
  stopOnExit(RGW_SH, dir);
  await runScript(RGW_SH, [
    'start', dir,
    '--require-ssl', String(opts.requireSsl ?? true),
    '--trust-forwarded', String(opts.trustForwarded ?? true),
  ]);
  const info = toInfo(readRgwJson(dir));
  let stopped: Promise<void> | undefined;
  return {
    ...info,
    stop(): Promise<void> {
      stopped ??= (async () => {
        const keep = process.env.SSEC_KEEP_RGW === '1';
        await runScript(RGW_SH, keep ? ['stop', dir] : ['stop', dir, '--clean']);
        toStopOnExit.delete(dir);
      })();
      return stopped;
    },
  };
}

let sharedRgwP: Promise<RgwInfo> | undefined;

/**
 * The suite-wide RGW (require ssl true, trust forwarded true: the ingress-as-deployed mode).
 * Falls back to a private one for this process when the global before-script did not run.
 */
export function sharedRgw(): Promise<RgwInfo> {
  sharedRgwP ??= (async () => {
    const live = liveRgw(join(stateRoot(), 'rgw'));
    if (live) return live;
    const r = await startRgw();
    const { stop: _stop, ...info } = r;
    return info;
  })();
  return sharedRgwP;
}

// ---- redis --------------------------------------------------------------------------

function liveRedis(dir: string): RedisInfo | undefined {
  try {
    const j = JSON.parse(readFileSync(join(dir, 'redis.json'), 'utf8')) as { url: string; pid: number };
    if (!procNames(j.pid, join(dir, 'redis.conf'))) return undefined;
    return { url: j.url };
  } catch {
    return undefined;
  }
}

let sharedRedisP: Promise<RedisInfo> | undefined;

/** The suite-wide redis (no persistence), or a private one for this process. */
export function sharedRedis(): Promise<RedisInfo> {
  sharedRedisP ??= (async () => {
    const live = liveRedis(join(stateRoot(), 'redis'));
    if (live) return live;
    const dir = privateDir('redis');
    stopOnExit(REDIS_SH, dir);
    await runScript(REDIS_SH, ['start', dir]);
    const info = liveRedis(dir);
    if (!info) throw new Error(`redis.sh start ${dir} did not leave a live redis`);
    return info;
  })();
  return sharedRedisP;
}

// ---- signed requests straight to RGW -------------------------------------------------

export interface RgwResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface RgwRequest {
  method: string;
  /** unencoded path, e.g. `/bucket/some key`; each segment is URI-encoded here */
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** which frontend (default 'http') */
  endpoint?: 'http' | 'https';
}

export { encodePath, rfc3986 } from './signed-request.js';

let caCache: { file: string; pem: Buffer } | undefined;
function caPem(file: string): Buffer {
  if (caCache?.file !== file) caCache = { file, pem: readFileSync(file) };
  return caCache.pem;
}

/**
 * One SigV4-signed request straight to RGW (payload signed), returning status, headers and
 * the whole body.  Headers given are signed too (e.g. SSE-C headers, X-Forwarded-Proto).
 */
export async function rgwRequest(rgw: RgwInfo, req: RgwRequest): Promise<RgwResponse> {
  const https = req.endpoint === 'https';
  const r = await signedRequest(https ? rgw.https : rgw.http, { accessKey: rgw.accessKey, secretKey: rgw.secretKey, region: rgw.region }, {
    method: req.method, path: req.path, query: req.query, headers: req.headers, body: req.body, ca: https ? caPem(rgw.caFile) : undefined,
  });
  return { status: r.status, headers: r.headers, body: r.body };
}

/** A bucket name unique to this process: `${prefix}-${pid}-${random}`, lower case, <= 63 chars. */
export function bucketName(prefix: string): string {
  const p = prefix.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'b';
  return `${p}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** CreateBucket straight to RGW (http frontend, signed).  Already owned by us counts as success. */
export async function createBucket(rgw: RgwInfo, name: string): Promise<void> {
  const res = await rgwRequest(rgw, { method: 'PUT', path: `/${name}` });
  if (res.status === 200) return;
  const text = res.body.toString('utf8');
  if (res.status === 409 && text.includes('BucketAlreadyOwnedByYou')) return;
  throw new Error(`CreateBucket ${name} on ${rgw.http}: HTTP ${res.status} ${text}`);
}
