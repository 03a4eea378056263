// `seal verify-bundle`: verify one Sigstore bundle for a file or `sha256:<hex>` digest, with the flags of the
// sigstore-conformance CLI protocol (verify-bundle) plus cosign's identity/issuer regexp and GitHub claim flags.

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isSealError, SealError } from '../errors.js';
import { readKeyFile } from '../keys/key-files.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { certificateClaimOptionSpecs } from './claim-flags.js';

const options = {
  bundle: { type: 'string', description: 'the Sigstore bundle to verify', placeholder: 'FILE' },
  key: { type: 'string', description: 'PEM public key the bundle must be signed with', placeholder: 'FILE' },
  'certificate-identity': {
    type: 'string',
    description: 'expected certificate identity (SAN)',
    placeholder: 'ID',
  },
  'certificate-identity-regexp': {
    type: 'string',
    description: 'regexp the identity must match',
    placeholder: 'RE',
  },
  'certificate-oidc-issuer': { type: 'string', description: 'expected OIDC issuer', placeholder: 'URL' },
  'certificate-oidc-issuer-regexp': {
    type: 'string',
    description: 'regexp the issuer must match',
    placeholder: 'RE',
  },
  'certificate-github-workflow-trigger': {
    type: 'string',
    description: 'expected GitHub workflow trigger',
    placeholder: 'S',
  },
  'certificate-github-workflow-sha': {
    type: 'string',
    description: 'expected GitHub workflow SHA',
    placeholder: 'S',
  },
  'certificate-github-workflow-name': {
    type: 'string',
    description: 'expected GitHub workflow name',
    placeholder: 'S',
  },
  'certificate-github-workflow-repository': {
    type: 'string',
    description: 'expected GitHub repository',
    placeholder: 'S',
  },
  'certificate-github-workflow-ref': { type: 'string', description: 'expected GitHub ref', placeholder: 'S' },
  ...certificateClaimOptionSpecs,
  'trusted-root': {
    type: 'string',
    description: 'trusted_root.json (default: Sigstore public good)',
    placeholder: 'FILE',
  },
  staging: {
    type: 'boolean',
    description: 'use the Sigstore staging instance (needs --trusted-root offline)',
  },
  'insecure-ignore-tlog': {
    type: 'boolean',
    description: 'accept a bundle without transparency-log evidence',
  },
  'insecure-ignore-sct': { type: 'boolean', description: 'accept a certificate without an embedded SCT' },
  output: { type: 'string', short: 'o', description: 'text (default) or json', placeholder: 'FORMAT' },
} as const;

const DIGEST_ARG = /^sha256:[0-9a-fA-F]{64}$/;

export const command: CommandModule = {
  usage:
    'seal verify-bundle --bundle FILE (--certificate-identity ID --certificate-oidc-issuer URL | --key KEY) [--trusted-root FILE] FILE_OR_DIGEST',
  summary: 'Verify a Sigstore bundle for a file or sha256 digest',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (!o.bundle) throw new SealError('E_INVALID_ARGUMENT', 'verify-bundle needs --bundle FILE');
    if (positionals.length !== 1)
      throw new SealError('E_INVALID_ARGUMENT', 'verify-bundle needs exactly one FILE_OR_DIGEST');
    const keyless =
      o['certificate-identity'] !== undefined ||
      o['certificate-identity-regexp'] !== undefined ||
      o['certificate-oidc-issuer'] !== undefined ||
      o['certificate-oidc-issuer-regexp'] !== undefined;
    if (o.key && keyless)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        '--key cannot be combined with --certificate-identity/--certificate-oidc-issuer',
      );
    const claimFlag = Object.keys(certificateClaimOptionSpecs).find(
      (f) => o[f as keyof typeof certificateClaimOptionSpecs] !== undefined,
    );
    if (o.key && claimFlag)
      throw new SealError('E_INVALID_ARGUMENT', `--key cannot be combined with --${claimFlag}`);
    if (!o.key) {
      if (o['certificate-identity'] === undefined && o['certificate-identity-regexp'] === undefined) {
        throw new SealError(
          'E_EXPECTATIONS_MISSING',
          'keyless verification needs --certificate-identity or --certificate-identity-regexp (or use --key)',
        );
      }
      if (o['certificate-oidc-issuer'] === undefined && o['certificate-oidc-issuer-regexp'] === undefined) {
        throw new SealError(
          'E_EXPECTATIONS_MISSING',
          'keyless verification needs --certificate-oidc-issuer or --certificate-oidc-issuer-regexp',
        );
      }
    }
    if (o.staging && !o['trusted-root']) {
      throw new SealError(
        'E_INVALID_ARGUMENT',
        'seal embeds only the public-good trusted root: pass the staging trusted_root.json with --trusted-root',
      );
    }

    // Loaded here, not at the top: `seal --help` and other commands never pay for the verifier.
    const [{ verifyBundle }, trustMod] = await Promise.all([
      import('../verify/bundle/verify.js'),
      import('../verify/trust.js'),
    ]);
    const cwd = io.cwd;
    const target = positionals[0]!;
    const readText = async (p: string, what: string, read = (f: string) => readFile(f, 'utf8')) => {
      try {
        return await read(resolve(cwd, p));
      } catch (cause) {
        if (isSealError(cause)) throw cause;
        throw new SealError('E_IO', `cannot read ${what} ${p}: ${(cause as Error).message}`, { cause });
      }
    };

    const [bundleText, trust, keyPem] = await Promise.all([
      readText(o.bundle, 'the bundle'),
      o['trusted-root']
        ? trustMod.loadTrustedRootFile(resolve(cwd, o['trusted-root']))
        : trustMod.publicGoodTrustedRoot(),
      o.key ? readText(o.key, 'the public key', readKeyFile) : Promise.resolve(undefined),
    ]);
    let bundle: unknown;
    try {
      bundle = JSON.parse(bundleText);
    } catch (cause) {
      throw new SealError(
        'E_BUNDLE_INVALID',
        `the bundle ${o.bundle} is not JSON: ${(cause as Error).message}`,
        { cause },
      );
    }

    // The protocol: a well-formed sha256 digest that is not a file on disk is a digest; anything else a path.
    let artifact: import('../verify/bundle/verify.js').BundleArtifact;
    if (DIGEST_ARG.test(target) && !(await fileExists(resolve(cwd, target)))) {
      artifact = { kind: 'digest', algorithm: 'sha256', hex: target.slice('sha256:'.length).toLowerCase() };
    } else {
      try {
        artifact = { kind: 'bytes', bytes: new Uint8Array(await readFile(resolve(cwd, target))) };
      } catch (cause) {
        throw new SealError('E_IO', `cannot read the artifact ${target}: ${(cause as Error).message}`, {
          cause,
        });
      }
    }

    const policy: import('../verify/bundle/verify.js').BundlePolicy = {
      ignoreTlog: o['insecure-ignore-tlog'],
      ignoreSct: o['insecure-ignore-sct'],
    };
    if (keyPem !== undefined) {
      const { loadPublicKey } = await import('../keys/public-key.js');
      policy.keys = [loadPublicKey(keyPem)];
    } else {
      const { identityFromFlags } = await import('./verify-common.js');
      const id = identityFromFlags(o);
      policy.identities = [id];
    }

    const result = verifyBundle(bundle, artifact, policy, trust);
    if (o.output === 'json') {
      const { dssePayload, ...rest } = result;
      io.stdout(
        `${JSON.stringify({ ...rest, ...(dssePayload ? { dssePayload: Buffer.from(dssePayload).toString('base64') } : {}) }, null, 2)}\n`,
      );
    }
    if (!result.ok) throw new SealError(result.code ?? 'E_INTERNAL', result.message);
    io.stderr('Verified OK\n');
    return 0;
  },
};

async function fileExists(path: string): Promise<boolean> {
  const { stat } = await import('node:fs/promises');
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
