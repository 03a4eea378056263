// `seal provenance IMAGE`: print the SLSA provenance v1 predicate for the build running here (GitHub
// Actions, GitLab CI or local), or with --statement the in-toto statement about the image's digest.

import { SealError } from '../errors.js';
import { openReference } from '../oci/open.js';
import { repositoryName } from '../oci/ref.js';
import { buildProvenanceStatement } from '../provenance/build.js';
import { sealVersion } from '../sbom/tool.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { noteUnusedAttachmentFlags, registryOptionSpecs, registryOptionsFrom } from './common.js';

const options = {
  ...registryOptionSpecs,
  statement: {
    type: 'boolean',
    description: 'print the whole in-toto statement (subject = the image digest), not only the predicate',
  },
} as const;

export const command: CommandModule = {
  usage: 'seal provenance [flags] IMAGE',
  summary: 'Print a SLSA provenance v1 predicate for an image from the CI environment',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length !== 1)
      throw new SealError('E_INVALID_ARGUMENT', 'seal provenance takes one IMAGE');
    noteUnusedAttachmentFlags(o, 'provenance', io);
    const { ref, store } = openReference(positionals[0]!, {
      cwd: io.cwd,
      registry: registryOptionsFrom(o, { io }),
    });
    const desc = await store.resolve(ref);
    const statement = await buildProvenanceStatement(
      io.env,
      { name: repositoryName(ref), digest: desc.digest },
      { cwd: io.cwd, toolVersion: sealVersion() },
    );
    io.stdout(`${JSON.stringify(o.statement ? statement : statement.predicate, null, 2)}\n`);
    return 0;
  },
};
