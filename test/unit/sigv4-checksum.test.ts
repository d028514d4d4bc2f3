// Checksums: known vectors, the AWS SDK's own implementations (@aws-sdk/checksums, installed with client-s3) on
// random data split at random points, and PlainBodyVerifier's hold-back.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import t from 'tap';
import { Crc32cJs, Crc64NvmeJs } from '@aws-sdk/checksums/crc';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { assertChecksum, checksumOf, crc32c, createChecksummer, Crc64Nvme, isChecksumValue, PlainBodyVerifier, type ChecksumAlgorithm, type PlainBodyOptions } from '../../src/sigv4/index.js';

const CHECK = Buffer.from('123456789');

t.test('catalogue check values ("123456789") and empty input', async (t) => {
  // CRC RevEng catalogue: CRC-32/ISO-HDLC cbf43926, CRC-32/ISCSI e3069283, CRC-64/NVME ae8b14860a799888
  t.equal(Buffer.from(checksumOf('CRC32', CHECK), 'base64').toString('hex'), 'cbf43926');
  t.equal(Buffer.from(checksumOf('CRC32C', CHECK), 'base64').toString('hex'), 'e3069283');
  t.equal(Buffer.from(checksumOf('CRC64NVME', CHECK), 'base64').toString('hex'), 'ae8b14860a799888');
  t.equal(crc32c(CHECK).toString(16), 'e3069283');
  t.equal(checksumOf('SHA1', Buffer.from('abc')), Buffer.from('a9993e364706816aba3e25717850c26c9cd0d89d', 'hex').toString('base64'));
  t.equal(checksumOf('SHA256', Buffer.from('abc')), Buffer.from('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'hex').toString('base64'));
  for (const alg of ['CRC32', 'CRC32C', 'CRC64NVME'] as ChecksumAlgorithm[]) t.match(checksumOf(alg, Buffer.alloc(0)), /^A+=*$/, `${alg} of nothing is 0`);
  // the AWS docs' trailer example: CRC32C of 66560 'a's
  t.equal(checksumOf('CRC32C', Buffer.alloc(66560, 'a')), 'sOO8/Q==');
});

t.test('the same values as the AWS SDK\'s Crc32cJs / Crc64NvmeJs and zlib, incrementally, at random split points', async (t) => {
  for (let round = 0; round < 60; round++) {
    const data = randomBytes(Math.floor(Math.random() * 5000) + (round === 0 ? 0 : 1));
    const cuts = [0, ...Array.from({ length: 4 }, () => Math.floor(Math.random() * data.length)).sort((a, b) => a - b), data.length];
    const sdkC = new Crc32cJs();
    const sdk64 = new Crc64NvmeJs();
    const ours = { c: createChecksummer('CRC32C'), n: createChecksummer('CRC64NVME'), z: createChecksummer('CRC32') };
    for (let i = 1; i < cuts.length; i++) {
      const part = data.subarray(cuts[i - 1], cuts[i]);
      sdkC.update(part);
      sdk64.update(part);
      ours.c.update(part);
      ours.n.update(part);
      ours.z.update(part);
    }
    t.equal(ours.c.digest().toString('hex'), Buffer.from(await sdkC.digest()).toString('hex'), `CRC32C ${data.length} bytes`);
    t.equal(ours.n.digest().toString('hex'), Buffer.from(await sdk64.digest()).toString('hex'), `CRC64NVME ${data.length} bytes`);
    const z = Buffer.alloc(4);
    z.writeUInt32BE(zlib.crc32(data));
    t.equal(ours.z.digest().toString('hex'), z.toString('hex'), `CRC32 ${data.length} bytes`);
  }
  const state = new Crc64Nvme();
  for (const b of CHECK) state.update(Buffer.from([b]));
  t.equal(state.digest().toString('hex'), 'ae8b14860a799888', 'CRC64NVME one byte at a time');
});

t.test('checksum values: canonical base64 of the right size', async (t) => {
  t.ok(isChecksumValue('CRC32', 'SJXXVQ=='));
  t.notOk(isChecksumValue('CRC32', 'SJXXVQ='), 'bad padding');
  t.notOk(isChecksumValue('CRC32', 'SJXXVQ'), 'no padding');
  t.notOk(isChecksumValue('CRC64NVME', 'SJXXVQ=='), 'wrong size');
  t.notOk(isChecksumValue('SHA256', ''), 'empty');
  t.ok(isChecksumValue('SHA1', checksumOf('SHA1', CHECK)));
  t.throws(() => assertChecksum({ name: 'x-amz-checksum-sha256', value: checksumOf('SHA256', Buffer.from('x')) }, createHash('sha256').update('y').digest(), false),
    { code: 'BadDigest', message: 'The SHA256 you specified did not match the calculated checksum.' });
  t.throws(() => assertChecksum({ name: 'x-amz-checksum-crc64nvme', value: 'AAAA' }, Buffer.alloc(8), false),
    { code: 'InvalidRequest', message: 'Value for x-amz-checksum-crc64nvme header is invalid.' });
});

async function through(opts: PlainBodyOptions, body: Buffer, piece: number): Promise<{ out: Buffer; err?: Error; received: number }> {
  const v = new PlainBodyVerifier(opts);
  const out: Buffer[] = [];
  let received = 0;
  return new Promise((resolve) => {
    v.on('data', (c: Buffer) => { out.push(c); received += c.length; });
    v.once('error', (err) => resolve({ out: Buffer.concat(out), received, err }));
    v.once('end', () => resolve({ out: Buffer.concat(out), received }));
    const parts: Buffer[] = [];
    for (let i = 0; i < body.length; i += piece) parts.push(body.subarray(i, i + piece));
    Readable.from(parts).pipe(v);
  });
}

t.test('PlainBodyVerifier: hex x-amz-content-sha256 and x-amz-checksum-* on Content-Length bodies', async (t) => {
  const body = randomBytes(100_000);
  const sha = createHash('sha256').update(body).digest('hex');
  for (const piece of [1 << 20, 1000, 1]) {
    const ok = await through({ sha256Hex: sha, checksum: { name: 'x-amz-checksum-crc32c', value: checksumOf('CRC32C', body) } }, body, piece);
    t.error(ok.err, `good body in ${piece}-byte pieces`);
    t.ok(ok.out.equals(body));
  }
  const bad = Buffer.from(body);
  bad[500] ^= 1;
  const r1 = await through({ sha256Hex: sha }, bad, 4096);
  t.equal((r1.err as GatewayError).code, 'XAmzContentSHA256Mismatch');
  t.equal(r1.err?.message, "The provided 'x-amz-content-sha256' header does not match what was computed.");
  t.equal(r1.received, body.length - 16 * 1024, 'the last 16 KiB were held back');
  const r2 = await through({ checksum: { name: 'x-amz-checksum-crc32', value: checksumOf('CRC32', body) } }, bad, 4096);
  t.equal((r2.err as GatewayError).code, 'BadDigest');
  t.equal(r2.err?.message, 'The CRC32 you specified did not match the calculated checksum.');
  const r3 = await through({ sha256Hex: sha.toUpperCase(), holdBackBytes: 1 }, body, 4096);
  t.error(r3.err, 'upper-case hex is the same hash');
});
