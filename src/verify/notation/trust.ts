// Notation trust material: the trust store (`x509/{ca,signingAuthority,tsa}/<name>/*.{pem,crt,cer}`), the OCI
// trust policy (`trustpolicy.json` / `trustpolicy.oci.json`: registryScopes, signatureVerification level,
// trustStores, trustedIdentities), and the checks it drives: chain to a store root, code-signing
// certificate rules, trusted identity, signing-time and expiry (wave2-facts.md §5.5, §5.6).

import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SealError } from '../../errors.js';
import { bytesEqual } from '../../formats/der.js';
import {
  basicConstraints,
  type Certificate,
  CertificateError,
  certificatesFromPem,
  extendedKeyUsages,
  extension,
  hashForSignatureAlgorithm,
  isSignedBy,
  keyUsage,
  nameAttributes,
  OID,
  parseCertificate,
  publicKeyOf,
} from '../../formats/x509.js';
import type { EnvelopeContent } from './envelope.js';

export type VerificationLevel = 'strict' | 'permissive' | 'audit' | 'skip';
export type StoreType = 'ca' | 'signingAuthority' | 'tsa';
export type CheckAction = 'enforce' | 'log' | 'skip';

/** One resolved trust policy entry: what to check and against which roots. */
export interface NotationTrust {
  name: string;
  level: VerificationLevel;
  /** The trust-store certificates per store type (from the named stores the policy lists). */
  roots: { ca: Certificate[]; signingAuthority: Certificate[] };
  /** `'*'` or parsed `x509.subject:` distinguished names (attribute short name → value). */
  trustedIdentities: '*' | Record<string, string>[];
  overrides?: Partial<Record<'authenticity' | 'authenticTimestamp' | 'expiry' | 'revocation', CheckAction>>;
}

export interface TrustPolicyEntry {
  name: string;
  registryScopes: string[];
  level: VerificationLevel;
  overrides: NotationTrust['overrides'];
  trustStores: { type: StoreType; name: string }[];
  trustedIdentities: '*' | Record<string, string>[];
}

export interface TrustPolicyDocument {
  entries: TrustPolicyEntry[];
}

/** Trust stores: `type → name → certificates`. */
export type TrustStores = Record<StoreType, Map<string, Certificate[]>>;

const MAX_POLICY_BYTES = 1024 * 1024;
const MAX_STORE_FILE_BYTES = 1024 * 1024;
const MAX_STORE_FILES = 1000;
const MAX_STORE_CERTIFICATES = 1000;

function policyError(message: string): SealError {
  return new SealError('E_POLICY_INVALID', `notation trust policy: ${message}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const DN_NAMES: Record<string, string> = {
  '2.5.4.6': 'C',
  '2.5.4.8': 'ST',
  '2.5.4.7': 'L',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.3': 'CN',
  '1.2.840.113549.1.9.1': 'E',
  '2.5.4.5': 'SERIALNUMBER',
};

/** Parse `C=US, ST=WA, O=Acme\, Inc.` (RFC 4514-style, `\` escapes) into short name → value. */
export function parseDistinguishedName(text: string, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) {
      cur += `\\${text[++i]}`;
    } else if (c === ',' || c === ';' || c === '+') {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  for (const p of parts) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw policyError(`${what}: "${p.trim()}" is not TYPE=value`);
    let key = p.slice(0, eq).trim().toUpperCase();
    if (key === 'S') key = 'ST';
    if (key === 'EMAILADDRESS') key = 'E';
    const value = p
      .slice(eq + 1)
      .trim()
      .replace(/\\(.)/g, '$1');
    if (out[key] !== undefined) throw policyError(`${what}: ${key} appears twice`);
    out[key] = value;
  }
  return out;
}

function subjectOf(cert: Certificate): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of nameAttributes(cert.subject)) {
    const k = DN_NAMES[a.oid];
    if (k && out[k] === undefined) out[k] = a.value;
  }
  return out;
}

export function identityText(dn: Record<string, string>): string {
  return Object.entries(dn)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/** Parse `trustedIdentities`: `["*"]` or `x509.subject:` names each with C, ST and O. */
export function parseTrustedIdentities(list: unknown, what: string): '*' | Record<string, string>[] {
  if (!Array.isArray(list) || list.length === 0) throw policyError(`${what} must be a non-empty list`);
  if (list.includes('*')) {
    if (list.length !== 1) throw policyError(`${what}: "*" must be the only entry`);
    return '*';
  }
  return list.map((e, i) => {
    if (typeof e !== 'string' || !e.startsWith('x509.subject:'))
      throw policyError(`${what}[${i}] must be "*" or "x509.subject: …"`);
    const dn = parseDistinguishedName(e.slice('x509.subject:'.length), `${what}[${i}]`);
    for (const k of ['C', 'ST', 'O'])
      if (dn[k] === undefined) throw policyError(`${what}[${i}] must include C, ST (or S) and O`);
    return dn;
  });
}

const LEVELS = new Set(['strict', 'permissive', 'audit', 'skip']);

/** Parse an OCI trust policy document (version "1.0"). */
export function parseTrustPolicy(bytes: Uint8Array): TrustPolicyDocument {
  if (bytes.length > MAX_POLICY_BYTES) throw policyError(`larger than ${MAX_POLICY_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw policyError(`not JSON: ${(err as Error).message}`);
  }
  if (!isRecord(doc)) throw policyError('not a JSON object');
  if (doc.version !== '1.0') throw policyError(`version must be "1.0", not ${JSON.stringify(doc.version)}`);
  if (!Array.isArray(doc.trustPolicies) || doc.trustPolicies.length === 0)
    throw policyError('trustPolicies must be a non-empty list');
  const names = new Set<string>();
  const scopes = new Set<string>();
  const entries = doc.trustPolicies.map((p: unknown, i: number): TrustPolicyEntry => {
    const w = `trustPolicies[${i}]`;
    if (!isRecord(p)) throw policyError(`${w} is not an object`);
    if (typeof p.name !== 'string' || p.name === '') throw policyError(`${w}.name is required`);
    if (names.has(p.name)) throw policyError(`${w}.name "${p.name}" is used twice`);
    names.add(p.name);
    if (!Array.isArray(p.registryScopes) || p.registryScopes.length === 0)
      throw policyError(`${w}.registryScopes must be a non-empty list`);
    for (const s of p.registryScopes) {
      if (typeof s !== 'string') throw policyError(`${w}.registryScopes holds a non-string`);
      if (s === '*' && p.registryScopes.length !== 1)
        throw policyError(`${w}.registryScopes: "*" must stand alone`);
      if (s !== '*' && (!s.includes('/') || /[:@*]/.test(s.slice(s.indexOf('/')))))
        throw policyError(`${w}.registryScopes: "${s}" is not a fully qualified repository`);
      if (scopes.has(s)) throw policyError(`${w}.registryScopes: "${s}" appears in more than one policy`);
      scopes.add(s);
    }
    const sv = p.signatureVerification;
    if (!isRecord(sv) || typeof sv.level !== 'string' || !LEVELS.has(sv.level))
      throw policyError(`${w}.signatureVerification.level must be strict, permissive, audit or skip`);
    const level = sv.level as VerificationLevel;
    if (level === 'skip' && p.registryScopes.includes('*'))
      throw policyError(`${w}: level skip may not apply to the global scope "*"`);
    let overrides: NotationTrust['overrides'];
    if (sv.override !== undefined) {
      if (!isRecord(sv.override)) throw policyError(`${w}.signatureVerification.override is not an object`);
      overrides = {};
      for (const [k, v] of Object.entries(sv.override)) {
        if (!['authenticity', 'authenticTimestamp', 'expiry', 'revocation'].includes(k))
          throw policyError(`${w}.signatureVerification.override: unknown check "${k}"`);
        if (v !== 'enforce' && v !== 'log' && !(v === 'skip' && k === 'revocation'))
          throw policyError(`${w}.signatureVerification.override.${k}: "${String(v)}" is not allowed`);
        overrides[k as 'expiry'] = v as CheckAction;
      }
    }
    if (level === 'skip') {
      return {
        name: p.name,
        registryScopes: p.registryScopes as string[],
        level,
        overrides,
        trustStores: [],
        trustedIdentities: '*',
      };
    }
    if (!Array.isArray(p.trustStores) || p.trustStores.length === 0)
      throw policyError(`${w}.trustStores must be a non-empty list`);
    const trustStores = p.trustStores.map((s: unknown, j: number) => {
      const m = typeof s === 'string' ? /^(ca|signingAuthority|tsa):([A-Za-z0-9_.-]+)$/.exec(s) : null;
      if (!m)
        throw policyError(`${w}.trustStores[${j}] must be "ca:NAME", "signingAuthority:NAME" or "tsa:NAME"`);
      return { type: m[1] as StoreType, name: m[2]! };
    });
    const trustedIdentities = parseTrustedIdentities(p.trustedIdentities, `${w}.trustedIdentities`);
    return {
      name: p.name,
      registryScopes: p.registryScopes as string[],
      level,
      overrides,
      trustStores,
      trustedIdentities,
    };
  });
  return { entries };
}

/** The policy for `repository` (`registry/path`): an exact scope beats the global `*`; none is an error. */
export function policyFor(doc: TrustPolicyDocument, repository: string): TrustPolicyEntry {
  const names = [repository];
  // seal spells Docker Hub `index.docker.io`; notation scopes say `docker.io`.
  if (repository.startsWith('index.docker.io/'))
    names.push(`docker.io/${repository.slice('index.docker.io/'.length)}`);
  const exact = doc.entries.find((e) => e.registryScopes.some((s) => names.includes(s)));
  const found = exact ?? doc.entries.find((e) => e.registryScopes.includes('*'));
  if (!found)
    throw new SealError(
      'E_POLICY_INVALID',
      `notation trust policy: no trust policy applies to ${repository} (no registryScopes entry matches and no "*" policy)`,
    );
  return found;
}

function certificatesFromFile(bytes: Uint8Array, file: string): Certificate[] {
  const text = Buffer.from(bytes).toString('latin1');
  const ders = text.includes('-----BEGIN CERTIFICATE-----') ? certificatesFromPem(text) : [bytes];
  return ders.map((der) => {
    try {
      return parseCertificate(der);
    } catch (err) {
      if (err instanceof CertificateError)
        throw new SealError('E_CERTIFICATE_INVALID', `notation trust store: ${file}: ${err.message}`);
      throw err;
    }
  });
}

/**
 * Read the named stores `trustStores` asks for from `dir` (the notation `truststore` directory, holding
 * `x509/<type>/<name>/`). Regular files only (symlinks are refused, subdirectories ignored), bounded.
 */
export async function loadTrustStores(
  dir: string,
  wanted: { type: StoreType; name: string }[],
): Promise<TrustStores> {
  const stores: TrustStores = { ca: new Map(), signingAuthority: new Map(), tsa: new Map() };
  for (const { type, name } of wanted) {
    if (stores[type].has(name)) continue;
    const storeDir = join(dir, 'x509', type, name);
    let files: string[];
    try {
      files = (await readdir(storeDir)).sort();
    } catch {
      throw new SealError('E_IO', `notation trust store ${type}:${name}: cannot read ${storeDir}`);
    }
    if (files.length > MAX_STORE_FILES)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `notation trust store ${type}:${name}: more than ${MAX_STORE_FILES} files`,
      );
    const certs: Certificate[] = [];
    for (const f of files) {
      const path = join(storeDir, f);
      const st = await lstat(path);
      if (st.isSymbolicLink())
        throw new SealError(
          'E_INVALID_ARGUMENT',
          `notation trust store ${type}:${name}: ${f} is a symlink (refused)`,
        );
      if (!st.isFile()) continue;
      if (st.size > MAX_STORE_FILE_BYTES)
        throw new SealError(
          'E_INVALID_ARGUMENT',
          `notation trust store ${type}:${name}: ${f} is larger than 1 MiB`,
        );
      certs.push(...certificatesFromFile(new Uint8Array(await readFile(path)), `${type}:${name}/${f}`));
      if (certs.length > MAX_STORE_CERTIFICATES)
        throw new SealError(
          'E_INVALID_ARGUMENT',
          `notation trust store ${type}:${name}: more than ${MAX_STORE_CERTIFICATES} certificates`,
        );
    }
    if (certs.length === 0)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `notation trust store ${type}:${name}: ${storeDir} holds no certificates`,
      );
    stores[type].set(name, certs);
  }
  return stores;
}

/** Resolve a policy entry against loaded stores. */
export function trustFor(entry: TrustPolicyEntry, stores: TrustStores): NotationTrust {
  const roots: NotationTrust['roots'] = { ca: [], signingAuthority: [] };
  for (const s of entry.trustStores) {
    if (s.type === 'tsa') continue;
    roots[s.type].push(...(stores[s.type].get(s.name) ?? []));
  }
  return {
    name: entry.name,
    level: entry.level,
    roots,
    trustedIdentities: entry.trustedIdentities,
    ...(entry.overrides ? { overrides: entry.overrides } : {}),
  };
}

const FORBIDDEN_LEAF_EKU = new Set([
  '2.5.29.37.0',
  '1.3.6.1.5.5.7.3.1',
  '1.3.6.1.5.5.7.3.2',
  '1.3.6.1.5.5.7.3.4',
  OID.timeStamping,
]);

function certError(message: string): SealError {
  return new SealError('E_CERTIFICATE_INVALID', `notation signature: ${message}`);
}

/** The code-signing chain rules (NS signature-specification "Certificate requirements"): ordered, to a root. */
export function checkCodeSigningChain(chain: Certificate[]): void {
  const leaf = chain[0]!;
  const leafKu = extension(leaf, OID.keyUsage);
  const ku = keyUsage(leaf);
  if (!leafKu || !ku) throw certError('the signing certificate has no keyUsage extension');
  if (!leafKu.critical) throw certError('the signing certificate keyUsage is not critical');
  if (!ku.digitalSignature || ku.keyCertSign)
    throw certError('the signing certificate keyUsage must be digitalSignature (and not keyCertSign)');
  if (basicConstraints(leaf)?.isCA) throw certError('the signing certificate is a CA certificate');
  const eku = extendedKeyUsages(leaf);
  if (eku) {
    const bad = eku.find((o) => FORBIDDEN_LEAF_EKU.has(o));
    if (bad)
      throw certError(`the signing certificate extended key usage ${bad} is not allowed for code signing`);
  }
  const key = publicKeyOf(leaf);
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType === 'rsa' && (bits ?? 0) < 2048)
    throw certError('the signing RSA key is shorter than 2048 bits');
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i]!;
    if (hashForSignatureAlgorithm(cert.signatureAlgorithm) === undefined)
      throw certError(
        `certificate ${i} of the chain uses an unsupported signature algorithm ${cert.signatureAlgorithm} (SHA-1 is refused)`,
      );
    const issuer = chain[i + 1] ?? cert;
    if (!bytesEqual(cert.issuer, issuer.subject) || !isSignedBy(cert, publicKeyOf(issuer)))
      throw certError(
        i + 1 < chain.length
          ? `certificate ${i} of the chain is not issued by certificate ${i + 1} (the chain must be ordered, leaf first)`
          : 'the certificate chain does not end at a self-signed root',
      );
    if (i > 0) {
      const bc = basicConstraints(cert);
      const bcExt = extension(cert, OID.basicConstraints);
      if (!bc?.isCA || !bcExt?.critical)
        throw certError(`certificate ${i} of the chain is not a CA (critical basicConstraints cA=true)`);
      if (bc.pathLen !== undefined && bc.pathLen < i - 1)
        throw certError(`certificate ${i} of the chain: path length exceeded`);
      const caKu = keyUsage(cert);
      if (!caKu?.keyCertSign) throw certError(`certificate ${i} of the chain has no keyCertSign key usage`);
    }
  }
}

export interface CheckOutcome {
  /** Checks that failed but were only logged (permissive/audit levels and `log` overrides). */
  logged: string[];
  /** The trusted identity that matched, or `*`. */
  identity: string;
}

function actionFor(
  trust: NotationTrust,
  check: 'authenticity' | 'authenticTimestamp' | 'expiry',
): CheckAction {
  const o = trust.overrides?.[check];
  if (o) return o;
  if (trust.level === 'strict') return 'enforce';
  if (trust.level === 'permissive') return check === 'authenticity' ? 'enforce' : 'log';
  return 'log';
}

/**
 * Apply a trust policy entry to a verified envelope: authenticity (chain to a store root of the scheme's
 * type, code-signing rules, trusted identity), authentic timestamp (certificate validity at `now`, or the
 * authentic signing time for signingAuthority) and expiry, each enforced or logged per the level.
 */
export function applyTrust(env: EnvelopeContent, trust: NotationTrust, now: number): CheckOutcome {
  const logged: string[] = [];
  const run = (check: 'authenticity' | 'authenticTimestamp' | 'expiry', fn: () => void): void => {
    const action = actionFor(trust, check);
    try {
      fn();
    } catch (err) {
      if (action === 'enforce') throw err;
      logged.push(`${check}: ${(err as Error).message}`);
    }
  };
  let identity = '*';
  run('authenticity', () => {
    checkCodeSigningChain(env.chain);
    const storeType = env.scheme === 'notary.x509' ? 'ca' : 'signingAuthority';
    const roots = trust.roots[storeType];
    if (roots.length === 0)
      throw certError(
        `trust policy "${trust.name}" names no ${storeType} trust store for a ${env.scheme} signature`,
      );
    if (!env.chain.some((c) => roots.some((r) => bytesEqual(r.der, c.der))))
      throw certError(
        `the certificate chain does not lead to a certificate in the ${storeType} trust store of policy "${trust.name}"`,
      );
    if (trust.trustedIdentities !== '*') {
      const subject = subjectOf(env.chain[0]!);
      const match = trust.trustedIdentities.find((dn) =>
        Object.entries(dn).every(([k, v]) => subject[k] === v),
      );
      if (!match)
        throw new SealError(
          'E_IDENTITY_MISMATCH',
          `notation signature: the signing certificate subject "${identityText(subject)}" is not a trusted identity of policy "${trust.name}"`,
        );
      identity = `x509.subject: ${identityText(match)}`;
    }
  });
  run('authenticTimestamp', () => {
    const t = env.scheme === 'notary.x509.signingAuthority' ? env.signingTime : now;
    const which = env.scheme === 'notary.x509.signingAuthority' ? 'at the authentic signing time' : 'now';
    for (const [i, c] of env.chain.entries()) {
      // Certificate times are epoch milliseconds; envelope times epoch seconds.
      if (t * 1000 < c.notBefore || t * 1000 > c.notAfter)
        throw certError(
          `certificate ${i} of the chain is not valid ${which} (${new Date(c.notBefore).toISOString()} to ${new Date(c.notAfter).toISOString()})`,
        );
    }
  });
  run('expiry', () => {
    if (env.expiry !== undefined && now > env.expiry)
      throw new SealError(
        'E_SIGNATURE_EXPIRED',
        `notation signature: the signature expired at ${new Date(env.expiry * 1000).toISOString()}`,
      );
  });
  return { logged, identity };
}
