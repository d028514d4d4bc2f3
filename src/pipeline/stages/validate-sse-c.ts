import { GatewayError } from '../../errors/gateway-error.js';
import { COPY_SSEC, SSE, SSE_KMS_KEY_ID, SSEC, hasSseCQuery } from '../../s3/headers.js';
import { sseCUse } from '../../s3/operations.js';
import { parseTriplet } from '../../sse-c/customer-key.js';
import { fieldMap } from '../../sigv4/post-policy.js';
import type { ErrorName } from '../../errors/table.js';
import type { Stage } from '../../request/context.js';

/** `ssec_gateway_sse_c_requests_total{outcome}` label for each validation failure (a closed set). */
const OUTCOME: Partial<Record<ErrorName, string>> = {
  SseCMissingAlgorithm: 'invalid_missing_algorithm',
  SseCInvalidAlgorithm: 'invalid_algorithm',
  SseCMissingKey: 'invalid_missing_key',
  SseCMissingKeyMd5: 'invalid_missing_key_md5',
  SseCInvalidKey: 'invalid_key',
  SseCKeyMd5Mismatch: 'invalid_key_md5_mismatch',
  SseCIncompatible: 'conflict',
  SseHeaderOnRead: 'invalid_sse_on_read',
  SseCInQuery: 'invalid_key_in_query',
};

/**
 * SSE-C validation (sse-c-reference.md Part A §7 rule 3), applied only to the operations that take
 * the headers (Part A §2): the triplet, then the copy-source triplet, each in the one fixed order;
 * then the conflicts: SSE-C with SSE-S3/KMS on a write (row 11), SSE headers on GET/HEAD (row 12).
 */
export function validateSseC(): Stage {
  return {
    name: 'validate_sse_c',
    run(ctx) {
      const use = sseCUse(ctx.operation);
      // POST Object: the triplet and x-amz-server-side-encryption are form fields (post_object read
      // them; names case-insensitive), validated exactly like the headers; a field wins over a header.
      const h = ctx.post ? { ...ctx.headers, ...Object.fromEntries(fieldMap(ctx.post.fields)) } : ctx.headers;
      try {
        // A key in a URL ends up in logs, proxies and browser history; S3 SDKs send headers.
        if (hasSseCQuery(ctx.req.url ?? '')) throw new GatewayError('SseCInQuery');
        if (use.triplet) ctx.sseC = parseTriplet(h, SSEC);
        if (use.copySource) ctx.copySourceSseC = parseTriplet(ctx.headers, COPY_SSEC);
        if (use.write && ctx.sseC && (h[SSE] !== undefined || h[SSE_KMS_KEY_ID] !== undefined)) {
          throw new GatewayError('SseCIncompatible', { argumentName: SSE });
        }
        if (use.read && (ctx.headers[SSE] !== undefined || ctx.headers[SSE_KMS_KEY_ID] !== undefined)) {
          throw new GatewayError('SseHeaderOnRead', { argumentName: SSE });
        }
      } catch (e) {
        if (e instanceof GatewayError) ctx.sseCOutcome = OUTCOME[e.error] ?? 'invalid';
        throw e;
      }
      if (ctx.sseC || ctx.copySourceSseC) ctx.sseCOutcome = 'ok';
    },
  };
}
