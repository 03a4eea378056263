// RFC 3161 timestamp tokens as seal's TSA issues them: a TimeStampResp (status granted) holding CMS SignedData
// over a TSTInfo, one SignerInfo identified by issuerAndSerialNumber, signed attributes contentType,
// messageDigest and ESS signingCertificateV2 (RFC 3161 §2.4.2, RFC 5652 §5, RFC 5816). The shapes clients walk
// are in wave2-facts.md §1.3: whole-second genTime, ECDSA (or RSA PKCS#1) signatures, the leaf only on certReq.

import { createHash, randomBytes } from 'node:crypto';
import {
  Attribute,
  CertificateChoices,
  CertificateSet,
  CMSVersion,
  DigestAlgorithmIdentifier,
  DigestAlgorithmIdentifiers,
  EncapsulatedContent,
  EncapsulatedContentInfo,
  IssuerAndSerialNumber,
  id_signedData,
  SignatureAlgorithmIdentifier,
  SignedData,
  SignerIdentifier,
  SignerInfo,
  SignerInfos,
} from '@peculiar/asn1-cms';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  Accuracy,
  id_ct_tstInfo,
  MessageImprint,
  PKIStatus,
  PKIStatusInfo,
  TimeStampResp,
  TimeStampToken,
  TSTInfo,
} from '@peculiar/asn1-tsp';
import { AlgorithmIdentifier, Certificate } from '@peculiar/asn1-x509';
import * as asn1js from 'asn1js';
import { SealError } from '../errors.js';
import type { Signer } from '../keys/types.js';

export const OID_SIGSTORE_TSA_POLICY = '1.3.6.1.4.1.57264.2';
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const OID_SIGNING_CERTIFICATE_V2 = '1.2.840.113549.1.9.16.2.47';

export type TimestampHash = 'sha256' | 'sha384' | 'sha512';

export const HASH_OIDS: Record<TimestampHash, string> = {
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
};

export const HASH_LENGTHS: Record<TimestampHash, number> = { sha256: 32, sha384: 48, sha512: 64 };

/** The hash name for a digest OID, or undefined for another one. */
export function hashOfOid(oid: string): TimestampHash | undefined {
  return (Object.keys(HASH_OIDS) as TimestampHash[]).find((h) => HASH_OIDS[h] === oid);
}

/** How the TSA key signs: the CMS signature algorithm and the digest of the signed attributes. */
function signatureAlgorithmOf(signer: Signer): { oid: string; hash: TimestampHash; nullParams: boolean } {
  switch (signer.algorithm) {
    case 'ecdsa-p256-sha256':
      return { oid: '1.2.840.10045.4.3.2', hash: 'sha256', nullParams: false };
    case 'ecdsa-p384-sha384':
      return { oid: '1.2.840.10045.4.3.3', hash: 'sha384', nullParams: false };
    case 'ecdsa-p521-sha512':
      return { oid: '1.2.840.10045.4.3.4', hash: 'sha512', nullParams: false };
    case 'rsa-pkcs1-sha256':
      return { oid: '1.2.840.113549.1.1.11', hash: 'sha256', nullParams: true };
    default:
      throw new SealError(
        'E_KEY_UNSUPPORTED',
        `a timestamp authority key must be ECDSA (P-256, P-384, P-521) or RSA PKCS#1, not ${signer.algorithm}`,
      );
  }
}

/** Check that a signer can sign timestamps (throws E_KEY_UNSUPPORTED otherwise). */
export function assertTimestampSigner(signer: Signer): void {
  signatureAlgorithmOf(signer);
}

/** What a request asks to be timestamped (parsed from DER or JSON, already validated). */
export interface TimestampRequest {
  hashAlgorithm: TimestampHash;
  hashedMessage: Uint8Array;
  /** INTEGER content bytes, echoed as given. */
  nonce?: Uint8Array;
  certReq: boolean;
  policy?: string;
}

export interface TokenIssuer {
  signer: Signer;
  /** DER certificates, the signing certificate first. */
  chain: Uint8Array[];
  policy: string;
  accuracySeconds: number;
}

const buf = (b: Uint8Array): ArrayBuffer => Uint8Array.from(b).buffer;
const digestAlg = (h: TimestampHash) => new DigestAlgorithmIdentifier({ algorithm: HASH_OIDS[h] });

function serialNumber(): ArrayBuffer {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01; // positive, no leading zero byte
  return buf(bytes);
}

function attribute(oid: string, value: ArrayBuffer): Attribute {
  return new Attribute({ attrType: oid, attrValues: [value] });
}

/** ESS SigningCertificateV2 { certs SEQUENCE OF ESSCertIDv2 { certHash } } with SHA-256, the default hash. */
function signingCertificateV2(certificate: Uint8Array): ArrayBuffer {
  const certHash = createHash('sha256').update(certificate).digest();
  const essCertId = new asn1js.Sequence({ value: [new asn1js.OctetString({ valueHex: buf(certHash) })] });
  return new asn1js.Sequence({ value: [new asn1js.Sequence({ value: [essCertId] })] }).toBER();
}

/** DER orders a SET OF by the encodings of its members (X.690 §11.6). */
function derSorted(attrs: Attribute[]): { attrs: Attribute[]; setDer: Uint8Array } {
  const encoded = attrs.map((a) => ({ a, der: new Uint8Array(AsnConvert.serialize(a)) }));
  encoded.sort((x, y) => Buffer.compare(x.der, y.der));
  const set = new asn1js.Set({ value: encoded.map((e) => asn1js.fromBER(buf(e.der)).result) });
  return { attrs: encoded.map((e) => e.a), setDer: new Uint8Array(set.toBER()) };
}

/** Issue a granted TimeStampResp (DER) for the request at `now` (floored to whole seconds). */
export async function issueTimestampResponse(
  request: TimestampRequest,
  issuer: TokenIssuer,
  now: Date,
): Promise<Uint8Array> {
  const sigAlg = signatureAlgorithmOf(issuer.signer);
  const leafDer = issuer.chain[0];
  if (!leafDer) throw new SealError('E_INTERNAL', 'the timestamp authority has no certificate');
  const leaf = AsnConvert.parse(leafDer, Certificate);
  const genTime = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const tstInfo = new TSTInfo({
    version: 1,
    policy: issuer.policy,
    messageImprint: new MessageImprint({
      hashAlgorithm: new AlgorithmIdentifier({ algorithm: HASH_OIDS[request.hashAlgorithm] }),
      hashedMessage: new OctetString(buf(request.hashedMessage)),
    }),
    serialNumber: serialNumber(),
    genTime,
    accuracy: new Accuracy({ seconds: issuer.accuracySeconds }),
    ordering: false,
    ...(request.nonce ? { nonce: buf(request.nonce) } : {}),
  });
  const tstInfoDer = new Uint8Array(AsnConvert.serialize(tstInfo));
  const { attrs, setDer } = derSorted([
    attribute(OID_CONTENT_TYPE, new asn1js.ObjectIdentifier({ value: id_ct_tstInfo }).toBER()),
    attribute(
      OID_MESSAGE_DIGEST,
      new asn1js.OctetString({
        valueHex: buf(createHash(sigAlg.hash).update(tstInfoDer).digest()),
      }).toBER(),
    ),
    attribute(OID_SIGNING_CERTIFICATE_V2, signingCertificateV2(leafDer)),
  ]);
  const signature = await issuer.signer.sign(setDer);
  const signerInfo = new SignerInfo({
    version: CMSVersion.v1,
    sid: new SignerIdentifier({
      issuerAndSerialNumber: new IssuerAndSerialNumber({
        issuer: leaf.tbsCertificate.issuer,
        serialNumber: leaf.tbsCertificate.serialNumber,
      }),
    }),
    digestAlgorithm: digestAlg(sigAlg.hash),
    signedAttrs: attrs,
    signatureAlgorithm: new SignatureAlgorithmIdentifier({
      algorithm: sigAlg.oid,
      ...(sigAlg.nullParams ? { parameters: null } : {}),
    }),
    signature: new OctetString(buf(signature)),
  });
  const signedData = new SignedData({
    version: CMSVersion.v3,
    digestAlgorithms: new DigestAlgorithmIdentifiers([digestAlg(sigAlg.hash)]),
    encapContentInfo: new EncapsulatedContentInfo({
      eContentType: id_ct_tstInfo,
      eContent: new EncapsulatedContent({ single: new OctetString(buf(tstInfoDer)) }),
    }),
    // notation refuses certificates it did not ask for, and needs the signing one when it did
    ...(request.certReq
      ? { certificates: new CertificateSet([new CertificateChoices({ certificate: leaf })]) }
      : {}),
    signerInfos: new SignerInfos([signerInfo]),
  });
  const token = new TimeStampToken({
    contentType: id_signedData,
    content: AsnConvert.serialize(signedData),
  });
  const response = new TimeStampResp({
    status: new PKIStatusInfo({ status: PKIStatus.granted }),
    timeStampToken: token,
  });
  return new Uint8Array(AsnConvert.serialize(response));
}
