// A Sigstore bundle from signed material made elsewhere (cosign's `bundle create`): a detached signature or a
// DSSE envelope, the signing certificate or key, an RFC 3161 timestamp, and the log entry found in the log.
// cosign.md §2b (bundle), sigstore-servers.md §1 (entries, index search).

import { createHash } from 'node:crypto';
import { SealError } from '../errors.js';
import {
  BUNDLE_V03_LEGACY_MEDIA_TYPE,
  buildBundle,
  type SerializedBundle,
  type TlogEntryInput,
  type VerificationMaterialInput,
} from '../formats/bundle.js';
import type { RekorBundle } from '../formats/cosign.js';
import { type DsseEnvelope, preAuthEncoding } from '../formats/dsse.js';
import { parseCertificate, publicKeyOf } from '../formats/x509.js';
import { loadPublicKey } from '../keys/public-key.js';
import type { PublicKeyVerifier } from '../keys/types.js';
import { RekorClient } from '../tlog/client.js';
import type { LogEntry } from '../tlog/entry.js';
import { tlogEntryFromLogEntry } from './tlog.js';

export interface BundleCreateInput {
  /** The artifact's bytes (its sha256 is the message digest and the log's index key). */
  artifact: Uint8Array;
  /** A signature over the artifact, or … */
  signature?: Uint8Array;
  /** … a DSSE envelope (an attestation) with one signature. */
  envelope?: DsseEnvelope;
  /** DER of the signing certificate, or the public key (PEM) of a key pair. */
  certificateDer?: Uint8Array;
  publicKeyPem?: string;
  /** DER TimeStampResp over the signature. */
  rfc3161Timestamp?: Uint8Array;
  /** Where to find the log entry; undefined with ignoreTlog. */
  rekorUrl?: string;
  ignoreTlog?: boolean;
  /** A cosign v2 blob bundle's log evidence: the entry to fetch (by index) before searching. */
  rekorBundle?: RekorBundle;
}

/** Log entries read at most while searching for the signature's entry. */
const MAX_CANDIDATES = 32;

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

function signerKey(input: BundleCreateInput): {
  key: PublicKeyVerifier;
  material: VerificationMaterialInput;
} {
  if (input.certificateDer) {
    let pem: string;
    try {
      pem = publicKeyOf(parseCertificate(input.certificateDer))
        .export({ type: 'spki', format: 'pem' })
        .toString();
    } catch (cause) {
      throw new SealError(
        'E_CERTIFICATE_INVALID',
        `the certificate does not parse: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
    return { key: loadPublicKey(pem), material: { certificate: input.certificateDer } };
  }
  if (input.publicKeyPem) {
    const key = loadPublicKey(input.publicKeyPem);
    return { key, material: { publicKeyHint: key.hint } };
  }
  throw new SealError(
    'E_INVALID_ARGUMENT',
    'a bundle needs who signed: --certificate, --key, or a cosign v2 --bundle that carries the certificate',
  );
}

/** True when the logged body records this signature (hashedrekord over the artifact, or this DSSE envelope). */
function bodyRecords(
  body: unknown,
  input: BundleCreateInput,
  artifactSha256: string,
  sig: Uint8Array,
): boolean {
  const b = body as { kind?: unknown; spec?: Record<string, unknown> } | null;
  const spec = b?.spec;
  if (!spec) return false;
  if (b.kind === 'hashedrekord' && !input.envelope) {
    const s = spec as { data?: { hash?: { value?: unknown } }; signature?: { content?: unknown } };
    return s.data?.hash?.value === artifactSha256 && s.signature?.content === b64(sig);
  }
  if (b.kind === 'dsse' && input.envelope) {
    const s = spec as { payloadHash?: { value?: unknown }; signatures?: { signature?: unknown }[] };
    return (
      s.payloadHash?.value === sha256(input.envelope.payload) &&
      Array.isArray(s.signatures) &&
      s.signatures.some((x) => x?.signature === b64(sig))
    );
  }
  return false;
}

function bodyOf(entry: LogEntry): unknown {
  try {
    return JSON.parse(Buffer.from(entry.body, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The log entry for the signature: the one a v2 bundle names (by index), else the entries indexed under
 * the artifact (or DSSE payload) digest whose body records this signature. Its inclusion proof and SET come
 * from the log; the bundle's reader verifies them, nothing here is trusted.
 */
async function findLogEntry(
  input: BundleCreateInput,
  artifactSha256: string,
  sig: Uint8Array,
): Promise<TlogEntryInput> {
  const client = new RekorClient(input.rekorUrl!);
  if (input.rekorBundle) {
    const entry = await client.getEntryByIndex(input.rekorBundle.Payload.logIndex);
    if (entry.body !== input.rekorBundle.Payload.body)
      throw new SealError(
        'E_TLOG_INVALID',
        `the log at ${client.baseUrl} holds another entry at index ${input.rekorBundle.Payload.logIndex} than the bundle's`,
      );
    if (!entry.verification.inclusionProof)
      throw new SealError(
        'E_TLOG_INVALID',
        `the log at ${client.baseUrl} gave no inclusion proof for the entry`,
      );
    return tlogEntryFromLogEntry(entry);
  }
  const key = input.envelope ? sha256(input.envelope.payload) : artifactSha256;
  const uuids = (await client.searchIndex({ hash: `sha256:${key}` })).slice(0, MAX_CANDIDATES);
  const found: LogEntry[] = [];
  for (const uuid of uuids) {
    const entry = await client.getEntryByUuid(uuid);
    if (bodyRecords(bodyOf(entry), input, artifactSha256, sig)) found.push(entry);
  }
  if (found.length === 0)
    throw new SealError(
      'E_TLOG_INVALID',
      `unable to find the tlog entry for this signature in ${client.baseUrl}: pass --rekor-url for the log it was written to, or --ignore-tlog for a signature never logged`,
    );
  // The same signature logged twice: the earliest entry, as a verifier searching the log would find it.
  found.sort((a, b) => a.logIndex - b.logIndex);
  const entry = found[0]!;
  if (!entry.verification.inclusionProof)
    throw new SealError(
      'E_TLOG_INVALID',
      `the log at ${client.baseUrl} gave no inclusion proof for the entry`,
    );
  return tlogEntryFromLogEntry(entry);
}

/** Assemble (and check) the bundle. The signature must verify with the certificate's or the given key. */
export async function createBundle(input: BundleCreateInput): Promise<SerializedBundle> {
  if (Boolean(input.signature) === Boolean(input.envelope))
    throw new SealError(
      'E_INVALID_ARGUMENT',
      'a bundle holds one signature: a detached signature or a DSSE envelope',
    );
  const { key, material } = signerKey(input);
  const artifactSha256 = sha256(input.artifact);
  let sig: Uint8Array;
  if (input.envelope) {
    const env = input.envelope;
    if (env.signatures.length !== 1)
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `the DSSE envelope has ${env.signatures.length} signatures; a bundle carries exactly one`,
      );
    sig = env.signatures[0]!.sig;
    if (!key.verify(preAuthEncoding(env.payloadType, env.payload), sig))
      throw new SealError(
        'E_SIGNATURE_INVALID',
        'the DSSE envelope signature does not verify with the signer key',
      );
  } else {
    sig = input.signature!;
    if (!key.verify(input.artifact, sig))
      throw new SealError(
        'E_SIGNATURE_INVALID',
        'the signature does not verify with the signer key over --artifact (another file, or another key)',
      );
  }
  const tlogEntries = input.ignoreTlog ? [] : [await findLogEntry(input, artifactSha256, sig)];
  return buildBundle({
    // cosign's bundle create writes the v0.3 bundle under this media type name; readers take both.
    mediaType: BUNDLE_V03_LEGACY_MEDIA_TYPE,
    content: input.envelope
      ? { dsseEnvelope: { ...input.envelope, signatures: [{ sig }] } }
      : {
          messageSignature: {
            digest: new Uint8Array(Buffer.from(artifactSha256, 'hex')),
            algorithm: 'SHA2_256',
            signature: sig,
          },
        },
    verificationMaterial: material,
    tlogEntries,
    ...(input.rfc3161Timestamp ? { rfc3161Timestamps: [input.rfc3161Timestamp] } : {}),
  });
}
