// `seal verify-blob`: verify a file (or `sha256:<hex>`) against a Sigstore bundle and pinned
// expectations; prints `Verified OK` on stderr like cosign.

import { readFile } from 'node:fs/promises';
import { exitCodeFor, SealError } from '../errors.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { verifyOptionSpecs } from './common.js';
import { expectationsFrom, loadTrust } from './verify-common.js';

const options = {
  ...verifyOptionSpecs,
  bundle: { type: 'string', description: 'the Sigstore bundle to verify (required)', placeholder: 'FILE' },
} as const;

export const command: CommandModule = {
  usage:
    'seal verify-blob --bundle B.json (--key KEY | --certificate-identity ID --certificate-oidc-issuer URL) FILE|sha256:HEX',
  summary: 'Verify a file against a Sigstore bundle',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length !== 1)
      throw new SealError('E_INVALID_ARGUMENT', 'verify-blob needs exactly one FILE argument');
    if (!o.bundle) throw new SealError('E_INVALID_ARGUMENT', 'verify-blob needs --bundle FILE');
    const expectations = await expectationsFrom(o, io, {});
    let bundleJson: unknown;
    try {
      bundleJson = JSON.parse(await readFile(o.bundle, 'utf8'));
    } catch (cause) {
      throw new SealError('E_BUNDLE_INVALID', `cannot read bundle ${o.bundle}: ${(cause as Error).message}`, {
        cause,
      });
    }
    const trust = await loadTrust(o, expectations);
    const { verifyBlobBundle, artifactFromFile, artifactFromDigest } = await import('../verify/blob.js');
    const target = positionals[0]!;
    const artifact = /^sha(256|384|512):/.test(target)
      ? artifactFromDigest(target)
      : await artifactFromFile(target);
    const verdict = verifyBlobBundle(bundleJson, artifact, expectations, trust, target);
    if (o.output === 'verdict') io.stdout(JSON.stringify(verdict) + '\n');
    if (!verdict.ok) {
      io.stderr(
        `Error: ${verdict.message}\nerror during command execution: [${verdict.code}] ${verdict.message}\n`,
      );
      return exitCodeFor(verdict.code ?? 'E_SIGNATURE_INVALID');
    }
    io.stderr('Verified OK\n');
    return 0;
  },
};
