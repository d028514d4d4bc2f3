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
  /** nothing of this stage runs unless some scope is in gateway mode (the default config has none) */
  const enabled = () => o.mode === 'gateway' || o.policy().encryption.some((r) => r.mode === 'gateway');
  const inGatewayScope = (bucket: string, key: string) => encryptionModeOf(o.policy(), o.mode, bucket, key) === 'gateway';
  /** a listing of this bucket may hold objects in the format */
  const bucketInScope = (bucket: string) => o.mode === 'gateway' || o.policy().encryption.some((r) => r.mode === 'gateway' && (r.bucket === '*' || r.bucket === bucket));
  const sizes = new SizeCache();
  const s3 = (c: RequestContext) => new UpstreamS3(o.upstream, o.credentials(c.principal?.client?.upstreamCredentials ?? 'default'), o.region);
  return {
    name: 'gateway_encryption',
    run(ctx) {
      const t = ctx.target;
      if (!enabled() || t?.bucket === undefined) return;
      const bucket = t.bucket;
      if (LISTINGS.has(ctx.operation)) {
        if (bucketInScope(bucket)) ctx.terminal = (c) => listObjects(c, s3(c), sizes, inGatewayScope);
        return;
      }
      // POST Object (a browser form): the file taken out of the form and stored encrypted (encryption/post.ts)
      if (ctx.operation === 'PostObject') {
        if (ctx.sseC && ctx.post?.key !== undefined && inGatewayScope(bucket, ctx.post.key)) ctx.terminal = (c) => postObject(c, s3(c));
        return;
      }
      if (t.key === undefined) return;
      const inScope = inGatewayScope(bucket, t.key);
      const id = t.query.get('uploadId');
      const envelope = id ? openUploadId(id) : undefined;
      if (ctx.operation === 'CopyObject' || ctx.operation === 'UploadPartCopy') {
        // every copy with either side in scope: the source may be in the format even when the request carries no key
        const src = parseCopySource(ctx.headers[COPY_SOURCE]);
        if (!inScope && !(src && inGatewayScope(src.bucket, src.key))) return;
        ctx.terminal = ctx.operation === 'CopyObject' ? (c) => copyObject(c, s3(c), inGatewayScope) : (c) => uploadPartCopy(c, s3(c), envelope, inGatewayScope);
        return;
      }
      if (!inScope) return;
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
        default:
          // an SSE-C operation this mode does not answer yet must not carry the key to the store
          if (ctx.sseC || ctx.copySourceSseC || envelope) throw new GatewayError('GatewayNotYet', { message: `${ctx.operation} with SSE-C is not yet supported by encryption.mode gateway.` });
      }
    },
  };
}
