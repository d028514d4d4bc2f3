import { ERRORS, SSEC_PREFIX, UPSTREAM_MESSAGES, type ErrorName } from '../errors/table.js';
import { fillMessage, readErrorXml, replaceCodeAndMessage } from '../s3/error-xml.js';
import type { RequestContext } from '../request/context.js';

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

/** RGW 16's texts for "no SSE-C headers" and "not the stored key" (sse-c-reference.md Part B). */
const RGW_NO_ALGORITHM = `${SSEC_PREFIX} provide a valid encryption algorithm.`;
const RGW_MD5_MISMATCH = 'The calculated MD5 hash of the key did not match the hash that was provided.';
const READS = new Set(['GetObject', 'HeadObject', 'GetObjectAttributes']);
const PARTS = new Set(['UploadPart', 'UploadPartCopy']);

/**
 * RGW 16 answers questions about the object's key in words that mislead: an SSE-C object read
 * without a key gets "…must provide a valid encryption algorithm." (people then look for a wrong
 * algorithm), a wrong key gets "The calculated MD5 hash of the key did not match…" although the
 * gateway has already checked that MD5. Give S3's code and message for the missing key (§3 rows 8
 * and 17) and say plainly that the key is not the object's (rows 9 and 18), keeping the upstream's
 * status and code there (RGW 400, S3 403; s3-tests assert RGW's 400).
 */
export function objectStateError(code: string, message: string, ctx: RequestContext): ErrorName | undefined {
  const read = READS.has(ctx.operation);
  const part = PARTS.has(ctx.operation);
  if (!read && !part) return undefined;
  if (code === 'InvalidArgument' && message === RGW_NO_ALGORITHM && !ctx.sseC) return read ? 'ObjectEncryptedNoKey' : 'UploadNeedsKey';
  // the triplet was validated here, so its MD5 matches its key: the key is not the stored one
  if (code === 'InvalidArgument' && message === RGW_MD5_MISMATCH && ctx.sseC) return read ? 'SseCKeyMismatch' : 'UploadKeyMismatch';
  return undefined;
}

/** Returns the body to send: the upstream's own, with an empty Message filled or an object-state answer in S3's words. `filled` names the code when it was changed. */
export function normalizeErrorBody(body: string, ctx: RequestContext): { body: string; filled?: string } {
  const { code, message } = readErrorXml(body);
  if (!code) return { body };
  const state = objectStateError(code, message, ctx);
  if (state) {
    const e = ERRORS[state];
    // a 403 AccessDenied from S3 keeps its code; RGW's InvalidArgument becomes S3's code where S3's differs
    return { body: replaceCodeAndMessage(body, e.code, e.message), filled: code };
  }
  if (message) return { body };
  return { body: fillMessage(body, messageFor(code, ctx)), filled: code };
}
