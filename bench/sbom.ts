// SBOM benchmark: time and peak memory to catalogue a Debian bookworm minbase image (debootstrap, cached
// under ~/.cache/seal-test) stored as a gzip layer in an OCI layout. Each measurement runs in a fresh
// child process; memory is peak RSS (sampled every 5 ms, and the kernel's maxRSS) above the RSS the
// process had with every module loaded. Prints a markdown table. Run: node --import tsx bench/sbom.ts

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CACHE_DIR, debianMinbase } from '../test/sbom/rootfs.js';
import { gzipLayerInto, putBlob } from './support/oci-layout.js';

const MiB = 1024 * 1024;

interface ChildResult {
  format: string;
  seconds: number;
  packages: number;
  layers: number;
  entries: number;
  uncompressedBytes: number;
  largestFile: number;
  baselineRss: number;
  peakRssSampled: number;
  maxRss: number;
}

/** Write the rootfs tarball as a one-layer OCI image (streaming: gzip + both digests in one pass). */
async function buildLayout(tarPath: string): Promise<string> {
  const dir = join(CACHE_DIR, 'bench-debian-layout');
  if (existsSync(join(dir, 'index.json'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const layer = await gzipLayerInto(dir, tarPath);
  const put = (bytes: Buffer) => putBlob(dir, bytes);
  const config = put(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      }),
    ),
  );
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [
          {
            mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
            digest: layer.digest,
            size: layer.size,
          },
        ],
      }),
    ),
  );
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'org.opencontainers.image.ref.name': 'bookworm' },
        },
      ],
    }),
  );
  return dir;
}

async function child(layout: string, format: 'spdx-json' | 'cyclonedx-json'): Promise<void> {
  const { LayoutStore } = await import('../src/oci/layout.js');
  const { parseReference } = await import('../src/oci/ref.js');
  const { catalogImage, writeSbom } = await import('../src/sbom/generate.js');
  // load every module the run touches (catalogers, writers, zod schemas) before the baseline
  writeSbom([], { name: 'warm-up', digest: `sha256:${'0'.repeat(64)}` }, format);
  await import('better-sqlite3');
  global.gc?.();
  const baselineRss = process.memoryUsage().rss;
  let peak = baselineRss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  const start = performance.now();
  const result = await catalogImage(new LayoutStore(), parseReference(`oci-layout:${layout}:bookworm`));
  const document = writeSbom(result.packages, { name: result.name, digest: result.digest }, format);
  const text = JSON.stringify(document);
  const seconds = (performance.now() - start) / 1000;
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  const out: ChildResult = {
    format,
    seconds,
    packages: result.packages.length,
    layers: result.stats.layers,
    entries: result.stats.entries,
    uncompressedBytes: result.stats.uncompressedBytes,
    largestFile: result.stats.largestFile,
    baselineRss,
    peakRssSampled: peak,
    maxRss: process.resourceUsage().maxRSS * 1024,
  };
  if (text.length === 0) throw new Error('empty document');
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') {
    await child(process.argv[3]!, process.argv[4] as 'spdx-json' | 'cyclonedx-json');
    return;
  }
  const rootfs = debianMinbase();
  if ('skip' in rootfs) {
    console.error(`cannot run: ${rootfs.skip}`);
    process.exitCode = 1;
    return;
  }
  const layout = await buildLayout(rootfs.tar);
  const self = fileURLToPath(import.meta.url);
  const rows: ChildResult[] = [];
  for (const format of ['spdx-json', 'cyclonedx-json', 'spdx-json', 'cyclonedx-json']) {
    const run = spawnSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', self, '--child', layout, format],
      {
        encoding: 'utf8',
        cwd: fileURLToPath(new URL('..', import.meta.url)),
      },
    );
    if (run.status !== 0) throw new Error(`child failed: ${run.stderr}`);
    rows.push(JSON.parse(run.stdout.trim().split('\n').pop()!) as ChildResult);
  }
  console.log('## SBOM: Debian bookworm minbase (debootstrap), one gzip layer, OCI layout\n');
  console.log(
    '| format | time (s) | packages | tar entries | uncompressed | largest file | peak RSS − baseline (sampled) | maxRSS − baseline | budget 2× largest file | within |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of rows) {
    const sampled = r.peakRssSampled - r.baselineRss;
    const kernel = r.maxRss - r.baselineRss;
    const budget = 2 * r.largestFile;
    console.log(
      `| ${r.format} | ${r.seconds.toFixed(2)} | ${r.packages} | ${r.entries} | ${(r.uncompressedBytes / MiB).toFixed(1)} MiB | ${(r.largestFile / MiB).toFixed(1)} MiB | ${(sampled / MiB).toFixed(1)} MiB | ${(kernel / MiB).toFixed(1)} MiB | ${(budget / MiB).toFixed(1)} MiB | ${Math.max(sampled, kernel) < budget ? 'yes' : 'NO'} |`,
    );
  }
  console.log(
    `\nbaseline RSS (node + tsx + seal modules loaded): ${(rows[0]!.baselineRss / MiB).toFixed(1)} MiB; absolute maxRSS ${(rows[0]!.maxRss / MiB).toFixed(1)} MiB`,
  );
}

await main();
