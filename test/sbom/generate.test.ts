import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import { LayoutStore } from '../../src/oci/layout.js';
import { MediaTypes } from '../../src/oci/manifest.js';
import { parseReference } from '../../src/oci/ref.js';
import { generateSbom } from '../../src/sbom/generate.js';
import { makeTar, sha256 } from './helpers.js';
import { SpdxDocument23 } from './spdx-schema.js';

const require = createRequire(import.meta.url);
// ajv-formats-draft2019 ships no types: idn-email, iri-reference … formats used by the CycloneDX schema
const addFormats2019 = require('ajv-formats-draft2019') as (ajv: Ajv) => Ajv;
const schemaDir = join(
  dirname(require.resolve('@cyclonedx/cyclonedx-library/package.json')),
  'res',
  'schema',
);

function cyclonedxValidator() {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  addFormats2019(ajv);
  const load = (f: string) => JSON.parse(readFileSync(join(schemaDir, f), 'utf8')) as Record<string, unknown>;
  // the 1.6 schema refers to its neighbours by their file names
  ajv.addSchema({
    ...load('spdx.SNAPSHOT.schema.json'),
    $id: 'http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json',
  });
  ajv.addSchema({
    ...load('jsf-0.82.SNAPSHOT.schema.json'),
    $id: 'http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json',
  });
  return ajv.compile(load('bom-1.6.SNAPSHOT.schema.json'));
}

let dir: string;
const store = new LayoutStore();

/** A two-layer image (gzip + plain tar) with dpkg, npm and apk-free content, stored in an OCI layout. */
async function buildImage(): Promise<string> {
  const l1 = await makeTar([
    { name: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\n' },
    {
      name: 'var/lib/dpkg/status',
      content:
        'Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u7\nArchitecture: amd64\n\n' +
        'Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\nArchitecture: amd64\n',
    },
    {
      name: 'usr/share/doc/zlib1g/copyright',
      content:
        'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: Zlib\n',
    },
    {
      name: 'usr/share/doc/libc6/copyright',
      content:
        'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: LGPL-2.1+\n\nFiles: x\nLicense: GPL-2+ with exception\n',
    },
  ]);
  const l2 = await makeTar([
    {
      name: 'app/node_modules/@scope/pkg/package.json',
      content: '{"name":"@scope/pkg","version":"1.0.0","license":"MIT OR Apache-2.0"}',
    },
    {
      name: 'app/node_modules/left/package.json',
      content: '{"name":"left","version":"0.1.0","license":"ISC"}',
    },
  ]);
  const ref = parseReference(`oci-layout:${dir}:v1`);
  const blob1 = gzipSync(l1);
  const d1 = await store.putBlob(ref, blob1, MediaTypes.ociLayerGzip);
  const d2 = await store.putBlob(ref, l2, MediaTypes.ociLayer);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [sha256(l1), sha256(l2)] },
    }),
  );
  const dc = await store.putBlob(ref, config, MediaTypes.ociConfig);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: { mediaType: MediaTypes.ociConfig, digest: dc.digest, size: dc.size },
      layers: [
        { mediaType: MediaTypes.ociLayerGzip, digest: d1.digest, size: d1.size },
        { mediaType: MediaTypes.ociLayer, digest: d2.digest, size: d2.size },
      ],
    }),
  );
  const dm = await store.putManifest(ref, manifest, MediaTypes.ociManifest);
  return dm.digest;
}

let imageDigest: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seal-sbom-layout-'));
  imageDigest = await buildImage();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('generateSbom over an OCI layout', () => {
  it('writes a CycloneDX 1.6 document valid against the official schema, image as metadata.component', async () => {
    const progress: number[] = [];
    const { document, packages, digest } = await generateSbom(store, parseReference(`oci-layout:${dir}:v1`), {
      format: 'cyclonedx-json',
      onProgress: (p) => progress.push(p.layer),
    });
    expect(digest).toBe(imageDigest);
    expect(progress).toContain(1);
    const validate = cyclonedxValidator();
    expect(validate(document), JSON.stringify(validate.errors, null, 1)).toBe(true);
    // the validator is not vacuous: a wrong component type is refused
    const broken = structuredClone(document) as { components: Array<{ type: string }> };
    broken.components[0]!.type = 'bogus';
    expect(validate(broken)).toBe(false);
    const bom = document as {
      specVersion: string;
      metadata: { component: { type: string; 'bom-ref': string; version: string } };
      components: Array<{
        purl: string;
        'bom-ref': string;
        licenses?: unknown[];
        properties: Array<{ name: string; value: string }>;
      }>;
    };
    expect(bom.specVersion).toBe('1.6');
    expect(bom.metadata.component).toMatchObject({
      type: 'container',
      'bom-ref': imageDigest,
      version: imageDigest,
    });
    expect(bom.components.map((c) => c.purl).sort()).toEqual(packages.map((p) => p.purl).sort());
    const scoped = bom.components.find((c) => c.purl === 'pkg:npm/%40scope/pkg@1.0.0')!;
    expect(scoped.licenses).toEqual([{ expression: 'MIT OR Apache-2.0' }]);
    const zlib = bom.components.find((c) => c.purl.startsWith('pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1'))!;
    expect(zlib.licenses).toEqual([{ license: { id: 'Zlib' } }]);
    expect(zlib.properties).toContainEqual({ name: 'seal:location', value: '/var/lib/dpkg/status' });
    const layer1 = packages.find((p) => p.name === 'zlib1g')!.layerDigest;
    const layer2 = packages.find((p) => p.name === 'left')!.layerDigest;
    expect(layer1).not.toBe(layer2);
    expect(zlib.properties).toContainEqual({ name: 'seal:layerDigest', value: layer1 });
  });

  it('writes an SPDX 2.3 document that passes the strict SPDX 2.3 schema and DESCRIBES the image', async () => {
    const { document, packages } = await generateSbom(store, parseReference(`oci-layout:${dir}:v1`), {
      format: 'spdx-json',
    });
    const parsed = SpdxDocument23.safeParse(document);
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    const broken = structuredClone(document) as {
      relationships: unknown[];
      packages: Array<Record<string, unknown>>;
    };
    broken.relationships.shift();
    expect(SpdxDocument23.safeParse(broken).success).toBe(false);
    const extraKey = structuredClone(document) as { packages: Array<Record<string, unknown>> };
    extraKey.packages[1]!.licence = 'MIT';
    expect(SpdxDocument23.safeParse(extraKey).success).toBe(false);
    const doc = document as {
      documentNamespace: string;
      packages: Array<{
        SPDXID: string;
        name: string;
        licenseDeclared: string;
        licenseComments?: string;
        externalRefs?: Array<{ referenceLocator: string }>;
      }>;
      relationships: Array<{ relationshipType: string; spdxElementId: string; relatedSpdxElement: string }>;
    };
    expect(doc.relationships[0]).toEqual({
      spdxElementId: 'SPDXRef-DOCUMENT',
      relationshipType: 'DESCRIBES',
      relatedSpdxElement: 'SPDXRef-Image',
    });
    expect(doc.packages[0]).toMatchObject({
      SPDXID: 'SPDXRef-Image',
      primaryPackagePurpose: 'CONTAINER',
      versionInfo: imageDigest,
    });
    expect(doc.packages.length).toBe(packages.length + 1);
    expect(doc.relationships.filter((r) => r.relationshipType === 'CONTAINS').length).toBe(packages.length);
    const libc = doc.packages.find((p) => p.name === 'libc6')!;
    expect(libc.licenseDeclared).toBe('NOASSERTION'); // "GPL-2+ with exception" is not SPDX
    expect(libc.licenseComments).toContain('GPL-2+ with exception');
    expect(doc.packages.find((p) => p.name === 'zlib1g')!.licenseDeclared).toBe('Zlib');
    expect(doc.packages.find((p) => p.name === '@scope/pkg')!.licenseDeclared).toBe('MIT OR Apache-2.0');
    const again = await generateSbom(store, parseReference(`oci-layout:${dir}:v1`), { format: 'spdx-json' });
    expect((again.document as { documentNamespace: string }).documentNamespace).not.toBe(
      doc.documentNamespace,
    );
  });

  it('fails with E_DIGEST_MISMATCH when a layer blob on disk was altered', async () => {
    const other = mkdtempSync(join(tmpdir(), 'seal-sbom-bad-'));
    try {
      const t = await makeTar([{ name: 'etc/os-release', content: 'ID=debian\n' }]);
      const ref = parseReference(`oci-layout:${other}:x`);
      const d = await store.putBlob(ref, t, MediaTypes.ociLayer);
      const c = await store.putBlob(ref, Buffer.from('{"rootfs":{"diff_ids":[]}}'), MediaTypes.ociConfig);
      await store.putManifest(
        ref,
        Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: MediaTypes.ociManifest,
            config: { mediaType: MediaTypes.ociConfig, digest: c.digest, size: c.size },
            layers: [{ mediaType: MediaTypes.ociLayer, digest: d.digest, size: d.size }],
          }),
        ),
        MediaTypes.ociManifest,
      );
      const { writeFileSync } = await import('node:fs');
      const t2 = Buffer.from(t);
      t2[600] = 0x41;
      writeFileSync(join(other, 'blobs', 'sha256', d.digest.slice(7)), t2);
      await generateSbom(store, ref, { format: 'spdx-json' }).then(
        () => expect.unreachable(),
        (err) => expect(isSealError(err, 'E_DIGEST_MISMATCH'), String(err)).toBe(true),
      );
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('refuses an unknown format', async () => {
    await expect(
      generateSbom(store, parseReference(`oci-layout:${dir}:v1`), { format: 'syft-json' as never }),
    ).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
  });
});

describe('generateSbom over an index', () => {
  it('catalogues the platform asked for, the host platform by default, and names a missing one', async () => {
    const { writeLayoutImage } = await import('./helpers.js');
    const multi = mkdtempSync(join(tmpdir(), 'seal-sbom-index-'));
    try {
      const apk = (arch: string) =>
        makeTar([{ name: 'lib/apk/db/installed', content: `P:musl\nV:1.2.5-r0\nA:${arch}\nL:MIT\n\n` }]);
      const amd = await writeLayoutImage(multi, 'amd', [await apk('x86_64')]);
      const arm = await writeLayoutImage(multi, 'arm', [await apk('aarch64')]);
      const ref = parseReference(`oci-layout:${multi}:multi`);
      const sizeOf = async (tag: string) =>
        (await store.resolve(parseReference(`oci-layout:${multi}:${tag}`))).size;
      const index = {
        schemaVersion: 2,
        mediaType: MediaTypes.ociIndex,
        manifests: [
          {
            mediaType: MediaTypes.ociManifest,
            digest: amd,
            size: await sizeOf('amd'),
            platform: { os: 'linux', architecture: 'amd64' },
          },
          {
            mediaType: MediaTypes.ociManifest,
            digest: arm,
            size: await sizeOf('arm'),
            platform: { os: 'linux', architecture: 'arm64' },
          },
        ],
      };
      const indexDesc = await store.putManifest(ref, Buffer.from(JSON.stringify(index)), MediaTypes.ociIndex);
      const armSbom = await generateSbom(store, ref, { format: 'cyclonedx-json', platform: 'linux/arm64' });
      expect(armSbom.digest).toBe(arm);
      expect(armSbom.indexDigest).toBe(indexDesc.digest);
      expect(armSbom.packages.map((p) => p.purl)).toEqual(['pkg:apk/alpine/musl@1.2.5-r0?arch=aarch64']);
      if (process.arch === 'x64') {
        const host = await generateSbom(store, ref, { format: 'spdx-json' });
        expect(host.digest).toBe(amd);
      }
      await expect(
        generateSbom(store, ref, { format: 'spdx-json', platform: 'linux/s390x' }),
      ).rejects.toMatchObject({
        code: 'E_NO_MATCHING_PLATFORM',
      });
    } finally {
      rmSync(multi, { recursive: true, force: true });
    }
  });
});
