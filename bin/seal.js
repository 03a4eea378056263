#!/usr/bin/env node
import module from 'node:module';

// Node 22.1+ keeps V8's compiled code between runs (faster cold start); on Node 20 this is absent and skipped.
module.enableCompileCache?.();

const { main } = await import('../dist/cli/main.js');

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`Error: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
