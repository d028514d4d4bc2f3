import { SETTINGS, envName, defaultText, type Setting } from '../config/schema.js';

export const MAIN_HELP = () => `ssec-gateway — an HTTPS gateway that makes SSE-C safe in front of S3 storage

Usage:
  ssec-gateway serve [--config FILE] [flags]     run the gateway
  ssec-gateway config check [--config FILE] [flags]
                                                 validate the configuration, print it (secrets redacted)
  ssec-gateway keys list|show|objects|retire|forget
                                                 the SSE-C keys seen, by fingerprint, and their objects
  ssec-gateway rotate --old-key K --new-key K    re-key every object of an old key, in place
  ssec-gateway decrypt --key K s3://BUCKET/KEY   read an object of encryption.mode gateway without a gateway
  ssec-gateway config docs                       print the configuration table (Markdown)
  ssec-gateway docs errors                       print the error table (Markdown)
  ssec-gateway --version

Run 'ssec-gateway COMMAND --help' for the flags of a command. Configuration flags (serve,
config check, keys, rotate):
${flagsHelp()}
`;

/** Flag list generated from the schema. */
export function flagsHelp(): string {
  const lines = (SETTINGS as readonly Setting[]).filter((s) => s.flag).map((s) => {
    const arg = s.type === 'bool' ? '' : s.type === 'enum' ? ` ${s.values!.join('|')}` : s.type === 'int' ? ' N' : s.type === 'list' ? ' A,B' : s.type === 'url' ? ' URL' : s.type === 'file' ? ' FILE' : ' VALUE';
    return `  --${s.flag}${arg}\n      ${s.doc}\n      default: ${defaultText(s)}; env ${envName(s.path)}; YAML ${s.path}`;
  });
  return ['  --config FILE\n      YAML configuration file (env SSEC_GATEWAY_CONFIG). Precedence: flags > environment > file > defaults.', ...lines].join('\n');
}

export const SERVE_HELP = () => `Usage: ssec-gateway serve [--config FILE] [flags]

Serves HTTPS (HTTP/2 and HTTP/1.1) on --host:--https-port and forwards to --upstream.
With no configuration: https://127.0.0.1:8443 with a self-signed certificate kept in the
state directory, forwarding to http://127.0.0.1:7480.

Flags:
${flagsHelp()}
`;

export const CONFIG_CHECK_HELP = () => `Usage: ssec-gateway config check [--config FILE] [flags]

Loads the configuration exactly as 'serve' would (file, then SSEC_GATEWAY_* environment, then
flags), reports every problem at once (exit 2), or prints the effective configuration as YAML
with secret values redacted (exit 0).

Flags:
${flagsHelp()}
`;
