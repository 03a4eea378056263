// The timestamp authority: a Signer (a key file today; any keys/ Signer, e.g. a PKCS#11 token key, plugs in)
// and its certificate chain, checked at start as sigstore's TSA checks it (wave2-facts.md §1.4): leaf first,
// the leaf's key is the signer's, a critical timeStamping-only EKU on the leaf, CAs above it, each
// certificate signed by the next. `seal serve` keeps a generated chain (root → leaf) in its data directory.

import { createPublicKey, randomBytes, type webcrypto } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadOrCreateEcKey } from '../ca/keyfile.js';
import { x509 } from '../ca/x509.js';
import { isSealError, SealError } from '../errors.js';
import {
  certificatesFromPem,
  parseCertificate,
  publicKeyOf,
  isSignedBy,
  timestampingChainProblem,
} from '../formats/x509.js';
import { KeySigner } from '../keys/signer.js';
import type { Signer } from '../keys/types.js';
import {
  assertTimestampSigner,
  issueTimestampResponse,
  OID_SIGSTORE_TSA_POLICY,
  type TimestampRequest,
} from './token.js';

export interface TimestampAuthorityOptions {
  signer: Signer;
  /** DER certificates: the signing certificate first, the root last. */
  chain: Uint8Array[];
  /** TSTInfo policy (default the Sigstore TSA policy 1.3.6.1.4.1.57264.2). */
  policy?: string;
  /** Accuracy in seconds (default 1). */
  accuracySeconds?: number;
  /** Clock (tests pin it). */
  now?: () => Date;
}

const pemOf = (der: Uint8Array) =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;

/** Why a TSA chain cannot sign timestamps for `signer`, or undefined. */
export function tsaChainProblem(chain: Uint8Array[], signer: Signer): string | undefined {
  if (chain.length < 2)
    return 'the TSA certificate chain needs the signing certificate and its root (2 or more)';
  let certs: ReturnType<typeof parseCertificate>[];
  try {
    certs = chain.map(parseCertificate);
  } catch (err) {
    return `a TSA certificate does not parse: ${(err as Error).message}`;
  }
  const profile = timestampingChainProblem(certs);
  if (profile) return profile;
  const signerSpki = createPublicKey(signer.publicKeyPem()).export({ type: 'spki', format: 'der' });
  if (!Buffer.from(certs[0]!.spki).equals(signerSpki)) {
    return 'the TSA signing certificate is not for the TSA key';
  }
  for (let i = 0; i < certs.length; i++) {
    const issuer = certs[i + 1] ?? certs[i]!;
    if (
      !Buffer.from(certs[i]!.issuer).equals(Buffer.from(issuer.subject)) ||
      !isSignedBy(certs[i]!, publicKeyOf(issuer))
    ) {
      return i + 1 < certs.length
        ? `TSA certificate ${i} is not signed by certificate ${i + 1} of the chain`
        : 'the last certificate of the TSA chain is not a self-signed root';
    }
  }
  return undefined;
}

export class TimestampAuthority {
  readonly signer: Signer;
  readonly chain: Uint8Array[];
  readonly policy: string;
  private readonly accuracySeconds: number;
  private readonly now: () => Date;

  constructor(opts: TimestampAuthorityOptions) {
    assertTimestampSigner(opts.signer);
    const problem = tsaChainProblem(opts.chain, opts.signer);
    if (problem) throw new SealError('E_CERTIFICATE_INVALID', problem);
    this.signer = opts.signer;
    this.chain = opts.chain;
    this.policy = opts.policy ?? OID_SIGSTORE_TSA_POLICY;
    this.accuracySeconds = opts.accuracySeconds ?? 1;
    this.now = opts.now ?? (() => new Date());
  }

  /** The chain as `GET /api/v1/timestamp/certchain` serves it: PEM, leaf first. */
  certChainPem(): string {
    return this.chain.map(pemOf).join('');
  }

  /** notBefore of the root: where the TSA's validity in a trusted root starts. */
  validFrom(): Date {
    return new Date(parseCertificate(this.chain[this.chain.length - 1]!).notBefore);
  }

  /** A DER TimeStampResp for the request. */
  timestamp(request: TimestampRequest): Promise<Uint8Array> {
    return issueTimestampResponse(
      request,
      { signer: this.signer, chain: this.chain, policy: this.policy, accuracySeconds: this.accuracySeconds },
      this.now(),
    );
  }
}

/** Read a PEM chain file (leaf first). */
export async function readChainFile(path: string): Promise<Uint8Array[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new SealError('E_IO', `cannot read the TSA certificate chain ${path}`, { cause });
  }
  const certs = certificatesFromPem(text);
  if (certs.length === 0) throw new SealError('E_CERTIFICATE_INVALID', `${path} holds no PEM certificate`);
  return certs;
}

const YEAR_MS = 365 * 24 * 3600 * 1000;

function serialHex(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.toString('hex');
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (isSealError(err)) throw err;
    throw new SealError('E_IO', `cannot read ${path}`, { cause: err });
  }
}

/**
 * The TSA of a data directory (`seal serve`, `seal tsa serve --data-dir`): `tsa.key.pem` (P-256, the signing
 * key), `root.key.pem` (P-384) and `chain.pem` (leaf, root), created on first start and kept after.
 */
export async function loadOrCreateTsaFiles(
  dir: string,
  opts: { organization?: string; commonName?: string; now?: () => Date } = {},
): Promise<TimestampAuthority> {
  const leafKey = await loadOrCreateEcKey(join(dir, 'tsa.key.pem'), 'P-256');
  const chainPath = join(dir, 'chain.pem');
  let chainPem = await readIfExists(chainPath);
  if (!chainPem) {
    const rootKey = await loadOrCreateEcKey(join(dir, 'root.key.pem'), 'P-384');
    const org = opts.organization ?? 'seal';
    const cn = opts.commonName ?? 'seal';
    const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000);
    const notAfter = new Date(notBefore.getTime() + 10 * YEAR_MS);
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serialHex(),
      name: `O=${org}, CN=${cn}-tsa-root`,
      notBefore,
      notAfter,
      keys: rootKey.cryptoKeys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' },
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(rootKey.cryptoKeys.publicKey),
      ],
    });
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: serialHex(),
      subject: `O=${org}, CN=${cn}-tsa`,
      issuer: root.subjectName,
      notBefore,
      notAfter,
      publicKey: leafKey.cryptoKeys.publicKey as webcrypto.CryptoKey,
      signingKey: rootKey.cryptoKeys.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' },
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.timeStamping], true),
        await x509.SubjectKeyIdentifierExtension.create(leafKey.cryptoKeys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(rootKey.cryptoKeys.publicKey),
      ],
    });
    chainPem = `${leaf.toString('pem')}\n${root.toString('pem')}\n`;
    await writeFile(chainPath, chainPem, { flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw new SealError('E_IO', `cannot write ${chainPath}`, { cause: err });
      chainPem = await readFile(chainPath, 'utf8');
    });
  }
  return new TimestampAuthority({
    signer: new KeySigner(leafKey.privateKey),
    chain: certificatesFromPem(chainPem!),
    ...(opts.now ? { now: opts.now } : {}),
  });
}
