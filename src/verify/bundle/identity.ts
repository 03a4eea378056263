// Keyless identity policy: SAN selection, exact/regexp subject and issuer, GitHub workflow claims
// (cosign.md §2e, sigstore-go certificate_identity.go semantics; Fulcio OIDs per sigstore-servers.md §4).

import type { ErrorCode } from '../../errors.js';
import type { IdentityExpectation } from '../types.js';
import { contentOf, readRoot, TAG } from '../../formats/der.js';
import { FULCIO_CLAIMS } from '../../formats/fulcio-claims.js';
import { type Certificate, oidcIssuer, subjectAltNames } from '../../formats/x509.js';

export interface CertificateIdentity {
  /** The SAN that identifies the signer: first URI, else first email, else first OtherName. */
  san?: string;
  issuer?: string;
  /** Fulcio extensions 1.3.6.1.4.1.57264.1.* present in the certificate, as text, by OID. */
  extensions: Record<string, string>;
  /**
   * Fulcio claim extensions (.9–.24) that are present but have no canonical value, by OID, with the reason:
   * not a DER UTF8String, or not valid UTF-8. Pinning one is refused.
   */
  unreadable?: Record<string, string>;
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A claim extension's canonical value: the DER UTF8String's content, strictly decoded. */
function claimText(value: Uint8Array): string {
  let t: ReturnType<typeof readRoot>;
  try {
    t = readRoot(value);
  } catch (err) {
    throw new Error(`is not DER (${(err as Error).message})`);
  }
  if (t.tag !== TAG.UTF8_STRING) throw new Error(`is not a DER UTF8String (tag 0x${t.tag.toString(16)})`);
  try {
    return STRICT_UTF8.decode(contentOf(value, t));
  } catch {
    throw new Error('is not valid UTF-8');
  }
}

const FULCIO_ARC = '1.3.6.1.4.1.57264.1.';
const CLAIM_OIDS = new Set(FULCIO_CLAIMS.map((c) => c.oid));
const utf8 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

export function certificateIdentity(cert: Certificate): CertificateIdentity {
  const sans = subjectAltNames(cert);
  const san = sans.uris[0] ?? sans.emails[0] ?? sans.otherNames[0];
  // One pass over the extensions: the Fulcio ones as text in certificate order, then the claim extensions
  // (.9–.24) in the claim table's order, each strictly read (the parser refuses an extension that appears
  // twice, RFC 5280 §4.2).
  const extensions: Record<string, string> = {};
  const claims = new Map<string, Uint8Array>();
  for (const e of cert.extensions) {
    if (!e.oid.startsWith(FULCIO_ARC)) continue;
    if (CLAIM_OIDS.has(e.oid)) {
      claims.set(e.oid, e.value);
      continue;
    }
    if (Number(e.oid.slice(e.oid.lastIndexOf('.') + 1)) < 8) {
      extensions[e.oid] = utf8(e.value); // .1–.7 hold the raw value bytes
      continue;
    }
    try {
      const t = readRoot(e.value);
      if (t.tag === TAG.UTF8_STRING) extensions[e.oid] = utf8(contentOf(e.value, t));
    } catch {
      // A malformed optional extension is left out; the issuer below is read strictly.
    }
  }
  const unreadable: Record<string, string> = {};
  for (const claim of claims.size > 0 ? FULCIO_CLAIMS : []) {
    const value = claims.get(claim.oid);
    if (value === undefined) continue;
    try {
      extensions[claim.oid] = claimText(value);
    } catch (err) {
      unreadable[claim.oid] = (err as Error).message;
    }
  }
  const issuer = oidcIssuer(cert);
  return {
    ...(san !== undefined ? { san } : {}),
    ...(issuer !== undefined ? { issuer } : {}),
    extensions,
    ...(Object.keys(unreadable).length > 0 ? { unreadable } : {}),
  };
}

/**
 * Go RE2 → JavaScript RegExp. Both are unanchored by default. Translated: a leading `(?flags)` group
 * (i, m, s → JS flags), `\A` and `\z` anchors. Not translated (rejected by RegExp or different):
 * RE2 flag groups in mid-pattern, `(?U)`, POSIX classes `[[:alpha:]]`, `\Q…\E` literals; JS-only
 * features (lookaround, backreferences) are accepted here although RE2 refuses them.
 */
export function compileRe2(pattern: string): RegExp {
  let flags = '';
  let body = pattern;
  const lead = /^\(\?([ims]+)\)/.exec(body);
  if (lead) {
    flags = [...new Set(lead[1]!.split(''))].join('');
    body = body.slice(lead[0].length);
  }
  // Only an unescaped `\A`/`\z` is an anchor (`\\A` is a literal backslash and `A`). `\A` is the start of
  // the text even under (?m), where JS `^` would also match after every newline.
  body = body.replace(/(?<!\\)((?:\\\\)*)\\([Az])/g, (_m, even: string, which: string) =>
    which === 'A' ? `${even}(?<![\\s\\S])` : `${even}(?![\\s\\S])`,
  );
  return new RegExp(body, flags);
}

export interface IdentityFailure {
  code: ErrorCode;
  message: string;
  expected: unknown;
  found: unknown;
}

const GITHUB_CLAIMS: [keyof IdentityExpectation, string, string][] = [
  ['githubWorkflowTrigger', '1.3.6.1.4.1.57264.1.2', 'GitHub workflow trigger'],
  ['githubWorkflowSha', '1.3.6.1.4.1.57264.1.3', 'GitHub workflow SHA'],
  ['githubWorkflowName', '1.3.6.1.4.1.57264.1.4', 'GitHub workflow name'],
  ['githubWorkflowRepository', '1.3.6.1.4.1.57264.1.5', 'GitHub workflow repository'],
  ['githubWorkflowRef', '1.3.6.1.4.1.57264.1.6', 'GitHub workflow ref'],
];

function matches(value: string | undefined, exact: string | undefined, re: string | undefined): boolean {
  if (value === undefined) return false;
  if (exact !== undefined && value !== exact) return false;
  if (re !== undefined && !compileRe2(re).test(value)) return false;
  return true;
}

/** Check one expectation; undefined when it matches. */
export function checkIdentity(
  id: CertificateIdentity,
  want: IdentityExpectation,
): IdentityFailure | undefined {
  // Empty strings count as absent (as cosign's flag check does): an empty regexp would match anyone.
  if (!want.subject && !want.subjectRegExp) {
    return {
      code: 'E_EXPECTATIONS_MISSING',
      message: 'an identity expectation needs a subject or subject regexp',
      expected: want,
      found: id.san,
    };
  }
  if (!want.issuer && !want.issuerRegExp) {
    return {
      code: 'E_EXPECTATIONS_MISSING',
      message: 'an identity expectation needs an issuer or issuer regexp',
      expected: want,
      found: id.issuer,
    };
  }
  for (const re of [want.subjectRegExp, want.issuerRegExp]) {
    if (re === undefined) continue;
    try {
      compileRe2(re);
    } catch (err) {
      return {
        code: 'E_INVALID_ARGUMENT',
        message: `invalid identity regexp /${re}/: ${(err as Error).message}`,
        expected: re,
        found: undefined,
      };
    }
  }
  if (!matches(id.san, want.subject, want.subjectRegExp)) {
    return {
      code: 'E_IDENTITY_MISMATCH',
      message: `certificate identity "${id.san ?? '(none)'}" does not match ${want.subject !== undefined ? `"${want.subject}"` : ''}${want.subject !== undefined && want.subjectRegExp !== undefined ? ' and ' : ''}${want.subjectRegExp !== undefined ? `/${want.subjectRegExp}/` : ''}`,
      expected: want.subject ?? want.subjectRegExp,
      found: id.san,
    };
  }
  if (!matches(id.issuer, want.issuer, want.issuerRegExp)) {
    return {
      code: 'E_ISSUER_MISMATCH',
      message: `certificate OIDC issuer "${id.issuer ?? '(none)'}" does not match ${want.issuer !== undefined ? `"${want.issuer}"` : `/${want.issuerRegExp}/`}`,
      expected: want.issuer ?? want.issuerRegExp,
      found: id.issuer,
    };
  }
  for (const [field, oid, label] of GITHUB_CLAIMS) {
    const expected = want[field];
    if (expected === undefined) continue;
    if (id.extensions[oid] !== expected) {
      return {
        code: 'E_IDENTITY_MISMATCH',
        message: `${label} "${id.extensions[oid] ?? '(none)'}" is not "${expected}"`,
        expected,
        found: id.extensions[oid],
      };
    }
  }
  for (const claim of FULCIO_CLAIMS) {
    const expected = want.extensions?.[claim.name];
    if (expected === undefined) continue;
    const problem = id.unreadable?.[claim.oid];
    if (problem !== undefined) {
      return {
        code: 'E_CERTIFICATE_INVALID',
        message: `the certificate's ${claim.label} extension (${claim.oid}) ${problem}: it cannot be compared with "${expected}"`,
        expected,
        found: problem,
      };
    }
    const found = id.extensions[claim.oid];
    if (found === undefined) {
      return {
        code: 'E_IDENTITY_MISMATCH',
        message: `the certificate has no ${claim.label} extension (${claim.oid}); "${expected}" was required`,
        expected,
        found: null,
      };
    }
    if (found !== expected) {
      return {
        code: 'E_IDENTITY_MISMATCH',
        message: `${claim.label} "${found}" is not "${expected}"`,
        expected,
        found,
      };
    }
  }
  return undefined;
}
