import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import {
  appendSignatureLayer,
  attachmentTag,
  BUNDLE_ANNOTATION,
  buildSignatureConfig,
  buildSignatureLayer,
  CHAIN_ANNOTATION,
  parseRekorBundle,
  parseSignatureLayers,
  type RekorBundle,
  SIGNATURE_ANNOTATION,
  serializeManifest,
  serializeRekorBundle,
  signatureTag,
} from '../../src/formats/cosign.js';
import { buildSimpleSigningPayload } from '../../src/formats/simplesigning.js';
import { EphemeralSigner } from '../../src/keys/ephemeral.js';
import { loadPublicKey } from '../../src/keys/public-key.js';
import { Digest } from '../../src/oci/digest.js';
import type { ImageManifest } from '../../src/oci/manifest.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/formats/${name}`, import.meta.url));
const IMAGE = 'sha256:f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isSealError(e) ? e.code : String(e);
  }
  return undefined;
}

describe('legacy .sig layout', () => {
  it('names tags sha256-<hex>.sig/.att/.sbom', () => {
    const hex = IMAGE.slice(7);
    expect(signatureTag(IMAGE)).toBe(`sha256-${hex}.sig`);
    expect(attachmentTag(Digest.parse(IMAGE), 'att')).toBe(`sha256-${hex}.att`);
    expect(attachmentTag(IMAGE, 'sbom', 'p-')).toBe(`p-sha256-${hex}.sbom`);
  });

  it('rebuilds the exact manifest and config cosign pushed for a captured signature', () => {
    const manifestBytes = fixture('cosign-sig-manifest.bin');
    const captured = JSON.parse(manifestBytes.toString()) as ImageManifest;
    const payload = buildSimpleSigningPayload({
      dockerReference: 'localhost:15381/tobby/fixture',
      digest: IMAGE,
    });
    const signature = Buffer.from(captured.layers[0]!.annotations![SIGNATURE_ANNOTATION]!, 'base64');
    // The captured signature is a real cosign signature over the payload.
    expect(loadPublicKey(fixture('cosign.pub').toString()).verify(payload, signature)).toBe(true);
    const result = appendSignatureLayer(undefined, buildSignatureLayer({ payload, signature }));
    if (result === 'duplicate') throw new Error('unexpected duplicate');
    expect(Buffer.from(result.bytes).toString()).toBe(manifestBytes.toString());
    expect(result.config.descriptor.digest).toBe(
      'sha256:2122b6ad0794d3fdae43a4b477cf1d95d4a38d3c5f10631e199676039b876e37',
    );
    expect(result.config.blob.length).toBe(233);
    expect(Buffer.from(serializeManifest(captured)).equals(manifestBytes)).toBe(true);
  });

  it('matches the config digest of a second capture (go-containerregistry v0.20.2)', () => {
    const config = buildSignatureConfig([
      'sha256:4306feade2f8d7aa22ad654dfd61d0ee66a94f8970fba8d825f45641e9087a78',
    ]);
    expect(Digest.of(config).toString()).toBe(
      'sha256:d748d2b76ebf8a245176858c537a245f62f4cd9271dcad170c107bd399384703',
    );
  });

  it('writes the config cosign uses, one history entry and diff_id per layer', () => {
    expect(new TextDecoder().decode(buildSignatureConfig(['sha256:aa', 'sha256:bb']))).toBe(
      '{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"},{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["sha256:aa","sha256:bb"]},"config":{}}',
    );
  });

  it('appends to existing signatures and skips duplicates by cosign’s rule', async () => {
    const signer = EphemeralSigner.create();
    const verifier = signer.verifier();
    const payload = buildSimpleSigningPayload({ dockerReference: 'r/x', digest: IMAGE });
    const first = appendSignatureLayer(
      undefined,
      buildSignatureLayer({ payload, signature: await signer.sign(payload) }),
    );
    if (first === 'duplicate') throw new Error('unexpected');
    const verifyDuplicate = (sig: Uint8Array, data: Uint8Array) => verifier.verify(data, sig);
    // Same payload, same key (fresh ECDSA signature): a duplicate.
    const again = buildSignatureLayer({ payload, signature: await signer.sign(payload) });
    expect(appendSignatureLayer(first.manifest, again, { verifyDuplicate })).toBe('duplicate');
    // Without a dupe detector, or with another key, or an extra annotation: appended.
    expect(appendSignatureLayer(first.manifest, again)).not.toBe('duplicate');
    const other = EphemeralSigner.create();
    const second = appendSignatureLayer(
      first.manifest,
      buildSignatureLayer({ payload, signature: await other.sign(payload) }),
      {
        verifyDuplicate: (sig, data) => other.verifier().verify(data, sig),
      },
    );
    if (second === 'duplicate') throw new Error('unexpected');
    expect(second.manifest.layers).toHaveLength(2);
    expect(JSON.parse(new TextDecoder().decode(second.config.blob)).rootfs.diff_ids).toHaveLength(2);
    const withCert = buildSignatureLayer({
      payload,
      signature: await signer.sign(payload),
      certificatePem: 'CERT',
    });
    expect(appendSignatureLayer(first.manifest, withCert, { verifyDuplicate })).not.toBe('duplicate');
  });

  it('refuses to grow past 1000 layers', () => {
    const layer = buildSignatureLayer({ payload: new Uint8Array([1]), signature: new Uint8Array([2]) });
    const full: ImageManifest = {
      schemaVersion: 2,
      config: { mediaType: 'x', size: 0, digest: IMAGE },
      layers: Array.from({ length: 1000 }, () => layer.descriptor),
    };
    expect(codeOf(() => appendSignatureLayer(full, layer))).toBe('E_TOO_MANY_LAYERS');
  });

  it('round-trips certificate, chain and Rekor bundle annotations', () => {
    const bundle: RekorBundle = {
      SignedEntryTimestamp: new Uint8Array([1, 2, 3]),
      Payload: {
        body: 'eyJhIjoxfQ==',
        integratedTime: 1624396085,
        logIndex: 5179,
        logID: 'c0d23d6ad406973f',
      },
    };
    expect(serializeRekorBundle(bundle)).toBe(
      '{"SignedEntryTimestamp":"AQID","Payload":{"body":"eyJhIjoxfQ==","integratedTime":1624396085,"logIndex":5179,"logID":"c0d23d6ad406973f"}}',
    );
    const layer = buildSignatureLayer({
      payload: new TextEncoder().encode('p'),
      signature: new Uint8Array([9, 9]),
      certificatePem: '-----BEGIN CERTIFICATE-----\n...\n',
      rekorBundle: bundle,
      rfc3161Timestamp: new Uint8Array([7]),
    });
    expect(layer.descriptor.annotations[CHAIN_ANNOTATION]).toBe('');
    const m = appendSignatureLayer(undefined, layer);
    if (m === 'duplicate') throw new Error('unexpected');
    const text = new TextDecoder().decode(m.bytes);
    // Go sorts the annotation keys: cosignproject < sigstore.cosign/bundle < certificate < chain < rfc3161timestamp.
    expect(text.indexOf(SIGNATURE_ANNOTATION)).toBeLessThan(text.indexOf(BUNDLE_ANNOTATION));
    expect(text.indexOf(BUNDLE_ANNOTATION)).toBeLessThan(text.indexOf('dev.sigstore.cosign/certificate'));
    const [parsed] = parseSignatureLayers(JSON.parse(text));
    expect(parsed!.signature).toEqual(new Uint8Array([9, 9]));
    expect(parsed!.certificatePem).toBe('-----BEGIN CERTIFICATE-----\n...\n');
    expect(parsed!.chainPem).toBeUndefined();
    expect(parsed!.rekorBundle).toEqual(bundle);
    expect(parsed!.rfc3161Timestamp).toEqual(new Uint8Array([7]));
    expect(parsed!.payloadDigest.equals(Digest.of('p'))).toBe(true);
  });

  it('rejects a corrupted base64 signature with E_BASE64', () => {
    const m = JSON.parse(fixture('cosign-sig-manifest.bin').toString()) as ImageManifest;
    m.layers[0]!.annotations![SIGNATURE_ANNOTATION] = 'MEUCIEB+pz4s!!';
    expect(codeOf(() => parseSignatureLayers(m))).toBe('E_BASE64');
    m.layers[0]!.annotations = {};
    expect(codeOf(() => parseSignatureLayers(m))).toBe('E_PAYLOAD_INVALID');
    expect(
      codeOf(() =>
        parseRekorBundle(
          '{"SignedEntryTimestamp":"%%","Payload":{"body":"","integratedTime":1,"logIndex":1,"logID":"x"}}',
        ),
      ),
    ).toBe('E_BASE64');
    expect(codeOf(() => parseRekorBundle('{"Payload":{}}'))).toBe('E_TLOG_INVALID');
  });
});
