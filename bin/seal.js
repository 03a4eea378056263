#!/usr/bin/env node
import { existsSync } from 'node:fs';
import module from 'node:module';

// Node 22.1+ keeps V8's compiled code between runs (faster cold start); on Node 20 this is absent and skipped.
module.enableCompileCache?.();

// The CLI as bundled by `npm run build` (scripts/bundle-cli.mjs): a command with a self-contained file of its
// own (the verify family) loads just that; any other goes through the split bundle's command table.
const argv = process.argv.slice(2);
const one = /^[a-z][a-z-]*$/.test(argv[0] ?? '')
  ? new URL(`../dist/cli-bundle/one/${argv[0]}.js`, import.meta.url)
  : undefined;
const [run, args] =
  one && existsSync(one)
    ? [(await import(one.href)).main, argv.slice(1)]
    : [(await import('../dist/cli-bundle/main.js')).main, argv];

run(args).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`Error: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
