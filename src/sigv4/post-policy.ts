/**
 * POST Object's SigV4 POST policy (AWS "Authenticating Requests: Browser-Based Uploads Using POST",
 * "POST Policy"): verify a browser form's policy and signature, and sign a new one for the upstream.
 *
 *   signature = hex(HMAC-SHA256(signing key of x-amz-credential's date/region/s3, policy field as sent))
 *
 * Checks, in the order S3 is observed to make them: the SigV4 fields are present (400 InvalidArgument
 * "Bucket POST must contain a field named 'X-Amz-Algorithm'.  If it is specified, …"), the
 * credential scope, the access key (InvalidAccessKeyId), the signature over the policy text as
 * received (SignatureDoesNotMatch, StringToSign = the policy), then the decoded policy
 * (InvalidPolicyDocument "Invalid Policy: …"), its expiration (403 AccessDenied "Invalid according
 * to Policy: Policy expired."), every condition (403 "… Policy Condition failed: [\"eq\", \"$key\",
 * \"…\"]") and the coverage rule: "Each form field that you specify in a form (except
 * x-amz-signature, file, policy, and field names that have an x-ignore- prefix) must appear in the
 * list of conditions" (403 "… Extra input fields: <name>"). Field and condition names are
 * case-insensitive, values case-sensitive. A condition on an absent field fails, even
 * `starts-with ""` (S3, observed). content-length-range is returned for the body to enforce.
 */
import { timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../errors/gateway-error.js';
import type { FormField } from '../s3/post-form.js';
import { ALGORITHM, TERMINATOR } from './constants.js';
import { formatAmzDate, isHex64, parseAmzDate } from './encoding.js';
import { SigV4Error, hexBytes } from './errors.js';
import { parseCredential } from './parse.js';
import { defaultSigningKeys, hmac, type SigningKeyCache } from './signing-key.js';
import type { CredentialLookup } from './verify.js';

/** The form's authentication fields (SigV4), never forwarded as the client sent them. */
export const POST_AUTH_FIELDS = new Set(['policy', 'x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-signature', 'x-amz-security-token']);
/** SigV2 POST fields: refused like every SigV2 request. */
const SIGV2_FIELDS = new Set(['awsaccesskeyid', 'signature']);

export interface ContentLengthRange { min: number; max: number }

export interface PostPolicyInput {
  /** the fields before the file, `${filename}` already expanded */
  fields: readonly FormField[];
  /** the bucket of the URL (what `bucket` conditions match) */
  bucket: string;
  lookup: CredentialLookup;
  now: Date;
  /** the region scopes must name (auth.region); any when unset */
  region?: string;
  keys?: SigningKeyCache;
}

export interface VerifiedPost {
  accessKeyId: string;
  expiration: Date;
  /** the tightest content-length-range of the policy, when it has one */
  contentLengthRange?: ContentLengthRange;
}

/** Fields by lower-case name; repeated names are joined with commas (HTTPPOSTForms: "the values must be separated by commas"). */
export function fieldMap(fields: readonly FormField[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const f of fields) {
    const n = f.name.toLowerCase();
    m.set(n, m.has(n) ? `${m.get(n)},${f.value}` : f.value);
  }
  return m;
}

/** True when the form carries no authentication at all: an anonymous POST (public-write buckets only). */
export function isAnonymousForm(fields: readonly FormField[]): boolean {
  return !fields.some((f) => { const n = f.name.toLowerCase(); return POST_AUTH_FIELDS.has(n) || SIGV2_FIELDS.has(n); });
}

/** hex HMAC-SHA256 of the policy field (its base64 text) under a SigV4 signing key. */
export function postSignature(signingKey: Buffer, policyB64: string): string {
  return hmac(signingKey, policyB64).toString('hex');
}

function missing(name: string): SigV4Error {
  return new SigV4Error('PostFieldMissing', {
    message: `Bucket POST must contain a field named '${name}'.  If it is specified, please check the order of the fields.`,
    argumentName: name, details: { ArgumentValue: '' },
  });
}

function invalidField(message: string, name: string, value: string, extra: Record<string, string> = {}): SigV4Error {
  return new SigV4Error('PostFieldInvalid', { message, argumentName: name, details: { ArgumentValue: value, ...extra } });
}

function invalidPolicy(detail: string): GatewayError {
  return new GatewayError('PostPolicyInvalid', { message: `Invalid Policy: ${detail}` });
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const EXPIRATION = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,3})?Z$/;

type Condition =
  | { op: 'eq' | 'starts-with'; field: string; value: string; shown: string }
  | { op: 'content-length-range'; min?: number; max?: number; shown: string };

/** How S3 prints a condition in "Policy Condition failed: …": JSON items joined by ", ". */
function show(items: readonly unknown[]): string {
  return `[${items.map((x) => JSON.stringify(x)).join(', ')}]`;
}

function rangeBound(v: unknown): number | undefined | 'invalid' {
  if (typeof v === 'number') return Number.isInteger(v) ? v : 'invalid';
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return Number(v.trim());
  return undefined; // not a number: the condition cannot hold (S3: 403 Policy Condition failed)
}

/** The decoded policy document, or S3's InvalidPolicyDocument. */
export function parsePolicy(policyB64: string): { expiration: Date; conditions: Condition[] } {
  const text = policyB64.replace(/\s+/g, '');
  if (!B64.test(text)) throw invalidPolicy('invalid Base64 encoding.');
  let doc: unknown;
  try { doc = JSON.parse(Buffer.from(text, 'base64').toString('utf8')); } catch { throw invalidPolicy('Invalid JSON.'); }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalidPolicy('Invalid JSON.');
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'expiration' && k !== 'conditions') throw invalidPolicy(`Unexpected: '${k.toLowerCase()}'`);
  if (o.expiration === undefined) throw invalidPolicy('Policy missing expiration.');
  if (o.conditions === undefined) throw invalidPolicy('Policy missing conditions.');
  const m = typeof o.expiration === 'string' ? EXPIRATION.exec(o.expiration) : null;
  const expiration = m ? new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!)) : undefined;
  if (!expiration || Number.isNaN(expiration.getTime()) || expiration.getUTCDate() !== +m![3]!) {
    throw invalidPolicy(`Invalid 'expiration' value: '${typeof o.expiration === 'string' ? o.expiration : JSON.stringify(o.expiration)}'`);
  }
  if (!Array.isArray(o.conditions)) throw invalidPolicy("Invalid 'conditions' value: must be a List.");
  const conditions: Condition[] = [];
  for (const c of o.conditions as unknown[]) {
    if (Array.isArray(c)) {
      if (c.length === 0 || typeof c[0] !== 'string') throw invalidPolicy('Invalid Condition: missing operation identifier.');
      const op = c[0].toLowerCase();
      if (op !== 'eq' && op !== 'starts-with' && op !== 'content-length-range') throw invalidPolicy(`Invalid Condition: unknown operation '${c[0]}'.`);
      if (c.length !== 3) throw invalidPolicy(`Invalid ${op}: wrong number of arguments.`);
      if (op === 'content-length-range') {
        const min = rangeBound(c[1]);
        const max = rangeBound(c[2]);
        if (min === 'invalid' || max === 'invalid') throw invalidPolicy('Invalid JSON.');
        if ((min ?? 0) < 0 || (max ?? 0) < 0) throw invalidPolicy('Invalid content-length-range: the bounds must not be negative.');
        conditions.push({ op, min, max, shown: show(c) });
        continue;
      }
      if (typeof c[1] !== 'string' || typeof c[2] !== 'string') throw invalidPolicy('Invalid JSON.');
      // a name without `$` matches no field: the condition fails (S3, observed)
      conditions.push({ op, field: c[1].startsWith('$') ? c[1].slice(1).toLowerCase() : '\0', value: c[2], shown: show(c) });
    } else if (typeof c === 'object' && c !== null) {
      const keys = Object.keys(c);
      if (keys.length !== 1) throw invalidPolicy('Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.');
      const v = (c as Record<string, unknown>)[keys[0]!];
      if (v === null) throw invalidPolicy('Invalid JSON.');
      if (typeof v !== 'string') throw invalidPolicy('Invalid Simple-Condition: value must be a string.');
      // S3 prints a simple condition as the `eq` it means
      conditions.push({ op: 'eq', field: keys[0]!.toLowerCase(), value: v, shown: show(['eq', `$${keys[0]}`, v]) });
    } else {
      throw invalidPolicy('Invalid condition test: must be a List or Object.');
    }
  }
  return { expiration, conditions };
}

/** `starts-with` on Content-Type: a comma-separated list passes when each of its values does. */
function startsWith(field: string, value: string, prefix: string): boolean {
  if (field === 'content-type' && value.includes(',')) return value.split(',').every((v) => v.trim().startsWith(prefix));
  return value.startsWith(prefix);
}

/**
 * Verifies a SigV4 POST form. Returns the access key and the content-length-range to enforce;
 * throws S3's error otherwise. Call only for a form that is not anonymous (isAnonymousForm).
 */
export function verifyPostPolicy(input: PostPolicyInput): VerifiedPost {
  const fields = fieldMap(input.fields);
  if (!fields.has('x-amz-algorithm') && [...SIGV2_FIELDS].some((n) => fields.has(n))) throw new SigV4Error('SigV2NotSupported');
  for (const name of ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'Policy']) {
    if (!fields.has(name.toLowerCase())) throw missing(name);
  }
  const algorithm = fields.get('x-amz-algorithm')!;
  if (algorithm !== ALGORITHM) throw new SigV4Error('SigV2NotSupported');
  const credential = fields.get('x-amz-credential')!;
  const fault = (detail: string, extra?: Record<string, string>) => invalidField(detail, 'X-Amz-Credential', credential, extra);
  const { accessKeyId, scope } = parseCredential(credential, fault);
  if (scope.service !== 's3') throw fault(`incorrect service "${scope.service}". This endpoint belongs to "s3".`);
  if (input.region !== undefined && scope.region !== input.region) throw fault(`the region '${scope.region}' is wrong; expecting '${input.region}'`, { Region: input.region });
  const amzDate = fields.get('x-amz-date')!;
  if (!parseAmzDate(amzDate)) throw invalidField('X-Amz-Date must be formated via ISO8601 Long format', 'X-Amz-Date', amzDate);

  const creds = input.lookup(accessKeyId);
  if (!creds) throw new SigV4Error('InvalidAccessKeyId', { details: { AWSAccessKeyId: accessKeyId } });
  const policyB64 = fields.get('policy')!;
  const signature = fields.get('x-amz-signature')!;
  const key = (input.keys ?? defaultSigningKeys).get(creds.secretAccessKey, scope.date, scope.region, scope.service);
  const expected = Buffer.from(postSignature(key, policyB64), 'hex');
  const provided = isHex64(signature) ? Buffer.from(signature, 'hex') : undefined;
  if (!provided || !timingSafeEqual(expected, provided)) {
    throw new SigV4Error('SignatureDoesNotMatch', {
      details: { AWSAccessKeyId: accessKeyId, StringToSign: policyB64, SignatureProvided: signature, StringToSignBytes: hexBytes(policyB64) },
    });
  }

  const policy = parsePolicy(policyB64);
  if (input.now.getTime() > policy.expiration.getTime()) throw new GatewayError('PostPolicyExpired');
  const covered = new Set<string>();
  let range: ContentLengthRange | undefined;
  for (const c of policy.conditions) {
    const fail = () => new GatewayError('PostPolicyConditionFailed', { message: `Invalid according to Policy: Policy Condition failed: ${c.shown}` });
    if (c.op === 'content-length-range') {
      if (c.min === undefined || c.max === undefined) throw fail();
      range = { min: Math.max(range?.min ?? 0, c.min), max: Math.min(range?.max ?? Number.MAX_SAFE_INTEGER, c.max) };
      continue;
    }
    covered.add(c.field);
    const value = c.field === 'bucket' ? input.bucket : fields.get(c.field);
    if (value === undefined) throw fail();
    if (c.op === 'eq' ? value !== c.value : !startsWith(c.field, value, c.value)) throw fail();
  }
  const extra = input.fields.map((f) => f.name).filter((n, i, all) => {
    const l = n.toLowerCase();
    return !covered.has(l) && l !== 'x-amz-signature' && l !== 'policy' && l !== 'file' && !l.startsWith('x-ignore-')
      && all.findIndex((m) => m.toLowerCase() === l) === i;
  });
  if (extra.length) throw new GatewayError('PostExtraFields', { message: `Invalid according to Policy: Extra input fields: ${extra.join(', ')}` });
  return { accessKeyId, expiration: policy.expiration, contentLengthRange: range };
}

export interface PostSigningCredentials { accessKeyId: string; secretAccessKey: string; sessionToken?: string }

/** A policy condition for the upstream: exact match, or `starts-with ""` (keeps a value out of the document). */
export type UpstreamCondition = { field: string; value: string } | { field: string; any: true };

/**
 * Signs a new POST policy for the upstream: `conditions` plus the bucket, the content-length-range
 * and the SigV4 fields, valid until now + ttl. Returns the fields to append to the form.
 */
export function signPostPolicy(o: {
  bucket: string; conditions: readonly UpstreamCondition[]; range?: ContentLengthRange;
  credentials: PostSigningCredentials; region: string; now: Date; ttlMs: number; keys?: SigningKeyCache;
}): FormField[] {
  const amzDate = formatAmzDate(o.now);
  const date = amzDate.slice(0, 8);
  const credential = `${o.credentials.accessKeyId}/${date}/${o.region}/s3/${TERMINATOR}`;
  const conditions: unknown[] = [{ bucket: o.bucket }];
  for (const c of o.conditions) conditions.push('any' in c ? ['starts-with', `$${c.field}`, ''] : { [c.field]: c.value });
  if (o.range) conditions.push(['content-length-range', o.range.min, o.range.max]);
  const auth: FormField[] = [
    { name: 'x-amz-algorithm', value: ALGORITHM },
    { name: 'x-amz-credential', value: credential },
    { name: 'x-amz-date', value: amzDate },
  ];
  if (o.credentials.sessionToken) auth.push({ name: 'x-amz-security-token', value: o.credentials.sessionToken });
  for (const f of auth) conditions.push({ [f.name]: f.value });
  const expiration = new Date(Math.floor((o.now.getTime() + o.ttlMs) / 1000) * 1000).toISOString();
  const policy = Buffer.from(JSON.stringify({ expiration, conditions }), 'utf8').toString('base64');
  const key = (o.keys ?? defaultSigningKeys).get(o.credentials.secretAccessKey, date, o.region, 's3');
  return [...auth, { name: 'policy', value: policy }, { name: 'x-amz-signature', value: postSignature(key, policy) }];
}
