// `seal incident revoke (--key OLD.pub | --certificate-identity ID [--certificate-oidc-issuer ISS]) --after T
// --policy FILE`: cut a compromised signer off at T in a seal ImagePolicy file (edited in place, the rest kept
// as written); for Kyverno / ClusterImagePolicy documents print the equivalent change and write nothing.

import { readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isSealError, SealError } from '../errors.js';
import { type OptionSpecs, parseArgs } from './args.js';
import type { CommandModule } from './command.js';

/** The compromised signer, as every `seal incident` command names it: a key, or a keyless identity. */
export const compromisedSignerOptionSpecs = {
  key: {
    type: 'string',
    description: 'the compromised public key (PEM key or certificate)',
    placeholder: 'FILE',
  },
  'certificate-identity': {
    type: 'string',
    description: 'the compromised keyless identity (certificate subject)',
    placeholder: 'ID',
  },
  'certificate-oidc-issuer': {
    type: 'string',
    description: 'OIDC issuer of that identity',
    placeholder: 'URL',
  },
} as const satisfies OptionSpecs;

const options = {
  ...compromisedSignerOptionSpecs,
  after: {
    type: 'string',
    description: 'signatures logged at or after this instant are rejected (RFC 3339 or unix seconds)',
    placeholder: 'TIME',
  },
  policy: { type: 'string', description: 'policy file to edit', placeholder: 'FILE' },
  reason: { type: 'string', description: 'reason recorded with the revocation', placeholder: 'TEXT' },
  'dry-run': { type: 'boolean', description: 'print the change, do not write the file' },
} as const;

export const command: CommandModule = {
  usage:
    'seal incident revoke (--key OLD.pub | --certificate-identity ID [--certificate-oidc-issuer ISS]) --after T --policy FILE',
  summary: 'Revoke a compromised key or identity from a time on, in a policy file',
  options,
  async run(argv, io) {
    const { options: o } = parseArgs(argv, options);
    if (!o.policy) throw new SealError('E_INVALID_ARGUMENT', 'give the policy file with --policy');
    if (!o.after) throw new SealError('E_INVALID_ARGUMENT', 'give the compromise time with --after');
    if (Boolean(o.key) === Boolean(o['certificate-identity'])) {
      throw new SealError('E_INVALID_ARGUMENT', 'give exactly one of --key or --certificate-identity');
    }
    if (o.key && o['certificate-oidc-issuer']) {
      throw new SealError('E_INVALID_ARGUMENT', '--certificate-oidc-issuer goes with --certificate-identity');
    }
    const { addRevocation, revocationTime } = await import('../policy/revoke.js');
    const after = revocationTime(o.after);
    let signer: import('../policy/revoke.js').RevokedSigner;
    if (o.key) {
      const { readKeyFile } = await import('../keys/key-files.js');
      const { normalisePublicKey } = await import('../policy/keyref.js');
      let pem: string;
      try {
        pem = await readKeyFile(o.key);
      } catch (err) {
        if (isSealError(err)) throw err;
        throw new SealError('E_IO', `cannot read --key ${o.key}: ${(err as Error).message}`, { cause: err });
      }
      try {
        signer = { keyFingerprint: normalisePublicKey(pem, `--key ${o.key}`).fingerprint };
      } catch (err) {
        throw new SealError('E_INVALID_ARGUMENT', (err as Error).message, { cause: err });
      }
    } else {
      const issuer = o['certificate-oidc-issuer'];
      signer = { identity: { subject: o['certificate-identity']!, ...(issuer ? { issuer } : {}) } };
    }
    let text: string;
    let mode: number;
    try {
      text = await readFile(o.policy, 'utf8');
      mode = (await stat(o.policy)).mode & 0o7777;
    } catch (err) {
      throw new SealError('E_IO', `cannot read ${o.policy}: ${(err as Error).message}`, { cause: err });
    }
    const baseDir = dirname(o.policy);
    const outcome = addRevocation(
      text,
      { signer, after, ...(o.reason ? { reason: o.reason } : {}) },
      { name: o.policy, baseDir },
    );
    for (const n of outcome.notes) io.stdout(`${n}\n`);
    if (outcome.changed > 0) {
      // The edited file must still load as policy before it replaces the old one.
      const { loadPolicyTexts } = await import('../policy/load.js');
      loadPolicyTexts([{ name: o.policy, text: outcome.text, baseDir }], { env: io.env });
      if (o['dry-run']) {
        io.stdout(outcome.text);
        io.stderr(`dry run: ${o.policy} not written\n`);
      } else {
        const { writeFileAtomic } = await import('../keys/key-files.js');
        await writeFileAtomic(o.policy, outcome.text, mode);
        io.stderr(`${o.policy}: ${outcome.changed} policy document(s) updated\n`);
      }
    } else if (outcome.manual > 0) {
      io.stderr(`${o.policy} not modified: apply the changes above by hand\n`);
    }
    return 0;
  },
};
