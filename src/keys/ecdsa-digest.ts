// Which digests an ECDSA signature may be checked over, shared by the log (hashedrekord) and verify (digest-only input).
// FIPS 186-5 §6.4.2 step 3 (e = leftmost bits of the digest, as many as the order has) and its e ≡ 0 (mod n) case.

/** Group orders of the curves seal verifies ECDSA on (OpenSSL names). */
export const ECDSA_CURVE_ORDERS: Readonly<Record<string, bigint>> = {
  prime256v1: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  secp384r1:
    0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  secp521r1:
    0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
};

/** The integer e of FIPS 186-5 §6.4.2 for a digest on a curve of order n (not yet reduced mod n). */
export function ecdsaDigestInteger(digest: Uint8Array, n: bigint): bigint {
  if (digest.length === 0) return 0n;
  let e = BigInt(`0x${Buffer.from(digest).toString('hex')}`);
  const nBits = n.toString(2).length;
  const dBits = digest.length * 8;
  if (dBits > nBits) e >>= BigInt(dBits - nBits);
  return e;
}

/**
 * True when e ≡ 0 (mod n) for this digest on this curve. Then u1 = 0 and the check becomes x(u2·Q) = r, which
 * (r, s) = (x(Q) mod n, x(Q) mod n) passes for ANY public key Q: such a "signature" proves nothing, so every
 * prehashed ECDSA check in seal refuses these digests. Unknown curves answer false (they are refused elsewhere).
 */
export function isForgeableEcdsaDigest(curve: string, digest: Uint8Array): boolean {
  const n = ECDSA_CURVE_ORDERS[curve];
  if (n === undefined) return false;
  return ecdsaDigestInteger(digest, n) % n === 0n;
}

/** The message for a refused digest (the log answers it with 400, verify reports it as a failed check). */
export const FORGEABLE_DIGEST_MESSAGE =
  'the digest is 0 modulo the curve order once truncated (FIPS 186-5 §6.4.2): any public key "verifies" a ' +
  'signature over it, so it is refused';
