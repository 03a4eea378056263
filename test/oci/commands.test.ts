// Tests for `seal digest`, `seal tree` and `seal copy`, run in-process through main() with an in-memory IO.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { layoutStore } from '../../src/oci/open.js';
import { parseReference } from '../../src/oci/ref.js';
import { type SampleImage, pushRandomImage, pushSampleMultiArch } from './store-suite.js';

describe('seal digest / tree / copy', () => {
  let root: string;
  let sample: SampleImage;
  let layout: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'seal-cli-oci-'));
    layout = join(root, 'src');
    sample = await pushSampleMultiArch(layoutStore(), parseReference(`oci-layout:${layout}:v1`));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('seal digest prints the digest of a tag', async () => {
    const io = memoryIO();
    expect(await main(['digest', `oci-layout:${layout}:v1`], io)).toBe(0);
    expect(io.out).toBe(`${sample.index.digest}\n`);
    expect(io.err).toBe('');
  });

  it('seal digest --platform picks a manifest from an index', async () => {
    const io = memoryIO();
    expect(await main(['digest', '--platform', 'linux/arm64', `oci-layout:${layout}:v1`], io)).toBe(0);
    expect(io.out).toBe(`${sample.children[1]}\n`);
    const none = memoryIO();
    expect(await main(['digest', '--platform', 'windows/amd64', `oci-layout:${layout}:v1`], none)).toBe(1);
    expect(none.err).toContain('E_NO_MATCHING_PLATFORM');
  });

  it('seal digest resolves relative layout paths against the IO cwd', async () => {
    const io = { ...memoryIO(), cwd: root };
    const out: string[] = [];
    io.stdout = (t: string) => {
      out.push(t);
    };
    expect(await main(['digest', 'oci:src:v1'], io)).toBe(0);
    expect(out.join('')).toBe(`${sample.index.digest}\n`);
  });

  it('seal digest of a missing tag exits 11 with E_NOT_FOUND naming the reference', async () => {
    const io = memoryIO();
    expect(await main(['digest', `oci-layout:${layout}:nope`], io)).toBe(11);
    expect(io.err).toContain('E_NOT_FOUND');
    expect(io.err).toContain(`oci-layout:${layout}:nope`);
  });

  it('seal digest of an invalid reference exits 2 naming the bad part', async () => {
    const io = memoryIO();
    expect(await main(['digest', 'Foo/bar'], io)).toBe(2);
    expect(io.err).toContain('repository "Foo/bar" must be lowercase');
    expect(await main(['digest'], memoryIO())).toBe(2);
  });

  it('seal tree prints legacy tags and referrers like cosign', async () => {
    const io = memoryIO();
    expect(await main(['tree', `oci-layout:${layout}:v1`], io)).toBe(0);
    const repo = `oci-layout:${layout}`;
    const lines = io.out.trimEnd().split('\n');
    expect(lines[0]).toBe(`📦 Supply Chain Security Related artifacts for an image: ${repo}:v1`);
    expect(lines[1]).toBe(
      `└── 🔐 Signatures for an image tag: ${repo}:${sample.index.digest.toTagPrefix()}.sig`,
    );
    expect(lines[2]).toMatch(/^ {3}└── 🍒 sha256:[0-9a-f]{64} {2}signature \(from the media type\)$/);
    expect(lines[3]).toBe(
      `└── 🔗 application/vnd.dev.sigstore.bundle.v0.3+json artifacts via OCI referrer: ${repo}@${sample.index.digest}`,
    );
    expect(lines[4]).toBe(`   └── 🍒 ${sample.referrers[0]}  signature (from annotations)`);
    expect(lines).toHaveLength(5);
  });

  it('seal tree --output json gives the same facts as data', async () => {
    const io = memoryIO();
    expect(await main(['tree', '-o', 'json', `oci-layout:${layout}:v1`], io)).toBe(0);
    const json = JSON.parse(io.out);
    expect(json.digest).toBe(sample.index.digest.toString());
    expect(json.legacy.map((l: { kind: string }) => l.kind)).toEqual(['signatures']);
    expect(json.referrers.map((r: { digest: string }) => r.digest)).toEqual([
      sample.referrers[0]!.toString(),
    ]);
  });

  it('seal tree says so when nothing is attached', async () => {
    const ref = parseReference(`oci-layout:${root}/bare:v1`);
    await pushRandomImage(layoutStore(), ref);
    const io = memoryIO();
    expect(await main(['tree', `oci-layout:${root}/bare:v1`], io)).toBe(0);
    expect(io.out).toMatch(/^No Supply Chain Security Related Artifacts found for image oci-layout:/);
  });

  it('seal copy copies everything, prints the destination, and draws no bar on a pipe', async () => {
    const io = memoryIO();
    const dst = join(root, 'dst');
    expect(await main(['copy', `oci-layout:${layout}:v1`, `oci:${dst}`], io)).toBe(0);
    expect(io.out).toBe(`oci-layout:${dst}:v1@${sample.index.digest}\n`);
    expect(io.err).toBe('');
    const treeSrc = memoryIO();
    const treeDst = memoryIO();
    await main(['tree', `oci-layout:${layout}:v1`], treeSrc);
    await main(['tree', `oci-layout:${dst}:v1`], treeDst);
    expect(treeDst.out.replaceAll(dst, 'X')).toBe(treeSrc.out.replaceAll(layout, 'X'));
  });

  it('seal copy draws a progress bar on a TTY', async () => {
    const io = { ...memoryIO(), isTTY: true };
    let err = '';
    io.stderr = (t: string) => {
      err += t;
    };
    expect(await main(['copy', `oci-layout:${layout}:v1`, `oci:${join(root, 'tty')}:t`], io)).toBe(0);
    expect(err).toContain('100%');
    expect(err).toContain('\r');
    expect(err.endsWith('\n')).toBe(true);
  });

  it('seal copy --image-only leaves the attachments behind', async () => {
    const io = memoryIO();
    const dst = join(root, 'only');
    expect(await main(['copy', '--image-only', `oci-layout:${layout}:v1`, `oci:${dst}:v1`], io)).toBe(0);
    expect(await layoutStore().listTags(parseReference(`oci:${dst}`))).toEqual(['v1']);
  });
});
