// Configuration: defaults ← YAML file ← SSEC_GATEWAY_* environment ← flags, every problem reported at
// once, secrets redacted in the effective config, and the schema's own invariants.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, loadConfig, parseArgs, redactedYaml, resolveSecret, type GatewayConfig, type LoadInput } from '../../src/config/load.js';
import { SETTINGS, defaultText, envName, settingsMarkdown, type Setting } from '../../src/config/schema.js';

const dir = mkdtempSync(join(tmpdir(), 'ssec-config-unit-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(text: string, name = `f${n++}`): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
const CERT = file('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', 'cert.pem');
const KEY = file('-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n', 'key.pem');
const MISSING = join(dir, 'does-not-exist.pem');

/** loadConfig with an isolated environment (never process.env). */
function load(input: Omit<LoadInput, 'env'> & { env?: Record<string, string> } = {}): GatewayConfig {
  return loadConfig({ env: {}, ...input });
}
function flags(...argv: string[]): Map<string, string[]> {
  const p = parseArgs(argv);
  if (p.problems.length) throw new Error(p.problems.join('; '));
  return p.flags;
}
/** the problems of the ConfigError that `fn` throws ([] when it does not throw) */
function problems(fn: () => unknown): string[] {
  try { fn(); } catch (e) { if (e instanceof ConfigError) return e.problems; throw e; }
  return [];
}

t.test('defaults', async (t) => {
  const cfg = load();
  t.same(cfg, {
    upstream: { url: 'http://127.0.0.1:7480', region: 'us-east-1', timeoutMs: 120000, maxSockets: 256, profile: 'auto', credentials: 'static' },
    listen: { host: '127.0.0.1', httpsPort: 8443, adminHost: '127.0.0.1', adminPort: 9464 },
    tls: { minVersion: 'TLSv1.2' },
    plaintext: { mode: 'forward' },
    s3: { baseDomains: [] },
    auth: { mode: 'passthrough', trustForwardedHost: false },
    keyring: {},
    redis: { mode: 'standalone', nodes: [], sentinelName: 'mymaster', keyPrefix: 'ssecgw:', queueLimit: 100000 },
    keys: { onExposed: 'deny' },
    rotation: { maxAgeDays: 0, maxObjects: 0, maxBytes: 0 },
    alerts: {},
    fingerprint: {},
    stateDir: join(homedir(), '.local/state/ssec-gateway'),
    log: { level: 'info', maxBufferBytes: 8388608 },
    shutdown: { graceMs: 10000 },
    memory: { scavengeEveryBytes: 2097152 },
    limits: { maxConnections: 20000, maxInFlight: 1024, h2MaxConcurrentStreams: 128, maxHeaderBytes: 16384, maxHeaderCount: 128, headersTimeoutMs: 20000, requestTimeoutMs: 0, bodyTimeoutMs: 60000, idleTimeoutMs: 60000 },
    workers: 0,
    encryption: { mode: 'upstream' },
  }, 'every default, ~ expanded');
  t.equal(cfg.listen.httpPort, undefined, 'plaintext listener off by default');
  t.equal(cfg.fingerprint.secret, undefined, 'no fingerprint secret by default');
  t.equal(cfg.tls.cert, undefined, 'no certificate by default (self-signed)');
  t.ok(Object.isFrozen(cfg) && Object.isFrozen(cfg.upstream) && Object.isFrozen(cfg.s3.baseDomains), 'deep-frozen');
  t.throws(() => { (cfg.upstream as { url: string }).url = 'http://x'; }, TypeError, 'cannot be modified');
  // the defaults in the schema are what the loader applies
  for (const s of SETTINGS as readonly Setting[]) {
    if (s.default === undefined || s.path === 'stateDir') continue;
    const value = s.path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], cfg);
    t.same(value, s.default, `${s.path} = ${defaultText(s)}`);
  }
  // the loader never reads the process environment when given one
  process.env.SSEC_GATEWAY_LOG_LEVEL = 'debug';
  try { t.equal(load().log.level, 'info', 'explicit env replaces process.env'); } finally { delete process.env.SSEC_GATEWAY_LOG_LEVEL; }
});

t.test('encryption.mode gateway needs the gateway to sign upstream', async (t) => {
  t.throws(() => load({ env: { SSEC_GATEWAY_ENCRYPTION_MODE: 'gateway' } }), /encryption\.mode gateway changes the body .*auth\.mode sigv4 or none/, 'passthrough refused, saying why');
  const cfg = load({ env: { SSEC_GATEWAY_ENCRYPTION_MODE: 'gateway', SSEC_GATEWAY_AUTH_MODE: 'none', SSEC_GATEWAY_UPSTREAM_ACCESS_KEY_ID: 'a', SSEC_GATEWAY_UPSTREAM_SECRET_ACCESS_KEY: 'b' } });
  t.equal(cfg.encryption.mode, 'gateway', 'auth.mode none: accepted');
});

t.test('precedence: defaults < file < env < flags', async (t) => {
  const yaml = file(`upstream:\n  url: https://rgw.file:7443\n  region: file-region\nlisten:\n  httpsPort: 1111\n  adminPort: 1112\nlog:\n  level: debug\n`);
  const env = { SSEC_GATEWAY_UPSTREAM_REGION: 'env-region', SSEC_GATEWAY_LISTEN_HTTPS_PORT: '2222', SSEC_GATEWAY_SHUTDOWN_GRACE_MS: '5' };
  const cfg = load({ configFile: yaml, env, flags: flags('--https-port', '3333', '--plaintext-mode=refuse') });
  t.equal(cfg.upstream.url, 'https://rgw.file:7443', 'file over default');
  t.equal(cfg.listen.adminPort, 1112, 'file over default (int)');
  t.equal(cfg.log.level, 'debug', 'file over default (enum)');
  t.equal(cfg.upstream.region, 'env-region', 'env over file');
  t.equal(cfg.shutdown.graceMs, 5, 'env over default');
  t.equal(cfg.listen.httpsPort, 3333, 'flag over env over file');
  t.equal(cfg.plaintext.mode, 'refuse', 'flag over default');
  t.equal(cfg.listen.host, '127.0.0.1', 'untouched default');
  // the config file can come from SSEC_GATEWAY_CONFIG; an explicit configFile wins
  t.equal(load({ env: { SSEC_GATEWAY_CONFIG: yaml } }).upstream.region, 'file-region', 'SSEC_GATEWAY_CONFIG names the file');
  const other = file('upstream:\n  region: other\n');
  t.equal(load({ configFile: other, env: { SSEC_GATEWAY_CONFIG: yaml } }).upstream.region, 'other', 'configFile over SSEC_GATEWAY_CONFIG');
  // --config is not a setting: ignored by the loader (the CLI reads it)
  t.equal(load({ flags: flags('--config', yaml) }).upstream.region, 'us-east-1', '--config flag ignored by loadConfig');
  t.equal(load({ flags: parseArgs(['--verbose'], ['verbose']).flags, ignoreFlags: ['verbose'] }).log.level, 'info', 'ignoreFlags');
  // an empty env value does not override
  t.equal(load({ configFile: yaml, env: { SSEC_GATEWAY_UPSTREAM_REGION: '' } }).upstream.region, 'file-region', 'empty env var is ignored');
  // the last of repeated scalar flags wins
  t.equal(load({ flags: flags('--log-level', 'warn', '--log-level', 'error') }).log.level, 'error', 'last repeated flag wins');
  // YAML may spell a setting as a dotted key
  t.equal(load({ configFile: file('upstream.region: dotted\n') }).upstream.region, 'dotted', 'dotted YAML key');
});

t.test('unknown names are rejected', async (t) => {
  const f = file('upstream:\n  urll: http://x\nfoo: 1\nlisten:\n  https:\n    port: 1\n');
  t.same(problems(() => load({ configFile: f })), [`${f}: unknown key "upstream.urll"`, `${f}: unknown key "foo"`, `${f}: unknown key "listen.https"`], 'unknown YAML keys, with their paths');
  t.same(problems(() => load({ env: { SSEC_GATEWAY_NOPE: '1' } })), ['unknown environment variable SSEC_GATEWAY_NOPE'], 'unknown SSEC_GATEWAY_ env var');
  t.same(problems(() => load({ env: { SSEC_GATEWAY_UPSTREAM_URLL: 'x', OTHER_VAR: 'x', SSEC_GATEWAY: 'x' } })), ['unknown environment variable SSEC_GATEWAY_UPSTREAM_URLL'], 'only SSEC_GATEWAY_* names are checked');
  t.same(problems(() => load({ flags: flags('--nope', 'x') })), ['unknown flag --nope'], 'unknown flag');
  t.same(problems(() => load({ flags: flags('--upstream-url=http://x') })), ['unknown flag --upstream-url'], 'flag named after the path is unknown');
});

t.test('several problems are reported together', async (t) => {
  const f = file('bogus: 1\nlisten:\n  httpsPort: abc\n');
  let err: unknown;
  try {
    load({ configFile: f, env: { SSEC_GATEWAY_WHAT: '1', SSEC_GATEWAY_TLS_MIN_VERSION: 'TLSv1.1' }, flags: flags('--frob', '1', '--upstream', 'ftp://x', '--tls-cert', CERT) });
  } catch (e) { err = e; }
  t.ok(err instanceof ConfigError, 'ConfigError');
  const e = err as ConfigError;
  t.same(e.problems, [
    `${f}: unknown key "bogus"`,
    `listen.httpsPort (from ${f}): expected an integer, got "abc"`,
    'unknown environment variable SSEC_GATEWAY_WHAT',
    'tls.minVersion (from SSEC_GATEWAY_TLS_MIN_VERSION): must be one of TLSv1.2, TLSv1.3, got "TLSv1.1"',
    'unknown flag --frob',
    'upstream.url (from --upstream): must be an http:// or https:// URL, got "ftp://x"',
    'tls.cert and tls.key must be given together',
  ], 'all seven problems, in source order');
  t.equal(e.message, `invalid configuration (7 problems):\n  - ${e.problems.join('\n  - ')}`, 'message lists them all');
  t.equal(new ConfigError(['one']).message, 'invalid configuration (1 problem):\n  - one', 'singular');
});

t.test('type errors', async (t) => {
  const p = (input: Parameters<typeof load>[0]) => problems(() => load(input));
  // int
  t.same(p({ env: { SSEC_GATEWAY_LISTEN_HTTPS_PORT: 'abc' } }), ['listen.httpsPort (from SSEC_GATEWAY_LISTEN_HTTPS_PORT): expected an integer, got "abc"'], 'int: not a number');
  t.same(p({ env: { SSEC_GATEWAY_LISTEN_HTTPS_PORT: '8443.5' } }), ['listen.httpsPort (from SSEC_GATEWAY_LISTEN_HTTPS_PORT): expected an integer, got "8443.5"'], 'int: fraction');
  t.same(p({ env: { SSEC_GATEWAY_LISTEN_HTTPS_PORT: '0x20' } }), ['listen.httpsPort (from SSEC_GATEWAY_LISTEN_HTTPS_PORT): expected an integer, got "0x20"'], 'int: hex');
  t.same(p({ flags: flags('--https-port', '70000') }), ['listen.httpsPort (from --https-port): must be <= 65535, got 70000'], 'int: above max');
  t.same(p({ flags: flags('--admin-port=-1') }), ['listen.adminPort (from --admin-port): must be >= 0, got -1'], 'int: below min');
  t.same(p({ env: { SSEC_GATEWAY_UPSTREAM_TIMEOUT_MS: '999' } }), ['upstream.timeoutMs (from SSEC_GATEWAY_UPSTREAM_TIMEOUT_MS): must be >= 1000, got 999'], 'int: timeout minimum');
  const yf = file('upstream:\n  maxSockets: 1.5\n');
  t.same(p({ configFile: yf }), [`upstream.maxSockets (from ${yf}): expected an integer, got 1.5`], 'int: YAML float');
  t.equal(load({ env: { SSEC_GATEWAY_LISTEN_HTTPS_PORT: ' 9443 ' } }).listen.httpsPort, 9443, 'int: surrounding spaces ok');
  t.equal(load({ configFile: file('listen:\n  httpsPort: "9443"\n') }).listen.httpsPort, 9443, 'int: quoted YAML number ok');
  // enum
  t.same(p({ flags: flags('--log-level', 'verbose') }), ['log.level (from --log-level): must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"'], 'enum');
  t.same(p({ flags: flags('--plaintext-mode', 'Refuse') }), ['plaintext.mode (from --plaintext-mode): must be one of forward, refuse, got "Refuse"'], 'enum is case-sensitive');
  // url
  t.same(p({ env: { SSEC_GATEWAY_UPSTREAM_URL: 'not a url' } }), ['upstream.url (from SSEC_GATEWAY_UPSTREAM_URL): not a URL: "not a url"'], 'url: not a URL');
  t.same(p({ env: { SSEC_GATEWAY_UPSTREAM_URL: 'ftp://rgw:21' } }), ['upstream.url (from SSEC_GATEWAY_UPSTREAM_URL): must be an http:// or https:// URL, got "ftp://rgw:21"'], 'url: wrong scheme');
  t.equal(load({ env: { SSEC_GATEWAY_UPSTREAM_URL: 'https://rgw.internal:7443' } }).upstream.url, 'https://rgw.internal:7443', 'url: https ok');
  // file
  t.same(p({ flags: flags('--upstream-ca', MISSING) }), [`upstream.ca (from --upstream-ca): cannot read ${MISSING}: ENOENT`], 'file: missing');
  t.same(p({ flags: flags('--tls-cert', dir, '--tls-key', KEY) }), [`tls.cert (from --tls-cert): cannot read ${dir}: EISDIR`], 'file: a directory');
  t.equal(load({ flags: flags('--upstream-ca', CERT) }).upstream.ca, CERT, 'file: readable');
  // config file itself
  t.same(p({ configFile: MISSING }), [`config file ${MISSING}: ENOENT`], 'missing config file');
  const bad = file('upstream: [unclosed\n');
  const badProblems = p({ configFile: bad });
  t.equal(badProblems.length, 1, 'invalid YAML: one problem');
  t.match(badProblems[0], new RegExp(`^config file ${bad}: `), 'invalid YAML: names the file');
  const list = file('- a\n- b\n');
  t.same(p({ configFile: list }), [`${list}: document must be a mapping`], 'YAML list document');
  const scalarSection = file('upstream: http://x\n');
  t.same(p({ configFile: scalarSection }), [`${scalarSection}: unknown key "upstream"`], 'scalar where a section is expected');
  const obj = file('upstream:\n  region:\n    a: 1\n');
  t.same(p({ configFile: obj }), [`upstream.region (from ${obj}): expected a string`], 'mapping where a string is expected');
  // the same mistake on a file / url / enum setting must be reported the same way, not as "[object Object]"
  const objFile = file('upstream:\n  ca:\n    path: /etc/ssl/ca.pem\n');
  t.same(p({ configFile: objFile }), [`upstream.ca (from ${objFile}): expected a string`], 'mapping where a file path is expected');
  const objUrl = file('upstream:\n  url:\n    host: rgw\n');
  t.same(p({ configFile: objUrl }), [`upstream.url (from ${objUrl}): expected a string`], 'mapping where a URL is expected');
  t.same(load({ configFile: file('') }), load(), 'empty file = defaults');
  t.same(load({ configFile: file('# only comments\n') }), load(), 'comment-only file = defaults');
});

t.test('a section whose settings are all commented out is not an unknown key', async (t) => {
  // The common way to switch settings off: keep the section, comment its entries. YAML reads `tls:` as null.
  const f = file('upstream:\n  url: http://127.0.0.1:7480\ntls:\n  # cert: /etc/ssec/cert.pem\n  # key: /etc/ssec/key.pem\n');
  t.same(problems(() => load({ configFile: f })), [], 'tls: with only comments is accepted');
  t.same(problems(() => load({ configFile: file('fingerprint:\n') })), [], 'empty fingerprint: section is accepted');
});

t.test('lists', async (t) => {
  t.same(load({ env: { SSEC_GATEWAY_S3_BASE_DOMAINS: 's3.example.com, s3.local ,,' } }).s3.baseDomains, ['s3.example.com', 's3.local'], 'env: comma-separated, trimmed, empties dropped');
  t.same(load({ flags: flags('--base-domain', 'a.example', '--base-domain=b.example,c.example') }).s3.baseDomains, ['a.example', 'b.example', 'c.example'], 'flags: repeated and comma-separated accumulate');
  t.same(load({ configFile: file('s3:\n  baseDomains:\n    - a.example\n    - " b.example "\n') }).s3.baseDomains, ['a.example', 'b.example'], 'YAML list');
  t.same(load({ configFile: file('s3:\n  baseDomains: a.example,b.example\n') }).s3.baseDomains, ['a.example', 'b.example'], 'YAML string');
  t.same(load({ configFile: file('s3:\n  baseDomains: [a.example]\n'), flags: flags('--base-domain', 'z.example') }).s3.baseDomains, ['z.example'], 'flags replace the file list');
});

t.test('cross-field rules', async (t) => {
  t.same(problems(() => load({ flags: flags('--tls-cert', CERT) })), ['tls.cert and tls.key must be given together'], 'tls.cert without tls.key');
  t.same(problems(() => load({ flags: flags('--tls-key', KEY) })), ['tls.cert and tls.key must be given together'], 'tls.key without tls.cert');
  const both = load({ flags: flags('--tls-cert', CERT, '--tls-key', KEY) });
  t.same([both.tls.cert, both.tls.key], [CERT, KEY], 'both given');
  t.same(problems(() => load({ flags: flags('--http-port', '8443') })), ['listen.httpPort and listen.httpsPort must differ'], 'httpPort == httpsPort');
  t.equal(load({ flags: flags('--http-port', '0', '--https-port', '0') }).listen.httpPort, 0, 'both 0 (free ports) is fine');
  t.equal(load({ flags: flags('--http-port', '8080') }).listen.httpPort, 8080, 'httpPort set');
});

t.test('stateDir ~ expansion', async (t) => {
  t.equal(load({ flags: flags('--state-dir', '~') }).stateDir, homedir(), '~');
  t.equal(load({ flags: flags('--state-dir', '~/x/y') }).stateDir, join(homedir(), 'x/y'), '~/x/y');
  t.equal(load({ flags: flags('--state-dir', '/var/lib/ssec') }).stateDir, '/var/lib/ssec', 'absolute');
  t.equal(load({ flags: flags('--state-dir', '~other/x') }).stateDir, '~other/x', '~user is not expanded');
});

t.test('redactedYaml', async (t) => {
  const literal = 'fp-secret-literal-0123456789abcdef';
  const r = redactedYaml(load({ flags: flags('--fingerprint-secret', literal) }));
  t.notMatch(r, literal, 'literal secret not shown');
  t.equal((parseYaml(r) as { fingerprint: { secret: string } }).fingerprint.secret, '<redacted>', 'literal → <redacted>');
  t.equal((parseYaml(redactedYaml(load({ env: { SSEC_GATEWAY_FINGERPRINT_SECRET: 'env:FP_SECRET' } }))) as GatewayConfig).fingerprint.secret, 'env:FP_SECRET', 'env: reference shown');
  t.equal((parseYaml(redactedYaml(load({ flags: flags('--fingerprint-secret=file:/run/secrets/fp') }))) as GatewayConfig).fingerprint.secret, 'file:/run/secrets/fp', 'file: reference shown');
  const full = load({ flags: flags('--upstream', 'https://rgw:7443', '--base-domain', 'a,b', '--fingerprint-secret', literal) });
  const back = parseYaml(redactedYaml(full)) as GatewayConfig;
  t.same(back, { ...JSON.parse(JSON.stringify(full)), fingerprint: { secret: '<redacted>' } }, 'everything else is the effective config');
  t.notMatch(redactedYaml(load({ flags: flags('--fingerprint-secret', 'environ-looking-secret') })), 'environ-looking-secret', 'a literal starting with "env" is still redacted');
});

t.test('resolveSecret', async (t) => {
  t.equal(resolveSecret('env:FP', { FP: 's3cr3t' }), 's3cr3t', 'env:NAME');
  t.same(problems(() => resolveSecret('env:FP', {})), ['secret env:FP: environment variable is not set'], 'env: unset');
  t.same(problems(() => resolveSecret('env:FP', { FP: '' })), ['secret env:FP: environment variable is not set'], 'env: empty');
  const f = file('  from-file-secret \n');
  t.equal(resolveSecret(`file:${f}`, {}), 'from-file-secret', 'file:/path, trimmed');
  t.same(problems(() => resolveSecret(`file:${MISSING}`, {})), [`secret file:${MISSING}: ENOENT`], 'file: missing');
  t.equal(resolveSecret('just-a-literal', {}), 'just-a-literal', 'literal');
  t.equal(resolveSecret('', {}), '', 'empty literal');
  t.equal(resolveSecret('ENV:FP', { FP: 'x' }), 'ENV:FP', 'prefix is case-sensitive (literal)');
  process.env.SSEC_UNIT_FP = 'from-process-env';
  try { t.equal(resolveSecret('env:SSEC_UNIT_FP'), 'from-process-env', 'defaults to process.env'); } finally { delete process.env.SSEC_UNIT_FP; }
});

t.test('parseArgs', async (t) => {
  const p = parseArgs(['serve', '--upstream', 'http://rgw:7480', '--https-port=9443', '--base-domain', 'a', '--base-domain=b,c', '--fingerprint-secret=a=b=c', 'extra']);
  t.same(p.positional, ['serve', 'extra'], 'positional arguments');
  t.same([...p.flags], [['upstream', ['http://rgw:7480']], ['https-port', ['9443']], ['base-domain', ['a', 'b,c']], ['fingerprint-secret', ['a=b=c']]], '--a b, --a=b, repeats accumulate, = inside values');
  t.same(p.problems, [], 'no problems');
  t.same(parseArgs(['--upstream']).problems, ['--upstream needs a value'], 'missing value at the end');
  t.same([...parseArgs(['--upstream=']).flags], [['upstream', ['']]], '--a= gives an empty value');
  t.same([...parseArgs(['--verbose', '--host', 'h'], ['verbose']).flags], [['verbose', ['true']], ['host', ['h']]], 'extra boolean stands alone before another flag');
  t.same([...parseArgs(['--verbose'], ['verbose']).flags], [['verbose', ['true']]], 'extra boolean at the end');
  t.same([...parseArgs(['--verbose', 'false'], ['verbose']).flags], [['verbose', ['false']]], 'boolean with a value');
  t.same(parseArgs([]), { flags: new Map(), positional: [], problems: [] }, 'no arguments');
});

t.test('envName', async (t) => {
  const cases: [string, string][] = [
    ['upstream.url', 'SSEC_GATEWAY_UPSTREAM_URL'],
    ['upstream.timeoutMs', 'SSEC_GATEWAY_UPSTREAM_TIMEOUT_MS'],
    ['upstream.maxSockets', 'SSEC_GATEWAY_UPSTREAM_MAX_SOCKETS'],
    ['listen.httpsPort', 'SSEC_GATEWAY_LISTEN_HTTPS_PORT'],
    ['listen.adminHost', 'SSEC_GATEWAY_LISTEN_ADMIN_HOST'],
    ['tls.minVersion', 'SSEC_GATEWAY_TLS_MIN_VERSION'],
    ['s3.baseDomains', 'SSEC_GATEWAY_S3_BASE_DOMAINS'],
    ['fingerprint.secret', 'SSEC_GATEWAY_FINGERPRINT_SECRET'],
    ['stateDir', 'SSEC_GATEWAY_STATE_DIR'],
    ['shutdown.graceMs', 'SSEC_GATEWAY_SHUTDOWN_GRACE_MS'],
  ];
  for (const [path, env] of cases) t.equal(envName(path), env, `${path} → ${env}`);
  // every env name is accepted by the loader and lands on its path
  for (const s of SETTINGS as readonly Setting[]) {
    if (s.type !== 'string') continue;
    const cfg = load({ env: { [envName(s.path)]: '/tmp/probe' } }) as unknown as Record<string, Record<string, unknown> | string>;
    const [a, b] = s.path.split('.') as [string, string?];
    t.equal(b === undefined ? cfg[a] : (cfg[a] as Record<string, unknown>)[b], '/tmp/probe', `${envName(s.path)} sets ${s.path}`);
  }
});

t.test('schema invariants', async (t) => {
  const all = SETTINGS as readonly Setting[];
  const envs = all.map((s) => envName(s.path));
  const flagNames = all.map((s) => s.flag).filter((f): f is string => f !== undefined);
  t.equal(new Set(all.map((s) => s.path)).size, all.length, 'paths unique');
  t.equal(new Set(envs).size, envs.length, 'environment names unique');
  t.equal(new Set(flagNames).size, flagNames.length, 'flags unique');
  t.notOk(envs.includes('SSEC_GATEWAY_CONFIG'), 'no setting collides with SSEC_GATEWAY_CONFIG');
  t.notOk(flagNames.includes('config'), 'no setting collides with --config');
  for (const s of all) {
    t.ok(typeof s.doc === 'string' && s.doc.trim().length >= 10 && /[.)]$/.test(s.doc.trim()), `${s.path}: has a doc sentence`);
    t.ok(s.flag && /^[a-z][a-z0-9-]*$/.test(s.flag), `${s.path}: has a kebab-case flag`);
    if (s.type === 'enum') t.ok(s.values && s.values.length > 0 && (s.default === undefined || s.values.includes(String(s.default))), `${s.path}: enum values include the default`);
    if (s.type === 'int' && typeof s.default === 'number') t.ok((s.min ?? -Infinity) <= s.default && s.default <= (s.max ?? Infinity), `${s.path}: default within min/max`);
  }
  const md = settingsMarkdown();
  t.equal(md.split('\n').length, all.length + 2, 'README table: one row per setting');
  for (const s of all) t.match(md, `| \`${s.path}\` | \`--${s.flag}\` | \`${envName(s.path)}\` |`, `README table row for ${s.path}`);
});
