// Attesting images: an in-toto Statement v1 about the image digest, signed in a DSSE envelope, attached
// as a bundle referrer (default) or a legacy `.att` layer. cosign.md §2c.

import { SealError } from '../errors.js';
import { DSSE_LAYER_MEDIA_TYPE } from '../formats/cosign.js';
import { IN_TOTO_PAYLOAD_TYPE, serializeEnvelope, signEnvelope } from '../formats/dsse.js';
import {
  buildStatement,
  parseStatement,
  resolvePredicateType,
  subjectMatchesDigest,
} from '../formats/intoto.js';
import type { Signer } from '../keys/types.js';
import { Digest } from '../oci/digest.js';
import { formatReference, parseReference, type Reference, repositoryName } from '../oci/ref.js';
import type { ImageStore } from '../oci/store.js';
import { attachBundle, type Timestamper, type TlogUploader } from './attach.js';
import { resolveSigningTargets, type SignedImage } from './image.js';
import { appendLegacySignature } from './legacy.js';

export interface AttestImageOptions {
  signer: Signer;
  store: ImageStore;
  /** A cosign `--type` shortcut or a predicate type URI. */
  type: string;
  /** The predicate (parsed JSON, or text for `custom`). */
  predicate: unknown;
  /**
   * A complete in-toto statement to sign as it is (cosign's `--statement`) instead of one built from
   * `type` and `predicate`: its subjects must name every manifest attested, and `type` must be its type.
   */
  statement?: Uint8Array;
  recursive?: boolean;
  newBundleFormat?: boolean;
  upload?: boolean;
  tlog?: TlogUploader;
  /** RFC 3161 timestamps over the signature (bundle format only). */
  timestamper?: Timestamper;
  warn?: (message: string) => void;
  now?: () => Date;
  /** cosign's `--attachment-tag-prefix` for the legacy `.att` tag. */
  tagPrefix?: string;
}

/** cosign wraps a `custom` predicate file as `{Data, Timestamp}`; other types take the file's JSON as is. */
export function predicateFor(type: string, fileText: string, now: Date): unknown {
  const predicateType = resolvePredicateType(type);
  if (predicateType === 'https://cosign.sigstore.dev/attestation/v1') {
    return { Data: fileText, Timestamp: `${now.toISOString().slice(0, 19)}Z` };
  }
  if (type === 'spdx') return fileText;
  try {
    return JSON.parse(fileText);
  } catch (cause) {
    throw new SealError('E_INVALID_ARGUMENT', `the predicate for --type ${type} must be JSON`, { cause });
  }
}

export async function attestImage(
  image: string | Reference,
  options: AttestImageOptions,
): Promise<SignedImage[]> {
  const ref = typeof image === 'string' ? parseReference(image) : image;
  const predicateType = resolvePredicateType(options.type);
  if (!ref.digest) {
    options.warn?.(
      `Image reference ${formatReference(ref)} uses a tag, not a digest; attesting the digest it points to now.`,
    );
  }
  const given = options.statement ? parseStatement(options.statement) : undefined;
  if (given && given.predicateType !== predicateType)
    throw new SealError(
      'E_PREDICATE_TYPE_MISMATCH',
      `the statement's predicateType is ${given.predicateType}, not ${predicateType}`,
    );
  const targets = await resolveSigningTargets(options.store, ref, options.recursive ?? false);
  const out: SignedImage[] = [];
  for (const target of targets) {
    const digest = Digest.parse(target.descriptor.digest);
    if (given && !given.subject.some((s) => subjectMatchesDigest(s, digest)))
      throw new SealError(
        'E_SUBJECT_MISMATCH',
        `the statement has no subject with the digest ${digest.toString()} of ${formatReference(target.ref)}`,
      );
    const statement =
      options.statement ??
      buildStatement({
        subjects: [{ name: repositoryName(target.ref), digest: { [digest.algorithm]: digest.hex } }],
        predicateType,
        predicate: options.predicate,
      });
    const envelope = await signEnvelope(options.signer, IN_TOTO_PAYLOAD_TYPE, statement);
    const reference = formatReference(target.ref);
    if (options.newBundleFormat ?? true) {
      const attached = await attachBundle({
        store: options.store,
        ref: target.ref,
        subject: target.descriptor,
        envelope,
        envelopeBytes: serializeEnvelope(envelope),
        predicateType,
        signer: options.signer,
        ...(options.tlog ? { tlog: options.tlog } : {}),
        ...(options.timestamper ? { timestamper: options.timestamper } : {}),
        upload: options.upload ?? true,
        created: (options.now ?? (() => new Date()))(),
      });
      out.push({
        reference,
        digest: digest.toString(),
        format: 'bundle',
        bundle: attached.bundle,
        ...(attached.storedAt ? { storedAt: attached.storedAt } : {}),
      });
      continue;
    }
    if (options.upload === false) {
      // cosign v2's `attest --no-upload`: logged as cosign would, nothing attached, the envelope kept by the caller.
      if (options.tlog) await options.tlog.uploadLegacyDsse(envelope, options.signer);
      out.push({ reference, digest: digest.toString(), format: 'legacy', envelope });
      continue;
    }
    const result = await appendLegacySignature({
      store: options.store,
      ref: target.ref,
      digest,
      payload: serializeEnvelope(envelope),
      signature: new Uint8Array(0),
      signer: options.signer,
      ...(options.tlog ? { tlog: options.tlog } : {}),
      kind: 'att',
      mediaType: DSSE_LAYER_MEDIA_TYPE,
      predicateType,
      envelope,
      ...(options.tagPrefix ? { tagPrefix: options.tagPrefix } : {}),
    });
    out.push({
      reference,
      digest: digest.toString(),
      format: 'legacy',
      storedAt: result.tag,
      duplicate: result.duplicate,
    });
  }
  return out;
}
