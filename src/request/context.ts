import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { ClientEntry } from '../auth/policy-file.js';
import type { VerifiedRequest } from '../sigv4/index.js';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { S3Target } from '../s3/target.js';
import type { CustomerKey } from '../sse-c/customer-key.js';
import type { FormField, FormPrefix } from '../s3/post-form.js';
import { bodyBytes } from '../server/scavenge-pacer.js';
import { watchBody } from './body-timeout.js';

export type ClientRequest = IncomingMessage | Http2ServerRequest;
export type ClientResponse = ServerResponse | Http2ServerResponse;
export type Headers = Record<string, string | string[] | undefined>;

/** Everything the stages know about one request. Stages read and add to it; only the forwarder touches bodies. */
export interface RequestContext {
  readonly id: string;
  readonly listener: 'https' | 'http';
  readonly protocol: 'h1' | 'h2';
  readonly req: ClientRequest;
  readonly res: ClientResponse;
  readonly method: string;
  /** Host header, or :authority on HTTP/2 */
  readonly authority: string;
  /** request headers, lower-case, without HTTP/2 pseudo-headers */
  readonly headers: Headers;
  readonly remoteAddress: string;
  readonly startedAt: bigint;
  /**
   * the client sent `Expect: 100-continue` and waits for our go-ahead before sending the body;
   * cleared by a stage that has sent 100 Continue itself to read the body's start (post_object)
   */
  expectContinue: boolean;
  target?: S3Target;
  operation: string;
  /** valid SSE-C key of the request (destination), if any */
  sseC?: CustomerKey;
  /** valid copy-source SSE-C key, if any */
  copySourceSseC?: CustomerKey;
  /** a key was injected by policy (the client sent none) */
  injected?: boolean;
  /** headers to send upstream; built by the stages */
  upstreamHeaders: OutgoingHttpHeaders;
  /** path?query to send upstream; default: the client's */
  upstreamPath?: string;
  /** who is calling: the verified access key (sigv4), or 'anonymous' (none); unset in passthrough */
  principal?: { accessKeyId: string; client?: ClientEntry };
  /** the verified SigV4 request (sigv4 mode) */
  verified?: VerifiedRequest;
  /** POST Object (browser form): what post_object read from the form (src/pipeline/stages/post-object.ts) */
  post?: PostObjectState;
  /** the body to send upstream when it is not the client's as is (decoded aws-chunked) */
  body?: Readable;
  /** the upstream's response headers (version id, delete marker, …) */
  upstreamResponseHeaders?: IncomingMessage['headers'];
  /** small request/response bodies kept for bookkeeping (DeleteObjects, multipart answers); capped */
  captured?: { request?: Buffer[]; response?: Buffer[] };
  /** set by a stage that answers the request itself instead of forwarding it (e.g. RGW 16 copies) */
  terminal?: (ctx: RequestContext) => Promise<void>;
  /** outcome label for the SSE-C metric, set by the stage that decided it */
  sseCOutcome?: string;
  bytesIn: number;
  bytesOut: number;
  /** the Content-Length of the answer's body, when it has one: all of it sent is a whole answer */
  bodyLength?: number;
  /** limits.bodyTimeoutMs: the longest the client may leave its body without a byte while it is read */
  bodyTimeoutMs?: number;
  upstreamRequestId?: string;
  /** why the request failed, for the log line (never key material) */
  failure?: string;
}

/** A browser-form upload as post_object read it: the fields before the file, never the file. */
export interface PostObjectState {
  /** the object key (`${filename}` expanded); undefined when the form has none (passthrough/none: the upstream answers) */
  key?: string;
  /** the file's size, known once the body has been streamed past it */
  size?: number;
  /** sigv4: the form's POST policy was verified here (authenticate then skips the request) */
  authenticated: boolean;
  /** the form as read; the upstream stage rewrites or replays it */
  form: FormPrefix;
  /** fields with `${filename}` expanded */
  fields: FormField[];
  /** sigv4: the client's policy's content-length-range, enforced on the stream and re-signed upstream */
  contentLengthRange?: { min: number; max: number };
}

/** What a listener calls for each request (the request path: pipeline/run-pipeline.ts). */
export interface Handler {
  (req: ClientRequest, res: ClientResponse, expectContinue?: boolean): void;
}

/** A named step of the request path. It stops the request by throwing a GatewayError. */
export interface Stage {
  readonly name: string;
  run(ctx: RequestContext): void | Promise<void>;
}

const counted = new WeakSet<RequestContext>();

/**
 * The client's body, its bytes counted into ctx.bytesIn from the first one, whoever reads it: a
 * stage's transform (checksum verifier, aws-chunked decoder, form meter) may start reading it
 * well before the forwarder runs. Call it right before piping the body somewhere.
 */
export function clientBody(ctx: RequestContext): ClientRequest {
  if (!counted.has(ctx)) {
    counted.add(ctx);
    const watch = ctx.bodyTimeoutMs ? watchBody(ctx, ctx.bodyTimeoutMs) : undefined;
    ctx.req.on('data', (c: Buffer) => { ctx.bytesIn += c.length; bodyBytes(c.length); if (watch) watch.last = Date.now(); });
  }
  return ctx.req;
}
