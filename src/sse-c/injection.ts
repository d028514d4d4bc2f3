/**
 * Key injection for clients that cannot send SSE-C (s3cmd: "At the moment s3cmd does not support
 * SSE-C encryption"). Rules by client, bucket and key prefix name a key of the keyring; the first
 * matching rule wins (the client's own rules, then the file-wide ones). Applied to every SSE-C
 * operation of the object, and to the copy source of CopyObject / UploadPartCopy.
 *  - `default`: inject when the client sent no triplet (and asked for no other encryption);
 *  - `enforce`: every write in scope is SSE-C with the rule's key: a different client key, or a
 *    request for SSE-S3/KMS, is refused with 403 AccessDenied saying why.
 */
import { GatewayError } from '../errors/gateway-error.js';
import { inScope, type InjectionRule } from '../auth/policy-file.js';
import { COPY_SOURCE, SSE, SSE_KMS_KEY_ID } from '../s3/headers.js';
import { parseCopySource } from '../s3/copy-source.js';
import { sseCUse } from '../s3/operations.js';
import type { RequestContext } from '../request/context.js';
import type { Keyring } from './keyring.js';
import type { CustomerKey } from './customer-key.js';

/** Operations that write object data under the upload's / object's key. */
const KEYED_WRITES = new Set(['PutObject', 'CreateMultipartUpload', 'CopyObject', 'UploadPart', 'UploadPartCopy']);

export function findRule(rules: readonly InjectionRule[], bucket: string | undefined, key: string | undefined): InjectionRule | undefined {
  return rules.find((r) => inScope(r, bucket, key));
}

function keyFor(rule: InjectionRule, keyring: Keyring): CustomerKey {
  const k = keyring.get(rule.key);
  // A rule naming a missing key must not silently store plaintext.
  if (!k) throw new GatewayError('Internal', { message: `key injection rule names key "${rule.key}", which is not in the keyring` });
  return k;
}

export function injectKeys(ctx: RequestContext, rules: readonly InjectionRule[], keyring: Keyring): void {
  if (!rules.length) return;
  const use = sseCUse(ctx.operation);
  const t = ctx.target;
  if (use.triplet) {
    const rule = findRule(rules, t?.bucket, t?.key);
    if (rule) {
      const ruleKey = keyFor(rule, keyring);
      const otherSse = ctx.headers[SSE] !== undefined || ctx.headers[SSE_KMS_KEY_ID] !== undefined;
      const write = KEYED_WRITES.has(ctx.operation);
      if (ctx.sseC) {
        if (rule.mode === 'enforce' && write && !ctx.sseC.equals(ruleKey)) {
          throw new GatewayError('KeyPolicyDenied', { message: `Access Denied: objects under s3://${t?.bucket}/${rule.prefix} must be encrypted with the key set by the gateway's policy; the request carried a different SSE-C key.` });
        }
      } else if (otherSse && write) {
        if (rule.mode === 'enforce') {
          throw new GatewayError('KeyPolicyDenied', { message: `Access Denied: objects under s3://${t?.bucket}/${rule.prefix} must be encrypted with SSE-C by the gateway's policy; the request asked for x-amz-server-side-encryption instead.` });
        }
      } else {
        ctx.sseC = ruleKey;
        ctx.injected = true;
      }
    }
  }
  if (use.copySource && !ctx.copySourceSseC) {
    const src = parseCopySource(ctx.headers[COPY_SOURCE]);
    const rule = src && findRule(rules, src.bucket, src.key);
    if (rule) {
      ctx.copySourceSseC = keyFor(rule, keyring);
      ctx.injected = true;
    }
  }
  if (ctx.injected) ctx.sseCOutcome = 'injected';
}
