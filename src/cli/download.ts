// `seal download attestation IMAGE` and `seal download signature IMAGE`: print what is attached to an image
// (bundle referrers and the legacy `.att` / `.sig` tag), one JSON document per line, as cosign's download.

import { isSealError, SealError } from '../errors.js';
import {
  BUNDLE_CONTENT_ANNOTATION,
  BUNDLE_PREDICATE_TYPE_ANNOTATION,
  type SerializedBundle,
} from '../formats/bundle.js';
import { attachmentTag, parseSignatureLayer } from '../formats/cosign.js';
import { encodeBase64 } from '../formats/base64.js';
import { COSIGN_SIGN_PREDICATE_TYPE, resolvePredicateType } from '../formats/intoto.js';
import { Digest } from '../oci/digest.js';
import { type Descriptor, isIndex } from '../oci/manifest.js';
import { type Reference, withDigest, withTag } from '../oci/ref.js';
import type { ImageStore } from '../oci/store.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { attachmentFlagsFrom, registryOptionSpecs, registryOptionsFrom } from './common.js';

const BUNDLE_MEDIA_PREFIX = 'application/vnd.dev.sigstore.bundle';
/** Largest signature blob fetched (matches verification's limit). */
const MAX_BLOB = 16 * 1024 * 1024;
const MAX_ITEMS = 1000;

export interface AttachedItem {
  source: 'bundle-referrer' | 'legacy-tag';
  /** Referrer manifest digest (bundles) or layer digest (legacy). */
  carrier: string;
  predicateType?: string;
  /** The bundle (referrers), the DSSE envelope (`.att`), or cosign's SignedPayload (`.sig`). */
  json: unknown;
  /** For attestations: the DSSE envelope JSON. */
  envelope?: unknown;
  /** For legacy `.att`: the envelope bytes as stored. */
  raw?: Uint8Array;
}

function checkSize(desc: Descriptor): void {
  if (!(desc.size <= MAX_BLOB)) {
    throw new SealError('E_PAYLOAD_INVALID', `blob ${desc.digest} is ${desc.size} bytes, over ${MAX_BLOB}`);
  }
}

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new SealError('E_PAYLOAD_INVALID', `${what} is not JSON`, { cause });
  }
}

/**
 * Attestations (`kind: 'att'`) or signatures (`'sig'`) attached to `digest`: bundle referrers (a bundle whose
 * predicate type is cosign's sign statement, or a message signature, is a signature; any other DSSE bundle an
 * attestation), then the legacy tag's layers. Malformed items are skipped with a warning.
 */
export async function listAttached(
  store: ImageStore,
  ref: Reference,
  digest: Digest,
  kind: 'att' | 'sig',
  warn: (m: string) => void = () => {},
  tagPrefix = '',
): Promise<AttachedItem[]> {
  const out: AttachedItem[] = [];
  const referrers = await store.referrers(ref, digest).catch((err: unknown) => {
    if (isSealError(err, 'E_NOT_FOUND')) return [] as Descriptor[];
    throw err;
  });
  const bundles = referrers.filter((d) => (d.artifactType ?? '').startsWith(BUNDLE_MEDIA_PREFIX));
  if (bundles.length > MAX_ITEMS) {
    throw new SealError(
      'E_TOO_MANY_SIGNATURES',
      `${bundles.length} referrers; at most ${MAX_ITEMS} are read`,
    );
  }
  for (const desc of bundles) {
    try {
      const { manifest } = await store.getManifest(withDigest(ref, desc.digest));
      if (isIndex(manifest) || manifest.layers.length !== 1) continue;
      const annotations = { ...(desc.annotations ?? {}), ...(manifest.annotations ?? {}) };
      const predicateType = annotations[BUNDLE_PREDICATE_TYPE_ANNOTATION];
      const isSignature =
        predicateType === COSIGN_SIGN_PREDICATE_TYPE ||
        annotations[BUNDLE_CONTENT_ANNOTATION] === 'message-signature';
      if ((kind === 'sig') !== isSignature) continue;
      const layer = manifest.layers[0]!;
      checkSize(layer);
      const bytes = await store.getBlob(ref, Digest.parse(layer.digest), {
        size: layer.size,
        maxBytes: MAX_BLOB,
      });
      const json = parseJson(bytes, `bundle ${layer.digest}`) as SerializedBundle & {
        dsseEnvelope?: unknown;
      };
      out.push({
        source: 'bundle-referrer',
        carrier: desc.digest,
        ...(predicateType ? { predicateType } : {}),
        json,
        ...(json.dsseEnvelope ? { envelope: json.dsseEnvelope } : {}),
      });
    } catch (err) {
      if (!(err instanceof SealError)) throw err;
      warn(`skipping referrer ${desc.digest}: ${err.message}`);
    }
  }
  let layers: Descriptor[] = [];
  try {
    const { manifest } = await store.getManifest(withTag(ref, attachmentTag(digest, kind, tagPrefix)));
    if (!isIndex(manifest)) layers = manifest.layers;
  } catch (err) {
    if (!isSealError(err, 'E_NOT_FOUND')) throw err;
  }
  if (layers.length > MAX_ITEMS) {
    throw new SealError('E_TOO_MANY_SIGNATURES', `${layers.length} layers; at most ${MAX_ITEMS} are read`);
  }
  for (const layer of layers) {
    try {
      const legacy = parseSignatureLayer(layer);
      checkSize(layer);
      const bytes = await store.getBlob(ref, legacy.payloadDigest, { size: layer.size, maxBytes: MAX_BLOB });
      if (kind === 'att') {
        const envelope = parseJson(bytes, `attestation layer ${layer.digest}`);
        out.push({
          source: 'legacy-tag',
          carrier: layer.digest,
          ...(legacy.predicateType ? { predicateType: legacy.predicateType } : {}),
          json: envelope,
          envelope,
          raw: bytes,
        });
        continue;
      }
      // cosign's SignedPayload (pkg/cosign/fetch.go).
      const a = layer.annotations ?? {};
      out.push({
        source: 'legacy-tag',
        carrier: layer.digest,
        json: {
          Base64Signature: encodeBase64(legacy.signature),
          Payload: encodeBase64(bytes),
          Cert: legacy.certificatePem ?? null,
          Chain: legacy.chainPem ?? null,
          Bundle: a['dev.sigstore.cosign/bundle'] ? JSON.parse(a['dev.sigstore.cosign/bundle']) : null,
          RFC3161Timestamp: a['dev.sigstore.cosign/rfc3161timestamp']
            ? JSON.parse(a['dev.sigstore.cosign/rfc3161timestamp'])
            : null,
        },
      });
    } catch (err) {
      if (!(err instanceof SealError)) throw err;
      warn(`skipping layer ${layer.digest}: ${err.message}`);
    }
  }
  return out;
}

const attestationOptions = {
  platform: {
    type: 'string',
    description: 'when IMAGE is an index: the platform whose attestations to print (os/arch[/variant])',
    placeholder: 'PLATFORM',
  },
  'predicate-type': {
    type: 'string',
    description: 'only attestations of this predicate type (shortcut or URI)',
    placeholder: 'TYPE',
  },
  ...registryOptionSpecs,
} as const;

async function download(
  argv: string[],
  io: Parameters<CommandModule['run']>[1],
  kind: 'att' | 'sig',
): Promise<number> {
  const { options: o, positionals } = parseArgs(argv, attestationOptions);
  const name = kind === 'att' ? 'download attestation' : 'download signature';
  if (positionals.length !== 1) throw new SealError('E_INVALID_ARGUMENT', `${name} needs exactly one IMAGE`);
  const wanted = o['predicate-type'] ? resolvePredicateType(o['predicate-type']) : undefined;
  if (wanted && kind === 'sig') {
    throw new SealError('E_INVALID_ARGUMENT', '--predicate-type applies to download attestation only');
  }
  const { openReference } = await import('../oci/open.js');
  const { ref, store } = openReference(positionals[0]!, {
    registry: registryOptionsFrom(o, { io }),
    cwd: io.cwd,
  });
  let desc = await store.resolve(ref);
  const platform = (o as { platform?: string }).platform;
  if (platform) {
    const { parsePlatform, selectPlatform } = await import('../oci/manifest.js');
    const { manifest } = await store.getManifest(withDigest(ref, desc.digest));
    if (!isIndex(manifest))
      throw new SealError('E_INVALID_ARGUMENT', `--platform: ${positionals[0]} is an image, not an index`);
    desc = selectPlatform(manifest, parsePlatform(platform));
  }
  const { tagPrefix } = attachmentFlagsFrom(o);
  const items = await listAttached(
    store,
    ref,
    Digest.parse(desc.digest),
    kind,
    (m) => io.stderr(`WARNING: ${m}\n`),
    tagPrefix,
  );
  const shown = items.filter((i) => !wanted || i.predicateType === wanted);
  if (shown.length === 0) {
    throw new SealError(
      'E_NO_SIGNATURES',
      `no ${kind === 'att' ? `attestations${wanted ? ` of type ${wanted}` : ''}` : 'signatures'} found for ${positionals[0]} (${desc.digest})`,
    );
  }
  for (const item of shown) io.stdout(`${JSON.stringify(item.json)}\n`);
  return 0;
}

export const attestationCommand: CommandModule = {
  usage: 'seal download attestation [--predicate-type T] IMAGE',
  summary: 'Print the attestations attached to an image, one JSON document per line',
  options: attestationOptions,
  run: (argv, io) => download(argv, io, 'att'),
};

export const signatureCommand: CommandModule = {
  usage: 'seal download signature IMAGE',
  summary: 'Print the signatures attached to an image, one JSON document per line',
  options: registryOptionSpecs,
  run: (argv, io) => download(argv, io, 'sig'),
};

const sbomOptions = {
  platform: {
    type: 'string',
    description: 'when IMAGE is an index: the platform whose SBOM to print (os/arch[/variant])',
    placeholder: 'PLATFORM',
  },
  ...registryOptionSpecs,
} as const;

/**
 * `seal download sbom IMAGE`: the SBOMs attached to an image the way cosign attaches them (`attach sbom`:
 * the layers of the `sha256-<hex>.sbom` tag), printed as stored; their media types on stderr, as cosign.
 * SBOMs attested in statements are attestations: `seal download attestation --predicate-type spdxjson`.
 */
export const sbomCommand: CommandModule = {
  usage: 'seal download sbom [--platform os/arch] IMAGE',
  summary: 'Print the SBOMs attached to an image (cosign attach sbom)',
  options: sbomOptions,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, sbomOptions);
    if (positionals.length !== 1)
      throw new SealError('E_INVALID_ARGUMENT', 'download sbom needs exactly one IMAGE');
    const [{ openReference }, { parsePlatform, selectPlatform }] = await Promise.all([
      import('../oci/open.js'),
      import('../oci/manifest.js'),
    ]);
    const { ref, store } = openReference(positionals[0]!, {
      registry: registryOptionsFrom(o, { io }),
      cwd: io.cwd,
    });
    let desc = await store.resolve(ref);
    if (o.platform) {
      const { manifest } = await store.getManifest(withDigest(ref, desc.digest));
      if (!isIndex(manifest))
        throw new SealError('E_INVALID_ARGUMENT', `--platform: ${positionals[0]} is an image, not an index`);
      desc = selectPlatform(manifest, parsePlatform(o.platform));
    }
    const digest = Digest.parse(desc.digest);
    let layers: Descriptor[] = [];
    try {
      const { manifest } = await store.getManifest(withTag(ref, attachmentTag(digest, 'sbom')));
      if (!isIndex(manifest)) layers = manifest.layers;
    } catch (err) {
      if (!isSealError(err, 'E_NOT_FOUND')) throw err;
    }
    if (layers.length === 0)
      throw new SealError('E_NOT_FOUND', `no SBOMs attached to ${positionals[0]} (${desc.digest})`);
    if (layers.length > MAX_ITEMS)
      throw new SealError(
        'E_TOO_MANY_SIGNATURES',
        `${layers.length} SBOM layers; at most ${MAX_ITEMS} are read`,
      );
    for (const layer of layers) {
      checkSize(layer);
      io.stderr(`Found SBOM of media type: ${layer.mediaType}\n`);
      const bytes = await store.getBlob(ref, Digest.parse(layer.digest), {
        size: layer.size,
        maxBytes: MAX_BLOB,
      });
      const text = new TextDecoder().decode(bytes);
      io.stdout(text.endsWith('\n') ? text : `${text}\n`);
    }
    return 0;
  },
};

export const command = attestationCommand;
