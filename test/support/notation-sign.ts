// A Notary Project JWS signature made in the test with Node crypto (not by seal's verifier), attached as an
// OCI referrer the way notation stores it: artifactType application/vnd.cncf.notary.signature, one
// application/jose+json layer, subject = the image, the x509chain thumbprint annotation
// (wave2-facts.md §5.1–§5.3; NS signature-specification.md, signature-envelope-jws.md).

import { createHash, createPrivateKey, sign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Digest } from '../../src/oci/digest.js';
import { type Descriptor, encodeManifest, type ImageManifest, MediaTypes } from '../../src/oci/manifest.js';
import { type Reference, withDigest } from '../../src/oci/ref.js';
import type { ImageStore } from '../../src/oci/store.js';
import { certificatesFromPem } from '../../src/formats/x509.js';

export interface NotationSignOptions {
  /** Leaf key file (PEM) and chain PEM, leaf first. */
  keyFile: string;
  chainPem: string;
  /** The descriptor the payload names (default: the subject). */
  target?: Descriptor;
  signingTime?: Date;
  expiry?: Date;
  /** Extra protected headers, and names to add to crit. */
  extraProtected?: Record<string, unknown>;
  extraCrit?: string[];
  /** Change the payload after signing. */
  tamperPayload?: boolean;
}

export async function notationJws(subject: Descriptor, o: NotationSignOptions): Promise<Uint8Array> {
  const key = createPrivateKey(await readFile(o.keyFile));
  const alg = key.asymmetricKeyType === 'ec' ? 'ES256' : 'PS256';
  const crit = [
    'io.cncf.notary.signingScheme',
    ...(o.expiry ? ['io.cncf.notary.expiry'] : []),
    ...(o.extraCrit ?? []),
  ];
  const header: Record<string, unknown> = {
    alg,
    crit,
    cty: 'application/vnd.cncf.notary.payload.v1+json',
    'io.cncf.notary.signingScheme': 'notary.x509',
    'io.cncf.notary.signingTime': (o.signingTime ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z'),
    ...(o.expiry ? { 'io.cncf.notary.expiry': o.expiry.toISOString().replace(/\.\d+Z$/, 'Z') } : {}),
    ...(o.extraProtected ?? {}),
  };
  const t = o.target ?? subject;
  const payload = { targetArtifact: { mediaType: t.mediaType, digest: t.digest, size: t.size } };
  const p = Buffer.from(JSON.stringify(header)).toString('base64url');
  let pl = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const signature = sign(
    alg === 'ES256' ? 'sha256' : 'sha256',
    Buffer.from(`${p}.${pl}`),
    alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : { key, padding: 6, saltLength: 32 },
  );
  if (o.tamperPayload) {
    pl = Buffer.from(
      JSON.stringify({ targetArtifact: { ...payload.targetArtifact, annotations: { x: 'y' } } }),
    ).toString('base64url');
  }
  const x5c = certificatesFromPem(o.chainPem).map((d) => Buffer.from(d).toString('base64'));
  return new TextEncoder().encode(
    JSON.stringify({
      payload: pl,
      protected: p,
      header: { x5c, 'io.cncf.notary.signingAgent': 'seal-test/1.0' },
      signature: signature.toString('base64url'),
    }),
  );
}

export const EMPTY_CONFIG = new TextEncoder().encode('{}');

/** Attach `envelope` to `subject` as a notation signature referrer; returns its manifest digest. */
export async function attachNotation(
  store: ImageStore,
  ref: Reference,
  subject: Descriptor,
  envelope: Uint8Array,
  chainPem: string,
  mediaType = 'application/jose+json',
): Promise<string> {
  await store.putBlob(ref, EMPTY_CONFIG, MediaTypes.ociEmpty);
  const layer = await store.putBlob(ref, envelope, mediaType);
  const thumbprints = certificatesFromPem(chainPem).map((d) => createHash('sha256').update(d).digest('hex'));
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    artifactType: 'application/vnd.cncf.notary.signature',
    config: { mediaType: MediaTypes.ociEmpty, digest: Digest.of(EMPTY_CONFIG).toString(), size: 2 },
    layers: [{ mediaType, digest: layer.digest, size: envelope.byteLength }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: { 'io.cncf.notary.x509chain.thumbprint#S256': JSON.stringify(thumbprints) },
  };
  const bytes = encodeManifest(manifest);
  const digest = Digest.of(bytes);
  await store.putManifest(withDigest(ref, digest), bytes, MediaTypes.ociManifest);
  return digest.toString();
}

export interface AttestationArtifactOptions {
  /** The artifact's artifactType (what a policy's referrer type names). */
  artifactType: string;
  /** The payload layer's bytes (JSON, or gzip of it). */
  payload: Uint8Array;
  layerMediaType?: string;
  /** The subject the manifest names (default: the image). */
  subject?: Descriptor;
  /** Layers to write (default: the one payload layer). */
  extraLayers?: Descriptor[];
}

/**
 * Attach a referrer attestation artifact to `image` the way `oras attach` / notation users do (an OCI
 * manifest with artifactType, the empty config, the payload as its one layer, subject = the image);
 * returns its descriptor, to sign with notationJws + attachNotation.
 */
export async function attachAttestationArtifact(
  store: ImageStore,
  ref: Reference,
  image: Descriptor,
  o: AttestationArtifactOptions,
): Promise<Descriptor> {
  await store.putBlob(ref, EMPTY_CONFIG, MediaTypes.ociEmpty);
  const layerMediaType = o.layerMediaType ?? 'application/vnd.cyclonedx+json';
  const layer = await store.putBlob(ref, o.payload, layerMediaType);
  const subject = o.subject ?? image;
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    artifactType: o.artifactType,
    config: { mediaType: MediaTypes.ociEmpty, digest: Digest.of(EMPTY_CONFIG).toString(), size: 2 },
    layers: [
      { mediaType: layerMediaType, digest: layer.digest, size: o.payload.byteLength },
      ...(o.extraLayers ?? []),
    ],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
  };
  const bytes = encodeManifest(manifest);
  const digest = Digest.of(bytes);
  await store.putManifest(withDigest(ref, digest), bytes, MediaTypes.ociManifest);
  return { mediaType: MediaTypes.ociManifest, digest: digest.toString(), size: bytes.byteLength };
}
