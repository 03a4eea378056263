// cosign `save`/`load` replayed against seal and the real distribution registry: a signed image saved to an
// OCI layout in cosign's shape (index.json entries marked kind=dev.cosignproject.cosign/…) and loaded into
// another repository still verifies; a layout written by hand the way cosign writes one loads too.
// Command lines as in cosign's doc/cosign_save.md and doc/cosign_load.md.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { buildReferrerManifest } from '../../src/formats/bundle.js';
import { appendSignatureLayer, buildSignatureLayer } from '../../src/formats/cosign.js';
import { buildSimpleSigningPayload } from '../../src/formats/simplesigning.js';
import { Digest } from '../../src/oci/digest.js';
import { encodeManifest, type ImageManifest, MediaTypes } from '../../src/oci/manifest.js';
import { parseReference } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { pushRandomImage, pushSampleMultiArch } from '../oci/store-suite.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

async function seal(args: string[], stdin = '') {
  const io = memoryIO({ COSIGN_PASSWORD: '' }, stdin);
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

describeWithRegistry('cosign save and load against the real registry', () => {
  let dir: string;
  let registry: RunningRegistry;
  const store = new RegistryStore({ credentials: anonymousCredentials });
  const f = (name: string) => join(dir, name);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-saveload-'));
    registry = await startRegistry();
    expect((await seal(['generate-key-pair', '--output-key-prefix', f('cosign')])).code).toBe(0);
    await writeFile(f('predicate.json'), JSON.stringify({ builder: { id: 'https://example.com/ci' } }));
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('ossl.key')]);
    execFileSync('openssl', ['ec', '-in', f('ossl.key'), '-pubout', '-out', f('ossl.pub')], {
      stdio: 'ignore',
    });
  }, 120_000);
  afterAll(async () => {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const repoName = (what: string) => `${registry.host}/${what}${randomBytes(3).toString('hex')}/app`;
  const verify = (ref: string) => seal(['verify', '--key', f('cosign.pub'), '--insecure-ignore-tlog', ref]);
  const verifyAtt = (ref: string) =>
    seal([
      'verify-attestation',
      '--key',
      f('cosign.pub'),
      '--type',
      'slsaprovenance',
      '--insecure-ignore-tlog',
      ref,
    ]);

  it('save → load into another repository: signatures, attestations (legacy and bundles) and the SBOM come along', async () => {
    const repo = repoName('src');
    const ref = `${repo}:v1`;
    const pushed = await pushRandomImage(store, parseReference(ref));
    const hex = pushed.digest.hex;
    for (const fmt of ['--new-bundle-format=false', '--new-bundle-format=true']) {
      expect((await seal(['sign', fmt, '--tlog-upload=false', '--key', f('cosign.key'), ref])).code).toBe(0);
      const a = await seal([
        'attest',
        fmt,
        '--tlog-upload=false',
        '--key',
        f('cosign.key'),
        '--type',
        'slsaprovenance',
        '--predicate',
        f('predicate.json'),
        ref,
      ]);
      expect(a.code, a.err).toBe(0);
    }
    await writeFile(f('sbom.spdx.json'), '{"spdxVersion":"SPDX-2.3"}');
    expect((await seal(['attach', 'sbom', '--sbom', f('sbom.spdx.json'), ref])).code).toBe(0);

    // cosign save --dir <path to directory> <IMAGE>
    const out = f('saved');
    const saved = await seal(['save', '--dir', out, ref]);
    expect(saved.code, saved.err).toBe(0);
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as {
      manifests: { digest: string; annotations?: Record<string, string> }[];
    };
    const kinds = index.manifests.map((m) => m.annotations?.kind ?? null);
    expect(kinds).toEqual([
      'dev.cosignproject.cosign/image',
      'dev.cosignproject.cosign/sigs',
      'dev.cosignproject.cosign/atts',
      'seal.dev/sboms',
      null,
      null,
    ]);
    expect(index.manifests[0]!.digest).toBe(pushed.digest.toString());
    expect(JSON.parse(await readFile(join(out, 'oci-layout'), 'utf8'))).toEqual({
      imageLayoutVersion: '1.0.0',
    });

    // cosign load --dir <path to directory> <IMAGE>
    const dstRepo = repoName('dst');
    const loaded = await seal(['load', '--dir', out, `${dstRepo}:copy`]);
    expect(loaded.code, loaded.err).toBe(0);
    expect((await store.listTags(parseReference(dstRepo))).sort()).toEqual([
      'copy',
      `sha256-${hex}`,
      `sha256-${hex}.att`,
      `sha256-${hex}.sbom`,
      `sha256-${hex}.sig`,
    ]);
    const dst = `${dstRepo}:copy`;
    expect((await store.resolve(parseReference(dst))).digest).toBe(pushed.digest.toString());
    const v = await verify(dst);
    expect(v.code, v.err).toBe(0);
    const va = await verifyAtt(dst);
    expect(va.code, va.err).toBe(0);
    const subject = parseReference(`${dstRepo}@${pushed.digest}`);
    expect(await store.referrers(subject, subject.digest!)).toHaveLength(2);
    // Only the legacy ones: clean the bundles away in the destination, the .sig still verifies on its own.
    expect((await seal(['clean', '--type', 'referrer', '-f', dst])).code).toBe(0);
    expect((await verify(dst)).code).toBe(0);
  });

  it('loads a layout written the way cosign save writes it (kind annotations, bundle referrer as an unlisted blob)', async () => {
    // The image, pushed nowhere: written straight into the layout with an openssl signature and a bundle.
    const layout = f(`cosign-layout-${randomBytes(3).toString('hex')}`);
    await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
    const blob = async (bytes: Uint8Array) => {
      const d = Digest.of(bytes);
      await writeFile(join(layout, 'blobs', 'sha256', d.hex), bytes);
      return d;
    };
    const config = new TextEncoder().encode(
      JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
    );
    const layer = new Uint8Array(randomBytes(512));
    const image: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: {
        mediaType: MediaTypes.ociConfig,
        digest: (await blob(config)).toString(),
        size: config.length,
      },
      layers: [
        { mediaType: MediaTypes.ociLayerGzip, digest: (await blob(layer)).toString(), size: layer.length },
      ],
    };
    const imageBytes = encodeManifest(image);
    const imageDigest = await blob(imageBytes);
    const dstRepo = repoName('fromcosign');

    // The .sig image: one simple-signing layer signed by openssl, as cosign sign writes it.
    const payload = buildSimpleSigningPayload({ dockerReference: dstRepo, digest: imageDigest });
    await writeFile(f('fixture.payload'), payload);
    const sig = execFileSync('openssl', ['dgst', '-sha256', '-sign', f('ossl.key'), f('fixture.payload')]);
    const sigLayer = buildSignatureLayer({ payload, signature: new Uint8Array(sig) });
    const sigImage = appendSignatureLayer(undefined, sigLayer);
    if (sigImage === 'duplicate') throw new Error('unreachable');
    await blob(sigLayer.blob);
    await blob(sigImage.config.blob);
    const sigDigest = await blob(sigImage.bytes);

    // A bundle attestation referrer: its manifest and bundle in blobs/, not in index.json (as cosign save
    // leaves them). The bundle is made by attesting the same image pushed to a scratch repository.
    const scratchName = `${repoName('scratch')}@${imageDigest}`;
    const scratch = parseReference(scratchName);
    await store.putBlob(scratch, config, MediaTypes.ociConfig);
    await store.putBlob(scratch, layer, MediaTypes.ociLayerGzip);
    await store.putManifest(scratch, imageBytes, MediaTypes.ociManifest);
    const made = await seal([
      'attest',
      '--key',
      f('cosign.key'),
      '--type',
      'slsaprovenance',
      '--predicate',
      f('predicate.json'),
      '--upload=false',
      '--bundle',
      f('fixture.bundle.json'),
      scratchName,
    ]);
    expect(made.code, made.err).toBe(0);
    const referrer = buildReferrerManifest(
      new Uint8Array(await readFile(f('fixture.bundle.json'))),
      { mediaType: MediaTypes.ociManifest, digest: imageDigest.toString(), size: imageBytes.length },
      'https://slsa.dev/provenance/v0.2',
      new Date(),
    );
    for (const b of referrer.blobs) await blob(b.blob);
    await blob(referrer.bytes);

    const indexJson = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociIndex,
      manifests: [
        {
          mediaType: MediaTypes.ociManifest,
          size: imageBytes.length,
          digest: imageDigest.toString(),
          annotations: { kind: 'dev.cosignproject.cosign/image' },
        },
        {
          mediaType: MediaTypes.ociManifest,
          size: sigImage.bytes.length,
          digest: sigDigest.toString(),
          annotations: { kind: 'dev.cosignproject.cosign/sigs' },
        },
      ],
    };
    await writeFile(join(layout, 'index.json'), JSON.stringify(indexJson));
    await writeFile(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');

    const loaded = await seal(['load', '--dir', layout, `${dstRepo}:v1`]);
    expect(loaded.code, loaded.err).toBe(0);
    const v = await seal(['verify', '--key', f('ossl.pub'), '--insecure-ignore-tlog', `${dstRepo}:v1`]);
    expect(v.code, v.err).toBe(0);
    // The referrer was found by its subject among the blobs and pushed with the image.
    const va = await verifyAtt(`${dstRepo}:v1`);
    expect(va.code, va.err).toBe(0);
  });

  it('a multi-arch index saves as kind imageIndex with every platform, and loads back with its .sig and bundle referrer', async () => {
    const repo = repoName('multi');
    const sample = await pushSampleMultiArch(store, parseReference(`${repo}:v1`));
    const out = f(`multi-${randomBytes(3).toString('hex')}`);
    const saved = await seal(['save', '--dir', out, `${repo}:v1`]);
    expect(saved.code, saved.err).toBe(0);
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as {
      manifests: { digest: string; annotations?: Record<string, string> }[];
    };
    expect(index.manifests[0]).toMatchObject({
      digest: sample.index.digest.toString(),
      annotations: { kind: 'dev.cosignproject.cosign/imageIndex' },
    });
    expect(index.manifests[1]!.annotations?.kind).toBe('dev.cosignproject.cosign/sigs');
    for (const child of sample.children) {
      await expect(readFile(join(out, 'blobs', 'sha256', child.hex))).resolves.toBeDefined();
    }
    const dstRepo = repoName('multidst');
    const loaded = await seal(['load', '--dir', out, `${dstRepo}:v1`]);
    expect(loaded.code, loaded.err).toBe(0);
    expect((await store.resolve(parseReference(`${dstRepo}:v1`))).digest).toBe(
      sample.index.digest.toString(),
    );
    for (const child of sample.children) {
      expect((await store.resolve(parseReference(`${dstRepo}@${child}`))).digest).toBe(child.toString());
    }
    expect(await store.listTags(parseReference(dstRepo))).toContain(`sha256-${sample.index.digest.hex}.sig`);
    const subject = parseReference(`${dstRepo}@${sample.index.digest}`);
    const referrers = await store.referrers(subject, subject.digest!);
    expect(referrers.map((d) => d.artifactType)).toContain('application/vnd.dev.sigstore.bundle.v0.3+json');
  });

  it('refuses what is not a saved image, and missing flags, with specific errors', async () => {
    const none = await seal(['load', '--dir', f('does-not-exist'), `${registry.host}/x/y:v1`]);
    expect(none.code).not.toBe(0);
    expect(none.err).toContain('E_NOT_FOUND');
    // A plain OCI layout (seal copy writes one): no cosign kind annotations.
    const repo = repoName('plain');
    await pushRandomImage(store, parseReference(`${repo}:v1`));
    const plain = f(`plain-${randomBytes(3).toString('hex')}`);
    expect((await seal(['copy', `${repo}:v1`, `oci-layout:${plain}:v1`])).code).toBe(0);
    const notCosign = await seal(['load', '--dir', plain, `${repo}:v2`]);
    expect(notCosign.code).not.toBe(0);
    expect(notCosign.err).toContain('E_LAYOUT_INVALID');
    expect(notCosign.err).toContain('seal copy');
    expect((await seal(['save', `${repo}:v1`])).code).toBe(2);
    expect((await seal(['load', '--dir', plain])).code).toBe(2);
    const missing = await seal(['save', '--dir', f('nothing'), `${repo}:absent`]);
    expect(missing.err).toContain('E_NOT_FOUND');
  });
});
