// `seal verify-attestation`: verify an image's attestations of one predicate type against a pinned key or
// identity, then optional policy conditions and SLSA provenance expectations; prints each verified DSSE
// envelope one per line (cosign). cosign.md §2c, §2e; docs/attestation-policy.md.

import { readFile } from 'node:fs/promises';
import { exitCodeFor, SealError } from '../errors.js';
import type { Statement } from '../formats/intoto.js';
import type { ProvenanceExpectations } from '../provenance/verify.js';
import type { Check, Verdict } from '../verify/types.js';
import { parseArgs, parseKeyValues } from './args.js';
import type { CommandModule } from './command.js';
import { applyDeprecated, deprecatedSpecs } from './deprecated-flags.js';
import {
  cosignVerifyCompat,
  cosignVerifyCompatOptionSpecs,
  attachmentFlagsFrom,
  describeChecks,
  registryOptionSpecs,
  registryOptionsFrom,
  verifyOptionSpecs,
  cosignVerifyNoteOptionSpecs,
  cosignVerifyNotes,
} from './common.js';
import { checksPerformed, verdictReplacer } from './verify.js';
import { expectationsFrom, loadTrust, privatePkiOptionSpecs } from './verify-common.js';

export const provenanceOptionSpecs = {
  'source-uri': {
    type: 'string',
    description: 'with --type slsaprovenance1: the expected source repository, e.g. github.com/org/repo',
    placeholder: 'URI',
  },
  'source-branch': {
    type: 'string',
    description: 'with --source-uri: the expected branch',
    placeholder: 'BRANCH',
  },
  'source-tag': { type: 'string', description: 'with --source-uri: the expected tag', placeholder: 'TAG' },
  'source-commit': {
    type: 'string',
    description: 'with --source-uri: the expected commit',
    placeholder: 'SHA',
  },
  'builder-id': {
    type: 'string',
    description: 'with --type slsaprovenance1: the expected builder id (any @ref unless one is given)',
    placeholder: 'ID',
  },
} as const;

const options = {
  ...verifyOptionSpecs,
  ...privatePkiOptionSpecs,
  type: {
    type: 'string',
    default: 'custom',
    description:
      'predicate type: custom, slsaprovenance, slsaprovenance1, spdx, spdxjson, cyclonedx, link, vuln, openvex, vsa, or a URI',
    placeholder: 'TYPE',
  },
  'verifier-id': {
    type: 'string',
    description: 'with --type vsa: the expected verifier.id (PASSED is always required)',
    placeholder: 'URI',
  },
  'resource-uri': {
    type: 'string',
    description: 'with --type vsa: the expected resourceUri',
    placeholder: 'URI',
  },
  'verified-level': {
    type: 'strings',
    description:
      'with --type vsa: a level the VSA must reach, e.g. SLSA_BUILD_LEVEL_2 (L3 satisfies it; repeatable)',
    placeholder: 'LEVEL',
  },
  policy: {
    type: 'strings',
    description: 'YAML/JSON file of conditions every attestation must meet (docs/attestation-policy.md)',
    placeholder: 'FILE',
  },
  ...provenanceOptionSpecs,
  ...registryOptionSpecs,
  ...cosignVerifyCompatOptionSpecs,
  ...cosignVerifyNoteOptionSpecs,
  'local-image': {
    type: 'boolean',
    description: 'each IMAGE is a directory written by cosign save or seal save',
  },
  annotations: {
    type: 'strings',
    short: 'a',
    description:
      'accepted for cosign, which checks them on signatures only: attestations carry no simple-signing annotations',
    placeholder: 'k=v',
  },
  ...deprecatedSpecs('experimental-oci11', 'sct', 'signature-digest-algorithm'),
} as const;

/** Provenance expectations from the slsa-verifier-style flags; E_INVALID_ARGUMENT unless --type is SLSA v1. */
export function provenanceExpectationsFrom(
  o: Partial<Record<keyof typeof provenanceOptionSpecs, string | undefined>>,
  predicateType: string,
): ProvenanceExpectations | undefined {
  const p: ProvenanceExpectations = {};
  if (o['source-uri'] !== undefined) p.sourceUri = o['source-uri'];
  if (o['source-branch'] !== undefined) p.sourceBranch = o['source-branch'];
  if (o['source-tag'] !== undefined) p.sourceTag = o['source-tag'];
  if (o['source-commit'] !== undefined) p.sourceCommit = o['source-commit'];
  if (o['builder-id'] !== undefined) p.builderId = o['builder-id'];
  if (Object.keys(p).length === 0) return undefined;
  if (predicateType !== 'https://slsa.dev/provenance/v1') {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      '--source-uri/--builder-id/--source-* check SLSA provenance v1: use them with --type slsaprovenance1',
    );
  }
  return p;
}

/** Read and parse every --policy file (conditions of all files must hold). */
export async function loadPolicies(paths: string[], cwd: string) {
  const [{ parseAttestationPolicy }, { resolve }] = await Promise.all([
    import('../verify/attestation-policy.js'),
    import('node:path'),
  ]);
  const blocks = [];
  for (const p of paths) {
    let text: string;
    try {
      text = await readFile(resolve(cwd, p), 'utf8');
    } catch (cause) {
      throw new SealError('E_IO', `cannot read --policy ${p}: ${(cause as Error).message}`, { cause });
    }
    blocks.push(...parseAttestationPolicy(text, p));
  }
  return blocks.length > 0 ? blocks : undefined;
}

/**
 * Apply the extra checks to each signature-verified attestation. As cosign does for --policy, every
 * verified attestation must pass them: one failing makes the verdict fail with its code.
 */
export function applyAttestationChecks(verdict: Verdict, run: (statement: Statement) => Check[]): Verdict {
  if (!verdict.ok) return verdict;
  const failures: string[] = [];
  let code: Check['code'];
  for (const s of verdict.signatures.filter((x) => x.ok)) {
    const extra = run(s.payload as Statement);
    s.checks.push(...extra);
    const failed = extra.find((c) => !c.ok);
    if (!failed) continue;
    s.ok = false;
    code ??= failed.code ?? 'E_CONDITION_FAILED';
    failures.push(`${s.source} ${s.carrier ?? ''}: ${failed.message ?? failed.name}`);
  }
  if (failures.length === 0) return verdict;
  return { ...verdict, ok: false, code: code!, message: failures.join('; ') };
}

export const command: CommandModule = {
  usage:
    'seal verify-attestation --type T (--key KEY | --certificate-identity ID --certificate-oidc-issuer URL) [--policy FILE] IMAGE…',
  summary: 'Verify image attestations of a predicate type, with optional policy conditions',
  options,
  async run(argv, processIo) {
    const { options: o, positionals } = parseArgs(argv, options);
    applyDeprecated(argv, o, processIo, options);
    cosignVerifyNotes(argv, o, processIo);
    if (o.annotations.length > 0) {
      parseKeyValues(o.annotations);
      processIo.stderr('Note: -a is not checked on attestations (as cosign): it applies to seal verify\n');
    }
    const compat = cosignVerifyCompat(argv, o, processIo);
    const io = compat.io;
    if (positionals.length === 0)
      throw new SealError('E_INVALID_ARGUMENT', 'verify-attestation needs at least one IMAGE argument');
    if (o.output !== 'json' && o.output !== 'text' && o.output !== 'verdict') {
      throw new SealError('E_INVALID_ARGUMENT', `--output must be json, text or verdict, not "${o.output}"`);
    }
    const { resolvePredicateType } = await import('../formats/intoto.js');
    const predicateType = resolvePredicateType(o.type ?? 'custom');
    const provenance = provenanceExpectationsFrom(o, predicateType);
    const vsaMod = await import('../provenance/vsa.js');
    const isVsa = predicateType === vsaMod.VSA_PREDICATE_TYPE;
    if (
      !isVsa &&
      (o['verifier-id'] !== undefined || o['resource-uri'] !== undefined || o['verified-level'].length > 0)
    )
      throw new SealError(
        'E_INVALID_ARGUMENT',
        '--verifier-id/--resource-uri/--verified-level check a VSA: use them with --type vsa',
      );
    const vsa = isVsa
      ? {
          ...(o['verifier-id'] !== undefined ? { verifierId: o['verifier-id'] } : {}),
          ...(o['resource-uri'] !== undefined ? { resourceUri: o['resource-uri'] } : {}),
          levels: o['verified-level'],
        }
      : undefined;
    const policy = await loadPolicies(o.policy, io.cwd);
    const expectations = await expectationsFrom(o, io, {});
    expectations.predicateType = predicateType;
    const trust = await loadTrust(o, expectations, processIo.env);
    const [{ verifyImage }, { openReference }, { attestationChecks }, { listAttached }] = await Promise.all([
      import('../verify/image.js'),
      import('../oci/open.js'),
      import('../verify/attestation-policy.js'),
      import('./download.js'),
    ]);
    let status = 0;
    // One --timeout for the whole command, every image included.
    const registry = registryOptionsFrom(o, { io });
    const cleanups: (() => Promise<void>)[] = [];
    try {
      for (const image of positionals) {
        const local = o['local-image']
          ? await (await import('./local-image.js')).openLocalImage(image, io.cwd)
          : undefined;
        if (local) cleanups.push(local.cleanup);
        const { ref, store } = openReference(local?.reference ?? image, { registry, cwd: io.cwd });
        let verdict = await verifyImage(ref, expectations, {
          store,
          attestations: true,
          ...(trust ? { trust } : {}),
          tagPrefix: attachmentFlagsFrom(o).tagPrefix,
        });
        verdict.reference = image;
        verdict = applyAttestationChecks(verdict, (statement) => [
          ...attestationChecks(statement, {
            ...(policy ? { policy } : {}),
            ...(provenance ? { provenance } : {}),
          }),
          ...(vsa ? vsaMod.vsaChecks(statement, vsa) : []),
        ]);
        if (o.verbose) io.stderr(describeChecks(verdict));
        if (o.output === 'verdict') io.stdout(JSON.stringify(verdict, verdictReplacer) + '\n');
        if (!verdict.ok) {
          const code = verdict.code ?? 'E_NO_MATCHING_SIGNATURES';
          io.stderr(
            `Error: ${verdict.message}\nerror during command execution: [${code}] ${verdict.message}\n`,
          );
          status = status || exitCodeFor(code);
          continue;
        }
        io.stderr(
          checksPerformed(verdict, {
            annotations: false,
            key: Boolean(o.key),
            tlog: !expectations.ignoreTlog,
          }),
        );
        if (o.output === 'verdict') continue;
        const verified = verdict.signatures.filter((s) => s.ok);
        if (o.output === 'text') {
          for (const s of verified) io.stdout(new TextDecoder().decode(s.payloadBytes) + '\n');
          continue;
        }
        // cosign prints the DSSE envelope of each verified attestation, one per line.
        const { Digest } = await import('../oci/digest.js');
        const items = await listAttached(
          store,
          ref,
          Digest.parse(verdict.digest!),
          'att',
          undefined,
          attachmentFlagsFrom(o).tagPrefix,
        );
        const byCarrier = new Map(items.map((i) => [i.carrier, i]));
        for (const s of verified) {
          const item = byCarrier.get(s.carrier ?? '');
          if (item?.raw) io.stdout(new TextDecoder().decode(item.raw).trim() + '\n');
          else if (item?.envelope) io.stdout(JSON.stringify(item.envelope) + '\n');
        }
      }
    } finally {
      await Promise.all(cleanups.map((c) => c()));
    }
    await compat.finish();
    return status;
  },
};
