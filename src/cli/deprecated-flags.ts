// Deprecated cosign flags that old scripts still pass. Each is accepted with a one-line note saying what
// seal does instead, or refused with the reason — never "unknown flag" — so a script fails, when it must,
// on a message that explains itself. docs/cosign-compat.md lists each (test/cli/cosign-compat-doc.test.ts).

import { SealError } from '../errors.js';
import type { OptionSpec, OptionSpecs } from './args.js';
import type { CliIO } from './io.js';

interface Deprecated {
  spec: OptionSpec;
  /** Accepted with this note on stderr (when given), or refused with this reason. */
  note?: string;
  refuse?: string;
  /** For string flags: values accepted without a note. */
  fine?: (value: string) => boolean;
}

const DEPRECATED: Record<string, Deprecated> = {
  'insecure-skip-verify': {
    spec: {
      type: 'boolean',
      description: 'deprecated in cosign; accepted: seal checks nothing more while signing',
    },
    note: '--insecure-skip-verify changes nothing in seal (as in cosign, which ignores it)',
  },
  'issue-certificate': {
    spec: {
      type: 'boolean',
      description: 'deprecated in cosign; refused: certificates are requested keylessly only',
    },
    refuse:
      '--issue-certificate is not supported: seal asks the CA for a certificate only when signing keylessly; with --key, pass the certificate you have with --certificate',
  },
  'sign-container-identity': {
    spec: {
      type: 'string',
      description: 'deprecated in cosign; refused: the signed reference is the image named',
      placeholder: 'REF',
    },
    refuse:
      '--sign-container-identity is not supported: the docker-reference seal signs is always the repository of the image named',
  },
  replace: {
    spec: {
      type: 'boolean',
      description: 'deprecated in cosign; accepted: earlier attestations are kept (seal clean removes them)',
    },
    note: '--replace: seal keeps earlier attestations of this type (verify-attestation checks each); remove them with seal clean --type attestation',
  },
  'rekor-entry-type': {
    spec: {
      type: 'string',
      description: 'deprecated in cosign; dsse accepted, intoto refused',
      placeholder: 'TYPE',
    },
    fine: (v) => v === 'dsse',
    refuse:
      '--rekor-entry-type: seal logs attestations as dsse entries (cosign’s default); intoto entries are not written',
  },
  attachment: {
    spec: {
      type: 'string',
      description: 'deprecated in cosign; refused: attest SBOMs instead',
      placeholder: 'TYPE',
    },
    refuse:
      '--attachment is not supported: sign or verify an SBOM by attesting it (seal attest --sbom; verify-attestation --type spdxjson)',
  },
  'experimental-oci11': {
    spec: {
      type: 'boolean',
      description: 'deprecated in cosign; accepted: seal always reads OCI 1.1 referrers',
    },
    note: '--experimental-oci11 changes nothing in seal: it always reads OCI 1.1 referrers and the fallback index',
  },
  sct: {
    spec: {
      type: 'string',
      description: 'deprecated in cosign; refused: SCTs are read from the certificate',
      placeholder: 'FILE',
    },
    refuse:
      '--sct is not supported: seal reads the SCT embedded in the certificate (detached SCTs are not accepted)',
  },
  'signature-digest-algorithm': {
    spec: { type: 'string', description: 'deprecated in cosign; sha256 accepted', placeholder: 'ALG' },
    fine: (v) => v === 'sha256',
    refuse: '--signature-digest-algorithm: seal verifies signatures over sha256 digests only',
  },
  offline: {
    spec: {
      type: 'boolean',
      description: 'accepted for cosign: seal never queries the log while verifying a bundle',
    },
    note: '--offline changes nothing in seal: it checks a bundle’s log evidence offline always',
  },
  'new-bundle-format': {
    spec: {
      type: 'boolean',
      description: 'accepted for cosign: seal reads Sigstore bundles and cosign v2 blob bundles alike',
    },
    note: '--new-bundle-format changes nothing in seal: it reads Sigstore bundles and cosign v2 blob bundles alike',
  },
};

/** The deprecated cosign flags `names` as option specs, for a command's option table. */
export function deprecatedSpecs<const N extends readonly (keyof typeof DEPRECATED)[]>(
  ...names: N
): { [K in N[number]]: OptionSpec } {
  return Object.fromEntries(names.map((n) => [n, DEPRECATED[n]!.spec])) as { [K in N[number]]: OptionSpec };
}

/** Notes and refusals for the deprecated flags given on `argv` (parsed into `o`). */
export function applyDeprecated(
  argv: string[],
  o: Record<string, unknown>,
  io: CliIO,
  specs: OptionSpecs,
): void {
  for (const name of Object.keys(specs)) {
    const d = DEPRECATED[name];
    // only the flags this command took from deprecatedSpecs (its own flags of the same name handle themselves)
    if (!d || specs[name] !== d.spec || !argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`)))
      continue;
    const value = o[name];
    if (d.spec.type === 'boolean' && value === false) continue;
    if (typeof value === 'string' && d.fine?.(value)) continue;
    if (d.refuse) throw new SealError('E_INVALID_ARGUMENT', d.refuse);
    if (d.note) io.stderr(`Note: ${d.note}\n`);
  }
}
