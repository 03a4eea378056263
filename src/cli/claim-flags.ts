// The verify flags that pin Fulcio CI claims (certificate extensions .9–.24, formats/fulcio-claims.ts), shared
// by verify, verify-attestation, verify-blob, verify-blob-attestation and verify-bundle. Small on purpose:
// verify-bundle loads it at start.

import { FULCIO_CLAIMS, type FulcioClaimFlag } from '../formats/fulcio-claims.js';

/**
 * seal's flags pinning any Fulcio CI claim (extensions .9–.24, e.g. GitLab's project and ref), where cosign has
 * only the GitHub ones: `--certificate-source-repository-uri`, `--certificate-build-trigger`, …
 */
export const certificateClaimOptionSpecs = Object.fromEntries(
  FULCIO_CLAIMS.map((c) => [
    c.flag,
    {
      type: 'string',
      description: `expected ${c.label} (Fulcio extension ${c.oid}), exact`,
      placeholder: 'S',
    },
  ]),
) as Record<FulcioClaimFlag, { type: 'string'; description: string; placeholder: string }>;
