// Signing files (`sign-blob`): a Sigstore bundle with a messageSignature over the file's SHA-256,
// computed streaming so large files never sit in memory. cosign.md §1 `sign-blob`.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { SealError } from '../errors.js';
import { buildBundle, type SerializedBundle, type TlogEntryInput } from '../formats/bundle.js';
import type { RekorBundle } from '../formats/cosign.js';
import { serializeLegacyBlobBundle } from '../formats/legacy-blob-bundle.js';
import type { Signer } from '../keys/types.js';
import { Digest } from '../oci/digest.js';
import { type Timestamper, type TlogUploader, verificationMaterialFor } from './attach.js';

export interface SignBlobOptions {
  signer: Signer;
  tlog?: TlogUploader;
  timestamper?: Timestamper;
}

async function* fileChunks(path: string, onChunk: (c: Uint8Array) => void): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      onChunk(chunk as Buffer);
      yield chunk as Buffer;
    }
  } catch (cause) {
    throw new SealError('E_IO', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
}

/** Hash and sign a file in one streaming pass; returns its digest and the signature over its bytes. */
export async function signFile(
  path: string,
  signer: Signer,
): Promise<{ digest: Digest; signature: Uint8Array }> {
  const hash = createHash('sha256');
  let signature: Uint8Array;
  if (signer.signStream) {
    signature = await signer.signStream(fileChunks(path, (c) => hash.update(c)));
  } else {
    const parts: Uint8Array[] = [];
    for await (const c of fileChunks(path, (x) => hash.update(x))) parts.push(c);
    signature = await signer.sign(Buffer.concat(parts));
  }
  return { digest: Digest.parse(`sha256:${hash.digest('hex')}`), signature };
}

export async function signBlob(
  path: string,
  options: SignBlobOptions,
): Promise<{ bundle: SerializedBundle; digest: Digest }> {
  const signed = await signBlobDetached(path, options);
  return { bundle: detachedToBundle(signed, options.signer), digest: signed.digest };
}

/** A file's signature and the log's record of it, before it is packaged. */
export interface DetachedBlobSigned {
  digest: Digest;
  signature: Uint8Array;
  tlogEntry?: TlogEntryInput;
  /** DER TimeStampResps over the signature bytes. */
  rfc3161Timestamps?: Uint8Array[];
}

/** Sign a file and, with a log, record a hashedrekord entry for it. */
export async function signBlobDetached(path: string, options: SignBlobOptions): Promise<DetachedBlobSigned> {
  const { digest, signature } = await signFile(path, options.signer);
  const [tlogEntry, rfc3161Timestamps] = await Promise.all([
    options.tlog?.uploadHashedRekord(digest, signature, options.signer),
    options.timestamper?.timestamps(signature),
  ]);
  return {
    digest,
    signature,
    ...(tlogEntry ? { tlogEntry } : {}),
    ...(rfc3161Timestamps?.length ? { rfc3161Timestamps } : {}),
  };
}

/** The Sigstore bundle (messageSignature over the file's SHA-256) for a signed file. */
export function detachedToBundle(signed: DetachedBlobSigned, signer: Signer): SerializedBundle {
  return buildBundle({
    content: {
      messageSignature: {
        digest: Buffer.from(signed.digest.hex, 'hex'),
        algorithm: 'SHA2_256',
        signature: signed.signature,
      },
    },
    verificationMaterial: verificationMaterialFor(signer),
    tlogEntries: signed.tlogEntry ? [signed.tlogEntry] : [],
    rfc3161Timestamps: signed.rfc3161Timestamps ?? [],
  });
}

/** A log entry as cosign's Rekor bundle (SET + entry); refused when the log returned no SET. */
function rekorBundleOf(entry: TlogEntryInput): RekorBundle {
  if (!entry.signedEntryTimestamp) {
    throw new SealError(
      'E_TLOG_INVALID',
      'the transparency log returned no signed entry timestamp, which a cosign v2 blob bundle needs',
    );
  }
  return {
    SignedEntryTimestamp: entry.signedEntryTimestamp,
    Payload: {
      body: Buffer.from(entry.canonicalizedBody).toString('base64'),
      integratedTime: Number(entry.integratedTime),
      logIndex: Number(entry.logIndex),
      logID: Buffer.from(entry.logId).toString('hex'),
    },
  };
}

/** cosign v2's blob bundle JSON for a signed file: signature, certificate (keyless) and SET. */
export function detachedToLegacyBundle(signed: DetachedBlobSigned, signer: Signer): string {
  const certificatePem = signer.certificateChainPem?.[0];
  return serializeLegacyBlobBundle({
    signature: signed.signature,
    ...(certificatePem ? { certificatePem } : {}),
    ...(signed.tlogEntry ? { rekorBundle: rekorBundleOf(signed.tlogEntry) } : {}),
  });
}
