// Build step: bundles the GitHub Action's entry (src/action/entry.ts) with every dependency it loads into one
// CommonJS file, dist/action/index.cjs, which action.yml runs with node20. The runner does no `npm install`, so
// nothing may stay external: test/action/action.test.ts runs a copy of the file from a directory with no
// node_modules. Optional native code (the log's ECDSA addon) is absent there and its JavaScript route is used.
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'action');
rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['src/action/entry.ts'],
  outfile: join(outdir, 'index.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  supported: { 'dynamic-import': false },
  define: { 'import.meta.url': '__sealImportMetaUrl' },
  banner: { js: "var __sealImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  // Loaded only for features a runner cannot use without installing them (PKCS#11 tokens, CycloneDX XML):
  // those fail with "Cannot find module" when asked for, everything else runs from the one file.
  external: ['pkcs11js', 'xmlbuilder2'],
  legalComments: 'none',
  logLevel: 'warning',
});
