// Attesting files (`attest-blob`): an in-toto statement whose subject is the file's sha256 digest (name =
// its base name), signed in a DSSE envelope and returned as a Sigstore bundle. cosign.md §2c (blobs).

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { SealError } from '../errors.js';
import { buildBundle, type SerializedBundle } from '../formats/bundle.js';
import { type DsseEnvelope, IN_TOTO_PAYLOAD_TYPE, signEnvelope } from '../formats/dsse.js';
import {
  buildStatement,
  parseStatement,
  resolvePredicateType,
  subjectMatchesDigest,
} from '../formats/intoto.js';
import type { Signer } from '../keys/types.js';
import { Digest } from '../oci/digest.js';
import { type Timestamper, type TlogUploader, verificationMaterialFor } from './attach.js';

export interface AttestBlobOptions {
  signer: Signer;
  /** A cosign `--type` shortcut or a predicate type URI. */
  type: string;
  /** The predicate (see predicateFor in sign/attest.ts). */
  predicate: unknown;
  tlog?: TlogUploader;
  timestamper?: Timestamper;
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
  const { bundle, envelope } = await bundleStatement(statement, options);
  return { bundle, envelope, digest: subject.digest, predicateType };
}

/** Sign and bundle a DSSE envelope over statement bytes. */
async function bundleStatement(
  statement: Uint8Array,
  { signer, tlog, timestamper }: { signer: Signer; tlog?: TlogUploader; timestamper?: Timestamper },
): Promise<{ bundle: SerializedBundle; envelope: DsseEnvelope }> {
  const envelope = await signEnvelope(signer, IN_TOTO_PAYLOAD_TYPE, statement);
  const [tlogEntries, rfc3161Timestamps] = await Promise.all([
    tlog ? tlog.uploadDsse(envelope, signer).then((e) => [e]) : [],
    timestamper ? timestamper.timestamps(envelope.signatures[0]!.sig) : [],
  ]);
  const bundle = buildBundle({
    content: { dsseEnvelope: envelope },
    verificationMaterial: verificationMaterialFor(signer),
    tlogEntries,
    rfc3161Timestamps,
  });
  return { bundle, envelope };
}

/**
 * `attest-blob --statement`: sign a complete in-toto statement as given (its bytes are the DSSE payload).
 * It must parse; when `digest` is given (the file being attested) a subject must name it (E_SUBJECT_MISMATCH).
 */
export async function attestStatement(
  statementBytes: Uint8Array,
  options: { signer: Signer; tlog?: TlogUploader; timestamper?: Timestamper; digest?: Digest },
): Promise<AttestedBlob & { subjects: number }> {
  const statement = parseStatement(statementBytes);
  const first = statement.subject[0]!;
  if (options.digest && !statement.subject.some((s) => subjectMatchesDigest(s, options.digest!))) {
    throw new SealError(
      'E_SUBJECT_MISMATCH',
      `the statement's subjects do not include the file's digest ${options.digest}`,
    );
  }
  const digest =
    options.digest ??
    (first.digest.sha256 ? Digest.parse(`sha256:${first.digest.sha256.toLowerCase()}`) : undefined);
  if (!digest) throw new SealError('E_PAYLOAD_INVALID', "the statement's first subject has no sha256 digest");
  const { bundle, envelope } = await bundleStatement(statementBytes, options);
  return {
    bundle,
    envelope,
    digest,
    predicateType: statement.predicateType,
    subjects: statement.subject.length,
  };
}

/** Attest the file at `path` (hashed streaming; never read whole). */
export async function attestBlob(path: string, options: AttestBlobOptions): Promise<AttestedBlob> {
  const digest = await fileSha256(path);
  return attestDigest({ name: basename(path), digest }, options);
}
