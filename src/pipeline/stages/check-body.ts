import { CHECKSUM_HEADERS, PlainBodyVerifier, isChecksumHeader, isChecksumValue, type ChecksumHeader } from '../../sigv4/index.js';
import { checksumValueInvalid } from '../../sigv4/errors.js';
import { clientBody, type Stage } from '../../request/context.js';

/**
 * A plain body that states an `x-amz-checksum-*` header (the JS SDK does for Buffer bodies) is
 * checked by the gateway: RGW 16 ignores the header and would store a corrupted body. The bytes
 * pass through unchanged (so passthrough signatures still hold); the last 16 KiB are held back
 * until the checksum holds, so a bad body never completes upstream (400 BadDigest).
 * aws-chunked bodies are checked by their decoder (authenticate).
 */
export function checkBody(): Stage {
  return {
    name: 'check_body',
    run(ctx) {
      if (ctx.body || (ctx.method !== 'PUT' && ctx.method !== 'POST')) return;
      const name = Object.keys(ctx.headers).find((h): h is ChecksumHeader => isChecksumHeader(h));
      if (!name) return;
      const value = ctx.headers[name];
      if (typeof value !== 'string' || !isChecksumValue(CHECKSUM_HEADERS[name], value)) throw checksumValueInvalid(name, false);
      ctx.body = clientBody(ctx).pipe(new PlainBodyVerifier({ checksum: { name, value } }));
    },
  };
}
