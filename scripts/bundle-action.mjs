// Build step: bundles the GitHub Action's entry (src/action/entry.ts) with every dependency it loads into one
// CommonJS file, action/dist/index.cjs, which action.yml runs with node20. The file is committed: a runner
// checks the repository out at the ref of `uses: OWNER/seal@v1` and runs it, with no `npm install` and no build.
// So nothing may stay external (test/action/action.test.ts runs a copy from a directory with no node_modules),
// and the output must be reproducible: test/action/bundle.test.ts rebuilds it into a temporary file and fails
// when the committed bytes differ. Optional native code (the log's ECDSA addon) is absent on a runner and its
// JavaScript route is used.
//
//   node scripts/bundle-action.mjs                     writes action/dist/index.cjs (commit it)
//   node scripts/bundle-action.mjs --outfile FILE      writes FILE instead (the staleness test)
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const at = process.argv.indexOf('--outfile');
const outfile = at > 0 ? resolve(process.argv[at + 1] ?? '') : join(root, 'action', 'dist', 'index.cjs');
if (at > 0 && !process.argv[at + 1]) throw new Error('bundle-action: --outfile needs a path');
mkdirSync(dirname(outfile), { recursive: true });
await build({
  absWorkingDir: root,
  entryPoints: ['src/action/entry.ts'],
  outfile,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  supported: { 'dynamic-import': false },
  define: { 'import.meta.url': '__sealImportMetaUrl' },
  banner: { js: "var __sealImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  // Reproducible wherever it is built: module paths in the output (comments, CommonJS wrapper names) stay
  // relative to the repository, `node_modules/…`, even when node_modules is a symlink to another checkout's.
  preserveSymlinks: true,
  // Loaded only for features a runner cannot use without installing them (PKCS#11 tokens, CycloneDX XML):
  // those fail with "Cannot find module" when asked for, everything else runs from the one file.
  external: ['pkcs11js', 'xmlbuilder2'],
  legalComments: 'none',
  // Unminified: the committed file stays reviewable and its diffs follow the sources that changed.
  minify: false,
  logLevel: 'warning',
});
