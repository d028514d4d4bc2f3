/**
 * `ssec-gateway keys list | show FP | objects FP | retire FP | forget FP`: the key fingerprint
 * store, read and administered from the command line (it needs the Redis store: the in-memory one
 * lives inside each serving process).
 */
import { pino } from 'pino';
import { parseArgs, type GatewayConfig } from '../config/load.js';
import { SETTINGS, type Setting } from '../config/schema.js';
import { createFingerprintStore, usesRedis } from '../fingerprints/store.js';
import { overdueReasons, policyText, type OverdueReason } from '../fingerprints/policy.js';
import type { FingerprintStore, KeyRecord, ObjectEntry } from '../fingerprints/types.js';
import { createMetrics } from '../metrics/registry.js';

export interface KeysDeps {
  /** use this store instead of opening one from the configuration (tests) */
  store?: FingerprintStore;
  /** errors and warnings (default process.stderr) */
  err?: NodeJS.WritableStream;
  now?: () => Date;
}

const OWN_FLAGS = new Set(['json', 'force', 'help', 'limit', 'status', 'overdue']);
const CONFIG_FLAGS = new Set((SETTINGS as readonly Setting[]).map((s) => s.flag).filter(Boolean) as string[]);
CONFIG_FLAGS.add('config');

const CONFIG_NOTE = `Reads the same configuration as 'serve' (--config FILE, SSEC_GATEWAY_* environment, flags),
of which it uses redis.* and rotation.*.`;

export const KEYS_HELP = `Usage: ssec-gateway keys COMMAND [flags]

The SSE-C keys the gateway has seen, by fingerprint (HMAC-SHA256 under fingerprint.secret; shown
as a 16-hex-digit id). Keys are never stored, only their fingerprints.

Commands:
  list              every key: status, first/last seen, age, objects, bytes, alerts
  show KEY          one key in full (KEY: the id, any unique prefix of it, or the full fingerprint)
  objects KEY       the objects written with a key (bucket, key, version, size, time)
  retire KEY        mark a key retired: still accepted, each use raises a retired_used alert
  forget KEY        delete everything known about a key (record and inventory)

Run 'ssec-gateway keys COMMAND --help' for its flags.
${CONFIG_NOTE}
`;

const HELP: Record<string, string> = {
  list: `Usage: ssec-gateway keys list [--json] [--status active|retired|compromised] [--overdue]

Every known key, oldest first: id, status, first and last seen (UTC), age, objects it protects
and their bytes, bytes written, requests, the policy it is over (OVERDUE) and the alerts raised.
  --json        a JSON array (full fingerprints, ISO dates, numbers in bytes)
  --status S    only keys with this status
  --overdue     only active keys past the rotation policy (rotation.maxAgeDays/maxObjects/maxBytes)
${CONFIG_NOTE}
`,
  show: `Usage: ssec-gateway keys show KEY [--json]

Everything known about one key: status, times, counters, recent clients and buckets, exposure
details, alerts and rotation policy. KEY is the id, a unique prefix of it, or the fingerprint.
  --json        one JSON object
${CONFIG_NOTE}
`,
  objects: `Usage: ssec-gateway keys objects KEY [--json] [--limit N]

The objects written with a key and not overwritten or deleted since (its inventory): bucket,
object key, version id, size and write time, sorted by bucket and key.
  --json        a JSON array
  --limit N     at most N objects
${CONFIG_NOTE}
`,
  retire: `Usage: ssec-gateway keys retire KEY

Marks a key retired (after its objects were re-keyed): requests with it are still forwarded but
raise a retired_used alert (at most hourly per key). Every replica learns it within a second.
A compromised key cannot be retired (that would lift its refusal).
${CONFIG_NOTE}
`,
  forget: `Usage: ssec-gateway keys forget KEY [--force]

Deletes the key's record, its inventory and its object index entries. Forgetting a compromised
key lifts its refusal on every replica, so it needs --force.
  --force       forget a compromised key too
${CONFIG_NOTE}
`,
};

class UsageError extends Error {}
class Failure extends Error {}

function write(s: NodeJS.WritableStream, text: string): void {
  s.write(text.endsWith('\n') ? text : text + '\n');
}

export async function keysCommand(argv: string[], config: GatewayConfig, out: NodeJS.WritableStream, deps: KeysDeps = {}): Promise<number> {
  const err = deps.err ?? process.stderr;
  const now = deps.now ?? (() => new Date());
  // a bare switch never takes the next word as its value (`keys show --json KEY`)
  const switches = new Set(['--json', '--force', '--help', '--overdue', '-h']);
  const args = parseArgs(argv.map((a) => (switches.has(a) ? `${a.replace(/^-h$/, '--help')}=true` : a)));
  const [cmd, ...rest] = args.positional;
  const flag = (n: string) => args.flags.get(n)?.at(-1);
  const help = args.flags.has('help');
  if (help || cmd === 'help') {
    write(out, (cmd && HELP[cmd === 'help' ? rest[0] ?? '' : cmd]) || KEYS_HELP);
    return 0;
  }
  try {
    if (args.problems.length) throw new UsageError(args.problems.join('; '));
    if (!cmd) throw new UsageError('a command is needed');
    if (!HELP[cmd]) throw new UsageError(`unknown command "${cmd}"`);
    for (const name of args.flags.keys()) if (!OWN_FLAGS.has(name) && !CONFIG_FLAGS.has(name)) throw new UsageError(`unknown flag --${name}`);
    const needsKey = cmd !== 'list';
    if (needsKey && rest.length !== 1) throw new UsageError(`${cmd} takes one KEY`);
    if (!needsKey && rest.length) throw new UsageError(`unexpected argument(s): ${rest.join(' ')}`);
    const status = flag('status');
    if (status !== undefined && !['active', 'retired', 'compromised'].includes(status)) throw new UsageError(`--status must be active, retired or compromised`);
    const limitText = flag('limit');
    const limit = limitText === undefined ? Infinity : Number(limitText);
    if (!(limit > 0) || (limitText !== undefined && !Number.isInteger(limit))) throw new UsageError('--limit must be a positive integer');
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    write(err, `ssec-gateway keys: ${e.message}\n\n${cmd && HELP[cmd] ? HELP[cmd] : KEYS_HELP}`);
    return 2;
  }

  let store = deps.store;
  let own = false;
  if (!store) {
    if (!usesRedis(config)) {
      write(err, 'ssec-gateway keys: no Redis is configured (redis.url): the in-memory fingerprint store lives inside each serving process and cannot be read from here. Set redis.url (or redis.mode/redis.nodes).');
      return 2;
    }
    const log = pino({ level: 'error', base: { svc: 'ssec-gateway' } }, pino.destination(2));
    store = await createFingerprintStore(config, { metrics: createMetrics(), log, role: 'cli', connectWaitMs: 5000 });
    own = true;
  }
  try {
    if (store.kind === 'redis' && !store.health().up) throw new Failure('cannot reach Redis (redis.url / redis.nodes)');
    const json = args.flags.has('json');
    switch (cmd) {
      case 'list': {
        let keys = await store.list();
        const st = flag('status');
        if (st) keys = keys.filter((k) => k.status === st);
        if (args.flags.has('overdue')) keys = keys.filter((k) => overdueReasons(k, config.rotation, now()).length);
        if (json) write(out, JSON.stringify(keys.map((k) => recordJson(k, config, now())), null, 2));
        else write(out, listTable(keys, config, now()));
        return 0;
      }
      case 'show': {
        const k = await resolve(store, rest[0]!);
        if (json) write(out, JSON.stringify(recordJson(k, config, now()), null, 2));
        else write(out, showText(k, config, now()));
        return 0;
      }
      case 'objects': {
        const k = await resolve(store, rest[0]!);
        const limit = Number(flag('limit') ?? Infinity);
        const entries: ObjectEntry[] = [];
        for await (const o of store.objects(k.fingerprint)) { entries.push(o); if (entries.length >= limit) break; }
        entries.sort((a, b) => a.bucket.localeCompare(b.bucket) || a.key.localeCompare(b.key) || (a.versionId ?? '').localeCompare(b.versionId ?? ''));
        if (json) write(out, JSON.stringify(entries.map((o) => ({ bucket: o.bucket, key: o.key, versionId: o.versionId ?? null, size: o.size, at: o.at.toISOString() })), null, 2));
        else write(out, objectsTable(entries, k, limit));
        return 0;
      }
      case 'retire': {
        const k = await resolve(store, rest[0]!);
        if (k.status === 'compromised') throw new Failure(`key ${k.id} is compromised (exposed): it stays refused; retiring it would let it through again`);
        if (k.status === 'retired') { write(out, `key ${k.id} is already retired`); return 0; }
        await store.setStatus(k.fingerprint, 'retired');
        write(out, `key ${k.id} retired: requests with it are still forwarded and raise a retired_used alert`);
        return 0;
      }
      case 'forget': {
        const k = await resolve(store, rest[0]!);
        if (k.status === 'compromised' && !args.flags.has('force')) throw new Failure(`key ${k.id} is compromised: forgetting it lifts its refusal on every replica; add --force to do it anyway`);
        await store.forget(k.fingerprint);
        write(out, `key ${k.id} forgotten (${k.objects} inventory entr${k.objects === 1 ? 'y' : 'ies'} dropped)`);
        return 0;
      }
      default:
        return 2;
    }
  } catch (e) {
    write(err, `ssec-gateway keys ${cmd}: ${(e as Error).message}`);
    return 1;
  } finally {
    if (own) await store.close();
  }
}

async function resolve(store: FingerprintStore, arg: string): Promise<KeyRecord> {
  const id = arg.trim().toLowerCase();
  if (!/^[0-9a-f]{4,64}$/.test(id)) throw new Failure(`"${arg}" is not a key id (4 to 64 hex digits)`);
  if (id.length === 64) {
    const k = await store.get(id);
    if (!k) throw new Failure(`no key with fingerprint ${id}`);
    return k;
  }
  const all = (await store.list()).filter((k) => k.fingerprint.startsWith(id));
  if (!all.length) throw new Failure(`no key id starts with ${id}`);
  if (all.length > 1) throw new Failure(`${id} is ambiguous: ${all.map((k) => k.id).join(', ')}`);
  return all[0]!;
}

// ---- formatting ----
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = -1;
  do { v /= 1024; i++; } while (v >= 1024 && i < units.length - 1);
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[i]}`;
}

/** Control characters (possible in object keys) escaped, so one row stays one line. */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function formatTime(d: Date): string {
  return d.toISOString().slice(0, 16).replace('T', ' ');
}

export function formatAge(ms: number): string {
  const m = Math.max(0, Math.floor(ms / 60_000));
  if (m < 60) return `${m}m`;
  if (m < 48 * 60) return `${Math.floor(m / 60)}h`;
  return `${Math.floor(m / 1440)}d`;
}

function alertText(k: KeyRecord): string {
  const kinds = Object.keys(k.alerts).sort();
  return kinds.length ? kinds.join(',') : '-';
}

/** Aligned columns; the last column is not padded. */
export function table(header: string[], rows: string[][], right: Set<number> = new Set()): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function listTable(keys: KeyRecord[], config: GatewayConfig, now: Date): string {
  if (!keys.length) return 'no keys';
  const rows = keys.map((k) => {
    const overdue: OverdueReason[] = overdueReasons(k, config.rotation, now);
    return [
      k.id, k.status, formatTime(k.firstSeen), formatTime(k.lastSeen), formatAge(now.getTime() - k.firstSeen.getTime()),
      String(k.objects), formatBytes(k.objectBytes), formatBytes(k.bytesWritten), String(k.requests),
      overdue.length ? overdue.join(',') : '-', alertText(k),
    ];
  });
  return table(['KEY', 'STATUS', 'FIRST SEEN (UTC)', 'LAST SEEN (UTC)', 'AGE', 'OBJECTS', 'OBJ BYTES', 'WRITTEN', 'REQUESTS', 'OVERDUE', 'ALERTS'], rows, new Set([4, 5, 6, 7, 8]));
}

function recordJson(k: KeyRecord, config: GatewayConfig, now: Date): Record<string, unknown> {
  const iso = (d: Date | undefined) => d?.toISOString() ?? null;
  return {
    id: k.id, fingerprint: k.fingerprint, status: k.status, statusAt: iso(k.statusAt),
    firstSeen: iso(k.firstSeen), lastSeen: iso(k.lastSeen), ageDays: Math.floor((now.getTime() - k.firstSeen.getTime()) / 86_400_000),
    requests: k.requests, bytesWritten: k.bytesWritten, objects: k.objects, objectBytes: k.objectBytes,
    clients: k.clients, buckets: k.buckets,
    exposure: k.exposure ? { ...k.exposure, at: iso(k.exposure.at), lastAt: iso(k.exposure.lastAt) } : null,
    alerts: Object.fromEntries(Object.entries(k.alerts).map(([kind, d]) => [kind, iso(d)])),
    overdue: overdueReasons(k, config.rotation, now),
  };
}

function showText(k: KeyRecord, config: GatewayConfig, now: Date): string {
  const overdue = overdueReasons(k, config.rotation, now);
  const rows: [string, string][] = [
    ['key', k.id],
    ['fingerprint', k.fingerprint],
    ['status', k.status + (k.statusAt ? ` (since ${formatTime(k.statusAt)})` : '')],
    ['first seen', `${formatTime(k.firstSeen)} (${formatAge(now.getTime() - k.firstSeen.getTime())} ago)`],
    ['last seen', formatTime(k.lastSeen)],
    ['requests', String(k.requests)],
    ['bytes written', `${formatBytes(k.bytesWritten)} (${k.bytesWritten} bytes)`],
    ['objects', `${k.objects} (${formatBytes(k.objectBytes)})`],
    ['clients', k.clients.length ? k.clients.map(printable).join(', ') : '-'],
    ['buckets', k.buckets.length ? k.buckets.map(printable).join(', ') : '-'],
    ['exposure', k.exposure
      ? `${formatTime(k.exposure.at)} by ${k.exposure.client} on ${k.exposure.listener} (${k.exposure.header}, request ${k.exposure.requestId})` +
        (k.exposure.count > 1 ? `; ${k.exposure.count} times, last ${formatTime(k.exposure.lastAt)}` : '')
      : '-'],
    ['alerts', Object.entries(k.alerts).map(([kind, d]) => `${kind} ${formatTime(d)}`).join(', ') || '-'],
    ['rotation policy', policyText(config.rotation)],
    ['overdue', overdue.length ? overdue.join(', ') : 'no'],
  ];
  const w = Math.max(...rows.map(([n]) => n.length));
  return rows.map(([n, v]) => `${n.padEnd(w)}  ${v}`).join('\n');
}

function objectsTable(entries: ObjectEntry[], k: KeyRecord, limit: number): string {
  if (!entries.length) return `key ${k.id} protects no known objects`;
  const t = table(['BUCKET', 'KEY', 'VERSION', 'SIZE', 'WRITTEN (UTC)'],
    entries.map((o) => [printable(o.bucket), printable(o.key), printable(o.versionId ?? '-'), o.size === null ? '?' : String(o.size), formatTime(o.at)]), new Set([3]));
  const more = entries.length >= limit && k.objects > entries.length ? `\n(${entries.length} of ${k.objects} shown)` : '';
  return t + more;
}
