// Sigstore bundle JSON (protobuf-specs sigstore_bundle.proto, v0.1–v0.3) → typed values, with the
// per-version rules of the bundle spec (v0.1 needs a SET, v0.2+ an inclusion proof with checkpoint).

import { type ErrorCode, SealError } from '../../errors.js';
import { HASH_ALGORITHM, protoEnum, protoInteger } from '../../formats/proto3.js';

/** A SealError, so a caller of parseBundle other than verifyBundle sees the one error hierarchy. */
/** Signed timestamps a bundle may carry, and the size of each (a TSA's reply with its chain is a few KiB). */
export const MAX_SIGNED_TIMESTAMPS = 16;
export const MAX_SIGNED_TIMESTAMP_BYTES = 64 * 1024;

export class BundleFormatError extends SealError {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
    this.name = 'BundleFormatError';
  }
}

export type BundleVersion = '0.1' | '0.2' | '0.3';

export interface TlogEntry {
  logIndex: number;
  /** Lower-case hex of logId.keyId. */
  logId: string;
  kind: string;
  version: string;
  /** Unix seconds; 0 when the log gives none (Rekor v2). */
  integratedTime: number;
  signedEntryTimestamp?: Uint8Array;
  inclusionProof?: {
    logIndex: number;
    rootHash: Uint8Array;
    treeSize: number;
    hashes: Uint8Array[];
    checkpoint?: string;
  };
  canonicalizedBody: Uint8Array;
  /** The body in standard padded base64, as the SET signs it (the bundle's text when that is already so). */
  canonicalizedBodyBase64: string;
}

export type VerificationMaterial =
  | { kind: 'publicKey'; hint?: string }
  | { kind: 'certificate'; certificates: Uint8Array[] };

export type BundleContent =
  | { kind: 'messageSignature'; digestAlgorithm?: string; digest?: Uint8Array; signature: Uint8Array }
  | { kind: 'dsse'; payloadType: string; payload: Uint8Array; signature: Uint8Array; keyid?: string };

export interface ParsedBundle {
  mediaType: string;
  version: BundleVersion;
  material: VerificationMaterial;
  tlogEntries: TlogEntry[];
  signedTimestamps: Uint8Array[];
  content: BundleContent;
}

const MEDIA_TYPES: Record<string, BundleVersion> = {
  'application/vnd.dev.sigstore.bundle+json;version=0.1': '0.1',
  'application/vnd.dev.sigstore.bundle+json;version=0.2': '0.2',
  'application/vnd.dev.sigstore.bundle+json;version=0.3': '0.3',
  'application/vnd.dev.sigstore.bundle.v0.3+json': '0.3',
};

type Json = Record<string, unknown>;

const fail = (path: string, why: string): never => {
  throw new BundleFormatError('E_BUNDLE_INVALID', `bundle: ${path} ${why}`);
};

function obj(v: unknown, path: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'must be an object');
  return v as Json;
}

function str(v: unknown, path: string): string {
  if (typeof v !== 'string') fail(path, 'must be a string');
  return v as string;
}

const STANDARD_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_SAFE_BASE64 = /^[A-Za-z0-9_-]*={0,2}$/;

/** A decoded base64 field, and whether its text is the canonical (standard, padded, unwrapped) encoding. */
interface DecodedBase64 {
  bytes: Uint8Array;
  canonical: boolean;
}

/**
 * protobuf JSON bytes: standard or URL-safe base64 (one alphabet, not both), padding optional but never more
 * than two and only at the end. Go's decoder (protojson) skips CR and LF, so line-wrapped base64 is accepted as
 * other clients accept it. The common case, standard and unwrapped, is one regular-expression pass.
 */
function decodeBase64(text: string, path: string): DecodedBase64 {
  let s = text;
  let url = false;
  if (!STANDARD_BASE64.test(s)) {
    if (URL_SAFE_BASE64.test(s)) url = true;
    else {
      if (!s.includes('\r') && !s.includes('\n')) return notBase64(path);
      s = s.replace(/[\r\n]/g, '');
      if (!STANDARD_BASE64.test(s)) {
        if (!URL_SAFE_BASE64.test(s)) return notBase64(path);
        url = true;
      }
    }
  }
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const data = s.length - pad;
  if (data % 4 === 1 || (pad > 0 && s.length % 4 !== 0)) {
    throw new BundleFormatError('E_BASE64', `bundle: ${path} is not valid base64 (bad length or padding)`);
  }
  const buf = Buffer.from(s, url ? 'base64url' : 'base64');
  // Canonical: the text encoding the bytes gives back, so also the bits the last character carries past the
  // data are zero (a decoder ignores them, an encoder writes zeros).
  const spare = data % 4 === 2 ? 0x0f : data % 4 === 3 ? 0x03 : 0;
  const canonical =
    !url &&
    s === text &&
    s.length % 4 === 0 &&
    (spare === 0 || (sextet(s.charCodeAt(data - 1)) & spare) === 0);
  return { bytes: new Uint8Array(buf), canonical };
}

/** The value of a standard-alphabet base64 character. */
function sextet(c: number): number {
  if (c >= 65 && c <= 90) return c - 65; // A-Z
  if (c >= 97 && c <= 122) return c - 71; // a-z
  if (c >= 48 && c <= 57) return c + 4; // 0-9
  return c === 43 ? 62 : 63; // + /
}

function notBase64(path: string): never {
  throw new BundleFormatError('E_BASE64', `bundle: ${path} is not valid base64`);
}

/** protobuf JSON bytes (see decodeBase64), refused when empty unless `nonEmpty` is false. */
export function base64(v: unknown, path: string, nonEmpty = true): Uint8Array {
  const { bytes } = decodeBase64(str(v, path), path);
  if (nonEmpty && bytes.length === 0) fail(path, 'is empty');
  return bytes;
}

/**
 * int64 fields: decimal strings or numbers, and absent (or null) at 0 as proto3 JSON omits zero values (a
 * log's first entry has no logIndex). Negative values are rejected.
 */
function uint(v: unknown, path: string): number {
  const i = protoInteger(v);
  if (i === undefined) return fail(path, 'must be an integer');
  if (i < 0n) fail(path, `must not be negative (${i})`);
  if (i > BigInt(Number.MAX_SAFE_INTEGER)) fail(path, 'is not a safe integer');
  return Number(i);
}

/** A message field: absent and null both mean "not set". */
const present = (v: unknown): boolean => v !== undefined && v !== null;

function hexOf(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function tlogEntry(v: unknown, path: string, version: BundleVersion): TlogEntry {
  const o = obj(v, path);
  const kv = obj(o.kindVersion, `${path}.kindVersion`);
  const bodyText = str(o.canonicalizedBody, `${path}.canonicalizedBody`);
  const body = decodeBase64(bodyText, `${path}.canonicalizedBody`);
  if (body.bytes.length === 0) fail(`${path}.canonicalizedBody`, 'is empty');
  const entry: TlogEntry = {
    logIndex: uint(o.logIndex, `${path}.logIndex`),
    logId: hexOf(base64(obj(o.logId, `${path}.logId`).keyId, `${path}.logId.keyId`)),
    kind: str(kv.kind, `${path}.kindVersion.kind`),
    version: str(kv.version, `${path}.kindVersion.version`),
    integratedTime: uint(o.integratedTime, `${path}.integratedTime`),
    canonicalizedBody: body.bytes,
    canonicalizedBodyBase64: body.canonical
      ? bodyText
      : Buffer.from(body.bytes.buffer, body.bytes.byteOffset, body.bytes.byteLength).toString('base64'),
  };
  if (present(o.inclusionPromise)) {
    const p = obj(o.inclusionPromise, `${path}.inclusionPromise`);
    entry.signedEntryTimestamp = base64(
      p.signedEntryTimestamp,
      `${path}.inclusionPromise.signedEntryTimestamp`,
    );
  }
  // A present proof is read with its defaults (index 0, no hashes) but still needs its root hash, and it
  // must then verify against a signed checkpoint; an absent one stays absent.
  if (present(o.inclusionProof)) {
    const p = obj(o.inclusionProof, `${path}.inclusionProof`);
    const hashes = present(p.hashes) ? p.hashes : [];
    if (!Array.isArray(hashes)) fail(`${path}.inclusionProof.hashes`, 'must be an array');
    entry.inclusionProof = {
      logIndex: uint(p.logIndex, `${path}.inclusionProof.logIndex`),
      rootHash: base64(p.rootHash, `${path}.inclusionProof.rootHash`),
      treeSize: uint(p.treeSize, `${path}.inclusionProof.treeSize`),
      hashes: (hashes as unknown[]).map((h, i) => base64(h, `${path}.inclusionProof.hashes[${i}]`)),
    };
    if (present(p.checkpoint)) {
      entry.inclusionProof.checkpoint = str(
        obj(p.checkpoint, `${path}.inclusionProof.checkpoint`).envelope,
        `${path}.inclusionProof.checkpoint.envelope`,
      );
    }
  }
  if (version === '0.1' && !entry.signedEntryTimestamp)
    fail(path, 'needs an inclusionPromise in a v0.1 bundle');
  // v0.2+ also require the proof's checkpoint; its absence is reported after the proof itself is
  // checked, so a wrong proof is named as such (verifyTlogInclusion).
  if (version !== '0.1' && !entry.inclusionProof)
    fail(path, `needs an inclusionProof in a v${version} bundle`);
  return entry;
}

/** Parse bundle JSON (already JSON.parse'd). Throws BundleFormatError with E_BUNDLE_MEDIA_TYPE / E_BUNDLE_INVALID / E_BASE64. */
export function parseBundle(json: unknown): ParsedBundle {
  const b = obj(json, '(document)');
  const mediaType = str(b.mediaType, 'mediaType');
  const version = MEDIA_TYPES[mediaType];
  if (!version)
    throw new BundleFormatError(
      'E_BUNDLE_MEDIA_TYPE',
      `bundle media type "${mediaType}" is not a known Sigstore bundle version (0.1–0.3)`,
    );
  const vm = obj(b.verificationMaterial, 'verificationMaterial');

  let material: VerificationMaterial;
  const kinds = ['publicKey', 'x509CertificateChain', 'certificate'].filter((k) => present(vm[k]));
  if (kinds.length !== 1)
    fail('verificationMaterial', 'must hold exactly one of publicKey, x509CertificateChain, certificate');
  if (present(vm.publicKey)) {
    const pk = obj(vm.publicKey, 'verificationMaterial.publicKey');
    material = present(pk.hint)
      ? { kind: 'publicKey', hint: str(pk.hint, 'verificationMaterial.publicKey.hint') }
      : { kind: 'publicKey' };
  } else if (present(vm.x509CertificateChain)) {
    if (version === '0.3')
      fail('verificationMaterial.x509CertificateChain', 'is not allowed in a v0.3 bundle (use certificate)');
    const chain = obj(vm.x509CertificateChain, 'verificationMaterial.x509CertificateChain');
    const certs = chain.certificates;
    if (!Array.isArray(certs) || certs.length === 0)
      fail('verificationMaterial.x509CertificateChain.certificates', 'must not be empty');
    material = {
      kind: 'certificate',
      certificates: (certs as unknown[]).map((c, i) =>
        base64(
          obj(c, `x509CertificateChain.certificates[${i}]`).rawBytes,
          `x509CertificateChain.certificates[${i}].rawBytes`,
        ),
      ),
    };
  } else {
    const c = obj(vm.certificate, 'verificationMaterial.certificate');
    material = {
      kind: 'certificate',
      certificates: [base64(c.rawBytes, 'verificationMaterial.certificate.rawBytes')],
    };
  }

  const entries = present(vm.tlogEntries) ? vm.tlogEntries : [];
  if (!Array.isArray(entries)) fail('verificationMaterial.tlogEntries', 'must be an array');
  const tlogEntries = (entries as unknown[]).map((e, i) =>
    tlogEntry(e, `verificationMaterial.tlogEntries[${i}]`, version),
  );

  const signedTimestamps: Uint8Array[] = [];
  if (present(vm.timestampVerificationData)) {
    const tvd = obj(vm.timestampVerificationData, 'verificationMaterial.timestampVerificationData');
    const list = present(tvd.rfc3161Timestamps) ? tvd.rfc3161Timestamps : [];
    if (!Array.isArray(list)) fail('timestampVerificationData.rfc3161Timestamps', 'must be an array');
    if ((list as unknown[]).length > MAX_SIGNED_TIMESTAMPS)
      fail(
        'timestampVerificationData.rfc3161Timestamps',
        `holds more than ${MAX_SIGNED_TIMESTAMPS} timestamps`,
      );
    (list as unknown[]).forEach((t, i) => {
      const p = `timestampVerificationData.rfc3161Timestamps[${i}]`;
      const der = base64(obj(t, p).signedTimestamp, `${p}.signedTimestamp`);
      if (der.length > MAX_SIGNED_TIMESTAMP_BYTES)
        fail(p, `is larger than ${MAX_SIGNED_TIMESTAMP_BYTES} bytes`);
      signedTimestamps.push(der);
    });
  }

  let content: BundleContent;
  if (present(b.messageSignature) === present(b.dsseEnvelope)) {
    fail('(document)', 'must hold exactly one of messageSignature and dsseEnvelope');
  }
  if (present(b.messageSignature)) {
    const ms = obj(b.messageSignature, 'messageSignature');
    content = { kind: 'messageSignature', signature: base64(ms.signature, 'messageSignature.signature') };
    if (present(ms.messageDigest)) {
      const md = obj(ms.messageDigest, 'messageSignature.messageDigest');
      // Omitted means HASH_ALGORITHM_UNSPECIFIED (the enum's zero), which the verifier reads as SHA2_256
      // as sigstore-js does; the digest must still be that of the artifact.
      const algorithm = protoEnum(HASH_ALGORITHM, md.algorithm);
      if (algorithm === undefined)
        fail('messageSignature.messageDigest.algorithm', 'is not a HashAlgorithm name or number');
      content.digestAlgorithm = algorithm as string;
      content.digest = base64(md.digest, 'messageSignature.messageDigest.digest');
    }
  } else {
    const env = obj(b.dsseEnvelope, 'dsseEnvelope');
    const sigs = env.signatures;
    if (!Array.isArray(sigs) || sigs.length !== 1)
      fail('dsseEnvelope.signatures', 'must hold exactly one signature');
    const sig = obj((sigs as unknown[])[0], 'dsseEnvelope.signatures[0]');
    content = {
      kind: 'dsse',
      payloadType: str(env.payloadType, 'dsseEnvelope.payloadType'),
      payload: base64(env.payload, 'dsseEnvelope.payload'),
      signature: base64(sig.sig, 'dsseEnvelope.signatures[0].sig'),
    };
    if (typeof sig.keyid === 'string' && sig.keyid !== '') content.keyid = sig.keyid;
  }
  return { mediaType, version, material, tlogEntries, signedTimestamps, content };
}
