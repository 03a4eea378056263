#!/usr/bin/env node
import module from 'node:module';

// Node 22.1+ keeps V8's compiled code between runs (faster cold start); on Node 20 this is absent and skipped.
module.enableCompileCache?.();

// The CLI as bundled by `npm run build` (scripts/bundle-cli.mjs): a few chunks instead of ~160 modules.
const { main } = await import('../dist/cli-bundle/main.js');

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`Error: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
