// `seal verify-blob-attestation`: verify a file's (or `sha256:<hex>`'s) attestation bundle against a pinned
// key or identity, the predicate type, and optional policy / provenance checks. cosign.md §2c, §2e.

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { exitCodeFor, SealError } from '../errors.js';
import type { Statement } from '../formats/intoto.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { applyDeprecated, deprecatedSpecs } from './deprecated-flags.js';
import { verifyOptionSpecs, cosignVerifyNoteOptionSpecs, cosignVerifyNotes } from './common.js';
import { verdictReplacer } from './verify.js';
import {
  applyAttestationChecks,
  loadPolicies,
  provenanceExpectationsFrom,
  provenanceOptionSpecs,
} from './verify-attestation.js';
import { expectationsFrom, loadTrust, privatePkiOptionSpecs } from './verify-common.js';

const options = {
  ...verifyOptionSpecs,
  ...privatePkiOptionSpecs,
  bundle: { type: 'string', description: 'the attestation bundle (required)', placeholder: 'FILE' },
  type: {
    type: 'string',
    default: 'custom',
    description: 'predicate type: a cosign shortcut or a URI',
    placeholder: 'TYPE',
  },
  policy: {
    type: 'strings',
    description: 'YAML/JSON file of conditions the statement must meet (docs/attestation-policy.md)',
    placeholder: 'FILE',
  },
  digest: {
    type: 'string',
    description: 'the subject digest (hex) to look for instead of a FILE (cosign)',
    placeholder: 'HEX',
  },
  digestAlg: {
    type: 'string',
    description: 'the algorithm of --digest: sha256 (default), sha384, sha512',
    placeholder: 'ALG',
  },
  ...provenanceOptionSpecs,
  ...cosignVerifyNoteOptionSpecs,
  ...deprecatedSpecs(
    'experimental-oci11',
    'offline',
    'new-bundle-format',
    'sct',
    'signature-digest-algorithm',
  ),
} as const;

export const command: CommandModule = {
  usage:
    'seal verify-blob-attestation --bundle B.json --type T (--key KEY | --certificate-identity ID --certificate-oidc-issuer URL) FILE|sha256:HEX',
  summary: 'Verify a file attestation bundle (subject digest, predicate type, signer)',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    applyDeprecated(argv, o, io, options);
    cosignVerifyNotes(argv, o, io);
    if (o.digestAlg !== undefined && o.digest === undefined)
      throw new SealError('E_INVALID_ARGUMENT', '--digestAlg goes with --digest');
    if (o.digest !== undefined) {
      if (positionals.length > 0)
        throw new SealError('E_INVALID_ARGUMENT', 'give either --digest or a FILE, not both');
      const alg = o.digestAlg ?? 'sha256';
      if (!['sha256', 'sha384', 'sha512'].includes(alg))
        throw new SealError(
          'E_INVALID_ARGUMENT',
          `--digestAlg must be sha256, sha384 or sha512, not "${alg}"`,
        );
      positionals.push(`${alg}:${o.digest.toLowerCase()}`);
    }
    if (positionals.length !== 1)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        'verify-blob-attestation needs exactly one FILE argument (or --digest HEX)',
      );
    if (!o.bundle) throw new SealError('E_INVALID_ARGUMENT', 'verify-blob-attestation needs --bundle FILE');
    const [{ resolvePredicateType }, { verifyBlobAttestation }, { fileSha256 }, { attestationChecks }] =
      await Promise.all([
        import('../formats/intoto.js'),
        import('../verify/blob-attestation.js'),
        import('../sign/attest-blob.js'),
        import('../verify/attestation-policy.js'),
      ]);
    const predicateType = resolvePredicateType(o.type ?? 'custom');
    const provenance = provenanceExpectationsFrom(o, predicateType);
    const policy = await loadPolicies(o.policy, io.cwd);
    const expectations = await expectationsFrom(o, io, {});
    expectations.predicateType = predicateType;
    let bundleJson: unknown;
    try {
      bundleJson = JSON.parse(await readFile(resolve(io.cwd, o.bundle), 'utf8'));
    } catch (cause) {
      throw new SealError('E_BUNDLE_INVALID', `cannot read bundle ${o.bundle}: ${(cause as Error).message}`, {
        cause,
      });
    }
    const trust = await loadTrust(o, expectations, io.env);
    const target = positionals[0]!;
    let digest: { algorithm: 'sha256' | 'sha384' | 'sha512'; hex: string };
    const m = /^(sha256|sha384|sha512):([0-9a-f]+)$/.exec(target);
    if (m) digest = { algorithm: m[1] as 'sha256', hex: m[2]! };
    else if (/^sha(256|384|512):/.test(target))
      throw new SealError('E_INVALID_DIGEST', `invalid digest "${target}"`);
    else digest = { algorithm: 'sha256', hex: (await fileSha256(resolve(io.cwd, target))).hex };
    let verdict = verifyBlobAttestation(bundleJson, digest, expectations, trust, target);
    verdict = applyAttestationChecks(verdict, (statement: Statement) =>
      attestationChecks(statement, {
        ...(policy ? { policy } : {}),
        ...(provenance ? { provenance } : {}),
      }),
    );
    if (o.output === 'verdict') io.stdout(JSON.stringify(verdict, verdictReplacer) + '\n');
    if (!verdict.ok) {
      const code = verdict.code ?? 'E_SIGNATURE_INVALID';
      io.stderr(`Error: ${verdict.message}\nerror during command execution: [${code}] ${verdict.message}\n`);
      return exitCodeFor(code);
    }
    if (o.output === 'text') io.stdout(new TextDecoder().decode(verdict.signatures[0]!.payloadBytes) + '\n');
    io.stderr('Verified OK\n');
    return 0;
  },
};
