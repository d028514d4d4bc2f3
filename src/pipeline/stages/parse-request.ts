import { parseTarget } from '../../s3/target.js';
import { operationOf } from '../../s3/operations.js';
import type { Stage } from '../../request/context.js';

/** S3 request parsing: bucket and key (path- or virtual-hosted-style) and the operation name. */
export function parseRequest(baseDomains: readonly string[]): Stage {
  return {
    name: 'parse_request',
    run(ctx) {
      ctx.target = parseTarget(ctx.req.url ?? '/', ctx.authority, baseDomains);
      ctx.operation = operationOf(ctx.method, ctx.target.bucket, ctx.target.key, ctx.target.query, ctx.headers);
    },
  };
}
