// Public keys named in policies: inline PEM, a file path, or `env://VAR`; and the fingerprint used to
// name a key in revocations (sha256 of the SPKI DER, hex). Implements docs/policy.md ("Authorities").

import { createHash, createPublicKey } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { isSealError, SealError } from '../errors.js';
import { readKeyFileSync } from '../keys/key-files.js';

export interface ResolvedKey {
  pem: string;
  fingerprint: string;
  source: string;
}

/** Normalise a PEM public key (or an X.509 certificate's key) and fingerprint it; E_POLICY_INVALID if it is not one. */
export function normalisePublicKey(text: string, where: string, source = 'inline'): ResolvedKey {
  try {
    const key = createPublicKey(text.trim());
    if (key.type !== 'public') throw new Error('not a public key');
    const der = key.export({ type: 'spki', format: 'der' });
    const pem = key.export({ type: 'spki', format: 'pem' }).toString();
    return { pem, fingerprint: createHash('sha256').update(der).digest('hex'), source };
  } catch (err) {
    throw new SealError('E_POLICY_INVALID', `${where}: not a PEM public key (${(err as Error).message})`, {
      cause: err,
    });
  }
}

/**
 * Resolve a key reference: PEM text, `env://VAR` (PEM in an environment variable) or a file path
 * (relative to the policy file's directory). Loading happens once, when the policy is loaded.
 */
export function resolveKeyRef(
  ref: string,
  where: string,
  opts: { baseDir?: string; env?: NodeJS.ProcessEnv } = {},
): ResolvedKey {
  const text = ref.trim();
  if (text.startsWith('-----BEGIN')) return normalisePublicKey(text, where);
  if (text.startsWith('env://')) {
    const name = text.slice('env://'.length);
    const value = (opts.env ?? process.env)[name];
    if (value === undefined || value === '') {
      throw new SealError(
        'E_POLICY_INVALID',
        `${where}: environment variable ${name} (from ${text}) is not set`,
      );
    }
    return normalisePublicKey(value, where, text);
  }
  if (/^[a-z0-9]+:\/\//i.test(text)) {
    throw new SealError(
      'E_POLICY_INVALID',
      `${where}: key reference "${text}" uses an unsupported scheme (KMS keys are not supported; use PEM, a file or env://)`,
    );
  }
  const path = isAbsolute(text) ? text : resolve(opts.baseDir ?? process.cwd(), text);
  let pem: string;
  try {
    pem = readKeyFileSync(path);
  } catch (err) {
    if (isSealError(err)) throw err;
    throw new SealError(
      'E_POLICY_INVALID',
      `${where}: cannot read key file ${path}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return normalisePublicKey(pem, where, path);
}

/** Fingerprint of a key given as PEM, or a hex fingerprint as written (revocations accept both). */
export function keyFingerprint(keyOrFingerprint: string, where: string): string {
  const t = keyOrFingerprint.trim();
  if (/^(sha256:)?[0-9a-f]{64}$/i.test(t)) return t.replace(/^sha256:/i, '').toLowerCase();
  return normalisePublicKey(t, where).fingerprint;
}
