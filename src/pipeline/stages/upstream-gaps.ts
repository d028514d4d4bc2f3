import { copyObject, uploadPartCopy, type CopyRequest } from '../../copy/stream-copy.js';
import { GatewayError } from '../../errors/gateway-error.js';
import { errorXml } from '../../s3/error-xml.js';
import { COPY_SOURCE, SSEC } from '../../s3/headers.js';
import { parseCopySource } from '../../s3/copy-source.js';
import type { CredentialSource } from '../../upstream/credentials.js';
import { messageFor, normalizeErrorBody } from '../../upstream/normalize-error.js';
import { ERRORS } from '../../errors/table.js';
import { UpstreamAnswer, UpstreamS3 } from '../../upstream/s3-client.js';
import type { Upstream } from '../../upstream/upstream.js';
import type { RequestContext, Stage } from '../../request/context.js';
import { respondError, sendXml } from '../../request/respond-error.js';

export interface GapOptions {
  /** the upstream's profile now (auto: as detected; RGW 16 until known) */
  profile: () => 'rgw16' | 'rgw' | 'aws' | 'minio';
  upstream: Upstream;
  region: string;
  credentials: (name: string) => CredentialSource;
  multipartThreshold: number;
  partSize: number;
}

const NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

const KEEPALIVE_AFTER_MS = 3000;
const KEEPALIVE_EVERY_MS = 5000;

/**
 * A copy done here sends nothing until it is done, and a large one takes longer than a client's
 * read timeout (aws-cli: 60 s). S3 answers long copies with 200 at once and whitespace until the
 * result (or an <Error> inside the 200, which SDKs check for CopyObject and UploadPartCopy).
 */
async function withKeepAlive(ctx: RequestContext, headers: Record<string, string | undefined>, work: () => Promise<void>): Promise<void> {
  let ticker: NodeJS.Timeout | undefined;
  const starter = setTimeout(() => {
    const out: Record<string, string> = { 'content-type': 'application/xml', 'x-amz-request-id': ctx.id };
    for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = v;
    ctx.res.writeHead(200, out);
    (ctx.res as NodeJS.WritableStream).write('<?xml version="1.0" encoding="UTF-8"?>\n');
    ticker = setInterval(() => (ctx.res as NodeJS.WritableStream).write(' '), KEEPALIVE_EVERY_MS);
  }, KEEPALIVE_AFTER_MS);
  try {
    await work();
  } finally {
    clearTimeout(starter);
    clearInterval(ticker);
  }
}

function fail(ctx: RequestContext, e: unknown): void {
  if (ctx.res.headersSent) {
    const err = e instanceof GatewayError ? e : new GatewayError('Internal', { cause: e });
    const code = e instanceof UpstreamAnswer ? (/<Code>([^<]*)<\/Code>/.exec(e.body)?.[1] ?? 'InternalError') : err.code;
    ctx.failure = e instanceof UpstreamAnswer ? `upstream ${e.status} during gateway copy` : `internal: ${(e as Error)?.stack ?? e}`;
    sendXml(ctx, 200, errorXml({ code, message: e instanceof UpstreamAnswer ? messageFor(code, ctx) : ERRORS.Internal.message, requestId: ctx.id }), {});
    return;
  }
  if (e instanceof UpstreamAnswer) {
    ctx.failure = `upstream ${e.status} during gateway copy`;
    const { body } = e.body ? normalizeErrorBody(e.body, ctx) : { body: errorXml({ code: e.status === 404 ? 'NoSuchKey' : 'InvalidRequest', message: e.status === 404 ? 'The specified key does not exist.' : 'The copy source could not be read with the keys given.', requestId: ctx.id }) };
    sendXml(ctx, e.status, body, {});
    return;
  }
  respondError(ctx, e instanceof GatewayError ? e : new GatewayError('Internal', { cause: e, message: undefined }));
  if (!(e instanceof GatewayError)) ctx.failure = `internal: ${(e as Error)?.stack ?? e}`;
}

function echoSseC(ctx: RequestContext): Record<string, string | undefined> {
  return ctx.sseC ? { [SSEC.algorithm]: 'AES256', [SSEC.keyMd5]: ctx.sseC.keyMd5 } : {};
}

/**
 * Copies the upstream cannot do right are done by the gateway (profile `rgw16`, or `auto` when the
 * upstream was detected as RGW or not recognised — detect-profile.ts): CopyObject with an SSE-C source (RGW 16: 501) or an
 * SSE-C destination (RGW 16 stores PLAINTEXT and answers 200), and UploadPartCopy from an SSE-C
 * source (RGW 16 decrypts it with the destination's key). Needs the gateway's own upstream
 * credential, so it runs in auth modes sigv4 and none.
 */
export function upstreamGaps(o: GapOptions): Stage {
  return {
    name: 'upstream_gaps',
    run(ctx) {
      if (o.profile() !== 'rgw16') return;
      const copy = ctx.operation === 'CopyObject' && (ctx.sseC || ctx.copySourceSseC);
      const partCopy = ctx.operation === 'UploadPartCopy' && ctx.copySourceSseC;
      if (!copy && !partCopy) return;
      const source = parseCopySource(ctx.headers[COPY_SOURCE]);
      if (!source) throw new GatewayError('InvalidCopySource');
      const t = ctx.target!;
      const directive = String(ctx.headers['x-amz-metadata-directive'] ?? 'COPY').toUpperCase() === 'REPLACE' ? 'REPLACE' : 'COPY';
      if (copy && source.bucket === t.bucket && source.key === t.key && !source.versionId && directive === 'COPY'
        && ctx.sseC && ctx.copySourceSseC && ctx.sseC.equals(ctx.copySourceSseC) && ctx.headers['x-amz-storage-class'] === undefined) {
        throw new GatewayError('IllegalSelfCopy');
      }
      const s3 = new UpstreamS3(o.upstream, o.credentials(ctx.principal?.client?.upstreamCredentials ?? 'default'), o.region);
      const req: CopyRequest = {
        source, sourceKey: ctx.copySourceSseC, dest: { bucket: t.bucket!, key: t.key! }, destKey: ctx.sseC,
        metadataDirective: directive, requestHeaders: ctx.headers as CopyRequest['requestHeaders'],
        multipartThreshold: o.multipartThreshold, partSize: o.partSize,
      };
      ctx.sseCOutcome = ctx.injected ? 'injected' : 'ok';
      ctx.terminal = copy
        ? async (c) => withKeepAlive(c, echoSseC(c), async () => {
          try {
            const r = await copyObject(s3, req);
            sendXml(c, 200, `<?xml version="1.0" encoding="UTF-8"?>\n<CopyObjectResult xmlns="${NS}"><LastModified>${r.lastModified}</LastModified><ETag>${r.etag.replace(/"/g, '&quot;')}</ETag></CopyObjectResult>`,
              { ...echoSseC(c), 'x-amz-version-id': r.versionId, 'x-amz-copy-source-version-id': r.sourceVersionId });
          } catch (e) { fail(c, e); }
        })
        : async (c) => withKeepAlive(c, echoSseC(c), async () => {
          const rangeHeader = c.headers['x-amz-copy-source-range'];
          const range = typeof rangeHeader === 'string' ? rangeHeader : undefined;
          try {
            if (range !== undefined && !/^bytes=\d+-\d+$/.test(range)) throw new GatewayError('InvalidCopyRange');
            const q = t.query;
            const r = await uploadPartCopy(s3, { ...req, partNumber: q.get('partNumber') ?? '', uploadId: q.get('uploadId') ?? '', range });
            sendXml(c, 200, `<?xml version="1.0" encoding="UTF-8"?>\n<CopyPartResult xmlns="${NS}"><LastModified>${r.lastModified}</LastModified><ETag>${r.etag.replace(/"/g, '&quot;')}</ETag></CopyPartResult>`,
              { ...echoSseC(c), 'x-amz-copy-source-version-id': r.sourceVersionId });
          } catch (e) { fail(c, e); }
        });
    },
  };
}
