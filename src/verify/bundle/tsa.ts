// RFC 3161 signed timestamps in bundles: parse the TimeStampResp/CMS SignedData with the DER walker and
// check imprint, signed attributes and the TSA signature natively (RFC 3161 §2.4, RFC 5652 §5.3–5.4).

import { createHash, type KeyObject, verify as cryptoVerify } from 'node:crypto';
import { type CertificateAuthority, authorityChainIsSound, inRange } from '../trust.js';
import {
  basicConstraints,
  type Certificate,
  hashForSignatureAlgorithm,
  isSignedBy,
  parseCertificate,
  publicKeyOf,
  timestampingChainProblem,
} from '../../formats/x509.js';
import {
  bytesEqual,
  bytesOf,
  childrenOf,
  contentOf,
  DerError,
  decodeTime,
  expectTlv,
  oidOf,
  readRoot,
  readTlv,
  TAG,
  type Tlv,
} from '../../formats/der.js';

const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_TST_INFO = '1.2.840.113549.1.9.16.1.4';
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';

const DIGESTS: Record<string, string> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '1.3.14.3.2.26': 'sha1',
};

/** At most this many certificates embedded in a token are read (a TSA sends its leaf, at most a chain). */
const MAX_EMBEDDED_CERTIFICATES = 8;

export class TimestampError extends Error {
  /**
   * E_TIMESTAMP_INVALID: the token is malformed, over other data, not from a trusted TSA valid at its time,
   * or its signature does not verify; E_TSA_CERTIFICATE_INVALID: the trusted TSA's certificate is not for
   * timestamping (a critical timeStamping-only EKU on the leaf, CAs above it) or its chain does not chain.
   */
  constructor(
    message: string,
    readonly code: 'E_TIMESTAMP_INVALID' | 'E_TSA_CERTIFICATE_INVALID' = 'E_TIMESTAMP_INVALID',
  ) {
    super(message);
    this.name = 'TimestampError';
  }
}

export interface SignedTimestamp {
  /** genTime in ms since the epoch. */
  genTime: number;
  imprintAlgorithm: string;
  imprint: Uint8Array;
  /** The DER TSTInfo (eContent) the signed attributes digest. */
  tstInfo: Uint8Array;
  digestAlgorithm: string;
  signatureAlgorithm: string;
  signature: Uint8Array;
  /** DER SET of the signed attributes (tag rewritten from [0] to SET), absent when the TSA signs the TSTInfo. */
  signedAttributes?: Uint8Array;
  /** messageDigest signed attribute. */
  messageDigest?: Uint8Array;
  /** Signer identification: issuer Name DER + serial INTEGER content, or a subject key identifier. */
  signerIssuer?: Uint8Array;
  signerSerial?: Uint8Array;
  signerKeyId?: Uint8Array;
  /** Certificates the token carries (SignedData certificates), DER. */
  certificates: Uint8Array[];
}

function digestName(buf: Uint8Array, algId: Tlv): string {
  const oid = oidOf(buf, childrenOf(buf, algId)[0]!);
  const name = DIGESTS[oid];
  if (!name) throw new TimestampError(`unsupported digest algorithm ${oid}`);
  return name;
}

/** Parse a DER TimeStampResp (or a bare TimeStampToken ContentInfo). Throws TimestampError. */
export function parseSignedTimestamp(der: Uint8Array): SignedTimestamp {
  try {
    const root = readRoot(der, TAG.SEQUENCE);
    let parts = childrenOf(der, root);
    let contentInfo: Tlv = root;
    if (parts[0]?.tag === TAG.SEQUENCE) {
      // TimeStampResp { status PKIStatusInfo, timeStampToken }
      const status = childrenOf(der, parts[0]);
      const code = status[0] && status[0].tag === TAG.INTEGER ? der[status[0].contentStart] : -1;
      if (code !== 0 && code !== 1)
        throw new TimestampError(`timestamp response status is ${code}, not granted`);
      if (!parts[1]) throw new TimestampError('timestamp response carries no token');
      contentInfo = parts[1];
      parts = childrenOf(der, contentInfo);
    }
    if (oidOf(der, parts[0]!) !== OID_SIGNED_DATA) throw new TimestampError('token is not CMS SignedData');
    const sdWrap = parts[1]!;
    if (sdWrap.tag !== 0xa0) throw new TimestampError('SignedData is not [0] EXPLICIT');
    const sd = expectTlv(der, sdWrap.contentStart, TAG.SEQUENCE, sdWrap.end);
    const sdParts = childrenOf(der, sd);
    const encap = sdParts[2]!;
    const encapParts = childrenOf(der, encap);
    if (oidOf(der, encapParts[0]!) !== OID_TST_INFO)
      throw new TimestampError('SignedData content is not a TSTInfo');
    const eWrap = encapParts[1];
    if (eWrap?.tag !== 0xa0) throw new TimestampError('TSTInfo content is missing');
    const eOctets = expectTlv(der, eWrap.contentStart, TAG.OCTET_STRING, eWrap.end);
    const tstInfo = contentOf(der, eOctets);
    const certificates: Uint8Array[] = [];
    const certsT = sdParts.find((p) => p.tag === 0xa0);
    if (certsT) {
      for (const c of childrenOf(der, certsT)) {
        if (c.tag !== TAG.SEQUENCE) continue; // other certificate choices are not X.509
        if (certificates.length === MAX_EMBEDDED_CERTIFICATES)
          throw new TimestampError(`the token carries more than ${MAX_EMBEDDED_CERTIFICATES} certificates`);
        certificates.push(bytesOf(der, c));
      }
    }
    const signerInfos = sdParts[sdParts.length - 1]!;
    if (signerInfos.tag !== TAG.SET) throw new TimestampError('SignedData has no signerInfos');
    const signers = childrenOf(der, signerInfos);
    if (signers.length !== 1) throw new TimestampError(`expected one signerInfo, found ${signers.length}`);
    const si = childrenOf(der, signers[0]!);
    let k = 1;
    const sid = si[k++]!;
    const out: Partial<SignedTimestamp> = {};
    if (sid.tag === TAG.SEQUENCE) {
      const [iss, ser] = childrenOf(der, sid);
      out.signerIssuer = bytesOf(der, iss!);
      out.signerSerial = contentOf(der, ser!);
    } else if (sid.tag === 0x80) out.signerKeyId = contentOf(der, sid);
    const digestAlgorithm = digestName(der, si[k++]!);
    if (si[k]?.tag === 0xa0) {
      const attrsT = si[k++]!;
      const attrs = new Uint8Array(der.subarray(attrsT.start, attrsT.end));
      attrs[0] = TAG.SET;
      out.signedAttributes = attrs;
      for (const a of childrenOf(der, attrsT)) {
        const [oidT, valuesT] = childrenOf(der, a);
        const oid = oidOf(der, oidT!);
        const first = readTlv(der, valuesT!.contentStart, valuesT!.end);
        if (oid === OID_MESSAGE_DIGEST) out.messageDigest = contentOf(der, first);
        if (oid === OID_CONTENT_TYPE && oidOf(der, first) !== OID_TST_INFO) {
          throw new TimestampError('contentType attribute is not TSTInfo');
        }
      }
    }
    const sigAlgT = si[k++]!;
    const signatureAlgorithm = oidOf(der, childrenOf(der, sigAlgT)[0]!);
    const sigT = si[k++]!;
    if (sigT.tag !== TAG.OCTET_STRING)
      throw new TimestampError('signerInfo signature is not an OCTET STRING');

    // TSTInfo ::= SEQUENCE { version, policy, messageImprint, serialNumber, genTime, ... }
    const tst = readRoot(tstInfo, TAG.SEQUENCE);
    const tp = childrenOf(tstInfo, tst);
    const imprint = childrenOf(tstInfo, tp[2]!);
    const genTimeT = tp[4]!;
    if (genTimeT.tag !== TAG.GENERALIZED_TIME) throw new TimestampError('genTime is not a GeneralizedTime');
    const imprintBytes = expectTlv(tstInfo, imprint[1]!.start, TAG.OCTET_STRING, imprint[1]!.end);
    return {
      ...out,
      genTime: decodeTime(tstInfo, genTimeT),
      imprintAlgorithm: digestName(tstInfo, imprint[0]!),
      imprint: contentOf(tstInfo, imprintBytes),
      tstInfo,
      digestAlgorithm,
      signatureAlgorithm,
      signature: contentOf(der, sigT),
      certificates,
    };
  } catch (err) {
    if (err instanceof DerError || err instanceof TypeError)
      throw new TimestampError(`malformed RFC 3161 timestamp: ${err.message}`);
    throw err;
  }
}

function signatureHash(ts: SignedTimestamp): string | null | undefined {
  // id-ecPublicKey / rsaEncryption as "signature algorithm" mean: hash with the signerInfo digest algorithm.
  if (ts.signatureAlgorithm === '1.2.840.10045.2.1' || ts.signatureAlgorithm === '1.2.840.113549.1.1.1') {
    return ts.digestAlgorithm;
  }
  return hashForSignatureAlgorithm(ts.signatureAlgorithm);
}

function signatureVerifies(ts: SignedTimestamp, key: KeyObject): boolean {
  const hash = signatureHash(ts);
  if (hash === undefined) return false;
  let signed: Uint8Array = ts.tstInfo;
  if (ts.signedAttributes) {
    if (!ts.messageDigest) return false;
    const digest = createHash(ts.digestAlgorithm).update(ts.tstInfo).digest();
    if (!bytesEqual(digest, ts.messageDigest)) return false;
    signed = ts.signedAttributes;
  }
  try {
    return cryptoVerify(hash, signed, key, ts.signature);
  } catch {
    return false;
  }
}

/** The token signer's certificate: issuer and serial as the signerInfo names them. */
function isSigner(ts: SignedTimestamp, cert: Certificate): boolean {
  if (ts.signerSerial && ts.signerIssuer)
    return bytesEqual(cert.serial, ts.signerSerial) && bytesEqual(cert.issuer, ts.signerIssuer);
  return true;
}

/**
 * The chain a TSA of the trust material signs with, leaf first: its certChain when that starts with the
 * signing certificate; when it starts with a CA (a root that lists no leaf, as sigstore-go allows), the
 * certificate the token embeds for the signer, if that CA issued it.
 */
function signingChain(ts: SignedTimestamp, ca: CertificateAuthority): Certificate[] | undefined {
  const first = ca.chain[0]!;
  if (!basicConstraints(first)?.isCA) return isSigner(ts, first) ? ca.chain : undefined;
  for (const der of ts.certificates) {
    let cert: Certificate;
    try {
      cert = parseCertificate(der);
    } catch {
      continue;
    }
    if (!isSigner(ts, cert) || !bytesEqual(cert.issuer, first.subject)) continue;
    try {
      if (isSignedBy(cert, publicKeyOf(first))) return [cert, ...ca.chain];
    } catch {}
  }
  return undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** timestampingChainProblem of a TSA's own certChain (leaf first), read once per authority of the trust material. */
const trustedChainProblems = new WeakMap<CertificateAuthority, { problem: string | undefined }>();
function trustedChainProblem(ca: CertificateAuthority): string | undefined {
  let found = trustedChainProblems.get(ca);
  if (!found) {
    found = { problem: timestampingChainProblem(ca.chain) };
    trustedChainProblems.set(ca, found);
  }
  return found.problem;
}

/**
 * Verify a signed timestamp over `signedBytes` (the bundle signature) against the trusted TSAs: imprint,
 * a TSA valid at genTime whose signing certificate is the signer and is for timestamping (a critical
 * timeStamping-only EKU), its chain valid at genTime, the CMS signature.
 * Returns genTime (ms); throws TimestampError saying what failed, with its code.
 */
export function verifySignedTimestamp(
  der: Uint8Array,
  signedBytes: Uint8Array,
  authorities: CertificateAuthority[],
): number {
  const ts = parseSignedTimestamp(der);
  const imprint = createHash(ts.imprintAlgorithm).update(signedBytes).digest();
  if (!bytesEqual(imprint, ts.imprint)) {
    throw new TimestampError(
      'the timestamp is over other data than the bundle signature (message imprint differs)',
    );
  }
  if (ts.imprintAlgorithm === 'sha1' || ts.digestAlgorithm === 'sha1')
    throw new TimestampError('the timestamp uses SHA-1, a weak hash');
  const candidates = authorities.flatMap((ca) => {
    const chain = signingChain(ts, ca);
    return chain ? [{ ca, chain }] : [];
  });
  if (candidates.length === 0)
    throw new TimestampError('the timestamp was not signed by a TSA in the trusted root');
  const inTime = candidates.filter(({ ca }) => inRange(ca.validFor, ts.genTime));
  if (inTime.length === 0) {
    throw new TimestampError(
      `the timestamp's time ${iso(ts.genTime)} is outside the TSA's validity in the trusted root`,
    );
  }
  // the reason the last candidate failed, made into an error only when all have (an Error records a stack)
  let why: { message: string; code?: TimestampError['code'] } = {
    message: 'the TSA signature does not verify',
  };
  for (const { ca, chain } of inTime) {
    if (!authorityChainIsSound(ca)) {
      why = {
        message: 'the TSA certificate chain in the trusted root does not chain',
        code: 'E_TSA_CERTIFICATE_INVALID',
      };
      continue;
    }
    const profile = chain === ca.chain ? trustedChainProblem(ca) : timestampingChainProblem(chain);
    if (profile) {
      why = { message: profile, code: 'E_TSA_CERTIFICATE_INVALID' };
      continue;
    }
    if (!chain.every((c) => c.notBefore <= ts.genTime && ts.genTime <= c.notAfter)) {
      why = { message: `the TSA certificate chain is not valid at the timestamp's time ${iso(ts.genTime)}` };
      continue;
    }
    if (signatureVerifies(ts, publicKeyOf(chain[0]!))) return ts.genTime;
    why = {
      message: 'the TSA signature does not verify (the timestamp was altered or signed by another key)',
    };
  }
  throw new TimestampError(why.message, why.code);
}
