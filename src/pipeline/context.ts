import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { S3Target } from '../s3/target.js';
import type { CustomerKey } from '../sse-c/customer-key.js';

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
  /** the client sent `Expect: 100-continue` and waits for our go-ahead before sending the body */
  readonly expectContinue: boolean;
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
  /** outcome label for the SSE-C metric, set by the stage that decided it */
  sseCOutcome?: string;
  bytesIn: number;
  bytesOut: number;
  upstreamRequestId?: string;
  /** why the request failed, for the log line (never key material) */
  failure?: string;
}

/** A named step of the request path. It stops the request by throwing a GatewayError. */
export interface Stage {
  readonly name: string;
  run(ctx: RequestContext): void | Promise<void>;
}
