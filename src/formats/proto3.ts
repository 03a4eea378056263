// Reading the scalar fields of protobuf JSON as proto3 defines them: a field at its zero value may be left
// out (int64 "0", enum value 0, "", []), and `null` stands for the default. (The bundle, trusted root and
// signing config messages have no bool fields.) protobuf.dev "ProtoJSON Format".

/**
 * An integer field (int64/uint64 as a decimal string or a number; int32/uint32 as a number or a string).
 * Absent or null is 0. Returns undefined when the value is not an integer in one of those forms.
 */
export function protoInteger(v: unknown): bigint | undefined {
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'string') return /^-?\d+$/.test(v) ? BigInt(v) : undefined;
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : undefined;
  return undefined;
}

/** An enum's value names by number (protobuf-specs). The name at 0 is the default. */
export type ProtoEnum = Readonly<Record<number, string>>;

/** sigstore_common.proto HashAlgorithm. */
export const HASH_ALGORITHM: ProtoEnum = {
  0: 'HASH_ALGORITHM_UNSPECIFIED',
  1: 'SHA2_256',
  2: 'SHA2_384',
  3: 'SHA2_512',
  4: 'SHA3_256',
  5: 'SHA3_384',
};

/** sigstore_common.proto PublicKeyDetails (the numbers are not in declaration order). */
export const PUBLIC_KEY_DETAILS: ProtoEnum = {
  0: 'PUBLIC_KEY_DETAILS_UNSPECIFIED',
  1: 'PKCS1_RSA_PKCS1V5',
  2: 'PKCS1_RSA_PSS',
  3: 'PKIX_RSA_PKCS1V5',
  4: 'PKIX_RSA_PSS',
  5: 'PKIX_ECDSA_P256_SHA_256',
  6: 'PKIX_ECDSA_P256_HMAC_SHA_256',
  7: 'PKIX_ED25519',
  8: 'PKIX_ED25519_PH',
  9: 'PKIX_RSA_PKCS1V15_2048_SHA256',
  10: 'PKIX_RSA_PKCS1V15_3072_SHA256',
  11: 'PKIX_RSA_PKCS1V15_4096_SHA256',
  12: 'PKIX_ECDSA_P384_SHA_384',
  13: 'PKIX_ECDSA_P521_SHA_512',
  14: 'LMS_SHA256',
  15: 'LMOTS_SHA256',
  16: 'PKIX_RSA_PSS_2048_SHA256',
  17: 'PKIX_RSA_PSS_3072_SHA256',
  18: 'PKIX_RSA_PSS_4096_SHA256',
  19: 'PKIX_ECDSA_P384_SHA_256',
  20: 'PKIX_ECDSA_P521_SHA_256',
  21: 'ML_DSA_65',
  22: 'ML_DSA_87',
  23: 'ML_DSA_44',
};

/** sigstore_trustroot.proto ServiceSelector. */
export const SERVICE_SELECTOR: ProtoEnum = {
  0: 'SERVICE_SELECTOR_UNDEFINED',
  1: 'ALL',
  2: 'ANY',
  3: 'EXACT',
};

const NAMES = new WeakMap<ProtoEnum, Set<string>>();

/**
 * An enum field as its value name: absent or null is the value numbered 0; a name or a number of the enum
 * is accepted (protobuf JSON parsers take both). Returns undefined for a value the enum does not have.
 * With `open`, any upper-case name is kept as given (a value newer than this table, e.g. a key type added
 * to a trusted root, is left to whoever uses it rather than failing the whole document).
 */
export function protoEnum(
  table: ProtoEnum,
  v: unknown,
  options: { open?: boolean } = {},
): string | undefined {
  if (v === undefined || v === null) return table[0];
  if (typeof v === 'number') return Number.isInteger(v) ? table[v] : undefined;
  if (typeof v !== 'string') return undefined;
  if (options.open) return /^[A-Z][A-Z0-9_]*$/.test(v) ? v : undefined;
  let names = NAMES.get(table);
  if (!names) {
    names = new Set(Object.values(table));
    NAMES.set(table, names);
  }
  return names.has(v) ? v : undefined;
}
