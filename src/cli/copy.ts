// `seal copy SRC DST`: copy an image with its signatures, attestations, SBOMs and referrers between
// registries and OCI layouts, digests unchanged (cosign `copy`/`save`/`load`); a progress bar on a TTY only.

import { SealError } from '../errors.js';
import { type CopyProgress, copyImage } from '../oci/copy.js';
import { DEFAULT_TAG, parseReference, withTag } from '../oci/ref.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { attachmentFlagsFrom, registryOptionSpecs, registryOptionsFrom } from './common.js';
import type { CliIO } from './io.js';

const options = {
  ...registryOptionSpecs,
  'image-only': {
    type: 'boolean',
    description: 'copy only the image, not the signatures, attestations, SBOMs and referrers attached to it',
  },
} as const;

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** A one-line progress bar redrawn in place on stderr, at most every 100 ms (and on the last event). */
export function progressBar(io: CliIO, width = 30): (p: CopyProgress) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (p.phase !== 'done' && now - last < 100) return;
    last = now;
    const fraction = p.totalBytes > 0 ? p.completedBytes / p.totalBytes : p.phase === 'done' ? 1 : 0;
    const filled = Math.round(fraction * width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    const label = p.phase === 'planning' ? 'reading manifests' : `${p.completedBlobs}/${p.totalBlobs} blobs`;
    io.stderr(
      `\r${bar} ${String(Math.round(fraction * 100)).padStart(3)}% ${mib(p.completedBytes)}/${mib(p.totalBytes)} ${label}\x1b[K`,
    );
    if (p.phase === 'done') io.stderr('\n');
  };
}

export const command: CommandModule = {
  usage: 'seal copy [flags] SRC DST',
  summary: 'Copy an image and everything attached to it between registries and OCI layouts',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length !== 2) throw new SealError('E_INVALID_ARGUMENT', 'seal copy takes SRC and DST');
    const src = parseReference(positionals[0]!, { cwd: io.cwd });
    // A destination without a tag takes the source's (crane/cosign habit), so no implicit `latest` here.
    let dst = parseReference(positionals[1]!, { cwd: io.cwd, defaultTag: false });
    if (dst.kind === 'registry' && dst.tag === undefined && !dst.digest && src.tag === undefined) {
      dst = withTag(dst, DEFAULT_TAG);
    }
    const result = await copyImage(src, dst, {
      registry: registryOptionsFrom(o, { io }),
      attached: !o['image-only'],
      tagPrefix: attachmentFlagsFrom(o).tagPrefix,
      ...(io.isTTY ? { onProgress: progressBar(io) } : {}),
    });
    io.stdout(`${result.destination}\n`);
    return 0;
  },
};
