// `seal promote SRC DST --policy DIR (--key K | keyless flags)`: verify a vendor image against seal policies
// (the evaluator `seal policy test` and the webhook use), copy it with its signatures and attestations, and
// attest with your own identity a SLSA Verification Summary (https://slsa.dev/verification_summary/v1) on
// the copy; what fails the policies is not promoted, and the reasons are printed.

import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { SealError } from '../errors.js';
import { parseArgs } from './args.js';
import { command as attestCommand } from './attest.js';
import type { OptionSpec } from './args.js';
import type { CommandModule } from './command.js';
import { registryOptionSpecs, registryOptionsFrom } from './common.js';
import { command as copyCommand } from './copy.js';
import type { CliIO } from './io.js';
import { runCommand } from './run.js';

const own = {
  policy: {
    type: 'strings',
    short: 'p',
    description: 'seal/Kyverno/policy-controller policy file or directory the image must pass (repeatable)',
    placeholder: 'PATH',
  },
  'verifier-id': {
    type: 'string',
    default: 'https://seal.dev/promote',
    description: "the VSA's verifier.id: who vouches (pin it with verify-attestation --verifier-id)",
    placeholder: 'URI',
  },
  'policy-uri': {
    type: 'string',
    description: "the VSA's policy.uri (default: the --policy paths as file: URIs)",
    placeholder: 'URI',
  },
  'verified-level': {
    type: 'strings',
    description:
      'a SLSA level the policies establish, e.g. SLSA_BUILD_LEVEL_3 (repeatable; VSA verifiedLevels)',
    placeholder: 'LEVEL',
  },
} as const;

// attest's own flags (key, keyless, signing services, registry) are promote's too, minus what promote decides
const attestOptions = attestCommand.options as Record<string, OptionSpec>;
const NOT_PASSED = new Set([
  'predicate',
  'statement',
  'type',
  'sbom',
  'sbom-format',
  'provenance',
  'platform',
  'policy',
]);
const passthrough = Object.fromEntries(Object.entries(attestOptions).filter(([k]) => !NOT_PASSED.has(k)));
const options = { ...passthrough, ...registryOptionSpecs, ...own } as const;

/** Re-render parsed flags as argv for another command (only those set to other than their default). */
function argvOf(o: Record<string, unknown>, specs: Record<string, OptionSpec>): string[] {
  const out: string[] = [];
  for (const [name, spec] of Object.entries(specs)) {
    const v = o[name];
    if (v === undefined || v === spec.default) continue;
    if (Array.isArray(v)) for (const x of v) out.push(`--${name}=${String(x)}`);
    else if (typeof v === 'boolean') out.push(v ? `--${name}` : `--${name}=false`);
    else out.push(`--${name}=${String(v)}`);
  }
  return out;
}

/** sha256 over the policy files: the JSON object {path relative to its --policy argument: sha256 of the file}. */
async function policyDigest(paths: string[], cwd: string): Promise<string> {
  const files: Record<string, string> = {};
  const walk = async (base: string, p: string): Promise<void> => {
    const s = await stat(p);
    if (s.isDirectory()) {
      for (const e of (await readdir(p)).sort()) await walk(base, join(p, e));
    } else {
      const rel = relative(base, p) || p;
      files[rel] = createHash('sha256')
        .update(await readFile(p))
        .digest('hex');
    }
  };
  for (const p of paths) {
    const abs = resolve(cwd, p);
    const s = await stat(abs).catch(() => undefined);
    if (!s) throw new SealError('E_IO', `cannot read --policy ${p}`);
    await walk(s.isDirectory() ? abs : resolve(abs, '..'), abs);
  }
  const sorted = Object.fromEntries(Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1)));
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex');
}

interface VerifiedAttestation {
  /** The image as the evaluator verified it (`repo@sha256:…`). */
  image: string;
  source: import('../verify/types.js').SignatureResult['source'];
  /** The referrer manifest's digest (bundle), or the `.att` layer's (legacy). */
  carrier: string;
}

/**
 * The VSA's inputAttestations (SLSA VSA v1: ResourceDescriptors of the attestations verification used): a
 * bundle referrer as `repo@<referrer manifest digest>` with that digest; a legacy attestation as its `.att` tag
 * with the digest of its layer (the DSSE envelope). Where they were verified (SRC); the copy keeps the digests.
 * One entry per attestation, sorted, however many policies or authorities verified it.
 */
async function inputAttestations(
  verified: VerifiedAttestation[],
  imageDigest: string,
): Promise<import('../provenance/vsa.js').ResourceDescriptorV1[]> {
  const [{ parseReference, repositoryName }, { attestationTag }] = await Promise.all([
    import('../oci/ref.js'),
    import('../formats/cosign.js'),
  ]);
  const out = new Map<string, import('../provenance/vsa.js').ResourceDescriptorV1>();
  for (const v of verified) {
    const m = /^(sha256|sha512):([0-9a-f]+)$/.exec(v.carrier);
    if (!m) continue; // only content-addressed carriers name an attestation
    const repo = repositoryName(parseReference(v.image));
    const uri =
      v.source === 'bundle-referrer' ? `${repo}@${v.carrier}` : `${repo}:${attestationTag(imageDigest)}`;
    out.set(`${uri} ${v.carrier}`, { uri, digest: { [m[1]!]: m[2]! } });
  }
  return [...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, d]) => d);
}

async function sub(cmd: CommandModule, args: string[], io: CliIO, what: string): Promise<string> {
  let out = '';
  let err = '';
  const code = await runCommand(cmd, args, {
    ...io,
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
    },
  });
  if (code !== 0)
    throw new SealError('E_INTERNAL', `${what} failed: ${err.trim().split('\n').pop() ?? code}`);
  io.stderr(err);
  return out;
}

export const command: CommandModule = {
  usage:
    'seal promote SRC DST --policy PATH... (--key KEY | keyless flags) [--verifier-id URI] [--verified-level L]',
  summary:
    'Verify an image against policies, copy it with its attachments, and attest a SLSA VSA on the copy',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (positionals.length !== 2) throw new SealError('E_INVALID_ARGUMENT', 'seal promote takes SRC and DST');
    if (o.policy.length === 0) throw new SealError('E_INVALID_ARGUMENT', 'seal promote needs --policy');
    const [src, dst] = positionals as [string, string];
    const [{ loadPolicyFiles }, { workloadsFromYaml, evaluateManifests }, verifierMod] = await Promise.all([
      import('../policy/load.js'),
      import('../admission/manifests.js'),
      import('../admission/verifier.js'),
    ]);
    const policies = await loadPolicyFiles(o.policy, { env: io.env });
    for (const w of policies.warnings ?? []) io.stderr(`warning: ${w}\n`);
    await verifierMod.checkPolicyTrust(policies);
    const trustedRoot = (o as Record<string, unknown>)['trusted-root'];
    const trust = await (await import('./tuf-cache.js')).trustedRootFor(
      typeof trustedRoot === 'string' ? trustedRoot : undefined,
      io.env,
    );
    const registry = registryOptionsFrom(o, { io });
    // The image as a pod would run it: the same evaluation the webhook and `seal policy test` make.
    const pod = `apiVersion: v1\nkind: Pod\nmetadata: {name: seal-promote, namespace: default}\nspec:\n  containers:\n  - {name: image, image: ${JSON.stringify(src)}}\n`;
    const workloads = workloadsFromYaml(pod, 'seal promote', 'default', policies.policies);
    // Every attestation a policy verified, for the VSA's inputAttestations: the verifier the evaluator uses,
    // with its verified attestation verdicts noted on the way out.
    const base = verifierMod.storeVerifier({ registry, trust });
    const verifiedAttestations: VerifiedAttestation[] = [];
    const verifier: typeof base = {
      ...base,
      verifyAttestations: async (image, expectations, ctx) => {
        const verdict = await base.verifyAttestations(image, expectations, ctx);
        if (verdict.ok) {
          for (const s of verdict.signatures)
            if (s.ok && s.carrier) verifiedAttestations.push({ image, source: s.source, carrier: s.carrier });
        }
        return verdict;
      },
    };
    const [result] = await evaluateManifests(workloads, policies, verifier);
    const d = result?.decision;
    if (!d || d.noMatch) {
      throw new SealError(
        'E_POLICY_DENIED',
        `not promoted: no policy in ${o.policy.join(', ')} matches ${src}`,
      );
    }
    if (d.result !== 'allow' || !d.digest) {
      const reasons = [d.reason, ...d.outcomes.filter((x) => !x.ok).map((x) => `${x.policy}: ${x.message}`)];
      throw new SealError('E_POLICY_DENIED', `not promoted: ${[...new Set(reasons)].join('; ')}`);
    }
    io.stderr(`verified ${src} (${d.digest}): ${d.reason}\n`);

    const registryArgs = argvOf(o, registryOptionSpecs as Record<string, OptionSpec>);
    const repoOf = (r: string) => r.replace(/@sha256:[0-9a-f]{64}$/, '').replace(/:[^/:]+$/, '');
    const srcByDigest = `${repoOf(src)}@${d.digest}`;
    await sub(copyCommand, [...registryArgs, srcByDigest, dst], io, `copy ${src} to ${dst}`);
    const dstByDigest = `${repoOf(dst)}@${d.digest}`;

    const { buildVsa } = await import('../provenance/vsa.js');
    const { sealVersion } = await import('../sbom/tool.js');
    const predicate = buildVsa({
      verifierId: o['verifier-id'] ?? 'https://seal.dev/promote',
      verifierVersion: { seal: sealVersion() },
      time: new Date(),
      resourceUri: srcByDigest,
      policy: {
        uri: o['policy-uri'] ?? o.policy.map((p) => `file://${resolve(io.cwd, p)}`).join(' '),
        digest: { sha256: await policyDigest(o.policy, io.cwd) },
      },
      inputAttestations: await inputAttestations(verifiedAttestations, d.digest),
      passed: true,
      verifiedLevels: o['verified-level'],
    });
    const dir = await mkdtemp(join(tmpdir(), 'seal-promote-'));
    try {
      const file = join(dir, 'vsa.json');
      await writeFile(file, JSON.stringify(predicate));
      const args = [
        ...argvOf(o, passthrough),
        '--yes',
        '--predicate',
        file,
        '--type',
        'https://slsa.dev/verification_summary/v1',
        dstByDigest,
      ];
      await sub(attestCommand, [...new Set(args)], io, `attest the VSA on ${dstByDigest}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    io.stdout(`${dstByDigest}\n`);
    return 0;
  },
};
