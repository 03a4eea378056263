// Sigstore bundles (protobuf-specs Bundle v0.1–v0.3, JSON form) built by seal and parsed through
// @sigstore/bundle, plus cosign's OCI referrer manifest for a bundle. cosign.md §2b.

import { type Bundle, bundleFromJSON, ValidationError } from '@sigstore/bundle';
import { SealError } from '../errors.js';
import { Digest } from '../oci/digest.js';
import {
  type Descriptor,
  EMPTY_JSON,
  EMPTY_JSON_DIGEST,
  type ImageManifest,
  MediaTypes,
} from '../oci/manifest.js';
import { base64String, encodeBase64 } from './base64.js';
import { serializeManifest } from './cosign.js';
import { type DsseEnvelope, envelopeFromJSON, envelopeToJSON, type SerializedEnvelope } from './dsse.js';
import { HASH_ALGORITHM, protoEnum } from './proto3.js';
import * as z from './zod.js';

export const BUNDLE_V01_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle+json;version=0.1';
export const BUNDLE_V02_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle+json;version=0.2';
export const BUNDLE_V03_LEGACY_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle+json;version=0.3';
export const BUNDLE_V03_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

export type BundleVersion = '0.1' | '0.2' | '0.3';

const MEDIA_TYPE_VERSIONS: Record<string, BundleVersion> = {
  [BUNDLE_V01_MEDIA_TYPE]: '0.1',
  [BUNDLE_V02_MEDIA_TYPE]: '0.2',
  [BUNDLE_V03_LEGACY_MEDIA_TYPE]: '0.3',
  [BUNDLE_V03_MEDIA_TYPE]: '0.3',
};

/** Annotations cosign puts on a bundle referrer manifest. */
export const BUNDLE_CONTENT_ANNOTATION = 'dev.sigstore.bundle.content';
export const BUNDLE_PREDICATE_TYPE_ANNOTATION = 'dev.sigstore.bundle.predicateType';
export const OCI_CREATED_ANNOTATION = 'org.opencontainers.image.created';

// ---------------------------------------------------------------------------------------------------
// Building.

export interface TlogEntryInput {
  logIndex: number | bigint | string;
  /** The log ID bytes (sha256 of the log's DER public key). */
  logId: Uint8Array;
  kind: string;
  version: string;
  integratedTime: number | bigint | string;
  signedEntryTimestamp?: Uint8Array;
  inclusionProof?: {
    logIndex: number | bigint | string;
    rootHash: Uint8Array;
    treeSize: number | bigint | string;
    hashes: Uint8Array[];
    /** The signed checkpoint note text. */
    checkpoint: string;
  };
  canonicalizedBody: Uint8Array;
}

export type VerificationMaterialInput =
  | { publicKeyHint: string }
  | { certificate: Uint8Array }
  | { certificateChain: Uint8Array[] };

export type BundleContentInput =
  | { dsseEnvelope: DsseEnvelope }
  | {
      messageSignature: {
        digest: Uint8Array;
        algorithm?: 'SHA2_256' | 'SHA2_384' | 'SHA2_512';
        signature: Uint8Array;
      };
    };

export interface BundleInput {
  content: BundleContentInput;
  verificationMaterial: VerificationMaterialInput;
  tlogEntries?: TlogEntryInput[];
  rfc3161Timestamps?: Uint8Array[];
  /** Default v0.3. A certificate chain needs v0.1/v0.2 (v0.3 forbids it). */
  mediaType?: string;
}

/** The protobuf JSON form of a bundle (what goes in files and referrer layers). */
export interface SerializedBundle {
  mediaType: string;
  verificationMaterial: {
    publicKey?: { hint: string };
    certificate?: { rawBytes: string };
    x509CertificateChain?: { certificates: { rawBytes: string }[] };
    tlogEntries: SerializedTlogEntry[];
    timestampVerificationData?: { rfc3161Timestamps: { signedTimestamp: string }[] };
  };
  dsseEnvelope?: SerializedEnvelope;
  messageSignature?: { messageDigest: { algorithm: string; digest: string }; signature: string };
}

export interface SerializedTlogEntry {
  logIndex: string;
  logId: { keyId: string };
  kindVersion: { kind: string; version: string };
  integratedTime: string;
  inclusionPromise?: { signedEntryTimestamp: string };
  inclusionProof?: {
    logIndex: string;
    rootHash: string;
    treeSize: string;
    hashes: string[];
    checkpoint: { envelope: string };
  };
  canonicalizedBody: string;
}

export function tlogEntryToJSON(e: TlogEntryInput): SerializedTlogEntry {
  const out: SerializedTlogEntry = {
    logIndex: String(e.logIndex),
    logId: { keyId: encodeBase64(e.logId) },
    kindVersion: { kind: e.kind, version: e.version },
    integratedTime: String(e.integratedTime),
    canonicalizedBody: encodeBase64(e.canonicalizedBody),
  };
  if (e.signedEntryTimestamp)
    out.inclusionPromise = { signedEntryTimestamp: encodeBase64(e.signedEntryTimestamp) };
  if (e.inclusionProof) {
    const p = e.inclusionProof;
    out.inclusionProof = {
      logIndex: String(p.logIndex),
      rootHash: encodeBase64(p.rootHash),
      treeSize: String(p.treeSize),
      hashes: p.hashes.map(encodeBase64),
      checkpoint: { envelope: p.checkpoint },
    };
  }
  // Key order as protobuf JSON writers emit it (field number order).
  const { inclusionPromise, inclusionProof, canonicalizedBody, ...head } = out;
  return {
    ...head,
    ...(inclusionPromise ? { inclusionPromise } : {}),
    ...(inclusionProof ? { inclusionProof } : {}),
    canonicalizedBody,
  };
}

/** Build a bundle's JSON object. */
export function buildBundle(input: BundleInput): SerializedBundle {
  const vm: SerializedBundle['verificationMaterial'] = { tlogEntries: [] };
  const m = input.verificationMaterial;
  if ('publicKeyHint' in m) vm.publicKey = { hint: m.publicKeyHint };
  else if ('certificate' in m) vm.certificate = { rawBytes: encodeBase64(m.certificate) };
  else
    vm.x509CertificateChain = {
      certificates: m.certificateChain.map((c) => ({ rawBytes: encodeBase64(c) })),
    };
  vm.tlogEntries = (input.tlogEntries ?? []).map(tlogEntryToJSON);
  if (input.rfc3161Timestamps?.length) {
    vm.timestampVerificationData = {
      rfc3161Timestamps: input.rfc3161Timestamps.map((t) => ({ signedTimestamp: encodeBase64(t) })),
    };
  }
  const bundle: SerializedBundle = {
    mediaType: input.mediaType ?? BUNDLE_V03_MEDIA_TYPE,
    verificationMaterial: vm,
  };
  if ('dsseEnvelope' in input.content) {
    bundle.dsseEnvelope = envelopeToJSON(input.content.dsseEnvelope);
  } else {
    const ms = input.content.messageSignature;
    bundle.messageSignature = {
      messageDigest: { algorithm: ms.algorithm ?? 'SHA2_256', digest: encodeBase64(ms.digest) },
      signature: encodeBase64(ms.signature),
    };
  }
  return bundle;
}

/** Compact JSON bytes of a bundle. */
export function serializeBundle(bundle: SerializedBundle): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(bundle));
}

// ---------------------------------------------------------------------------------------------------
// Parsing.

export type ParsedVerificationMaterial =
  | { kind: 'publicKey'; hint: string }
  | { kind: 'certificate'; certificate: Uint8Array }
  | { kind: 'certificateChain'; certificates: Uint8Array[] };

export interface ParsedTlogEntry {
  logIndex: bigint;
  logId: Uint8Array;
  kind: string;
  version: string;
  integratedTime: bigint;
  signedEntryTimestamp?: Uint8Array;
  inclusionProof?: {
    logIndex: bigint;
    rootHash: Uint8Array;
    treeSize: bigint;
    hashes: Uint8Array[];
    checkpoint: string;
  };
  canonicalizedBody: Uint8Array;
}

export interface ParsedBundle {
  mediaType: string;
  version: BundleVersion;
  content:
    | { kind: 'dsseEnvelope'; envelope: DsseEnvelope }
    | { kind: 'messageSignature'; algorithm: string; digest: Uint8Array; signature: Uint8Array };
  verificationMaterial: ParsedVerificationMaterial;
  tlogEntries: ParsedTlogEntry[];
  rfc3161Timestamps: Uint8Array[];
  /** The @sigstore/bundle object (for @sigstore/verify). */
  sigstore: Bundle;
}

const b64 = base64String;
const int64 = z.union([z.string().check(z.regex(/^-?\d+$/)), z.number().check(z.int())]);
// proto3 JSON leaves out fields at their zero value (a log's first entry has no logIndex) and reads null
// as the default: integers default to 0, enums to their value 0, lists to [], messages to "not set".
const int64Field = z.nullish(int64);
const enumField = z.nullish(z.union([z.string(), z.number()]));

const TlogEntrySchema = z.object({
  logIndex: int64Field,
  logId: z.object({ keyId: b64 }),
  kindVersion: z.object({ kind: z.string(), version: z.string() }),
  integratedTime: int64Field,
  inclusionPromise: z.nullish(z.object({ signedEntryTimestamp: b64 })),
  inclusionProof: z.nullish(
    z.object({
      logIndex: int64Field,
      rootHash: b64,
      treeSize: int64Field,
      hashes: z.nullish(z.array(b64)),
      checkpoint: z.object({ envelope: z.string() }),
    }),
  ),
  canonicalizedBody: z.nullish(b64),
});

const BundleSchema = z.object({
  mediaType: z.string(),
  verificationMaterial: z.object({
    publicKey: z.nullish(z.object({ hint: z.nullish(z.string()) })),
    certificate: z.nullish(z.object({ rawBytes: b64 })),
    x509CertificateChain: z.nullish(
      z.object({ certificates: z.nullish(z.array(z.object({ rawBytes: b64 }))) }),
    ),
    tlogEntries: z.nullish(z.array(TlogEntrySchema)),
    timestampVerificationData: z.nullish(
      z.object({ rfc3161Timestamps: z.nullish(z.array(z.object({ signedTimestamp: b64 }))) }),
    ),
  }),
  dsseEnvelope: z.optional(z.unknown()),
  messageSignature: z.nullish(
    z.object({
      messageDigest: z.nullish(z.object({ algorithm: enumField, digest: b64 })),
      signature: b64,
    }),
  ),
});

function isBase64Issue(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue | undefined {
  return issues.find((i) => i.code === 'custom' && i.message === 'invalid base64');
}

const bytes = (s: string) => Uint8Array.from(Buffer.from(s, 'base64'));

/**
 * Parse bundle bytes or an already-parsed JSON value. E_BUNDLE_INVALID (not JSON, wrong shape, fails
 * @sigstore/bundle's assertions), E_BUNDLE_MEDIA_TYPE (unknown version), E_BASE64 (corrupted field).
 */
export function parseBundle(input: Uint8Array | string | unknown): ParsedBundle {
  let json: unknown = input;
  if (input instanceof Uint8Array || typeof input === 'string') {
    try {
      json = JSON.parse(
        typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: true }).decode(input),
      );
    } catch (cause) {
      throw new SealError('E_BUNDLE_INVALID', 'the bundle is not JSON', { cause });
    }
  }
  const mediaType = (json as { mediaType?: unknown } | null)?.mediaType;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SealError('E_BUNDLE_INVALID', 'the bundle is not a JSON object');
  }
  if (typeof mediaType !== 'string' || !(mediaType in MEDIA_TYPE_VERSIONS)) {
    throw new SealError(
      'E_BUNDLE_MEDIA_TYPE',
      `unknown bundle media type ${JSON.stringify(mediaType ?? null)}`,
      {
        details: { found: mediaType ?? null, expected: Object.keys(MEDIA_TYPE_VERSIONS) },
      },
    );
  }
  const parsed = BundleSchema.safeParse(json);
  if (!parsed.success) {
    const b64Issue = isBase64Issue(parsed.error.issues);
    if (b64Issue)
      throw new SealError('E_BASE64', `bundle field ${b64Issue.path.join('.')} is not valid base64`);
    const issue = parsed.error.issues[0];
    throw new SealError(
      'E_BUNDLE_INVALID',
      `malformed bundle: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(),
    );
  }
  const b = parsed.data;
  // Decode the envelope with our strict base64 rules before @sigstore/bundle's lenient ones.
  const envelope =
    b.dsseEnvelope !== undefined && b.dsseEnvelope !== null ? envelopeFromJSON(b.dsseEnvelope) : undefined;
  const digestAlgorithm = protoEnum(HASH_ALGORITHM, b.messageSignature?.messageDigest?.algorithm);
  if (digestAlgorithm === undefined) {
    throw new SealError(
      'E_BUNDLE_INVALID',
      'malformed bundle: messageSignature.messageDigest.algorithm is not a HashAlgorithm name or number',
    );
  }
  let sigstore: Bundle;
  try {
    sigstore = bundleFromJSON(json);
  } catch (cause) {
    const fields = cause instanceof ValidationError ? ` (${cause.fields.join(', ')})` : '';
    throw new SealError('E_BUNDLE_INVALID', `the bundle fails validation${fields}`, { cause });
  }
  const vm = b.verificationMaterial;
  let verificationMaterial: ParsedVerificationMaterial;
  if (vm.publicKey) verificationMaterial = { kind: 'publicKey', hint: vm.publicKey.hint ?? '' };
  else if (vm.certificate)
    verificationMaterial = { kind: 'certificate', certificate: bytes(vm.certificate.rawBytes) };
  else if (vm.x509CertificateChain) {
    verificationMaterial = {
      kind: 'certificateChain',
      certificates: (vm.x509CertificateChain.certificates ?? []).map((c) => bytes(c.rawBytes)),
    };
  } else throw new SealError('E_BUNDLE_INVALID', 'the bundle has no verification material');
  let content: ParsedBundle['content'];
  if (envelope) content = { kind: 'dsseEnvelope', envelope };
  else if (b.messageSignature?.messageDigest) {
    content = {
      kind: 'messageSignature',
      algorithm: digestAlgorithm,
      digest: bytes(b.messageSignature.messageDigest.digest),
      signature: bytes(b.messageSignature.signature),
    };
  } else
    throw new SealError('E_BUNDLE_INVALID', 'the bundle has neither a DSSE envelope nor a message signature');
  return {
    mediaType,
    version: MEDIA_TYPE_VERSIONS[mediaType]!,
    content,
    verificationMaterial,
    tlogEntries: (vm.tlogEntries ?? []).map((e) => ({
      logIndex: BigInt(e.logIndex ?? 0),
      logId: bytes(e.logId.keyId),
      kind: e.kindVersion.kind,
      version: e.kindVersion.version,
      integratedTime: BigInt(e.integratedTime ?? 0),
      ...(e.inclusionPromise ? { signedEntryTimestamp: bytes(e.inclusionPromise.signedEntryTimestamp) } : {}),
      ...(e.inclusionProof
        ? {
            inclusionProof: {
              logIndex: BigInt(e.inclusionProof.logIndex ?? 0),
              rootHash: bytes(e.inclusionProof.rootHash),
              treeSize: BigInt(e.inclusionProof.treeSize ?? 0),
              hashes: (e.inclusionProof.hashes ?? []).map(bytes),
              checkpoint: e.inclusionProof.checkpoint.envelope,
            },
          }
        : {}),
      canonicalizedBody: bytes(e.canonicalizedBody ?? ''),
    })),
    rfc3161Timestamps: (vm.timestampVerificationData?.rfc3161Timestamps ?? []).map((t) =>
      bytes(t.signedTimestamp),
    ),
    sigstore,
  };
}

/** Is this a bundle media type seal reads (used when scanning referrers: cosign keeps ≥ v0.3 there)? */
export function bundleVersionOf(mediaType: string): BundleVersion | undefined {
  return MEDIA_TYPE_VERSIONS[mediaType];
}

// ---------------------------------------------------------------------------------------------------
// The OCI referrer manifest cosign writes for a bundle (pkg/oci/remote/write.go WriteReferrer).

export interface ReferrerManifest {
  manifest: ImageManifest;
  /** Exact bytes to PUT by digest. */
  bytes: Uint8Array;
  digest: Digest;
  /** Blobs to upload first: the empty config `{}` and the bundle. */
  blobs: { descriptor: Descriptor; blob: Uint8Array }[];
}

/** RFC 3339 in UTC with whole seconds, as Go's time.RFC3339 on a UTC time. */
export function rfc3339Seconds(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

/**
 * The referrer manifest for a bundle (cosign.md §2b): empty config carrying artifactType too, one bundle
 * layer, content/predicateType/created annotations, the image as subject.
 */
export function buildReferrerManifest(
  bundleBytes: Uint8Array,
  subject: Descriptor,
  predicateType: string,
  created: Date,
  options: { content?: 'dsse-envelope' | 'message-signature'; bundleMediaType?: string } = {},
): ReferrerManifest {
  const artifactType = options.bundleMediaType ?? BUNDLE_V03_MEDIA_TYPE;
  const config: Descriptor = {
    mediaType: MediaTypes.ociEmpty,
    size: EMPTY_JSON.length,
    digest: EMPTY_JSON_DIGEST,
    artifactType,
  };
  const layer: Descriptor = {
    mediaType: artifactType,
    size: bundleBytes.length,
    digest: Digest.of(bundleBytes).toString(),
  };
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config,
    layers: [layer],
    annotations: {
      [BUNDLE_CONTENT_ANNOTATION]: options.content ?? 'dsse-envelope',
      [BUNDLE_PREDICATE_TYPE_ANNOTATION]: predicateType,
      [OCI_CREATED_ANNOTATION]: rfc3339Seconds(created),
    },
    subject: { mediaType: subject.mediaType, size: subject.size, digest: subject.digest },
    artifactType,
  };
  const bytes = serializeManifest(manifest);
  return {
    manifest,
    bytes,
    digest: Digest.of(bytes),
    blobs: [
      {
        descriptor: { mediaType: MediaTypes.ociEmpty, size: EMPTY_JSON.length, digest: EMPTY_JSON_DIGEST },
        blob: EMPTY_JSON,
      },
      { descriptor: layer, blob: bundleBytes },
    ],
  };
}
