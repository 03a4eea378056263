// X.509 certificates as the verifier and the log need them: fields and extensions read with the DER walker,
// signatures checked with node:crypto (RFC 5280 §4.1, §4.2; Fulcio OIDs per sigstore-servers.md §4).

import { createPublicKey, type JsonWebKey, type KeyObject, verify as cryptoVerify } from 'node:crypto';
import {
  bitStringBytes,
  bytesEqual,
  bytesOf,
  childrenOf,
  contentOf,
  DerError,
  decodeTime,
  encodeTlv,
  expectTlv,
  oidOf,
  readRoot,
  readTlv,
  TAG,
  type Tlv,
} from './der.js';

export const OID = {
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  sctList: '1.3.6.1.4.1.11129.2.4.2',
  ctPoison: '1.3.6.1.4.1.11129.2.4.3',
  fulcioIssuerV1: '1.3.6.1.4.1.57264.1.1',
  fulcioIssuerV2: '1.3.6.1.4.1.57264.1.8',
  fulcioOtherNameSan: '1.3.6.1.4.1.57264.1.7',
} as const;

export interface Extension {
  oid: string;
  critical: boolean;
  /** Content of the extnValue OCTET STRING. */
  value: Uint8Array;
  /** Element bounds of the whole Extension inside the certificate DER. */
  tlv: Tlv;
}

export interface Certificate {
  der: Uint8Array;
  /** The TBSCertificate element (header included): what the issuer signed. */
  tbs: Uint8Array;
  tbsTlv: Tlv;
  signatureAlgorithm: string;
  signature: Uint8Array;
  serial: Uint8Array;
  /** DER of the issuer and subject Names, compared byte-wise for chaining. */
  issuer: Uint8Array;
  subject: Uint8Array;
  notBefore: number;
  notAfter: number;
  spki: Uint8Array;
  extensions: Extension[];
  /** The extensions element ([3]) bounds inside `der`, when present. */
  extensionsTlv?: Tlv;
}

export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateError';
  }
}

/** Parse a DER certificate. Throws CertificateError for anything malformed. */
export function parseCertificate(der: Uint8Array): Certificate {
  try {
    const root = readRoot(der, TAG.SEQUENCE);
    const [tbsT, algT, sigT] = childrenOf(der, root);
    if (!tbsT || !algT || !sigT) throw new DerError('certificate needs tbs, algorithm and signature');
    const fields = childrenOf(der, expectTlv(der, tbsT.start, TAG.SEQUENCE));
    let i = 0;
    if (fields[0]?.tag === 0xa0) i++;
    const serialT = fields[i++];
    i++; // signature algorithm inside the TBS (checked equal to the outer one below)
    const innerAlg = fields[i - 1];
    const issuerT = fields[i++];
    const validityT = fields[i++];
    const subjectT = fields[i++];
    const spkiT = fields[i++];
    if (!serialT || !innerAlg || !issuerT || !validityT || !subjectT || !spkiT)
      throw new DerError('TBSCertificate is short');
    if (
      serialT.tag !== TAG.INTEGER ||
      issuerT.tag !== TAG.SEQUENCE ||
      subjectT.tag !== TAG.SEQUENCE ||
      spkiT.tag !== TAG.SEQUENCE
    ) {
      throw new DerError('TBSCertificate fields have unexpected types');
    }
    if (!bytesEqual(bytesOf(der, innerAlg), bytesOf(der, algT)))
      throw new DerError('inner and outer signature algorithms differ');
    const [nb, na] = childrenOf(der, validityT);
    if (!nb || !na) throw new DerError('validity needs two times');
    const extensions: Extension[] = [];
    let extensionsTlv: Tlv | undefined;
    for (; i < fields.length; i++) {
      const f = fields[i]!;
      if (f.tag !== 0xa3) continue;
      extensionsTlv = f;
      const seq = expectTlv(der, f.contentStart, TAG.SEQUENCE, f.end);
      for (const e of childrenOf(der, seq)) {
        const parts = childrenOf(der, e);
        const oid = oidOf(der, parts[0]!);
        let critical = false;
        let valueT = parts[1];
        if (valueT?.tag === TAG.BOOLEAN) {
          critical = der[valueT.contentStart] !== 0;
          valueT = parts[2];
        }
        if (!valueT || valueT.tag !== TAG.OCTET_STRING) throw new DerError(`extension ${oid} has no value`);
        if (extensions.some((x) => x.oid === oid))
          throw new DerError(`extension ${oid} appears twice (RFC 5280 §4.2)`);
        extensions.push({ oid, critical, value: contentOf(der, valueT), tlv: e });
      }
    }
    const algId = childrenOf(der, algT);
    return {
      der,
      tbs: bytesOf(der, tbsT),
      tbsTlv: tbsT,
      signatureAlgorithm: oidOf(der, algId[0]!),
      signature: bitStringBytes(der, sigT),
      serial: contentOf(der, serialT),
      issuer: bytesOf(der, issuerT),
      subject: bytesOf(der, subjectT),
      notBefore: decodeTime(der, nb),
      notAfter: decodeTime(der, na),
      spki: bytesOf(der, spkiT),
      extensions,
      ...(extensionsTlv ? { extensionsTlv } : {}),
    };
  } catch (err) {
    if (err instanceof DerError) throw new CertificateError(`certificate does not parse: ${err.message}`);
    throw err;
  }
}

export function extension(cert: Certificate, oid: string): Extension | undefined {
  for (const e of cert.extensions) if (e.oid === oid) return e;
  return undefined;
}

const keyCache = new WeakMap<Certificate, KeyObject>();

// The one DER encoding each of these keys has (RFC 5480 §2 with the uncompressed point, RFC 8410 §4).
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex');
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

const startsWith = (b: Uint8Array, prefix: Uint8Array): boolean =>
  Buffer.from(b.buffer, b.byteOffset, prefix.length).equals(prefix);
const b64url = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url');

/**
 * A P-256 or Ed25519 SPKI as the JWK of the same key, for keys in their one DER form; undefined for any other.
 * OpenSSL 3's SPKI decoder (createPublicKey from DER) costs about two P-256 verifications, and a bundle's leaf
 * certificate brings a new key every time; the JWK import reaches the curve code directly in half the time
 * (Ed25519: a tenth). It checks no less: the P-256 point must be on the curve (and is checked to have the
 * group's order, which the DER path does not do). P-384 keeps the decoder: there the order check costs more than
 * the decoding it saves.
 */
export function jwkOfSpki(spki: Uint8Array): JsonWebKey | undefined {
  if (spki.length === P256_SPKI_PREFIX.length + 64 && startsWith(spki, P256_SPKI_PREFIX)) {
    const at = P256_SPKI_PREFIX.length;
    return {
      kty: 'EC',
      crv: 'P-256',
      x: b64url(spki.subarray(at, at + 32)),
      y: b64url(spki.subarray(at + 32)),
    };
  }
  if (spki.length === ED25519_SPKI_PREFIX.length + 32 && startsWith(spki, ED25519_SPKI_PREFIX)) {
    return { kty: 'OKP', crv: 'Ed25519', x: b64url(spki.subarray(ED25519_SPKI_PREFIX.length)) };
  }
  return undefined;
}

/** The certificate's public key, imported once per parsed certificate. Throws CertificateError. */
export function publicKeyOf(cert: Certificate): KeyObject {
  let key = keyCache.get(cert);
  if (!key) {
    const jwk = jwkOfSpki(cert.spki);
    if (jwk) {
      try {
        key = createPublicKey({ key: jwk, format: 'jwk' });
      } catch {
        // refused (a point off the curve): the decoder below refuses it too, and says why in OpenSSL's words
      }
    }
    try {
      key ??= createPublicKey({
        key: Buffer.from(cert.spki.buffer, cert.spki.byteOffset, cert.spki.byteLength),
        format: 'der',
        type: 'spki',
      });
    } catch (err) {
      throw new CertificateError(`certificate public key is not supported: ${(err as Error).message}`);
    }
    keyCache.set(cert, key);
  }
  return key;
}

/** Node digest name for an X.509 signature algorithm OID; null for Ed25519; undefined when unsupported. */
const EC_CURVES: Record<string, { curve: string; bytes: number }> = {
  '1.2.840.10045.3.1.7': { curve: 'prime256v1', bytes: 32 },
  '1.3.132.0.34': { curve: 'secp384r1', bytes: 48 },
  '1.3.132.0.35': { curve: 'secp521r1', bytes: 66 },
};

/**
 * The curve (OpenSSL name) and uncompressed SEC1 point of an id-ecPublicKey SubjectPublicKeyInfo on a named curve
 * (RFC 5480 §2), or undefined for any other key. Only the encoding is checked here, not that the point is on the
 * curve: whoever uses the point must check that.
 */
export function ecPublicPoint(spki: Uint8Array): { curve: string; point: Uint8Array } | undefined {
  try {
    const [algT, bitsT] = childrenOf(spki, readRoot(spki, TAG.SEQUENCE));
    if (!algT || !bitsT || algT.tag !== TAG.SEQUENCE || bitsT.tag !== TAG.BIT_STRING) return undefined;
    const [oidT, paramT] = childrenOf(spki, algT);
    if (!oidT || !paramT || oidT.tag !== TAG.OID || paramT.tag !== TAG.OID) return undefined;
    if (oidOf(spki, oidT) !== '1.2.840.10045.2.1') return undefined;
    const named = EC_CURVES[oidOf(spki, paramT)];
    if (!named) return undefined;
    const point = bitStringBytes(spki, bitsT);
    if (point.length !== 1 + 2 * named.bytes || point[0] !== 0x04) return undefined;
    return { curve: named.curve, point };
  } catch {
    return undefined;
  }
}

export function hashForSignatureAlgorithm(oid: string): string | null | undefined {
  switch (oid) {
    case '1.2.840.10045.4.3.2':
    case '1.2.840.113549.1.1.11':
      return 'sha256';
    case '1.2.840.10045.4.3.3':
    case '1.2.840.113549.1.1.12':
      return 'sha384';
    case '1.2.840.10045.4.3.4':
    case '1.2.840.113549.1.1.13':
      return 'sha512';
    case '1.3.101.112':
      return null;
    default:
      return undefined;
  }
}

/** Is `cert` signed by `issuerKey`? (native crypto; never throws) */
export function isSignedBy(cert: Certificate, issuerKey: KeyObject): boolean {
  const hash = hashForSignatureAlgorithm(cert.signatureAlgorithm);
  if (hash === undefined) return false;
  try {
    return cryptoVerify(hash, cert.tbs, issuerKey, cert.signature);
  } catch {
    return false;
  }
}

export interface BasicConstraints {
  isCA: boolean;
  pathLen?: number;
}

export function basicConstraints(cert: Certificate): BasicConstraints | undefined {
  const ext = extension(cert, OID.basicConstraints);
  if (!ext) return undefined;
  const v = ext.value;
  const seq = readRoot(v, TAG.SEQUENCE);
  let isCA = false;
  let pathLen: number | undefined;
  for (const c of childrenOf(v, seq)) {
    if (c.tag === TAG.BOOLEAN) isCA = v[c.contentStart] !== 0;
    else if (c.tag === TAG.INTEGER) {
      pathLen = 0;
      for (let k = c.contentStart; k < c.end; k++) pathLen = pathLen * 256 + v[k]!;
    }
  }
  return pathLen === undefined ? { isCA } : { isCA, pathLen };
}

/** Extended key usage OIDs, or undefined when the extension is absent. */
export function extendedKeyUsages(cert: Certificate): string[] | undefined {
  const ext = extension(cert, OID.extKeyUsage);
  if (!ext) return undefined;
  const v = ext.value;
  return childrenOf(v, readRoot(v, TAG.SEQUENCE)).map((c) => oidOf(v, c));
}

const OID_ANY_EKU = '2.5.29.37.0';

/**
 * What keeps a TSA chain (leaf first) from being a timestamping chain, or undefined when it is one: the leaf
 * is no CA and carries exactly one extended key usage, timeStamping, marked critical (RFC 3161 §2.3); every
 * other certificate is a CA whose EKU, when present, allows timeStamping (sigstore timestamp-authority
 * pkg/x509, sigstore-go's TSA verifier; wave2-facts.md §1.3, §1.4).
 */
export function timestampingChainProblem(chain: Certificate[]): string | undefined {
  const leaf = chain[0];
  if (!leaf) return 'the TSA certificate chain is empty';
  if (basicConstraints(leaf)?.isCA) return 'the TSA signing certificate is a CA certificate';
  const eku = extension(leaf, OID.extKeyUsage);
  if (!eku) return 'the TSA signing certificate has no extended key usage (timeStamping is required)';
  const usages = extendedKeyUsages(leaf)!;
  if (usages.length !== 1 || usages[0] !== OID.timeStamping) {
    return `the TSA signing certificate's extended key usage is ${usages.join(', ') || 'empty'}, not timeStamping alone`;
  }
  if (!eku.critical) return "the TSA signing certificate's timeStamping extended key usage is not critical";
  for (const cert of chain.slice(1)) {
    if (!basicConstraints(cert)?.isCA) return 'a certificate above the TSA signing certificate is not a CA';
    const u = extendedKeyUsages(cert);
    if (u && !u.includes(OID.timeStamping) && !u.includes(OID_ANY_EKU)) {
      return 'an intermediate of the TSA chain has an extended key usage without timeStamping';
    }
  }
  return undefined;
}

/** keyUsage bit `digitalSignature` (bit 0) and `keyCertSign` (bit 5); undefined when absent. */
export function keyUsage(cert: Certificate): { digitalSignature: boolean; keyCertSign: boolean } | undefined {
  const ext = extension(cert, OID.keyUsage);
  if (!ext) return undefined;
  const v = ext.value;
  const t = readRoot(v, TAG.BIT_STRING);
  const first = t.end - t.contentStart > 1 ? v[t.contentStart + 1]! : 0;
  return { digitalSignature: (first & 0x80) !== 0, keyCertSign: (first & 0x04) !== 0 };
}

export interface SubjectAltNames {
  uris: string[];
  emails: string[];
  dns: string[];
  /** OtherName values (Fulcio's username SAN, OID 1.3.6.1.4.1.57264.1.7), as UTF-8 text. */
  otherNames: string[];
}

const latin1 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
const utf8 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

export function subjectAltNames(cert: Certificate): SubjectAltNames {
  const out: SubjectAltNames = { uris: [], emails: [], dns: [], otherNames: [] };
  const ext = extension(cert, OID.subjectAltName);
  if (!ext) return out;
  const v = ext.value;
  for (const gn of childrenOf(v, readRoot(v, TAG.SEQUENCE))) {
    switch (gn.tag) {
      case 0x81:
        out.emails.push(latin1(contentOf(v, gn)));
        break;
      case 0x82:
        out.dns.push(latin1(contentOf(v, gn)));
        break;
      case 0x86:
        out.uris.push(latin1(contentOf(v, gn)));
        break;
      case 0xa0: {
        // OtherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY } with the SEQUENCE tag implicit.
        const parts = childrenOf(v, gn);
        if (parts.length === 2 && parts[1]!.tag === 0xa0) {
          const inner = readTlv(v, parts[1]!.contentStart, parts[1]!.end);
          if (inner.tag === TAG.UTF8_STRING) out.otherNames.push(utf8(contentOf(v, inner)));
        }
        break;
      }
    }
  }
  return out;
}

/**
 * A Fulcio extension as text: .1–.6 hold the raw value bytes, .8 and later a DER UTF8String
 * (sigstore-servers.md §4 "OID extensions").
 */
export function fulcioExtensionText(cert: Certificate, oid: string): string | undefined {
  const ext = extension(cert, oid);
  if (!ext) return undefined;
  const arc = Number(oid.split('.').pop());
  if (oid.startsWith('1.3.6.1.4.1.57264.1.') && arc >= 8) {
    const t = readRoot(ext.value);
    if (t.tag !== TAG.UTF8_STRING) throw new CertificateError(`extension ${oid} is not a UTF8String`);
    return utf8(contentOf(ext.value, t));
  }
  return utf8(ext.value);
}

/** The OIDC issuer: whichever of .1.1 (raw) and .1.8 (UTF8String) appears later in the certificate (cosign.md §2e). */
export function oidcIssuer(cert: Certificate): string | undefined {
  let found: string | undefined;
  for (const e of cert.extensions) {
    if (e.oid === OID.fulcioIssuerV1) found = utf8(e.value);
    else if (e.oid === OID.fulcioIssuerV2) found = fulcioExtensionText(cert, OID.fulcioIssuerV2);
  }
  return found;
}

/** The TBSCertificate re-encoded without the extension `oid` (RFC 6962 §3.2 precertificate TBS). */
export function tbsWithoutExtension(cert: Certificate, oid: string): Uint8Array {
  const der = cert.der;
  const extT = cert.extensionsTlv;
  if (!extT) return cert.tbs;
  const kept = cert.extensions.filter((e) => e.oid !== oid).map((e) => bytesOf(der, e.tlv));
  const before = der.subarray(cert.tbsTlv.contentStart, extT.start);
  const after = der.subarray(extT.end, cert.tbsTlv.end);
  const newExt = kept.length > 0 ? encodeTlv(0xa3, encodeTlv(TAG.SEQUENCE, ...kept)) : new Uint8Array(0);
  return encodeTlv(TAG.SEQUENCE, before, newExt, after);
}

const PEM_CERT_BEGIN = '-----BEGIN CERTIFICATE-----';
const PEM_CERT_END = '-----END CERTIFICATE-----';

/**
 * Certificates from PEM text (trust bundles, cosign's certificate annotations, log submissions). A linear
 * scan: a lazy `BEGIN([\s\S]*?)END` regexp rescans the rest of the text from every BEGIN that has no END,
 * quadratic in a hostile annotation (4 MiB of BEGIN lines kept the event loop busy for minutes).
 */
export function certificatesFromPem(pem: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = pem.indexOf(PEM_CERT_BEGIN);
  while (at >= 0) {
    const bodyStart = at + PEM_CERT_BEGIN.length;
    const end = pem.indexOf(PEM_CERT_END, bodyStart);
    if (end < 0) break; // no END after this BEGIN, so none after any later BEGIN either
    out.push(new Uint8Array(Buffer.from(pem.slice(bodyStart, end).replace(/\s+/g, ''), 'base64')));
    at = pem.indexOf(PEM_CERT_BEGIN, end + PEM_CERT_END.length);
  }
  return out;
}

/** The attributes of a DER Name (issuer or subject), in order: `{ oid, value }` with the value as text. */
export function nameAttributes(name: Uint8Array): { oid: string; value: string }[] {
  const out: { oid: string; value: string }[] = [];
  try {
    const root = readRoot(name, TAG.SEQUENCE);
    for (const rdn of childrenOf(name, root)) {
      for (const atv of childrenOf(name, rdn)) {
        const [oidT, valueT] = childrenOf(name, atv);
        if (!oidT || !valueT) throw new DerError('attribute needs a type and a value');
        out.push({ oid: oidOf(name, oidT), value: Buffer.from(contentOf(name, valueT)).toString('utf8') });
      }
    }
  } catch (err) {
    if (err instanceof DerError) throw new CertificateError(`name does not parse: ${err.message}`);
    throw err;
  }
  return out;
}

/** The first commonName (2.5.4.3) and organizationName (2.5.4.10) of a DER Name. */
export function nameParts(name: Uint8Array): { commonName?: string; organization?: string } {
  const attrs = nameAttributes(name);
  const cn = attrs.find((a) => a.oid === '2.5.4.3')?.value;
  const o = attrs.find((a) => a.oid === '2.5.4.10')?.value;
  return { ...(cn !== undefined ? { commonName: cn } : {}), ...(o !== undefined ? { organization: o } : {}) };
}
