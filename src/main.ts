/**
 * Process entry: `ssec-gateway serve | config check | config docs | docs errors`.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig, parseArgs, redactedYaml, type GatewayConfig } from './config/load.js';
import { settingsMarkdown } from './config/schema.js';
import { errorsMarkdown } from './errors/markdown.js';
import cluster from 'node:cluster';
import { createGateway, type Addresses } from './gateway.js';
import type { Logger } from './logging/logger.js';
import { startPrimary, startWorker, workerCount } from './server/workers.js';
import { CONFIG_CHECK_HELP, MAIN_HELP, SERVE_HELP } from './cli/help.js';
import { keysCommand } from './cli/keys.js';
import { decryptCommand } from './cli/decrypt.js';
import { ROTATE_BOOLEANS, ROTATE_FLAGS, ROTATE_HELP, rotateCommand } from './cli/rotate.js';

/** The flags of `keys` that are its own, not configuration. */
const KEYS_OWN_FLAGS = ['json', 'force', 'help', 'limit', 'status', 'overdue'];

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Loads the configuration from a command's argv; `own` flags belong to the command, not to the config. */
function load(argv: string[], own: string[] = [], booleans: string[] = [], positionals = false): { config: GatewayConfig; flags: Map<string, string[]>; positional: string[] } {
  const args = parseArgs(argv, ['help', ...booleans]);
  const problems = [...args.problems];
  if (args.positional.length && !positionals) problems.push(`unexpected argument(s): ${args.positional.join(' ')}`);
  let config: GatewayConfig | undefined;
  try {
    config = loadConfig({ flags: args.flags, configFile: args.flags.get('config')?.at(-1), ignoreFlags: own });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(...e.problems);
  }
  if (problems.length || !config) throw new ConfigError(problems);
  return { config, flags: args.flags, positional: args.positional };
}

export async function main(argv: string[]): Promise<number | undefined> {
  const [cmd, sub] = argv;
  const wantsHelp = argv.includes('--help') || argv.includes('-h');
  try {
    if (cmd === '--version' || cmd === 'version') { console.log(version()); return 0; }
    if (cmd === 'serve') {
      if (wantsHelp) { process.stdout.write(SERVE_HELP()); return 0; }
      return await serve(load(argv.slice(1)).config);
    }
    if (cmd === 'config' && sub === 'check') {
      if (wantsHelp) { process.stdout.write(CONFIG_CHECK_HELP()); return 0; }
      process.stdout.write(redactedYaml(load(argv.slice(2)).config));
      return 0;
    }
    if (cmd === 'keys') {
      const keysArgv = argv.slice(1);
      if (wantsHelp) return await keysCommand(keysArgv, loadConfig({ env: {} }), process.stdout);
      const { config } = load(keysArgv, KEYS_OWN_FLAGS, KEYS_OWN_FLAGS, true);
      return await keysCommand(keysArgv, config, process.stdout);
    }
    if (cmd === 'rotate') {
      if (wantsHelp) { process.stdout.write(ROTATE_HELP); return 0; }
      const { config, flags } = load(argv.slice(1), ROTATE_FLAGS, ROTATE_BOOLEANS);
      return await rotateCommand(flags, config, process.stdout);
    }
    if (cmd === 'decrypt') return await decryptCommand(argv.slice(1), process.stdout, process.stderr);
    if (cmd === 'config' && sub === 'docs') { console.log(settingsMarkdown()); return 0; }
    if (cmd === 'docs' && sub === 'errors') { console.log(errorsMarkdown()); return 0; }
    if (!cmd || wantsHelp || cmd === 'help') { process.stdout.write(MAIN_HELP()); return cmd ? 0 : 2; }
    process.stderr.write(`ssec-gateway: unknown command "${argv.join(' ')}"\n\n${MAIN_HELP()}`);
    return 2;
  } catch (e) {
    if (e instanceof ConfigError) { process.stderr.write(`ssec-gateway: ${e.message}\n`); return 2; }
    if (cmd === 'rotate' || cmd === 'keys') { process.stderr.write(`ssec-gateway ${cmd}: ${(e as Error).message}\n`); return 2; }
    throw e;
  }
}

async function serve(config: GatewayConfig): Promise<undefined> {
  const n = workerCount(config);
  if (cluster.isWorker) { await startWorker(config); return undefined; }
  let addrs: Addresses;
  let selfSignedCert: string | undefined;
  let log: Logger;
  let close: () => Promise<void>;
  if (n > 1) {
    const p = await startPrimary(config, n);
    ({ addresses: addrs, selfSignedCert, log } = p);
    close = () => p.close();
  } else {
    const gw = createGateway(config);
    addrs = await gw.listen();
    ({ selfSignedCert, log } = gw);
    close = () => gw.close();
  }
  const host = addrs.https.family === 'IPv6' ? `[${addrs.https.address}]` : addrs.https.address;
  process.stderr.write(`ssec-gateway ${version()}: https://${host}:${addrs.https.port} → ${config.upstream.url}` +
    (addrs.http ? `; plaintext http on port ${addrs.http.port}` : '') + `; admin http://${config.listen.adminHost}:${addrs.admin!.port}/metrics` +
    (n > 1 ? `; ${n} worker processes` : '') +
    (selfSignedCert ? `\n  self-signed certificate: ${selfSignedCert} (e.g. AWS_CA_BUNDLE=${selfSignedCert})` : '') + '\n');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    void close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return undefined;
}
