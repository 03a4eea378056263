// Notary referrer attestations (Kyverno `attestations[].referrer` / ClusterPolicy `type: Notary` attestations):
// the image's OCI referrers whose artifactType is the attestation type, each signed by notation (a signature
// referrer whose subject is the attestation manifest); the payload is the artifact's one layer, as JSON.

import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { SealError, type ErrorCode } from '../../errors.js';
import { Digest } from '../../oci/digest.js';
import { type Descriptor, isIndex } from '../../oci/manifest.js';
import { effectiveArtifactType } from '../../oci/referrers.js';
import { type Reference, withDigest } from '../../oci/ref.js';
import type { ImageStore, StoreCallOptions } from '../../oci/store.js';
import { type NotationSignatureResult, verifyNotationImage } from './index.js';
import type { NotationTrust } from './trust.js';

/** Referrers an image may have at most (Kyverno imagedataloader / pkg notary maxReferrersCount): more is refused. */
export const MAX_ATTESTATION_REFERRERS = 50;
/** The most bytes an attestation payload may have, stored or uncompressed (Kyverno maxPayloadSize, 10 MB). */
export const MAX_ATTESTATION_PAYLOAD_BYTES = 10_000_000;

const gunzipAsync = promisify(gunzip);

export interface NotationAttestationArtifact {
  /** The attestation manifest's digest. */
  digest: string;
  ok: boolean;
  code?: ErrorCode;
  message?: string;
  /** The notation signatures tried on this artifact. */
  signatures?: NotationSignatureResult[];
}

export interface NotationAttestationVerdict {
  ok: boolean;
  code?: ErrorCode;
  message: string;
  /** The image manifest digest. */
  digest: string;
  artifactType: string;
  artifacts: NotationAttestationArtifact[];
  /** The verified artifact: its manifest (as JSON), its listing descriptor and its parsed payload. */
  verified?: { descriptor: Descriptor; manifest: unknown; payload: unknown };
}

export interface VerifyNotationAttestationOptions extends StoreCallOptions {
  /** Verification time, epoch seconds (default: now). */
  now?: number;
}

/**
 * The image's referrers with exactly this artifactType (Kyverno compares the listing's artifactType as a
 * plain string, no media-type normalisation), the image's whole referrer listing bounded to
 * MAX_ATTESTATION_REFERRERS as Kyverno bounds it.
 */
async function attestationReferrers(
  ref: Reference,
  store: ImageStore,
  image: Digest,
  artifactType: string,
  call: StoreCallOptions,
): Promise<Descriptor[]> {
  const all = await store.referrers(withDigest(ref, image), image, call);
  if (all.length > MAX_ATTESTATION_REFERRERS)
    throw new SealError(
      'E_TOO_MANY_REFERRERS',
      `${image} has ${all.length} referrers; at most ${MAX_ATTESTATION_REFERRERS} are read for Notary attestations`,
    );
  return all.filter((d) => d.artifactType === artifactType);
}

/** The payload bytes as JSON: gzip is undone (bounded) as ggcr's Uncompressed does by its magic bytes. */
async function parsePayload(bytes: Uint8Array, what: string): Promise<unknown> {
  let raw = bytes;
  if (raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      raw = await gunzipAsync(raw, { maxOutputLength: MAX_ATTESTATION_PAYLOAD_BYTES });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ERR_BUFFER_TOO_LARGE')
        throw new SealError(
          'E_BLOB_TOO_LARGE',
          `${what}: the payload is over ${MAX_ATTESTATION_PAYLOAD_BYTES} bytes uncompressed`,
        );
      throw new SealError('E_PAYLOAD_INVALID', `${what}: the gzip payload does not decompress`);
    }
  } else if (raw[0] === 0x28 && raw[1] === 0xb5 && raw[2] === 0x2f && raw[3] === 0xfd) {
    throw new SealError('E_UNSUPPORTED_MEDIA_TYPE', `${what}: zstd-compressed payloads are not supported`);
  }
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (err) {
    throw new SealError('E_PAYLOAD_INVALID', `${what}: the payload is not JSON (${(err as Error).message})`);
  }
}

/**
 * Verify one attestation artifact: its manifest names the image as subject and has the listed artifactType
 * and one layer; a notation signature of it verifies under `trust`; its layer (digest- and size-checked,
 * bounded) parses as JSON.
 */
async function verifyArtifact(
  ref: Reference,
  store: ImageStore,
  image: Descriptor,
  listed: Descriptor,
  trust: NotationTrust,
  options: VerifyNotationAttestationOptions,
  result: NotationAttestationArtifact,
): Promise<{ manifest: unknown; payload: unknown }> {
  const call: StoreCallOptions = options.signal ? { signal: options.signal } : {};
  const at = withDigest(ref, Digest.parse(listed.digest));
  const fetched = await store.getManifest(at, call);
  const m = fetched.manifest;
  const what = `attestation ${listed.digest}`;
  if (isIndex(m))
    throw new SealError('E_MANIFEST_INVALID', `${what}: an index, not an attestation artifact manifest`);
  if (fetched.bytes.byteLength !== listed.size)
    throw new SealError(
      'E_SIZE_MISMATCH',
      `${what}: the referrers listing gives ${listed.size} bytes, the manifest is ${fetched.bytes.byteLength}`,
    );
  if (effectiveArtifactType(m) !== listed.artifactType)
    throw new SealError(
      'E_MANIFEST_INVALID',
      `${what}: the manifest's artifactType is ${effectiveArtifactType(m) ?? 'absent'}, the listing says ${listed.artifactType}`,
    );
  if (m.subject?.digest !== image.digest)
    throw new SealError('E_SUBJECT_MISMATCH', `${what}: the manifest's subject is not ${image.digest}`);
  if (m.layers.length !== 1)
    throw new SealError('E_MANIFEST_INVALID', `${what}: ${m.layers.length} layers, an attestation has one`);
  const subject: Descriptor = {
    mediaType: fetched.mediaType,
    digest: fetched.digest.toString(),
    size: fetched.bytes.byteLength,
  };
  const signed = await verifyNotationImage(at, store, trust, {
    ...call,
    subject,
    ...(options.now !== undefined ? { now: options.now } : {}),
  });
  result.signatures = signed.signatures;
  if (!signed.ok)
    throw new SealError(signed.code ?? 'E_NO_MATCHING_SIGNATURES', `${what}: ${signed.message}`);
  const layer = m.layers[0]!;
  if (layer.size > MAX_ATTESTATION_PAYLOAD_BYTES)
    throw new SealError(
      'E_BLOB_TOO_LARGE',
      `${what}: the payload is ${layer.size} bytes (at most ${MAX_ATTESTATION_PAYLOAD_BYTES})`,
    );
  const bytes = await store.getBlob(at, Digest.parse(layer.digest), {
    ...call,
    size: layer.size,
    maxBytes: MAX_ATTESTATION_PAYLOAD_BYTES,
  });
  const payload = await parsePayload(bytes, what);
  const manifest = JSON.parse(new TextDecoder().decode(fetched.bytes)) as unknown;
  return { manifest, payload };
}

/**
 * Verify the image's Notary referrer attestations of `artifactType` with `trust`: the first artifact whose
 * notation signature verifies gives the payload (Kyverno's ImageValidatingPolicy notary verifier tries each
 * in turn). Not trusted is a verdict; a registry that cannot be reached throws.
 */
export async function verifyNotationAttestation(
  ref: Reference,
  store: ImageStore,
  artifactType: string,
  trust: NotationTrust,
  options: VerifyNotationAttestationOptions = {},
): Promise<NotationAttestationVerdict> {
  const call: StoreCallOptions = options.signal ? { signal: options.signal } : {};
  const image = await store.resolve(ref, call);
  if (ref.digest && ref.digest.toString() !== image.digest)
    throw new SealError('E_DIGEST_MISMATCH', `${ref.digest} resolved to ${image.digest}`);
  const base = { digest: image.digest, artifactType };
  let listed: Descriptor[];
  try {
    listed = await attestationReferrers(ref, store, Digest.parse(image.digest), artifactType, call);
  } catch (err) {
    if (err instanceof SealError && err.code === 'E_TOO_MANY_REFERRERS')
      return { ...base, ok: false, code: err.code, message: err.message, artifacts: [] };
    throw err;
  }
  if (listed.length === 0)
    return {
      ...base,
      ok: false,
      code: 'E_NO_SIGNATURES',
      message: `no ${artifactType} attestation (referrer) found for ${image.digest}`,
      artifacts: [],
    };
  const artifacts: NotationAttestationArtifact[] = [];
  for (const d of listed) {
    const r: NotationAttestationArtifact = { digest: d.digest, ok: false };
    artifacts.push(r);
    try {
      const { manifest, payload } = await verifyArtifact(ref, store, image, d, trust, options, r);
      r.ok = true;
      return {
        ...base,
        ok: true,
        message: `${artifactType} attestation ${d.digest} verified with notation trust "${trust.name}"`,
        artifacts,
        verified: { descriptor: d, manifest, payload },
      };
    } catch (err) {
      if (!(err instanceof SealError) || err.code === 'E_NETWORK' || err.code === 'E_REGISTRY') throw err;
      r.code = err.code;
      r.message = err.message;
    }
  }
  const first = artifacts[0]!;
  return {
    ...base,
    ok: false,
    code: first.code ?? 'E_NO_MATCHING_SIGNATURES',
    message:
      artifacts.length === 1
        ? first.message!
        : `none of ${artifacts.length} ${artifactType} attestations verified; first: ${first.message}`,
    artifacts,
  };
}
