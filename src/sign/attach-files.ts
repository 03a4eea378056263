// Attaching signatures, attestations and SBOMs made elsewhere to an image, as cosign `attach` does
// (cmd/cosign/cli/attach): a legacy `.sig`/`.att` layer, a Sigstore-bundle referrer, or the `.sbom` file image.

import { SealError } from '../errors.js';
import { decodeBase64 } from '../formats/base64.js';
import { buildReferrerManifest, parseBundle } from '../formats/bundle.js';
import {
  appendSignatureLayer,
  attachmentTag,
  buildSignatureLayer,
  DSSE_LAYER_MEDIA_TYPE,
  parseRekorBundle,
  type RekorBundle,
  SIGNATURE_ANNOTATION,
  type SignatureLayer,
  serializeManifest,
} from '../formats/cosign.js';
import {
  type DsseEnvelope,
  envelopeFromJSON,
  IN_TOTO_PAYLOAD_TYPE,
  serializeEnvelope,
} from '../formats/dsse.js';
import { parseStatement, subjectMatchesDigest } from '../formats/intoto.js';
import { parseSimpleSigningPayload } from '../formats/simplesigning.js';
import { loadPublicKey } from '../keys/public-key.js';
import { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { type Reference, repositoryName, withDigest, withTag } from '../oci/ref.js';
import type { ImageStore } from '../oci/store.js';
import { appendLegacyLayer } from './legacy.js';

/** The image an attachment goes to: its reference and the descriptor it resolved to. */
export interface AttachTarget {
  store: ImageStore;
  ref: Reference;
  subject: Descriptor;
  /** `--attachment-tag-prefix` for the `.sig`/`.att`/`.sbom` tags ('' for none). */
  tagPrefix?: string;
}

/** Resolve `ref` once (a digest reference is checked to exist, as cosign's ResolveDigest does). */
export async function attachTarget(store: ImageStore, ref: Reference, tagPrefix = ''): Promise<AttachTarget> {
  return { store, ref, subject: await store.resolve(ref), tagPrefix };
}

function subjectDigest(t: AttachTarget): Digest {
  return Digest.parse(t.subject.digest);
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/** Is this file a Sigstore bundle (cosign tries bundle.LoadJSONFromPath first)? */
export function looksLikeBundle(bytes: Uint8Array): boolean {
  try {
    const json = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    return (
      typeof json === 'object' &&
      json !== null &&
      typeof (json as { mediaType?: unknown }).mediaType === 'string' &&
      String((json as { mediaType: string }).mediaType).startsWith('application/vnd.dev.sigstore.bundle')
    );
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------
// Bundles (cosign attach signature --bundle, attach attestation with a bundle file).

export interface AttachedBundle {
  /** The referrer manifest's digest. */
  digest: Digest;
  predicateType: string;
}

/**
 * Attach a Sigstore bundle as an OCI referrer of the image (cosign WriteAttestationNewBundleFormat). As
 * cosign, the bundle must hold a DSSE envelope with an in-toto statement; seal also requires the statement
 * to name the image's digest (otherwise no verify of this image could ever accept it).
 */
export async function attachBundleFile(
  t: AttachTarget,
  bundleBytes: Uint8Array,
  created: Date = new Date(),
): Promise<AttachedBundle> {
  const bundle = parseBundle(bundleBytes);
  if (bundle.content.kind !== 'dsseEnvelope') {
    throw new SealError(
      'E_BUNDLE_INVALID',
      'bundle does not have DSSE envelope: only a bundle signing an in-toto statement about the image can be attached (cosign v3 image signatures and attestations are)',
    );
  }
  const envelope = bundle.content.envelope;
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw new SealError(
      'E_PAYLOAD_INVALID',
      `unable to understand bundle envelope statement: payloadType ${envelope.payloadType}, expected ${IN_TOTO_PAYLOAD_TYPE}`,
    );
  }
  const statement = parseStatement(envelope.payload);
  checkStatementSubject(statement.subject, subjectDigest(t));
  const referrer = buildReferrerManifest(bundleBytes, t.subject, statement.predicateType, created);
  for (const blob of referrer.blobs) await t.store.putBlob(t.ref, blob.blob, blob.descriptor.mediaType);
  await t.store.putManifest(withDigest(t.ref, referrer.digest), referrer.bytes, referrer.manifest.mediaType!);
  return { digest: referrer.digest, predicateType: statement.predicateType };
}

function checkStatementSubject(subjects: Parameters<typeof subjectMatchesDigest>[0][], digest: Digest): void {
  if (!subjects.some((s) => subjectMatchesDigest(s, digest))) {
    throw new SealError(
      'E_SUBJECT_MISMATCH',
      `the statement's subjects do not name the image digest ${digest}; nothing attached`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// Legacy signatures (cosign attach signature --payload --signature …).

export interface AttachSignatureInput {
  /** The signed payload (cosign generates the simple-signing payload for the digest when none is given). */
  payload: Uint8Array;
  /** The signature file's text: base64 of the raw signature (whitespace around it is dropped). */
  signatureBase64: string;
  certificatePem?: string;
  chainPem?: string;
  /** DER TimeStampResp (`--tsr`). */
  rfc3161Timestamp?: Uint8Array;
  rekorBundle?: RekorBundle;
}

/**
 * Append a signature made elsewhere to the image's `.sig` manifest. Bad input is refused before anything
 * is written: a payload naming another digest, a signature that is not base64, one the certificate's key
 * does not verify. An identical layer already there is not added twice.
 */
export async function attachSignature(
  t: AttachTarget,
  input: AttachSignatureInput,
): Promise<{ tag: string; duplicate: boolean }> {
  const digest = subjectDigest(t);
  const text = input.signatureBase64.trim();
  if (text === '') throw new SealError('E_INVALID_ARGUMENT', 'empty signature');
  const signature = decodeBase64(text, 'the signature (base64)');
  // A simple-signing payload for another image would never verify for this one.
  let named: string | undefined;
  try {
    named = parseSimpleSigningPayload(input.payload).dockerManifestDigest;
  } catch {
    named = undefined; // not simple signing: cosign attaches any payload, so does seal
  }
  if (named !== undefined && !digest.equals(named)) {
    throw new SealError(
      'E_SUBJECT_MISMATCH',
      `the payload names ${named}, but ${repositoryName(t.ref)} resolves to ${digest}; nothing attached`,
    );
  }
  if (input.certificatePem !== undefined) {
    const verifier = loadPublicKey(input.certificatePem);
    if (!verifier.verify(input.payload, signature)) {
      throw new SealError(
        'E_SIGNATURE_INVALID',
        "the signature does not verify over the payload with the certificate's key; nothing attached",
      );
    }
  }
  const layer = buildSignatureLayer({
    payload: input.payload,
    signature,
    ...(input.certificatePem !== undefined
      ? { certificatePem: input.certificatePem, chainPem: input.chainPem ?? '' }
      : {}),
    ...(input.rekorBundle ? { rekorBundle: input.rekorBundle } : {}),
    ...(input.rfc3161Timestamp ? { rfc3161Timestamp: input.rfc3161Timestamp } : {}),
  });
  return appendLegacyLayer({
    store: t.store,
    ref: t.ref,
    digest,
    layer,
    kind: 'sig',
    verifyDuplicate: (existing) => sameBytes(existing, signature),
    tagPrefix: t.tagPrefix ?? '',
  });
}

/**
 * The Rekor bundle from a `--rekor-response` file: cosign's LocalSignedPayload (`{"base64Signature",
 * "cert","rekorBundle"}`, what `sign-blob --bundle` wrote in v2), or the bare `{SignedEntryTimestamp, Payload}`.
 */
export function parseRekorResponse(bytes: Uint8Array): RekorBundle {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new SealError('E_TLOG_INVALID', 'the --rekor-response file is not JSON', { cause });
  }
  if (typeof json !== 'object' || json === null) {
    throw new SealError('E_TLOG_INVALID', 'the --rekor-response file is not a JSON object');
  }
  const obj = json as Record<string, unknown>;
  const inner = 'SignedEntryTimestamp' in obj ? obj : obj.rekorBundle;
  if (inner === undefined || inner === null) {
    throw new SealError(
      'E_TLOG_INVALID',
      'the --rekor-response file has no rekorBundle (expected cosign\'s {"base64Signature","cert","rekorBundle"})',
    );
  }
  return parseRekorBundle(JSON.stringify(inner));
}

// ---------------------------------------------------------------------------------------------------
// Attestations (cosign attach attestation --attestation FILE…): DSSE envelopes, one or more per file.

/** Split a file of concatenated / newline-separated JSON values (as Go's json.Decoder reads them). */
export function splitJsonValues(text: string): unknown[] {
  const out: unknown[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && /\s/.test(text[i]!)) i++;
    if (i >= n) break;
    const start = i;
    let depth = 0;
    let inString = false;
    for (; i < n; i++) {
      const c = text[i]!;
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) {
          i++;
          break;
        }
      } else if (depth === 0) {
        throw new SealError('E_PAYLOAD_INVALID', `not a JSON object at offset ${start}`);
      }
    }
    try {
      out.push(JSON.parse(text.slice(start, i)));
    } catch (cause) {
      throw new SealError('E_PAYLOAD_INVALID', `malformed JSON at offset ${start}`, { cause });
    }
  }
  return out;
}

/** Check one envelope as cosign does (in-toto payload type, at least one signature) and that it is about the image. */
function checkedEnvelope(json: unknown, digest: Digest): DsseEnvelope {
  const type = (json as { payloadType?: unknown })?.payloadType;
  if (type !== IN_TOTO_PAYLOAD_TYPE) {
    throw new SealError(
      'E_PAYLOAD_INVALID',
      `invalid payloadType ${String(type)} on envelope. Expected ${IN_TOTO_PAYLOAD_TYPE}`,
    );
  }
  const sigs = (json as { signatures?: unknown }).signatures;
  if (!Array.isArray(sigs) || sigs.length === 0) {
    throw new SealError('E_PAYLOAD_INVALID', 'could not attach attestation without having signatures');
  }
  const envelope = envelopeFromJSON(json);
  checkStatementSubject(parseStatement(envelope.payload).subject, digest);
  return envelope;
}

/**
 * Attach the DSSE envelopes of one file to the image's `.att` manifest (cosign's layer: the envelope JSON,
 * media type `application/vnd.dsse.envelope.v1+json`, an empty signature annotation). Every envelope is
 * checked before any is written.
 */
export async function attachAttestationEnvelopes(t: AttachTarget, fileText: string): Promise<number> {
  const digest = subjectDigest(t);
  const values = splitJsonValues(fileText);
  if (values.length === 0) throw new SealError('E_PAYLOAD_INVALID', 'the attestation file holds no envelope');
  const envelopes = values.map((v) => checkedEnvelope(v, digest));
  for (const envelope of envelopes) {
    const blob = serializeEnvelope(envelope);
    const layer: SignatureLayer = {
      blob,
      descriptor: {
        mediaType: DSSE_LAYER_MEDIA_TYPE,
        size: blob.length,
        digest: Digest.of(blob).toString(),
        annotations: { [SIGNATURE_ANNOTATION]: '' },
      },
    };
    await appendLegacyLayer({
      store: t.store,
      ref: t.ref,
      digest,
      layer,
      kind: 'att',
      verifyDuplicate: () => true,
      tagPrefix: t.tagPrefix ?? '',
    });
  }
  return envelopes.length;
}

// ---------------------------------------------------------------------------------------------------
// SBOMs (cosign attach sbom): the `.sbom` tag holds a one-layer image of the file, replaced on each attach.

export const SBOM_MEDIA_TYPES = {
  spdx: 'text/spdx',
  spdxJson: 'text/spdx+json',
  cyclonedxXml: 'application/vnd.cyclonedx+xml',
  cyclonedxJson: 'application/vnd.cyclonedx+json',
  syft: 'application/vnd.syft+json',
} as const;

/**
 * cosign's media type for `--type spdx|cyclonedx|syft` and `--input-format json|xml|text` (a file name
 * ending in `.json` counts as json). E_INVALID_ARGUMENT with cosign's words otherwise.
 */
export function sbomMediaType(type: string, inputFormat: string | undefined, fileName: string): string {
  const json = inputFormat === 'json' || fileName.endsWith('.json');
  const refuse = (allowed: string) =>
    new SealError('E_INVALID_ARGUMENT', `invalid SBOM input format: "${inputFormat}", expected (${allowed})`);
  switch (type) {
    case 'cyclonedx':
      if (inputFormat && inputFormat !== 'xml' && inputFormat !== 'json') throw refuse('json|xml');
      return json ? SBOM_MEDIA_TYPES.cyclonedxJson : SBOM_MEDIA_TYPES.cyclonedxXml;
    case 'spdx':
      if (inputFormat && inputFormat !== 'text' && inputFormat !== 'json') throw refuse('json|text');
      return json ? SBOM_MEDIA_TYPES.spdxJson : SBOM_MEDIA_TYPES.spdx;
    case 'syft':
      if (inputFormat && inputFormat !== 'json') throw refuse('json');
      return SBOM_MEDIA_TYPES.syft;
    default:
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `unknown SBOM type: "${type}", expected (spdx|cyclonedx|syft)`,
      );
  }
}

/** Write the `.sbom` tag: an OCI image whose one layer is the SBOM file (cosign static.NewFile). */
export async function attachSbom(
  t: AttachTarget,
  sbom: Uint8Array,
  mediaType: string,
): Promise<{ tag: string; reference: string; digest: Digest }> {
  if (sbom.byteLength === 0) throw new SealError('E_INVALID_ARGUMENT', 'the SBOM file is empty');
  const tag = attachmentTag(subjectDigest(t), 'sbom', t.tagPrefix ?? '');
  const layer: SignatureLayer = {
    blob: sbom,
    descriptor: { mediaType, size: sbom.byteLength, digest: Digest.of(sbom).toString(), annotations: {} },
  };
  const image = appendSignatureLayer(undefined, layer);
  if (image === 'duplicate') throw new SealError('E_INTERNAL', 'a new SBOM image cannot hold a duplicate');
  await t.store.putBlob(t.ref, sbom, mediaType);
  await t.store.putBlob(t.ref, image.config.blob, image.config.descriptor.mediaType);
  const stored = await t.store.putManifest(withTag(t.ref, tag), image.bytes, image.manifest.mediaType!);
  return { tag, reference: `${repositoryName(t.ref)}:${tag}`, digest: Digest.parse(stored.digest) };
}

/** cosign's artifactType for an SBOM attached as a referrer (internal/pkg/oci/remote ArtifactType("sbom")). */
export const COSIGN_SBOM_ARTIFACT_TYPE = 'application/vnd.dev.cosign.artifact.sbom.v1+json';

/**
 * `attach sbom --registry-referrers-mode oci-1-1`: the SBOM image as an OCI referrer of the image, its
 * config media type the artifactType, the image as subject (cosign sbomCmdOCIExperimental).
 */
export async function attachSbomReferrer(
  t: AttachTarget,
  sbom: Uint8Array,
  mediaType: string,
): Promise<{ reference: string; digest: Digest; artifactType: string }> {
  if (sbom.byteLength === 0) throw new SealError('E_INVALID_ARGUMENT', 'the SBOM file is empty');
  const layer: SignatureLayer = {
    blob: sbom,
    descriptor: { mediaType, size: sbom.byteLength, digest: Digest.of(sbom).toString(), annotations: {} },
  };
  const image = appendSignatureLayer(undefined, layer);
  if (image === 'duplicate') throw new SealError('E_INTERNAL', 'a new SBOM image cannot hold a duplicate');
  const manifest = {
    ...image.manifest,
    config: { ...image.manifest.config, mediaType: COSIGN_SBOM_ARTIFACT_TYPE },
    subject: { mediaType: t.subject.mediaType, size: t.subject.size, digest: t.subject.digest },
  };
  const bytes = serializeManifest(manifest);
  const digest = Digest.of(bytes);
  await t.store.putBlob(t.ref, sbom, mediaType);
  await t.store.putBlob(t.ref, image.config.blob, COSIGN_SBOM_ARTIFACT_TYPE);
  await t.store.putManifest(withDigest(t.ref, digest), bytes, manifest.mediaType!);
  return { reference: `${repositoryName(t.ref)}@${digest}`, digest, artifactType: COSIGN_SBOM_ARTIFACT_TYPE };
}
