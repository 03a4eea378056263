// Image → SBOM: resolve the reference (and platform, for an index), stream each layer from the store
// into the final filesystem view, run the catalogers, and write SPDX 2.3 or CycloneDX 1.6 JSON.

import * as z from 'zod';
import { SealError } from '../errors.js';
import { Digest } from '../oci/digest.js';
import {
  type Descriptor,
  type ImageManifest,
  isIndex,
  type PlatformSelector,
  parsePlatform,
  selectPlatform,
} from '../oci/manifest.js';
import { formatReference, type Reference, withDigest } from '../oci/ref.js';
import type { ImageStore } from '../oci/store.js';
import { type Cataloger, CATALOGERS, catalogFilesystem, combinedMatcher } from './catalog/index.js';
import { toCycloneDxJson } from './cyclonedx.js';
import { type LayerReadOptions, type LayerSource, readLayers } from './layers.js';
import { toSpdxJson } from './spdx.js';
import type { SbomSubject } from './tool.js';
import type { Package, SbomFormat, SbomProgress } from './types.js';

const ImageConfig = z.looseObject({
  rootfs: z.looseObject({ diff_ids: z.array(z.string()).optional() }).optional(),
});

export interface CatalogImageOptions {
  /** `os/arch[/variant]` for an index; default linux and the host architecture. */
  platform?: string;
  onProgress?: (p: SbomProgress) => void;
  /** Limits for layer reading (max file held in memory, decompressed total, entries). */
  limits?: Omit<LayerReadOptions, 'onProgress'>;
  catalogers?: readonly Cataloger[];
}

export interface CatalogResult {
  packages: Package[];
  /** The image manifest that was catalogued (the platform's manifest when the reference names an index). */
  digest: string;
  /** The index the reference named, when it named one. */
  indexDigest?: string;
  /** The reference without tag/digest plus tag, as shown in documents. */
  name: string;
  stats: { layers: number; entries: number; uncompressedBytes: number; largestFile: number };
}

const HOST_ARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
};

function hostPlatform(): PlatformSelector {
  return { os: 'linux', architecture: HOST_ARCH[process.arch] ?? process.arch };
}

async function resolveImageManifest(
  store: ImageStore,
  ref: Reference,
  platform: string | undefined,
): Promise<{ ref: Reference; digest: string; manifest: ImageManifest; indexDigest?: string }> {
  const fetched = await store.getManifest(ref);
  if (!isIndex(fetched.manifest)) {
    return {
      ref: withDigest(ref, fetched.digest),
      digest: fetched.digest.toString(),
      manifest: fetched.manifest,
    };
  }
  const index = fetched.manifest;
  let chosen: Descriptor;
  if (platform) chosen = selectPlatform(index, parsePlatform(platform));
  else {
    try {
      chosen = selectPlatform(index, hostPlatform());
    } catch (err) {
      // no platform asked for: an index with a single image (besides attestation manifests) is unambiguous
      const images = index.manifests.filter((d) => d.platform?.os !== 'unknown');
      if (images.length !== 1) throw err;
      chosen = images[0]!;
    }
  }
  const child = withDigest(ref, chosen.digest);
  const inner = await store.getManifest(child);
  if (isIndex(inner.manifest)) {
    throw new SealError(
      'E_MANIFEST_INVALID',
      `${chosen.digest} in index ${fetched.digest} is itself an index`,
    );
  }
  return {
    ref: child,
    digest: inner.digest.toString(),
    manifest: inner.manifest,
    indexDigest: fetched.digest.toString(),
  };
}

/** Catalogue the packages of an image's final filesystem, streaming its layers from `store`. */
export async function catalogImage(
  store: ImageStore,
  ref: Reference,
  options: CatalogImageOptions = {},
): Promise<CatalogResult> {
  const resolved = await resolveImageManifest(store, ref, options.platform);
  const configBytes = await store.getBlob(resolved.ref, Digest.parse(resolved.manifest.config.digest), {
    size: resolved.manifest.config.size,
  });
  let configJson: unknown;
  try {
    configJson = JSON.parse(new TextDecoder().decode(configBytes));
  } catch (err) {
    throw new SealError('E_MANIFEST_INVALID', `image config ${resolved.manifest.config.digest} is not JSON`, {
      cause: err,
    });
  }
  const config = ImageConfig.safeParse(configJson);
  const diffIds = config.success ? (config.data.rootfs?.diff_ids ?? []) : [];
  const layers = resolved.manifest.layers;
  const sources: LayerSource[] = layers.map((desc, i) => {
    const source: LayerSource = {
      digest: desc.digest,
      mediaType: desc.mediaType,
      size: desc.size,
      open: () => store.openBlob(resolved.ref, Digest.parse(desc.digest), { size: desc.size }),
    };
    // diffIDs pair with layers by position only when the config lists one per layer
    if (diffIds.length === layers.length && diffIds[i]) source.diffId = diffIds[i];
    return source;
  });
  const readOptions: LayerReadOptions = { ...options.limits };
  if (options.onProgress) readOptions.onProgress = options.onProgress;
  const view = await readLayers(sources, combinedMatcher(options.catalogers ?? CATALOGERS), readOptions);
  try {
    const packages = await catalogFilesystem(view, options.catalogers ?? CATALOGERS);
    const { digest: _d, ...named } = ref;
    const result: CatalogResult = {
      packages,
      digest: resolved.digest,
      name: formatReference(named as Reference),
      stats: {
        layers: layers.length,
        entries: view.entries,
        uncompressedBytes: view.totalBytes,
        largestFile: view.largestFile,
      },
    };
    if (resolved.indexDigest) result.indexDigest = resolved.indexDigest;
    return result;
  } finally {
    await view.dispose();
  }
}

export interface GenerateSbomOptions extends CatalogImageOptions {
  format: SbomFormat;
  /** Document creation time (now by default). */
  created?: Date;
}

export interface GeneratedSbom {
  /** The SPDX or CycloneDX JSON document (a plain object, ready for JSON.stringify). */
  document: object;
  packages: Package[];
  /** The image manifest digest the document describes. */
  digest: string;
  indexDigest?: string;
  /** in-toto predicate type for this format (for `seal attest --sbom`). */
  predicateType: string;
}

export const SBOM_PREDICATE_TYPES: Record<SbomFormat, string> = {
  'spdx-json': 'https://spdx.dev/Document',
  'cyclonedx-json': 'https://cyclonedx.org/bom',
};

export function writeSbom(
  packages: Package[],
  subject: SbomSubject,
  format: SbomFormat,
  created?: Date,
): object {
  const opts = created ? { created } : {};
  if (format === 'spdx-json') return toSpdxJson(packages, subject, opts);
  if (format === 'cyclonedx-json') return toCycloneDxJson(packages, subject, opts);
  throw new SealError(
    'E_INVALID_ARGUMENT',
    `unknown SBOM format "${String(format)}": use spdx-json or cyclonedx-json`,
  );
}

/** Generate an SBOM for an image: catalogue it, then write the chosen format. */
export async function generateSbom(
  store: ImageStore,
  ref: Reference,
  options: GenerateSbomOptions,
): Promise<GeneratedSbom> {
  if (options.format !== 'spdx-json' && options.format !== 'cyclonedx-json') {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `unknown SBOM format "${String(options.format)}": use spdx-json or cyclonedx-json`,
    );
  }
  const result = await catalogImage(store, ref, options);
  const document = writeSbom(
    result.packages,
    { name: result.name, digest: result.digest },
    options.format,
    options.created,
  );
  const out: GeneratedSbom = {
    document,
    packages: result.packages,
    digest: result.digest,
    predicateType: SBOM_PREDICATE_TYPES[options.format],
  };
  if (result.indexDigest) out.indexDigest = result.indexDigest;
  return out;
}
