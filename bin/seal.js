#!/usr/bin/env node
import { existsSync } from 'node:fs';
import module, { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

// Node 22.1+ keeps V8's compiled code between runs (faster cold start); on Node 20 this is absent and skipped.
module.enableCompileCache?.();

// The CLI as bundled by `npm run build` (scripts/bundle-cli.mjs): a command with a self-contained file of its
// own (the verify family) loads just that, through V8's code cache; any other goes through the split
// bundle's command table.
const argv = process.argv.slice(2);
const one = /^[a-z][a-z-]*$/.test(argv[0] ?? '')
  ? fileURLToPath(new URL(`../dist/cli-bundle/one/${argv[0]}.cjs`, import.meta.url))
  : undefined;
const [run, args] =
  one && existsSync(one)
    ? [createRequire(import.meta.url)('./load-cached.cjs').loadCached(one).main, argv.slice(1)]
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
