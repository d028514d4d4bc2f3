/**
 * POST Object: browser form uploads (multipart/form-data), where the SSE-C triplet and the
 * authentication travel as form fields. Two stages:
 *
 *  post_object (after parse_request) reads the form up to its `file` part — bounded (S3: 20 KB),
 *    the file itself is never buffered — and then
 *     - plaintext listener: a form with SSE-C fields is refused (400 InvalidRequest, as for the
 *       headers) and its key reported exposed; a form without them goes on (plaintext.mode forward);
 *     - sigv4: verifies the SigV4 POST policy (src/sigv4/post-policy.ts) against the clients file
 *       and sets the principal, so `authenticate` skips the request and `authorize` checks the
 *       client's scopes against the final key (`${filename}` expanded);
 *     - every mode: the object key becomes ctx.target.key (authorize, inject_keys, fingerprints),
 *       the fields become ctx.post, and validate_sse_c validates their triplet like the headers.
 *  post_object_upstream (after sign_upstream, which leaves forms alone) sends the form on:
 *     - sigv4: re-signed with the gateway's upstream credential — a new policy covering exactly
 *       the fields forwarded (the validated or injected triplet, the content-length-range the
 *       client's policy had), new x-amz-credential/date/signature; only the prefix is rewritten,
 *       the file part streams through untouched; Content-Length adjusted (chunked stays chunked);
 *     - passthrough, none: byte for byte as the client sent it; the upstream judges its policy.
 */
import { GatewayError } from '../../errors/gateway-error.js';
import type { PolicyFile } from '../../auth/policy-file.js';
import type { KeyEvents } from '../../events/key-events.js';
import type { Metrics } from '../../metrics/registry.js';
import { COPY_SSEC, SSEC } from '../../s3/headers.js';
import { FilePartMeter, expandFilename, formBoundary, isFormPost, readFormPrefix, serializeFields, type FormField } from '../../s3/post-form.js';
import { POST_AUTH_FIELDS, fieldMap, isAnonymousForm, signPostPolicy, verifyPostPolicy, type UpstreamCondition } from '../../sigv4/post-policy.js';
import type { CredentialSource } from '../../upstream/credentials.js';
import { clientBody, type ClientRequest, type RequestContext, type Stage } from '../../request/context.js';

const SSEC_FIELD = /^x-amz-(?:copy-source-)?server-side-encryption-customer-/;

export interface PostObjectOptions {
  mode: 'passthrough' | 'sigv4' | 'none';
  events: KeyEvents;
  policy: () => PolicyFile;
  /** auth.region: the region POST credentials must be scoped to (any when unset) */
  region?: string;
  metrics: Metrics;
  now?: () => Date;
}

/** After an early refusal the rest of the body is read and dropped, so the connection stays usable. */
function drain(req: ClientRequest): void {
  req.resume();
}

export function postObject(o: PostObjectOptions): Stage {
  const now = o.now ?? (() => new Date());
  return {
    name: 'post_object',
    // synchronous for every other request (run-pipeline awaits only a returned promise)
    run(ctx) {
      return ctx.operation === 'PostObject' ? readForm(ctx) : undefined;
    },
  };
  async function readForm(ctx: RequestContext): Promise<void> {
    const ctype = ctx.headers['content-type'];
    const contentType = Array.isArray(ctype) ? ctype[0] : ctype;
    if (!isFormPost(ctx.method, contentType)) return;
    const boundary = formBoundary(contentType)!;
    // the fields are in the body: a client waiting for 100 Continue gets it now
    if (ctx.expectContinue) {
      ctx.res.writeContinue();
      ctx.expectContinue = false;
    }
    const form = await readFormPrefix(ctx.req, boundary);
    ctx.bytesIn += form.prefix.length + form.rest.length;
    try {
      // Plaintext listener: any SSE-C field, by presence, refuses the form (like the headers); the key crossed the network in clear.
      if (ctx.listener === 'http' && form.fields.some((f) => SSEC_FIELD.test(f.name.toLowerCase()))) {
        for (const f of form.fields) {
          const name = f.name.toLowerCase();
          if ((name === SSEC.key || name === COPY_SSEC.key) && f.value.trim() !== '') {
            o.events.exposed({ keyHeaderValue: f.value, header: name, client: ctx.remoteAddress, listener: ctx.listener, requestId: ctx.id });
          }
        }
        ctx.sseCOutcome = 'rejected_plaintext';
        throw new GatewayError('PlaintextSseC');
      }
      const fields = form.fields.map((f) => ({ name: f.name, value: expandFilename(f.value, form.file.filename) }));
      const map = fieldMap(fields);
      const key = map.get('key');
      const post: NonNullable<RequestContext['post']> = { key, authenticated: false, form, fields };
      if (o.mode === 'sigv4') {
        if (isAnonymousForm(fields)) throw new GatewayError('AnonymousDenied');
        try {
          if (key === undefined) throw new GatewayError('PostFieldMissing');
          const bucket = ctx.target?.bucket ?? '';
          const p = o.policy();
          const v = verifyPostPolicy({ fields, bucket, lookup: (ak) => p.clients.get(ak), now: now(), region: o.region });
          ctx.principal = { accessKeyId: v.accessKeyId, client: p.clients.get(v.accessKeyId) };
          post.authenticated = true;
          post.contentLengthRange = v.contentLengthRange;
        } catch (e) {
          o.metrics.authFailures.inc({ reason: e instanceof GatewayError ? e.code : 'InternalError' });
          throw e;
        }
      }
      if (key !== undefined && ctx.target) ctx.target = { ...ctx.target, key };
      ctx.post = post;
    } catch (e) {
      drain(ctx.req);
      throw e;
    }
  }
}

export interface PostUpstreamOptions {
  mode: 'passthrough' | 'sigv4' | 'none';
  /** upstream.region: the region of the policy the gateway signs */
  region: string;
  credentials: (name: string) => CredentialSource;
  /** how long the upstream policy is valid (the upstream checks it when the form's fields arrive) */
  ttlMs?: number;
  now?: () => Date;
}

/** The fields the upstream gets in sigv4 mode: the client's, minus its authentication, with the gateway's triplet. */
function forwardedFields(ctx: RequestContext): { fields: FormField[]; conditions: UpstreamCondition[] } {
  const post = ctx.post!;
  const fields: FormField[] = [];
  const conditions: UpstreamCondition[] = [];
  const seen = new Map<string, string>();
  for (const f of post.fields) {
    const l = f.name.toLowerCase();
    // the triplet is re-added from ctx.sseC below (validated, or injected by policy)
    if (POST_AUTH_FIELDS.has(l) || l.startsWith('x-ignore-') || SSEC_FIELD.test(l) || seen.has(l)) continue;
    seen.set(l, f.name);
  }
  const values = fieldMap(post.fields);
  for (const [l, name] of seen) {
    const value = l === 'key' ? post.key! : values.get(l)!;
    fields.push({ name, value });
    conditions.push({ field: l, value });
  }
  if (ctx.sseC) {
    for (const [name, value] of Object.entries(ctx.sseC.headers(SSEC))) {
      fields.push({ name, value });
      // key and key-MD5 stay out of the policy document: `starts-with ""` covers them
      conditions.push(name === SSEC.algorithm ? { field: name, value } : { field: name, any: true });
    }
  }
  return { fields, conditions };
}

export function postObjectUpstream(o: PostUpstreamOptions): Stage {
  const now = o.now ?? (() => new Date());
  const ttlMs = o.ttlMs ?? 15 * 60 * 1000;
  return {
    name: 'post_object_upstream',
    run(ctx) {
      return ctx.post ? sendForm(ctx, ctx.post) : undefined;
    },
  };
  async function sendForm(ctx: RequestContext, post: NonNullable<RequestContext['post']>): Promise<void> {
    const { form } = post;
    let head = form.prefix;
    if (o.mode === 'sigv4') {
      const { fields, conditions } = forwardedFields(ctx);
      const creds = await o.credentials(ctx.principal?.client?.upstreamCredentials ?? 'default')();
      const auth = signPostPolicy({
        bucket: ctx.target!.bucket!, conditions, range: post.contentLengthRange,
        credentials: creds, region: o.region, now: now(), ttlMs,
      });
      head = serializeFields(form.boundary, [...fields, ...auth], form.file.headers);
      const h = ctx.upstreamHeaders;
      for (const name of [...Object.values(SSEC), ...Object.values(COPY_SSEC), 'authorization', 'x-amz-content-sha256', 'x-amz-date', 'x-amz-security-token']) delete h[name];
      // Host and path stay the client's (a form's Host is not signed): RGW's PostResponse Location names the gateway
      const length = Number(ctx.headers['content-length']);
      if (ctx.headers['content-length'] !== undefined && Number.isFinite(length)) h['content-length'] = String(length - form.prefix.length + head.length);
      else delete h['content-length']; // the client sent chunked: so does the gateway
    } else if (o.mode === 'none' && ctx.injected) {
      // the form goes upstream as sent, so an injected key could not reach it
      throw new GatewayError('KeyPolicyDenied', { message: 'Access Denied: a key injection rule applies to this upload, but a browser-form POST is forwarded unchanged in auth mode none; send the SSE-C fields in the form, or use PutObject.' });
    }
    const meter = new FilePartMeter({
      boundary: form.boundary, head,
      range: o.mode === 'sigv4' ? post.contentLengthRange : undefined,
      onSize: (n) => { post.size = n; },
    });
    const req = ctx.req;
    // a refused upload (content-length-range): the client's remaining bytes are read and dropped
    meter.once('error', () => { req.unpipe(meter); req.resume(); });
    if (form.rest.length) meter.write(form.rest);
    clientBody(ctx).pipe(meter);
    ctx.body = meter;
    // RGW 16 leaves the SSE-C echo out of 200/204 answers: the forwarder adds it (ECHO_WHEN_MISSING)
  }
}
