// Real S3 clients, run the way a person would, each in isolation.
//
// Every CLI call gets a private HOME (a temp dir holding only that client's config file, written for the
// endpoint) and an environment with the machine's AWS_*, RCLONE_*, S3CMD*, *_CA_BUNDLE, XDG_* and proxy
// variables removed. Clients and versions this was written against (see real-clients.md):
//   aws-cli v1 1.45 (pyenv, botocore 1.43), aws-cli v2 2.9.19 (/usr/bin/aws), boto3 1.43 (pyenv python3),
//   s3cmd 2.3.0 (/usr/bin/s3cmd), rclone 1.60.1 (Debian), @aws-sdk/client-s3 3.1175.
//
// Binaries can be overridden with SSEC_TEST_AWS_V1, SSEC_TEST_AWS_V2, SSEC_TEST_PYTHON, SSEC_TEST_S3CMD,
// SSEC_TEST_RCLONE (absolute paths).
import { spawn, execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler, NodeHttp2Handler } from '@smithy/node-http-handler';

export interface Endpoint {
  /** e.g. https://127.0.0.1:8443 */
  url: string;
  accessKey: string;
  secretKey: string;
  region: string;
  /** PEM file to trust (the endpoint's CA or self-signed certificate) */
  caFile?: string;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOpts {
  /** merged last into the child's environment (e.g. AWS_REQUEST_CHECKSUM_CALCULATION=when_required) */
  env?: Record<string, string>;
  cwd?: string;
  /** written to the child's stdin (stdin is closed either way) */
  input?: Buffer;
  /** kill the client (SIGKILL) after this long; default 120 s. The result then has code 124. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 120_000;

// ---------------------------------------------------------------------------------------------------------
// binaries

function execText(cmd: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 15_000 }, (err, stdout) => resolve(err ? undefined : stdout.trim() || undefined));
  });
}

const resolved = new Map<string, Promise<string>>();

function resolveBin(name: string, find: () => Promise<string | undefined>): Promise<string> {
  let p = resolved.get(name);
  if (!p) {
    p = find().then((bin) => {
      if (!bin) throw new Error(`real client "${name}" not found on this machine`);
      return bin;
    });
    resolved.set(name, p);
  }
  return p;
}

/** The pyenv shim `aws` is v1, but calling the shim with a private HOME is fragile: use the real path. */
function pyenvWhich(prog: string): Promise<string | undefined> {
  return execText('pyenv', ['which', prog]);
}

const awsV1Bin = () =>
  resolveBin('aws-cli v1', async () => process.env.SSEC_TEST_AWS_V1 || (await pyenvWhich('aws')));
const awsV2Bin = () =>
  resolveBin('aws-cli v2', async () =>
    process.env.SSEC_TEST_AWS_V2 || (existsSync('/usr/bin/aws') ? '/usr/bin/aws' : undefined),
  );
const pythonBin = () =>
  resolveBin('python3 (boto3)', async () => process.env.SSEC_TEST_PYTHON || (await pyenvWhich('python3')) || 'python3');
const s3cmdBin = () =>
  resolveBin('s3cmd', async () =>
    process.env.SSEC_TEST_S3CMD || (existsSync('/usr/bin/s3cmd') ? '/usr/bin/s3cmd' : 's3cmd'),
  );
const rcloneBin = () => resolveBin('rclone', async () => process.env.SSEC_TEST_RCLONE || 'rclone');

// ---------------------------------------------------------------------------------------------------------
// environment and process running

const STRIP = [/^AWS_/i, /^RCLONE_/i, /^S3CMD/i, /_CA_BUNDLE$/i, /^XDG_/i, /^BOTO_/i, /^(http|https|all|no)_proxy$/i];

/** process.env minus everything that could point a client at another config, credential, CA or proxy. */
function cleanEnv(home: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || STRIP.some((re) => re.test(k))) continue;
    env[k] = v;
  }
  env.HOME = home;
  return env;
}

/** The AWS variables the brief fixes for aws-cli and boto3. */
function awsEnv(ep: Endpoint): Record<string, string> {
  const env: Record<string, string> = {
    AWS_ACCESS_KEY_ID: ep.accessKey,
    AWS_SECRET_ACCESS_KEY: ep.secretKey,
    AWS_DEFAULT_REGION: ep.region,
    AWS_PAGER: '',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  if (ep.caFile) env.AWS_CA_BUNDLE = ep.caFile;
  return env;
}

function run(cmd: string, args: string[], env: Record<string, string>, opts: RunOpts): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.on('error', () => {}); // the client may exit without reading stdin (EPIPE)
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${cmd}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let stderr = Buffer.concat(err).toString('utf8');
      if (timedOut) stderr += `\n[clients.ts] killed after ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`;
      resolve({
        code: timedOut ? 124 : (code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr,
      });
    });
    child.stdin.end(opts.input ?? undefined);
  });
}

/** Runs fn with a fresh private HOME and removes it afterwards. */
async function withHome<T>(fn: (home: string) => Promise<T>): Promise<T> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'ssec-client-home-'));
  try {
    return await fn(home);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

function hostPort(url: URL): string {
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${url.hostname}:${port}`;
}

// ---------------------------------------------------------------------------------------------------------
// aws-cli v1 / v2

async function writeAwsConfig(home: string, ep: Endpoint): Promise<void> {
  const dir = path.join(home, '.aws');
  await mkdir(dir, { recursive: true });
  // What `aws configure` writes, plus path style (needed for hostname endpoints like localhost) and s3v4
  // (without it aws-cli v1 `s3 presign` produces SigV2 URLs). cli_pager is v2-only and ignored by v1.
  await writeFile(
    path.join(dir, 'config'),
    [
      '[default]',
      `region = ${ep.region}`,
      'output = json',
      'cli_pager =',
      's3 =',
      '    addressing_style = path',
      '    signature_version = s3v4',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  await writeFile(
    path.join(dir, 'credentials'),
    ['[default]', `aws_access_key_id = ${ep.accessKey}`, `aws_secret_access_key = ${ep.secretKey}`, ''].join('\n'),
    { mode: 0o600 },
  );
}

/**
 * Runs aws-cli (`v1`: pyenv's, botocore 1.43; `v2`: Debian's /usr/bin/aws 2.9.19) with `--endpoint-url`.
 * Note: aws-cli v1 (botocore >= 1.36) sends aws-chunked uploads with a CRC32 trailer by default, which RGW 16
 * refuses; pass env AWS_REQUEST_CHECKSUM_CALCULATION=when_required to get plain Content-Length bodies.
 */
export async function awsCli(version: 'v1' | 'v2', ep: Endpoint, args: string[], opts: RunOpts = {}): Promise<RunResult> {
  const bin = version === 'v1' ? await awsV1Bin() : await awsV2Bin();
  return withHome(async (home) => {
    await writeAwsConfig(home, ep);
    const env = { ...cleanEnv(home), ...awsEnv(ep), ...opts.env };
    return run(bin, ['--endpoint-url', ep.url, ...args], env, opts);
  });
}

// ---------------------------------------------------------------------------------------------------------
// boto3

function dedent(text: string): string {
  const lines = text.replace(/^\n+/, '').replace(/\s+$/, '').split('\n');
  const indents = lines.filter((l) => l.trim() !== '').map((l) => /^[ \t]*/.exec(l)![0].length);
  const n = indents.length ? Math.min(...indents) : 0;
  return lines.map((l) => l.slice(n)).join('\n') + '\n';
}

/**
 * Runs `python3 -c PREAMBLE+script [args...]` with pyenv's python3 (boto3 1.43). The preamble imports
 * `json`, `sys`, `os`, `base64`, `hashlib`, `boto3`, `Config` (botocore.config) and defines `s3`: a boto3 client
 * for the endpoint (path style, s3v4, verify=caFile). `sys.argv[1:]` are opts.args. The script is dedented,
 * so it can be written indented inside a template literal; it should print JSON to stdout.
 */
export async function boto3(
  ep: Endpoint,
  script: string,
  opts: { env?: Record<string, string>; args?: string[]; cwd?: string; input?: Buffer; timeoutMs?: number } = {},
): Promise<RunResult> {
  const bin = await pythonBin();
  const cfg = { url: ep.url, region: ep.region, caFile: ep.caFile ?? null };
  const preamble = dedent(`
    import json, sys, os, base64, hashlib
    import boto3
    from botocore.config import Config
    _ssec_ep = json.loads(${JSON.stringify(JSON.stringify(cfg))})
    s3 = boto3.client(
        's3',
        endpoint_url=_ssec_ep['url'],
        region_name=_ssec_ep['region'],
        aws_access_key_id=os.environ['AWS_ACCESS_KEY_ID'],
        aws_secret_access_key=os.environ['AWS_SECRET_ACCESS_KEY'],
        verify=_ssec_ep['caFile'] or True,
        config=Config(signature_version='s3v4', s3={'addressing_style': 'path'}),
    )
  `);
  return withHome(async (home) => {
    await writeAwsConfig(home, ep); // so any extra client/session the script makes sees the same settings
    const env = { ...cleanEnv(home), ...awsEnv(ep), ...opts.env };
    return run(bin, ['-c', preamble + dedent(script), ...(opts.args ?? [])], env, opts);
  });
}

// ---------------------------------------------------------------------------------------------------------
// s3cmd (no SSE-C support at all)

/** Runs `s3cmd -c HOME/.s3cfg args...` (s3cmd 2.3.0): path style, SigV4, TLS verified against caFile. */
export async function s3cmd(ep: Endpoint, args: string[], opts: RunOpts = {}): Promise<RunResult> {
  const bin = await s3cmdBin();
  const url = new URL(ep.url);
  const hp = hostPort(url);
  return withHome(async (home) => {
    const cfg = path.join(home, '.s3cfg');
    await writeFile(
      cfg,
      [
        '[default]',
        `access_key = ${ep.accessKey}`,
        `secret_key = ${ep.secretKey}`,
        `host_base = ${hp}`,
        `host_bucket = ${hp}`, // no %(bucket)s: path-style requests
        `bucket_location = ${ep.region}`,
        `use_https = ${url.protocol === 'https:' ? 'True' : 'False'}`,
        `ca_certs_file = ${ep.caFile ?? ''}`,
        'check_ssl_certificate = True',
        'check_ssl_hostname = True',
        'signature_v2 = False',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const env = { ...cleanEnv(home), ...opts.env };
    return run(bin, ['-c', cfg, ...args], env, opts);
  });
}

// ---------------------------------------------------------------------------------------------------------
// rclone

export interface RcloneOpts extends RunOpts {
  /** the 32 raw characters (rclone's sse_customer_key) */
  sseCustomerKey?: string;
  /** base64 of the 32-byte key (rclone's sse_customer_key_base64) */
  sseCustomerKeyBase64?: string;
}

/**
 * Runs `rclone --config HOME/rclone.conf [--ca-cert caFile] args...` (rclone 1.60.1) with a remote named `gw`
 * (provider Ceph, path style, env_auth false). Setting either SSE-C key option also sets AES256.
 * Pitfall: rclone 1.60 with AWS_CA_BUNDLE in its environment fails `--ca-cert` before any request
 * ("LoadCustomCABundleError ... HTTPClient's transport unsupported type"), so no AWS_* variable is set here.
 */
export async function rclone(ep: Endpoint, args: string[], opts: RcloneOpts = {}): Promise<RunResult> {
  const bin = await rcloneBin();
  return withHome(async (home) => {
    const cfg = path.join(home, '.config', 'rclone', 'rclone.conf');
    await mkdir(path.dirname(cfg), { recursive: true });
    const lines = [
      '[gw]',
      'type = s3',
      'provider = Ceph',
      'env_auth = false',
      `access_key_id = ${ep.accessKey}`,
      `secret_access_key = ${ep.secretKey}`,
      `region = ${ep.region}`,
      `endpoint = ${ep.url}`,
      'force_path_style = true',
    ];
    if (opts.sseCustomerKey !== undefined || opts.sseCustomerKeyBase64 !== undefined) {
      lines.push('sse_customer_algorithm = AES256');
      if (opts.sseCustomerKey !== undefined) lines.push(`sse_customer_key = ${opts.sseCustomerKey}`);
      if (opts.sseCustomerKeyBase64 !== undefined) lines.push(`sse_customer_key_base64 = ${opts.sseCustomerKeyBase64}`);
    }
    await writeFile(cfg, lines.join('\n') + '\n', { mode: 0o600 });
    const pre = ['--config', cfg, ...(ep.caFile ? ['--ca-cert', ep.caFile] : [])];
    const env = { ...cleanEnv(home), ...opts.env };
    return run(bin, [...pre, ...args], env, opts);
  });
}

// ---------------------------------------------------------------------------------------------------------
// @aws-sdk/client-s3 (in process)

/**
 * An S3Client for the endpoint: forcePathStyle, trusting caFile, request checksums WHEN_REQUIRED by default
 * (WHEN_SUPPORTED is the SDK's own default: stream bodies then go out aws-chunked with a CRC32 trailer).
 * http2: uses NodeHttp2Handler (the endpoint must speak h2 via ALPN; RGW's beast does not).
 * Call client.destroy() when done so keep-alive sockets don't hold the test open.
 */
export function jsS3Client(
  ep: Endpoint,
  opts: { http2?: boolean; checksums?: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED' } = {},
): S3Client {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'; // harmless Node 20 warning otherwise
  const ca = ep.caFile ? readFileSync(ep.caFile) : undefined;
  const requestHandler = opts.http2
    ? new NodeHttp2Handler({ nodeHttp2ConnectOptions: ca ? { ca } : {} })
    : new NodeHttpHandler({
        httpsAgent: new https.Agent({ keepAlive: true, ...(ca ? { ca } : {}) }),
      });
  const checksums = opts.checksums ?? 'WHEN_REQUIRED';
  return new S3Client({
    endpoint: ep.url,
    region: ep.region,
    credentials: { accessKeyId: ep.accessKey, secretAccessKey: ep.secretKey },
    forcePathStyle: true,
    requestChecksumCalculation: checksums,
    responseChecksumValidation: checksums,
    requestHandler,
  });
}

// ---------------------------------------------------------------------------------------------------------
// keys

export interface SseKey {
  raw: Buffer;
  /** base64 of raw: the x-amz-server-side-encryption-customer-key value */
  b64: string;
  /** base64 of md5(raw): the ...-customer-key-MD5 value */
  md5: string;
}

/**
 * Without an argument: a random 32-byte key. With `secret`: the user guide's form,
 * `key=$(echo -n $secret | base64)`, i.e. raw = the secret's bytes (32 characters for a valid key).
 */
export function sseKey(secret?: string): SseKey {
  const raw = secret === undefined ? randomBytes(32) : Buffer.from(secret, 'utf8');
  return { raw, b64: raw.toString('base64'), md5: createHash('md5').update(raw).digest('base64') };
}

/** 32 random printable characters [A-Za-z0-9], usable as the guide's `$secret` on a command line. */
export function randomSecret(length = 32): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(length);
  let s = '';
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return s;
}
