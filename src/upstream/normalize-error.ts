import { UPSTREAM_MESSAGES } from '../errors/table.js';
import { fillMessage, readErrorXml } from '../s3/error-xml.js';
import type { RequestContext } from '../pipeline/context.js';

/** Upstream error bodies at most this large are read and normalised; larger ones stream through. */
export const MAX_ERROR_BODY = 64 * 1024;

/** The message for an upstream error whose <Message/> is empty; explains RGW's cases where the request tells why. */
export function messageFor(code: string, ctx: RequestContext): string {
  const usesSseC = Boolean(ctx.sseC || ctx.copySourceSseC);
  if (code === 'InvalidRequest' && (usesSseC || ctx.operation === 'GetObject' || ctx.operation === 'HeadObject')) {
    // RGW with `rgw crypt require ssl = true` answers this with an empty Message when it does not
    // trust the gateway's X-Forwarded-Proto (ceph-rgw.md).
    return 'The storage service refused an SSE-C request as not made over a secure connection. Configure Ceph RGW with `rgw trust forwarded https = true` (the gateway sends X-Forwarded-Proto: https), or point the gateway at the RGW TLS endpoint.';
  }
  if (code === 'NotImplemented' && ctx.operation === 'CopyObject' && ctx.copySourceSseC) {
    return 'The storage service cannot copy an object encrypted with a customer-provided key (Ceph RGW before release 20 does not implement it).';
  }
  return Object.hasOwn(UPSTREAM_MESSAGES, code) ? UPSTREAM_MESSAGES[code]! : code;
}

/** Returns the body to send: the upstream's own, or with its empty Message filled. `filled` names the code when it was. */
export function normalizeErrorBody(body: string, ctx: RequestContext): { body: string; filled?: string } {
  const { code, message } = readErrorXml(body);
  if (!code || message) return { body };
  return { body: fillMessage(body, messageFor(code, ctx)), filled: code };
}
