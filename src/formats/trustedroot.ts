// Sigstore trust material as data: the protobuf-specs TrustedRoot JSON (trusted_root.json), parsed with
// zod and built for seal's own log/CA. protobuf-specs sigstore_trustroot.proto; cosign.md §3 (--trusted-root).

import { createHash, type KeyObject } from 'node:crypto';
import * as z from 'zod';
import { SealError } from '../errors.js';
import { base64String, encodeBase64 } from './base64.js';
import { HASH_ALGORITHM, PUBLIC_KEY_DETAILS, type ProtoEnum, protoEnum } from './proto3.js';

export const TRUSTED_ROOT_MEDIA_TYPE_V01 = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';
export const TRUSTED_ROOT_MEDIA_TYPE_V02 = 'application/vnd.dev.sigstore.trustedroot.v0.2+json';

// proto3 JSON leaves out fields at their zero value and reads null as the default: enums default to their
// value 0 (…_UNSPECIFIED), strings to "", lists to []. A validity start or a key's bytes are not defaulted:
// without them there is nothing to trust. Enum names this table does not know are kept (open enums).
const enumField = (table: ProtoEnum, what: string) =>
  z
    .union([z.string(), z.number()])
    .nullish()
    .refine((v) => protoEnum(table, v, { open: true }) !== undefined, {
      message: `is not a ${what} name or number`,
    })
    .transform((v) => protoEnum(table, v, { open: true }) as string);
const listField = <T extends z.ZodType>(item: T) =>
  z
    .array(item)
    .nullish()
    .transform((v) => v ?? []);
const stringField = z
  .string()
  .nullish()
  .transform((v) => v ?? '');

const TimeRangeSchema = z.object({
  start: z.string().datetime({ offset: true }),
  end: z.string().datetime({ offset: true }).nullish(),
});

const PublicKeySchema = z.object({
  rawBytes: z.optional(base64String),
  keyDetails: enumField(PUBLIC_KEY_DETAILS, 'PublicKeyDetails'),
  validFor: TimeRangeSchema.nullish(),
});

export const TransparencyLogInstanceSchema = z.object({
  baseUrl: stringField,
  hashAlgorithm: enumField(HASH_ALGORITHM, 'HashAlgorithm'),
  publicKey: PublicKeySchema,
  logId: z.object({ keyId: base64String }),
  checkpointKeyId: z.object({ keyId: base64String }).nullish(),
  operator: z.string().nullish(),
});

export const CertificateAuthoritySchema = z.object({
  subject: z.object({ organization: z.string().nullish(), commonName: z.string().nullish() }).nullish(),
  uri: z.string().nullish(),
  certChain: z
    .object({ certificates: listField(z.object({ rawBytes: base64String })) })
    .refine((c) => c.certificates.length > 0, { message: 'holds no certificate', path: ['certificates'] }),
  validFor: TimeRangeSchema,
  operator: z.string().nullish(),
});

export const TrustedRootSchema = z.object({
  mediaType: z.enum([TRUSTED_ROOT_MEDIA_TYPE_V01, TRUSTED_ROOT_MEDIA_TYPE_V02]),
  tlogs: listField(TransparencyLogInstanceSchema),
  certificateAuthorities: listField(CertificateAuthoritySchema),
  ctlogs: listField(TransparencyLogInstanceSchema),
  timestampAuthorities: listField(CertificateAuthoritySchema),
});

export type TrustedRoot = z.infer<typeof TrustedRootSchema>;
export type TransparencyLogInstance = z.infer<typeof TransparencyLogInstanceSchema>;
export type CertificateAuthority = z.infer<typeof CertificateAuthoritySchema>;

function parseJson(input: Uint8Array | string | unknown, what: string): unknown {
  if (!(input instanceof Uint8Array) && typeof input !== 'string') return input;
  try {
    return JSON.parse(typeof input === 'string' ? input : new TextDecoder().decode(input));
  } catch (cause) {
    throw new SealError('E_TRUSTED_ROOT_INVALID', `the ${what} is not JSON`, { cause });
  }
}

/** Parse a trusted_root.json. E_TRUSTED_ROOT_INVALID (shape) or E_BASE64 (key/cert bytes). */
export function parseTrustedRoot(input: Uint8Array | string | unknown): TrustedRoot {
  const parsed = TrustedRootSchema.safeParse(parseJson(input, 'trusted root'));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const code = issue?.message === 'invalid base64' ? 'E_BASE64' : 'E_TRUSTED_ROOT_INVALID';
    throw new SealError(
      code,
      `malformed trusted root: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(),
    );
  }
  return parsed.data;
}

/** The protobuf PublicKeyDetails name for a key (the ones seal's log and CA use). */
export type KeyDetails =
  | 'PKIX_ECDSA_P256_SHA_256'
  | 'PKIX_ECDSA_P384_SHA_384'
  | 'PKIX_ECDSA_P521_SHA_512'
  | 'PKIX_ED25519'
  | 'PKIX_RSA_PKCS1V15_2048_SHA256'
  | 'PKIX_RSA_PKCS1V15_3072_SHA256'
  | 'PKIX_RSA_PKCS1V15_4096_SHA256';

/** The PublicKeyDetails of a log key (as cosign trusted-root create names them); undefined for other keys. */
export function keyDetailsForKey(key: KeyObject): KeyDetails | undefined {
  if (key.asymmetricKeyType === 'ed25519') return 'PKIX_ED25519';
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'PKIX_ECDSA_P256_SHA_256';
    if (curve === 'secp384r1') return 'PKIX_ECDSA_P384_SHA_384';
    if (curve === 'secp521r1') return 'PKIX_ECDSA_P521_SHA_512';
    return undefined;
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength;
    if (bits === 2048) return 'PKIX_RSA_PKCS1V15_2048_SHA256';
    if (bits === 3072) return 'PKIX_RSA_PKCS1V15_3072_SHA256';
    if (bits === 4096) return 'PKIX_RSA_PKCS1V15_4096_SHA256';
  }
  return undefined;
}

/**
 * A log key's checkpoint key ID for the note origin it signs as (Rekor v2, C2SP signed-note; the ID
 * cosign trusted-root create writes for `origin=`): Ed25519 SHA-256(origin‖0x0A‖0x01‖key), ECDSA the
 * SHA-256 of the SPKI, RSA SHA-256(origin‖0x0A‖0xFF‖"PKIX-RSA-PKCS#1v1.5"‖SPKI). sigstore-servers.md §2.
 */
export function checkpointKeyId(
  origin: string,
  publicKeyDer: Uint8Array,
  keyDetails: KeyDetails,
): Uint8Array {
  const h = createHash('sha256');
  if (keyDetails === 'PKIX_ED25519') {
    h.update(`${origin}\n`)
      .update(Uint8Array.of(0x01))
      .update(publicKeyDer.subarray(publicKeyDer.length - 32));
  } else if (keyDetails.startsWith('PKIX_RSA')) {
    h.update(`${origin}\n`).update(Uint8Array.of(0xff)).update('PKIX-RSA-PKCS#1v1.5').update(publicKeyDer);
  } else {
    h.update(publicKeyDer);
  }
  return Uint8Array.from(h.digest());
}

/** A log's ID: sha256 of its DER (SPKI) public key. */
export function spkiLogId(publicKeyDer: Uint8Array): Uint8Array {
  return Uint8Array.from(createHash('sha256').update(publicKeyDer).digest());
}

export interface LogInstanceInput {
  baseUrl: string;
  publicKeyDer: Uint8Array;
  keyDetails: KeyDetails;
  validFrom: Date;
  validUntil?: Date;
  /** Defaults to sha256(publicKeyDer). */
  logId?: Uint8Array;
  /** Rekor v2 logs only (sigstore-servers.md §0.4): the note key ID, equal to their logId. */
  checkpointKeyId?: Uint8Array;
  operator?: string;
}

export interface CertificateAuthorityInput {
  uri: string;
  /** DER certificates, leaf/intermediate first, root last. */
  certificates: Uint8Array[];
  organization?: string;
  commonName?: string;
  validFrom: Date;
  validUntil?: Date;
  operator?: string;
}

function timeRange(from: Date, until?: Date) {
  return until ? { start: from.toISOString(), end: until.toISOString() } : { start: from.toISOString() };
}

export function buildLogInstance(input: LogInstanceInput): TransparencyLogInstance {
  return {
    baseUrl: input.baseUrl,
    hashAlgorithm: 'SHA2_256',
    publicKey: {
      rawBytes: encodeBase64(input.publicKeyDer),
      keyDetails: input.keyDetails,
      validFor: timeRange(input.validFrom, input.validUntil),
    },
    logId: { keyId: encodeBase64(input.logId ?? spkiLogId(input.publicKeyDer)) },
    ...(input.checkpointKeyId ? { checkpointKeyId: { keyId: encodeBase64(input.checkpointKeyId) } } : {}),
    ...(input.operator ? { operator: input.operator } : {}),
  };
}

export function buildCertificateAuthority(input: CertificateAuthorityInput): CertificateAuthority {
  return {
    subject: { organization: input.organization ?? '', commonName: input.commonName ?? '' },
    uri: input.uri,
    certChain: { certificates: input.certificates.map((c) => ({ rawBytes: encodeBase64(c) })) },
    validFor: timeRange(input.validFrom, input.validUntil),
    ...(input.operator ? { operator: input.operator } : {}),
  };
}

/** A trusted root JSON object (v0.1 media type, the one every client reads). */
export function buildTrustedRoot(input: {
  tlogs?: LogInstanceInput[];
  certificateAuthorities?: CertificateAuthorityInput[];
  ctlogs?: LogInstanceInput[];
  timestampAuthorities?: CertificateAuthorityInput[];
}): TrustedRoot {
  return {
    mediaType: TRUSTED_ROOT_MEDIA_TYPE_V01,
    tlogs: (input.tlogs ?? []).map(buildLogInstance),
    certificateAuthorities: (input.certificateAuthorities ?? []).map(buildCertificateAuthority),
    ctlogs: (input.ctlogs ?? []).map(buildLogInstance),
    timestampAuthorities: (input.timestampAuthorities ?? []).map(buildCertificateAuthority),
  };
}
