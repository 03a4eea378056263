// `seal sbom IMAGE`: catalogue an image's packages from its layers and print (or write) an SPDX 2.3 or
// CycloneDX 1.6 JSON SBOM; a progress bar on a TTY only. Thin: flags → generateSbom → output.

import { open, rename } from 'node:fs/promises';
import { SealError } from '../errors.js';
import { jsonChunks } from '../formats/json-chunks.js';
import { openReference } from '../oci/open.js';
import { generateSbom } from '../sbom/generate.js';
import type { SbomFormat, SbomProgress } from '../sbom/types.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { noteUnusedAttachmentFlags, registryOptionSpecs, registryOptionsFrom } from './common.js';
import type { CliIO } from './io.js';

const options = {
  ...registryOptionSpecs,
  output: {
    type: 'string',
    short: 'o',
    description: 'the SBOM format: spdx-json (default) or cyclonedx-json',
    placeholder: 'FORMAT',
  },
  format: { type: 'string', description: 'same as --output', placeholder: 'FORMAT' },
  'output-file': {
    type: 'string',
    description: 'write the SBOM to FILE instead of standard output',
    placeholder: 'FILE',
  },
  platform: {
    type: 'string',
    description: 'platform to catalogue when IMAGE is an index, os/arch[/variant]',
    placeholder: 'PLATFORM',
  },
} as const;

function sbomProgressBar(io: CliIO, width = 30): (p: SbomProgress) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 100) return;
    last = now;
    const fraction = p.totalBytes > 0 ? Math.min(1, p.bytes / p.totalBytes) : 0;
    const filled = Math.round(fraction * width);
    io.stderr(
      `\r${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${String(Math.round(fraction * 100)).padStart(3)}% layer ${p.layer + 1}/${p.layers}\x1b[K`,
    );
  };
}

const isSbomFormat = (f: string): f is SbomFormat => f === 'spdx-json' || f === 'cyclonedx-json';

/** The document's JSON text (two-space indent, final line feed) in batches of about 64 KiB. */
function* documentBatches(document: object): Generator<string> {
  let batch = '';
  for (const piece of jsonChunks(document)) {
    batch += piece;
    if (batch.length >= 65536) {
      yield batch;
      batch = '';
    }
  }
  yield `${batch}\n`;
}

export const command: CommandModule = {
  usage: 'seal sbom [-o spdx-json|cyclonedx-json] [--output-file FILE] [flags] IMAGE',
  summary: 'Generate an SPDX or CycloneDX SBOM from an image’s layers',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length !== 1) throw new SealError('E_INVALID_ARGUMENT', 'seal sbom takes one IMAGE');
    // -o/--output is the format, as in every seal command; the file is --output-file. An --output that
    // is no format is the file it used to be, with a note.
    let outputFile = o['output-file'];
    let outputFormat = o.output;
    if (outputFormat !== undefined && !isSbomFormat(outputFormat)) {
      if (outputFile !== undefined) {
        throw new SealError(
          'E_INVALID_ARGUMENT',
          `--output is the SBOM format (spdx-json or cyclonedx-json), got "${outputFormat}"`,
        );
      }
      io.stderr(
        `seal sbom: --output FILE is deprecated: -o/--output is the format, write to a file with --output-file ${outputFormat}\n`,
      );
      outputFile = outputFormat;
      outputFormat = undefined;
    }
    if (outputFormat !== undefined && o.format !== undefined && outputFormat !== o.format) {
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `--output ${outputFormat} and --format ${o.format} disagree: give one format`,
      );
    }
    const format = outputFormat ?? o.format ?? 'spdx-json';
    if (!isSbomFormat(format)) {
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `--format must be spdx-json or cyclonedx-json, got "${format}"`,
      );
    }
    noteUnusedAttachmentFlags(o, 'sbom', io);
    const { ref, store } = openReference(positionals[0]!, {
      cwd: io.cwd,
      registry: registryOptionsFrom(o, { io }),
    });
    const result = await generateSbom(store, ref, {
      format,
      ...(o.platform ? { platform: o.platform } : {}),
      ...(io.isTTY ? { onProgress: sbomProgressBar(io) } : {}),
    });
    if (io.isTTY) io.stderr(`\r${result.packages.length} packages in ${result.digest}\x1b[K\n`);
    // Written in batches of pieces, never as one string: the document of a large image is tens of MB.
    const batches = documentBatches(result.document);
    const file = outputFile;
    if (!file) {
      for (const batch of batches) io.stdout(batch);
      return 0;
    }
    const { resolve } = await import('node:path');
    const target = resolve(io.cwd, file);
    const tmp = `${target}.${process.pid}.tmp`;
    try {
      const handle = await open(tmp, 'w');
      try {
        for (const batch of batches) await handle.write(batch);
      } finally {
        await handle.close();
      }
      await rename(tmp, target);
    } catch (err) {
      throw new SealError('E_IO', `cannot write ${target}: ${(err as Error).message}`, { cause: err });
    }
    return 0;
  },
};
