// `seal attest-blob`: sign an in-toto statement about a file (subject = its sha256 and base name) into a
// Sigstore bundle, as `cosign attest-blob --bundle`. cosign.md §2c.

import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SealError } from '../errors.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { applyDeprecated, deprecatedSpecs } from './deprecated-flags.js';
import { signingServiceOptionSpecs } from './common.js';

const options = {
  predicate: { type: 'string', description: 'the predicate file (- for stdin)', placeholder: 'FILE' },
  type: {
    type: 'string',
    default: 'custom',
    description: 'predicate type: a cosign shortcut (custom, slsaprovenance1, spdxjson, …) or a URI',
    placeholder: 'TYPE',
  },
  statement: {
    type: 'string',
    description: 'sign this complete in-toto statement instead of --predicate/--type (FILE is then optional)',
    placeholder: 'FILE',
  },
  key: {
    type: 'string',
    description:
      'private key: file path, env://VAR, a pkcs11:… URI or a KMS URI (awskms://, gcpkms://, hashivault://; keyless when absent)',
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
  hash: {
    type: 'string',
    description: "the file's sha256 in hex, for a file stored elsewhere (FILE then only names the subject)",
    placeholder: 'HEX',
  },
  ...deprecatedSpecs('insecure-skip-verify', 'issue-certificate', 'rekor-entry-type'),
} as const;

export const command: CommandModule = {
  usage:
    'seal attest-blob (--predicate FILE [--type T] | --statement FILE) [--key KEY] --bundle OUT.json [FILE]',
  summary: 'Attest a file into a Sigstore bundle (in-toto statement in DSSE)',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    applyDeprecated(argv, o, io, options);
    (await import('../keys/signer.js')).refuseKmsKey(o.key);
    (await import('./oidc-flags.js')).checkOidcFlags(o);
    if (positionals.length > 1 || (positionals.length === 0 && !o.statement))
      throw new SealError('E_INVALID_ARGUMENT', 'attest-blob needs exactly one FILE argument');
    if ((o.predicate === undefined) === (o.statement === undefined))
      throw new SealError(
        'E_INVALID_ARGUMENT',
        'attest-blob needs one of --predicate FILE or --statement FILE',
      );
    if (!o.bundle) throw new SealError('E_INVALID_ARGUMENT', 'attest-blob needs --bundle FILE');
    const [
      { attestBlob, attestDigest, attestStatement, fileSha256 },
      { predicateFor },
      { resolvePredicateType },
      { serializeEnvelope },
    ] = await Promise.all([
      import('../sign/attest-blob.js'),
      import('../sign/attest.js'),
      import('../formats/intoto.js'),
      import('../formats/dsse.js'),
    ]);
    const readInput = async (flag: string, path: string): Promise<Buffer> => {
      try {
        return path === '-' ? await io.readStdin() : await readFile(resolve(io.cwd, path));
      } catch (cause) {
        throw new SealError('E_IO', `cannot read ${flag} ${path}: ${(cause as Error).message}`, { cause });
      }
    };
    const type = o.type ?? 'custom';
    let predicate: unknown;
    if (o.predicate !== undefined) {
      resolvePredicateType(type);
      predicate = predicateFor(
        type,
        (await readInput('--predicate', o.predicate)).toString('utf8'),
        new Date(),
      );
    }
    const statementBytes =
      o.statement !== undefined ? await readInput('--statement', o.statement) : undefined;
    let fileDigest: import('../oci/digest.js').Digest | undefined;
    if (o.hash !== undefined) {
      if (!/^[0-9a-fA-F]{64}$/.test(o.hash))
        throw new SealError(
          'E_INVALID_DIGEST',
          `--hash must be a sha256 in hex (64 digits), not "${o.hash}"`,
        );
      const { Digest } = await import('../oci/digest.js');
      fileDigest = Digest.parse(`sha256:${o.hash.toLowerCase()}`);
    } else if (positionals[0]) fileDigest = await fileSha256(resolve(io.cwd, positionals[0]));
    if (statementBytes) {
      // Validate before asking for a key or a token.
      const { parseStatement, subjectMatchesDigest } = await import('../formats/intoto.js');
      const statement = parseStatement(statementBytes);
      if (fileDigest && !statement.subject.some((x) => subjectMatchesDigest(x, fileDigest))) {
        throw new SealError(
          'E_SUBJECT_MISMATCH',
          `the statement's subjects do not include ${positionals[0]} (${fileDigest})`,
        );
      }
    }
    const { resolveSigner } = await import('./signer.js');
    const { signer, tlog, timestamper, services } = await resolveSigner(o, io);
    const result = statementBytes
      ? await attestStatement(new Uint8Array(statementBytes), {
          signer,
          ...(tlog ? { tlog } : {}),
          ...(timestamper ? { timestamper } : {}),
          ...(fileDigest ? { digest: fileDigest } : {}),
        })
      : fileDigest && o.hash !== undefined
        ? await attestDigest(
            { name: (await import('node:path')).basename(positionals[0]!), digest: fileDigest },
            { signer, type, predicate, ...(tlog ? { tlog } : {}), ...(timestamper ? { timestamper } : {}) },
          )
        : await attestBlob(resolve(io.cwd, positionals[0]!), {
            signer,
            type,
            predicate,
            ...(tlog ? { tlog } : {}),
            ...(timestamper ? { timestamper } : {}),
          });
    await writeFile(resolve(io.cwd, o.bundle), JSON.stringify(result.bundle) + '\n');
    if (o['output-signature']) {
      await writeFile(resolve(io.cwd, o['output-signature']), serializeEnvelope(result.envelope));
    }
    if (services.rekorUrl) io.stderr(`tlog entry created in ${services.rekorUrl}\n`);
    for (const u of services.tsaUrls ?? []) io.stderr(`timestamp from ${u}\n`);
    io.stderr(`Attested ${positionals[0] ?? 'statement'} (${result.digest}) as ${result.predicateType}\n`);
    io.stderr(`Wrote bundle to file ${o.bundle}\n`);
    return 0;
  },
};
