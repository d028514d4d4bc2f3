#!/usr/bin/env node
// Entry point: the compiled CLI (npm run build → dist/). `serve` keeps running; one-shot commands
// (config, keys, rotate) exit with their code once their output is flushed, even if a client (a
// Redis reconnect timer) would keep the event loop alive.
import('../dist/main.js').then((m) => m.main(process.argv.slice(2))).then((code) => {
  if (typeof code !== 'number') return;
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
});
