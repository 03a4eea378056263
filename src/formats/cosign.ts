// cosign's legacy signature storage: `sha256-<hex>.sig|.att|.sbom` tags, one OCI manifest whose layers are
// signed payloads with annotations, and the Rekor bundle annotation. cosign.md §2a (and §2c for `.att`).

import { SealError } from '../errors.js';
import { Digest } from '../oci/digest.js';
import { type Descriptor, type ImageManifest, MediaTypes } from '../oci/manifest.js';
import { base64String, decodeBase64, encodeBase64 } from './base64.js';
import { type GoObject, type GoValue, goMap, goMarshalBytes, goStruct } from './gojson.js';
import * as z from './zod.js';

export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const CERTIFICATE_ANNOTATION = 'dev.sigstore.cosign/certificate';
export const CHAIN_ANNOTATION = 'dev.sigstore.cosign/chain';
export const BUNDLE_ANNOTATION = 'dev.sigstore.cosign/bundle';
export const RFC3161_TIMESTAMP_ANNOTATION = 'dev.sigstore.cosign/rfc3161timestamp';
/** On legacy `.att` layers. */
export const PREDICATE_TYPE_ANNOTATION = 'predicateType';

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const DSSE_LAYER_MEDIA_TYPE = 'application/vnd.dsse.envelope.v1+json';
/** config.mediaType and artifactType of the legacy OCI 1.1 signature referrer (`--registry-referrers-mode=oci-1-1`). */
export const COSIGN_ARTIFACT_SIG_MEDIA_TYPE = 'application/vnd.dev.cosign.artifact.sig.v1+json';

/** cosign refuses to grow a signature manifest past this many layers. */
export const MAX_SIGNATURE_LAYERS = 1000;

export type AttachmentKind = 'sig' | 'att' | 'sbom';

/** `[prefix]sha256-<hex>.sig` (or `.att`, `.sbom`) for the image `digest`. */
export function attachmentTag(digest: Digest | string, kind: AttachmentKind = 'sig', prefix = ''): string {
  const d = typeof digest === 'string' ? Digest.parse(digest) : digest;
  return `${prefix}${d.toTagPrefix()}.${kind}`;
}

export const signatureTag = (digest: Digest | string) => attachmentTag(digest, 'sig');
export const attestationTag = (digest: Digest | string) => attachmentTag(digest, 'att');
export const sbomTag = (digest: Digest | string) => attachmentTag(digest, 'sbom');

// ---------------------------------------------------------------------------------------------------
// Rekor bundle annotation (pkg/cosign/bundle/rekor.go): Go structs without JSON tags on the outer one.

export interface RekorBundle {
  SignedEntryTimestamp: Uint8Array;
  Payload: {
    /** base64 of the canonicalized entry body, kept as written. */
    body: string;
    integratedTime: number;
    logIndex: number;
    /** hex sha256 of the log's DER public key. */
    logID: string;
  };
}

const RekorBundleSchema = z.object({
  SignedEntryTimestamp: z.string(),
  Payload: z.object({
    body: z.string(),
    integratedTime: z.number().check(z.int()),
    logIndex: z.number().check(z.int()),
    logID: z.string(),
  }),
});

/** The `Payload` part as Go marshals it (also the input to the SET's JCS canonicalisation). */
export function rekorPayloadToGo(payload: RekorBundle['Payload']): GoObject {
  return goStruct([
    ['body', payload.body],
    ['integratedTime', payload.integratedTime],
    ['logIndex', payload.logIndex],
    ['logID', payload.logID],
  ]);
}

export function serializeRekorBundle(bundle: RekorBundle): string {
  return new TextDecoder().decode(
    goMarshalBytes(
      goStruct([
        ['SignedEntryTimestamp', encodeBase64(bundle.SignedEntryTimestamp)],
        ['Payload', rekorPayloadToGo(bundle.Payload)],
      ]),
    ),
  );
}

/** Parse the `dev.sigstore.cosign/bundle` annotation. E_TLOG_INVALID for shape, E_BASE64 for encodings. */
export function parseRekorBundle(text: string): RekorBundle {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new SealError('E_TLOG_INVALID', 'the Rekor bundle annotation is not JSON', { cause });
  }
  const parsed = RekorBundleSchema.safeParse(json);
  if (!parsed.success) {
    throw new SealError(
      'E_TLOG_INVALID',
      `malformed Rekor bundle annotation: ${parsed.error.issues[0]?.path.join('.') ?? ''}`,
    );
  }
  decodeBase64(parsed.data.Payload.body, 'Rekor bundle Payload.body');
  return {
    SignedEntryTimestamp: decodeBase64(parsed.data.SignedEntryTimestamp, 'Rekor bundle SignedEntryTimestamp'),
    Payload: parsed.data.Payload,
  };
}

// ---------------------------------------------------------------------------------------------------
// Layers and the manifest.

export interface SignatureLayerInput {
  /** The signed payload (simple signing) or the DSSE envelope JSON (attestations). */
  payload: Uint8Array;
  /** Raw signature bytes (ECDSA: DER); empty for attestation layers (the signature is inside the envelope). */
  signature: Uint8Array;
  mediaType?: string;
  certificatePem?: string;
  /** Written (even empty) whenever a certificate is present. */
  chainPem?: string;
  rekorBundle?: RekorBundle;
  /** DER TimeStampResp, stored as `{"SignedRFC3161Timestamp":"<b64>"}`. */
  rfc3161Timestamp?: Uint8Array;
  /** For `.att` layers. */
  predicateType?: string;
}

export interface SignatureLayer {
  descriptor: Descriptor & { annotations: Record<string, string> };
  blob: Uint8Array;
}

/** One layer of a `.sig`/`.att` manifest: the blob and its descriptor with cosign's annotations. */
export function buildSignatureLayer(input: SignatureLayerInput): SignatureLayer {
  const annotations: Record<string, string> = { [SIGNATURE_ANNOTATION]: encodeBase64(input.signature) };
  if (input.certificatePem !== undefined) {
    annotations[CERTIFICATE_ANNOTATION] = input.certificatePem;
    annotations[CHAIN_ANNOTATION] = input.chainPem ?? '';
  }
  if (input.rekorBundle) annotations[BUNDLE_ANNOTATION] = serializeRekorBundle(input.rekorBundle);
  if (input.rfc3161Timestamp) {
    annotations[RFC3161_TIMESTAMP_ANNOTATION] = new TextDecoder().decode(
      goMarshalBytes(goStruct([['SignedRFC3161Timestamp', encodeBase64(input.rfc3161Timestamp)]])),
    );
  }
  if (input.predicateType !== undefined) annotations[PREDICATE_TYPE_ANNOTATION] = input.predicateType;
  return {
    blob: input.payload,
    descriptor: {
      mediaType: input.mediaType ?? SIMPLE_SIGNING_MEDIA_TYPE,
      size: input.payload.length,
      digest: Digest.of(input.payload).toString(),
      annotations,
    },
  };
}

/**
 * The config blob go-containerregistry computes for cosign's signature image (empty.Image + one
 * appended uncompressed layer each): zero times, one empty history entry and one diff_id per layer.
 */
export function buildSignatureConfig(layerDigests: readonly string[]): Uint8Array {
  const zero = '0001-01-01T00:00:00Z';
  return goMarshalBytes(
    goStruct([
      ['architecture', ''],
      ['created', zero],
      [
        'history',
        layerDigests.length > 0 ? layerDigests.map(() => goStruct([['created', zero]])) : undefined,
      ],
      ['os', ''],
      [
        'rootfs',
        goStruct([
          ['type', 'layers'],
          ['diff_ids', [...layerDigests]],
        ]),
      ],
      ['config', goStruct([])],
    ]),
  );
}

function descriptorToGo(d: Descriptor): GoObject {
  return goStruct([
    ['mediaType', d.mediaType],
    ['size', d.size],
    ['digest', d.digest],
    ['data', d.data],
    ['urls', d.urls],
    [
      'annotations',
      d.annotations && Object.keys(d.annotations).length > 0 ? goMap(d.annotations) : undefined,
    ],
    [
      'platform',
      d.platform
        ? goStruct([
            ['architecture', d.platform.architecture],
            ['os', d.platform.os],
            ['os.version', d.platform['os.version']],
            ['os.features', d.platform['os.features']],
            ['variant', d.platform.variant],
          ])
        : undefined,
    ],
    ['artifactType', d.artifactType],
  ]);
}

/** An image manifest as go-containerregistry's v1.Manifest marshals it. */
export function serializeManifest(m: ImageManifest): Uint8Array {
  const fields: [string, GoValue | undefined][] = [
    ['schemaVersion', m.schemaVersion],
    ['mediaType', m.mediaType],
    ['config', descriptorToGo(m.config)],
    ['layers', m.layers.map(descriptorToGo)],
    [
      'annotations',
      m.annotations && Object.keys(m.annotations).length > 0 ? goMap(m.annotations) : undefined,
    ],
    ['subject', m.subject ? descriptorToGo(m.subject) : undefined],
    ['artifactType', m.artifactType],
  ];
  return goMarshalBytes(goStruct(fields));
}

export interface SignatureManifest {
  manifest: ImageManifest;
  /** The exact bytes to PUT. */
  bytes: Uint8Array;
  /** The config blob to upload first. */
  config: { descriptor: Descriptor; blob: Uint8Array };
}

export interface AppendOptions {
  /**
   * cosign's dupe detector: does `signature` (from an existing layer with the same payload digest) verify
   * over `payload` with the new signer's key? Without it no layer counts as a duplicate (as cosign without one).
   */
  verifyDuplicate?: (signature: Uint8Array, payload: Uint8Array) => boolean;
  /** COSIGN_DOCKER_MEDIA_TYPES=1: Docker schema2 manifest and config media types. */
  dockerMediaTypes?: boolean;
}

function isDuplicate(
  existing: Descriptor,
  layer: SignatureLayer,
  verify: AppendOptions['verifyDuplicate'],
): boolean {
  if (!verify) return false;
  if (existing.digest !== layer.descriptor.digest || existing.mediaType !== layer.descriptor.mediaType)
    return false;
  const have = existing.annotations ?? {};
  for (const [k, v] of Object.entries(layer.descriptor.annotations)) {
    if (k === SIGNATURE_ANNOTATION) continue;
    if (have[k] !== v) return false;
  }
  const b64 = have[SIGNATURE_ANNOTATION];
  if (b64 === undefined) return false;
  let sig: Uint8Array;
  try {
    sig = decodeBase64(b64, 'signature annotation');
  } catch {
    return false;
  }
  return verify(sig, layer.blob);
}

/**
 * Append `layer` to the existing `.sig`/`.att` manifest (undefined when the tag does not exist yet), as
 * cosign's mutate.AppendSignatures does; 'duplicate' when cosign's dupe rule says it is already there.
 * The config is recomputed from all layers. E_TOO_MANY_LAYERS past 1000 layers.
 */
export function appendSignatureLayer(
  existing: ImageManifest | undefined,
  layer: SignatureLayer,
  options: AppendOptions = {},
): SignatureManifest | 'duplicate' {
  const layers = existing ? [...existing.layers] : [];
  if (layers.some((l) => isDuplicate(l, layer, options.verifyDuplicate))) return 'duplicate';
  if (layers.length >= MAX_SIGNATURE_LAYERS) {
    throw new SealError(
      'E_TOO_MANY_LAYERS',
      `the signature manifest already has ${layers.length} layers (cosign's limit is ${MAX_SIGNATURE_LAYERS}); clean old signatures first`,
    );
  }
  layers.push(layer.descriptor);
  const configBlob = buildSignatureConfig(layers.map((l) => l.digest));
  const config: Descriptor = {
    mediaType: options.dockerMediaTypes ? MediaTypes.dockerConfig : MediaTypes.ociConfig,
    size: configBlob.length,
    digest: Digest.of(configBlob).toString(),
  };
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: options.dockerMediaTypes ? MediaTypes.dockerManifest : MediaTypes.ociManifest,
    config,
    layers,
  };
  if (existing?.annotations && Object.keys(existing.annotations).length > 0)
    manifest.annotations = existing.annotations;
  return { manifest, bytes: serializeManifest(manifest), config: { descriptor: config, blob: configBlob } };
}

/**
 * The OCI 1.1 form of a signature manifest (cosign `sign --registry-referrers-mode=oci-1-1`,
 * WriteSignaturesExperimentalOCI): the same layer and config blob, with `config.mediaType` and
 * `artifactType` set to `application/vnd.dev.cosign.artifact.sig.v1+json` and the signed image as
 * `subject`; it is pushed by digest, listed by the referrers API (or its fallback tag), never tagged.
 */
export function signatureReferrerManifest(layer: SignatureLayer, subject: Descriptor): SignatureManifest {
  const base = appendSignatureLayer(undefined, layer);
  if (base === 'duplicate')
    throw new SealError('E_INTERNAL', 'a new signature manifest cannot hold a duplicate');
  const config: Descriptor = { ...base.config.descriptor, mediaType: COSIGN_ARTIFACT_SIG_MEDIA_TYPE };
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config,
    layers: base.manifest.layers,
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    artifactType: COSIGN_ARTIFACT_SIG_MEDIA_TYPE,
  };
  return {
    manifest,
    bytes: serializeManifest(manifest),
    config: { descriptor: config, blob: base.config.blob },
  };
}

// ---------------------------------------------------------------------------------------------------
// Reading.

export interface LegacySignature {
  descriptor: Descriptor;
  mediaType: string;
  /** Digest of the layer blob (the signed payload, or the envelope for `.att`). */
  payloadDigest: Digest;
  /** Decoded `dev.cosignproject.cosign/signature`; empty on attestation layers. */
  signature: Uint8Array;
  certificatePem?: string;
  chainPem?: string;
  rekorBundle?: RekorBundle;
  rfc3161Timestamp?: Uint8Array;
  predicateType?: string;
}

const Rfc3161Schema = z.object({ SignedRFC3161Timestamp: base64String });

/** Read one layer's annotations. E_BASE64 for a corrupted signature, E_PAYLOAD_INVALID if it is missing. */
export function parseSignatureLayer(descriptor: Descriptor): LegacySignature {
  const a = descriptor.annotations ?? {};
  const sigB64 = a[SIGNATURE_ANNOTATION];
  if (sigB64 === undefined) {
    throw new SealError(
      'E_PAYLOAD_INVALID',
      `signature layer ${descriptor.digest} has no ${SIGNATURE_ANNOTATION} annotation`,
    );
  }
  const out: LegacySignature = {
    descriptor,
    mediaType: descriptor.mediaType,
    payloadDigest: Digest.parse(descriptor.digest),
    signature: decodeBase64(sigB64, `${SIGNATURE_ANNOTATION} of layer ${descriptor.digest}`),
  };
  if (a[CERTIFICATE_ANNOTATION]) out.certificatePem = a[CERTIFICATE_ANNOTATION];
  if (a[CHAIN_ANNOTATION]) out.chainPem = a[CHAIN_ANNOTATION];
  if (a[BUNDLE_ANNOTATION]) out.rekorBundle = parseRekorBundle(a[BUNDLE_ANNOTATION]);
  if (a[RFC3161_TIMESTAMP_ANNOTATION]) {
    let ts: unknown;
    try {
      ts = JSON.parse(a[RFC3161_TIMESTAMP_ANNOTATION]);
    } catch {
      ts = undefined;
    }
    const parsed = Rfc3161Schema.safeParse(ts);
    if (!parsed.success)
      throw new SealError(
        'E_BASE64',
        `malformed ${RFC3161_TIMESTAMP_ANNOTATION} on layer ${descriptor.digest}`,
      );
    out.rfc3161Timestamp = decodeBase64(parsed.data.SignedRFC3161Timestamp, RFC3161_TIMESTAMP_ANNOTATION);
  }
  if (a[PREDICATE_TYPE_ANNOTATION] !== undefined) out.predicateType = a[PREDICATE_TYPE_ANNOTATION];
  return out;
}

/** Every layer of a `.sig`/`.att` manifest; throws on the first malformed layer (use parseSignatureLayer to skip). */
export function parseSignatureLayers(manifest: ImageManifest): LegacySignature[] {
  if (manifest.layers.length > MAX_SIGNATURE_LAYERS) {
    throw new SealError(
      'E_TOO_MANY_LAYERS',
      `the signature manifest has ${manifest.layers.length} layers (limit ${MAX_SIGNATURE_LAYERS})`,
    );
  }
  return manifest.layers.map(parseSignatureLayer);
}
