// Public keys named in policies: inline PEM, a file path, or `env://VAR`; and the fingerprint used to
// name a key in revocations (sha256 of the SPKI DER, hex). Implements docs/policy.md ("Authorities").

import { createHash, createPublicKey } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { isSealError, SealError } from '../errors.js';
import { readKeyFileSync } from '../keys/key-files.js';
import { isKmsUri, parseKmsUri } from '../keys/kms/uri.js';

export interface ResolvedKey {
  pem: string;
  fingerprint: string;
  source: string;
  kms?: undefined;
}

/**
 * A key held in a cloud KMS, named by its URI: fetched when an image first needs it (loading a policy needs no
 * network), through keys/kms's bounded, cached fetch.
 */
export interface KmsPolicyKey {
  kms: string;
  source: string;
  pem?: undefined;
  fingerprint?: undefined;
}

/** A key an authority trusts: resolved at load, or a KMS key resolved at first use. */
export type PolicyKey = ResolvedKey | KmsPolicyKey;

/**
 * A KMS key reference in a policy (`key.kms`, `keys.kms`). The scheme must be one seal talks to; `awskms://`
 * references are parsed at load, as policy-controller validates them, the others when the key is first used
 * (policy-controller too: its KMS client parses them when it verifies).
 */
export function kmsPolicyKey(uri: string, where: string, opts: { awsArnOnly?: boolean } = {}): KmsPolicyKey {
  const text = uri.trim();
  if (!isKmsUri(text))
    throw new SealError(
      'E_POLICY_INVALID',
      `${where}: "${text.slice(0, 200)}" is not a KMS key URI (awskms://, gcpkms://, azurekms://, hashivault://)`,
    );
  if (text.startsWith('awskms://')) {
    let ref: ReturnType<typeof parseKmsUri>;
    try {
      ref = parseKmsUri(text);
    } catch (err) {
      throw new SealError('E_POLICY_INVALID', `${where}: ${(err as Error).message}`, { cause: err });
    }
    // policy-controller (validateAWSKMS) takes only a key or alias ARN, and an endpoint as host:port: the
    // other forms need the region from the environment.
    if (opts.awsArnOnly && ref.provider === 'awskms') {
      if (!ref.keyId.startsWith('arn:'))
        throw new SealError(
          'E_POLICY_INVALID',
          `${where}: "${text}" must name the key by its key or alias ARN (awskms://[HOST:PORT]/arn:aws:kms:REGION:ACCOUNT:key/ID), as policy-controller requires`,
        );
      if (ref.endpoint !== undefined && !/:\d+$/.test(ref.endpoint))
        throw new SealError('E_POLICY_INVALID', `${where}: the endpoint in "${text}" must be HOST:PORT`);
    }
  }
  return { kms: text, source: text };
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
      `${where}: key reference "${text}" uses an unsupported scheme (use PEM, a file, env:// or, where a key is checked, a KMS URI: awskms://, gcpkms://, azurekms://, hashivault://)`,
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
