// Content digests as values: parsed once at the edge, compared and verified everywhere else.
// Implements the OCI image-spec "Digests" section (algorithm ":" encoded, sha256 and sha512).

import { createHash } from 'node:crypto';
import { SealError } from '../errors.js';

export type DigestAlgorithm = 'sha256' | 'sha512';

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

export class Digest {
  private constructor(
    readonly algorithm: DigestAlgorithm,
    readonly hex: string,
  ) {}

  /** Parse `sha256:<64 hex>` or `sha512:<128 hex>`; anything else is E_INVALID_DIGEST. */
  static parse(value: string): Digest {
    const colon = value.indexOf(':');
    if (colon < 0)
      throw new SealError('E_INVALID_DIGEST', `invalid digest "${value}": expected "sha256:<hex>"`);
    const alg = value.slice(0, colon);
    const hex = value.slice(colon + 1);
    if (alg !== 'sha256' && alg !== 'sha512') {
      throw new SealError('E_INVALID_DIGEST', `invalid digest "${value}": unsupported algorithm "${alg}"`);
    }
    if (hex.length !== HEX_LENGTH[alg] || !/^[0-9a-f]+$/.test(hex)) {
      throw new SealError(
        'E_INVALID_DIGEST',
        `invalid digest "${value}": ${alg} needs ${HEX_LENGTH[alg]} lowercase hex characters`,
      );
    }
    return new Digest(alg, hex);
  }

  static isValid(value: string): boolean {
    try {
      Digest.parse(value);
      return true;
    } catch {
      return false;
    }
  }

  /** The digest of `bytes` under `algorithm` (sha256 unless said otherwise). */
  static of(bytes: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): Digest {
    return new Digest(algorithm, createHash(algorithm).update(bytes).digest('hex'));
  }

  /** Hash `bytes` with this digest's algorithm and throw E_DIGEST_MISMATCH unless they match. */
  verify(bytes: Uint8Array | string, what = 'content'): void {
    const actual = createHash(this.algorithm).update(bytes).digest('hex');
    if (actual !== this.hex) {
      throw new SealError(
        'E_DIGEST_MISMATCH',
        `${what} does not match its digest: expected ${this.toString()}, got ${this.algorithm}:${actual}`,
        { details: { expected: this.toString(), found: `${this.algorithm}:${actual}` } },
      );
    }
  }

  matches(bytes: Uint8Array | string): boolean {
    return createHash(this.algorithm).update(bytes).digest('hex') === this.hex;
  }

  equals(other: Digest | string): boolean {
    return this.toString() === (typeof other === 'string' ? other : other.toString());
  }

  /** cosign's tag form: `sha256-<hex>` (used for `.sig`/`.att` tags and the referrers fallback). */
  toTagPrefix(): string {
    return `${this.algorithm}-${this.hex}`;
  }

  toString(): string {
    return `${this.algorithm}:${this.hex}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

/** Incremental hasher for streams: feed chunks, then check against the expected digest. */
export class DigestVerifier {
  private readonly hash;
  private bytes = 0;

  constructor(readonly expected: Digest) {
    this.hash = createHash(expected.algorithm);
  }

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.bytes += chunk.byteLength;
  }

  get size(): number {
    return this.bytes;
  }

  /** Throws E_DIGEST_MISMATCH if the bytes seen so far do not hash to the expected digest. */
  finish(what = 'blob'): void {
    const actual = this.hash.digest('hex');
    if (actual !== this.expected.hex) {
      throw new SealError(
        'E_DIGEST_MISMATCH',
        `${what} does not match its digest: expected ${this.expected.toString()}, got ${this.expected.algorithm}:${actual}`,
        { details: { expected: this.expected.toString(), found: `${this.expected.algorithm}:${actual}` } },
      );
    }
  }
}
