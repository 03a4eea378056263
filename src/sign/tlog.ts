// Recording signatures in a Rekor-compatible log while signing: the proposed entries (hashedrekord and
// dsse v0.0.1, sigstore-servers.md §1 "Proposed entries"; Rekor v2 hashedrekord v0.0.2, §2) and the evidence they
// turn into.

import { createHash, createPublicKey } from 'node:crypto';
import { SealError } from '../errors.js';
import type { TlogEntryInput } from '../formats/bundle.js';
import type { RekorBundle } from '../formats/cosign.js';
import { type DsseEnvelope, envelopeToJSON, preAuthEncoding } from '../formats/dsse.js';
import { keyDetailsForKey } from '../formats/trustedroot.js';
import type { Signer } from '../keys/types.js';
import type { Digest } from '../oci/digest.js';
import { RekorClient, RekorV2Client } from '../tlog/client.js';
import type { LogEntry } from '../tlog/entry.js';
import type { TlogUploader } from './attach.js';

/** The PEM the log checks the signature with: the leaf certificate (keyless) or the public key. */
function verifierPem(signer: Signer): string {
  return signer.certificateChainPem?.[0] ?? signer.publicKeyPem();
}

const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64');
const hexBytes = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));

export function hashedRekordProposal(artifactDigest: Digest, signature: Uint8Array, signer: Signer): unknown {
  return {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: artifactDigest.algorithm, value: artifactDigest.hex } },
      signature: { content: b64(signature), publicKey: { content: b64(verifierPem(signer)) } },
    },
  };
}

export function dsseProposal(envelope: DsseEnvelope, signer: Signer): unknown {
  return {
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      proposedContent: {
        envelope: JSON.stringify(envelopeToJSON(envelope)),
        verifiers: [b64(verifierPem(signer))],
      },
    },
  };
}

/** A Rekor LogEntry as the bundle's TransparencyLogEntry input. */
export function tlogEntryFromLogEntry(entry: LogEntry): TlogEntryInput {
  const body = new Uint8Array(Buffer.from(entry.body, 'base64'));
  const parsed = JSON.parse(Buffer.from(body).toString('utf8')) as { kind: string; apiVersion: string };
  const out: TlogEntryInput = {
    logIndex: entry.logIndex,
    logId: hexBytes(entry.logID),
    kind: parsed.kind,
    version: parsed.apiVersion,
    integratedTime: entry.integratedTime,
    canonicalizedBody: body,
  };
  if (entry.verification.signedEntryTimestamp) {
    out.signedEntryTimestamp = new Uint8Array(Buffer.from(entry.verification.signedEntryTimestamp, 'base64'));
  }
  const proof = entry.verification.inclusionProof;
  if (proof) {
    out.inclusionProof = {
      logIndex: proof.logIndex,
      rootHash: hexBytes(proof.rootHash),
      treeSize: proof.treeSize,
      hashes: proof.hashes.map(hexBytes),
      checkpoint: proof.checkpoint,
    };
  }
  return out;
}

export function rekorBundleFromLogEntry(entry: LogEntry): RekorBundle {
  return {
    SignedEntryTimestamp: new Uint8Array(Buffer.from(entry.verification.signedEntryTimestamp, 'base64')),
    Payload: {
      body: entry.body,
      integratedTime: entry.integratedTime,
      logIndex: entry.logIndex,
      logID: entry.logID,
    },
  };
}

export class RekorUploader implements TlogUploader {
  private readonly client: RekorClient;

  constructor(readonly url: string) {
    this.client = new RekorClient(url);
  }

  async uploadDsse(envelope: DsseEnvelope, signer: Signer): Promise<TlogEntryInput> {
    return tlogEntryFromLogEntry(await this.client.createEntry(dsseProposal(envelope, signer)));
  }

  async uploadHashedRekord(
    artifactDigest: Digest,
    signature: Uint8Array,
    signer: Signer,
  ): Promise<TlogEntryInput> {
    return tlogEntryFromLogEntry(
      await this.client.createEntry(hashedRekordProposal(artifactDigest, signature, signer)),
    );
  }

  async uploadLegacyDsse(envelope: DsseEnvelope, signer: Signer): Promise<RekorBundle> {
    return rekorBundleFromLogEntry(await this.client.createEntry(dsseProposal(envelope, signer)));
  }

  async uploadLegacy(input: {
    payload: Uint8Array;
    signature: Uint8Array;
    signer: Signer;
  }): Promise<RekorBundle> {
    const { Digest } = await import('../oci/digest.js');
    const digest = Digest.parse(`sha256:${createHash('sha256').update(input.payload).digest('hex')}`);
    return rekorBundleFromLogEntry(
      await this.client.createEntry(hashedRekordProposal(digest, input.signature, input.signer)),
    );
  }
}

// ------------------------------------------------------------------ Rekor v2

/** The verifier a Rekor v2 request names: the leaf certificate (keyless) or the SPKI, as DER, with its keyDetails. */
function verifierV2(signer: Signer): {
  keyDetails: string;
  publicKey?: { rawBytes: string };
  x509Certificate?: { rawBytes: string };
} {
  const key = createPublicKey(signer.publicKeyPem());
  const details = keyDetailsForKey(key);
  // seal hashes artifacts and DSSE PAEs with SHA-256: the log checks the digest length against keyDetails
  if (!details || !['PKIX_ECDSA_P256_SHA_256', ...RSA_V2].includes(details)) {
    throw new SealError(
      'E_KEY_UNSUPPORTED',
      `a Rekor v2 log records ECDSA P-256 or RSA (2048–4096) signatures over SHA-256 digests from seal; this key is ${details ?? key.asymmetricKeyType}: sign with such a key or use a Rekor v1 log`,
    );
  }
  const chain = signer.certificateChainPem;
  if (chain && chain.length > 0) {
    return { keyDetails: details, x509Certificate: { rawBytes: b64(pemToDer(chain[0]!)) } };
  }
  return {
    keyDetails: details,
    publicKey: { rawBytes: b64(new Uint8Array(key.export({ type: 'spki', format: 'der' }))) },
  };
}
const RSA_V2 = [
  'PKIX_RSA_PKCS1V15_2048_SHA256',
  'PKIX_RSA_PKCS1V15_3072_SHA256',
  'PKIX_RSA_PKCS1V15_4096_SHA256',
];

function pemToDer(pem: string): Uint8Array {
  return new Uint8Array(
    Buffer.from(pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64'),
  );
}

/** A hashedRekordRequestV002 for a signature over a SHA-256 digest. */
export function hashedRekordRequestV2(digest: Uint8Array, signature: Uint8Array, signer: Signer): unknown {
  return {
    hashedRekordRequestV002: {
      digest: b64(digest),
      signature: { content: b64(signature), verifier: verifierV2(signer) },
    },
  };
}

/**
 * Records signatures in a Rekor v2 log. A DSSE envelope is logged as a hashedrekord over SHA-256 of its PAE, as
 * cosign v3 and sigstore-go do (rekor-tiles no longer takes DSSE entries; sigstore-servers.md §0.6). The v2 log gives
 * no SET, so cosign's legacy formats, which carry only a SET, cannot be made from it.
 */
export class RekorV2Uploader implements TlogUploader {
  private readonly client: RekorV2Client;

  constructor(readonly url: string) {
    this.client = new RekorV2Client(url);
  }

  async uploadDsse(envelope: DsseEnvelope, signer: Signer): Promise<TlogEntryInput> {
    const sig = envelope.signatures[0];
    if (!sig || envelope.signatures.length !== 1)
      throw new SealError('E_INVALID_ARGUMENT', 'a Rekor v2 log records an envelope with one signature');
    const digest = createHash('sha256')
      .update(preAuthEncoding(envelope.payloadType, envelope.payload))
      .digest();
    return this.client.createEntry(hashedRekordRequestV2(new Uint8Array(digest), sig.sig, signer));
  }

  async uploadHashedRekord(
    artifactDigest: Digest,
    signature: Uint8Array,
    signer: Signer,
  ): Promise<TlogEntryInput> {
    if (artifactDigest.algorithm !== 'sha256')
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `a Rekor v2 entry from seal is over a SHA-256 digest, not ${artifactDigest.algorithm}`,
      );
    return this.client.createEntry(hashedRekordRequestV2(hexBytes(artifactDigest.hex), signature, signer));
  }

  private noLegacy(): never {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `the Rekor v2 log at ${this.url} gives no signed entry timestamp, which cosign's legacy signature format needs: sign with the bundle format (the default) or a Rekor v1 log`,
    );
  }

  async uploadLegacy(): Promise<RekorBundle> {
    return this.noLegacy();
  }

  async uploadLegacyDsse(): Promise<RekorBundle> {
    return this.noLegacy();
  }
}
