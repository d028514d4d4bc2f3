import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { SETTINGS, envName, type Setting } from './schema.js';

export interface GatewayConfig {
  upstream: {
    url: string; region: string; ca?: string; timeoutMs: number; maxSockets: number;
    profile: 'auto' | 'rgw16' | 'rgw' | 'aws' | 'minio'; credentials: 'static' | 'env' | 'chain';
    accessKeyId?: string; secretAccessKey?: string; sessionToken?: string;
  };
  listen: { host: string; httpsPort: number; httpPort?: number; adminHost: string; adminPort: number };
  tls: { cert?: string; key?: string; minVersion: 'TLSv1.2' | 'TLSv1.3' };
  plaintext: { mode: 'forward' | 'refuse' };
  s3: { baseDomains: string[] };
  auth: { mode: 'passthrough' | 'sigv4' | 'none'; clientsFile?: string; region?: string; trustForwardedHost: boolean };
  keyring: { dir?: string };
  fingerprint: { secret?: string };
  redis: { url?: string; mode: 'standalone' | 'sentinel' | 'cluster'; nodes: string[]; sentinelName: string; password?: string; keyPrefix: string; queueLimit: number };
  keys: { onExposed: 'deny' | 'warn' };
  rotation: { maxAgeDays: number; maxObjects: number; maxBytes: number };
  alerts: { webhookUrl?: string };
  stateDir: string;
  log: { level: string; maxBufferBytes: number };
  shutdown: { graceMs: number };
  memory: { scavengeEveryBytes: number };
  limits: {
    maxConnections: number; maxInFlight: number; h2MaxConcurrentStreams: number; maxHeaderBytes: number; maxHeaderCount: number;
    headersTimeoutMs: number; requestTimeoutMs: number; bodyTimeoutMs: number; idleTimeoutMs: number;
  };
  workers: number;
  encryption: { mode: 'upstream' | 'gateway' };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`);
  }
}

const ALL = SETTINGS as readonly Setting[];
const BY_PATH = new Map(ALL.map((s) => [s.path, s]));
const BY_FLAG = new Map(ALL.filter((s) => s.flag).map((s) => [s.flag!, s]));
const BY_ENV = new Map(ALL.map((s) => [envName(s.path), s]));

type Raw = string | number | boolean | string[] | null | undefined;

/** Coerces one raw value (string from env/flags, typed from YAML) to the setting's type; pushes a problem on failure. */
function coerce(s: Setting, raw: Raw, source: string, problems: string[]): unknown {
  const where = `${s.path} (from ${source})`;
  if (raw === null || raw === undefined) return undefined;
  if (typeof raw === 'object' && !(s.type === 'list' && Array.isArray(raw))) { problems.push(`${where}: expected ${s.type === 'list' ? 'a list or a string' : 'a string'}`); return undefined; }
  switch (s.type) {
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isInteger(n)) { problems.push(`${where}: expected an integer, got ${JSON.stringify(raw)}`); return undefined; }
      if (s.min !== undefined && n < s.min) problems.push(`${where}: must be >= ${s.min}, got ${n}`);
      if (s.max !== undefined && n > s.max) problems.push(`${where}: must be <= ${s.max}, got ${n}`);
      return n;
    }
    case 'bool': {
      if (typeof raw === 'boolean') return raw;
      const v = String(raw).toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      problems.push(`${where}: expected true or false, got ${JSON.stringify(raw)}`);
      return undefined;
    }
    case 'enum': {
      const v = String(raw);
      if (!s.values!.includes(v)) problems.push(`${where}: must be one of ${s.values!.join(', ')}, got ${JSON.stringify(raw)}`);
      return v;
    }
    case 'list': {
      const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(',');
      return items.map((x) => x.trim()).filter(Boolean);
    }
    case 'url': {
      const v = String(raw);
      try {
        const u = new URL(v);
        if (u.protocol !== 'http:' && u.protocol !== 'https:') problems.push(`${where}: must be an http:// or https:// URL, got ${JSON.stringify(v)}`);
      } catch {
        problems.push(`${where}: not a URL: ${JSON.stringify(v)}`);
      }
      return v;
    }
    case 'file': {
      const v = String(raw);
      try { readFileSync(v); } catch (e) { problems.push(`${where}: cannot read ${v}: ${(e as NodeJS.ErrnoException).code ?? e}`); }
      return v;
    }
    default:
      if (typeof raw === 'object') { problems.push(`${where}: expected a string`); return undefined; }
      return String(raw);
  }
}

/** Flattens a parsed YAML document into path → value, reporting unknown keys. */
function flattenYaml(doc: unknown, prefix: string, out: Map<string, Raw>, problems: string[], file: string): void {
  if (doc === null || doc === undefined) return;
  if (typeof doc !== 'object' || Array.isArray(doc)) { problems.push(`${file}: ${prefix || 'document'} must be a mapping`); return; }
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    const path = prefix ? `${prefix}.${k}` : k;
    const section = ALL.some((s) => s.path.startsWith(path + '.'));
    if (BY_PATH.has(path)) out.set(path, v as Raw);
    else if (section && (v === null || v === undefined)) continue; // a section whose entries are all commented out
    else if (v && typeof v === 'object' && !Array.isArray(v) && ALL.some((s) => s.path.startsWith(path + '.'))) flattenYaml(v, path, out, problems, file);
    else problems.push(`${file}: unknown key "${path}"`);
  }
}

export interface ParsedArgs { flags: Map<string, string[]>; positional: string[]; problems: string[] }

/** Parses `--name value`, `--name=value`; repeated flags accumulate (lists). Boolean flags may stand alone. */
export function parseArgs(argv: string[], extraBooleans: string[] = []): ParsedArgs {
  const flags = new Map<string, string[]>();
  const positional: string[] = [];
  const problems: string[] = [];
  const booleans = new Set([...ALL.filter((s) => s.type === 'bool').map((s) => s.flag), ...extraBooleans]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) { positional.push(a); continue; }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    let value: string | undefined = eq > 0 ? a.slice(eq + 1) : undefined;
    if (value === undefined) {
      if (booleans.has(name) && (argv[i + 1] === undefined || argv[i + 1]!.startsWith('--'))) value = 'true';
      else if (argv[i + 1] === undefined || argv[i + 1]!.startsWith('--')) {
        problems.push(BY_FLAG.has(name) || extraBooleans.includes(name) ? `--${name} needs a value` : `unknown flag --${name}`);
        continue;
      } else value = argv[++i]!;
    }
    flags.set(name, [...(flags.get(name) ?? []), value]);
  }
  return { flags, positional, problems };
}

export interface LoadInput { flags?: Map<string, string[]>; env?: NodeJS.ProcessEnv; configFile?: string; ignoreFlags?: string[] }

/** Defaults ← YAML file ← SSEC_GATEWAY_* env ← flags. Every problem is collected and thrown together. */
export function loadConfig(input: LoadInput = {}): GatewayConfig {
  const problems: string[] = [];
  const env = input.env ?? process.env;
  const values = new Map<string, unknown>();
  for (const s of ALL) if (s.default !== undefined) values.set(s.path, s.default);

  const file = input.configFile ?? env.SSEC_GATEWAY_CONFIG;
  if (file) {
    let text: string | undefined;
    try { text = readFileSync(file, 'utf8'); } catch (e) { problems.push(`config file ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`); }
    if (text !== undefined) {
      let doc: unknown;
      try { doc = parseYaml(text); } catch (e) { problems.push(`config file ${file}: ${(e as Error).message.split('\n')[0]}`); }
      const flat = new Map<string, Raw>();
      flattenYaml(doc, '', flat, problems, file);
      for (const [p, v] of flat) values.set(p, coerce(BY_PATH.get(p)!, v, file, problems));
    }
  }
  for (const [name, v] of Object.entries(env)) {
    if (!name.startsWith('SSEC_GATEWAY_') || name === 'SSEC_GATEWAY_CONFIG') continue;
    const s = BY_ENV.get(name);
    if (!s) { problems.push(`unknown environment variable ${name}`); continue; }
    if (v !== undefined && v !== '') values.set(s.path, coerce(s, v, name, problems));
  }
  const ignore = new Set(['config', ...(input.ignoreFlags ?? [])]);
  for (const [name, vs] of input.flags ?? []) {
    if (ignore.has(name)) continue;
    const s = BY_FLAG.get(name);
    if (!s) { problems.push(`unknown flag --${name}`); continue; }
    values.set(s.path, coerce(s, s.type === 'list' ? vs.flatMap((v) => v.split(',')) : vs[vs.length - 1]!, `--${name}`, problems));
  }
  // cross-field rules
  if (Boolean(values.get('tls.cert')) !== Boolean(values.get('tls.key'))) problems.push('tls.cert and tls.key must be given together');
  const hp = values.get('listen.httpPort');
  if (hp !== undefined && hp !== 0 && hp === values.get('listen.httpsPort')) problems.push('listen.httpPort and listen.httpsPort must differ');
  const mode = values.get('auth.mode');
  if (mode === 'sigv4' && !values.get('auth.clientsFile')) problems.push('auth.mode sigv4 needs auth.clientsFile (the clients the gateway verifies)');
  if ((mode === 'sigv4' || mode === 'none') && values.get('upstream.credentials') === 'static' && !(values.get('upstream.accessKeyId') && values.get('upstream.secretAccessKey'))) {
    problems.push(`auth.mode ${String(mode)} signs upstream requests: set upstream.accessKeyId and upstream.secretAccessKey, or upstream.credentials env|chain`);
  }
  if (values.get('encryption.mode') === 'gateway' && mode === 'passthrough') {
    problems.push('encryption.mode gateway changes the body the upstream receives, so a client\'s own signature cannot be passed through: set auth.mode sigv4 or none');
  }
  if (mode === 'none') {
    const loopback = (h: unknown) => typeof h === 'string' && (/^127\./.test(h) || h === '::1' || h === 'localhost');
    if (!loopback(values.get('listen.host'))) problems.push(`auth.mode none accepts unsigned clients: listen.host must be a loopback address (127.0.0.1, ::1), not ${JSON.stringify(values.get('listen.host'))}`);
  }
  if (problems.length) throw new ConfigError(problems);

  const cfg: Record<string, unknown> = {};
  for (const [path, v] of values) {
    if (v === undefined) continue;
    const parts = path.split('.');
    let node = cfg;
    for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1]!] = v;
  }
  for (const s of ALL) { const top = s.path.split('.')[0]!; if (s.path.includes('.')) cfg[top] ??= {}; }
  cfg.stateDir = String(cfg.stateDir).replace(/^~(?=$|\/)/, homedir());
  return deepFreeze(cfg) as unknown as GatewayConfig;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') { for (const v of Object.values(o)) deepFreeze(v); Object.freeze(o); }
  return o;
}

/** Effective configuration as YAML with secret values redacted (`env:`/`file:` references are shown). */
export function redactedYaml(cfg: GatewayConfig): string {
  const copy = JSON.parse(JSON.stringify(cfg)) as Record<string, Record<string, unknown>>;
  for (const s of ALL) {
    if (s.type !== 'secret') continue;
    const [a, b] = s.path.split('.') as [string, string];
    const v = copy[a]?.[b];
    if (typeof v === 'string' && !/^(env|file):/.test(v)) copy[a]![b] = '<redacted>';
  }
  return stringifyYaml(copy);
}

/** Resolves a secret setting: `env:NAME`, `file:/path` or a literal value. */
export function resolveSecret(spec: string, env: NodeJS.ProcessEnv = process.env): string {
  if (spec.startsWith('env:')) {
    const v = env[spec.slice(4)];
    if (!v) throw new ConfigError([`secret ${spec}: environment variable is not set`]);
    return v;
  }
  if (spec.startsWith('file:')) {
    try { return readFileSync(spec.slice(5), 'utf8').trim(); } catch (e) { throw new ConfigError([`secret ${spec}: ${(e as NodeJS.ErrnoException).code ?? e}`]); }
  }
  return spec;
}
