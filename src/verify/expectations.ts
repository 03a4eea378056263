// The rule that verification always pins who may have signed: "someone signed this" is not verification.

import { SealError } from '../errors.js';
import { compileRe2 } from './bundle/identity.js';
import type { Expectations } from './types.js';

/**
 * Refuse "someone signed this": verification must pin a key or an identity (with its issuer). Empty strings
 * count as absent. Identity regexps are RE2 as in cosign: UNANCHORED (`alice@example.com` also matches
 * `evil-alice@example.com.attacker`), so policies should anchor them (`^…$`); exact values compare exactly.
 */
export function assertPinned(expectations: Expectations): void {
  const keys = expectations.keys ?? [];
  const identities = expectations.identities ?? [];
  if (keys.length === 0 && identities.length === 0) {
    throw new SealError(
      'E_EXPECTATIONS_MISSING',
      'verification needs expectations: a --key, or --certificate-identity[-regexp] with --certificate-oidc-issuer[-regexp]',
    );
  }
  for (const id of identities) {
    if (!id.subject && !id.subjectRegExp) {
      throw new SealError(
        'E_EXPECTATIONS_MISSING',
        'keyless verification needs --certificate-identity or --certificate-identity-regexp',
      );
    }
    if (!id.issuer && !id.issuerRegExp) {
      throw new SealError(
        'E_EXPECTATIONS_MISSING',
        'keyless verification needs --certificate-oidc-issuer or --certificate-oidc-issuer-regexp',
      );
    }
    for (const re of [id.subjectRegExp, id.issuerRegExp]) {
      if (re === undefined) continue;
      try {
        compileRe2(re);
      } catch (err) {
        throw new SealError(
          'E_INVALID_ARGUMENT',
          `invalid identity regexp /${re}/: ${(err as Error).message}`,
        );
      }
    }
  }
}
