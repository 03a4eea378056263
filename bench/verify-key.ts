// Keyed image verification benchmark: verifyImage signatures/s (bundle and legacy formats, warm, in-process)
// against bare node:crypto ECDSA P-256 verifies/s, and cold start of `seal verify` vs `node -e ''`. cosign.md §2e.
// Run: node --import tsx bench/verify-key.ts   (builds dist/ when missing; BENCH_SECONDS, BENCH_COLD_RUNS)

import { generateKeyPairSync, randomBytes, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KeySigner } from '../src/keys/signer.js';
import { LayoutStore } from '../src/oci/layout.js';
import type { ImageStore } from '../src/oci/store.js';
import { descriptorFor, encodeManifest, type ImageManifest, MediaTypes } from '../src/oci/manifest.js';
import { parseReference } from '../src/oci/ref.js';
import { signImage } from '../src/sign/image.js';
import { verifyImage } from '../src/verify/image.js';
import type { Expectations } from '../src/verify/types.js';
import { coldStarts, ensureBundled } from './support/cold-start.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 15);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** An image with one random layer, pushed to a layout under `tag`. */
async function pushImage(store: LayoutStore, dir: string, tag: string): Promise<string> {
  const ref = parseReference(`oci-layout:${dir}:${tag}`);
  const layer = new Uint8Array(randomBytes(4096));
  const config = new TextEncoder().encode(JSON.stringify({ architecture: 'amd64', os: 'linux', tag }));
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: descriptorFor(config, MediaTypes.ociConfig),
    layers: [descriptorFor(layer, MediaTypes.ociLayerGzip)],
  };
  await store.putBlob(ref, config, MediaTypes.ociConfig);
  await store.putBlob(ref, layer, MediaTypes.ociLayerGzip);
  await store.putManifest(ref, encodeManifest(manifest), MediaTypes.ociManifest);
  return `oci-layout:${dir}:${tag}`;
}

/**
 * The layout store with every read memoized, so a run measures verification work (parsing, digests, checks,
 * the ECDSA verify) without the disk reads. Safe here: nothing writes while the benchmark reads.
 */
function memoized(store: ImageStore): ImageStore {
  const cache = new Map<string, Promise<unknown>>();
  const memo =
    <A extends unknown[], R>(name: string, fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      const key = `${name} ${args.map((a) => (typeof a === 'object' ? JSON.stringify(a) : String(a))).join(' ')}`;
      let hit = cache.get(key) as Promise<R> | undefined;
      if (!hit) {
        hit = fn(...args);
        cache.set(key, hit);
      }
      return hit;
    };
  return {
    ...store,
    resolve: memo('resolve', store.resolve.bind(store)),
    getManifest: memo('getManifest', store.getManifest.bind(store)),
    getBlob: memo('getBlob', store.getBlob.bind(store)),
    referrers: memo('referrers', store.referrers.bind(store)),
    hasBlob: store.hasBlob.bind(store),
    openBlob: store.openBlob.bind(store),
    putBlob: store.putBlob.bind(store),
    putManifest: store.putManifest.bind(store),
    tag: store.tag.bind(store),
    listTags: memo('listTags', store.listTags.bind(store)),
  };
}

/** Calls `op` for SECONDS after a warm-up; returns operations per second. */
async function throughput(op: () => Promise<void> | void): Promise<number> {
  for (let i = 0; i < 20; i++) await op();
  let n = 0;
  const start = performance.now();
  const deadline = start + SECONDS * 1000;
  while (performance.now() < deadline) {
    for (let i = 0; i < 10; i++) await op();
    n += 10;
  }
  return (n * 1000) / (performance.now() - start);
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'seal-bench-verify-key-'));
  try {
    const layout = path.join(dir, 'layout');
    const store = new LayoutStore();
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signer = new KeySigner(privateKey);
    const pubPem = signer.publicKeyPem();
    const keyFile = path.join(dir, 'k.pub');
    writeFileSync(keyFile, pubPem);

    const bundleImage = await pushImage(store, layout, 'bundle');
    const legacyImage = await pushImage(store, layout, 'legacy');
    await signImage(parseReference(bundleImage), { signer, store, newBundleFormat: true });
    await signImage(parseReference(legacyImage), { signer, store, newBundleFormat: false });

    const expectations: Expectations = { keys: [pubPem], ignoreTlog: true };
    const verifyOp =
      (image: string, from: ImageStore = store) =>
      async () => {
        const verdict = await verifyImage(image, expectations, { store: from });
        if (!verdict.ok || verdict.signatures.length !== 1) throw new Error(`${image}: ${verdict.message}`);
      };
    // The baseline: the one ECDSA P-256 verification each signature needs, on a payload of the same size.
    const payload = randomBytes(400);
    const signature = cryptoSign('sha256', payload, privateKey);
    const bare = await throughput(() => {
      if (!cryptoVerify('sha256', payload, publicKey, signature)) throw new Error('bare verify failed');
    });
    const bundle = await throughput(verifyOp(bundleImage));
    const legacy = await throughput(verifyOp(legacyImage));
    const cached = memoized(store);
    const bundleCached = await throughput(verifyOp(bundleImage, cached));
    const legacyCached = await throughput(verifyOp(legacyImage, cached));

    ensureBundled(repoRoot, 'dist/cli-bundle/one/verify.cjs', 'src/verify/image.ts');
    const seal = path.join(repoRoot, 'bin/seal.js');
    const node = process.execPath;
    const cold = coldStarts(
      {
        verify: [node, seal, 'verify', '--key', keyFile, '--insecure-ignore-tlog', bundleImage],
        version: [node, seal, 'version'],
        node: [node, '-e', ''],
      },
      COLD_RUNS,
      repoRoot,
    );

    const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
    console.log(`\n## Keyed image verification (\`seal verify --key\`)\n`);
    console.log(
      `${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores (${cpu}), Node ${process.version}; ` +
        `OCI layout on local disk, ECDSA P-256 key, log ignored (\`--insecure-ignore-tlog\`).\n`,
    );
    console.log(`### Warm, in-process: \`verifyImage\` (${SECONDS}s each, one signature per image)\n`);
    console.log('| measure | per second | ms each | vs bare node:crypto verify |');
    console.log('|---|---:|---:|---:|');
    const row = (name: string, ops: number) =>
      console.log(
        `| ${name} | ${ops.toFixed(0)} | ${(1000 / ops).toFixed(3)} | ${(bare / ops).toFixed(1)}× slower |`,
      );
    console.log(
      `| bare \`crypto.verify\` ECDSA P-256 (baseline) | ${bare.toFixed(0)} | ${(1000 / bare).toFixed(3)} | 1× |`,
    );
    row('`verifyImage`, bundle v0.3 referrer (DSSE)', bundle);
    row('`verifyImage`, legacy `.sig` simple-signing', legacy);
    row('`verifyImage`, bundle, store reads memoized (verification work only)', bundleCached);
    row('`verifyImage`, legacy, store reads memoized (verification work only)', legacyCached);
    console.log(
      '\n`verifyImage` includes resolving the tag, listing referrers / reading the `.sig` manifest and blobs from disk, parsing and every check; ' +
        'the memoized rows serve every store read from memory, leaving parsing, digests and checks.',
    );

    console.log(`\n### Cold start (${COLD_RUNS} runs each, interleaved, after one warm-up)\n`);
    console.log('| command | wall median | wall p90 | CPU median (user+sys) | CPU p90 | wall vs `node -e` |');
    console.log('|---|---:|---:|---:|---:|---:|');
    const nodeWall = quantile(cold.node!.wall, 0.5);
    const label: Record<string, string> = {
      verify: '`seal verify --key K.pub --insecure-ignore-tlog oci-layout:DIR:tag`',
      version: '`seal version`',
      node: "`node -e ''` (Node's floor)",
    };
    for (const [name, c] of Object.entries(cold)) {
      const cpuCells =
        c.cpu.length > 0
          ? `${quantile(c.cpu, 0.5).toFixed(0)} ms | ${quantile(c.cpu, 0.9).toFixed(0)} ms`
          : 'n/a | n/a';
      console.log(
        `| ${label[name]}${c.ok ? '' : ' (FAILED)'} | ${quantile(c.wall, 0.5).toFixed(0)} ms | ${quantile(c.wall, 0.9).toFixed(0)} ms | ${cpuCells} | ${(quantile(c.wall, 0.5) / nodeWall).toFixed(2)}× |`,
      );
    }
    if (cold.verify!.cpu.length > 0 && cold.node!.cpu.length > 0) {
      const over = quantile(cold.verify!.cpu, 0.5) - quantile(cold.node!.cpu, 0.5);
      console.log(`\nseal verify's own CPU above bare node: ${over.toFixed(0)} ms (median).`);
    }
    if (!cold.verify!.ok) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
