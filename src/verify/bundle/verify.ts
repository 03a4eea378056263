// Verify one Sigstore bundle against pinned expectations and trust material: signature, certificate path,
// SCTs, log evidence, signed timestamps, identity (sigstore-servers.md §1, §4, §5; cosign.md §2e).

import { createHash, type KeyObject, verify as cryptoVerify } from 'node:crypto';
import { type ErrorCode, printableTime } from '../../errors.js';
import type { PublicKeyVerifier } from '../../keys/types.js';
import type { TrustMaterial } from '../trust.js';
import type { Check, IdentityExpectation } from '../types.js';
import {
  type Certificate,
  CertificateError,
  extendedKeyUsages,
  isSignedBy,
  OID,
  parseCertificate,
  publicKeyOf,
} from '../../formats/x509.js';
import { type IssuingPath, issuingPaths, pathValidAt } from './chain.js';
import { bytesEqual } from '../../formats/der.js';
import { certificateIdentity, checkIdentity } from './identity.js';
import { BundleFormatError, type ParsedBundle, parseBundle } from './parse.js';
import { verifyPrehashed } from './prehash.js';
import { SctError, verifyEmbeddedScts } from './sct.js';
import { TimestampError, verifySignedTimestamp } from './tsa.js';
import { type SignedContent, sha256, TlogError, verifyTlogBody, verifyTlogInclusion } from './tlog.js';

export type BundleArtifact =
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'digest'; algorithm: 'sha256' | 'sha384' | 'sha512'; hex: string }
  /** The caller checks the DSSE statement's subject itself. */
  | { kind: 'dsse-any' };

export interface BundlePolicy {
  keys?: PublicKeyVerifier[];
  identities?: IdentityExpectation[];
  /** Accept without transparency-log evidence (cosign --insecure-ignore-tlog). */
  ignoreTlog?: boolean;
  /** Accept a certificate without a verified embedded SCT (cosign --insecure-ignore-sct). */
  ignoreSct?: boolean;
  /** Reject message-signature bundles (images: cosign v3 wants DSSE). */
  requireDsse?: boolean;
  /** Require an RFC 3161 signed timestamp (cosign --use-signed-timestamps). */
  requireSignedTimestamp?: boolean;
}

export interface BundleVerification {
  ok: boolean;
  code?: ErrorCode;
  message: string;
  checks: Check[];
  signer?: { keyHint?: string; identity?: string; issuer?: string; extensions?: Record<string, string> };
  /** Unix seconds of the earliest verified log integration, when a SET verified. */
  integratedTime?: number;
  dssePayload?: Uint8Array;
  dssePayloadType?: string;
}

const DIGEST_NAMES: Record<string, 'sha256' | 'sha384' | 'sha512'> = {
  SHA2_256: 'sha256',
  SHA2_384: 'sha384',
  SHA2_512: 'sha512',
  HASH_ALGORITHM_UNSPECIFIED: 'sha256',
};

/** DSSE v1 pre-authentication encoding. */
export function preAuthEncoding(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = Buffer.from(payloadType, 'utf8');
  const head = Buffer.from(`DSSEv1 ${type.length} ${payloadType} ${payload.length} `, 'utf8');
  const out = new Uint8Array(head.length + payload.length);
  out.set(head, 0);
  out.set(payload, head.length);
  return out;
}

const toHex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const iso = printableTime;

class Outcome {
  readonly checks: Check[] = [];
  pass(name: string, found?: unknown, expected?: unknown): void {
    const c: Check = { name, ok: true };
    if (expected !== undefined) c.expected = expected;
    if (found !== undefined) c.found = found;
    this.checks.push(c);
  }
  fail(
    name: string,
    code: ErrorCode,
    message: string,
    expected?: unknown,
    found?: unknown,
  ): BundleVerification {
    const c: Check = { name, ok: false, code, message };
    if (expected !== undefined) c.expected = expected;
    if (found !== undefined) c.found = found;
    this.checks.push(c);
    return { ok: false, code, message, checks: this.checks };
  }
}

const CURVE_HASH: Record<string, string> = { prime256v1: 'sha256', secp384r1: 'sha384', secp521r1: 'sha512' };

/**
 * Verify a message signature or DSSE PAE signature with a certificate key: ECDSA hashes by curve (or with
 * the bundle's message digest algorithm), RSA with SHA-256 or that algorithm, Ed25519 signs the message.
 * Kept here rather than in keys/ so the verify path does not load the Ed25519ph arithmetic at startup.
 */
function signatureVerifies(key: KeyObject, data: Uint8Array, sig: Uint8Array, hash?: string): boolean {
  try {
    switch (key.asymmetricKeyType) {
      case 'ec':
        return cryptoVerify(
          hash ?? CURVE_HASH[key.asymmetricKeyDetails?.namedCurve ?? ''] ?? 'sha256',
          data,
          { key, dsaEncoding: 'der' },
          sig,
        );
      case 'rsa':
        return cryptoVerify(hash ?? 'sha256', data, key, sig);
      case 'ed25519':
        return cryptoVerify(null, data, key, sig);
      default:
        return false;
    }
  } catch {
    return false;
  }
}

interface Subject {
  digest?: Record<string, unknown>;
}

function statementSubjects(payload: Uint8Array): Subject[] | undefined {
  try {
    const st = JSON.parse(Buffer.from(payload).toString('utf8')) as { subject?: unknown };
    return Array.isArray(st.subject) ? (st.subject as Subject[]) : undefined;
  } catch {
    return undefined;
  }
}

/** SPKI DER of a pinned key, exported once per KeyObject (the export costs more than an ECDSA verify). */
const spkiCache = new WeakMap<KeyObject, Uint8Array>();
function spkiDerOf(key: KeyObject): Uint8Array {
  let der = spkiCache.get(key);
  if (!der) {
    der = new Uint8Array(key.export({ type: 'spki', format: 'der' }));
    spkiCache.set(key, der);
  }
  return der.slice();
}

/**
 * Verify one bundle. Synchronous; never throws for "not trusted" (a result with ok:false, a code and
 * every check that ran). Throws only for programming errors.
 */
export function verifyBundle(
  bundle: unknown,
  artifact: BundleArtifact,
  policy: BundlePolicy,
  trust: TrustMaterial,
): BundleVerification {
  const out = new Outcome();

  // 1. format
  let b: ParsedBundle;
  try {
    b = parseBundle(bundle);
  } catch (err) {
    if (err instanceof BundleFormatError) return out.fail('bundle-format', err.code, err.message);
    throw err;
  }
  out.pass('bundle-format', b.mediaType);

  // 2. expectations are pinned
  const keys = policy.keys ?? [];
  const identities = policy.identities ?? [];
  if (keys.length === 0 && identities.length === 0) {
    return out.fail(
      'expectations',
      'E_EXPECTATIONS_MISSING',
      'verification needs a public key or a certificate identity and issuer to pin the signer',
    );
  }
  if (policy.requireDsse && b.content.kind !== 'dsse') {
    return out.fail(
      'content',
      'E_PAYLOAD_INVALID',
      'a DSSE envelope is required but the bundle holds a message signature',
      'dsseEnvelope',
      'messageSignature',
    );
  }

  // 3. the signed content and the artifact
  const content = b.content;
  const signedContent: SignedContent = {
    signature: content.signature,
    hashedrekordDigests: [],
    signerDer: new Uint8Array(0),
    signerIsCertificate: false,
  };
  let signedData: Uint8Array | undefined; // bytes the signature is over, when known
  let prehashed: { algorithm: string; digest: Uint8Array } | undefined;
  let messageHash: string | undefined;
  if (content.kind === 'messageSignature') {
    const alg = DIGEST_NAMES[content.digestAlgorithm ?? 'SHA2_256'];
    if (!alg)
      return out.fail(
        'artifact-digest',
        'E_BUNDLE_INVALID',
        `unsupported message digest algorithm ${content.digestAlgorithm}`,
      );
    messageHash = alg;
    let artifactDigest: Uint8Array;
    if (artifact.kind === 'bytes') {
      artifactDigest = new Uint8Array(createHash(alg).update(artifact.bytes).digest());
      signedData = artifact.bytes;
    } else if (artifact.kind === 'digest') {
      if (artifact.algorithm !== alg) {
        return out.fail(
          'artifact-digest',
          'E_DIGEST_MISMATCH',
          `the bundle signs a ${alg} digest but a ${artifact.algorithm} digest was given`,
          alg,
          artifact.algorithm,
        );
      }
      if (!/^[0-9a-fA-F]+$/.test(artifact.hex))
        return out.fail('artifact-digest', 'E_INVALID_DIGEST', 'the artifact digest is not hex');
      artifactDigest = new Uint8Array(Buffer.from(artifact.hex, 'hex'));
      prehashed = { algorithm: alg, digest: artifactDigest };
    } else {
      return out.fail(
        'artifact-digest',
        'E_INVALID_ARGUMENT',
        'a message-signature bundle needs the artifact or its digest',
      );
    }
    if (content.digest && !bytesEqual(content.digest, artifactDigest)) {
      return out.fail(
        'artifact-digest',
        'E_DIGEST_MISMATCH',
        'the bundle signs another artifact (its message digest differs from the artifact digest)',
        toHex(artifactDigest),
        toHex(content.digest),
      );
    }
    out.pass('artifact-digest', `${alg}:${toHex(artifactDigest)}`);
    signedContent.hashedrekordDigests.push({ algorithm: alg, digest: artifactDigest });
  } else {
    const pae = preAuthEncoding(content.payloadType, content.payload);
    signedData = pae;
    signedContent.payloadSha256 = sha256(content.payload);
    // Rekor v2 logs DSSE as hashedrekord over sha256(PAE) (sigstore-servers.md §0.6).
    signedContent.hashedrekordDigests.push({ algorithm: 'sha256', digest: sha256(pae) });
    if (artifact.kind !== 'dsse-any') {
      const subjects =
        content.payloadType === 'application/vnd.in-toto+json'
          ? statementSubjects(content.payload)
          : undefined;
      if (!subjects) {
        if (artifact.kind === 'bytes' && bytesEqual(artifact.bytes, content.payload)) {
          out.pass('subject-digest', 'payload equals the artifact');
        } else {
          return out.fail(
            'subject-digest',
            'E_PAYLOAD_INVALID',
            `the DSSE payload (${content.payloadType}) is not an in-toto statement with subjects`,
          );
        }
      } else {
        const alg = artifact.kind === 'digest' ? artifact.algorithm : 'sha256';
        const want =
          artifact.kind === 'digest'
            ? artifact.hex.toLowerCase()
            : createHash('sha256').update(artifact.bytes).digest('hex');
        const found = subjects.map((s) =>
          typeof s.digest?.[alg] === 'string' ? (s.digest[alg] as string).toLowerCase() : undefined,
        );
        if (!found.includes(want)) {
          return out.fail(
            'subject-digest',
            'E_SUBJECT_MISMATCH',
            `no subject of the in-toto statement has ${alg} digest ${want}`,
            `${alg}:${want}`,
            found.filter(Boolean),
          );
        }
        out.pass('subject-digest', `${alg}:${want}`);
      }
    }
  }

  // 4. the signer: a pinned key, or a certificate
  let signerKey: KeyObject;
  let leaf: Certificate | undefined;
  let keyHint: string | undefined;
  if (b.material.kind === 'publicKey') {
    if (keys.length === 0) {
      return out.fail(
        'signer',
        'E_CERTIFICATE_INVALID',
        'the bundle is signed with a public key, not a certificate, but a certificate identity was expected',
        'certificate',
        'publicKey',
      );
    }
    const hint = b.material.hint;
    const ordered = hint
      ? [...keys.filter((k) => k.hint === hint), ...keys.filter((k) => k.hint !== hint)]
      : keys;
    const sigOk = (k: PublicKeyVerifier) =>
      prehashed
        ? verifyPrehashed(k.keyObject, prehashed.algorithm, prehashed.digest, content.signature)
        : k.verify(signedData!, content.signature);
    const key = ordered.find(sigOk);
    if (!key) {
      return out.fail(
        'signature',
        'E_SIGNATURE_INVALID',
        `the signature does not verify with ${keys.length === 1 ? 'the given public key' : `any of the ${keys.length} given public keys`}`,
        keys.map((k) => k.hint),
        hint,
      );
    }
    signerKey = key.keyObject;
    keyHint = key.hint;
    signedContent.signerDer = spkiDerOf(key.keyObject);
    out.pass('signature', `key ${key.hint}`);
  } else {
    const [leafDer, ...rest] = b.material.certificates;
    try {
      leaf = parseCertificate(leafDer!);
      for (const der of rest) {
        const c = parseCertificate(der);
        if (bytesEqual(c.subject, c.issuer) && isSignedBy(c, publicKeyOf(c))) {
          return out.fail(
            'certificate-chain',
            'E_CERTIFICATE_INVALID',
            'the bundle carries a root (self-signed) certificate: trust anchors must come from the trusted root, not the bundle',
          );
        }
      }
      signerKey = publicKeyOf(leaf);
    } catch (err) {
      if (err instanceof CertificateError)
        return out.fail('certificate', 'E_CERTIFICATE_INVALID', err.message);
      throw err;
    }
    signedContent.signerDer = leaf.der;
    signedContent.signerIsCertificate = true;
    keyHint = createHash('sha256').update(leaf.spki).digest('base64');
    if (identities.length === 0) {
      // --key with a certificate bundle: the certificate must carry one of the pinned keys.
      const spkis = keys.map((k) => spkiDerOf(k.keyObject));
      if (!spkis.some((s) => bytesEqual(s, leaf!.spki))) {
        return out.fail(
          'signer',
          'E_SIGNATURE_INVALID',
          'the bundle certificate does not carry any of the given public keys',
          keys.map((k) => k.hint),
          keyHint,
        );
      }
    }
    const sigOk = prehashed
      ? verifyPrehashed(signerKey, prehashed.algorithm, prehashed.digest, content.signature)
      : signatureVerifies(
          signerKey,
          signedData!,
          content.signature,
          content.kind === 'messageSignature' ? messageHash : undefined,
        );
    if (!sigOk)
      return out.fail(
        'signature',
        'E_SIGNATURE_INVALID',
        'the signature does not verify with the certificate key',
      );
    out.pass('signature', 'certificate key');
  }

  // 5. transparency-log evidence
  const times: { source: string; ms: number }[] = [];
  let integratedTime: number | undefined;
  if (!policy.ignoreTlog) {
    if (b.tlogEntries.length === 0) {
      return out.fail(
        'tlog-inclusion',
        'E_TLOG_INVALID',
        'the bundle has no transparency-log entry (to accept that: --insecure-ignore-tlog on the CLI, rekor.ignoreTlog: true in a Kyverno policy)',
      );
    }
    for (const entry of b.tlogEntries) {
      try {
        const r = verifyTlogInclusion(entry, trust);
        out.pass('tlog-inclusion', `log index ${entry.logIndex}`);
        verifyTlogBody(entry, signedContent);
        out.pass('tlog-body', `${entry.kind}/${entry.version}`);
        if (r.integratedTime !== undefined) {
          times.push({ source: 'tlog', ms: r.integratedTime * 1000 });
          integratedTime =
            integratedTime === undefined ? r.integratedTime : Math.min(integratedTime, r.integratedTime);
        }
      } catch (err) {
        if (err instanceof TlogError)
          return out.fail(
            err.code === 'E_TLOG_INVALID' && err.message.includes('does not match')
              ? 'tlog-body'
              : 'tlog-inclusion',
            err.code,
            err.message,
          );
        throw err;
      }
    }
  }

  // 6. RFC 3161 signed timestamps (each present one must verify)
  for (const der of b.signedTimestamps) {
    try {
      const ms = verifySignedTimestamp(der, content.signature, trust.timestampAuthorities);
      times.push({ source: 'tsa', ms });
      out.pass('timestamp', iso(ms));
    } catch (err) {
      if (err instanceof TimestampError)
        return out.fail('timestamp', err.code, `signed timestamp: ${err.message}`);
      throw err;
    }
  }

  if (policy.requireSignedTimestamp && !times.some((t) => t.source === 'tsa')) {
    return out.fail(
      'timestamp',
      'E_TIMESTAMP_INVALID',
      'the bundle carries no RFC 3161 signed timestamp, and --use-signed-timestamps requires one',
    );
  }

  // 7. the certificate: trusted path valid at every verified time, code signing, SCT, identity
  let identity: ReturnType<typeof certificateIdentity> | undefined;
  if (leaf) {
    if (times.length === 0) {
      if (!policy.ignoreTlog) {
        return out.fail(
          'timestamp',
          'E_TIMESTAMP_INVALID',
          'no verified time for the certificate: the log entry has no signed integrated time and the bundle no RFC 3161 timestamp',
        );
      }
      times.push({ source: 'now', ms: Date.now() });
    }
    let paths: IssuingPath[];
    try {
      paths = issuingPaths(leaf, trust);
    } catch (err) {
      if (err instanceof CertificateError)
        return out.fail('certificate-chain', 'E_CERTIFICATE_INVALID', err.message);
      throw err;
    }
    if (paths.length === 0) {
      return out.fail(
        'certificate-chain',
        'E_CERTIFICATE_INVALID',
        'the certificate was not issued by a CA in the trusted root',
      );
    }
    let issuing: IssuingPath | undefined;
    for (const t of times) {
      issuing = pathValidAt(leaf, paths, t.ms);
      if (!issuing) {
        return out.fail(
          'certificate-validity',
          t.source === 'tsa' ? 'E_TIMESTAMP_OUTSIDE_VALIDITY' : 'E_CERTIFICATE_INVALID',
          `the certificate (valid ${iso(leaf.notBefore)} to ${iso(leaf.notAfter)}) or its CA is not valid at the ${t.source === 'tlog' ? 'log integration' : t.source === 'tsa' ? 'signed timestamp' : 'current'} time ${iso(t.ms)}`,
          iso(t.ms),
          `${iso(leaf.notBefore)}..${iso(leaf.notAfter)}`,
        );
      }
    }
    out.pass('certificate-chain', issuing!.ca.uri ?? 'trusted CA');
    try {
      const eku = extendedKeyUsages(leaf);
      if (!eku?.includes(OID.codeSigning)) {
        return out.fail(
          'certificate-usage',
          'E_CERTIFICATE_INVALID',
          'the certificate is not for code signing (extended key usage)',
          OID.codeSigning,
          eku,
        );
      }
    } catch {
      return out.fail(
        'certificate-usage',
        'E_CERTIFICATE_INVALID',
        'the extended key usage extension is malformed',
      );
    }
    if (!policy.ignoreSct) {
      try {
        const n = verifyEmbeddedScts(leaf, issuing!.path[0]!, trust.ctlogs);
        if (n === 0)
          return out.fail(
            'sct',
            'E_SCT_INVALID',
            'the certificate has no embedded SCT (pass ignoreSct to accept that)',
          );
        out.pass('sct', `${n} verified`);
      } catch (err) {
        if (err instanceof SctError) return out.fail('sct', 'E_SCT_INVALID', err.message);
        throw err;
      }
    }
    try {
      identity = certificateIdentity(leaf);
      if (issuing!.ca.private && identity.issuer === undefined) identity.issuer = '';
    } catch (err) {
      return out.fail(
        'identity',
        'E_CERTIFICATE_INVALID',
        `the certificate identity does not parse: ${(err as Error).message}`,
      );
    }
    if (identities.length > 0) {
      let failure: ReturnType<typeof checkIdentity>;
      for (const want of identities) {
        failure = checkIdentity(identity, want);
        if (!failure) break;
      }
      if (failure)
        return out.fail('identity', failure.code, failure.message, failure.expected, failure.found);
      out.pass('identity', identity.san, undefined);
      out.pass('issuer', identity.issuer);
    }
  }

  const result: BundleVerification = {
    ok: true,
    message: leaf
      ? `verified: signed by ${identity?.san ?? 'a certificate'} (${identity?.issuer ?? 'unknown issuer'})`
      : `verified: signed by key ${keyHint}`,
    checks: out.checks,
    signer: {
      ...(keyHint !== undefined ? { keyHint } : {}),
      ...(identity?.san !== undefined ? { identity: identity.san } : {}),
      ...(identity?.issuer !== undefined ? { issuer: identity.issuer } : {}),
      ...(identity ? { extensions: identity.extensions } : {}),
    },
  };
  if (integratedTime !== undefined) result.integratedTime = integratedTime;
  if (content.kind === 'dsse') {
    result.dssePayload = content.payload;
    result.dssePayloadType = content.payloadType;
  }
  return result;
}
