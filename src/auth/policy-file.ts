/**
 * The clients ("policy") file: who may call the gateway in `sigv4` mode, what they may touch,
 * which upstream credential signs their requests, and which SSE-C key is injected for them.
 *
 *   upstreamCredentials:            # optional extra named credentials (the config's upstream.* is "default")
 *     archive: { source: static, accessKeyId: AK…, secretAccessKey: file:/run/secrets/archive }
 *   clients:
 *     - accessKeyId: legacy-app
 *       secretAccessKey: env:LEGACY_SECRET          # value | env:NAME | file:/path
 *       allow: [{ bucket: science, prefix: runs/ }] # default: everything
 *       upstreamCredentials: archive                # default: default
 *       inject: [{ bucket: science, prefix: runs/, key: team-a, mode: enforce }]
 *   inject:                         # rules for every client (and for unsigned clients in `none` mode)
 *     - { bucket: "*", prefix: "", key: team-a, mode: default }
 *   encryption:                     # where the gateway encrypts itself (default: encryption.mode)
 *     - { bucket: science, prefix: secret/, mode: gateway }
 *
 * YAML or JSON. Every problem is reported at once; a file that fails to load on reload keeps the
 * previous version in force (and says why in the log).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError, resolveSecret } from '../config/load.js';

export interface Scope { bucket: string; prefix: string }
export interface InjectionRule extends Scope { key: string; mode: 'default' | 'enforce' }
/** Where the gateway encrypts itself (issue 10): the first rule whose scope holds the object wins, else `encryption.mode`. */
export interface EncryptionRule extends Scope { mode: 'upstream' | 'gateway' }
export interface UpstreamCredentialSpec { source: 'static' | 'env' | 'chain'; accessKeyId?: string; secretAccessKey?: string; sessionToken?: string; profile?: string }
export interface ClientEntry {
  accessKeyId: string;
  /** resolved secret */
  secretAccessKey: string;
  allow?: Scope[];
  upstreamCredentials: string;
  inject: InjectionRule[];
}
export interface PolicyFile {
  clients: Map<string, ClientEntry>;
  inject: InjectionRule[];
  encryption: EncryptionRule[];
  upstreamCredentials: Map<string, UpstreamCredentialSpec>;
}

export const EMPTY_POLICY: PolicyFile = { clients: new Map(), inject: [], encryption: [], upstreamCredentials: new Map() };

const KNOWN_TOP = new Set(['clients', 'inject', 'encryption', 'upstreamCredentials']);

function str(v: unknown, where: string, problems: string[], optional = false): string | undefined {
  if (v === undefined || v === null) { if (!optional) problems.push(`${where}: missing`); return undefined; }
  if (typeof v !== 'string' && typeof v !== 'number') { problems.push(`${where}: must be a string`); return undefined; }
  return String(v);
}

function onlyKeys(o: Record<string, unknown>, allowed: string[], where: string, problems: string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) problems.push(`${where}: unknown key "${k}"`);
}

function scopes(v: unknown, where: string, problems: string[]): Scope[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) { problems.push(`${where}: must be a list`); return undefined; }
  return v.map((s, i) => {
    const o = (s ?? {}) as Record<string, unknown>;
    onlyKeys(o, ['bucket', 'prefix'], `${where}[${i}]`, problems);
    return { bucket: str(o.bucket, `${where}[${i}].bucket`, problems) ?? '', prefix: str(o.prefix, `${where}[${i}].prefix`, problems, true) ?? '' };
  });
}

function rules(v: unknown, where: string, problems: string[]): InjectionRule[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) { problems.push(`${where}: must be a list`); return []; }
  return v.map((r, i) => {
    const o = (r ?? {}) as Record<string, unknown>;
    const w = `${where}[${i}]`;
    onlyKeys(o, ['bucket', 'prefix', 'key', 'mode'], w, problems);
    const mode = str(o.mode, `${w}.mode`, problems, true) ?? 'default';
    if (mode !== 'default' && mode !== 'enforce') problems.push(`${w}.mode: must be default or enforce`);
    return { bucket: str(o.bucket, `${w}.bucket`, problems) ?? '', prefix: str(o.prefix, `${w}.prefix`, problems, true) ?? '', key: str(o.key, `${w}.key`, problems) ?? '', mode: mode as InjectionRule['mode'] };
  });
}

function encryptionRules(v: unknown, where: string, problems: string[]): EncryptionRule[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) { problems.push(`${where}: must be a list`); return []; }
  return v.map((r, i) => {
    const o = (r ?? {}) as Record<string, unknown>;
    const w = `${where}[${i}]`;
    onlyKeys(o, ['bucket', 'prefix', 'mode'], w, problems);
    const mode = str(o.mode, `${w}.mode`, problems) ?? 'gateway';
    if (mode !== 'upstream' && mode !== 'gateway') problems.push(`${w}.mode: must be upstream or gateway`);
    return { bucket: str(o.bucket, `${w}.bucket`, problems) ?? '', prefix: str(o.prefix, `${w}.prefix`, problems, true) ?? '', mode: mode as EncryptionRule['mode'] };
  });
}

export function parsePolicy(text: string, file: string, env: NodeJS.ProcessEnv = process.env): PolicyFile {
  const problems: string[] = [];
  let doc: Record<string, unknown>;
  try { doc = (parseYaml(text) ?? {}) as Record<string, unknown>; } catch (e) { throw new ConfigError([`${file}: ${(e as Error).message.split('\n')[0]}`]); }
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError([`${file}: must be a mapping`]);
  for (const k of Object.keys(doc)) if (!KNOWN_TOP.has(k)) problems.push(`${file}: unknown key "${k}"`);

  const upstreamCredentials = new Map<string, UpstreamCredentialSpec>();
  for (const [name, spec] of Object.entries((doc.upstreamCredentials ?? {}) as Record<string, Record<string, unknown>>)) {
    const w = `${file}: upstreamCredentials.${name}`;
    onlyKeys(spec ?? {}, ['source', 'accessKeyId', 'secretAccessKey', 'sessionToken', 'profile'], w, problems);
    const source = (str(spec?.source, `${w}.source`, problems, true) ?? 'static') as UpstreamCredentialSpec['source'];
    if (!['static', 'env', 'chain'].includes(source)) problems.push(`${w}.source: must be static, env or chain`);
    const c: UpstreamCredentialSpec = { source, profile: str(spec?.profile, `${w}.profile`, problems, true) };
    if (source === 'static') {
      c.accessKeyId = str(spec?.accessKeyId, `${w}.accessKeyId`, problems);
      const secret = str(spec?.secretAccessKey, `${w}.secretAccessKey`, problems);
      try { if (secret) c.secretAccessKey = resolveSecret(secret, env); } catch (e) { problems.push(`${w}.secretAccessKey: ${(e as ConfigError).problems?.[0] ?? e}`); }
      const token = str(spec?.sessionToken, `${w}.sessionToken`, problems, true);
      try { if (token) c.sessionToken = resolveSecret(token, env); } catch (e) { problems.push(`${w}.sessionToken: ${(e as ConfigError).problems?.[0] ?? e}`); }
    }
    upstreamCredentials.set(name, c);
  }

  const clients = new Map<string, ClientEntry>();
  const list = doc.clients ?? [];
  if (!Array.isArray(list)) problems.push(`${file}: clients must be a list`);
  (Array.isArray(list) ? list : []).forEach((c: Record<string, unknown>, i: number) => {
    const w = `${file}: clients[${i}]`;
    onlyKeys(c ?? {}, ['accessKeyId', 'secretAccessKey', 'allow', 'upstreamCredentials', 'inject'], w, problems);
    const id = str(c?.accessKeyId, `${w}.accessKeyId`, problems);
    const secretSpec = str(c?.secretAccessKey, `${w}.secretAccessKey`, problems);
    let secret = '';
    try { if (secretSpec) secret = resolveSecret(secretSpec, env); } catch (e) { problems.push(`${w}.secretAccessKey: ${(e as ConfigError).problems?.[0] ?? e}`); }
    const up = str(c?.upstreamCredentials, `${w}.upstreamCredentials`, problems, true) ?? 'default';
    if (up !== 'default' && !upstreamCredentials.has(up)) problems.push(`${w}.upstreamCredentials: no credential named "${up}"`);
    if (id && clients.has(id)) problems.push(`${w}.accessKeyId: duplicate "${id}"`);
    if (id) clients.set(id, { accessKeyId: id, secretAccessKey: secret, allow: scopes(c.allow, `${w}.allow`, problems), upstreamCredentials: up, inject: rules(c.inject, `${w}.inject`, problems) });
  });
  const inject = rules(doc.inject, `${file}: inject`, problems);
  const encryption = encryptionRules(doc.encryption, `${file}: encryption`, problems);
  if (problems.length) throw new ConfigError(problems);
  return { clients, inject, encryption, upstreamCredentials };
}

export function loadPolicyFile(file: string, env: NodeJS.ProcessEnv = process.env): PolicyFile {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) { throw new ConfigError([`${file}: ${(e as NodeJS.ErrnoException).code ?? e}`]); }
  return parsePolicy(text, file, env);
}

/** `bucket: "*"` matches every bucket; prefix '' matches every key. */
export function inScope(s: Scope, bucket: string | undefined, key: string | undefined): boolean {
  if (bucket === undefined) return false;
  if (s.bucket !== '*' && s.bucket !== bucket) return false;
  return (key ?? '').startsWith(s.prefix);
}

/** The encryption mode of an object: the first `encryption` rule whose scope holds it, else the config's. */
export function encryptionModeOf(policy: PolicyFile, fallback: 'upstream' | 'gateway', bucket: string | undefined, key: string | undefined): 'upstream' | 'gateway' {
  return policy.encryption.find((r) => inScope(r, bucket, key))?.mode ?? fallback;
}
