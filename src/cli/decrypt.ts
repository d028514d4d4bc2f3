/**
 * `ssec-gateway decrypt`: reads an object in the gateway's format without a running gateway (no
 * lock-in, issue 10). From the store, with credentials from the AWS environment / provider chain:
 *
 *   ssec-gateway decrypt --key FILE --endpoint URL s3://BUCKET/KEY > plain
 *
 * or offline, from a ciphertext file and its `x-amz-meta-ssecgw` value, naming the object it was
 * stored as (the data key is bound to that name):
 *
 *   ssec-gateway decrypt --key FILE --in FILE --meta FILE s3://BUCKET/KEY > plain
 */
import { createReadStream, readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from '../config/load.js';
import { FormatError, META, unwrapDataKey } from '../encryption/format.js';
import { partsOf, plainSizeOfHead } from '../encryption/operations.js';
import { DecryptStream } from '../encryption/streams.js';
import { CustomerKey } from '../sse-c/customer-key.js';
import { credentialSource } from '../upstream/credentials.js';
import { UpstreamS3 } from '../upstream/s3-client.js';
import { createUpstream } from '../upstream/upstream.js';

export const DECRYPT_HELP = `Usage: ssec-gateway decrypt --key FILE [--endpoint URL] [--region R] [--version-id V] [--ca FILE] s3://BUCKET/KEY > plain
       ssec-gateway decrypt --key FILE --in FILE --meta FILE s3://BUCKET/KEY > plain

Writes the plaintext of an object stored by the gateway with encryption.mode gateway
(docs/format.md) to stdout, without a gateway.

  --key FILE       the SSE-C key: 32 raw bytes, or their base64 or hex
  --endpoint URL   the S3 endpoint (default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL); credentials
                   from the AWS environment, shared config, IRSA or Pod Identity
  --region R       SigV4 region (default: $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1)
  --version-id V   a version of the object
  --ca FILE        CA certificates for an https endpoint
  --in FILE        offline: the ciphertext (the object's bytes as the store holds them)
  --meta FILE      offline: the object's x-amz-meta-ssecgw value
The object name matters: the data key is bound to the bucket and key it was written as.
Every byte written has been authenticated. Exit status 1 when the object is altered, truncated or
not opened by this key and name: discard what was written then; 2 for a usage error.
`;

const FLAGS = ['key', 'endpoint', 'region', 'version-id', 'ca', 'in', 'meta'];

function fail(err: Writable, message: string): number {
  err.write(`ssec-gateway decrypt: ${message}\n`);
  return 1;
}

export async function decryptCommand(argv: string[], out: Writable, err: Writable, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) { out.write(DECRYPT_HELP); return 0; }
  const args = parseArgs(argv, ['help']);
  const problems = [...args.problems];
  for (const k of args.flags.keys()) if (!FLAGS.includes(k)) problems.push(`unknown flag --${k}`);
  const flag = (n: string) => args.flags.get(n)?.at(-1);
  const target = /^s3:\/\/([^/]+)\/(.+)$/.exec(args.positional[0] ?? '');
  if (!target || args.positional.length !== 1) problems.push('one s3://BUCKET/KEY argument is needed');
  if (!flag('key')) problems.push('--key FILE is needed');
  const offline = flag('in') !== undefined || flag('meta') !== undefined;
  if (offline && !(flag('in') && flag('meta'))) problems.push('--in and --meta go together');
  const endpoint = flag('endpoint') ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  if (!offline && !endpoint) problems.push('--endpoint URL is needed (or AWS_ENDPOINT_URL_S3)');
  if (problems.length) { fail(err, `${problems.join('; ')}\n\n${DECRYPT_HELP}`); return 2; } // a usage error, as the other commands
  const [, bucket, key] = target!;
  let customer: CustomerKey;
  try { customer = CustomerKey.fromKeyFile(readFileSync(flag('key')!)); } catch (e) { fail(err, `--key: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); return 2; }
  try {
    if (offline) {
      const meta = readFileSync(flag('meta')!, 'utf8').trim().replace(/^x-amz-meta-ssecgw:\s*/i, '');
      const dataKey = unwrapDataKey(customer, bucket!, key!, meta);
      await pipeline(createReadStream(flag('in')!), new DecryptStream({ dataKey }), out, { end: false });
      return 0;
    }
    const upstream = createUpstream({ url: endpoint!, region: '', timeoutMs: 120_000, maxSockets: 4, profile: 'aws', credentials: 'chain', ca: flag('ca') });
    try {
      const s3 = new UpstreamS3(upstream, await credentialSource({ source: 'chain' }, env), flag('region') ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1');
      const version = flag('version-id');
      const query = version ? `versionId=${encodeURIComponent(version)}` : undefined;
      const res = await s3.send({ method: 'GET', bucket: bucket!, key: key!, query });
      if (res.statusCode !== 200) { res.resume(); return fail(err, `the store answered ${res.statusCode} for s3://${bucket}/${key}`); }
      const meta = res.headers[META];
      if (typeof meta !== 'string') { res.resume(); return fail(err, `s3://${bucket}/${key} is not in the gateway's format (no ${META})`); }
      const dataKey = unwrapDataKey(customer, bucket!, key!, meta);
      const parts = partsOf(String(res.headers.etag ?? ''));
      if (plainSizeOfHead(res.headers) === undefined) { res.resume(); return fail(err, 'the object\'s size is not one the format produces: truncated or altered'); }
      await pipeline(res, new DecryptStream({ dataKey, parts }), out, { end: false });
      return 0;
    } finally {
      upstream.close();
    }
  } catch (e) {
    return fail(err, e instanceof FormatError ? e.message : (e as Error).message);
  }
}
