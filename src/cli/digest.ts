// `seal digest IMAGE`: resolve a tag to the digest of its manifest (crane digest).
// Thin adapter over ImageStore.resolve (src/oci/store.ts).

import { SealError } from '../errors.js';
import { openReference } from '../oci/open.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { registryOptionSpecs, registryOptionsFrom } from './common.js';

const options = { ...registryOptionSpecs };

export const command: CommandModule = {
  usage: 'seal digest [flags] IMAGE',
  summary: 'Resolve an image reference to its manifest digest',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length !== 1) {
      throw new SealError('E_INVALID_ARGUMENT', 'seal digest takes exactly one IMAGE argument');
    }
    const { ref, store } = openReference(positionals[0]!, { registry: registryOptionsFrom(o), cwd: io.cwd });
    const desc = await store.resolve(ref);
    io.stdout(`${desc.digest}\n`);
    return 0;
  },
};
