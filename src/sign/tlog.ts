// Recording signatures in a Rekor-compatible log while signing: the proposed entries (hashedrekord and
// dsse v0.0.1, sigstore-servers.md §1 "Proposed entries") and the evidence they turn into.

import { createHash } from 'node:crypto';
import type { TlogEntryInput } from '../formats/bundle.js';
import type { RekorBundle } from '../formats/cosign.js';
import { type DsseEnvelope, envelopeToJSON } from '../formats/dsse.js';
import type { Signer } from '../keys/types.js';
import type { Digest } from '../oci/digest.js';
import { RekorClient } from '../tlog/client.js';
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
