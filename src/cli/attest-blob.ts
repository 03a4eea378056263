// `seal attest-blob`: sign an in-toto statement about a file (subject = its sha256 and base name) into a
// Sigstore bundle, as `cosign attest-blob --bundle`. cosign.md §2c.

import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SealError } from '../errors.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { signingServiceOptionSpecs } from './common.js';

const options = {
  predicate: { type: 'string', description: 'the predicate file (- for stdin)', placeholder: 'FILE' },
  type: {
    type: 'string',
    default: 'custom',
    description: 'predicate type: a cosign shortcut (custom, slsaprovenance1, spdxjson, …) or a URI',
    placeholder: 'TYPE',
  },
  key: {
    type: 'string',
    description: 'private key: file path, env://VAR (keyless when absent)',
    placeholder: 'KEY',
  },
  bundle: { type: 'string', description: 'write the Sigstore bundle here (required)', placeholder: 'FILE' },
  'output-signature': {
    type: 'string',
    description: 'also write the DSSE envelope to this file',
    placeholder: 'FILE',
  },
  yes: { type: 'boolean', short: 'y', description: 'skip confirmation prompts' },
  ...signingServiceOptionSpecs,
} as const;

export const command: CommandModule = {
  usage: 'seal attest-blob --predicate FILE [--type T] [--key KEY] --bundle OUT.json FILE',
  summary: 'Attest a file into a Sigstore bundle (in-toto statement in DSSE)',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length !== 1)
      throw new SealError('E_INVALID_ARGUMENT', 'attest-blob needs exactly one FILE argument');
    if (!o.predicate) throw new SealError('E_INVALID_ARGUMENT', 'attest-blob needs --predicate FILE');
    if (!o.bundle) throw new SealError('E_INVALID_ARGUMENT', 'attest-blob needs --bundle FILE');
    const [{ attestBlob }, { predicateFor }, { resolvePredicateType }, { serializeEnvelope }] =
      await Promise.all([
        import('../sign/attest-blob.js'),
        import('../sign/attest.js'),
        import('../formats/intoto.js'),
        import('../formats/dsse.js'),
      ]);
    const type = o.type ?? 'custom';
    resolvePredicateType(type);
    let text: string;
    try {
      text =
        o.predicate === '-'
          ? (await io.readStdin()).toString('utf8')
          : await readFile(resolve(io.cwd, o.predicate), 'utf8');
    } catch (cause) {
      throw new SealError('E_IO', `cannot read --predicate ${o.predicate}: ${(cause as Error).message}`, {
        cause,
      });
    }
    const predicate = predicateFor(type, text, new Date());
    const { resolveSigner } = await import('./signer.js');
    const { signer, tlog, services } = await resolveSigner(o, io);
    const result = await attestBlob(resolve(io.cwd, positionals[0]!), {
      signer,
      type,
      predicate,
      ...(tlog ? { tlog } : {}),
    });
    await writeFile(resolve(io.cwd, o.bundle), JSON.stringify(result.bundle) + '\n');
    if (o['output-signature']) {
      await writeFile(resolve(io.cwd, o['output-signature']), serializeEnvelope(result.envelope));
    }
    if (services.rekorUrl) io.stderr(`tlog entry created in ${services.rekorUrl}\n`);
    io.stderr(`Attested ${positionals[0]} (${result.digest}) as ${result.predicateType}\n`);
    io.stderr(`Wrote bundle to file ${o.bundle}\n`);
    return 0;
  },
};
