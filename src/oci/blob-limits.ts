// Bounded blob reads shared by every ImageStore: a body is cut off as soon as it passes its descriptor's
// size or the caller's cap, and verified against its digest at its end (image-spec "Descriptors": size).

import { SealError } from '../errors.js';
import { type Digest, DigestVerifier } from './digest.js';
import { type BlobReadOptions, DEFAULT_MAX_BLOB_BYTES } from './store.js';

/** What one read may take: the descriptor's exact size (if known) and the cap. */
export interface BlobLimits {
  size: number | undefined;
  max: number;
}

/**
 * The limits of a read. `inMemory` (getBlob) applies DEFAULT_MAX_BLOB_BYTES when neither `size` nor
 * `maxBytes` is given; a stream without either is bounded only by its deadline.
 */
export function blobLimits(
  options: BlobReadOptions | undefined,
  inMemory: boolean,
  what: string,
): BlobLimits {
  const size = options?.size;
  if (size !== undefined && !(Number.isSafeInteger(size) && size >= 0)) {
    throw new SealError('E_SIZE_MISMATCH', `${what}: its descriptor gives an impossible size (${size})`);
  }
  const maxBytes = options?.maxBytes;
  if (maxBytes !== undefined && !(maxBytes >= 0)) {
    throw new SealError('E_INVALID_ARGUMENT', `${what}: maxBytes must be a byte count, got ${maxBytes}`);
  }
  const cap =
    maxBytes ?? (inMemory && size === undefined ? DEFAULT_MAX_BLOB_BYTES : Number.POSITIVE_INFINITY);
  return { size, max: Math.min(size ?? Number.POSITIVE_INFINITY, cap) };
}

function overSize(what: string, size: number, read: number): SealError {
  return new SealError(
    'E_SIZE_MISMATCH',
    `${what}: the body runs past the ${size} bytes its descriptor gives (${read} read); stopped reading`,
    { details: { expected: size, read } },
  );
}

function overCap(what: string, max: number, read: number): SealError {
  return new SealError(
    'E_BLOB_TOO_LARGE',
    `${what} is over the ${max}-byte limit (${read} read); stopped reading`,
    {
      details: { limit: max, read },
    },
  );
}

/**
 * Refuse up front a length announced (Content-Length, file size) that the limits already rule out. A
 * shorter one is read (it is within bounds) and fails its digest or size check at the end.
 */
export function checkAnnouncedLength(limits: BlobLimits, length: number, what: string): void {
  if (!Number.isFinite(length) || length < 0) return;
  if (limits.size !== undefined && length > limits.size) {
    throw new SealError(
      'E_SIZE_MISMATCH',
      `${what} is announced as ${length} bytes, but its descriptor gives ${limits.size}; nothing read`,
      { details: { expected: limits.size, announced: length } },
    );
  }
  if (length > limits.max) {
    throw new SealError(
      'E_BLOB_TOO_LARGE',
      `${what} is announced as ${length} bytes, over the ${limits.max}-byte limit; nothing read`,
      {
        details: { limit: limits.max, announced: length },
      },
    );
  }
}

/**
 * Pass `chunks` through while they stay within `limits`, stopping (and so ending the source's read) at the
 * first chunk past them (E_SIZE_MISMATCH / E_BLOB_TOO_LARGE); at the end, refuse bytes that do not hash to
 * `digest` (E_DIGEST_MISMATCH), then a body that does but is shorter than its descriptor says.
 */
export async function* limitedVerified(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  digest: Digest,
  limits: BlobLimits,
  what: string,
): AsyncGenerator<Uint8Array> {
  const verifier = new DigestVerifier(digest);
  let read = 0;
  for await (const chunk of chunks) {
    read += chunk.byteLength;
    if (read > limits.max) {
      throw limits.size !== undefined && read > limits.size
        ? overSize(what, limits.size, read)
        : overCap(what, limits.max, read);
    }
    verifier.update(chunk);
    yield chunk;
  }
  verifier.finish(what);
  if (limits.size !== undefined && read !== limits.size) {
    throw new SealError(
      'E_SIZE_MISMATCH',
      `${what}: the body ends after ${read} bytes, short of the ${limits.size} its descriptor gives`,
      { details: { expected: limits.size, read } },
    );
  }
}
