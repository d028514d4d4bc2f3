// AwsChunkedDecoder: the AWS documentation examples, the captured real-client bodies, bodies signed by smithy's
// event signer; every tampering gives S3's error and the held-back tail never reaches the consumer; framing rules;
// backpressure.
import { Readable, Writable } from 'node:stream';
import t, { type Test } from 'tap';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { ERRORS, type ErrorName } from '../../src/errors/table.js';
import { AwsChunkedDecoder, checksumOf, parse, verify, type AwsChunkedOptions, type ChunkSigning } from '../../src/sigv4/index.js';
import { SigV4Error } from '../../src/sigv4/errors.js';
import { deriveSigningKey } from '../../src/sigv4/signing-key.js';
import { AWS_EXAMPLE, TEST_CREDS, TEST_NOW, awsStreamingExample, awsTrailerExample, encodeChunked, header, inputOf, loadFixtures, type AwsChunkedExample } from '../fixtures/sigv4/helpers.js';

interface Outcome { out: Buffer; received: number; err?: Error; decoder: AwsChunkedDecoder }

function* pieces(body: Buffer, size: number | 'random'): Generator<Buffer> {
  for (let off = 0; off < body.length;) {
    const n = size === 'random' ? 1 + Math.floor(Math.random() * 9000) : size;
    yield body.subarray(off, Math.min(off + n, body.length));
    off += n;
  }
}

function decode(opts: AwsChunkedOptions, body: Buffer, size: number | 'random' = body.length || 1): Promise<Outcome> {
  const decoder = new AwsChunkedDecoder(opts);
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    let received = 0;
    decoder.on('data', (c: Buffer) => { out.push(c); received += c.length; });
    decoder.once('error', (err) => resolve({ out: Buffer.concat(out), received, err, decoder }));
    decoder.once('end', () => resolve({ out: Buffer.concat(out), received, decoder }));
    Readable.from(pieces(body, size)).pipe(decoder);
  });
}

function expectFail(t: Test, o: Outcome, name: ErrorName, label: string, message?: string): void {
  if (!(o.err instanceof GatewayError)) {
    t.fail(`${label}: expected ${name}, got ${o.err ? String(o.err) : 'success'}`);
    return;
  }
  t.same({ error: o.err.error, status: o.err.status, code: o.err.code }, { error: name, status: ERRORS[name].status, code: ERRORS[name].code }, `${label}: ${ERRORS[name].code}`);
  if (message !== undefined) t.equal(o.err.message, message, `${label}: message`);
}

function signingOf(ex: AwsChunkedExample): ChunkSigning {
  const p = parse(ex.input);
  if (p.kind === 'anonymous') throw new Error('unsigned');
  return verify(p, () => ({ secretAccessKey: AWS_EXAMPLE.secretAccessKey }), AWS_EXAMPLE.now).signing;
}

const EXAMPLES = [
  { name: 'sigv4-streaming', ex: awsStreamingExample(), mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' as const, trailer: undefined },
  { name: 'sigv4-streaming-trailers', ex: awsTrailerExample(), mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' as const, trailer: 'x-amz-checksum-crc32c' as const },
];

t.test('AWS documentation examples decode, in one piece, 1-byte pieces and random pieces', async (t) => {
  for (const { name, ex, mode, trailer } of EXAMPLES) {
    const opts = { mode, decodedLength: 66560, trailer, signing: signingOf(ex) };
    for (const size of [ex.body.length, 1, 'random'] as const) {
      const o = await decode(opts, ex.body, size);
      t.error(o.err, `${name} in ${size}-byte pieces`);
      t.ok(o.out.equals(AWS_EXAMPLE.data), `${name} in ${size}-byte pieces: exactly the data`);
      t.equal(o.decoder.chunks, 2);
    }
    const o = await decode(opts, ex.body);
    if (trailer) t.same(o.decoder.checksum, { name: 'x-amz-checksum-crc32c', value: 'sOO8/Q==' }, `${name}: the trailer checksum`);
    else t.equal(o.decoder.checksum, undefined);
  }
});

t.test('AWS examples tampered: SignatureDoesNotMatch, and the consumer never gets the whole body', async (t) => {
  for (const { name, ex, mode, trailer } of EXAMPLES) {
    const opts = { mode, decodedLength: 66560, trailer, signing: signingOf(ex) };
    const at = (s: string) => ex.body.indexOf(s);
    const tamper = (pos: number, byte?: number) => { const b = Buffer.from(ex.body); b[pos] = byte ?? (b[pos]! ^ 1); return b; };
    const first = at('10000;') + 88;
    let o = await decode(opts, tamper(first + 10));
    expectFail(t, o, 'SignatureDoesNotMatch', `${name}: a byte of chunk 1`, ERRORS.SignatureDoesNotMatch.message);
    t.equal(o.received, 0, `${name}: chunk 1 is never emitted unverified`);
    t.match((o.err as SigV4Error).details.StringToSign, /^AWS4-HMAC-SHA256-PAYLOAD\n20130524T000000Z\n20130524\/us-east-1\/s3\/aws4_request\n/);
    o = await decode(opts, tamper(at('400;') + 86 + 5));
    expectFail(t, o, 'SignatureDoesNotMatch', `${name}: a byte of chunk 2`);
    t.ok(o.received < 66560, `${name}: ${o.received} bytes reached the consumer`);
    const finalSig = at('\r\n0;chunk-signature=') + 20;
    t.equal(ex.body.toString('latin1', finalSig, finalSig + 64), ex.signatures[3], 'the final chunk signature is where expected');
    o = await decode(opts, tamper(finalSig + 3, ex.body[finalSig + 3] === 0x30 ? 0x31 : 0x30));
    expectFail(t, o, 'SignatureDoesNotMatch', `${name}: the final chunk signature`);
    t.equal(o.received, 66560 - 16 * 1024, `${name}: both data chunks verified, yet the last 16 KiB are held back`);
    // a chunk signature in upper case is the same signature
    const upper = Buffer.from(ex.body.toString('latin1').replace(ex.signatures[1]!, ex.signatures[1]!.toUpperCase()), 'latin1');
    t.error((await decode(opts, upper)).err, `${name}: upper-case chunk signature`);
    // a missing chunk signature
    const noSig = Buffer.from(ex.body.toString('latin1').replace(`;chunk-signature=${ex.signatures[2]}`, ''), 'latin1');
    expectFail(t, await decode(opts, noSig), 'BodyIncomplete', `${name}: no chunk-signature`);
    if (trailer) {
      const sumAt = at('sOO8/Q==');
      o = await decode(opts, tamper(sumAt + 1, 0x50)); // sOO8 → sPO8: still a valid CRC32C value
      expectFail(t, o, 'SignatureDoesNotMatch', `${name}: the trailer value (signed)`);
      t.ok(o.received < 66560, `${name}: held back on a bad trailer`);
      o = await decode(opts, tamper(at('x-amz-trailer-signature:') + 30, ex.body[at('x-amz-trailer-signature:') + 30] === 0x30 ? 0x31 : 0x30));
      expectFail(t, o, 'SignatureDoesNotMatch', `${name}: the trailer signature`);
      t.ok(o.received < 66560, `${name}: held back on a bad trailer signature`);
      const noTrailerSig = Buffer.from(ex.body.toString('latin1').replace(/x-amz-trailer-signature:[0-9a-f]+\r\n/, ''), 'latin1');
      expectFail(t, await decode(opts, noTrailerSig), 'TrailerMalformed', `${name}: no trailer signature`, 'The request contained trailing data that was not well-formed or did not conform to our published schema.');
    }
  }
});

const realChunked = loadFixtures().filter((f) => /aws-chunked/i.test(header(f.rawHeaders, 'content-encoding') ?? ''));

function optsOf(f: (typeof realChunked)[number]): AwsChunkedOptions {
  const p = parse(inputOf(f));
  if (p.kind === 'anonymous') throw new Error('unsigned');
  const v = verify(p, () => ({ secretAccessKey: f.secretAccessKey }), f.captured);
  return { mode: v.payloadMode as AwsChunkedOptions['mode'], decodedLength: v.decodedContentLength!, trailer: v.trailer, signing: v.signing };
}

t.test('real clients\' aws-chunked bodies decode and their trailer checksums verify', async (t) => {
  t.ok(realChunked.length >= 9, `${realChunked.length} captured aws-chunked bodies`);
  const algs = new Set<string>();
  for (const f of realChunked) {
    const opts = optsOf(f);
    for (const size of [f.body.length, 1, 'random'] as const) {
      const o = await decode(opts, f.body, size);
      t.error(o.err, `${f.name}: ${size}-byte pieces`);
      t.equal(o.out.length, opts.decodedLength);
    }
    const o = await decode(opts, f.body);
    const alg = { 'x-amz-checksum-crc32': 'CRC32', 'x-amz-checksum-crc32c': 'CRC32C', 'x-amz-checksum-crc64nvme': 'CRC64NVME', 'x-amz-checksum-sha1': 'SHA1', 'x-amz-checksum-sha256': 'SHA256' }[opts.trailer!]! as 'CRC32';
    algs.add(alg);
    t.same(o.decoder.checksum, { name: opts.trailer, value: checksumOf(alg, o.out) }, `${f.name}: ${alg} trailer`);
    if (f.name === 'sdk-put-readable-multichunk') t.equal(o.decoder.chunks, 2, 'the SDK sent the Readable\'s two pieces as two chunks');
  }
  t.same([...algs].sort(), ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'], 'all five algorithms from real clients');
});

t.test('real bodies tampered: BadDigest / InvalidRequest / IncompleteBody with S3 messages; tail held back', async (t) => {
  for (const f of realChunked) {
    const opts = optsOf(f);
    const alg = opts.trailer!.slice('x-amz-checksum-'.length).toUpperCase();
    // a data byte
    const dataAt = f.body.indexOf('\r\n') + 2 + 3;
    const b = Buffer.from(f.body);
    b[dataAt] ^= 0x20;
    let o = await decode(opts, b);
    expectFail(t, o, 'ChecksumMismatch', `${f.name}: a data byte`, `The ${alg} you specified did not match the calculated checksum.`);
    t.ok(o.received < opts.decodedLength, `${f.name}: ${o.received} < ${opts.decodedLength} bytes reached the consumer`);
    // the trailer value: another valid value, then an invalid one
    const text = f.body.toString('latin1');
    const m = new RegExp(`${opts.trailer}:([A-Za-z0-9+/=]+)\\r\\n`).exec(text)!;
    const other = Buffer.from(m[1]!, 'base64');
    other[0] ^= 1;
    o = await decode(opts, Buffer.from(text.replace(m[1]!, other.toString('base64')), 'latin1'));
    expectFail(t, o, 'ChecksumMismatch', `${f.name}: another checksum`);
    o = await decode(opts, Buffer.from(text.replace(m[1]!, 'AAAA'), 'latin1'));
    expectFail(t, o, 'ChecksumValueInvalid', `${f.name}: a checksum of the wrong size`, `Value for ${opts.trailer} trailing header is invalid.`);
    // the trailer missing, another trailer
    o = await decode(opts, Buffer.from(text.replace(m[0], ''), 'latin1'));
    expectFail(t, o, 'TrailerMalformed', `${f.name}: no trailer`);
    o = await decode(opts, Buffer.from(text.replace(m[0], `${m[0]}x-amz-meta-x:1\r\n`), 'latin1'));
    expectFail(t, o, 'TrailerMalformed', `${f.name}: an extra trailer`);
    // bytes after the end; a wrong decoded length
    expectFail(t, await decode(opts, Buffer.concat([f.body, Buffer.from('0\r\n')])), 'BodyIncomplete', `${f.name}: bytes after the end`, 'The request body terminated unexpectedly');
    expectFail(t, await decode({ ...opts, decodedLength: opts.decodedLength + 1 }, f.body), 'DecodedLengthMismatch', `${f.name}: declared 1 more`, 'You did not provide the number of bytes specified by the Content-Length HTTP header.');
    expectFail(t, await decode({ ...opts, decodedLength: opts.decodedLength - 1 }, f.body), 'DecodedLengthMismatch', `${f.name}: declared 1 less`);
  }
});

t.test('a body cut short anywhere: IncompleteBody, never a complete output', async (t) => {
  const f = realChunked.find((x) => x.name === 'cli1-put-object-weird-key')!;
  const opts = optsOf(f);
  for (let n = 0; n < f.body.length; n++) {
    const o = await decode(opts, f.body.subarray(0, n), 1 + (n % 7));
    if (!(o.err instanceof GatewayError) || o.err.error !== 'BodyIncomplete') { t.fail(`cut at ${n}: ${String(o.err)}`); continue; }
    if (o.received >= opts.decodedLength) t.fail(`cut at ${n}: the whole body was emitted`);
  }
  const ex = awsTrailerExample();
  const sopts = { mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' as const, decodedLength: 66560, trailer: 'x-amz-checksum-crc32c' as const, signing: signingOf(ex) };
  for (const n of [0, 5, 88, 1000, 65624, 65626, 66700, 66822, 66853, 66944, 66945]) {
    const o = await decode(sopts, ex.body.subarray(0, n));
    t.equal((o.err as GatewayError | undefined)?.error, 'BodyIncomplete', `signed body cut at ${n}`);
    t.ok(o.received < 66560, `cut at ${n}: ${o.received} bytes out`);
  }
});

t.test('generated bodies: chunk sizes 0, 1, 8 KiB, 64 KiB + 1 in every mode and feeding pattern', async (t) => {
  const seed = 'a'.repeat(64);
  const signingKey = deriveSigningKey(TEST_CREDS.secretAccessKey, '20260301', 'us-east-1', 's3');
  const signing: ChunkSigning = { signingKey, amzDate: '20260301T120000Z', scope: '20260301/us-east-1/s3/aws4_request', seedSignature: seed };
  const modes = ['STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER'] as const;
  const cases: { size: number; chunk: number }[] = [
    { size: 0, chunk: 8192 },
    { size: 1, chunk: 1 },
    { size: 8192, chunk: 8192 },
    { size: 65537, chunk: 65537 },
    { size: 65537, chunk: 8192 },
    { size: 3000, chunk: 1 }, // 1-byte chunks: only with the 8 KiB rule off
  ];
  for (const mode of modes) {
    for (const { size, chunk } of cases) {
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i++) data[i] = (i * 131 + 7) & 0xff;
      const trailer = mode === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' ? undefined : { name: 'x-amz-checksum-crc64nvme' as const, value: checksumOf('CRC64NVME', data) };
      const { body } = await encodeChunked({ data, chunkSize: chunk, mode, trailer, seedSignature: seed });
      const opts: AwsChunkedOptions = { mode, decodedLength: size, trailer: trailer?.name, signing, minChunkSize: chunk < 8192 ? 0 : undefined };
      for (const feed of [body.length || 1, 1, 'random'] as const) {
        if (feed === 1 && body.length > 200_000) continue;
        const o = await decode(opts, body, feed);
        t.error(o.err, `${mode} ${size}/${chunk} fed ${feed}`);
        if (!o.out.equals(data)) t.fail(`${mode} ${size}/${chunk} fed ${feed}: output differs`);
      }
      if (chunk < 8192 && size > chunk) {
        const o = await decode({ ...opts, minChunkSize: undefined }, body);
        expectFail(t, o, 'ChunkTooSmall', `${mode} ${chunk}-byte chunks with S3's 8 KiB rule`, 'Only the last chunk is allowed to have a size less than 8192 bytes');
        t.same((o.err as SigV4Error).details, { Chunk: '1', BadChunkSize: String(chunk) });
      }
      if (mode !== 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' && size > 0) {
        const wrongSeed = await decode({ ...opts, signing: { ...signing, seedSignature: 'b'.repeat(64) } }, body);
        expectFail(t, wrongSeed, 'SignatureDoesNotMatch', `${mode} ${size}/${chunk}: another seed`);
        t.equal(wrongSeed.received, 0);
      }
    }
  }
});

t.test('framing faults', async (t) => {
  const opts: AwsChunkedOptions = { mode: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', decodedLength: 5, trailer: 'x-amz-checksum-crc32' };
  const crc = checksumOf('CRC32', Buffer.from('hello'));
  const good = `5\r\nhello\r\n0\r\nx-amz-checksum-crc32:${crc}\r\n\r\n`;
  t.error((await decode(opts, Buffer.from(good))).err, 'the reference body');
  const bad: [string, string, ErrorName][] = [
    ['a non-hex size', good.replace('5\r\n', 'g\r\n'), 'BodyIncomplete'],
    ['an empty size line', `\r\n${good}`, 'BodyIncomplete'],
    ['LF without CR', good.replace('5\r\n', '5\n'), 'BodyIncomplete'],
    ['no CRLF after the data', good.replace('hello\r\n', 'hello'), 'BodyIncomplete'],
    ['a chunk longer than declared', good.replace('5\r\nhello', '6\r\nhello!'), 'DecodedLengthMismatch'],
    ['a 4 KiB size line', `${'0'.repeat(5000)}5\r\nhello\r\n0\r\n\r\n`, 'BodyIncomplete'],
    ['a trailer line without a colon', good.replace(`x-amz-checksum-crc32:${crc}`, 'garbage'), 'TrailerMalformed'],
    ['an unsigned body with a trailer signature', good.replace('\r\n\r\n', `\r\nx-amz-trailer-signature:${'0'.repeat(64)}\r\n\r\n`), 'TrailerMalformed'],
  ];
  for (const [label, body, name] of bad) expectFail(t, await decode(opts, Buffer.from(body, 'latin1')), name, label);
  // STREAMING-AWS4-HMAC-SHA256-PAYLOAD has no trailer section
  const seed = 'c'.repeat(64);
  const signing: ChunkSigning = { signingKey: deriveSigningKey(TEST_CREDS.secretAccessKey, '20260301', 'us-east-1', 's3'), amzDate: '20260301T120000Z', scope: '20260301/us-east-1/s3/aws4_request', seedSignature: seed };
  const { body } = await encodeChunked({ data: Buffer.from('hello'), chunkSize: 8192, mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', seedSignature: seed });
  const sopts: AwsChunkedOptions = { mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', decodedLength: 5, signing };
  t.error((await decode(sopts, body)).err);
  expectFail(t, await decode(sopts, Buffer.from(body.toString('latin1').replace(/\r\n\r\n$/, `\r\nx-amz-checksum-crc32:${crc}\r\n\r\n`), 'latin1')), 'BodyIncomplete', 'a trailer in a non-trailer mode');
  // signed chunks bigger than the buffer limit
  expectFail(t, await decode({ ...sopts, maxChunkSize: 4 }, body), 'ChunkTooLarge', 'a signed chunk over maxChunkSize');
  t.throws(() => new AwsChunkedDecoder({ mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', decodedLength: 1 }), /signing context/);
  // built from raw (unverified) headers: client mistakes are S3 errors, not crashes
  t.throws(() => new AwsChunkedDecoder({ mode: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', decodedLength: Number('x') }), { code: 'MissingContentLength' });
  t.throws(() => new AwsChunkedDecoder({ mode: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', decodedLength: 1, trailer: 'x-amz-checksum-md5' as never }), { code: 'InvalidRequest', message: 'The value specified in the x-amz-trailer header is not supported' });
});

t.test('backpressure: a slow consumer bounds what the decoder holds', async (t) => {
  const seed = 'd'.repeat(64);
  const signing: ChunkSigning = { signingKey: deriveSigningKey(TEST_CREDS.secretAccessKey, '20260301', 'us-east-1', 's3'), amzDate: '20260301T120000Z', scope: '20260301/us-east-1/s3/aws4_request', seedSignature: seed };
  const data = Buffer.alloc(4 * 1024 * 1024, 7);
  const { body } = await encodeChunked({ data, chunkSize: 65536, mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', seedSignature: seed });
  const decoder = new AwsChunkedDecoder({ mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', decodedLength: data.length, signing });
  let maxBuffered = 0;
  let got = 0;
  let sourceRead = 0;
  const source = new Readable({
    highWaterMark: 16 * 1024,
    read() {
      const c = body.subarray(sourceRead, sourceRead + 16 * 1024);
      sourceRead += c.length;
      this.push(c.length ? c : null);
    },
  });
  const sink = new Writable({
    highWaterMark: 16 * 1024,
    write(c: Buffer, _e, cb) {
      got += c.length;
      maxBuffered = Math.max(maxBuffered, sourceRead - got);
      setImmediate(cb);
    },
  });
  await new Promise<void>((resolve, reject) => { source.pipe(decoder).pipe(sink).on('finish', resolve).on('error', reject); decoder.on('error', reject); });
  t.equal(got, data.length);
  t.ok(maxBuffered < 6 * 65536, `read ahead of the consumer at most ${maxBuffered} bytes (chunks are 64 KiB)`);
});

t.test('forRequest builds the decoder from a verified request', async (t) => {
  const f = realChunked[0]!;
  const p = parse(inputOf(f));
  if (p.kind === 'anonymous') throw new Error('x');
  const v = verify(p, () => ({ secretAccessKey: f.secretAccessKey }), f.captured);
  const d = AwsChunkedDecoder.forRequest(v);
  const out: Buffer[] = [];
  d.on('data', (c: Buffer) => out.push(c));
  await new Promise((r) => { d.on('end', r); d.end(f.body); });
  t.equal(Buffer.concat(out).length, v.decodedContentLength);
  t.equal(d.checksum?.name, v.trailer);
  const hex = loadFixtures().find((x) => x.name === 'sdk-put-buffer')!;
  const hp = parse(inputOf(hex));
  if (hp.kind === 'anonymous') throw new Error('x');
  t.throws(() => AwsChunkedDecoder.forRequest(verify(hp, () => ({ secretAccessKey: hex.secretAccessKey }), hex.captured)), /not an aws-chunked payload/);
});
