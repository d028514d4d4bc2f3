/**
 * Composition root: builds every part from the frozen config and returns { listen, close }.
 */
import { paceScavenges } from './server/scavenge-pacer.js';
import type { AddressInfo } from 'node:net';
import { Drain, createAdminServer, registryScrape } from './admin/admin-server.js';
import type { GatewayConfig } from './config/load.js';
import { KeyEvents } from './events/key-events.js';
import { fingerprintSecret } from './fingerprints/secret.js';
import { KeyTracker, deletedObjects, isErrorBody, openFingerprintStore, parseUploadId, type RecordExtra } from './fingerprints/index.js';
import type { RequestContext } from './request/context.js';
import type { FingerprintStore } from './fingerprints/types.js';
import { createLogger, type Logger } from './logging/logger.js';
import { createMetrics, type Metrics } from './metrics/registry.js';
import { buildPipeline } from './pipeline/build-pipeline.js';
import { upstreamGaps } from './pipeline/stages/upstream-gaps.js';
import { objectAttributes } from './pipeline/stages/object-attributes.js';
import { COPY_MULTIPART_THRESHOLD, COPY_PART_SIZE } from './copy/stream-copy.js';
import { createHandler } from './pipeline/run-pipeline.js';
import { createHttpsListener, createPlaintextListener, listen, wrapServer } from './server/listeners.js';
import { ensureSelfSigned } from './server/self-signed.js';
import { reloadTls } from './server/tls-reload.js';
import { readFileSync } from 'node:fs';
import { createUpstream } from './upstream/upstream.js';
import { detectProfile, type Profile } from './upstream/detect-profile.js';
import { EMPTY_POLICY, loadPolicyFile, type PolicyFile, type UpstreamCredentialSpec } from './auth/policy-file.js';
import { Reloading } from './auth/reloading.js';
import { loadKeyring } from './sse-c/keyring.js';
import { credentialSource, type CredentialSource } from './upstream/credentials.js';
import { resolveSecret } from './config/load.js';

/** Named upstream credentials: 'default' from the config's upstream.*, others from the clients file; each built once. */
function upstreamCredentials(config: GatewayConfig, policy: () => PolicyFile): (name: string) => CredentialSource {
  const built = new Map<string, { spec: UpstreamCredentialSpec; source: Promise<CredentialSource> }>();
  const u = config.upstream;
  const dflt: UpstreamCredentialSpec = {
    source: u.credentials, accessKeyId: u.accessKeyId,
    secretAccessKey: u.secretAccessKey ? resolveSecret(u.secretAccessKey) : undefined,
    sessionToken: u.sessionToken ? resolveSecret(u.sessionToken) : undefined,
  };
  return (name) => async () => {
    const spec = name === 'default' ? dflt : policy().upstreamCredentials.get(name) ?? dflt;
    let entry = built.get(name);
    if (!entry || entry.spec !== spec) {
      entry = { spec, source: credentialSource(spec) };
      built.set(name, entry);
    }
    return (await entry.source)();
  };
}

/** What the fingerprint inventory needs from a finished request: upstream headers and the small XML bodies. */
function bookkeeping(ctx: RequestContext, keyFingerprint?: (ctx: RequestContext) => string | undefined): RecordExtra {
  const text = (b?: Buffer[]) => (b ? Buffer.concat(b).toString('utf8') : '');
  const response = text(ctx.captured?.response);
  const extra: RecordExtra = { responseHeaders: ctx.upstreamResponseHeaders };
  if (ctx.operation === 'CreateMultipartUpload') extra.uploadId = parseUploadId(response);
  if (ctx.operation === 'CompleteMultipartUpload') extra.failed = isErrorBody(response);
  if (ctx.post?.key !== undefined) extra.post = { key: ctx.post.key, size: ctx.post.size, fingerprint: keyFingerprint?.(ctx) };
  if (ctx.operation === 'DeleteObjects' && ctx.target?.bucket) extra.deleted = deletedObjects(ctx.target.bucket, text(ctx.captured?.request), response);
  return extra;
}

/** `admin` is absent in a worker process: the primary holds the admin listener (src/server/workers.ts). */
/**
 * The fingerprint secret and the TLS pair, from the config or, for a quick start, created once in
 * the state directory; `log` gets a warning for each made-up default (the primary of several
 * workers creates them before forking, so the workers do not race to).
 */
export function localState(config: GatewayConfig, log?: Logger): { secret: Buffer; tls: { cert: string; key: string }; selfSignedCert?: string } {
  const { secret, generatedAt } = fingerprintSecret(config.fingerprint.secret, config.stateDir);
  if (generatedAt) log?.warn({ file: generatedAt }, 'no fingerprint.secret configured: using the one kept in the state directory (set fingerprint.secret for more than one replica)');
  if (config.tls.cert && config.tls.key) {
    return { secret, tls: { cert: readFileSync(config.tls.cert, 'utf8'), key: readFileSync(config.tls.key, 'utf8') } };
  }
  const made = ensureSelfSigned(config.stateDir);
  log?.warn({ cert: made.certFile, created: made.created }, 'no tls.cert/tls.key configured: serving a self-signed certificate (clients must trust this file)');
  return { secret, tls: made, selfSignedCert: made.certFile };
}

export interface Addresses { https: AddressInfo; http?: AddressInfo; admin?: AddressInfo }

export interface Gateway {
  listen(): Promise<Addresses>;
  close(): Promise<void>;
  readonly events: KeyEvents;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly store: FingerprintStore;
  /** the certificate file clients should trust, when the gateway made its own */
  readonly selfSignedCert?: string;
  /** why this process cannot serve correctly yet (the exposed keys are not loaded), if so */
  storeProblem(): string | undefined;
}

export interface GatewayOptions {
  logDestination?: NodeJS.WritableStream;
  /** A worker of several (`workers` > 1): its number in the logs, no admin listener, and the primary's store when there is no Redis. */
  worker?: { id: number; store?: (metrics: Metrics) => FingerprintStore };
}

export function createGateway(config: GatewayConfig, opts: GatewayOptions = {}): Gateway {
  const worker = opts.worker;
  const root = createLogger(config.log.level, opts.logDestination, config.log.maxBufferBytes);
  paceScavenges(config.memory.scavengeEveryBytes);
  const log = worker ? root.child({ worker: worker.id }) : root;
  const metrics = createMetrics();
  // a worker's primary has already created (and warned about) what the state directory holds
  const { secret, tls, selfSignedCert } = localState(config, worker ? undefined : log);
  const events = new KeyEvents(secret);
  const store = worker?.store?.(metrics) ?? openFingerprintStore(config, { metrics, log });
  const tracker = new KeyTracker(store, secret, config.keys.onExposed);
  events.on('exposed', (e) => {
    void store.exposed(e); // counts it, marks the key compromised, tells every replica
    log.warn({ event: 'key_exposed', fingerprint: e.fingerprint, client: e.client, listener: e.listener, header: e.header, requestId: e.requestId }, KeyEvents.describe(e));
  });

  const upstream = createUpstream(config.upstream);
  const closers: (() => void)[] = [];
  const policyFile = config.auth.clientsFile
    ? new Reloading(config.auth.clientsFile, () => loadPolicyFile(config.auth.clientsFile!), (e) => log.error({ file: config.auth.clientsFile, err: (e as Error).message }, 'clients file not reloaded: keeping the previous version'), () => log.info({ file: config.auth.clientsFile }, 'clients file reloaded'))
    : undefined;
  if (policyFile) closers.push(() => policyFile.close());
  const keyringDir = config.keyring.dir;
  const keyring = keyringDir
    ? new Reloading(keyringDir, () => loadKeyring(keyringDir), (e) => log.error({ dir: keyringDir, err: (e as Error).message }, 'keyring not reloaded: keeping the previous version'), () => log.info({ dir: keyringDir }, 'keyring reloaded'))
    : undefined;
  if (keyring) closers.push(() => keyring.close());
  const policy = () => policyFile?.value ?? EMPTY_POLICY;
  const credentials = upstreamCredentials(config, policy);
  // auto: RGW 16's behaviour until the upstream says otherwise (detected when listening)
  let profile: Profile = config.upstream.profile === 'auto' ? 'rgw16' : config.upstream.profile;
  const stages = buildPipeline(config, {
    events,
    keyPolicy: tracker.stage(),
    auth: { policy, metrics },
    policy,
    keyring: () => keyring?.value ?? new Map(),
    sign: { upstream, region: config.upstream.region, credentials, metrics },
    profile: () => profile,
    extra: [
      ...(config.auth.mode === 'passthrough' ? [] : [upstreamGaps({
        profile: () => profile, upstream, region: config.upstream.region, credentials,
        multipartThreshold: COPY_MULTIPART_THRESHOLD, partSize: COPY_PART_SIZE,
      })]),
      // rgw16: answered from a HEAD (sigv4, none); refused in passthrough (no upstream credential)
      objectAttributes({ profile: () => profile, mode: config.auth.mode, upstream, region: config.upstream.region, credentials }),
    ],
  });
  const record = (ctx: RequestContext) => tracker.record(ctx, bookkeeping(ctx, (c) => tracker.fingerprintsOf(c).key));
  const https = createHttpsListener({ ...tls, minVersion: config.tls.minVersion }, createHandler('https', stages, upstream, metrics, log, record, config.limits), metrics, config.limits);
  const plain = config.listen.httpPort !== undefined ? createPlaintextListener(createHandler('http', stages, upstream, metrics, log, record, config.limits), metrics, config.limits) : undefined;
  // tls.cert/tls.key replaced on disk (a Kubernetes Secret update): new TLS connections get the new pair
  if (config.tls.cert && config.tls.key) {
    const tlsReload = reloadTls(https.server, { certFile: config.tls.cert, keyFile: config.tls.key, initial: tls, context: { minVersion: config.tls.minVersion }, log });
    closers.push(() => tlsReload.close());
  }
  const drain = new Drain();
  let storeLoaded = false;
  const storeProblem = () => {
    storeLoaded ||= store.health().up;
    return storeLoaded ? undefined : 'fingerprint store (Redis) not reachable yet: the exposed keys are not loaded';
  };
  const adminListener = worker ? undefined : wrapServer(createAdminServer(registryScrape(metrics.registry), { drain, upstream: upstream.url, store: storeProblem }));
  if (!worker) metrics.workers.set(1);

  return {
    events, metrics, log, selfSignedCert, store, storeProblem,
    async listen() {
      await store.ready(); // the retired/compromised set is loaded before the first key is checked
      // also in passthrough: there an rgw16 upstream gets the SSE-C copies it gets wrong refused (passthrough-gaps.ts)
      if (config.upstream.profile === 'auto') {
        const d = await detectProfile(upstream);
        profile = d.profile;
        log.info({ profile: d.profile, evidence: d.evidence }, 'upstream profile detected');
      }
      const a: Addresses = {
        https: await listen(https, config.listen.httpsPort, config.listen.host),
        http: plain ? await listen(plain, config.listen.httpPort!, config.listen.host) : undefined,
        admin: adminListener ? await listen(adminListener, config.listen.adminPort, config.listen.adminHost) : undefined,
      };
      log.info({ https: a.https, http: a.http, admin: a.admin, upstream: upstream.url.origin }, worker ? 'worker listening' : 'listening');
      return a;
    },
    async close() {
      drain.begin();
      await Promise.all([https, ...(plain ? [plain] : [])].map((l) => l.close(config.shutdown.graceMs)));
      await adminListener?.close(0);
      await store.close();
      upstream.close();
      for (const c of closers) c();
      log.flush?.();
    },
  };
}
