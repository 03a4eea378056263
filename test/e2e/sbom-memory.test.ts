// End to end: `seal sbom` over an image whose layer holds a 50 MB dpkg status database keeps its peak RSS
// within twice that file's size above the command's own baseline (the same `seal sbom` over an image with a
// one-package status, measured the same way: Node, the command's modules, the layout store): the status is
// parsed as it streams, a line at a time, and the document is written in pieces.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTar, writeLayoutImage } from '../sbom/helpers.js';
import { runSealMeasured, SEAL_BIN } from '../support/peak-rss.js';

const STATUS_BYTES = 50 * 1024 * 1024;

/** A dpkg status database of about `bytes`: installed packages with multi-line descriptions and conffiles. */
function dpkgStatus(bytes: number): { text: Buffer; packages: number } {
  const parts: string[] = [];
  let size = 0;
  let n = 0;
  const para =
    ' Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt.\n';
  while (size < bytes) {
    const stanza =
      `Package: pkg-${n}\nStatus: install ok installed\nPriority: optional\nSection: libs\n` +
      `Installed-Size: ${100 + (n % 900)}\nMaintainer: Seal Test <test@example.com>\nArchitecture: amd64\n` +
      `Multi-Arch: same\nSource: src-${n >> 2}\nVersion: 1.${n % 97}.${n % 13}-${n % 5}\n` +
      `Depends: libc6 (>= 2.36), pkg-${Math.max(0, n - 1)}\n` +
      `Conffiles:\n /etc/pkg-${n}/a.conf 0123456789abcdef0123456789abcdef\n /etc/pkg-${n}/b.conf fedcba9876543210fedcba9876543210\n` +
      `Description: package number ${n}\n${para.repeat(12)} .\n${para.repeat(4)}Homepage: https://example.com/${n}\n\n`;
    parts.push(stanza);
    size += stanza.length;
    n++;
  }
  return { text: Buffer.from(parts.join('')), packages: n };
}

describe('seal sbom on a 50 MB dpkg status', () => {
  let dir: string;
  let packages: number;
  let baseline: number;

  beforeAll(async () => {
    expect(
      existsSync(join(SEAL_BIN, '..', '..', 'dist', 'cli-bundle', 'main.js')),
      'run `npm run build` first',
    ).toBe(true);
    dir = mkdtempSync(join(tmpdir(), 'seal-sbom-memory-'));
    const status = dpkgStatus(STATUS_BYTES);
    packages = status.packages;
    await writeLayoutImage(dir, 'v1', [
      await makeTar([
        { name: 'etc/os-release', content: 'ID=debian\nVERSION_ID=12\n' },
        { name: 'var/lib/dpkg/status', content: status.text },
      ]),
    ]);
    const small = join(dir, 'small');
    await writeLayoutImage(small, 'v1', [
      await makeTar([
        { name: 'etc/os-release', content: 'ID=debian\nVERSION_ID=12\n' },
        { name: 'var/lib/dpkg/status', content: 'Package: a\nStatus: install ok installed\nVersion: 1\n\n' },
      ]),
    ]);
    const trivial = await runSealMeasured([
      'sbom',
      '--output-file',
      join(dir, 'small.json'),
      `oci-layout:${small}:v1`,
    ]);
    expect(trivial.code).toBe(0);
    baseline = trivial.peakRss;
  }, 120_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists every package with peak RSS within 2× the file above the baseline', async () => {
    const out = join(dir, 'sbom.json');
    const r = await runSealMeasured(['sbom', '--output-file', out, `oci-layout:${dir}:v1`], {
      timeoutMs: 300_000,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = JSON.parse(readFileSync(out, 'utf8')) as { packages: { name: string }[] };
    expect(doc.packages.filter((p) => p.name.startsWith('pkg-'))).toHaveLength(packages);
    console.log(
      `peak RSS ${Math.round(r.peakRss / 2 ** 20)} MiB, baseline ${Math.round(baseline / 2 ** 20)} MiB, ${packages} packages`,
    );
    expect(r.peakRss).toBeLessThanOrEqual(baseline + 2 * STATUS_BYTES);
  }, 300_000);
});
