// seal copy against a real distribution registry: a multi-arch index with signatures, referrers and the
// fallback index goes registry → OCI layout → registry with every digest unchanged (issue 2 acceptance).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { listAttached } from '../../src/oci/attached.js';
import { anonymousCredentials } from '../../src/oci/auth.js';
import { copyImage } from '../../src/oci/copy.js';
import { layoutStore } from '../../src/oci/open.js';
import { parseReference, withDigest } from '../../src/oci/ref.js';
import { RegistryStore } from '../../src/oci/registry.js';
import { type RunningRegistry, describeWithRegistry, startRegistry } from '../support/registry.js';
import { type SampleImage, pushSampleMultiArch } from './store-suite.js';

describeWithRegistry('seal copy with a real registry', () => {
  let registry: RunningRegistry;
  let root: string;
  let sample: SampleImage;
  const registryStore = () => new RegistryStore({ credentials: anonymousCredentials });
  beforeAll(async () => {
    registry = await startRegistry();
    root = await mkdtemp(join(tmpdir(), 'seal-copy-registry-'));
    sample = await pushSampleMultiArch(registryStore(), parseReference(`${registry.host}/origin/app:v1`));
  }, 60_000);
  afterAll(async () => {
    await registry?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('registry → layout → registry keeps every digest and everything attached', async () => {
    const origin = parseReference(`${registry.host}/origin/app:v1`);
    const env = { DOCKER_CONFIG: join(root, 'no-docker-config') };
    const toLayout = memoryIO(env);
    expect(await main(['copy', `${registry.host}/origin/app:v1`, `oci:${root}/saved`], toLayout)).toBe(0);
    expect(toLayout.out).toBe(`oci-layout:${root}/saved:v1@${sample.index.digest}\n`);
    const back = memoryIO(env);
    expect(await main(['copy', `oci:${root}/saved:v1`, `${registry.host}/restored/app:v1`], back)).toBe(0);
    expect(back.out).toBe(`${registry.host}/restored/app:v1@${sample.index.digest}\n`);

    const restored = parseReference(`${registry.host}/restored/app:v1`);
    const saved = parseReference(`oci-layout:${root}/saved:v1`);
    const store = registryStore();
    expect((await store.resolve(restored)).digest).toBe(sample.index.digest.toString());
    for (const d of [sample.index.digest, ...sample.children, ...sample.referrers, sample.legacySig]) {
      const a = await store.getManifest(withDigest(origin, d));
      const b = await store.getManifest(withDigest(restored, d));
      const c = await layoutStore().getManifest(withDigest(saved, d));
      expect(Buffer.from(b.bytes).equals(Buffer.from(a.bytes))).toBe(true);
      expect(Buffer.from(c.bytes).equals(Buffer.from(a.bytes))).toBe(true);
    }
    // The same tree everywhere: legacy tags and referrers (fallback on this registry, scan in the layout).
    const [treeOrigin, treeSaved, treeRestored] = await Promise.all([
      listAttached(origin, store),
      listAttached(saved),
      listAttached(restored, store),
    ]);
    for (const t of [treeSaved, treeRestored]) {
      expect(t.digest.equals(treeOrigin.digest)).toBe(true);
      expect(t.referrers).toEqual(treeOrigin.referrers);
      expect(t.legacy.map((l) => [l.tag, l.digest.toString()])).toEqual(
        treeOrigin.legacy.map((l) => [l.tag, l.digest.toString()]),
      );
    }
    expect(await store.referrers(restored, sample.children[0]!)).toEqual(
      await store.referrers(origin, sample.children[0]!),
    );
  }, 120_000);

  it('copies between repositories of one registry by mounting blobs', async () => {
    const src = parseReference(`${registry.host}/origin/app:v1`);
    const dst = parseReference(`${registry.host}/mounted/app:v1`);
    const result = await copyImage(src, dst, { srcStore: registryStore(), dstStore: registryStore() });
    expect(result.digest.equals(sample.index.digest)).toBe(true);
    expect(result.blobsCopied).toBe(0);
    expect(result.blobsSkipped).toBeGreaterThan(0);
    expect((await registryStore().resolve(dst)).digest).toBe(sample.index.digest.toString());
  }, 60_000);

  it('seal digest and seal tree work against the registry', async () => {
    const io = memoryIO({ DOCKER_CONFIG: join(root, 'no-docker-config') });
    expect(await main(['digest', `${registry.host}/origin/app:v1`], io)).toBe(0);
    expect(io.out).toBe(`${sample.index.digest}\n`);
    const tree = memoryIO({ DOCKER_CONFIG: join(root, 'no-docker-config') });
    expect(await main(['tree', `${registry.host}/origin/app:v1`], tree)).toBe(0);
    expect(tree.out).toContain(
      `🔐 Signatures for an image tag: ${registry.host}/origin/app:${sample.index.digest.toTagPrefix()}.sig`,
    );
    expect(tree.out).toContain('🔗 application/vnd.dev.sigstore.bundle.v0.3+json artifacts via OCI referrer');
  }, 60_000);
});
