/**
 * THE request path, in order. Each stage reads headers only and stops the request by throwing a
 * GatewayError; the body flows once, afterwards, through the forwarder (upstream/forward.ts), or
 * through a stage's own handler (ctx.terminal: copies RGW 16 cannot do, gateway encryption); the first
 * stage that sets ctx.terminal ends the list.
 *
 *   client ─TLS (h2 | http/1.1)─▶ https listener         plaintext listener (optional)
 *   ├─ refuse_plaintext     SSE-C header on plaintext     400 InvalidRequest, key reported exposed
 *   ├─ parse_request        operation, bucket, key        400 InvalidURI / InvalidBucketName
 *   ├─ post_object          POST form: fields before the file (≤ 20 KB); SSE-C fields on plaintext refused,
 *   │                       key exposed; (sigv4) POST policy verified   400 InvalidRequest, 403 AccessDenied "Invalid according to Policy: …"
 *   ├─ authenticate         passthrough | sigv4 | none    403 SignatureDoesNotMatch, …
 *   ├─ passthrough_clock    (passthrough) SigV4 dates     403 AccessDenied "Request is not valid yet", …
 *   ├─ authorize            client's allowed scopes       403 AccessDenied
 *   ├─ validate_sse_c       triplets, conflicts           400 (AWS texts)
 *   ├─ passthrough_gaps     (passthrough; rgw16) SSE-C copies RGW 16 gets wrong   501 NotImplemented (use sigv4)
 *   ├─ check_body           x-amz-checksum-* of a plain body, held back until it holds   400 BadDigest
 *   ├─ inject_keys          key policy (sigv4, none)      403 AccessDenied (enforce)
 *   ├─ key_policy           fingerprint; exposed key?     403 AccessDenied (exposed on DATE, rotate)
 *   ├─ forwarding_headers   hop-by-hop out, X-Forwarded-Proto in
 *   ├─ sign_upstream        SigV4 re-sign (sigv4, none)
 *   ├─ gateway_encryption   (encryption.mode gateway) SSE-C object operations and forms encrypted here, never a key upstream   403 AccessDenied (wrong key), 400 InvalidPart (part layout), 501 (not yet)
 *   ├─ post_object_upstream POST form: (sigv4) re-signed policy, prefix rewritten, file streamed; else as sent   400 EntityTooLarge/Small
 *   ├─ upstream_gaps        copies the upstream cannot do → done here (GET → PUT)
 *   ├─ object_attributes    (rgw16) GetObjectAttributes answered from a HEAD (sigv4, none)   501 NotImplemented in passthrough
 *   └─ forward              body streamed both ways       503 / 504, upstream errors normalised
 */
import type { GatewayConfig } from '../config/load.js';
import type { KeyEvents } from '../events/key-events.js';
import type { Stage } from '../request/context.js';
import { authenticate, type AuthOptions } from './stages/authenticate.js';
import { authorize } from './stages/authorize.js';
import { checkBody } from './stages/check-body.js';
import { forwardingHeaders } from './stages/forwarding-headers.js';
import { injectKeysStage } from './stages/inject-keys.js';
import { parseRequest } from './stages/parse-request.js';
import { postObject, postObjectUpstream } from './stages/post-object.js';
import { passthroughClock, passthroughGaps } from './stages/passthrough-gaps.js';
import { refusePlaintext } from './stages/refuse-plaintext.js';
import { signUpstreamStage, type SignOptions } from './stages/sign-upstream.js';
import { validateSseC } from './stages/validate-sse-c.js';
import { gatewayEncryption } from './stages/gateway-encryption.js';
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
  /** the upstream's profile now (auto: as detected at start-up); passthrough_gaps refuses only for rgw16 */
  profile?: () => 'rgw16' | 'rgw' | 'aws' | 'minio';
  /** extra stages after signing (e.g. the RGW 16 copy handler), in order */
  extra?: Stage[];
}

export function buildPipeline(config: GatewayConfig, deps: PipelineDeps): Stage[] {
  const signing = config.auth.mode !== 'passthrough';
  return [
    refusePlaintext(config.plaintext.mode, deps.events),
    parseRequest(config.s3.baseDomains),
    postObject({ mode: config.auth.mode, events: deps.events, policy: deps.policy, region: config.auth.region, metrics: deps.auth.metrics }),
    authenticate({ ...deps.auth, mode: config.auth.mode, region: config.auth.region, trustForwardedHost: config.auth.trustForwardedHost }),
    ...(signing ? [authorize()] : [passthroughClock({ metrics: deps.auth.metrics })]),
    validateSseC(),
    ...(signing ? [] : [passthroughGaps({ profile: deps.profile ?? (() => 'rgw16') })]),
    checkBody(),
    ...(signing ? [injectKeysStage(deps.policy, deps.keyring)] : []),
    deps.keyPolicy,
    forwardingHeaders(),
    ...(signing ? [signUpstreamStage(deps.sign)] : []),
    ...(signing ? [gatewayEncryption({ mode: config.encryption.mode, policy: deps.policy, upstream: deps.sign.upstream, region: deps.sign.region, credentials: deps.sign.credentials })] : []),
    postObjectUpstream({ mode: config.auth.mode, region: deps.sign.region, credentials: deps.sign.credentials }),
    ...(deps.extra ?? []),
  ];
}
