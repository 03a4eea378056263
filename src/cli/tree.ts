// `seal tree IMAGE`: the signatures, attestations, SBOMs and referrers attached to an image, printed as
// cosign's `tree` does (cosign.md §1 "tree"; legacy tags §2a, referrers §2b).

import { SealError } from '../errors.js';
import { BUNDLE_PREDICATE_TYPE_ANNOTATION } from '../formats/bundle.js';
import {
  DSSE_LAYER_MEDIA_TYPE,
  PREDICATE_TYPE_ANNOTATION,
  SIMPLE_SIGNING_MEDIA_TYPE,
} from '../formats/cosign.js';
import { COSIGN_SIGN_PREDICATE_TYPE } from '../formats/intoto.js';
import { type AttachedArtifacts, listAttached } from '../oci/attached.js';
import { Digest } from '../oci/digest.js';
import { type Descriptor, isIndex } from '../oci/manifest.js';
import { openReference } from '../oci/open.js';
import { formatReference, type Reference, repositoryName, withDigest } from '../oci/ref.js';
import type { ImageStore } from '../oci/store.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { attachmentFlagsFrom, registryOptionSpecs, registryOptionsFrom } from './common.js';

const options = {
  ...registryOptionSpecs,
  output: {
    type: 'string',
    short: 'o',
    default: 'text',
    description: 'output: text or json',
    placeholder: 'FORMAT',
  },
  'experimental-oci11': {
    type: 'boolean',
    default: true,
    description: 'deprecated, accepted for cosign compatibility: referrers are always listed',
  },
} as const;

const HEADINGS = {
  signatures: '🔐 Signatures for an image tag',
  attestations: '💾 Attestations for an image tag',
  sboms: '📦 SBOMs for an image tag',
} as const;

/** What an attachment is, and what that was read from. */
export interface AttachmentLabel {
  kind: 'signature' | 'attestation' | 'sbom' | 'other';
  /** An attestation's predicate type (or an SBOM's / other artifact's media type). */
  type?: string;
  /**
   * `content`: the signed content (the bundle's or envelope's statement, unverified); `annotations`: the
   * manifest or layer annotations; `media type`: the layer media type or artifactType.
   */
  basis: 'content' | 'annotations' | 'media type';
}

/** Content read to label an attachment: blobs up to this size, and this many blobs per tree. */
export const TREE_CONTENT_MAX_BYTES = 1024 * 1024;
export const TREE_CONTENT_MAX_READS = 64;

const BUNDLE_MEDIA_PREFIX = 'application/vnd.dev.sigstore.bundle';
const IN_TOTO = 'application/vnd.in-toto+json';
const SBOM_TYPE = /spdx|cyclonedx|syft/i;

function fromPredicateType(predicateType: string, basis: AttachmentLabel['basis']): AttachmentLabel {
  return predicateType === COSIGN_SIGN_PREDICATE_TYPE
    ? { kind: 'signature', basis }
    : { kind: 'attestation', type: predicateType, basis };
}

/** The predicate type of a DSSE envelope's in-toto statement, or a label from its payloadType. */
function fromEnvelope(envelope: unknown): AttachmentLabel | undefined {
  if (typeof envelope !== 'object' || envelope === null) return undefined;
  const { payloadType, payload } = envelope as { payloadType?: unknown; payload?: unknown };
  if (payloadType !== IN_TOTO || typeof payload !== 'string') return undefined;
  const statement = JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as {
    predicateType?: unknown;
  };
  return typeof statement.predicateType === 'string'
    ? fromPredicateType(statement.predicateType, 'content')
    : undefined;
}

interface Reader {
  store: ImageStore;
  ref: Reference;
  reads: number;
}

/** A small blob's JSON, or undefined when too large, over the read count, unreadable or not JSON. */
async function smallJson(reader: Reader, desc: Descriptor): Promise<unknown> {
  if (!(desc.size >= 0 && desc.size <= TREE_CONTENT_MAX_BYTES) || reader.reads >= TREE_CONTENT_MAX_READS)
    return undefined;
  if (!Digest.isValid(desc.digest)) return undefined;
  reader.reads++;
  try {
    const bytes = await reader.store.getBlob(reader.ref, Digest.parse(desc.digest), {
      size: desc.size,
      maxBytes: TREE_CONTENT_MAX_BYTES,
    });
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    if (err instanceof SealError || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

async function labelLegacyLayer(
  reader: Reader,
  kind: 'signatures' | 'attestations' | 'sboms',
  layer: Descriptor,
): Promise<AttachmentLabel> {
  if (kind === 'sboms') return { kind: 'sbom', type: layer.mediaType, basis: 'media type' };
  if (layer.mediaType === SIMPLE_SIGNING_MEDIA_TYPE) return { kind: 'signature', basis: 'media type' };
  if (layer.mediaType === DSSE_LAYER_MEDIA_TYPE) {
    try {
      const label = fromEnvelope(await smallJson(reader, layer));
      if (label) return label;
    } catch {
      // not a statement: fall back to the annotation
    }
    const annotated = layer.annotations?.[PREDICATE_TYPE_ANNOTATION];
    return annotated
      ? fromPredicateType(annotated, 'annotations')
      : { kind: 'attestation', basis: 'media type' };
  }
  return SBOM_TYPE.test(layer.mediaType)
    ? { kind: 'sbom', type: layer.mediaType, basis: 'media type' }
    : { kind: 'other', type: layer.mediaType, basis: 'media type' };
}

async function labelReferrer(reader: Reader, referrer: Descriptor): Promise<AttachmentLabel> {
  const type = referrer.artifactType ?? referrer.mediaType;
  if (!type.startsWith(BUNDLE_MEDIA_PREFIX)) {
    return SBOM_TYPE.test(type)
      ? { kind: 'sbom', type, basis: 'media type' }
      : { kind: 'other', type, basis: 'media type' };
  }
  if (reader.reads < TREE_CONTENT_MAX_READS && Digest.isValid(referrer.digest)) {
    try {
      reader.reads++;
      const { manifest } = await reader.store.getManifest(withDigest(reader.ref, referrer.digest));
      const layer = isIndex(manifest) ? undefined : manifest.layers[0];
      const bundle = layer
        ? ((await smallJson(reader, layer)) as Record<string, unknown> | undefined)
        : undefined;
      if (bundle && typeof bundle === 'object') {
        if (bundle.messageSignature !== undefined)
          return { kind: 'signature', type: 'message signature', basis: 'content' };
        const label = fromEnvelope(bundle.dsseEnvelope);
        if (label) return label;
      }
    } catch (err) {
      if (!(err instanceof SealError || err instanceof SyntaxError)) throw err;
    }
  }
  const annotated = referrer.annotations?.[BUNDLE_PREDICATE_TYPE_ANNOTATION];
  return annotated
    ? fromPredicateType(annotated, 'annotations')
    : { kind: 'other', type, basis: 'media type' };
}

export interface LabelledAttachments {
  legacy: AttachmentLabel[][];
  referrers: AttachmentLabel[];
}

/**
 * Label each attachment as a signature, an attestation (with its predicate type) or an SBOM: from the
 * signed statement when it is small (a bundle or envelope up to 1 MiB, 64 reads per tree), else from
 * annotations or media types. Labels only: nothing is verified.
 */
export async function labelAttachments(
  attached: AttachedArtifacts,
  store: ImageStore,
): Promise<LabelledAttachments> {
  const reader: Reader = { store, ref: withDigest(attached.reference, attached.digest), reads: 0 };
  const legacy: AttachmentLabel[][] = [];
  for (const l of attached.legacy) {
    const labels: AttachmentLabel[] = [];
    for (const layer of l.layers) labels.push(await labelLegacyLayer(reader, l.kind, layer));
    legacy.push(labels);
  }
  const referrers: AttachmentLabel[] = [];
  for (const r of attached.referrers) referrers.push(await labelReferrer(reader, r));
  return { legacy, referrers };
}

/** `signature`, `attestation https://slsa.dev/provenance/v1`, `SBOM application/spdx+json`, with its basis. */
export function describeLabel(label: AttachmentLabel): string {
  const name = label.kind === 'sbom' ? 'SBOM' : label.kind;
  const basis =
    label.basis === 'content'
      ? 'from the signed statement, not verified'
      : label.basis === 'annotations'
        ? 'from annotations'
        : 'from the media type';
  return `${name}${label.type ? ` ${label.type}` : ''} (${basis})`;
}

/** cosign's tree text for what listAttached found, each attachment labelled when labels are given. */
export function formatTree(attached: AttachedArtifacts, labels?: LabelledAttachments): string {
  const name = formatReference(attached.reference);
  if (attached.legacy.length === 0 && attached.referrers.length === 0) {
    return `No Supply Chain Security Related Artifacts found for image ${name},\n start creating one with simply\n seal sign ${name}\n`;
  }
  const suffix = (label: AttachmentLabel | undefined) => (label ? `  ${describeLabel(label)}` : '');
  const lines = [`📦 Supply Chain Security Related artifacts for an image: ${name}`];
  attached.legacy.forEach((legacy, i) => {
    lines.push(`└── ${HEADINGS[legacy.kind]}: ${repositoryName(attached.reference)}:${legacy.tag}`);
    legacy.layers.forEach((layer, j) => {
      lines.push(`   └── 🍒 ${layer.digest}${suffix(labels?.legacy[i]?.[j])}`);
    });
  });
  const byType = new Map<string, string[]>();
  attached.referrers.forEach((r, i) => {
    const type = r.artifactType ?? r.mediaType;
    byType.set(type, [...(byType.get(type) ?? []), `${r.digest}${suffix(labels?.referrers[i])}`]);
  });
  for (const [type, entries] of byType) {
    lines.push(
      `└── 🔗 ${type} artifacts via OCI referrer: ${repositoryName(attached.reference)}@${attached.digest.toString()}`,
    );
    for (const e of entries) lines.push(`   └── 🍒 ${e}`);
  }
  return `${lines.join('\n')}\n`;
}

export const command: CommandModule = {
  usage: 'seal tree [flags] IMAGE',
  summary: 'Show the signatures, attestations, SBOMs and referrers attached to an image',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length !== 1)
      throw new SealError('E_INVALID_ARGUMENT', 'seal tree takes exactly one IMAGE argument');
    if (o.output !== 'text' && o.output !== 'json') {
      throw new SealError('E_INVALID_ARGUMENT', `--output must be text or json, got "${o.output}"`);
    }
    const { ref, store } = openReference(positionals[0]!, {
      registry: registryOptionsFrom(o, { io }),
      cwd: io.cwd,
    });
    const attached = await listAttached(ref, store, attachmentFlagsFrom(o).tagPrefix);
    const labels = await labelAttachments(attached, store);
    if (o.output === 'json') {
      io.stdout(
        `${JSON.stringify(
          {
            reference: formatReference(ref),
            digest: attached.digest.toString(),
            mediaType: attached.mediaType,
            legacy: attached.legacy.map((l, i) => ({
              kind: l.kind,
              tag: l.tag,
              digest: l.digest.toString(),
              layers: l.layers.map((d) => d.digest),
              labels: labels.legacy[i],
            })),
            referrers: attached.referrers.map((r, i) => ({ ...r, label: labels.referrers[i] })),
          },
          null,
          2,
        )}\n`,
      );
    } else {
      io.stdout(formatTree(attached, labels));
    }
    return 0;
  },
};
