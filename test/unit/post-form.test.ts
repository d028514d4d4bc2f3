// The streaming multipart/form-data prefix reader of POST Object (src/s3/post-form.ts): the fields
// before the `file` part read byte by byte or at once, S3's 20 KB bound, malformed forms, and the
// file-part meter that counts the file across every chunk split and enforces content-length-range.
import t, { type Test } from 'tap';
import { PassThrough, Readable } from 'node:stream';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { FilePartMeter, baseFilename, expandFilename, formBoundary, readFormPrefix, serializeFields } from '../../src/s3/post-form.js';

const B = '----WebKitFormBoundaryAbC123xYz';

function form(fields: [string, string][], file: string, opts: { filename?: string; preamble?: string; after?: boolean } = {}): Buffer {
  let s = opts.preamble ? `${opts.preamble}\r\n` : '';
  for (const [n, v] of fields) s += `--${B}\r\nContent-Disposition: form-data; name="${n}"\r\n\r\n${v}\r\n`;
  s += `--${B}\r\nContent-Disposition: form-data; name="file"; filename="${opts.filename ?? 'a.txt'}"\r\nContent-Type: text/plain\r\n\r\n${file}\r\n`;
  if (opts.after !== false) s += `--${B}\r\nContent-Disposition: form-data; name="submit"\r\n\r\nUpload\r\n`;
  return Buffer.from(`${s}--${B}--\r\n`);
}

/** A request-like stream delivering `body` in pieces of `size` bytes. */
function source(body: Buffer, size: number): PassThrough {
  const p = new PassThrough();
  const pieces: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) pieces.push(body.subarray(i, i + size));
  Readable.from(pieces).pipe(p);
  return p;
}

async function expectCode(t: Test, p: Promise<unknown>, code: string, message: string, label: string): Promise<void> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  t.ok(e instanceof GatewayError, `${label}: GatewayError`);
  t.same({ code: (e as GatewayError).code, message: (e as GatewayError).message }, { code, message }, label);
}

t.test('boundary from Content-Type', async (t) => {
  t.equal(formBoundary(`multipart/form-data; boundary=${B}`), B);
  t.equal(formBoundary('Multipart/Form-Data; charset=utf-8; boundary="a b:c"'), 'a b:c', 'quoted, case-insensitive type');
  t.equal(formBoundary('application/octet-stream'), undefined, 'not a form');
  t.throws(() => formBoundary('multipart/form-data'), { code: 'MalformedPOSTRequest' }, 'no boundary');
});

t.test('fields before the file, at every chunk size; the rest is the file content', async (t) => {
  const body = form([['key', 'uploads/${filename}'], ['X-Amz-Meta-Tag', 'a\r\nb'], ['empty', '']], 'FILE-CONTENT', { filename: 'C:\\Users\\eve\\photo.jpg' });
  for (const size of [1, 2, 7, 64, 100_000]) {
    const src = source(body, size);
    const f = await readFormPrefix(src as never, B);
    t.same(f.fields, [{ name: 'key', value: 'uploads/${filename}' }, { name: 'X-Amz-Meta-Tag', value: 'a\r\nb' }, { name: 'empty', value: '' }], `${size}: fields`);
    t.equal(f.file.filename, 'C:\\Users\\eve\\photo.jpg', `${size}: filename, backslashes literal`);
    t.match(f.file.headers.toString(), /^Content-Disposition: form-data; name="file"; filename=.*\r\nContent-Type: text\/plain$/, `${size}: file part headers`);
    const rest: Buffer[] = [f.rest];
    src.resume();
    for await (const c of src) rest.push(c as Buffer);
    t.ok(Buffer.concat([f.prefix, ...rest]).equals(body), `${size}: prefix + rest = the body`);
    t.ok(Buffer.concat(rest).toString().startsWith('FILE-CONTENT\r\n'), `${size}: rest starts at the file content`);
  }
  t.equal(expandFilename('uploads/${filename}', 'C:\\Users\\eve\\photo.jpg'), 'uploads/photo.jpg', '${filename}: the name after the last \\');
  t.equal(baseFilename('dir/sub/x.bin'), 'x.bin');
  t.equal(expandFilename('k/${filename}', undefined), 'k/${filename}', 'no filename parameter: left as is (S3, observed)');
});

t.test('a preamble is skipped; fields after the file are not read', async (t) => {
  const f = await readFormPrefix(source(form([['key', 'k']], 'x', { preamble: 'ignored preamble' }), 5) as never, B);
  t.same(f.fields, [{ name: 'key', value: 'k' }]);
});

t.test('S3\'s errors: no file, over 20 KB before the file, cut short, a part without a name', async (t) => {
  const noFile = Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="key"\r\n\r\nk\r\n--${B}--\r\n`);
  await expectCode(t, readFormPrefix(source(noFile, 3) as never, B), 'InvalidArgument', 'POST requires exactly one file upload per request.', 'no file part');
  const big = form([['key', 'k'], ['pad', 'x'.repeat(20 * 1024)]], 'x');
  await expectCode(t, readFormPrefix(source(big, 1000) as never, B), 'MaxPostPreDataLengthExceeded', 'Your POST request fields preceeding the upload file was too large.', 'over 20 KB');
  const justUnder = form([['pad', 'x'.repeat(20 * 1024 - 300)]], 'x');
  t.ok((await readFormPrefix(source(justUnder, 1000) as never, B)).fields.length === 1, 'just under 20 KB passes');
  const cut = form([['key', 'k']], 'x').subarray(0, 40);
  await expectCode(t, readFormPrefix(source(cut, 7) as never, B), 'MalformedPOSTRequest', 'The body of your POST request is not well-formed multipart/form-data.', 'cut short');
  const nameless = Buffer.from(`--${B}\r\nContent-Disposition: form-data\r\n\r\nv\r\n--${B}\r\nContent-Disposition: form-data; name="file"\r\n\r\nx\r\n--${B}--\r\n`);
  await expectCode(t, readFormPrefix(source(nameless, 4) as never, B), 'MalformedPOSTRequest', 'The body of your POST request is not well-formed multipart/form-data.', 'part without a name');
});

t.test('serializeFields writes a prefix the reader reads back', async (t) => {
  const f = await readFormPrefix(source(form([['key', 'k']], 'DATA'), 9) as never, B);
  const head = serializeFields(B, [{ name: 'key', value: 'new/key' }, { name: 'we"ird', value: 'v' }], f.file.headers);
  const again = await readFormPrefix(source(Buffer.concat([head, Buffer.from(`DATA\r\n--${B}--\r\n`)]), 11) as never, B);
  t.same(again.fields, [{ name: 'key', value: 'new/key' }, { name: 'we%22ird', value: 'v' }], 'fields (a quote escaped as browsers do)');
  t.ok(again.file.headers.equals(f.file.headers), 'the file part headers kept byte for byte');
});

async function meter(body: Buffer, split: number[], o: { range?: { min: number; max: number }; head?: Buffer } = {}): Promise<{ out: Buffer; size?: number; error?: GatewayError }> {
  let size: number | undefined;
  const m = new FilePartMeter({ boundary: B, ...o, onSize: (n) => { size = n; } });
  const out: Buffer[] = [];
  m.on('data', (c: Buffer) => out.push(c));
  const done = new Promise<GatewayError | undefined>((resolve) => { m.once('end', () => resolve(undefined)); m.once('error', (e) => resolve(e as GatewayError)); });
  let at = 0;
  for (const s of [...split, body.length]) { if (s > at) m.write(body.subarray(at, s)); at = Math.max(at, s); }
  m.end();
  const error = await done;
  return { out: Buffer.concat(out), size, error };
}

t.test('FilePartMeter: the file size at every split (the delimiter straddling chunks), bytes unchanged', async (t) => {
  const file = Buffer.from('0123456789'.repeat(5));
  const rest = Buffer.concat([file, Buffer.from(`\r\n--${B}\r\nContent-Disposition: form-data; name="submit"\r\n\r\nx\r\n--${B}--\r\n`)]);
  let all = true;
  for (let a = 0; a <= rest.length; a++) {
    for (const b of [a, a + 1, a + 3, a + 40]) {
      const r = await meter(rest, [a, b], { head: Buffer.from('HEAD') });
      if (r.error || r.size !== file.length || !r.out.equals(Buffer.concat([Buffer.from('HEAD'), rest]))) { all = false; t.fail(`split at ${a},${b}: size ${r.size} ${r.error?.code ?? ''}`); }
    }
  }
  t.ok(all, 'every split: size 50, head then the bytes as they came');
  const small = await meter(rest, [17], { range: { min: 51, max: 100 } });
  t.equal(small.error?.code, 'EntityTooSmall', 'below the range');
  t.notOk(small.out.includes(Buffer.from(`--${B}--`)), 'the closing delimiter never passed');
  const large = await meter(rest, [17, 30], { range: { min: 0, max: 20 } });
  t.equal(large.error?.code, 'EntityTooLarge', 'above the range');
  t.ok(large.out.length <= 20, 'no more than max bytes passed');
  t.equal((await meter(rest, [5], { range: { min: 50, max: 50 } })).error, undefined, 'bounds inclusive');
  t.equal((await meter(file, [3])).error?.code, 'MalformedPOSTRequest', 'no delimiter after the file: malformed');
});
