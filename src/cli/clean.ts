// `seal clean IMAGE [--type signature|attestation|referrer|sbom|all] [-f]`: remove the signatures,
// attestations, SBOMs and bundle referrers of an image, with cosign `clean`'s prompt and messages.

import { SealError } from '../errors.js';
import { CLEAN_TYPES, type CleanType, cleanImage, cleanPrompt } from '../oci/clean.js';
import { openReference } from '../oci/open.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { registryOptionSpecs, registryOptionsFrom } from './common.js';
import type { CliIO } from './io.js';
import { tagPrefixFor } from './triangulate.js';

const options = {
  ...registryOptionSpecs,
  type: {
    type: 'string',
    default: 'all',
    description: 'what to remove: signature, attestation, referrer, sbom or all',
    placeholder: 'CLEAN_TYPE',
  },
  force: { type: 'boolean', short: 'f', description: 'do not prompt for confirmation' },
} as const;

const PROMPT = 'Are you sure you would like to continue? [y/N] ';

/** One line of the answer: from the terminal when there is one, else the first line of stdin (as cosign). */
async function readAnswer(io: CliIO): Promise<string> {
  if (io.isTTY) {
    const { createInterface } = await import('node:readline/promises');
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    try {
      return await rl.question(PROMPT);
    } finally {
      rl.close();
    }
  }
  io.stderr(PROMPT);
  const text = (await io.readStdin()).toString('utf8');
  return text.split('\n')[0]!.replace(/\r$/, '');
}

/** cosign's confirmation: only `y`/`Y` goes on; empty or `n` declines; anything else is invalid input. */
async function confirm(io: CliIO): Promise<void> {
  const answer = (await readAnswer(io)).trim();
  if (answer.toLowerCase() === 'y') return;
  if (answer === '' || answer.toLowerCase() === 'n') {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      'user declined the prompt: nothing removed (pass -f/--force to run without asking)',
    );
  }
  throw new SealError(
    'E_INVALID_ARGUMENT',
    `invalid input "${answer}" (allowed values y, n): nothing removed`,
  );
}

export const command: CommandModule = {
  usage: 'seal clean [flags] IMAGE',
  summary: 'Remove the signatures, attestations and SBOMs attached to an image',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length !== 1) {
      throw new SealError('E_INVALID_ARGUMENT', 'seal clean takes exactly one IMAGE argument');
    }
    const type = o.type ?? 'all';
    if (!(CLEAN_TYPES as readonly string[]).includes(type)) {
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `invalid argument "${type}" for "--type" flag: must be one of "signature", "attestation", "referrer", "sbom", or "all"`,
      );
    }
    const tagPrefix = tagPrefixFor(o, 'clean', io);
    const { ref, store } = openReference(positionals[0]!, {
      registry: registryOptionsFrom(o, { io }),
      cwd: io.cwd,
    });
    if (!o.force) {
      io.stderr(`WARNING: ${cleanPrompt(type as CleanType)}\n`);
      await confirm(io);
    }
    const result = await cleanImage(store, ref, type as CleanType, { tagPrefix });
    if (result.referrersLeft) io.stderr('WARNING: image has referrers, consider using --type referrer\n');
    const image = positionals[0]!;
    const failed = result.outcomes.filter((r) => r.status === 'failed');
    for (const r of result.outcomes) {
      if (r.status === 'removed') io.stderr(`Removed ${r.target.name} from ${image}\n`);
      if (r.status === 'failed')
        io.stderr(`could not delete ${r.target.name} from ${image}:\n${r.error!.message}\n`);
    }
    if (failed.length > 0) {
      // cosign exits 0 here; seal says the image still carries what it could not remove.
      const first = failed[0]!.error!;
      throw new SealError(
        first.code,
        `${failed.length} of ${result.outcomes.length} attachments could not be removed from ${image} (first: ${first.message})`,
      );
    }
    return 0;
  },
};
