/**
 * Auth mode `passthrough`: what the gateway can still refuse without the client's secret or an
 * upstream credential of its own. Two stages:
 *
 *  - passthrough_clock (after authenticate): the time checks of SigV4, which need no secret.
 *    Ceph RGW 16 accepts a presigned URL dated any time in the future (checked: +20 min and +2 h
 *    answered 200), so such a URL would work before its time; S3 answers 403 AccessDenied
 *    "Request is not valid yet". Expired URLs, X-Amz-Expires above a week and a skewed
 *    x-amz-date are refused by RGW 16 too, but with an empty <Message/> (and AccessDenied instead
 *    of AuthorizationQueryParametersError for the week): here they get S3's answers.
 *  - passthrough_gaps (after validate_sse_c; upstream profile rgw16 only): the SSE-C copies RGW 16
 *    gets wrong, which in auth modes sigv4 and none the gateway performs itself (upstream-gaps.ts)
 *    but here cannot (it holds no upstream credential). Checked on RGW 16.2:
 *      CopyObject plain → SSE-C               200, and the copy is stored UNENCRYPTED   → refused
 *      CopyObject SSE-C → any                 501 NotImplemented, empty message          → refused
 *      UploadPartCopy plain → SSE-C upload    200, part encrypted with the upload's key  → forwarded
 *      UploadPartCopy SSE-C → same key        200, right bytes                           → forwarded
 *      UploadPartCopy SSE-C → other key       400 "…MD5 hash of the key did not match…"  → refused
 *      UploadPartCopy SSE-C → plain upload    400 "…must provide a valid encryption algorithm." → refused
 *    (RGW 16 decrypts an UploadPartCopy source with the destination's key.) The two refused
 *    UploadPartCopy cases fail anyway, but with a message that points at the wrong header.
 *    All refusals are S3's 501 NotImplemented with a message that names auth mode sigv4.
 */
import { GatewayError } from '../../errors/gateway-error.js';
import type { Metrics } from '../../metrics/registry.js';
import { checkClock, parse, SigV4Error, type SigV4Request } from '../../sigv4/index.js';
import { parseAmzDate, parseHttpDate } from '../../sigv4/encoding.js';
import type { ClientRequest, RequestContext, Stage } from '../../request/context.js';

const EXPIRES_PREFIX = 'X-Amz-Expires must be less than a week';

/** The request's SigV4 authentication, when it has any whose time can be checked; undefined otherwise. */
function sigv4Of(ctx: RequestContext): SigV4Request | undefined {
  // Cheap test first (this runs on every request): only a SigV4 header or a presigned query is parsed.
  const auth = ctx.headers.authorization;
  const url = ctx.req.url ?? '/';
  const q = url.indexOf('?');
  const header = typeof auth === 'string' && auth.startsWith('AWS4-HMAC-SHA256');
  if (!header && (q === -1 || !/x-amz-algorithm=/i.test(url.slice(q)))) return undefined;
  try {
    const r = parse({ method: ctx.method, rawUrl: url, rawHeaders: (ctx.req as ClientRequest & { rawHeaders: string[] }).rawHeaders, authority: ctx.authority });
    return r.kind === 'anonymous' ? undefined : r;
  } catch (e) {
    // X-Amz-Expires above a week: RGW 16 answers AccessDenied with no message, S3 this.
    if (e instanceof SigV4Error && e.error === 'AuthQueryMalformed' && e.message.startsWith(EXPIRES_PREFIX)) throw e;
    return undefined; // any other malformation: the upstream judges it (it may accept what parse does not, e.g. SigV2)
  }
}

export function passthroughClock(o: { metrics?: Metrics } = {}): Stage {
  return {
    name: 'passthrough_clock',
    run(ctx) {
      try {
        const req = sigv4Of(ctx);
        const requestTime = req?.rawDate === undefined ? undefined : req.dateSource === 'date' ? parseHttpDate(req.rawDate) : parseAmzDate(req.rawDate);
        // a missing or malformed date: the upstream answers it
        if (req && requestTime) checkClock(req, requestTime, new Date());
      } catch (e) {
        o.metrics?.authFailures.inc({ reason: e instanceof GatewayError ? e.code : 'InternalError' });
        throw e;
      }
    },
  };
}

export interface PassthroughGapOptions {
  /** the upstream's profile now (auto: as detected at start-up; RGW 16 until known) */
  profile: () => 'rgw16' | 'rgw' | 'aws' | 'minio';
}

export function passthroughGaps(o: PassthroughGapOptions): Stage {
  return {
    name: 'passthrough_gaps',
    run(ctx) {
      if (ctx.operation === 'CopyObject') {
        if (!ctx.sseC && !ctx.copySourceSseC) return;
        if (o.profile() !== 'rgw16') return;
        throw new GatewayError(ctx.copySourceSseC ? 'PassthroughCopyFromSseC' : 'PassthroughCopyToSseC');
      }
      if (ctx.operation === 'UploadPartCopy') {
        const src = ctx.copySourceSseC;
        if (!src || (ctx.sseC && ctx.sseC.equals(src))) return;
        if (o.profile() !== 'rgw16') return;
        throw new GatewayError('PassthroughPartCopyKeys');
      }
    },
  };
}
