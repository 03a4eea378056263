// Attesting files (`attest-blob`): an in-toto statement whose subject is the file's sha256 digest (name =
// its base name), signed in a DSSE envelope and returned as a Sigstore bundle. cosign.md §2c (blobs).

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { SealError } from '../errors.js';
import { buildBundle, type SerializedBundle } from '../formats/bundle.js';
import { type DsseEnvelope, IN_TOTO_PAYLOAD_TYPE, signEnvelope } from '../formats/dsse.js';
import { buildStatement, resolvePredicateType } from '../formats/intoto.js';
import type { Signer } from '../keys/types.js';
import { Digest } from '../oci/digest.js';
import { type TlogUploader, verificationMaterialFor } from './attach.js';

export interface AttestBlobOptions {
  signer: Signer;
  /** A cosign `--type` shortcut or a predicate type URI. */
  type: string;
  /** The predicate (see predicateFor in sign/attest.ts). */
  predicate: unknown;
  tlog?: TlogUploader;
}

export interface AttestedBlob {
  bundle: SerializedBundle;
  envelope: DsseEnvelope;
  digest: Digest;
  predicateType: string;
}

/** sha256 of a file, streaming. */
export async function fileSha256(path: string): Promise<Digest> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }))
      hash.update(chunk as Buffer);
  } catch (cause) {
    throw new SealError('E_IO', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  return Digest.parse(`sha256:${hash.digest('hex')}`);
}

/** Attest a file already hashed: `subject` is its base name and digest. */
export async function attestDigest(
  subject: { name: string; digest: Digest },
  options: AttestBlobOptions,
): Promise<AttestedBlob> {
  const predicateType = resolvePredicateType(options.type);
  const statement = buildStatement({
    subjects: [{ name: subject.name, digest: { [subject.digest.algorithm]: subject.digest.hex } }],
    predicateType,
    predicate: options.predicate,
  });
  const envelope = await signEnvelope(options.signer, IN_TOTO_PAYLOAD_TYPE, statement);
  const tlogEntries = options.tlog ? [await options.tlog.uploadDsse(envelope, options.signer)] : [];
  const bundle = buildBundle({
    content: { dsseEnvelope: envelope },
    verificationMaterial: verificationMaterialFor(options.signer),
    tlogEntries,
  });
  return { bundle, envelope, digest: subject.digest, predicateType };
}

/** Attest the file at `path` (hashed streaming; never read whole). */
export async function attestBlob(path: string, options: AttestBlobOptions): Promise<AttestedBlob> {
  const digest = await fileSha256(path);
  return attestDigest({ name: basename(path), digest }, options);
}
