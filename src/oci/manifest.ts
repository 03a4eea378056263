// Manifest and index types for Docker v2 schema2 and the OCI image spec v1.1 (manifest, index,
// artifact manifests with artifactType and subject), their media types, zod parsing and platform selection.

import { SealError } from '../errors.js';
import * as z from '../formats/zod.js';
import { Digest } from './digest.js';

export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** The OCI empty descriptor's content `{}` (image-spec "Guidance for an Empty Descriptor"). */
export const EMPTY_JSON = new TextEncoder().encode('{}');
export const EMPTY_JSON_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

/** Largest manifest seal reads or writes (distribution's default limit, and the OCI distribution-spec's 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** Media types of manifests seal understands, in Accept-header preference order. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  MediaTypes.ociIndex,
  MediaTypes.ociManifest,
  MediaTypes.dockerManifestList,
  MediaTypes.dockerManifest,
];

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
  data?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export type Manifest = ImageManifest | ImageIndex;

export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaTypes.ociIndex || mediaType === MediaTypes.dockerManifestList;
}

export function isImageManifestMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaTypes.ociManifest || mediaType === MediaTypes.dockerManifest;
}

/** Is this one of the four manifest media types seal reads? */
export function isManifestMediaType(mediaType: string | undefined): boolean {
  return isIndexMediaType(mediaType) || isImageManifestMediaType(mediaType);
}

export function isIndex(m: Manifest): m is ImageIndex {
  return Array.isArray((m as ImageIndex).manifests);
}

// ---- schemas (the edge: raw JSON in, typed values out) ----

const MEDIA_TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

/** Is `s` a media type as OCI descriptors and artifactTypes must be (RFC 6838 type/subtype, no parameters)? */
export function isMediaType(s: string): boolean {
  return MEDIA_TYPE_RE.test(s);
}

const mediaTypeString = z.string().check(z.regex(MEDIA_TYPE_RE, 'not a valid media type (RFC 6838)'));

// The OCI spec says an artifactType MUST be a media type, but registries (the CNCF distribution registry
// included) store any string there, and tools write such types (`oras attach --artifact-type
// vulnerability-scan`, which Kyverno's own tests use). seal only ever compares an artifactType exactly, so it
// takes it as an opaque name: 1–255 visible ASCII characters (no spaces, no control characters); anything
// else is refused with the manifest.
const ARTIFACT_TYPE_RE = /^[\x21-\x7e]{1,255}$/;

/** Is `s` an artifactType seal reads (an opaque, exactly-compared name: 1–255 visible ASCII characters)? */
export function isArtifactType(s: string): boolean {
  return ARTIFACT_TYPE_RE.test(s);
}

const artifactTypeString = z
  .string()
  .check(z.regex(ARTIFACT_TYPE_RE, 'not a valid artifactType (1-255 visible ASCII characters)'));
const annotationsSchema = z.record(z.string(), z.string());

export const PlatformSchema = z.looseObject({
  architecture: z.string().check(z.minLength(1)),
  os: z.string().check(z.minLength(1)),
  variant: z.optional(z.string()),
  'os.version': z.optional(z.string()),
  'os.features': z.optional(z.array(z.string())),
});

export const DescriptorSchema = z.looseObject({
  mediaType: mediaTypeString,
  digest: z
    .string()
    .check(z.refine((d) => Digest.isValid(d), 'not a valid digest (sha256:<64 hex> or sha512:<128 hex>)')),
  size: z.number().check(z.int(), z.nonnegative(), z.lte(Number.MAX_SAFE_INTEGER)),
  urls: z.optional(z.array(z.string())),
  annotations: z.optional(annotationsSchema),
  platform: z.optional(PlatformSchema),
  artifactType: z.optional(artifactTypeString),
  data: z.optional(z.string().check(z.regex(/^[A-Za-z0-9+/]*={0,2}$/, 'not base64'))),
});

export const ImageManifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.optional(mediaTypeString),
  artifactType: z.optional(artifactTypeString),
  config: DescriptorSchema,
  layers: z.array(DescriptorSchema),
  subject: z.optional(DescriptorSchema),
  annotations: z.optional(annotationsSchema),
});

export const ImageIndexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.optional(mediaTypeString),
  artifactType: z.optional(artifactTypeString),
  manifests: z.array(DescriptorSchema),
  subject: z.optional(DescriptorSchema),
  annotations: z.optional(annotationsSchema),
});

function zodMessage(error: z.core.$ZodError): { field: string; message: string } {
  const issue = error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
  return { field, message: issue?.message ?? 'invalid' };
}

/** Check a descriptor from outside (e.g. an API body): E_MANIFEST_INVALID naming the field. */
export function parseDescriptor(value: unknown, what = 'descriptor'): Descriptor {
  const result = DescriptorSchema.safeParse(value);
  if (!result.success) {
    const { field, message } = zodMessage(result.error);
    throw new SealError('E_MANIFEST_INVALID', `${what}: field "${field}": ${message}`, {
      details: { field },
    });
  }
  return result.data as Descriptor;
}

export interface ParseManifestOptions {
  /** The digest the bytes were fetched by: an index that lists this digest (points at itself) is refused. */
  digest?: Digest;
}

/**
 * Parse manifest bytes (OCI manifest/index, Docker schema2 manifest/list, artifact manifests).
 * `mediaTypeHint` is the Content-Type or descriptor media type the bytes came with; when both it and the
 * body's `mediaType` name a manifest type they must agree. Errors: E_MANIFEST_TOO_LARGE over 4 MiB,
 * E_UNSUPPORTED_MEDIA_TYPE for schema1 or unknown types, E_MANIFEST_INVALID naming the field.
 */
export function parseManifest(
  bytes: Uint8Array,
  mediaTypeHint?: string,
  options: ParseManifestOptions = {},
): Manifest {
  if (bytes.byteLength > MAX_MANIFEST_BYTES) {
    throw new SealError(
      'E_MANIFEST_TOO_LARGE',
      `manifest is ${bytes.byteLength} bytes, over the ${MAX_MANIFEST_BYTES}-byte (4 MiB) limit`,
      { details: { size: bytes.byteLength, limit: MAX_MANIFEST_BYTES } },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new SealError('E_MANIFEST_INVALID', `manifest is not valid JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SealError('E_MANIFEST_INVALID', 'manifest is not a JSON object');
  }
  const body = json as Record<string, unknown>;
  if (body.schemaVersion === 1) {
    throw new SealError(
      'E_UNSUPPORTED_MEDIA_TYPE',
      'Docker schema1 manifests are not supported; re-push the image with a current client',
    );
  }
  const declared = typeof body.mediaType === 'string' ? body.mediaType : undefined;
  const hint = mediaTypeHint?.split(';')[0]?.trim();
  if (declared !== undefined && !isManifestMediaType(declared)) {
    throw new SealError('E_UNSUPPORTED_MEDIA_TYPE', `manifest media type "${declared}" is not supported`, {
      details: { field: 'mediaType' },
    });
  }
  if (declared !== undefined && isManifestMediaType(hint) && hint !== declared) {
    throw new SealError(
      'E_MANIFEST_INVALID',
      `field "mediaType": manifest says "${declared}" but was served as "${hint}"`,
      { details: { field: 'mediaType' } },
    );
  }
  const kind = declared ?? (isManifestMediaType(hint) ? hint : undefined);
  let wantIndex: boolean;
  if (kind !== undefined) wantIndex = isIndexMediaType(kind);
  else if ('manifests' in body) wantIndex = true;
  else if ('config' in body || 'layers' in body) wantIndex = false;
  else throw new SealError('E_MANIFEST_INVALID', 'manifest has neither "manifests" nor "config"/"layers"');
  // A body with both shapes is ambiguous (image-spec "Guidelines for artifact usage" / CVE-2021-41190).
  if (wantIndex && ('config' in body || 'layers' in body)) {
    throw new SealError('E_MANIFEST_INVALID', 'field "config": an index must not have "config" or "layers"', {
      details: { field: 'config' },
    });
  }
  if (!wantIndex && 'manifests' in body) {
    throw new SealError(
      'E_MANIFEST_INVALID',
      'field "manifests": an image manifest must not have "manifests"',
      {
        details: { field: 'manifests' },
      },
    );
  }
  const result = (wantIndex ? ImageIndexSchema : ImageManifestSchema).safeParse(body);
  if (!result.success) {
    const { field, message } = zodMessage(result.error);
    throw new SealError(
      'E_MANIFEST_INVALID',
      `${wantIndex ? 'index' : 'manifest'} field "${field}": ${message}`,
      {
        details: { field },
      },
    );
  }
  const manifest = result.data as Manifest;
  if (options.digest && isIndex(manifest)) {
    const self = options.digest.toString();
    if (manifest.manifests.some((m) => m.digest === self)) {
      throw new SealError('E_MANIFEST_INVALID', `index ${self} points at itself`, {
        details: { field: 'manifests' },
      });
    }
  }
  return manifest;
}

/** The media type of a manifest: its own `mediaType`, else the hint, else inferred from its shape (OCI types). */
export function detectMediaType(manifest: Manifest | Uint8Array, mediaTypeHint?: string): string {
  const m = manifest instanceof Uint8Array ? parseManifest(manifest, mediaTypeHint) : manifest;
  if (m.mediaType) return m.mediaType;
  const hint = mediaTypeHint?.split(';')[0]?.trim();
  if (hint && isManifestMediaType(hint) && isIndexMediaType(hint) === isIndex(m)) return hint;
  return isIndex(m) ? MediaTypes.ociIndex : MediaTypes.ociManifest;
}

/** The descriptors a manifest points at (index → manifests; image → config + layers). The subject is not a child. */
export function manifestChildren(manifest: Manifest): Descriptor[] {
  return isIndex(manifest) ? [...manifest.manifests] : [manifest.config, ...manifest.layers];
}

/** A descriptor for `bytes` (sha256), with optional extra fields (artifactType, annotations, platform). */
export function descriptorFor(
  bytes: Uint8Array,
  mediaType: string,
  extra: Partial<Omit<Descriptor, 'digest' | 'size' | 'mediaType'>> = {},
): Descriptor {
  return { mediaType, digest: Digest.of(bytes).toString(), size: bytes.byteLength, ...extra };
}

/** Serialise a manifest we produce (compact JSON, field order as given). The one place manifests are encoded. */
export function encodeManifest(manifest: Manifest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(manifest));
}

// ---- platforms ----

export interface PlatformSelector {
  os: string;
  architecture: string;
  variant?: string;
}

/** Parse `os/arch[/variant]` (the `--platform` flag). E_INVALID_ARGUMENT otherwise. */
export function parsePlatform(text: string): PlatformSelector {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw new SealError('E_INVALID_ARGUMENT', `invalid platform "${text}": expected os/arch[/variant]`);
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return variant ? { os, architecture, variant } : { os, architecture };
}

export function formatPlatform(p: PlatformSelector | Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** containerd's normalisation: arm64 without variant is v8, arm without variant is v7. */
function normalVariant(architecture: string, variant: string | undefined): string | undefined {
  if (variant) return variant;
  if (architecture === 'arm64') return 'v8';
  if (architecture === 'arm') return 'v7';
  return undefined;
}

/**
 * Pick the manifest for a platform from an index: os and architecture must match; the variant must match
 * when asked for (arm64 ≡ arm64/v8). The first match in index order wins. E_NO_MATCHING_PLATFORM otherwise.
 */
export function selectPlatform(index: ImageIndex, want: PlatformSelector): Descriptor {
  const wantVariant = normalVariant(want.architecture, want.variant);
  for (const desc of index.manifests) {
    const p = desc.platform;
    if (!p || p.os !== want.os || p.architecture !== want.architecture) continue;
    if (want.variant !== undefined && normalVariant(p.architecture, p.variant) !== wantVariant) continue;
    return desc;
  }
  const available = index.manifests
    .map((d) => d.platform)
    .filter((p): p is Platform => p !== undefined && p.os !== 'unknown')
    .map(formatPlatform);
  throw new SealError(
    'E_NO_MATCHING_PLATFORM',
    `no manifest for platform ${formatPlatform(want)} in the index (available: ${available.join(', ') || 'none'})`,
    { details: { wanted: formatPlatform(want), available } },
  );
}
