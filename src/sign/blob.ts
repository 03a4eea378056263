// Signing files (`sign-blob`): a Sigstore bundle with a messageSignature over the file's SHA-256,
// computed streaming so large files never sit in memory. cosign.md §1 `sign-blob`.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { SealError } from '../errors.js';
import { buildBundle, type SerializedBundle } from '../formats/bundle.js';
import type { Signer } from '../keys/types.js';
import { Digest } from '../oci/digest.js';
import { type TlogUploader, verificationMaterialFor } from './attach.js';

export interface SignBlobOptions {
  signer: Signer;
  tlog?: TlogUploader;
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
  const { digest, signature } = await signFile(path, options.signer);
  const tlogEntries = options.tlog
    ? [await options.tlog.uploadHashedRekord(digest, signature, options.signer)]
    : [];
  const bundle = buildBundle({
    content: {
      messageSignature: { digest: Buffer.from(digest.hex, 'hex'), algorithm: 'SHA2_256', signature },
    },
    verificationMaterial: verificationMaterialFor(options.signer),
    tlogEntries,
  });
  return { bundle, digest };
}
