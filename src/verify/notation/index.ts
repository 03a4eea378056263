// Notary Project (notation) signature verification for images: find the signatures attached as referrers
// (artifactType `application/vnd.cncf.notary.signature`, the referrers API or its tag-schema fallback), verify
// each envelope, match its payload to the image's manifest descriptor and apply the trust policy. The first
// signature that verifies wins (wave2-facts.md §5.7).

import { SealError, type ErrorCode } from '../../errors.js';
import { Digest } from '../../oci/digest.js';
import type { Descriptor } from '../../oci/manifest.js';
import { isIndex } from '../../oci/manifest.js';
import { effectiveArtifactType } from '../../oci/referrers.js';
import { type Reference, withDigest } from '../../oci/ref.js';
import type { ImageStore, StoreCallOptions } from '../../oci/store.js';
import {
  COSE_MEDIA_TYPE,
  type EnvelopeContent,
  JWS_MEDIA_TYPE,
  MAX_ENVELOPE_BYTES,
  NOTARY_SIGNATURE_ARTIFACT_TYPE,
  type TargetArtifact,
  verifyCoseEnvelope,
  verifyJwsEnvelope,
} from './envelope.js';
import { applyTrust, type NotationTrust } from './trust.js';

export * from './attestation.js';
export * from './envelope.js';
export * from './trust.js';

/** Signatures examined per image at most (notation's MaxSignatureAttempts; Kyverno uses 10). */
export const MAX_SIGNATURE_ATTEMPTS = 50;

export interface NotationSignatureResult {
  digest: string;
  ok: boolean;
  code?: ErrorCode;
  message?: string;
  format?: 'jws' | 'cose';
  scheme?: string;
  identity?: string;
  signingTime?: string;
  /** Failed checks the verification level only logs. */
  logged?: string[];
  targetArtifact?: TargetArtifact;
}

export interface NotationVerdict {
  ok: boolean;
  code?: ErrorCode;
  message: string;
  /** The image manifest digest the signatures were checked against. */
  digest: string;
  policy: string;
  level: string;
  signatures: NotationSignatureResult[];
}

export interface VerifyNotationOptions extends StoreCallOptions {
  /** Verification time, epoch seconds (default: now). */
  now?: number;
  /** Signatures to try at most (default MAX_SIGNATURE_ATTEMPTS). */
  maxSignatures?: number;
  /** The signed artifact's descriptor when the caller has fetched and verified its manifest (no resolve). */
  subject?: Descriptor;
}

/** Does the payload's targetArtifact name this manifest (digest, size, mediaType)? */
export function checkTarget(target: TargetArtifact, desc: Descriptor): void {
  if (target.digest !== desc.digest)
    throw new SealError(
      'E_SUBJECT_MISMATCH',
      `notation signature: the payload names ${target.digest}, not the image ${desc.digest}`,
    );
  if (target.size !== desc.size)
    throw new SealError(
      'E_SUBJECT_MISMATCH',
      `notation signature: the payload gives size ${target.size}, the image manifest is ${desc.size} bytes`,
    );
  if (desc.mediaType && target.mediaType !== desc.mediaType)
    throw new SealError(
      'E_SUBJECT_MISMATCH',
      `notation signature: the payload gives media type ${target.mediaType}, the image manifest is ${desc.mediaType}`,
    );
}

/** Verify one envelope blob against a trust policy entry and the image's descriptor. */
export async function verifyEnvelope(
  mediaType: string,
  bytes: Uint8Array,
  subject: Descriptor,
  trust: NotationTrust,
  now: number,
): Promise<{ env: EnvelopeContent; identity: string; logged: string[] }> {
  let env: EnvelopeContent;
  if (mediaType === JWS_MEDIA_TYPE) env = verifyJwsEnvelope(bytes);
  else if (mediaType === COSE_MEDIA_TYPE) env = await verifyCoseEnvelope(bytes);
  else
    throw new SealError(
      'E_UNSUPPORTED_MEDIA_TYPE',
      `notation signature: unknown envelope media type ${mediaType}`,
    );
  checkTarget(env.targetArtifact, subject);
  const { identity, logged } = applyTrust(env, trust, now);
  return { env, identity, logged };
}

/**
 * Verify the image's notation signatures with `trust` (one resolved trust policy entry). Level `skip`
 * verifies nothing and succeeds, as notation does.
 */
export async function verifyNotationImage(
  ref: Reference,
  store: ImageStore,
  trust: NotationTrust,
  options: VerifyNotationOptions = {},
): Promise<NotationVerdict> {
  const call: StoreCallOptions = options.signal ? { signal: options.signal } : {};
  const subject = options.subject ?? (await store.resolve(ref, call));
  if (ref.digest && ref.digest.toString() !== subject.digest)
    throw new SealError('E_DIGEST_MISMATCH', `${ref.digest} resolved to ${subject.digest}`);
  const base = { digest: subject.digest, policy: trust.name, level: trust.level };
  if (trust.level === 'skip')
    return { ...base, ok: true, message: `trust policy "${trust.name}" skips verification`, signatures: [] };
  const digest = Digest.parse(subject.digest);
  const listed = await store.referrers(withDigest(ref, digest), digest, {
    ...call,
    artifactType: NOTARY_SIGNATURE_ARTIFACT_TYPE,
  });
  if (listed.length === 0)
    return {
      ...base,
      ok: false,
      code: 'E_NO_SIGNATURES',
      message: `no notation signatures found for ${subject.digest}`,
      signatures: [],
    };
  const max = options.maxSignatures ?? MAX_SIGNATURE_ATTEMPTS;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const results: NotationSignatureResult[] = [];
  for (const d of listed.slice(0, max)) {
    const r: NotationSignatureResult = { digest: d.digest, ok: false };
    results.push(r);
    try {
      const fetched = await store.getManifest(withDigest(ref, d.digest), call);
      const m = fetched.manifest;
      if (isIndex(m) || effectiveArtifactType(m) !== NOTARY_SIGNATURE_ARTIFACT_TYPE)
        throw new SealError(
          'E_MANIFEST_INVALID',
          'notation signature: the referrer is not a notation signature manifest',
        );
      if (m.subject?.digest !== subject.digest)
        throw new SealError(
          'E_SUBJECT_MISMATCH',
          `notation signature: the manifest subject is not ${subject.digest}`,
        );
      if (m.layers.length !== 1)
        throw new SealError(
          'E_MANIFEST_INVALID',
          `notation signature: the manifest has ${m.layers.length} layers, not one`,
        );
      const layer = m.layers[0]!;
      if (layer.size > MAX_ENVELOPE_BYTES)
        throw new SealError(
          'E_BLOB_TOO_LARGE',
          `notation signature: the envelope is ${layer.size} bytes (at most ${MAX_ENVELOPE_BYTES})`,
        );
      const bytes = await store.getBlob(withDigest(ref, d.digest), Digest.parse(layer.digest), {
        ...call,
        size: layer.size,
        maxBytes: MAX_ENVELOPE_BYTES,
      });
      const { env, identity, logged } = await verifyEnvelope(layer.mediaType, bytes, subject, trust, now);
      Object.assign(r, {
        ok: true,
        format: env.format,
        scheme: env.scheme,
        identity,
        signingTime: new Date(env.signingTime * 1000).toISOString(),
        targetArtifact: env.targetArtifact,
        ...(logged.length > 0 ? { logged } : {}),
      });
      return {
        ...base,
        ok: true,
        message: `notation signature ${d.digest} verified with trust policy "${trust.name}" (${trust.level})`,
        signatures: results,
      };
    } catch (err) {
      if (!(err instanceof SealError)) throw err;
      r.code = err.code;
      r.message = err.message;
    }
  }
  const first = results.find((r) => r.code && r.code !== 'E_MANIFEST_INVALID') ?? results[0]!;
  const more = listed.length > max ? ` (${listed.length - max} more not examined)` : '';
  return {
    ...base,
    ok: false,
    code: first.code ?? 'E_NO_MATCHING_SIGNATURES',
    message:
      results.length === 1
        ? first.message!
        : `none of ${results.length} notation signatures verified${more}; first: ${first.message}`,
    signatures: results,
  };
}
