// `seal tree` labels each attachment: signature, attestation (with its predicate type) or SBOM, read from
// the signed statement when it is small, else from annotations or media types, and says which.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { Digest } from '../../src/oci/digest.js';
import { encodeManifest, type ImageManifest, MediaTypes } from '../../src/oci/manifest.js';
import { layoutStore } from '../../src/oci/open.js';
import { parseReference, withDigest } from '../../src/oci/ref.js';
import { pushArtifact, pushRandomImage } from '../oci/store-suite.js';

const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const SIGN = 'https://sigstore.dev/cosign/sign/v1';

async function seal(args: string[]) {
  const io = memoryIO({ COSIGN_PASSWORD: '' });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

describe('seal tree labels attachments', () => {
  let dir: string;
  let image: string;
  let lyingBundle: string;
  let annotatedOnly: string;
  let sbom: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-tree-labels-'));
    image = `oci-layout:${join(dir, 'img')}:v1`;
    const store = layoutStore();
    const ref = parseReference(image);
    const pushed = await pushRandomImage(store, ref);
    const subject = pushed.descriptor;
    const key = join(dir, 'k');
    expect((await seal(['generate-key-pair', '--output-key-prefix', key])).code).toBe(0);
    const flags = ['--key', `${key}.key`, '--tlog-upload=false', '-y'];
    await writeFile(join(dir, 'p.json'), JSON.stringify({ builder: { id: 'ci' } }));
    const run = async (args: string[]) => {
      const r = await seal(args);
      expect(r.err).not.toMatch(/E_[A-Z_]+/);
      expect(r.code).toBe(0);
    };
    await run(['sign', ...flags, image]);
    await run(['sign', ...flags, '--new-bundle-format=false', image]);
    const predicate = ['--predicate', join(dir, 'p.json')];
    await run(['attest', ...flags, ...predicate, '--type', 'https://slsa.dev/provenance/v1', image]);
    await run([
      'attest',
      ...flags,
      ...predicate,
      '--type',
      'https://example.com/scan/v1',
      '--new-bundle-format=false',
      image,
    ]);
    // A bundle whose annotation says "signature" while its statement is a provenance: the content decides.
    const statement = {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'x', digest: { sha256: subject.digest.slice(7) } }],
      predicateType: 'https://slsa.dev/provenance/v1',
      predicate: {},
    };
    const bundleJson = new TextEncoder().encode(
      JSON.stringify({
        mediaType: BUNDLE,
        dsseEnvelope: {
          payloadType: 'application/vnd.in-toto+json',
          payload: Buffer.from(JSON.stringify(statement)).toString('base64'),
          signatures: [],
        },
      }),
    );
    const empty = await store.putBlob(ref, new TextEncoder().encode('{}'), MediaTypes.ociEmpty);
    const layer = await store.putBlob(ref, bundleJson, BUNDLE);
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      artifactType: BUNDLE,
      config: { mediaType: MediaTypes.ociEmpty, digest: empty.digest, size: 2 },
      layers: [{ mediaType: BUNDLE, digest: layer.digest, size: bundleJson.byteLength }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: { 'dev.sigstore.bundle.predicateType': SIGN },
    };
    const bytes = encodeManifest(manifest);
    lyingBundle = Digest.of(bytes).toString();
    await store.putManifest(withDigest(ref, Digest.of(bytes)), bytes, MediaTypes.ociManifest);
    // A bundle referrer whose layer holds no statement: labelled from its annotation.
    annotatedOnly = (
      await pushArtifact(store, ref, subject, BUNDLE, { 'dev.sigstore.bundle.predicateType': SIGN })
    ).digest.toString();
    sbom = (await pushArtifact(store, ref, subject, 'application/spdx+json')).digest.toString();
  }, 60_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('text: every cherry says what it is and what that was read from', async () => {
    const r = await seal(['tree', image]);
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    const cherries = lines.filter((l) => l.includes('🍒'));
    const lineAfter = (heading: RegExp) => {
      const i = lines.findIndex((l) => heading.test(l));
      expect(i).toBeGreaterThan(-1);
      return lines[i + 1];
    };
    expect(lineAfter(/Signatures for an image tag/)).toMatch(
      /🍒 sha256:[0-9a-f]{64} {2}signature \(from the media type\)$/,
    );
    expect(lineAfter(/Attestations for an image tag/)).toMatch(
      /🍒 sha256:[0-9a-f]{64} {2}attestation https:\/\/example\.com\/scan\/v1 \(from the signed statement, not verified\)$/,
    );
    const content = '(from the signed statement, not verified)';
    expect(cherries.filter((l) => l.endsWith(`signature ${content}`))).toHaveLength(1);
    expect(
      cherries.filter((l) => l.endsWith(`attestation https://slsa.dev/provenance/v1 ${content}`)),
    ).toHaveLength(2);
    expect(cherries.find((l) => l.includes(lyingBundle))).toMatch(
      /attestation https:\/\/slsa\.dev\/provenance\/v1 \(from the signed statement/,
    );
    expect(cherries.find((l) => l.includes(annotatedOnly))).toMatch(/ {2}signature \(from annotations\)$/);
    expect(cherries.find((l) => l.includes(sbom))).toMatch(
      / {2}SBOM application\/spdx\+json \(from the media type\)$/,
    );
    expect(cherries).toHaveLength(7);
  });

  it('json: the same labels as data', async () => {
    const r = await seal(['tree', '-o', 'json', image]);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out) as {
      legacy: Array<{ kind: string; labels: unknown[] }>;
      referrers: Array<{ digest: string; label: unknown }>;
    };
    expect(json.legacy.find((l) => l.kind === 'signatures')?.labels).toEqual([
      { kind: 'signature', basis: 'media type' },
    ]);
    expect(json.legacy.find((l) => l.kind === 'attestations')?.labels).toEqual([
      { kind: 'attestation', type: 'https://example.com/scan/v1', basis: 'content' },
    ]);
    const label = (d: string) => json.referrers.find((x) => x.digest === d)?.label;
    expect(label(lyingBundle)).toEqual({
      kind: 'attestation',
      type: 'https://slsa.dev/provenance/v1',
      basis: 'content',
    });
    expect(label(annotatedOnly)).toEqual({ kind: 'signature', basis: 'annotations' });
    expect(label(sbom)).toEqual({ kind: 'sbom', type: 'application/spdx+json', basis: 'media type' });
  });
});
