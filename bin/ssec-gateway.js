#!/usr/bin/env node
// Entry point: the compiled CLI (npm run build → dist/).
import('../dist/main.js').then((m) => m.main(process.argv.slice(2))).then((code) => { if (typeof code === 'number') process.exitCode = code; });
