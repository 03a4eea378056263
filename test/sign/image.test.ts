import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachmentTag, SIGNATURE_ANNOTATION } from '../../src/formats/cosign.js';
import { KeySigner } from '../../src/keys/signer.js';
import { Digest } from '../../src/oci/digest.js';
import { encodeManifest, type ImageManifest, MediaTypes } from '../../src/oci/manifest.js';
import { LayoutStore } from '../../src/oci/layout.js';
import { parseReference, type Reference, withDigest, withTag } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import type { ImageStore } from '../../src/oci/store.js';
import { signImage } from '../../src/sign/image.js';
import { buildCosignSignStatement } from '../../src/formats/intoto.js';
import { IN_TOTO_PAYLOAD_TYPE, signEnvelope } from '../../src/formats/dsse.js';
import { attachBundle } from '../../src/sign/attach.js';
import { verifyImage } from '../../src/verify/image.js';
import { pushRandomImage, pushSampleMultiArch } from '../oci/store-suite.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

const newSigner = () => new KeySigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
const unique = () => `sig${randomBytes(4).toString('hex')}`;

interface Backend {
  store: ImageStore;
  ref(repoAndTag: string): Reference;
}

function signVerifySuite(name: string, setup: () => Promise<Backend & { cleanup(): Promise<void> }>) {
  describe(`sign and verify with a key: ${name}`, () => {
    let b: Backend & { cleanup(): Promise<void> };
    const signer = newSigner();
    const key = signer.publicKeyPem();
    const expect_ = { keys: [key], ignoreTlog: true };
    beforeAll(async () => {
      b = await setup();
    }, 60_000);
    afterAll(async () => b?.cleanup());

    for (const newBundleFormat of [true, false]) {
      const fmt = newBundleFormat ? 'bundle referrer' : 'legacy .sig tag';

      it(`round-trips a signature (${fmt}) and verifies by tag and by digest`, async () => {
        const ref = b.ref(`${unique()}/app:v1`);
        const img = await pushRandomImage(b.store, ref);
        const warnings: string[] = [];
        const signed = await signImage(ref, {
          signer,
          store: b.store,
          newBundleFormat,
          annotations: { env: 'prod' },
          warn: (m) => warnings.push(m),
        });
        expect(signed).toHaveLength(1);
        expect(signed[0]!.digest).toBe(img.digest.toString());
        expect(warnings.join()).toMatch(/uses a tag/);
        for (const target of [ref, withDigest(ref, img.digest)]) {
          const verdict = await verifyImage(
            target,
            { ...expect_, annotations: { env: 'prod' } },
            { store: b.store },
          );
          expect(verdict.ok, verdict.message).toBe(true);
          expect(verdict.digest).toBe(img.digest.toString());
          const sig = verdict.signatures.find((s) => s.ok)!;
          expect(sig.source).toBe(newBundleFormat ? 'bundle-referrer' : 'legacy-tag');
          expect(sig.checks.find((c) => c.name === 'subject-digest')).toMatchObject({
            ok: true,
            expected: img.digest.toString(),
          });
        }
      });

      it(`rejects a missing -a annotation (${fmt})`, async () => {
        const ref = b.ref(`${unique()}/app:v1`);
        await pushRandomImage(b.store, ref);
        await signImage(ref, { signer, store: b.store, newBundleFormat, annotations: { env: 'dev' } });
        const verdict = await verifyImage(
          ref,
          { ...expect_, annotations: { env: 'prod' } },
          { store: b.store },
        );
        expect(verdict.ok).toBe(false);
        expect(verdict.code).toBe('E_ANNOTATION_MISMATCH');
        expect(verdict.message).toMatch(/env=prod/);
      });

      it(`rejects the wrong key (${fmt})`, async () => {
        const ref = b.ref(`${unique()}/app:v1`);
        await pushRandomImage(b.store, ref);
        await signImage(ref, { signer, store: b.store, newBundleFormat });
        const other = newSigner().publicKeyPem();
        const verdict = await verifyImage(ref, { keys: [other], ignoreTlog: true }, { store: b.store });
        expect(verdict.ok).toBe(false);
        expect(verdict.code).toBe('E_SIGNATURE_INVALID');
      });

      it(`rejects a tag moved to an unsigned image (${fmt})`, async () => {
        const ref = b.ref(`${unique()}/app:v1`);
        await pushRandomImage(b.store, ref);
        await signImage(ref, { signer, store: b.store, newBundleFormat });
        await pushRandomImage(b.store, ref); // re-points the tag
        const verdict = await verifyImage(ref, expect_, { store: b.store });
        expect(verdict.ok).toBe(false);
        expect(verdict.code).toBe('E_NO_SIGNATURES');
      });

      it(`signs every manifest of a multi-arch index with --recursive (${fmt})`, async () => {
        const ref = b.ref(`${unique()}/multi:v1`);
        const sample = await pushSampleMultiArch(b.store, ref);
        const signed = await signImage(ref, { signer, store: b.store, newBundleFormat, recursive: true });
        expect(signed.map((s) => s.digest).sort()).toEqual(
          [sample.index.digest, ...sample.children].map((d) => d.toString()).sort(),
        );
        for (const d of [sample.index.digest, ...sample.children]) {
          const verdict = await verifyImage(withDigest(ref, d), expect_, { store: b.store });
          expect(verdict.ok, `${d}: ${verdict.message}`).toBe(true);
        }
      });
    }

    it('rejects a legacy payload edited after signing', async () => {
      const ref = b.ref(`${unique()}/app:v1`);
      const img = await pushRandomImage(b.store, ref);
      await signImage(ref, { signer, store: b.store, newBundleFormat: false });
      const sigRef = withTag(ref, attachmentTag(img.digest, 'sig'));
      const sig = (await b.store.getManifest(sigRef)).manifest as ImageManifest;
      const original = await b.store.getBlob(ref, Digest.parse(sig.layers[0]!.digest));
      const edited = new TextEncoder().encode(
        new TextDecoder().decode(original).replace('"optional":null', '"optional":{"approved":"yes"}'),
      );
      expect(Buffer.from(edited).equals(Buffer.from(original))).toBe(false);
      const desc = await b.store.putBlob(ref, edited, sig.layers[0]!.mediaType);
      const tampered: ImageManifest = {
        ...sig,
        layers: [{ ...sig.layers[0]!, digest: desc.digest, size: desc.size }],
      };
      await b.store.putManifest(sigRef, encodeManifest(tampered), MediaTypes.ociManifest);
      const verdict = await verifyImage(ref, expect_, { store: b.store });
      expect(verdict.ok).toBe(false);
      expect(verdict.code).toBe('E_SIGNATURE_INVALID');
    });

    it('rejects a legacy signature copied from another image', async () => {
      const refA = b.ref(`${unique()}/app:a`);
      const refB = withTag(refA, 'b');
      const a = await pushRandomImage(b.store, refA);
      const other = await pushRandomImage(b.store, refB);
      await signImage(refB, { signer, store: b.store, newBundleFormat: false });
      const sigB = await b.store.getManifest(withTag(refB, attachmentTag(other.digest, 'sig')));
      await b.store.putManifest(withTag(refA, attachmentTag(a.digest, 'sig')), sigB.bytes, sigB.mediaType);
      const verdict = await verifyImage(refA, expect_, { store: b.store });
      expect(verdict.ok).toBe(false);
      expect(verdict.code).toBe('E_SUBJECT_MISMATCH');
      expect(verdict.message).toContain(other.digest.toString());
    });

    it('rejects a bundle whose statement names another digest', async () => {
      const ref = b.ref(`${unique()}/app:v1`);
      const img = await pushRandomImage(b.store, ref);
      const elsewhere = Digest.of(randomBytes(10));
      const envelope = await signEnvelope(signer, IN_TOTO_PAYLOAD_TYPE, buildCosignSignStatement(elsewhere));
      const { serializeEnvelope } = await import('../../src/formats/dsse.js');
      await attachBundle({
        store: b.store,
        ref,
        subject: img.descriptor,
        envelope,
        envelopeBytes: serializeEnvelope(envelope),
        predicateType: 'https://sigstore.dev/cosign/sign/v1',
        signer,
        upload: true,
        created: new Date(),
      });
      const verdict = await verifyImage(ref, expect_, { store: b.store });
      expect(verdict.ok).toBe(false);
      expect(verdict.code).toBe('E_SUBJECT_MISMATCH');
    });

    it('rejects corrupted base64 in a legacy signature annotation', async () => {
      const ref = b.ref(`${unique()}/app:v1`);
      const img = await pushRandomImage(b.store, ref);
      await signImage(ref, { signer, store: b.store, newBundleFormat: false });
      const sigRef = withTag(ref, attachmentTag(img.digest, 'sig'));
      const sig = (await b.store.getManifest(sigRef)).manifest as ImageManifest;
      const bad: ImageManifest = {
        ...sig,
        layers: [
          {
            ...sig.layers[0]!,
            annotations: { ...sig.layers[0]!.annotations, [SIGNATURE_ANNOTATION]: 'MEUC!!not-base64' },
          },
        ],
      };
      await b.store.putManifest(sigRef, encodeManifest(bad), MediaTypes.ociManifest);
      const verdict = await verifyImage(ref, expect_, { store: b.store });
      expect(verdict.ok).toBe(false);
      expect(verdict.code).toBe('E_BASE64');
    });

    it('rejects a referrer whose bundle has an unknown media type', async () => {
      const ref = b.ref(`${unique()}/app:v1`);
      const img = await pushRandomImage(b.store, ref);
      const signed = await signImage(ref, { signer, store: b.store, upload: false });
      const bundle = {
        ...(signed[0]!.bundle as object),
        mediaType: 'application/vnd.dev.sigstore.bundle.v9.9+json',
      };
      const bytes = new TextEncoder().encode(JSON.stringify(bundle));
      const { buildReferrerManifest } = await import('../../src/formats/bundle.js');
      const referrer = buildReferrerManifest(
        bytes,
        img.descriptor,
        'https://sigstore.dev/cosign/sign/v1',
        new Date(),
      );
      for (const blob of referrer.blobs) await b.store.putBlob(ref, blob.blob, blob.descriptor.mediaType);
      await b.store.putManifest(withDigest(ref, referrer.digest), referrer.bytes, MediaTypes.ociManifest);
      const verdict = await verifyImage(ref, expect_, { store: b.store });
      expect(verdict.ok).toBe(false);
      expect(verdict.code).toBe('E_BUNDLE_MEDIA_TYPE');
    });

    it('refuses to verify without a pinned key or identity', async () => {
      const ref = b.ref(`${unique()}/app:v1`);
      await pushRandomImage(b.store, ref);
      await expect(verifyImage(ref, { ignoreTlog: true }, { store: b.store })).rejects.toMatchObject({
        code: 'E_EXPECTATIONS_MISSING',
      });
    });

    it('gives E_NOT_FOUND for a tag that does not exist', async () => {
      const verdict = await verifyImage(b.ref(`${unique()}/app:nope`), expect_, { store: b.store });
      expect(verdict.code).toBe('E_NOT_FOUND');
    });

    it('keeps both signatures when two legacy signers append at once', async () => {
      const ref = b.ref(`${unique()}/app:v1`);
      const img = await pushRandomImage(b.store, ref);
      const signers = [newSigner(), newSigner(), newSigner()];
      await Promise.all(
        signers.map((s) =>
          signImage(withDigest(ref, img.digest), { signer: s, store: b.store, newBundleFormat: false }),
        ),
      );
      const sig = (await b.store.getManifest(withTag(ref, attachmentTag(img.digest, 'sig'))))
        .manifest as ImageManifest;
      expect(sig.layers).toHaveLength(signers.length);
      for (const s of signers) {
        const v = await verifyImage(ref, { keys: [s.publicKeyPem()], ignoreTlog: true }, { store: b.store });
        expect(v.ok, v.message).toBe(true);
      }
    });

    it('skips a duplicate legacy signature by the same key', async () => {
      const ref = b.ref(`${unique()}/app:v1`);
      const img = await pushRandomImage(b.store, ref);
      await signImage(ref, { signer, store: b.store, newBundleFormat: false });
      const again = await signImage(ref, { signer, store: b.store, newBundleFormat: false });
      expect(again[0]!.duplicate).toBe(true);
      const sig = (await b.store.getManifest(withTag(ref, attachmentTag(img.digest, 'sig'))))
        .manifest as ImageManifest;
      expect(sig.layers).toHaveLength(1);
    });
  });
}

signVerifySuite('OCI layout', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'seal-sign-'));
  return {
    store: new LayoutStore(),
    ref: (repoAndTag: string) =>
      parseReference(`oci-layout:${join(dir, repoAndTag.split(':')[0]!)}:${repoAndTag.split(':')[1]}`),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describeWithRegistry('sign and verify on the real registry', () => {
  signVerifySuite('registry', async () => {
    const registry: RunningRegistry = await startRegistry();
    return {
      store: new RegistryStore({ credentials: anonymousCredentials }),
      ref: (repoAndTag: string) => parseReference(`${registry.host}/${repoAndTag}`),
      cleanup: () => registry.stop(),
    };
  });
});
