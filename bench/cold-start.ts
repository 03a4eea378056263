// Cold start of the verify family against Node's own start (issue #18, target 1): `seal verify` (an OCI
// layout image signed with a key), `seal verify-blob` and `seal verify-bundle` (one conformance bundle,
// public-good root), each run as a user runs it (`node bin/seal.js …`), interleaved with `node -e 0` round by
// round, ratios taken within each round. Twice: with the environment as it is, and without
// NODE_EXTRA_CA_CERTS when that is set (Node then reads those certificates before any script runs, which
// moves its floor a lot). Where valgrind exists, also instructions counted by callgrind (repeatable where
// wall time on a shared machine is not), median of BENCH_CALLGRIND_RUNS (default 3; 0 turns it off).
// Run: node --import tsx bench/cold-start.ts   (BENCH_COLD_RUNS rounds, default 20; builds dist/ when stale)

import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KeySigner } from '../src/keys/signer.js';
import { LayoutStore } from '../src/oci/layout.js';
import { descriptorFor, encodeManifest, type ImageManifest, MediaTypes } from '../src/oci/manifest.js';
import { parseReference } from '../src/oci/ref.js';
import { signImage } from '../src/sign/image.js';
import { coldStarts, ensureBundled } from './support/cold-start.js';

const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 20);
const CALLGRIND_RUNS = Number(process.env.BENCH_CALLGRIND_RUNS ?? 3);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const conformance = path.resolve(repoRoot, '../shared/conformance');
const IDENTITY =
  'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const ISSUER = 'https://token.actions.githubusercontent.com';

/** An image with one layer in a fresh OCI layout, signed with a new key (bundle v0.3 referrer). */
async function signedLayout(dir: string): Promise<{ image: string; keyFile: string }> {
  const store = new LayoutStore();
  const image = `oci-layout:${path.join(dir, 'layout')}:v1`;
  const ref = parseReference(image);
  const layer = new Uint8Array(randomBytes(4096));
  const config = new TextEncoder().encode(JSON.stringify({ architecture: 'amd64', os: 'linux' }));
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: descriptorFor(config, MediaTypes.ociConfig),
    layers: [descriptorFor(layer, MediaTypes.ociLayerGzip)],
  };
  await store.putBlob(ref, config, MediaTypes.ociConfig);
  await store.putBlob(ref, layer, MediaTypes.ociLayerGzip);
  await store.putManifest(ref, encodeManifest(manifest), MediaTypes.ociManifest);
  const signer = new KeySigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
  await signImage(ref, { signer, store, newBundleFormat: true });
  const keyFile = path.join(dir, 'k.pub');
  writeFileSync(keyFile, signer.publicKeyPem());
  return { image, keyFile };
}

interface FloorRecord {
  reads: string[];
  keys: string[];
  verifies: {
    algorithm: string | null;
    key: number;
    options: Record<string, unknown>;
    data: string;
    signature: string;
    result: boolean;
  }[];
}

/**
 * The floor of a command: one run of it with bench/support/floor-recorder.cjs preloaded records the files it
 * reads and the signature verifications it makes; the floor is a CommonJS script that reads those files
 * (parsing the JSON ones), imports each key the verifications use and makes the same verifications — what any
 * Node verifier of that input has to do, with nothing of seal's. Returns the script's path.
 */
function floorScript(dir: string, name: string, argv: string[], env: NodeJS.ProcessEnv): string {
  const record = path.join(dir, `${name}.floor.json`);
  const r = spawnSync(
    argv[0]!,
    ['-r', path.join(repoRoot, 'bench/support/floor-recorder.cjs'), ...argv.slice(1)],
    {
      cwd: repoRoot,
      env: { ...env, FLOOR_RECORD: record },
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`recording the floor of ${name} failed: ${r.stderr}`);
  const rec = JSON.parse(readFileSync(record, 'utf8')) as FloorRecord;
  if (rec.verifies.length === 0) throw new Error(`${name}: no signature verification was recorded`);
  const script = path.join(dir, `${name}.floor.cjs`);
  writeFileSync(
    script,
    [
      "'use strict';",
      "const { readFileSync } = require('node:fs');",
      "const { createPublicKey, verify } = require('node:crypto');",
      'const b = (s) => Buffer.from(s, "base64");',
      `for (const f of ${JSON.stringify(rec.reads)}) {`,
      '  const bytes = readFileSync(f);',
      "  if (bytes[0] === 0x7b) JSON.parse(bytes.toString('utf8'));",
      '}',
      `const keys = ${JSON.stringify(rec.keys)}.map((k) => createPublicKey({ key: b(k), format: 'der', type: 'spki' }));`,
      `for (const v of ${JSON.stringify(rec.verifies)}) {`,
      '  if (verify(v.algorithm, b(v.data), { ...v.options, key: keys[v.key] }, b(v.signature)) !== v.result) process.exit(1);',
      '}',
      '',
    ].join('\n'),
  );
  return script;
}

/** Instructions of one whole process under callgrind (all threads), median of `runs`. */
function instructions(argv: string[], env: NodeJS.ProcessEnv, runs: number): number | undefined {
  const counts: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', ...argv], {
      cwd: repoRoot,
      env,
      encoding: 'utf8',
    });
    const m = /I\s+refs:\s+([\d,]+)/.exec(r.stderr ?? '');
    if (r.status !== 0 || !m) return undefined;
    counts.push(Number(m[1]!.replaceAll(',', '')));
  }
  return [...counts].sort((a, b) => a - b)[Math.floor(counts.length / 2)];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');

async function main(): Promise<void> {
  const bundleFile = path.join(conformance, 'bundle-verify', 'happy-path-v0.3', 'bundle.sigstore.json');
  if (!existsSync(bundleFile)) {
    console.log(`skipped: ${bundleFile} does not exist`);
    return;
  }
  ensureBundled(repoRoot, 'dist/cli-bundle/one/verify.cjs', 'src/verify/image.ts');
  const dir = mkdtempSync(path.join(tmpdir(), 'seal-bench-cold-'));
  try {
    const { image, keyFile } = await signedLayout(dir);
    const node = process.execPath;
    const seal = path.join(repoRoot, 'bin/seal.js');
    const artifact = path.join(conformance, 'a.txt');
    const identity = ['--certificate-identity', IDENTITY, '--certificate-oidc-issuer', ISSUER];
    const seals: Record<string, string[]> = {
      'seal verify': [node, seal, 'verify', '--key', keyFile, '--insecure-ignore-tlog', image],
      'seal verify-blob': [node, seal, 'verify-blob', '--bundle', bundleFile, ...identity, artifact],
      'seal verify-bundle': [node, seal, 'verify-bundle', '--bundle', bundleFile, ...identity, artifact],
    };
    // each seal command's floor; verify-blob and verify-bundle read the same files and make the same checks
    const floorOf: Record<string, string> = {
      'seal verify': 'floor: verify (key, OCI layout)',
      'seal verify-blob': 'floor: verify-blob/-bundle',
      'seal verify-bundle': 'floor: verify-blob/-bundle',
    };
    const commands: Record<string, string[]> = {
      'node -e 0': [node, '-e', '0'],
      'node -e "require(\'node:crypto\')"': [node, '-e', "require('node:crypto')"],
      [floorOf['seal verify']!]: [node, floorScript(dir, 'verify', seals['seal verify']!, process.env)],
      [floorOf['seal verify-blob']!]: [
        node,
        floorScript(dir, 'verify-blob', seals['seal verify-blob']!, process.env),
      ],
      ...seals,
    };
    const envs: [string, NodeJS.ProcessEnv][] = [['environment as is', process.env]];
    if (process.env.NODE_EXTRA_CA_CERTS) {
      const { NODE_EXTRA_CA_CERTS: _, ...without } = process.env;
      envs[0]![0] = `with NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS}`;
      envs.push(['without NODE_EXTRA_CA_CERTS', without]);
    }
    const callgrind =
      CALLGRIND_RUNS > 0 && spawnSync('valgrind', ['--version'], { encoding: 'utf8' }).status === 0;

    console.log(`\n## Cold start vs Node's floor (\`bench/cold-start.ts\`)\n`);
    console.log(
      `${new Date().toISOString()}, ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), Node ${process.version}; ` +
        `${COLD_RUNS} interleaved rounds (${Object.keys(commands).join(', ')}) after one warm-up; ` +
        `the code cache warm (as from the second run on). A floor reads the files its command reads and makes ` +
        `the same signature verifications (recorded from one run of the command), nothing else.`,
    );
    for (const [label, env] of envs) {
      const before = load();
      const cold = coldStarts(commands, COLD_RUNS, repoRoot, env);
      const after = load();
      const node0 = cold['node -e 0']!;
      console.log(`\n### ${label} (load average ${before} before, ${after} after)\n`);
      console.log(
        '| command | wall median | CPU median | wall / `node -e 0` (same round, median) | wall / its floor (same round, median) | instructions (callgrind) | instructions / `node -e 0` | instructions / its floor |',
      );
      console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
      const ir: Record<string, number | undefined> = {};
      for (const name of Object.keys(commands))
        ir[name] = callgrind ? instructions(commands[name]!, env, CALLGRIND_RUNS) : undefined;
      const ratio = (a: number | undefined, b: number | undefined) =>
        a !== undefined && b !== undefined ? `${(a / b).toFixed(2)}×` : 'n/a';
      for (const [name, c] of Object.entries(cold)) {
        const floorName = floorOf[name];
        const wallRatio = (base: number[]) => `${median(c.wall.map((w, i) => w / base[i]!)).toFixed(2)}×`;
        console.log(
          `| ${name}${c.ok ? '' : ' (FAILED)'} | ${median(c.wall).toFixed(0)} ms | ${c.cpu.length > 0 ? `${median(c.cpu).toFixed(0)} ms` : 'n/a'} | ` +
            `${wallRatio(node0.wall)} | ${floorName ? wallRatio(cold[floorName]!.wall) : ''} | ` +
            `${ir[name] !== undefined ? `${(ir[name]! / 1e6).toFixed(0)} M` : 'n/a'} | ${ratio(ir[name], ir['node -e 0'])} | ` +
            `${floorName ? ratio(ir[name], ir[floorName]) : ''} |`,
        );
        if (!c.ok) process.exitCode = 1;
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
