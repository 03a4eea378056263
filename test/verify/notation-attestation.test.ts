// Notary referrer attestations (verifyNotationAttestation) over an OCI layout: SBOM artifacts attached as
// referrers and signed notation-style in the test (Node crypto JWS, openssl PKI), found by exact artifactType,
// their signature, subject, layer and payload checked; each refusal has its own code.

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Digest } from '../../src/oci/digest.js';
import { LayoutStore } from '../../src/oci/layout.js';
import type { Descriptor } from '../../src/oci/manifest.js';
import { parseReference, type Reference } from '../../src/oci/ref.js';
import {
  MAX_ATTESTATION_REFERRERS,
  type NotationTrust,
  verifyNotationAttestation,
} from '../../src/verify/notation/index.js';
import { certificatesFromPem, parseCertificate } from '../../src/formats/x509.js';
import { pushRandomImage } from '../oci/store-suite.js';
import { attachAttestationArtifact, attachNotation, notationJws } from '../support/notation-sign.js';
import { describeWithOpenssl, makeOpensslCA, type OpensslCA } from '../support/openssl-ca.js';

const SBOM = 'sbom/cyclone-dx';
const sbom = (extra: Record<string, unknown> = {}) =>
  new TextEncoder().encode(JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', ...extra }));

describeWithOpenssl('Notary referrer attestations (OCI layout, openssl PKI)', () => {
  let dir: string;
  let ca: OpensslCA;
  let other: OpensslCA;
  const store = new LayoutStore();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-notation-att-'));
    await Promise.all(['ca', 'other'].map((d) => mkdir(join(dir, d))));
    [ca, other] = await Promise.all([
      makeOpensslCA(join(dir, 'ca'), 'n@example.com', 'Notation'),
      makeOpensslCA(join(dir, 'other'), 'o@example.com', 'Other'),
    ]);
  }, 120_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const trust = (pem: string): NotationTrust => ({
    name: 'kyverno',
    level: 'strict',
    roots: { ca: certificatesFromPem(pem).map((d) => parseCertificate(d)), signingAuthority: [] },
    trustedIdentities: '*',
  });

  async function image(): Promise<{ ref: Reference; desc: Descriptor }> {
    const ref = parseReference(`oci-layout:${join(dir, `img${randomBytes(3).toString('hex')}`)}:v1`);
    const pushed = await pushRandomImage(store, ref);
    return { ref, desc: pushed.descriptor };
  }

  async function sign(ref: Reference, target: Descriptor, by: OpensslCA = ca): Promise<string> {
    const chain = by.leafPem + by.chainPem;
    const env = await notationJws(target, { keyFile: by.leafKey, chainPem: chain });
    return attachNotation(store, ref, target, env, chain);
  }

  it('verifies a signed SBOM referrer and gives its payload and manifest', async () => {
    const { ref, desc } = await image();
    const art = await attachAttestationArtifact(store, ref, desc, { artifactType: SBOM, payload: sbom() });
    await sign(ref, art);
    const v = await verifyNotationAttestation(ref, store, SBOM, trust(ca.rootPem));
    expect(v.ok, v.message).toBe(true);
    expect(v.digest).toBe(desc.digest);
    expect(v.verified?.descriptor.digest).toBe(art.digest);
    expect(v.verified?.payload).toEqual({ bomFormat: 'CycloneDX', specVersion: '1.5' });
    expect(v.verified?.manifest).toMatchObject({ artifactType: SBOM, subject: { digest: desc.digest } });
  });

  it('undoes gzip on the payload, as Kyverno reads the layer uncompressed', async () => {
    const { ref, desc } = await image();
    const art = await attachAttestationArtifact(store, ref, desc, {
      artifactType: SBOM,
      payload: gzipSync(sbom({ zipped: true })),
      layerMediaType: 'application/vnd.cyclonedx+json+gzip',
    });
    await sign(ref, art);
    const v = await verifyNotationAttestation(ref, store, SBOM, trust(ca.rootPem));
    expect(v.ok, v.message).toBe(true);
    expect(v.verified?.payload).toMatchObject({ zipped: true });
  });

  it('says so when the image has no referrer of the type; the artifactType is compared exactly', async () => {
    const { ref, desc } = await image();
    const art = await attachAttestationArtifact(store, ref, desc, {
      artifactType: 'application/vnd.cyclonedx+json',
      payload: sbom(),
    });
    await sign(ref, art);
    const none = await verifyNotationAttestation(ref, store, SBOM, trust(ca.rootPem));
    expect(none.ok).toBe(false);
    expect(none.code).toBe('E_NO_SIGNATURES');
    expect(none.message).toContain(`no ${SBOM} attestation`);
    for (const near of [
      'application/vnd.CycloneDX+json',
      'application/vnd.cyclonedx+json ',
      'application/vnd.cyclonedx',
    ])
      expect((await verifyNotationAttestation(ref, store, near, trust(ca.rootPem))).code).toBe(
        'E_NO_SIGNATURES',
      );
    const exact = await verifyNotationAttestation(
      ref,
      store,
      'application/vnd.cyclonedx+json',
      trust(ca.rootPem),
    );
    expect(exact.ok, exact.message).toBe(true);
  });

  it('refuses an artifact signed under another root, and one not signed at all', async () => {
    const { ref, desc } = await image();
    const art = await attachAttestationArtifact(store, ref, desc, { artifactType: SBOM, payload: sbom() });
    await sign(ref, art, other);
    const v = await verifyNotationAttestation(ref, store, SBOM, trust(ca.rootPem));
    expect(v.ok).toBe(false);
    expect(v.code).toBe('E_CERTIFICATE_INVALID');
    expect(v.message).toContain('does not lead to a certificate in the ca trust store');
    expect(v.artifacts).toHaveLength(1);

    const bare = await image();
    await attachAttestationArtifact(store, bare.ref, bare.desc, { artifactType: SBOM, payload: sbom() });
    const unsigned = await verifyNotationAttestation(bare.ref, store, SBOM, trust(ca.rootPem));
    expect(unsigned.ok).toBe(false);
    expect(unsigned.code).toBe('E_NO_SIGNATURES');
    expect(unsigned.message).toContain('no notation signatures found');
  });

  it('refuses a signature over the image instead of the artifact (the payload names another digest)', async () => {
    const { ref, desc } = await image();
    const art = await attachAttestationArtifact(store, ref, desc, { artifactType: SBOM, payload: sbom() });
    const chain = ca.leafPem + ca.chainPem;
    const env = await notationJws(art, { keyFile: ca.leafKey, chainPem: chain, target: desc });
    await attachNotation(store, ref, art, env, chain);
    const v = await verifyNotationAttestation(ref, store, SBOM, trust(ca.rootPem));
    expect(v.ok).toBe(false);
    expect(v.code).toBe('E_SUBJECT_MISMATCH');
    expect(v.message).toContain(`the payload names ${desc.digest}`);
  });

  it('refuses a payload blob whose bytes were changed after signing (digest mismatch)', async () => {
    const { ref, desc } = await image();
    const payload = sbom();
    const art = await attachAttestationArtifact(store, ref, desc, { artifactType: SBOM, payload });
    await sign(ref, art);
    const blob = join(ref.kind === 'layout' ? ref.path : '', 'blobs', 'sha256', Digest.of(payload).hex);
    const tampered = new TextEncoder().encode(
      new TextDecoder().decode(payload).replace('CycloneDX', 'CycloneDY'),
    );
    await writeFile(blob, tampered);
    expect((await readFile(blob)).byteLength).toBe(payload.byteLength);
    const v = await verifyNotationAttestation(ref, store, SBOM, trust(ca.rootPem));
    expect(v.ok).toBe(false);
    expect(v.code).toBe('E_DIGEST_MISMATCH');
  });

  it('refuses an artifact with two layers, and a payload that is not JSON', async () => {
    const two = await image();
    const extra = await store.putBlob(two.ref, sbom(), 'application/json');
    const art2 = await attachAttestationArtifact(store, two.ref, two.desc, {
      artifactType: SBOM,
      payload: sbom(),
      extraLayers: [{ mediaType: 'application/json', digest: extra.digest, size: extra.size }],
    });
    await sign(two.ref, art2);
    const v2 = await verifyNotationAttestation(two.ref, store, SBOM, trust(ca.rootPem));
    expect(v2.code).toBe('E_MANIFEST_INVALID');
    expect(v2.message).toContain('2 layers');

    const bad = await image();
    const art3 = await attachAttestationArtifact(store, bad.ref, bad.desc, {
      artifactType: SBOM,
      payload: new TextEncoder().encode('{"bomFormat": '),
    });
    await sign(bad.ref, art3);
    const v3 = await verifyNotationAttestation(bad.ref, store, SBOM, trust(ca.rootPem));
    expect(v3.code).toBe('E_PAYLOAD_INVALID');
  });

  it('takes the first artifact whose signature verifies, after one that does not', async () => {
    const { ref, desc } = await image();
    const a = await attachAttestationArtifact(store, ref, desc, {
      artifactType: SBOM,
      payload: sbom({ n: 1 }),
    });
    const b = await attachAttestationArtifact(store, ref, desc, {
      artifactType: SBOM,
      payload: sbom({ n: 2 }),
    });
    await sign(ref, a, other);
    await sign(ref, b);
    const v = await verifyNotationAttestation(ref, store, SBOM, trust(ca.rootPem));
    expect(v.ok, v.message).toBe(true);
    expect(v.verified?.descriptor.digest).toBe(b.digest);
    expect(v.verified?.payload).toMatchObject({ n: 2 });
    expect(v.artifacts.find((x) => x.digest === a.digest)?.code ?? 'not tried').toMatch(
      /E_CERTIFICATE_INVALID|not tried/,
    );
  });

  it(`refuses an image with more than ${MAX_ATTESTATION_REFERRERS} referrers (Kyverno's bound)`, async () => {
    const { ref, desc } = await image();
    for (let i = 0; i <= MAX_ATTESTATION_REFERRERS; i++)
      await attachAttestationArtifact(store, ref, desc, { artifactType: 'other/type', payload: sbom({ i }) });
    const v = await verifyNotationAttestation(ref, store, SBOM, trust(ca.rootPem));
    expect(v.ok).toBe(false);
    expect(v.code).toBe('E_TOO_MANY_REFERRERS');
    expect(v.message).toContain(`${MAX_ATTESTATION_REFERRERS + 1} referrers`);
  }, 60_000);
});
