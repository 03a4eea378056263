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
const INLINE = new Set(['zod', '@sigstore/bundle', '@sigstore/protobuf-specs', 'canonicalize']);
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

// In a self-contained verify file, node:module is only asked for createRequire(import.meta.url) — which is the
// require the file was loaded with (import.meta.url is the file's own URL there). Answering that without
// loading node:module keeps Node's ES module loader, which node:module pulls in, out of a verify start.
const moduleShim = {
  name: 'seal-one-file-node-module',
  setup(b) {
    b.onResolve({ filter: /^node:module$/ }, () => ({ path: 'node:module', namespace: 'seal-module-shim' }));
    b.onLoad({ filter: /.*/, namespace: 'seal-module-shim' }, () => ({
      loader: 'js',
      contents: [
        'export function createRequire(from) {',
        "  return from === __sealImportMetaUrl ? require : require('module').createRequire(from);",
        '}',
      ].join('\n'),
    }));
  },
};

// Commands whose cold start is measured (the verify family, as admission checks and CI gates run them once
// per image; sbom, whose module loading was ~0.3 s of CPU of a short run): each also gets one self-contained
// CommonJS file, so a run loads 1 module instead of ~15
// chunks, through require (no ES module linking) and with V8's code cache (bin/load-cached.cjs).
// bin/seal.js uses dist/cli-bundle/one/<command>.cjs when it exists, else the split bundle's main.js.
const ONE_FILE_COMMANDS = [
  'verify',
  'verify-blob',
  'verify-bundle',
  'verify-attestation',
  'verify-blob-attestation',
  'sbom',
];
// Of those, the ones that parse with zod: a process that parses a few documents and exits gains nothing from
// zod compiling a fast path for each schema (new Function per schema, ~5 ms of a cold `seal verify`), so
// these run it jitless (same validation, interpreted). Long-running commands keep the default.
const ZOD_JITLESS = new Set(['verify', 'verify-attestation', 'verify-blob-attestation']);

const common = {
  absWorkingDir: root,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  plugins: [externals],
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
  // bundled CommonJS dependencies call require() for Node built-ins
  banner: {
    js: "import { createRequire as __sealCreateRequire } from 'node:module'; const require = __sealCreateRequire(import.meta.url);",
  },
};

rmSync(outdir, { recursive: true, force: true });
const [split] = await Promise.all([
  build({
    ...common,
    entryPoints: { main: 'src/cli/main.ts' },
    outdir,
    splitting: true,
    chunkNames: 'chunk-[hash]',
  }),
  ...ONE_FILE_COMMANDS.map((name) =>
    build({
      ...common,
      format: 'cjs',
      plugins: [moduleShim, externals],
      // import() of an external (tweetnacl, undici) becomes require(): the file runs in a vm.Script, which
      // has no loader for import() on Node 20, and those packages ship CommonJS
      supported: { 'dynamic-import': false },
      // the sources are ES modules: import.meta.url becomes the bundle file's own URL
      define: { 'import.meta.url': '__sealImportMetaUrl' },
      banner: { js: "var __sealImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
      stdin: {
        contents: [
          ...(ZOD_JITLESS.has(name)
            ? ["import { config } from 'zod/mini';", 'config({ jitless: true });']
            : []),
          `import { command } from './src/cli/${name}.ts';`,
          "import { processIO } from './src/cli/io.ts';",
          "import { runCommand } from './src/cli/run.ts';",
          'export const main = (args) => runCommand(command, args, processIO());',
        ].join('\n'),
        resolveDir: root,
        sourcefile: `one-${name}.ts`,
        loader: 'ts',
      },
      outfile: join(outdir, 'one', `${name}.cjs`),
    }),
  ),
]);
const files = Object.keys(split.metafile.outputs).filter((f) => f.endsWith('.js'));
if (!files.some((f) => f.endsWith('cli-bundle/main.js'))) throw new Error('bundle-cli: no main.js produced');
