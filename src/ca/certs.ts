// Short-lived code-signing certificates and the CA hierarchy (root + intermediate) that issues them:
// Fulcio's certificate profile (docs/certificate-specification.md, docs/oid-info.md) and RFC 6962 precerts.

import { createHash, createPublicKey, randomBytes, sign, webcrypto } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isSealError, SealError } from '../errors.js';
import { readKeyFile } from '../keys/key-files.js';
import type { Signer } from '../keys/types.js';
import { type CtLog, encodeSctListExtension, OID_CT_POISON, OID_CT_SCT_LIST } from './ctlog.js';
import {
  bitString,
  DER_NULL,
  DER_TRUE,
  encodeOid,
  encodeTlv,
  explicit,
  octetString,
  sequence,
  spkiPublicKeyBits,
  subjectNameOf,
  unsignedInteger,
  utf8String,
  x509Time,
} from './der.js';
import { type EcKey, loadOrCreateEcKey } from './keyfile.js';
import { x509 } from './x509.js';

export const OID_FULCIO_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
export const OID_FULCIO_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';
export const OID_CODE_SIGNING = '1.3.6.1.5.5.7.3.3';

/** One Sigstore OID extension; `.1`–`.6` carry raw string bytes, `.8` and later a DER UTF8String. */
export interface SigstoreExtension {
  oid: string;
  value: string;
}

/** What goes into a leaf certificate about its holder. */
export interface CertificateIdentity {
  /** The token's issuer URL: extensions .1 and .8. */
  issuer: string;
  san: { type: 'email' | 'uri'; value: string };
  /** CI claims and the token subject (.2–.6, .9–.24); the issuer extensions are added by the CA. */
  extensions: SigstoreExtension[];
}

/** Encoding rule of docs/oid-info.md: arcs 1–6 are raw bytes, 7 is a SAN type, 8+ DER UTF8String. */
export function encodeSigstoreExtension(ext: SigstoreExtension): x509.Extension {
  const arc = Number(ext.oid.split('.').at(-1));
  const raw = arc <= 6 ? new TextEncoder().encode(ext.value) : utf8String(ext.value);
  return new x509.Extension(ext.oid, false, raw);
}

const lastArc = (oid: string) => Number(oid.split('.').at(-1));

export interface CaFiles {
  rootKey: string;
  rootCert: string;
  intermediateKey: string;
  intermediateCert: string;
}

export function caFiles(dir: string): CaFiles {
  return {
    rootKey: join(dir, 'root.key.pem'),
    rootCert: join(dir, 'root.crt.pem'),
    intermediateKey: join(dir, 'intermediate.key.pem'),
    intermediateCert: join(dir, 'intermediate.crt.pem'),
  };
}

/** Whole seconds: X.509 times have no sub-second part, and verifiers compare log times in seconds. */
const floorToSecond = (d: Date) => new Date(Math.floor(d.getTime() / 1000) * 1000);

function randomSerialHex(): string {
  const bytes = randomBytes(20);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01; // positive, 160 bits, never a leading zero byte
  return bytes.toString('hex');
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readKeyFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (isSealError(err)) throw err;
    throw new SealError('E_IO', `cannot read ${path}`, { cause: err });
  }
}

const YEAR_MS = 365 * 24 * 3600 * 1000;

/** The key that signs leaf certificates: a PEM file in the CA directory, or any Signer (a PKCS#11 token). */
export interface IssuingKey {
  /** DER SubjectPublicKeyInfo. */
  spki: Uint8Array;
  /** The hash of its ECDSA signatures (SHA-256 for P-256, SHA-384 for P-384). */
  hash: 'SHA-256' | 'SHA-384';
  /** ECDSA (DER) over `tbs`, hashed with `hash`. */
  sign(tbs: Uint8Array): Promise<Uint8Array>;
}

export interface CaHierarchy {
  root: x509.X509Certificate;
  intermediate: x509.X509Certificate;
  intermediateKey: IssuingKey;
}

function issuingKeyOfFile(key: EcKey): IssuingKey {
  const digest = key.hash === 'SHA-384' ? 'sha384' : 'sha256';
  return {
    spki: key.spki,
    hash: key.hash,
    sign: async (tbs) => new Uint8Array(sign(digest, tbs, key.privateKey)),
  };
}

/** A Signer as the CA's issuing key: ECDSA P-256 or P-384 only, as Fulcio's intermediates. */
export function issuingKeyOfSigner(signer: Signer): IssuingKey {
  if (signer.algorithm !== 'ecdsa-p256-sha256' && signer.algorithm !== 'ecdsa-p384-sha384') {
    throw new SealError(
      'E_KEY_UNSUPPORTED',
      `the CA's issuing key must be ECDSA P-256 or P-384, not ${signer.algorithm}`,
    );
  }
  const spki = new Uint8Array(createPublicKey(signer.publicKeyPem()).export({ type: 'spki', format: 'der' }));
  return {
    spki,
    hash: signer.algorithm === 'ecdsa-p384-sha384' ? 'SHA-384' : 'SHA-256',
    sign: (tbs) => signer.sign(tbs),
  };
}

async function verifyingCryptoKey(key: IssuingKey): Promise<webcrypto.CryptoKey> {
  const namedCurve = key.hash === 'SHA-384' ? 'P-384' : 'P-256';
  return webcrypto.subtle.importKey('spki', key.spki, { name: 'ECDSA', namedCurve }, true, ['verify']);
}

/**
 * Load the CA hierarchy from `dir`, creating what is missing: P-384 keys (as the public-good Fulcio)
 * and certificates for a self-signed root and an intermediate (pathLen 0, EKU codeSigning).
 */
export async function loadOrCreateCaHierarchy(
  dir: string,
  opts: {
    organization?: string;
    commonName?: string;
    /**
     * The issuing key, e.g. in a PKCS#11 token, instead of `intermediate.key.pem`. The root (a file key) certifies
     * it when no intermediate certificate exists yet; after that the root key is needed no more.
     */
    intermediateSigner?: Signer;
  } = {},
): Promise<CaHierarchy> {
  const files = caFiles(dir);
  const org = opts.organization ?? 'seal';
  const cn = opts.commonName ?? 'seal';
  const rootKey = await loadOrCreateEcKey(files.rootKey, 'P-384');
  const intermediateKey = opts.intermediateSigner
    ? issuingKeyOfSigner(opts.intermediateSigner)
    : issuingKeyOfFile(await loadOrCreateEcKey(files.intermediateKey, 'P-384'));
  const intermediatePublic = await verifyingCryptoKey(intermediateKey);
  const signingAlgorithm = { name: 'ECDSA', hash: 'SHA-384' };

  let rootPem = await readIfExists(files.rootCert);
  let root: x509.X509Certificate;
  if (rootPem) {
    root = new x509.X509Certificate(rootPem);
  } else {
    const notBefore = floorToSecond(new Date());
    root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerialHex(),
      name: `O=${org}, CN=${cn}-root`,
      notBefore,
      notAfter: new Date(notBefore.getTime() + 10 * YEAR_MS),
      keys: rootKey.cryptoKeys,
      signingAlgorithm,
      extensions: [
        new x509.BasicConstraintsExtension(true, 1, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(rootKey.cryptoKeys.publicKey),
      ],
    });
    rootPem = root.toString('pem');
    await writeFile(files.rootCert, `${rootPem}\n`);
  }
  if (!Buffer.from(root.publicKey.rawData).equals(Buffer.from(rootKey.spki))) {
    throw new SealError('E_KEY_INVALID', `${files.rootCert} does not belong to the key in ${files.rootKey}`);
  }

  const intermediatePem = await readIfExists(files.intermediateCert);
  let intermediate: x509.X509Certificate;
  if (intermediatePem) {
    intermediate = new x509.X509Certificate(intermediatePem);
  } else {
    intermediate = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerialHex(),
      subject: `O=${org}, CN=${cn}-intermediate`,
      issuer: root.subjectName,
      notBefore: root.notBefore,
      notAfter: root.notAfter,
      publicKey: intermediatePublic,
      signingKey: rootKey.cryptoKeys.privateKey,
      signingAlgorithm,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        new x509.ExtendedKeyUsageExtension([OID_CODE_SIGNING], false),
        await x509.SubjectKeyIdentifierExtension.create(intermediatePublic),
        await x509.AuthorityKeyIdentifierExtension.create(rootKey.cryptoKeys.publicKey),
      ],
    });
    await writeFile(files.intermediateCert, `${intermediate.toString('pem')}\n`);
  }
  if (!Buffer.from(intermediate.publicKey.rawData).equals(Buffer.from(intermediateKey.spki))) {
    throw new SealError(
      'E_KEY_INVALID',
      opts.intermediateSigner
        ? `${files.intermediateCert} certifies another key than the CA key given: move it away to have the root certify this key (certificates issued under the old one then stop verifying against the new trusted root)`
        : `${files.intermediateCert} does not belong to ${files.intermediateKey}`,
    );
  }
  return { root, intermediate, intermediateKey };
}

export interface IssuedCertificate {
  certificate: x509.X509Certificate;
  /** The signed precertificate (poison extension) that was logged, when a CT log is configured. */
  precertificate?: x509.X509Certificate;
  /** CT log index of the precert entry. */
  ctIndex?: bigint;
}

export interface LeafOptions {
  /** Validity in seconds (Fulcio: 600). */
  validitySec?: number;
  now?: Date;
}

/**
 * Issue a leaf code-signing certificate for `subjectPublicKey` (DER SPKI). With a CT log the precert
 * flow runs: sign a poisoned precert, log its TBS (minus poison) for an SCT, then sign the final
 * certificate with the same fields and the SCT list extension in the poison's place.
 */
const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID_ECDSA_SHA384 = '1.2.840.10045.4.3.3';
const OID_KEY_USAGE = '2.5.29.15';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_SUBJECT_KEY_ID = '2.5.29.14';
const OID_AUTHORITY_KEY_ID = '2.5.29.35';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';

const extension = (oid: string, critical: boolean, value: Uint8Array) =>
  sequence(encodeOid(oid), ...(critical ? [DER_TRUE] : []), octetString(value));

/** The issuer-side parts of every leaf, computed once per intermediate. */
const issuerParts = new WeakMap<
  CaHierarchy,
  { name: Uint8Array; aki: Uint8Array; sigAlg: Uint8Array; digest: string }
>();

function issuerPartsOf(ca: CaHierarchy) {
  let parts = issuerParts.get(ca);
  if (!parts) {
    const ski = ca.intermediate.getExtension(x509.SubjectKeyIdentifierExtension);
    const keyId = ski
      ? new Uint8Array(Buffer.from(ski.keyId, 'hex'))
      : new Uint8Array(createHash('sha1').update(spkiPublicKeyBits(ca.intermediateKey.spki)).digest());
    const sha384 = ca.intermediateKey.hash === 'SHA-384';
    parts = {
      name: subjectNameOf(new Uint8Array(ca.intermediate.rawData)),
      aki: extension(OID_AUTHORITY_KEY_ID, false, sequence(encodeTlv(0x80, keyId))),
      sigAlg: sequence(encodeOid(sha384 ? OID_ECDSA_SHA384 : OID_ECDSA_SHA256)),
      digest: sha384 ? 'sha384' : 'sha256',
    };
    issuerParts.set(ca, parts);
  }
  return parts;
}

/**
 * Issue a leaf code-signing certificate for `subjectPublicKey` (DER SPKI). With a CT log the precert
 * flow runs: sign a poisoned precert, log its TBS (minus poison) for an SCT, then sign the final
 * certificate with the same fields and the SCT list extension in the poison's place. The DER is built
 * here (RFC 5280 §4.1) so the precert and final TBS differ only in that last extension, by construction.
 */
export async function issueLeafCertificate(
  ca: CaHierarchy,
  ctlog: CtLog | undefined,
  identity: CertificateIdentity,
  subjectPublicKey: Uint8Array,
  opts: LeafOptions = {},
): Promise<IssuedCertificate> {
  const notBefore = floorToSecond(opts.now ?? new Date());
  const notAfter = new Date(notBefore.getTime() + (opts.validitySec ?? 600) * 1000);
  const issuer = issuerPartsOf(ca);
  const sigstoreExts: SigstoreExtension[] = [
    { oid: OID_FULCIO_ISSUER_V1, value: identity.issuer },
    { oid: OID_FULCIO_ISSUER_V2, value: identity.issuer },
    ...identity.extensions.filter((e) => e.oid !== OID_FULCIO_ISSUER_V1 && e.oid !== OID_FULCIO_ISSUER_V2),
  ].sort((a, b) => lastArc(a.oid) - lastArc(b.oid));
  const sanName = encodeTlv(
    identity.san.type === 'email' ? 0x81 : 0x86,
    new TextEncoder().encode(identity.san.value),
  );
  const ski = new Uint8Array(createHash('sha1').update(spkiPublicKeyBits(subjectPublicKey)).digest());
  const extensions: Uint8Array[] = [
    extension(OID_KEY_USAGE, true, Uint8Array.of(0x03, 0x02, 0x07, 0x80)), // digitalSignature
    extension(OID_EXT_KEY_USAGE, false, sequence(encodeOid(OID_CODE_SIGNING))),
    extension(OID_SUBJECT_KEY_ID, false, octetString(ski)),
    issuer.aki,
    // The subject is empty, so the SAN is critical (RFC 5280 §4.2.1.6).
    extension(OID_SUBJECT_ALT_NAME, true, sequence(sanName)),
    ...sigstoreExts.map((e) => extension(e.oid, false, sigstoreExtensionValue(e))),
  ];
  const serial = randomBytes(20);
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive, 160 bits
  const tbsWith = (last: Uint8Array[]) =>
    sequence(
      explicit(0, Uint8Array.of(0x02, 0x01, 0x02)), // v3
      unsignedInteger(serial),
      issuer.sigAlg,
      issuer.name,
      sequence(x509Time(notBefore), x509Time(notAfter)),
      sequence(), // empty subject
      subjectPublicKey,
      explicit(3, sequence(...extensions, ...last)),
    );
  const signCert = async (tbs: Uint8Array) =>
    sequence(tbs, issuer.sigAlg, bitString(await ca.intermediateKey.sign(tbs)));
  if (!ctlog) return { certificate: new x509.X509Certificate(await signCert(tbsWith([]))) };

  const precertDer = await signCert(tbsWith([extension(OID_CT_POISON, true, DER_NULL)]));
  const tbs = tbsWith([]);
  const sct = await ctlog.addPrecertificate(ca.intermediateKey.spki, tbs);
  const certDer = await signCert(
    tbsWith([extension(OID_CT_SCT_LIST, false, encodeSctListExtension([sct.sct]))]),
  );
  return {
    certificate: new x509.X509Certificate(certDer),
    precertificate: new x509.X509Certificate(precertDer),
    ctIndex: sct.index,
  };
}

function sigstoreExtensionValue(ext: SigstoreExtension): Uint8Array {
  return lastArc(ext.oid) <= 6 ? new TextEncoder().encode(ext.value) : utf8String(ext.value);
}

/** SHA-256 of a DER SubjectPublicKeyInfo (RFC 6962 issuer_key_hash / log IDs). */
export const spkiHash = (spki: Uint8Array) => new Uint8Array(createHash('sha256').update(spki).digest());
