// Build step after tsc: bundles the CLI (src/cli/main.ts and every command it loads) into a few ES module
// chunks under dist/cli-bundle/, which bin/seal.js runs. Why: Node 20 has no compile cache, and resolving,
// reading and linking ~160 small modules cost more than half of a cold `seal verify` (CPU profile:
// node's ESM loader, not seal's code). Bundling makes that a few dozen chunks and tree-shakes zod's locales.
// The library entry (dist/index.js) stays the tsc output; both come from the same sources in one build.

import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'cli-bundle');

// Pure-JS packages on the sign/verify paths are bundled (tree-shaken, one parse). Everything else stays an
// import Node resolves at run time: native addons (better-sqlite3), packages that start workers or read
// their own files by path (pino, fastify's plugins), and the server-side stacks no short command loads.
const INLINE = new Set(['zod', '@sigstore/bundle', '@sigstore/protobuf-specs', 'canonicalize', 'tweetnacl']);
const packageOf = (spec) =>
  spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];

const externals = {
  name: 'seal-externals',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('node:') || !INLINE.has(packageOf(args.path))
        ? { path: args.path, external: true }
        : undefined,
    );
  },
};

rmSync(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/cli/main.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  plugins: [externals],
  sourcemap: 'linked',
  legalComments: 'none',
  chunkNames: 'chunk-[hash]',
  logLevel: 'warning',
  metafile: true,
  // bundled CommonJS dependencies call require() for Node built-ins
  banner: {
    js: "import { createRequire as __sealCreateRequire } from 'node:module'; const require = __sealCreateRequire(import.meta.url);",
  },
});
const files = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'));
if (!files.some((f) => f.endsWith('cli-bundle/main.js'))) throw new Error('bundle-cli: no main.js produced');
