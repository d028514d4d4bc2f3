import { GatewayError } from '../../errors/gateway-error.js';
import { inScope } from '../../auth/policy-file.js';
import { COPY_SOURCE } from '../../s3/headers.js';
import { parseCopySource } from '../../s3/copy-source.js';
import type { Stage } from '../../request/context.js';

/**
 * A client of the clients file may be limited to buckets/prefixes (`allow`). Bucket-level
 * operations need the bucket in scope; object operations the key under a prefix; a copy also its
 * source. ListBuckets is allowed (its result is the upstream credential's, which the operator chose).
 */
export function authorize(): Stage {
  return {
    name: 'authorize',
    run(ctx) {
      const allow = ctx.principal?.client?.allow;
      if (!allow || ctx.operation === 'ListBuckets') return;
      const t = ctx.target;
      const bucketOnly = t?.key === undefined;
      const ok = (bucket: string | undefined, key: string | undefined) =>
        allow.some((s) => (bucketOnly && key === undefined ? s.bucket === '*' || s.bucket === bucket : inScope(s, bucket, key)));
      if (!ok(t?.bucket, t?.key)) throw new GatewayError('ScopeDenied');
      const src = parseCopySource(ctx.headers[COPY_SOURCE]);
      if (src && !allow.some((s) => inScope(s, src.bucket, src.key))) throw new GatewayError('ScopeDenied');
    },
  };
}
