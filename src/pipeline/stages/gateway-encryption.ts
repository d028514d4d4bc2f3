import { encryptionModeOf, type PolicyFile } from '../../auth/policy-file.js';
import { objectAttributes, openUploadId, abortUpload, completeUpload, createUpload, getObject, listParts, putObject, uploadPart } from '../../encryption/operations.js';
import { copyObject, uploadPartCopy } from '../../encryption/copies.js';
import { listObjects, SizeCache } from '../../encryption/listings.js';
import { postObject } from '../../encryption/post.js';
import { GatewayError } from '../../errors/gateway-error.js';
import { parseCopySource } from '../../s3/copy-source.js';
import { COPY_SOURCE } from '../../s3/headers.js';
import type { RequestContext, Stage } from '../../request/context.js';
import type { CredentialSource } from '../../upstream/credentials.js';
import { UpstreamS3 } from '../../upstream/s3-client.js';
import type { Upstream } from '../../upstream/upstream.js';

const LISTINGS = new Set(['ListObjects', 'ListObjectsV2', 'ListObjectVersions']);

export interface GatewayEncryptionOptions {
  /** `encryption.mode`: where no `encryption` rule of the clients file matches */
  mode: 'upstream' | 'gateway';
  policy: () => PolicyFile;
  upstream: Upstream;
  region: string;
  credentials: (name: string) => CredentialSource;
}

/**
 * `encryption.mode gateway` (issue 10, docs/format.md): object operations in a gateway scope are
 * answered here (encryption/operations.ts) and never reach the store with an SSE-C header. Requests
 * without SSE-C pass through, except reads, which are checked: an object the gateway encrypted is
 * not handed out as ciphertext to a request without its key.
 */
export function gatewayEncryption(o: GatewayEncryptionOptions): Stage {
  const inScope = (ctx: RequestContext) => ctx.target?.bucket !== undefined && ctx.target.key !== undefined
    && (o.mode === 'gateway' || o.policy().encryption.length > 0) && encryptionModeOf(o.policy(), o.mode, ctx.target.bucket, ctx.target.key) === 'gateway';
  const sourceScope = (bucket: string, key: string) => encryptionModeOf(o.policy(), o.mode, bucket, key) === 'gateway';
  /** a listing of this bucket may hold objects in the format */
  const bucketInScope = (bucket: string) => o.mode === 'gateway' || o.policy().encryption.some((r) => r.mode === 'gateway' && (r.bucket === '*' || r.bucket === bucket));
  const sizes = new SizeCache();
  const copySourceInScope = (ctx: RequestContext) => {
    const src = parseCopySource(ctx.headers[COPY_SOURCE]);
    return src !== undefined && sourceScope(src.bucket, src.key);
  };
  return {
    name: 'gateway_encryption',
    run(ctx) {
      const t = ctx.target;
      if (LISTINGS.has(ctx.operation) && t?.bucket !== undefined && bucketInScope(t.bucket)) {
        ctx.terminal = (c) => listObjects(c, new UpstreamS3(o.upstream, o.credentials(c.principal?.client?.upstreamCredentials ?? 'default'), o.region), sizes, sourceScope);
        return;
      }
      // POST Object (a browser form): the file taken out of the form and stored encrypted (encryption/post.ts)
      if (ctx.operation === 'PostObject' && ctx.sseC && ctx.post?.key !== undefined && t?.bucket !== undefined && sourceScope(t.bucket, ctx.post.key)) {
        ctx.terminal = (c) => postObject(c, new UpstreamS3(o.upstream, o.credentials(c.principal?.client?.upstreamCredentials ?? 'default'), o.region));
        return;
      }
      // a copy into a destination outside the scope whose source is inside it: the source must be read here
      if ((ctx.operation === 'CopyObject' || ctx.operation === 'UploadPartCopy') && !inScope(ctx) && copySourceInScope(ctx)) {
        const id = ctx.target!.query.get('uploadId');
        const envelope = id ? openUploadId(id) : undefined;
        const s3 = new UpstreamS3(o.upstream, o.credentials(ctx.principal?.client?.upstreamCredentials ?? 'default'), o.region);
        ctx.terminal = ctx.operation === 'CopyObject' ? (c) => copyObject(c, s3, sourceScope) : (c) => uploadPartCopy(c, s3, envelope, sourceScope);
        return;
      }
      if (!inScope(ctx)) return;
      const s3 = (c: RequestContext) => new UpstreamS3(o.upstream, o.credentials(c.principal?.client?.upstreamCredentials ?? 'default'), o.region);
      const id = ctx.target!.query.get('uploadId');
      const envelope = id ? openUploadId(id) : undefined;
      const keyed = Boolean(ctx.sseC || ctx.copySourceSseC);
      switch (ctx.operation) {
        case 'PutObject': if (ctx.sseC) ctx.terminal = (c) => putObject(c, s3(c)); return;
        case 'GetObject': case 'HeadObject': ctx.terminal = (c) => getObject(c, s3(c)); return;
        case 'CreateMultipartUpload': if (ctx.sseC) ctx.terminal = (c) => createUpload(c, s3(c)); return;
        case 'UploadPart':
          if (envelope) ctx.terminal = (c) => uploadPart(c, s3(c), envelope);
          else if (ctx.sseC) throw new GatewayError('GatewayUploadNotEncrypted');
          return;
        case 'CompleteMultipartUpload': if (envelope) ctx.terminal = (c) => completeUpload(c, s3(c), envelope); return;
        case 'AbortMultipartUpload': if (envelope) ctx.terminal = (c) => abortUpload(c, s3(c), envelope); return;
        case 'ListParts': if (envelope) ctx.terminal = (c) => listParts(c, s3(c), envelope); return;
        case 'GetObjectAttributes': ctx.terminal = (c) => objectAttributes(c, s3(c)); return;
        // every copy in scope: the source may be in the format even when the request carries no key
        case 'CopyObject': ctx.terminal = (c) => copyObject(c, s3(c), sourceScope); return;
        case 'UploadPartCopy': ctx.terminal = (c) => uploadPartCopy(c, s3(c), envelope, sourceScope); return;
        default:
          // an SSE-C operation this mode does not answer yet must not carry the key to the store
          if (keyed || envelope) throw new GatewayError('GatewayNotYet', { message: `${ctx.operation} with SSE-C is not yet supported by encryption.mode gateway.` });
      }
    },
  };
}
