// `seal triangulate IMAGE [--type signature|attestation|sbom|digest]`: print where cosign stores an image's
// attachment of that type, exactly as cosign `triangulate` prints it (cmd/cosign/cli/triangulate).

import { SealError } from '../errors.js';
import { attachmentLocation, TRIANGULATE_TYPES, type TriangulateType } from '../oci/attached.js';
import { Digest } from '../oci/digest.js';
import { openReference } from '../oci/open.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import {
  attachmentFlagsFrom,
  type RegistryFlags,
  registryOptionSpecs,
  registryOptionsFrom,
} from './common.js';
import type { CliIO } from './io.js';

/** cosign's words when an SBOM attachment is asked about (options.SBOMAttachmentDeprecation). */
export const SBOM_ATTACHMENT_DEPRECATION =
  'WARNING: SBOM attachments are deprecated and support will be removed in a Cosign release soon after 2024-02-22 (see https://github.com/sigstore/cosign/issues/2755). Instead, please use SBOM attestations.';

/**
 * The attachment tag prefix for a cosign command that takes no `--registry-referrers-mode` (cosign has no
 * such flag there): a given mode gets one line saying it changes nothing, not a silent no-op.
 */
export function tagPrefixFor(o: RegistryFlags, command: string, io: Pick<CliIO, 'stderr'>): string {
  const flags = attachmentFlagsFrom(o);
  if (flags.referrersMode !== undefined) {
    io.stderr(
      `Note: --registry-referrers-mode changes nothing for seal ${command} (cosign ${command} has no such flag)\n`,
    );
  }
  return flags.tagPrefix;
}

const options = {
  ...registryOptionSpecs,
  type: {
    type: 'string',
    default: 'signature',
    description: 'related attachment to triangulate (attestation|sbom|signature|digest)',
    placeholder: 'TYPE',
  },
} as const;

export const command: CommandModule = {
  usage: 'seal triangulate [flags] IMAGE',
  summary: 'Print where the signatures (or attestations, SBOM) of an image are stored, as cosign does',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length !== 1) {
      throw new SealError('E_INVALID_ARGUMENT', 'seal triangulate takes exactly one IMAGE argument');
    }
    const type = o.type ?? 'signature';
    if (!(TRIANGULATE_TYPES as readonly string[]).includes(type)) {
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `unknown attachment type ${type}: --type takes ${TRIANGULATE_TYPES.join(', ')}`,
      );
    }
    const prefix = tagPrefixFor(o, 'triangulate', io);
    const { ref, store } = openReference(positionals[0]!, {
      registry: registryOptionsFrom(o, { io }),
      cwd: io.cwd,
    });
    if (type === 'sbom') io.stderr(`${SBOM_ATTACHMENT_DEPRECATION}\n`);
    // A digest reference is used as given (cosign does not ask the registry then); a tag is resolved.
    const digest = ref.digest ?? Digest.parse((await store.resolve(ref)).digest);
    io.stdout(`${attachmentLocation(ref, digest, type as TriangulateType, prefix)}\n`);
    return 0;
  },
};
