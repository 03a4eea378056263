// `seal digest IMAGE`: resolve a tag to the digest of its manifest (crane digest).
// Thin adapter over ImageStore.resolve (src/oci/store.ts).

import { SealError } from '../errors.js';
import { isIndex, parsePlatform, selectPlatform } from '../oci/manifest.js';
import { openReference } from '../oci/open.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { noteUnusedAttachmentFlags, registryOptionSpecs, registryOptionsFrom } from './common.js';

const options = {
  ...registryOptionSpecs,
  platform: {
    type: 'string',
    description: "for a multi-arch index, print the digest of this platform's manifest",
    placeholder: 'OS/ARCH[/VARIANT]',
  },
} as const;

export const command: CommandModule = {
  usage: 'seal digest [flags] IMAGE',
  summary: 'Resolve an image reference to its manifest digest',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length !== 1) {
      throw new SealError('E_INVALID_ARGUMENT', 'seal digest takes exactly one IMAGE argument');
    }
    noteUnusedAttachmentFlags(o, 'digest', io);
    const { ref, store } = openReference(positionals[0]!, {
      registry: registryOptionsFrom(o, { io }),
      cwd: io.cwd,
    });
    if (o.platform) {
      const wanted = parsePlatform(o.platform);
      const fetched = await store.getManifest(ref);
      const chosen = isIndex(fetched.manifest)
        ? selectPlatform(fetched.manifest, wanted).digest
        : fetched.digest;
      io.stdout(`${chosen.toString()}\n`);
      return 0;
    }
    const desc = await store.resolve(ref);
    io.stdout(`${desc.digest}\n`);
    return 0;
  },
};
