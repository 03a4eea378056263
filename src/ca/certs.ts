// Short-lived code-signing certificates and the CA hierarchy (root + intermediate) that issues them:
// Fulcio's certificate profile (docs/certificate-specification.md, docs/oid-info.md) and RFC 6962 precerts.

import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SealError } from '../errors.js';
import { type CtLog, encodeSctListExtension, OID_CT_POISON, OID_CT_SCT_LIST } from './ctlog.js';
import { DER_NULL, removeExtension, tbsOf, utf8String } from './der.js';
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
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SealError('E_IO', `cannot read ${path}`, { cause: err });
  }
}

const YEAR_MS = 365 * 24 * 3600 * 1000;

export interface CaHierarchy {
  root: x509.X509Certificate;
  intermediate: x509.X509Certificate;
  intermediateKey: EcKey;
}

/**
 * Load the CA hierarchy from `dir`, creating what is missing: P-384 keys (as the public-good Fulcio)
 * and certificates for a self-signed root and an intermediate (pathLen 0, EKU codeSigning).
 */
export async function loadOrCreateCaHierarchy(
  dir: string,
  opts: { organization?: string; commonName?: string } = {},
): Promise<CaHierarchy> {
  const files = caFiles(dir);
  const org = opts.organization ?? 'seal';
  const cn = opts.commonName ?? 'seal';
  const rootKey = await loadOrCreateEcKey(files.rootKey, 'P-384');
  const intermediateKey = await loadOrCreateEcKey(files.intermediateKey, 'P-384');
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
      publicKey: intermediateKey.cryptoKeys.publicKey,
      signingKey: rootKey.cryptoKeys.privateKey,
      signingAlgorithm,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        new x509.ExtendedKeyUsageExtension([OID_CODE_SIGNING], false),
        await x509.SubjectKeyIdentifierExtension.create(intermediateKey.cryptoKeys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(rootKey.cryptoKeys.publicKey),
      ],
    });
    await writeFile(files.intermediateCert, `${intermediate.toString('pem')}\n`);
  }
  if (!Buffer.from(intermediate.publicKey.rawData).equals(Buffer.from(intermediateKey.spki))) {
    throw new SealError(
      'E_KEY_INVALID',
      `${files.intermediateCert} does not belong to ${files.intermediateKey}`,
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
export async function issueLeafCertificate(
  ca: CaHierarchy,
  ctlog: CtLog | undefined,
  identity: CertificateIdentity,
  subjectPublicKey: Uint8Array,
  opts: LeafOptions = {},
): Promise<IssuedCertificate> {
  const notBefore = floorToSecond(opts.now ?? new Date());
  const notAfter = new Date(notBefore.getTime() + (opts.validitySec ?? 600) * 1000);
  const issuerKey = ca.intermediateKey;
  const sigstoreExts: SigstoreExtension[] = [
    { oid: OID_FULCIO_ISSUER_V1, value: identity.issuer },
    { oid: OID_FULCIO_ISSUER_V2, value: identity.issuer },
    ...identity.extensions.filter((e) => e.oid !== OID_FULCIO_ISSUER_V1 && e.oid !== OID_FULCIO_ISSUER_V2),
  ].sort((a, b) => lastArc(a.oid) - lastArc(b.oid));
  const san =
    identity.san.type === 'email'
      ? { type: 'email' as const, value: identity.san.value }
      : { type: 'url' as const, value: identity.san.value };
  const base: x509.Extension[] = [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([OID_CODE_SIGNING], false),
    await x509.SubjectKeyIdentifierExtension.create(subjectPublicKey),
    await x509.AuthorityKeyIdentifierExtension.create(issuerKey.cryptoKeys.publicKey),
    // The subject is empty, so the SAN is critical (RFC 5280 §4.2.1.6).
    new x509.SubjectAlternativeNameExtension([san], true),
    ...sigstoreExts.map(encodeSigstoreExtension),
  ];
  const common = {
    serialNumber: randomSerialHex(),
    subject: '',
    issuer: ca.intermediate.subjectName,
    notBefore,
    notAfter,
    publicKey: subjectPublicKey,
    signingKey: issuerKey.cryptoKeys.privateKey,
    signingAlgorithm: { name: 'ECDSA', hash: issuerKey.hash },
  };
  if (!ctlog) {
    return { certificate: await x509.X509CertificateGenerator.create({ ...common, extensions: base }) };
  }
  const precertificate = await x509.X509CertificateGenerator.create({
    ...common,
    extensions: [...base, new x509.Extension(OID_CT_POISON, true, DER_NULL)],
  });
  const tbs = removeExtension(tbsOf(new Uint8Array(precertificate.rawData)), OID_CT_POISON);
  const sct = await ctlog.addPrecertificate(issuerKey.spki, tbs);
  const certificate = await x509.X509CertificateGenerator.create({
    ...common,
    extensions: [...base, new x509.Extension(OID_CT_SCT_LIST, false, encodeSctListExtension([sct.sct]))],
  });
  // The SCT signs the precert TBS; the final certificate must equal it once its SCT list is removed.
  const finalTbs = removeExtension(tbsOf(new Uint8Array(certificate.rawData)), OID_CT_SCT_LIST);
  if (!Buffer.from(finalTbs).equals(Buffer.from(tbs))) {
    throw new SealError('E_INTERNAL', 'final certificate TBS differs from the logged precertificate');
  }
  return { certificate, precertificate, ctIndex: sct.index };
}

/** SHA-256 of a DER SubjectPublicKeyInfo (RFC 6962 issuer_key_hash / log IDs). */
export const spkiHash = (spki: Uint8Array) => new Uint8Array(createHash('sha256').update(spki).digest());
