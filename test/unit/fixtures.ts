// Shared fixtures for the unit tests: test-vector keys, a hand-built RequestContext, an exact
// GatewayError matcher and a key-material leak check. Not a test file itself (no `.test.ts`).
import { createHash } from 'node:crypto';
import type { Test } from 'tap';
import { GatewayError } from '../../src/errors/gateway-error.js';
import type { ErrorName } from '../../src/errors/table.js';
import type { ClientRequest, ClientResponse, Headers, RequestContext } from '../../src/request/context.js';

export interface KeyVector { name: string; b64: string; md5: string; raw: Buffer }

function vector(name: string, b64: string, md5: string): KeyVector {
  return { name, b64, md5, raw: Buffer.from(b64, 'base64') };
}

/** s3-tests key A / key B (sse-c-reference.md Part A §1). */
export const KEY_A = vector('key A', 'pO3upElrwuEXSoFwCfnZPdSsmt/xWeFa0N9KgDijwVs=', 'DWygnHRtgiJ77HCm+1rvHw==');
export const KEY_B = vector('key B', '6b+WOZ1T3cqZMxgThRcXAQBrS5mXKdDUphvpxptl9/4=', 'arxBvwY2V4SiOne6yppVPQ==');
/** The user guide's example: base64 of the 32-character ASCII string. */
const guideRaw = Buffer.from('32bytesOfTotallyRandomCharacters', 'latin1');
export const KEY_GUIDE = vector('user-guide key', guideRaw.toString('base64'), md5b64(guideRaw));

export function md5b64(raw: Buffer): string {
  return createHash('md5').update(raw).digest('base64');
}

/** A raw key of `n` bytes with a consistent MD5. */
export function keyOfLength(n: number, fill = 0x5a): KeyVector {
  const raw = Buffer.alloc(n);
  for (let i = 0; i < n; i++) raw[i] = (fill + i * 37) & 0xff;
  return { name: `${n}-byte key`, b64: raw.toString('base64'), md5: md5b64(raw), raw };
}

/** A RequestContext built by hand: only what the stages under test read. */
export function makeCtx(over: { operation?: string; headers?: Headers; listener?: 'http' | 'https'; method?: string; id?: string; remoteAddress?: string } = {}): RequestContext {
  return {
    id: over.id ?? 'REQ0000000000001',
    listener: over.listener ?? 'https',
    protocol: 'h1',
    req: {} as ClientRequest,
    res: {} as ClientResponse,
    method: over.method ?? 'PUT',
    authority: 'gateway.test:8443',
    headers: over.headers ?? {},
    remoteAddress: over.remoteAddress ?? '192.0.2.10',
    startedAt: 0n,
    expectContinue: false,
    operation: over.operation ?? 'PutObject',
    upstreamHeaders: {},
    bytesIn: 0,
    bytesOut: 0,
  };
}

/** What an S3 client sees for one error: exactly these, from the error table. */
export interface Expected { error: ErrorName; status: number; code: string; message: string; argumentName?: string }

/** Runs fn, expects a GatewayError matching `exp` exactly (argumentName included, undefined when not expected). Returns it. */
export function expectGatewayError(t: Test, fn: () => unknown, exp: Expected, label: string): GatewayError | undefined {
  let thrown: unknown;
  try { fn(); } catch (e) { thrown = e; }
  if (!(thrown instanceof GatewayError)) {
    t.fail(`${label}: expected GatewayError ${exp.error}, got ${thrown === undefined ? 'no error' : String(thrown)}`);
    return undefined;
  }
  t.same(
    { error: thrown.error, status: thrown.status, code: thrown.code, message: thrown.message, argumentName: thrown.argumentName },
    { error: exp.error, status: exp.status, code: exp.code, message: exp.message, argumentName: exp.argumentName },
    `${label}: ${exp.status} ${exp.code} (${exp.error})${exp.argumentName ? ` argumentName=${exp.argumentName}` : ''}`,
  );
  return thrown;
}

/** Every form in which a key could leak: raw bytes as latin1, base64 (with and without padding), base64url, hex. */
export function keyForms(raw: Buffer): string[] {
  const b64 = raw.toString('base64');
  return [raw.toString('latin1'), b64, b64.replace(/=+$/, ''), raw.toString('base64url'), raw.toString('hex'), encodeURIComponent(b64)];
}

/** One assertion: `text` holds none of the forms of any of `raws` (hex compared case-insensitively) nor any of `literals`. */
export function assertNoKeyMaterial(t: Test, text: string, raws: Buffer[], label: string, literals: string[] = []): void {
  const found: string[] = [];
  const lower = text.toLowerCase();
  raws.forEach((raw, i) => {
    if (raw.length === 0) return;
    keyForms(raw).forEach((form, f) => {
      const hit = f === 4 ? lower.includes(form.toLowerCase()) : text.includes(form);
      if (hit) found.push(`key#${i} form#${f}`);
    });
  });
  literals.forEach((l, i) => { if (l.length >= 8 && text.includes(l)) found.push(`literal#${i}`); });
  t.same(found, [], `${label}: no key material`);
}
