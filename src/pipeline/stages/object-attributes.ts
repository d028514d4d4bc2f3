/**
 * GetObjectAttributes on an upstream that cannot answer it (profile `rgw16`). Ceph RGW 16 serves
 * `GET /bucket/key?attributes` as a plain GetObject (checked on 16.2: 200 with the object's bytes
 * and its Content-Type; SSE-C errors as a GET), which SDKs cannot parse (boto3 fails, then retries).
 *
 *  - auth modes sigv4 and none: answered here from a HeadObject done with the gateway's upstream
 *    credential and the client's SSE-C triplet (so no key / a wrong key is refused as on a GET),
 *    in S3's form: a `GetObjectAttributesResponse` with the requested attributes only, headers
 *    Last-Modified, x-amz-version-id, x-amz-delete-marker, and no SSE-C headers (AWS model).
 *  - auth mode passthrough: the gateway holds no upstream credential, so it cannot make the HEAD;
 *    refused with 501 NotImplemented naming auth mode sigv4.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { GatewayError } from '../../errors/gateway-error.js';
import { ERRORS, UPSTREAM_MESSAGES, type ErrorName } from '../../errors/table.js';
import { errorXml } from '../../s3/error-xml.js';
import { attributesXml, parseAttributeList, partPaging } from '../../s3/object-attributes.js';
import type { CredentialSource } from '../../upstream/credentials.js';
import { MAX_ERROR_BODY, normalizeErrorBody } from '../../upstream/normalize-error.js';
import { encodeKey, readBody, UpstreamS3, type S3Call } from '../../upstream/s3-client.js';
import type { Upstream } from '../../upstream/upstream.js';
import type { RequestContext, Stage } from '../../request/context.js';
import { sendXml } from '../../request/respond-error.js';

export interface AttributesOptions {
  /** the upstream's profile now (auto: as detected; RGW 16 until known) */
  profile: () => 'rgw16' | 'rgw' | 'aws' | 'minio';
  /** passthrough: no upstream credential here, so refuse instead of answering */
  mode: 'passthrough' | 'sigv4' | 'none';
  upstream: Upstream;
  region: string;
  credentials: (name: string) => CredentialSource;
}

/** Response headers of the HEAD that S3's GetObjectAttributes carries too (AWS model: GetObjectAttributesOutput). */
function passOn(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['last-modified', 'x-amz-version-id', 'x-amz-delete-marker']) {
    const v = h[name];
    if (typeof v === 'string') out[name] = v;
  }
  return out;
}

function sendError(ctx: RequestContext, name: ErrorName, headers: Record<string, string> = {}, extra: { argumentName?: string; details?: Record<string, string> } = {}): void {
  const e = ERRORS[name];
  ctx.failure ??= name;
  sendXml(ctx, e.status, errorXml({ code: e.code, message: e.message, requestId: ctx.id, resource: ctx.target?.rawPath, ...extra }), headers);
}

/**
 * A HEAD error has no body (RGW sends none either), so the same request is made as a one-byte GET
 * to learn RGW's code; its body then goes through the same normalisation as a GET's (no key →
 * S3's InvalidRequest, wrong key → "does not match", empty messages filled).
 */
async function answerError(ctx: RequestContext, s3: UpstreamS3, call: S3Call, head: IncomingMessage): Promise<void> {
  const headers = passOn(head.headers);
  const get = await s3.send({ ...call, method: 'GET', headers: { ...call.headers, range: 'bytes=0-0' } });
  const status = get.statusCode ?? 502;
  if (status >= 300 && String(get.headers['content-type'] ?? '').includes('xml')) {
    const body = await readBody(get, MAX_ERROR_BODY).catch(() => '');
    if (body.includes('<Code>')) {
      ctx.failure ??= `upstream ${status}`;
      sendXml(ctx, status, normalizeErrorBody(body, ctx).body, { ...headers, ...passOn(get.headers) });
      return;
    }
  } else {
    get.destroy();
  }
  // no error body to read (e.g. the object changed in between): S3's answer for the HEAD's status
  const hs = head.statusCode ?? 502;
  if (hs === 400) return sendError(ctx, ctx.sseC ? 'SseCKeyMismatch' : 'ObjectEncryptedNoKey', headers);
  const code = hs === 404 ? 'NoSuchKey' : hs === 403 ? 'AccessDenied' : hs === 405 ? 'MethodNotAllowed' : 'InternalError';
  ctx.failure ??= `upstream ${hs}`;
  sendXml(ctx, hs, errorXml({ code, message: UPSTREAM_MESSAGES[code]!, requestId: ctx.id, resource: ctx.target?.rawPath }), headers);
}

export function objectAttributes(o: AttributesOptions): Stage {
  return {
    name: 'object_attributes',
    run(ctx) {
      if (ctx.operation !== 'GetObjectAttributes' || o.profile() !== 'rgw16' || ctx.target?.key === undefined) return;
      if (o.mode === 'passthrough') throw new GatewayError('PassthroughObjectAttributes');
      const t = ctx.target!;
      const list = parseAttributeList(ctx.headers['x-amz-object-attributes']);
      if ('missing' in list) throw new GatewayError('AttributesMissing');
      if ('invalid' in list) {
        // S3 names the offending value in <ArgumentValue> (not key material: an attribute name)
        const value = list.invalid;
        ctx.terminal = async (c) => sendError(c, 'AttributeNameInvalid', {}, { argumentName: 'x-amz-object-attributes', details: { ArgumentValue: value } });
        return;
      }
      const paging = partPaging(ctx.headers['x-amz-max-parts'], ctx.headers['x-amz-part-number-marker']);
      const versionId = t.query.get('versionId');
      const call: S3Call = {
        method: 'HEAD', bucket: t.bucket!, key: t.key!,
        query: versionId !== null ? `versionId=${encodeKey(versionId)}` : undefined, // RFC 3986, as signed
        // the client's (or the injected) key, so the store checks it as on a GET; checksums if the store keeps any
        headers: { ...(ctx.sseC ? ctx.sseC.headers() : {}), 'x-amz-checksum-mode': 'ENABLED' },
      };
      const s3 = new UpstreamS3(o.upstream, o.credentials(ctx.principal?.client?.upstreamCredentials ?? 'default'), o.region);
      if (ctx.sseC) ctx.sseCOutcome = ctx.injected ? 'injected' : 'ok';
      ctx.terminal = async (c) => {
        const head = await s3.send(call);
        head.resume();
        c.upstreamRequestId = typeof head.headers['x-amz-request-id'] === 'string' ? head.headers['x-amz-request-id'] : undefined;
        const status = head.statusCode ?? 502;
        if (status < 200 || status >= 300) return answerError(c, s3, call, head);
        sendXml(c, 200, attributesXml(head.headers, list.want, paging), passOn(head.headers));
      };
    },
  };
}
