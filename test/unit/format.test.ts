// The gateway's encryption format (docs/format.md, issue 10): the document's test vectors open with
// a reader written here from the document alone; sizes; streaming round trips; ranges at every
// boundary; and every kind of tampering ends in an error, never in wrong bytes.
import t from 'tap';
import { createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  FormatError, HEADER, SEGMENT, TAG, cipherPartSize, decodeHeader, plainSizeOf, unwrapDataKey, wrapDataKey,
} from '../../src/encryption/format.js';
import { DecryptStream, EncryptPart, planRange, type DecryptOptions } from '../../src/encryption/streams.js';
import { VECTORS, VECTORS_BEGIN, VECTORS_END, rawKekSource, sealPart, vectorsMarkdown } from '../../src/encryption/vectors.js';

const DOC = readFileSync(new URL('../../docs/format.md', import.meta.url), 'utf8');

/** A reader of the format written from docs/format.md only (no code shared with src/encryption). */
function independentRead(customerKey: Buffer, bucket: string, key: string, meta: string, ct: Buffer): Buffer {
  const [v, saltB64, wrappedB64] = meta.split('.');
  if (v !== '1') throw new Error('version');
  const u16 = (s: string) => { const b = Buffer.from(s, 'utf8'); const l = Buffer.alloc(2); l.writeUInt16BE(b.length); return Buffer.concat([l, b]); };
  const info = Buffer.concat([Buffer.from('ssec-gateway/v1/kek'), u16(bucket), u16(key)]);
  const kek = Buffer.from(hkdfSync('sha256', customerKey, Buffer.from(saltB64!, 'base64url'), info, 32));
  const wrapped = Buffer.from(wrappedB64!, 'base64url');
  const w = createDecipheriv('aes-256-gcm', kek, Buffer.alloc(12)).setAAD(Buffer.from('ssec-gateway/v1/wrap')).setAuthTag(wrapped.subarray(32));
  const dataKey = Buffer.concat([w.update(wrapped.subarray(0, 32)), w.final()]);
  const out: Buffer[] = [];
  let off = 0;
  while (off < ct.length) {
    const header = ct.subarray(off, off + 32);
    if (header.subarray(0, 4).toString() !== 'SGW1') throw new Error('magic');
    const size = Number(header.readBigUInt64BE(8));
    const pk = Buffer.from(hkdfSync('sha256', dataKey, header.subarray(16, 32), Buffer.from('ssec-gateway/v1/part'), 32));
    off += 32;
    const n = Math.max(1, Math.ceil(size / 65536));
    for (let i = 0; i < n; i++) {
      const len = Math.min(65536, size - i * 65536) + 16;
      const seg = ct.subarray(off, off + len);
      const nonce = Buffer.alloc(12);
      nonce.writeUIntBE(i, 5, 6);
      nonce[11] = i === n - 1 ? 1 : 0;
      const d = createDecipheriv('aes-256-gcm', pk, nonce).setAAD(header).setAuthTag(seg.subarray(len - 16));
      out.push(d.update(seg.subarray(0, len - 16)), d.final());
      off += len;
    }
  }
  return Buffer.concat(out);
}

t.test('docs/format.md holds the generated vectors, and they open with a reader written from the document', async (t) => {
  const a = DOC.indexOf(VECTORS_BEGIN);
  const b = DOC.indexOf(VECTORS_END);
  t.equal(DOC.slice(a, b + VECTORS_END.length), vectorsMarkdown(), 'the section is current (node --import @tapjs/typescript/import scripts/format-vectors.ts --write)');
  const blocks = DOC.slice(a, b).split('### ').slice(1);
  t.equal(blocks.length, VECTORS.length, `${VECTORS.length} vectors`);
  for (const [i, block] of blocks.entries()) {
    const field = (name: string) => new RegExp(`^${name}\\s+(.+)$`, 'm').exec(block)?.[1]?.trim() ?? '';
    const v = VECTORS[i]!;
    // the inputs as the document states them
    const customerKey = Buffer.from(field('customer key').split(/\s/)[0]!, 'base64');
    const [bucket, key] = JSON.parse(`[${field('bucket, key')}]`) as [string, string];
    const meta = field('x-amz-meta-ssecgw');
    // the ciphertext as an implementation produces it from the inputs (the document gives its hash)
    const ct = Buffer.concat(v.parts.map((p) => sealPart(Buffer.from(field('data key'), 'hex'), p.partNumber, p.plain, p.salt)));
    t.equal(createHash('sha256').update(ct).digest('hex'), field('ciphertext sha256'), `${v.name}: ciphertext sha256 as documented`);
    const hex = field('ciphertext hex').split('…')[0]!;
    t.ok(ct.toString('hex').startsWith(hex), `${v.name}: ciphertext bytes as documented`);
    const plain = independentRead(customerKey, bucket, key, meta, ct);
    t.equal(createHash('sha256').update(plain).digest('hex'), field('plaintext sha256'), `${v.name}: opens to the documented plaintext`);
    t.equal(plain.length, plainSizeOf(ct.length, v.parts.length), `${v.name}: plaintext size from ciphertext size and part count`);
  }
});

t.test('sizes: plaintext size from ciphertext size, single and multipart', async (t) => {
  const sizes = [0, 1, 15, 16, 17, SEGMENT - 1, SEGMENT, SEGMENT + 1, 2 * SEGMENT, 2 * SEGMENT + 7, 5 << 20, (5 << 20) + 1, 123_456_789];
  for (let i = 0; i < 200; i++) sizes.push(Math.floor(Math.random() * 50_000_000));
  let bad = 0;
  for (const p of sizes) if (plainSizeOf(cipherPartSize(p)) !== p) bad++;
  t.equal(bad, 0, `${sizes.length} sizes map back exactly`);
  for (const [partSize, n, last] of [[5 << 20, 3, 1], [8 << 20, 2, 8 << 20], [15 << 20, 4, 12345], [64 << 10, 10, 65535]] as const) {
    const c = (n - 1) * cipherPartSize(partSize) + cipherPartSize(last);
    t.equal(plainSizeOf(c, n), (n - 1) * partSize + last, `${n} parts of ${partSize} (last ${last})`);
  }
  t.equal(plainSizeOf(10), undefined, 'too short for the format');
  t.equal(plainSizeOf(HEADER + SEGMENT + TAG + 5), undefined, 'a size the format never produces');
});

const customer = rawKekSource(randomBytes(32));

async function encrypt(plain: Buffer, dataKey: Buffer, partNumber = 1, pieces = 7): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const step = Math.max(1, Math.ceil(plain.length / pieces));
  const src = Readable.from((function* () { for (let o = 0; o < plain.length; o += step) yield plain.subarray(o, o + step); })());
  const enc = new EncryptPart(dataKey, partNumber, plain.length);
  await pipeline(src, enc, async function* (s) { for await (const c of s) chunks.push(c as Buffer); });
  return Buffer.concat(chunks);
}
async function decrypt(ct: Buffer, o: DecryptOptions, pieces = 5): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const step = Math.max(1, Math.ceil(ct.length / pieces));
  const src = Readable.from((function* () { for (let i = 0; i < ct.length; i += step) yield ct.subarray(i, i + step); })());
  await pipeline(src, new DecryptStream(o), async function* (s) { for await (const c of s) chunks.push(c as Buffer); });
  return Buffer.concat(chunks);
}

t.test('streams: round trips of every size class, streamed in odd pieces', async (t) => {
  for (const size of [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT + 17, 1 << 20]) {
    const dk = randomBytes(32);
    const plain = randomBytes(size);
    const ct = await encrypt(plain, dk, 1, 13);
    t.equal(ct.length, cipherPartSize(size), `${size} bytes: ciphertext size as computed`);
    t.ok((await decrypt(ct, { dataKey: dk, parts: 1 }, 11)).equals(plain), `${size} bytes: round trip`);
    if (size >= 64) t.equal(ct.indexOf(plain.subarray(0, 64)), -1, `${size} bytes: no plaintext run in the ciphertext`);
  }
  const dk = randomBytes(32);
  await t.rejects(encrypt(Buffer.alloc(10), dk).then(async () => {
    const enc = new EncryptPart(dk, 1, 10);
    await pipeline(Readable.from([Buffer.alloc(11)]), enc, async function* (s) { for await (const _ of s) { /* drain */ } });
  }), FormatError, 'a body longer than announced is refused');
  await t.rejects(pipeline(Readable.from([Buffer.alloc(9)]), new EncryptPart(dk, 1, 10), async function* (s) { for await (const _ of s) { /* drain */ } }), FormatError, 'a body shorter than announced is refused');
});

// one multipart object: 3 parts of 2 segments + a last part of 1.5 segments
const PART = 2 * SEGMENT;
const mpKey = randomBytes(32);
const mpPlain = randomBytes(3 * PART + SEGMENT + SEGMENT / 2);
const mpParts = [0, 1, 2, 3].map((k) => mpPlain.subarray(k * PART, (k + 1) * PART));
const mpCt = Buffer.concat(await Promise.all(mpParts.map((p, k) => encrypt(p, mpKey, k + 1))));

t.test('multipart: parts encrypted apart read as one object', async (t) => {
  t.equal(plainSizeOf(mpCt.length, 4), mpPlain.length, 'plaintext size from the ciphertext size and 4 parts');
  t.ok((await decrypt(mpCt, { dataKey: mpKey, parts: 4 })).equals(mpPlain), 'whole object');
});

t.test('ranges at every boundary read only their segments', async (t) => {
  const total = mpPlain.length;
  const points = new Set<number>([0, 1, total - 1]);
  for (let o = 0; o <= total; o += SEGMENT) for (const d of [-1, 0, 1]) if (o + d >= 0 && o + d < total) points.add(o + d);
  for (let k = 0; k < 4; k++) for (const d of [-1, 0, 1, HEADER]) { const o = k * PART + d; if (o >= 0 && o < total) points.add(o); }
  const ps = [...points].sort((a, b) => a - b);
  let checked = 0;
  let wrong = 0;
  let over = 0;
  for (const a of ps) {
    for (const b of ps) {
      if (b < a) continue;
      const plan = planRange(total, PART, a, b);
      const header = plan.headerAt === undefined ? undefined : decodeHeader(mpCt.subarray(plan.headerAt, plan.headerAt + HEADER));
      const got = await decrypt(mpCt.subarray(plan.cipherFirst, plan.cipherLast + 1), { dataKey: mpKey, start: header ? { header, segment: plan.segment } : undefined, skip: plan.skip, length: plan.length }, 3);
      checked++;
      if (!got.equals(mpPlain.subarray(a, b + 1))) wrong++;
      const fetched = plan.cipherLast - plan.cipherFirst + 1;
      // the range's bytes and at most a segment more at each end, each segment with its tag, and the part headers on the way
      if (fetched > Math.ceil(((b - a + 1) + 2 * SEGMENT) / SEGMENT + 1) * (SEGMENT + TAG) + HEADER * 4) over++;
    }
  }
  t.equal(wrong, 0, `${checked} ranges (segment, part and object boundaries), every one exact`);
  t.equal(over, 0, 'each fetched at most its bytes plus two segments and the part headers between');
});

t.test('tampering, reordering, truncation, another name, another key: an error, never bytes', async (t) => {
  const cases: [string, Buffer, DecryptOptions][] = [];
  const opts: DecryptOptions = { dataKey: mpKey, parts: 4 };
  for (const at of [0, 5, 10, 20, HEADER, HEADER + 100, HEADER + SEGMENT + 3, cipherPartSize(PART) + 40, mpCt.length - 1]) {
    const c = Buffer.from(mpCt);
    c[at]! ^= 0x01;
    cases.push([`one bit flipped at byte ${at}`, c, opts]);
  }
  const seg = (k: number, j: number) => k * cipherPartSize(PART) + HEADER + j * (SEGMENT + TAG);
  const swapped = Buffer.from(mpCt);
  mpCt.copy(swapped, seg(0, 0), seg(0, 1), seg(0, 1) + SEGMENT + TAG);
  mpCt.copy(swapped, seg(0, 1), seg(0, 0), seg(0, 0) + SEGMENT + TAG);
  cases.push(['two segments of a part swapped', swapped, opts]);
  const p1 = mpCt.subarray(0, cipherPartSize(PART));
  const p2 = mpCt.subarray(cipherPartSize(PART), 2 * cipherPartSize(PART));
  cases.push(['two parts swapped', Buffer.concat([p2, p1, mpCt.subarray(2 * cipherPartSize(PART))]), opts]);
  cases.push(['a part repeated', Buffer.concat([p1, p1, mpCt.subarray(2 * cipherPartSize(PART))]), opts]);
  cases.push(['cut at a segment boundary', mpCt.subarray(0, seg(3, 1)), opts]);
  cases.push(['cut inside a segment', mpCt.subarray(0, mpCt.length - 7), opts]);
  cases.push(['the last part dropped (part count known)', mpCt.subarray(0, 3 * cipherPartSize(PART)), opts]);
  cases.push(['a part of another object spliced in', Buffer.concat([mpCt.subarray(0, seg(1, 0) - HEADER), await encrypt(randomBytes(PART), randomBytes(32), 2), mpCt.subarray(2 * cipherPartSize(PART))]), opts]);
  cases.push(['another data key', mpCt, { dataKey: randomBytes(32), parts: 4 }]);
  for (const [what, ct, o] of cases) {
    let out: Buffer | undefined;
    let err: unknown;
    try { out = await decrypt(ct, o); } catch (e) { err = e; }
    t.ok(err instanceof FormatError && out === undefined, `${what}: FormatError${err instanceof FormatError ? ` (${err.message})` : ` — got ${out ? `${out.length} bytes` : String(err)}`}`);
  }
  // the wrapped data key: another name, another customer key, an altered wrap
  const meta = wrapDataKey(customer, 'b', 'k', mpKey);
  t.ok(unwrapDataKey(customer, 'b', 'k', meta).equals(mpKey), 'the data key unwraps under its own name');
  t.throws(() => unwrapDataKey(customer, 'b', 'k2', meta), FormatError, 'moved to another object name: refused');
  t.throws(() => unwrapDataKey(customer, 'b2', 'k', meta), FormatError, 'moved to another bucket: refused');
  t.throws(() => unwrapDataKey(rawKekSource(randomBytes(32)), 'b', 'k', meta), FormatError, 'another customer key: refused');
  const altered = meta.slice(0, -2) + (meta.endsWith('A') ? 'BA' : 'AA');
  t.throws(() => unwrapDataKey(customer, 'b', 'k', altered), FormatError, 'an altered wrap: refused');
  t.notOk(meta.includes(customer.deriveKey(Buffer.alloc(16), Buffer.alloc(0)).toString('base64url').slice(0, 10)), 'nothing of the key in the metadata');
});
