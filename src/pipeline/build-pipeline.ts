/**
 * THE request path, in order. Each stage reads headers only and stops the request by throwing a
 * GatewayError; the body flows once, afterwards, through the forwarder (upstream/forward.ts), or
 * through a stage's own handler (ctx.terminal: copies RGW 16 cannot do).
 *
 *   client ─TLS (h2 | http/1.1)─▶ https listener         plaintext listener (optional)
 *   ├─ refuse_plaintext     SSE-C header on plaintext     400 InvalidRequest, key reported exposed
 *   ├─ parse_request        operation, bucket, key        400 InvalidURI / InvalidBucketName
 *   ├─ authenticate         passthrough | sigv4 | none    403 SignatureDoesNotMatch, …
 *   ├─ authorize            client's allowed scopes       403 AccessDenied
 *   ├─ validate_sse_c       triplets, conflicts           400 (AWS texts)
 *   ├─ check_body           x-amz-checksum-* of a plain body, held back until it holds   400 BadDigest
 *   ├─ inject_keys          key policy (sigv4, none)      403 AccessDenied (enforce)
 *   ├─ key_policy           fingerprint; exposed key?     403 AccessDenied (exposed on DATE, rotate)
 *   ├─ forwarding_headers   hop-by-hop out, X-Forwarded-Proto in
 *   ├─ sign_upstream        SigV4 re-sign (sigv4, none)
 *   ├─ upstream_gaps        copies the upstream cannot do → done here (GET → PUT)
 *   └─ forward              body streamed both ways       503 / 504, upstream errors normalised
 */
import type { GatewayConfig } from '../config/load.js';
import type { KeyEvents } from '../events/key-events.js';
import type { Stage } from './context.js';
import { authenticate, type AuthOptions } from './stages/authenticate.js';
import { authorize } from './stages/authorize.js';
import { checkBody } from './stages/check-body.js';
import { forwardingHeaders } from './stages/forwarding-headers.js';
import { injectKeysStage } from './stages/inject-keys.js';
import { parseRequest } from './stages/parse-request.js';
import { refusePlaintext } from './stages/refuse-plaintext.js';
import { signUpstreamStage, type SignOptions } from './stages/sign-upstream.js';
import { validateSseC } from './stages/validate-sse-c.js';
import type { PolicyFile } from '../auth/policy-file.js';
import type { Keyring } from '../sse-c/keyring.js';

export interface PipelineDeps {
  events: KeyEvents;
  /** fingerprints the request's keys; refuses a key known to be exposed (fingerprints/tracker.ts) */
  keyPolicy: Stage;
  auth: Omit<AuthOptions, 'mode' | 'region' | 'trustForwardedHost'>;
  policy: () => PolicyFile;
  keyring: () => Keyring;
  sign: SignOptions;
  /** extra stages after signing (e.g. the RGW 16 copy handler), in order */
  extra?: Stage[];
}

export function buildPipeline(config: GatewayConfig, deps: PipelineDeps): Stage[] {
  const signing = config.auth.mode !== 'passthrough';
  return [
    refusePlaintext(config.plaintext.mode, deps.events),
    parseRequest(config.s3.baseDomains),
    authenticate({ ...deps.auth, mode: config.auth.mode, region: config.auth.region, trustForwardedHost: config.auth.trustForwardedHost }),
    ...(signing ? [authorize()] : []),
    validateSseC(),
    checkBody(),
    ...(signing ? [injectKeysStage(deps.policy, deps.keyring)] : []),
    deps.keyPolicy,
    forwardingHeaders(),
    ...(signing ? [signUpstreamStage(deps.sign)] : []),
    ...(deps.extra ?? []),
  ];
}
