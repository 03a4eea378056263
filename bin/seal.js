#!/usr/bin/env node
// The `seal` command. CommonJS (bin/package.json), not an ES module: a CommonJS entry starts without Node's ES
// module loader, which is a tenth of a cold `seal verify` on Node 20 (its resolver, translators and module
// jobs are compiled and run before the first line of an .mjs entry).
'use strict';

const { existsSync } = require('node:fs');
const path = require('node:path');

// Node 22.1+ keeps V8's compiled code between runs (faster cold start). Older Node has no such call, and
// node:module is not loaded there at all: it brings the ES module loader with it.
if (Number(process.versions.node.split('.')[0]) >= 22) require('node:module').enableCompileCache?.();

// The CLI as bundled by `npm run build` (scripts/bundle-cli.mjs): a command with a self-contained file of its
// own (the verify family) loads just that, through V8's code cache; any other goes through the split
// bundle's command table (ES modules, loaded with import()).
const argv = process.argv.slice(2);
const bundle = path.join(__dirname, '..', 'dist', 'cli-bundle');
const one = /^[a-z][a-z-]*$/.test(argv[0] ?? '') ? path.join(bundle, 'one', `${argv[0]}.cjs`) : undefined;
const started =
  one && existsSync(one)
    ? Promise.resolve().then(() =>
        require('./load-cached.cjs')
          // a help request runs a sliver of the command: its compiled code is not what a verification needs
          .loadCached(one, { store: !argv.includes('--help') && !argv.includes('-h') })
          .main(argv.slice(1)),
      )
    : import(require('node:url').pathToFileURL(path.join(bundle, 'main.js')).href).then((m) => m.main(argv));

started.then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`Error: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
