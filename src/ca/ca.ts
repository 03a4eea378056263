// The keyless CA: checks an OIDC token and a proof of possession (or a CSR) and issues a short-lived
// certificate chained to seal's root. Fulcio pkg/server/grpc_server.go CreateSigningCertificate semantics.

import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { join } from 'node:path';
import { SealError } from '../errors.js';
import { childrenOf, oidOf, readRoot, TAG } from '../formats/der.js';
import { rsaKeySizeProblem } from '../keys/algorithms.js';
import type { Signer } from '../keys/types.js';
import {
  type CaHierarchy,
  type IssuedCertificate,
  issueLeafCertificate,
  loadOrCreateCaHierarchy,
} from './certs.js';
import type { CtLog } from './ctlog.js';
import type { VerifiedIdentity } from './issuer-types.js';
import type { OidcVerifier } from './oidc.js';
import { x509 } from './x509.js';

export interface SigningCertRequest {
  /** The OIDC ID token (from the body or an `Authorization: Bearer` header). */
  token: string;
  /** PEM SubjectPublicKeyInfo (or base64 DER), with `proofOfPossession`. */
  publicKey?: string;
  /** Base64 signature over the token's challenge claim (email for email issuers, otherwise sub). */
  proofOfPossession?: string;
  /** A PKCS#10 CSR: PEM, or base64 of PEM/DER (Fulcio's `certificateSigningRequest`). */
  csr?: string;
}

export interface SigningCertResult {
  /** Leaf, intermediate, root, PEM. */
  chainPem: string[];
  identity: VerifiedIdentity;
  certificate: x509.X509Certificate;
  /** Whether an SCT is embedded (false when the CA runs without a CT log). */
  embeddedSct: boolean;
}

export interface CertificateAuthorityOptions {
  /** Leaf validity in seconds (default 600, as Fulcio). */
  validitySec?: number;
}

const popError = (message: string, cause?: unknown) =>
  new SealError('E_PROOF_OF_POSSESSION', message, cause === undefined ? undefined : { cause });

const ACCEPTED_KEYS = 'accepted: ECDSA P-256, P-384 or P-521, RSA of 2048 to 4096 bits, Ed25519';

const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';

/**
 * The algorithm of a SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) node cannot load: a key of an algorithm or
 * on a curve OpenSSL does not know still names them. Undefined when the bytes are not an SPKI at all.
 */
function unknownSpkiAlgorithm(der: Uint8Array): string | undefined {
  try {
    const spki = readRoot(der, TAG.SEQUENCE);
    const [algorithm, key] = childrenOf(der, spki);
    if (algorithm?.tag !== TAG.SEQUENCE || key?.tag !== TAG.BIT_STRING) return undefined;
    const [oid, parameter] = childrenOf(der, algorithm);
    if (!oid) return undefined;
    const alg = oidOf(der, oid);
    if (alg === OID_EC_PUBLIC_KEY && parameter?.tag === TAG.OID)
      return `ECDSA on curve OID ${oidOf(der, parameter)}`;
    return `algorithm OID ${alg}`;
  } catch {
    return undefined;
  }
}

/** A PEM block's body or base64 text as bytes (for naming what node could not load). */
function derOf(text: string): Uint8Array {
  return Buffer.from(text.replace(/-----(BEGIN|END)[^-]*-----/g, '').replace(/\s+/g, ''), 'base64');
}

function parsePublicKey(content: string): KeyObject {
  const text = content.trim();
  try {
    if (text.startsWith('-----BEGIN')) return createPublicKey(text);
    return createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' });
  } catch (err) {
    const unknown = unknownSpkiAlgorithm(derOf(text));
    if (unknown !== undefined)
      throw new SealError('E_KEY_UNSUPPORTED', `unsupported key type: ${unknown} (${ACCEPTED_KEYS})`, {
        cause: err,
      });
    throw new SealError('E_KEY_INVALID', 'publicKey.content is not a PEM or DER SubjectPublicKeyInfo', {
      cause: err,
    });
  }
}

/** How a key type is named to people (node's names are lower case: "ed448", "dsa"). */
const KEY_TYPE_NAMES: Record<string, string> = {
  ed448: 'Ed448',
  x25519: 'X25519',
  x448: 'X448',
  dsa: 'DSA',
  dh: 'DH',
  'rsa-pss': 'RSA-PSS',
};

/**
 * Fulcio accepts ECDSA P-256/384/521, RSA 2048–4096 and Ed25519 keys. Checked before any proof of
 * possession or CSR signature is verified, so another key type is named as such rather than reported as
 * a proof that does not verify.
 */
function checkKeyType(key: KeyObject): void {
  const type = key.asymmetricKeyType;
  const d = key.asymmetricKeyDetails;
  if (type === 'ec' && ['prime256v1', 'secp384r1', 'secp521r1'].includes(d?.namedCurve ?? '')) return;
  if (type === 'rsa') {
    const problem = rsaKeySizeProblem(key);
    if (problem === undefined) return;
    throw new SealError(
      'E_KEY_UNSUPPORTED',
      `unsupported key type: RSA of ${d?.modulusLength ?? '?'} bits (${ACCEPTED_KEYS})`,
    );
  }
  if (type === 'ed25519') return;
  const named =
    type === 'ec'
      ? `ECDSA on curve ${d?.namedCurve ?? 'unknown'}`
      : (KEY_TYPE_NAMES[type ?? ''] ?? type ?? 'unknown');
  throw new SealError('E_KEY_UNSUPPORTED', `unsupported key type: ${named} (${ACCEPTED_KEYS})`);
}

function verifyProof(key: KeyObject, challenge: string, proofB64: string): boolean {
  const sig = Buffer.from(proofB64, 'base64');
  if (sig.length === 0) return false;
  try {
    // Fulcio's challenge check: SHA-256 for ECDSA and RSA PKCS#1 v1.5, pure Ed25519.
    const alg = key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
    return verify(alg, Buffer.from(challenge, 'utf8'), key, sig);
  } catch {
    return false;
  }
}

function decodeCsr(csr: string): x509.Pkcs10CertificateRequest {
  let text = csr.trim();
  try {
    if (!text.startsWith('-----BEGIN')) {
      const decoded = Buffer.from(text, 'base64');
      const asText = decoded.toString('utf8');
      if (asText.startsWith('-----BEGIN')) text = asText;
      else return new x509.Pkcs10CertificateRequest(decoded);
    }
    return new x509.Pkcs10CertificateRequest(text);
  } catch (err) {
    throw new SealError('E_INVALID_ARGUMENT', 'certificateSigningRequest is not a PKCS#10 CSR', {
      cause: err,
    });
  }
}

/** The CSR's public key; E_KEY_UNSUPPORTED if node cannot read it (an algorithm or curve it does not know). */
function csrPublicKey(csr: x509.Pkcs10CertificateRequest): KeyObject {
  const der = new Uint8Array(csr.publicKey.rawData);
  try {
    return createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
  } catch (err) {
    const unknown = unknownSpkiAlgorithm(der) ?? 'a public key node cannot read';
    throw new SealError(
      'E_KEY_UNSUPPORTED',
      `unsupported key type in the CSR: ${unknown} (${ACCEPTED_KEYS})`,
      {
        cause: err,
      },
    );
  }
}

export class CertificateAuthority {
  constructor(
    readonly hierarchy: CaHierarchy,
    readonly verifier: OidcVerifier,
    readonly ctlog?: CtLog,
    private readonly opts: CertificateAuthorityOptions = {},
  ) {}

  /** Open (or create) the CA whose keys and certificates live in `dir`. */
  static async open(opts: {
    dir: string;
    verifier: OidcVerifier;
    ctlog?: CtLog;
    validitySec?: number;
    organization?: string;
    /** The issuing key when it is not the CA directory's `intermediate.key.pem` (e.g. a PKCS#11 token). */
    intermediateSigner?: Signer;
  }): Promise<CertificateAuthority> {
    const hierarchy = await loadOrCreateCaHierarchy(opts.dir, {
      organization: opts.organization,
      ...(opts.intermediateSigner ? { intermediateSigner: opts.intermediateSigner } : {}),
    });
    return new CertificateAuthority(hierarchy, opts.verifier, opts.ctlog, { validitySec: opts.validitySec });
  }

  /** The issuing chain, intermediate first, root last (PEM). */
  get chainPem(): string[] {
    return [this.hierarchy.intermediate.toString('pem'), this.hierarchy.root.toString('pem')];
  }

  /** Issue a certificate for an identity that was already verified, bypassing token checks. */
  issue(identity: VerifiedIdentity, spki: Uint8Array): Promise<IssuedCertificate> {
    return issueLeafCertificate(this.hierarchy, this.ctlog, identity, spki, {
      validitySec: this.opts.validitySec,
    });
  }

  /** The Fulcio flow: verify the token, the proof of possession or CSR, then issue. */
  async signingCertificate(req: SigningCertRequest): Promise<SigningCertResult> {
    const identity = await this.verifier.verify(req.token);
    let key: KeyObject;
    if (req.csr !== undefined) {
      const csr = decodeCsr(req.csr);
      key = csrPublicKey(csr);
      checkKeyType(key);
      if (!(await csr.verify().catch(() => false))) {
        throw popError('the CSR signature does not verify with the public key it contains');
      }
      if (req.publicKey !== undefined) {
        const other = parsePublicKey(req.publicKey);
        if (!other.equals(key)) throw popError('publicKey does not match the public key in the CSR');
      }
    } else {
      if (req.publicKey === undefined) {
        throw new SealError(
          'E_INVALID_ARGUMENT',
          'request has neither publicKeyRequest nor certificateSigningRequest',
        );
      }
      key = parsePublicKey(req.publicKey);
      checkKeyType(key);
      if (!req.proofOfPossession) throw popError('publicKeyRequest has no proofOfPossession');
      if (!verifyProof(key, identity.challenge, req.proofOfPossession)) {
        throw popError(
          `proof of possession does not verify: it must be the submitted key's signature over "${identity.challenge}" ` +
            `(the token's ${identity.type === 'email' ? 'email' : 'sub'} claim)`,
        );
      }
    }
    const spki = new Uint8Array(key.export({ type: 'spki', format: 'der' }));
    const issued = await this.issue(identity, spki);
    return {
      chainPem: [issued.certificate.toString('pem'), ...this.chainPem],
      identity,
      certificate: issued.certificate,
      embeddedSct: this.ctlog !== undefined,
    };
  }
}

export const caDir = (dataDir: string) => join(dataDir, 'ca');
