/**
 * THE configuration schema: the single source of every setting's name, type, default, flag,
 * environment variable and documentation. The loader, `config check`, `--help` and the README's
 * configuration table (`ssec-gateway config docs`) are all derived from this list.
 */
export type SettingType = 'string' | 'int' | 'bool' | 'enum' | 'list' | 'url' | 'file' | 'secret';

export interface Setting {
  /** dotted path in the YAML file, e.g. `upstream.url` */
  path: string;
  type: SettingType;
  doc: string;
  default?: string | number | boolean | string[];
  /** command-line flag (without leading dashes) */
  flag?: string;
  values?: readonly string[];
  min?: number;
  max?: number;
}

export const SETTINGS = [
  // upstream
  { path: 'upstream.url', type: 'url', default: 'http://127.0.0.1:7480', flag: 'upstream', doc: 'S3 endpoint the gateway forwards to (http or https). Path, if any, is ignored.' },
  { path: 'upstream.region', type: 'string', default: 'us-east-1', flag: 'upstream-region', doc: 'Region of the upstream (used in SigV4 scopes when the gateway signs).' },
  { path: 'upstream.ca', type: 'file', flag: 'upstream-ca', doc: 'PEM file of CA certificates to trust for an https upstream (in addition to the system store).' },
  { path: 'upstream.timeoutMs', type: 'int', default: 120000, min: 1000, flag: 'upstream-timeout-ms', doc: 'Time to wait for the upstream response headers before answering 504.' },
  { path: 'upstream.maxSockets', type: 'int', default: 256, min: 1, flag: 'upstream-max-sockets', doc: 'Keep-alive connections to the upstream, at most, in each of its two pools (undici for bodyless requests, node:http for requests with a body).' },
  // listeners
  { path: 'listen.host', type: 'string', default: '127.0.0.1', flag: 'host', doc: 'Bind address of the data listeners (HTTPS and plaintext).' },
  { path: 'listen.httpsPort', type: 'int', default: 8443, min: 0, max: 65535, flag: 'https-port', doc: 'HTTPS listener (HTTP/2 and HTTP/1.1 over TLS). 0 picks a free port.' },
  { path: 'listen.httpPort', type: 'int', min: 0, max: 65535, flag: 'http-port', doc: 'Plaintext HTTP/1.1 listener; off unless set. SSE-C requests on it are refused and their keys treated as exposed.' },
  { path: 'listen.adminHost', type: 'string', default: '127.0.0.1', flag: 'admin-host', doc: 'Bind address of the admin listener (/metrics, /healthz, /readyz).' },
  { path: 'listen.adminPort', type: 'int', default: 9464, min: 0, max: 65535, flag: 'admin-port', doc: 'Admin listener port (plain HTTP; never serves data). 0 picks a free port.' },
  // gateway-side encryption (issue 10)
  { path: 'encryption.mode', type: 'enum', values: ['upstream', 'gateway'], default: 'upstream', flag: 'encryption-mode', doc: '`upstream`: the store does SSE-C (the key travels to it). `gateway`: the gateway encrypts and decrypts in its own format (docs/format.md) and the store sees ciphertext only, never a key; needs auth.mode `sigv4` or `none` (the body changes, so the gateway signs upstream). Per bucket/prefix: `encryption` rules in the clients file.' },
  // TLS
  { path: 'tls.cert', type: 'file', flag: 'tls-cert', doc: 'PEM certificate chain of the HTTPS listener, reloaded when the file (or a Kubernetes Secret mount) is replaced: new connections get the new pair, open ones keep theirs. Without cert and key a self-signed pair is created and kept in `stateDir`.' },
  { path: 'tls.key', type: 'file', flag: 'tls-key', doc: 'PEM private key of the HTTPS listener.' },
  { path: 'tls.minVersion', type: 'enum', values: ['TLSv1.2', 'TLSv1.3'], default: 'TLSv1.2', flag: 'tls-min-version', doc: 'Lowest TLS version accepted.' },
  // plaintext policy
  { path: 'plaintext.mode', type: 'enum', values: ['forward', 'refuse'], default: 'forward', flag: 'plaintext-mode', doc: '`forward`: requests without SSE-C headers are forwarded; `refuse`: every request on the plaintext listener gets 403.' },
  // S3 addressing
  { path: 's3.baseDomains', type: 'list', default: [], flag: 'base-domain', doc: 'Domains for virtual-hosted-style requests (`bucket.BASE`); comma-separated. Other hosts are path-style.' },
  { path: 'upstream.profile', type: 'enum', values: ['auto', 'rgw16', 'rgw', 'aws', 'minio'], default: 'auto', flag: 'upstream-profile', doc: 'What the upstream can do. `rgw16` (Ceph RGW before 20: cannot copy SSE-C objects, stores plaintext on a plain→SSE-C copy): the gateway performs such copies itself (GET → PUT). `auto` detects the upstream at start-up (AWS and MinIO by their Server header; an RGW, whose release it cannot tell, or anything unrecognised counts as `rgw16`).' },
  { path: 'upstream.credentials', type: 'enum', values: ['static', 'env', 'chain'], default: 'static', flag: 'upstream-credentials', doc: 'How the gateway signs upstream requests in auth modes `sigv4` and `none`: `static` (`upstream.accessKeyId` + `upstream.secretAccessKey`), `env` (AWS_ACCESS_KEY_ID/…), `chain` (the AWS default provider chain: env, shared config, web identity / IRSA, container credentials / EKS Pod Identity).' },
  { path: 'upstream.accessKeyId', type: 'string', flag: 'upstream-access-key-id', doc: 'Access key of the gateway\'s own upstream credential (`static`).' },
  { path: 'upstream.secretAccessKey', type: 'secret', flag: 'upstream-secret-access-key', doc: 'Secret of the gateway\'s upstream credential: a value, `env:NAME` or `file:/path`.' },
  { path: 'upstream.sessionToken', type: 'secret', flag: 'upstream-session-token', doc: 'Session token of a temporary static credential (value, `env:NAME` or `file:/path`).' },
  // auth
  { path: 'auth.mode', type: 'enum', values: ['passthrough', 'sigv4', 'none'], default: 'passthrough', flag: 'auth-mode', doc: '`passthrough`: the client\'s SigV4 signature is forwarded untouched and checked by the upstream. `sigv4`: the gateway verifies the client against `auth.clientsFile` and signs upstream itself. `none` (sidecar): unsigned clients are accepted and the gateway signs upstream; allowed only when every data listener binds loopback.' },
  { path: 'auth.clientsFile', type: 'file', flag: 'clients-file', doc: 'YAML/JSON file of clients (access keys, secrets, allowed buckets/prefixes, upstream credential, key-injection rules); reloaded on change.' },
  { path: 'auth.region', type: 'string', flag: 'auth-region', doc: 'Region clients must sign for (`sigv4`); unset: any region.' },
  { path: 'auth.trustForwardedHost', type: 'bool', default: false, flag: 'trust-forwarded-host', doc: 'Behind another ingress: verify signatures against `X-Forwarded-Host` (the host the client signed) instead of Host.' },
  { path: 'keyring.dir', type: 'string', flag: 'keyring-dir', doc: 'Directory of SSE-C keys for injection, one file per key (file name = key id; 32 raw bytes, base64 or hex); a mounted Kubernetes Secret works as is. Reloaded on change.' },
  // fingerprint store
  { path: 'redis.url', type: 'string', flag: 'redis-url', doc: 'Redis for key fingerprints (`redis://[:password@]host:port/db`, `rediss://` for TLS). Unset: an in-memory store (one replica only).' },
  { path: 'redis.mode', type: 'enum', values: ['standalone', 'sentinel', 'cluster'], default: 'standalone', flag: 'redis-mode', doc: '`sentinel`: `redis.nodes` are Sentinels and `redis.sentinelName` the master name; `cluster`: `redis.nodes` are cluster seed nodes.' },
  { path: 'redis.nodes', type: 'list', default: [], flag: 'redis-nodes', doc: 'host:port list of Sentinels or cluster seed nodes (modes sentinel and cluster).' },
  { path: 'redis.sentinelName', type: 'string', default: 'mymaster', flag: 'redis-sentinel-name', doc: 'Master name known to the Sentinels.' },
  { path: 'redis.password', type: 'secret', flag: 'redis-password', doc: 'Redis password: a value, `env:NAME` or `file:/path` (also for Sentinel and Cluster nodes).' },
  { path: 'redis.keyPrefix', type: 'string', default: 'ssecgw:', flag: 'redis-key-prefix', doc: 'Prefix of every Redis key the gateway writes.' },
  { path: 'redis.queueLimit', type: 'int', default: 100000, min: 100, flag: 'redis-queue-limit', doc: 'Fingerprint events kept while Redis is unreachable; beyond it events are dropped and counted.' },
  { path: 'keys.onExposed', type: 'enum', values: ['deny', 'warn'], default: 'deny', flag: 'on-exposed-key', doc: 'A request with a key known to be exposed (sent over plaintext): `deny` answers 403 AccessDenied, `warn` lets it through with an alert.' },
  { path: 'rotation.maxAgeDays', type: 'int', default: 0, min: 0, flag: 'rotation-max-age-days', doc: 'A key first seen longer ago than this is due for rotation (0: no limit).' },
  { path: 'rotation.maxObjects', type: 'int', default: 0, min: 0, flag: 'rotation-max-objects', doc: 'A key protecting more objects than this is due for rotation (0: no limit).' },
  { path: 'rotation.maxBytes', type: 'int', default: 0, min: 0, flag: 'rotation-max-bytes', doc: 'A key that has encrypted more bytes than this is due for rotation (0: no limit).' },
  { path: 'alerts.webhookUrl', type: 'url', flag: 'alerts-webhook-url', doc: 'Key alerts (exposure, rotation due, retired key used) are POSTed here as Alertmanager-compatible JSON, with retries.' },
  // fingerprints
  { path: 'fingerprint.secret', type: 'secret', flag: 'fingerprint-secret', doc: 'HMAC secret for key fingerprints: a value, `env:NAME` or `file:/path`. Without one, a random secret is created and kept in `stateDir` (with a warning).' },
  // process
  { path: 'stateDir', type: 'string', default: '~/.local/state/ssec-gateway', flag: 'state-dir', doc: 'Where the gateway keeps what it creates itself (self-signed certificate, fingerprint secret).' },
  { path: 'log.level', type: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info', flag: 'log-level', doc: 'Log level (JSON lines on stdout).' },
  { path: 'log.maxBufferBytes', type: 'int', default: 8388608, min: 65536, flag: 'log-max-buffer-bytes', doc: 'Log lines waiting for stdout are held up to this many bytes; past it new lines are dropped and counted (`ssec_gateway_log_lines_dropped_total`), so a slow log reader under overload cannot grow memory without bound.' },
  { path: 'workers', type: 'int', default: 0, min: 0, max: 256, flag: 'workers', doc: 'Processes serving the listeners (node:cluster; the primary holds the admin listener, one /metrics for all, and the in-memory fingerprint store). 0: one per CPU this process may use (cgroup CPU quota and affinity, so a pod with `limits.cpu: 2` gets 2). 1: a single process.' },
  // limits (per process; Envoy's and nginx's habits: explicit bounds, shed load rather than collapse)
  { path: 'limits.maxConnections', type: 'int', default: 20000, min: 1, flag: 'max-connections', doc: 'Client connections held at once (HTTPS and plaintext each); a connection beyond it is closed at once.' },
  { path: 'limits.maxInFlight', type: 'int', default: 1024, min: 0, flag: 'max-in-flight', doc: 'Requests served at once; beyond it a request is answered 503 SlowDown (S3\'s own answer to "too fast", which every SDK retries with backoff) before anything is read or sent upstream. 0: no limit.' },
  { path: 'limits.h2MaxConcurrentStreams', type: 'int', default: 128, min: 1, flag: 'h2-max-concurrent-streams', doc: 'HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS: requests one HTTP/2 connection may have open (nginx: 128).' },
  { path: 'limits.maxHeaderBytes', type: 'int', default: 16384, min: 1024, flag: 'max-header-bytes', doc: 'Size of a request head: HTTP/1.1 answers 431, HTTP/2 resets the stream (SETTINGS_MAX_HEADER_LIST_SIZE). S3 allows 8 KiB of headers; presigned URLs and metadata make more usual.' },
  { path: 'limits.maxHeaderCount', type: 'int', default: 128, min: 8, flag: 'max-header-count', doc: 'Header fields in a request: more is answered 400 RequestHeaderSectionTooLarge (never silently truncated, which could drop an SSE-C header).' },
  { path: 'limits.headersTimeoutMs', type: 'int', default: 20000, min: 1000, flag: 'headers-timeout-ms', doc: 'Time a client has to send a complete HTTP/1.1 request head (slowloris); answered 408 and closed.' },
  { path: 'limits.requestTimeoutMs', type: 'int', default: 0, min: 0, flag: 'request-timeout-ms', doc: 'Time limit for receiving a whole HTTP/1.1 request, body included. 0: none (Node\'s default of 300 s cut off uploads slower than that); stalled bodies are bounded by `limits.bodyTimeoutMs`.' },
  { path: 'limits.bodyTimeoutMs', type: 'int', default: 60000, min: 1000, flag: 'body-timeout-ms', doc: 'A request body that receives no byte for this long while the gateway is reading it is aborted (400 RequestTimeout if nothing was answered yet); nothing of it is stored.' },
  { path: 'limits.idleTimeoutMs', type: 'int', default: 60000, min: 1000, flag: 'idle-timeout-ms', doc: 'A connection with no request in flight and no byte for this long is closed (HTTP/1.1 keep-alive; HTTP/2 gets GOAWAY).' },
  { path: 'memory.scavengeEveryBytes', type: 'int', default: 2097152, min: 0, flag: 'scavenge-every-bytes', doc: 'A young-generation GC after this many bytes of request and response bodies, so the Buffers of a fast transfer are freed before V8 runs a full mark-compact for them (a third of the CPU of an encrypted upload without it). 0: leave it to V8.' },
  { path: 'shutdown.graceMs', type: 'int', default: 10000, min: 0, flag: 'shutdown-grace-ms', doc: 'On SIGTERM, time given to in-flight requests before connections are closed.' },
] as const satisfies readonly Setting[];

export type SettingPath = (typeof SETTINGS)[number]['path'];

/** `upstream.httpsPort` → `SSEC_GATEWAY_UPSTREAM_HTTPS_PORT` */
export function envName(path: string): string {
  return 'SSEC_GATEWAY_' + path.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/\./g, '_').toUpperCase();
}

export function defaultText(s: Setting): string {
  if (s.default === undefined) return '(unset)';
  if (Array.isArray(s.default)) return s.default.length ? s.default.join(',') : '(none)';
  return String(s.default);
}

/** The README's configuration table, generated from SETTINGS. */
export function settingsMarkdown(): string {
  const rows = ['| setting (YAML) | flag | environment | default | description |', '|---|---|---|---|---|'];
  for (const s of SETTINGS as readonly Setting[]) {
    const values = s.values ? ` One of: ${s.values.map((v) => '`' + v + '`').join(', ')}.` : '';
    rows.push(`| \`${s.path}\` | ${s.flag ? '`--' + s.flag + '`' : ''} | \`${envName(s.path)}\` | \`${defaultText(s)}\` | ${s.doc}${values} |`);
  }
  return rows.join('\n');
}
