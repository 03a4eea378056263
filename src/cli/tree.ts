// `seal tree IMAGE`: the signatures, attestations, SBOMs and referrers attached to an image, printed as
// cosign's `tree` does (cosign.md §1 "tree"; legacy tags §2a, referrers §2b).

import { SealError } from '../errors.js';
import { type AttachedArtifacts, listAttached } from '../oci/attached.js';
import { openReference } from '../oci/open.js';
import { formatReference, repositoryName } from '../oci/ref.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { registryOptionSpecs, registryOptionsFrom } from './common.js';

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

/** cosign's tree text for what listAttached found. */
export function formatTree(attached: AttachedArtifacts): string {
  const name = formatReference(attached.reference);
  if (attached.legacy.length === 0 && attached.referrers.length === 0) {
    return `No Supply Chain Security Related Artifacts found for image ${name},\n start creating one with simply\n seal sign ${name}\n`;
  }
  const lines = [`📦 Supply Chain Security Related artifacts for an image: ${name}`];
  for (const legacy of attached.legacy) {
    lines.push(`└── ${HEADINGS[legacy.kind]}: ${repositoryName(attached.reference)}:${legacy.tag}`);
    for (const layer of legacy.layers) lines.push(`   └── 🍒 ${layer.digest}`);
  }
  const byType = new Map<string, string[]>();
  for (const r of attached.referrers) {
    const type = r.artifactType ?? r.mediaType;
    byType.set(type, [...(byType.get(type) ?? []), r.digest]);
  }
  for (const [type, digests] of byType) {
    lines.push(
      `└── 🔗 ${type} artifacts via OCI referrer: ${repositoryName(attached.reference)}@${attached.digest.toString()}`,
    );
    for (const d of digests) lines.push(`   └── 🍒 ${d}`);
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
    const { ref, store } = openReference(positionals[0]!, { registry: registryOptionsFrom(o), cwd: io.cwd });
    const attached = await listAttached(ref, store);
    if (o.output === 'json') {
      io.stdout(
        `${JSON.stringify(
          {
            reference: formatReference(ref),
            digest: attached.digest.toString(),
            mediaType: attached.mediaType,
            legacy: attached.legacy.map((l) => ({
              kind: l.kind,
              tag: l.tag,
              digest: l.digest.toString(),
              layers: l.layers.map((d) => d.digest),
            })),
            referrers: attached.referrers,
          },
          null,
          2,
        )}\n`,
      );
    } else {
      io.stdout(formatTree(attached));
    }
    return 0;
  },
};
