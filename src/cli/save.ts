// `seal save --dir DIR IMAGE` and `seal load --dir DIR IMAGE`: an image with its signatures, attestations
// and referrers to and from an OCI layout in cosign's shape (cosign save/load; src/oci/cosign-layout.ts).

import { resolve } from 'node:path';
import { SealError } from '../errors.js';
import { loadSignedImage, saveSignedImage } from '../oci/cosign-layout.js';
import { parseReference } from '../oci/ref.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { registryOptionSpecs, registryOptionsFrom } from './common.js';
import { tagPrefixFor } from './triangulate.js';

const saveOptions = {
  ...registryOptionSpecs,
  dir: {
    type: 'string',
    description: 'path to dir where the signed image should be stored on disk',
    placeholder: 'DIR',
  },
} as const;

const loadOptions = {
  ...registryOptionSpecs,
  dir: {
    type: 'string',
    description: 'path to directory where the signed image is stored on disk',
    placeholder: 'DIR',
  },
} as const;

function args(argv: string[], specs: typeof saveOptions | typeof loadOptions, name: string) {
  const parsed = parseArgs(argv, specs);
  if (parsed.options.dir === undefined || parsed.options.dir === '') {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `seal ${name} needs --dir DIR (required flag(s) "dir" not set)`,
    );
  }
  if (parsed.positionals.length !== 1) {
    throw new SealError('E_INVALID_ARGUMENT', `seal ${name} takes exactly one IMAGE argument`);
  }
  return parsed;
}

export const saveCommand: CommandModule = {
  usage: 'seal save --dir DIR IMAGE',
  summary: 'Save an image and its signatures, attestations and SBOM to an OCI layout directory (as cosign)',
  options: saveOptions,
  async run(argv, io) {
    const { options: o, positionals } = args(argv, saveOptions, 'save');
    const ref = parseReference(positionals[0]!, { cwd: io.cwd, layouts: false });
    const dir = resolve(io.cwd, o.dir!);
    const tagPrefix = tagPrefixFor(o, 'save', io);
    const result = await saveSignedImage(ref, dir, { registry: registryOptionsFrom(o, { io }), tagPrefix });
    const parts = [...result.attachments.map((k) => k.slice(k.lastIndexOf('/') + 1))];
    if (result.referrers > 0) parts.push(`${result.referrers} referrer${result.referrers === 1 ? '' : 's'}`);
    io.stderr(`Saved ${result.digest}${parts.length ? ` with ${parts.join(', ')}` : ''} to ${dir}\n`);
    return 0;
  },
};

export const loadCommand: CommandModule = {
  usage: 'seal load --dir DIR IMAGE',
  summary: 'Load an image saved by seal save or cosign save, with its signatures, into a registry',
  options: loadOptions,
  async run(argv, io) {
    const { options: o, positionals } = args(argv, loadOptions, 'load');
    const ref = parseReference(positionals[0]!, { cwd: io.cwd, layouts: false });
    const dir = resolve(io.cwd, o.dir!);
    const tagPrefix = tagPrefixFor(o, 'load', io);
    const result = await loadSignedImage(dir, ref, { registry: registryOptionsFrom(o, { io }), tagPrefix });
    io.stderr(
      `Loaded ${result.destination}${result.tags.length ? ` with ${result.tags.join(', ')}` : ''}${result.referrers ? ` and ${result.referrers} referrer${result.referrers === 1 ? '' : 's'}` : ''}\n`,
    );
    return 0;
  },
};
