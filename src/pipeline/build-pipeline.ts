/**
 * THE request path, in order. Each stage reads headers only and stops the request by throwing a
 * GatewayError; the body flows once, afterwards, through the forwarder (upstream/forward.ts).
 *
 *   client ─TLS (h2 | http/1.1)─▶ https listener         plaintext listener (optional)
 *   ├─ refuse_plaintext     SSE-C header on plaintext     400 InvalidRequest, key reported exposed
 *   ├─ parse_request        operation, bucket, key        400 InvalidURI / InvalidBucketName
 *   ├─ validate_sse_c       triplets, conflicts           400 (AWS texts)
 *   ├─ authenticate         passthrough                   (upstream checks the signature)
 *   ├─ forwarding_headers   hop-by-hop out, X-Forwarded-Proto in
 *   └─ forward              body streamed both ways       503 / 504, upstream errors normalised
 */
import type { GatewayConfig } from '../config/load.js';
import type { KeyEvents } from '../events/key-events.js';
import type { Stage } from './context.js';
import { authenticate } from './stages/authenticate.js';
import { forwardingHeaders } from './stages/forwarding-headers.js';
import { parseRequest } from './stages/parse-request.js';
import { refusePlaintext } from './stages/refuse-plaintext.js';
import { validateSseC } from './stages/validate-sse-c.js';

export function buildPipeline(config: GatewayConfig, events: KeyEvents): Stage[] {
  return [
    refusePlaintext(config.plaintext.mode, events),
    parseRequest(config.s3.baseDomains),
    validateSseC(),
    authenticate(config.auth.mode),
    forwardingHeaders(),
  ];
}
