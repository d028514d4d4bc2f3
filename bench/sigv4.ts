// SigV4 micro-benchmark (not a test). Run from the repo root, on one core:
//
//   taskset -c 0 node --import @tapjs/typescript/import bench/sigv4.ts            # tap's ts-node loader (~8 s start-up)
//   # or compiled (tsc emits despite type errors elsewhere; the symlink lets node find the packages):
//   npx tsc -p tsconfig.json --outDir /tmp/sigv4-bench; ln -sfn "$PWD/node_modules" /tmp/sigv4-bench/node_modules
//   taskset -c 0 node /tmp/sigv4-bench/bench/sigv4.js
//
// `taskset` is optional (the work is single-threaded either way). Options: --ms=N time per case and round (default 300),
// --rounds=N (default 7). The cases run round-robin and each reports its best round (and the median), so that load
// from other processes biases all cases alike; compare the columns of one run, not runs on a busy machine.
// Prints ops/s and µs/op, measured in the same run, of:
//   verify header     parse() + verify() of a real header-signed request (aws-cli v1 PutObject), signing key cached
//   verify header*    the same with the signing-key cache off (4 more HMACs per request)
//   verify presigned  parse() + verify() of a real presigned URL (SDK getSignedUrl)
//   re-sign upstream  signUpstream() (@smithy/signature-v4) of the same request
//   verify + re-sign  both, as a `sigv4` mode request costs
//   bare HMAC x5      node:crypto only: the 4 HMACs of key derivation + 1 HMAC of a string to sign (+ the SHA-256 of a canonical request)
//   smithy verify     stack-notes §2's way: parse the header, build an HttpRequest, new SignatureV4, sign, compare
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, signUpstream, stripAuthQuery, verify, SigningKeyCache, type SigV4Input, type SigV4Request } from '../src/sigv4/index.js';

const ms = Number(process.argv.find((a) => a.startsWith('--ms='))?.slice(5) ?? 300);
const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 7);

/** The repo root: the working directory, or the nearest directory above this script, that holds the fixtures. */
const FIXTURES = 'test/fixtures/sigv4/real-clients.jsonl';
function repoRoot(): string {
  if (existsSync(path.join(process.cwd(), FIXTURES))) return process.cwd();
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(path.join(dir, FIXTURES))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error(`run from the repository root (${FIXTURES} not found)`);
}
const { loadFixtures, inputOf, smithySignature, header } = await import('../test/fixtures/sigv4/helpers.js');

const fixtures = loadFixtures(path.join(repoRoot(), FIXTURES));
const hdr = fixtures.find((f) => f.name === 'cli1-put-object-weird-key')!;
const pre = fixtures.find((f) => f.name === 'sdk-presign-get')!;
const lookup = () => ({ secretAccessKey: hdr.secretAccessKey });
const cached = new SigningKeyCache();
const uncached = new SigningKeyCache(0);

function verifyOnce(input: SigV4Input, now: Date, keys: SigningKeyCache) {
  return verify(parse(input) as SigV4Request, lookup, now, { keys });
}

const hdrInput = inputOf(hdr);
const preInput = inputOf(pre);
const upstreamHeaders: Record<string, string | string[]> = {};
for (let i = 0; i < hdr.rawHeaders.length; i += 2) upstreamHeaders[hdr.rawHeaders[i]!.toLowerCase()] = hdr.rawHeaders[i + 1]!;
const q = hdr.url.indexOf('?');
const upstreamReq = {
  method: hdr.method, protocol: 'http:' as const, hostname: 'rgw.internal', port: 7480,
  rawPath: q === -1 ? hdr.url : hdr.url.slice(0, q), rawQuery: stripAuthQuery(q === -1 ? '' : hdr.url.slice(q + 1)),
  headers: upstreamHeaders, payloadHash: 'UNSIGNED-PAYLOAD', region: 'us-east-1',
};
const upCreds = { accessKeyId: 'AKIDUPSTREAM', secretAccessKey: 'upstream-secret' };

const provided = Buffer.from(/Signature=([0-9a-f]{64})/.exec(header(hdr.rawHeaders, 'authorization')!)![1]!, 'hex');
const canonical = 'PUT\n/fixture-bucket/dir/weird%20key\n\nhost:127.0.0.1:36009\nx-amz-content-sha256:STREAMING-UNSIGNED-PAYLOAD-TRAILER\nx-amz-date:20261127T215100Z\n\nhost;x-amz-content-sha256;x-amz-date\nSTREAMING-UNSIGNED-PAYLOAD-TRAILER';

const cases: [string, () => unknown][] = [
  ['verify header', () => verifyOnce(hdrInput, hdr.captured, cached)],
  ['verify header* (no key cache)', () => verifyOnce(hdrInput, hdr.captured, uncached)],
  ['verify presigned', () => verifyOnce(preInput, pre.captured, cached)],
  ['re-sign upstream (smithy)', () => signUpstream(upstreamReq, upCreds)],
  ['verify + re-sign', async () => { verifyOnce(hdrInput, hdr.captured, cached); await signUpstream(upstreamReq, upCreds); }],
  ['bare HMAC x5 + SHA-256 (node:crypto)', () => {
    let k = createHmac('sha256', `AWS4${hdr.secretAccessKey}`).update('20261127').digest();
    for (const s of ['us-east-1', 's3', 'aws4_request']) k = createHmac('sha256', k).update(s).digest();
    const sts = `AWS4-HMAC-SHA256\n20261127T215100Z\n20261127/us-east-1/s3/aws4_request\n${createHash('sha256').update(canonical).digest('hex')}`;
    return createHmac('sha256', k).update(sts).digest();
  }],
  ['smithy verify (stack-notes §2)', async () => {
    const sig = Buffer.from(await smithySignature(hdr, hdr.secretAccessKey), 'hex');
    if (!timingSafeEqual(sig, provided)) throw new Error('mismatch');
  }],
];

async function measure(fn: () => unknown, isAsync: boolean): Promise<number> {
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 100; i++) { const r = fn(); if (isAsync) await r; }
    n += 100;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - start) / 1e9);
}

console.log(`node ${process.version}, ${rounds} rounds × ${ms} ms per case, fixtures ${hdr.name} (${hdr.client}) / ${pre.name} (${pre.client})`);
const asyncCase = cases.map(([, fn]) => fn() instanceof Promise);
for (const [i, [, fn]] of cases.entries()) for (let k = 0; k < 2000; k++) { const r = fn(); if (asyncCase[i]) await r; } // warm-up
const results: number[][] = cases.map(() => []);
for (let r = 0; r < rounds; r++) for (const [i, [, fn]] of cases.entries()) results[i]!.push(await measure(fn, asyncCase[i]!));
const best = results.map((xs) => Math.max(...xs));
const median = results.map((xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!);
console.log(`${'case'.padEnd(38)} ${'best ops/s'.padStart(11)} ${'µs/op'.padStart(8)} ${'median ops/s'.padStart(13)}`);
for (const [i, [name]] of cases.entries()) {
  console.log(`${name.padEnd(38)} ${Math.round(best[i]!).toString().padStart(11)} ${(1e6 / best[i]!).toFixed(2).padStart(8)} ${Math.round(median[i]!).toString().padStart(13)}`);
}
console.log(`\nhand-rolled verify is ${(best[0]! / best[best.length - 1]!).toFixed(1)}× cheaper than the smithy-based verify (best rounds)`);
