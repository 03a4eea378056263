// Verifying files (`verify-blob`) against a Sigstore bundle and pinned expectations; the file is hashed
// streaming and, when small enough, its bytes are checked natively. cosign.md §1 `verify-blob`.

import { createHash } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import { SealError } from '../errors.js';
import type { RekorBundle } from '../formats/cosign.js';
import { isLegacyBlobBundle, parseLegacyBlobBundle } from '../formats/legacy-blob-bundle.js';
import { loadPublicKey } from '../keys/public-key.js';
import type { PublicKeyVerifier } from '../keys/types.js';
import { verifyPrehashed } from './bundle/prehash.js';
import { TimestampError, verifySignedTimestamp } from './bundle/tsa.js';
import { type BundleArtifact, verifyBundle } from './bundle/verify.js';
import { checkCertificateForSignature } from './certificate.js';
import { assertPinned } from './expectations.js';
import { checkLegacyTlog } from './legacy.js';
import type { CertificateAuthority, TrustMaterial } from './trust.js';
import type { Check, Expectations, SignatureResult, Verdict } from './types.js';

/** Files up to this size are read whole so the signature is checked by native crypto over the bytes. */
const IN_MEMORY_LIMIT = 64 * 1024 * 1024;

export async function artifactFromFile(path: string): Promise<BundleArtifact> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (cause) {
    throw new SealError('E_IO', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  // FileHandle reads rather than fs streams: loading the stream machinery cost ~4 ms of a cold verify-blob
  try {
    if (size <= IN_MEMORY_LIMIT) return { kind: 'bytes', bytes: await readFile(path) };
    const hash = createHash('sha256');
    const file = await open(path, 'r');
    try {
      const buffer = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) break;
        hash.update(buffer.subarray(0, bytesRead));
      }
    } finally {
      await file.close();
    }
    return { kind: 'digest', algorithm: 'sha256', hex: hash.digest('hex') };
  } catch (cause) {
    throw new SealError('E_IO', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
}

/** `sha256:<hex>` in place of a file, as the conformance protocol and cosign's --digest allow. */
export function artifactFromDigest(text: string): BundleArtifact {
  const m = /^(sha256|sha384|sha512):([0-9a-f]+)$/.exec(text);
  if (!m) throw new SealError('E_INVALID_DIGEST', `invalid artifact digest "${text}"`);
  return { kind: 'digest', algorithm: m[1] as 'sha256', hex: m[2]! };
}

export function verifyBlobBundle(
  bundleJson: unknown,
  artifact: BundleArtifact,
  expectations: Expectations,
  trust: TrustMaterial | undefined,
  reference = 'blob',
): Verdict {
  assertPinned(expectations);
  // cosign v2's blob bundle: a detached signature with its certificate and SET, checked as one.
  if (isLegacyBlobBundle(bundleJson)) {
    let legacy: ReturnType<typeof parseLegacyBlobBundle>;
    try {
      legacy = parseLegacyBlobBundle(bundleJson);
    } catch (err) {
      if (!(err instanceof SealError)) throw err;
      return blobVerdict(reference, artifact, [
        { name: 'bundle-format', ok: false, code: err.code, message: err.message },
      ]);
    }
    return verifyBlobSignature(legacy, artifact, expectations, trust, { reference });
  }
  const keys = (expectations.keys ?? []).map((k) => loadPublicKey(k));
  const result = verifyBundle(
    bundleJson,
    artifact,
    {
      keys,
      identities: expectations.identities ?? [],
      ignoreTlog: expectations.ignoreTlog ?? false,
      ignoreSct: expectations.ignoreSct ?? false,
      requireSignedTimestamp: expectations.requireSignedTimestamp ?? false,
    },
    trust ?? { certificateAuthorities: [], tlogs: new Map(), ctlogs: new Map(), timestampAuthorities: [] },
  );
  return {
    ok: result.ok,
    reference,
    ...(artifact.kind === 'digest' ? { digest: `${artifact.algorithm}:${artifact.hex}` } : {}),
    ...(result.ok ? {} : { code: result.code ?? 'E_SIGNATURE_INVALID' }),
    message: result.ok ? `Verified OK` : result.message,
    signatures: [
      {
        source: 'bundle-file',
        ok: result.ok,
        checks: result.checks,
        ...(result.signer ? { signer: result.signer } : {}),
        ...(result.integratedTime !== undefined ? { integratedTime: result.integratedTime } : {}),
      },
    ],
  };
}

/** A signature made outside a protobuf bundle: `--signature` and friends, or a cosign v2 blob bundle. */
export interface DetachedBlobSignature {
  signature: Uint8Array;
  /** The signing certificate (PEM, leaf first); absent when a key is pinned. */
  certificatePem?: string;
  /** The Rekor SET and entry (cosign's `rekorBundle`): the transparency-log evidence. */
  rekorBundle?: RekorBundle;
  /** DER TimeStampResp over the signature bytes (cosign's --rfc3161-timestamp). */
  rfc3161Timestamp?: Uint8Array;
}

export interface DetachedBlobOptions {
  reference?: string;
  /** TSAs for the signed timestamp (--timestamp-certificate-chain); default: the trusted root's. */
  timestampAuthorities?: CertificateAuthority[];
  now?: () => Date;
}

function blobVerdict(
  reference: string,
  artifact: BundleArtifact,
  checks: Check[],
  signer?: SignatureResult['signer'],
  integratedTime?: number,
): Verdict {
  const failed = checks.find((c) => !c.ok);
  const ok = checks.length > 0 && !failed;
  return {
    ok,
    reference,
    ...(artifact.kind === 'digest' ? { digest: `${artifact.algorithm}:${artifact.hex}` } : {}),
    ...(ok ? {} : { code: failed?.code ?? 'E_SIGNATURE_INVALID' }),
    message: ok ? 'Verified OK' : (failed?.message ?? 'no check ran'),
    signatures: [
      {
        source: 'bundle-file',
        ok,
        checks,
        ...(signer ? { signer } : {}),
        ...(integratedTime !== undefined ? { integratedTime } : {}),
      },
    ],
  };
}

/**
 * Verify a detached blob signature (cosign v2's `verify-blob --signature [--certificate]`, or its blob
 * bundle): the signature by a pinned key or by a certificate that chains to a trusted (or private) CA with
 * the pinned identity; the SET and logged entry unless the log is ignored; a signed timestamp when given.
 * The certificate is checked at the timestamp's time, else the log's integrated time, else now.
 */
export function verifyBlobSignature(
  input: DetachedBlobSignature,
  artifact: BundleArtifact,
  expectations: Expectations,
  trust: TrustMaterial | undefined,
  options: DetachedBlobOptions = {},
): Verdict {
  assertPinned(expectations);
  const reference = options.reference ?? 'blob';
  const checks: Check[] = [];
  const done = (signer?: SignatureResult['signer'], time?: number) =>
    blobVerdict(reference, artifact, checks, signer, time);
  if (artifact.kind === 'dsse-any' || (artifact.kind === 'digest' && artifact.algorithm !== 'sha256')) {
    checks.push({
      name: 'artifact-digest',
      ok: false,
      code: 'E_INVALID_ARGUMENT',
      message: 'a detached blob signature is checked against the file or its sha256 digest',
    });
    return done();
  }
  const sha256 =
    artifact.kind === 'bytes'
      ? createHash('sha256').update(artifact.bytes).digest('hex')
      : artifact.hex.toLowerCase();
  const verifies = (key: PublicKeyVerifier) =>
    artifact.kind === 'bytes'
      ? key.verify(artifact.bytes, input.signature)
      : verifyPrehashed(key.keyObject, 'sha256', Buffer.from(sha256, 'hex'), input.signature);

  // A signed timestamp first: it fixes the time the certificate must have been valid at.
  let at: Date | undefined;
  if (expectations.requireSignedTimestamp && !input.rfc3161Timestamp) {
    checks.push({
      name: 'timestamp',
      ok: false,
      code: 'E_TIMESTAMP_INVALID',
      message: 'no RFC 3161 signed timestamp (--rfc3161-timestamp), and --use-signed-timestamps requires one',
    });
    return done();
  }
  if (input.rfc3161Timestamp) {
    try {
      const ms = verifySignedTimestamp(
        input.rfc3161Timestamp,
        input.signature,
        options.timestampAuthorities ?? trust?.timestampAuthorities ?? [],
      );
      at = new Date(ms);
      checks.push({ name: 'timestamp', ok: true, found: at.toISOString() });
    } catch (err) {
      if (!(err instanceof TimestampError)) throw err;
      checks.push({
        name: 'timestamp',
        ok: false,
        code: err.code,
        message: `signed timestamp: ${err.message}`,
      });
      return done();
    }
  }

  let signerKey: PublicKeyVerifier | undefined;
  let signer: SignatureResult['signer'];
  const keys = (expectations.keys ?? []).map((k) => loadPublicKey(k));
  if (keys.length > 0) {
    signerKey = keys.find(verifies);
    if (!signerKey) {
      checks.push({
        name: 'signature',
        ok: false,
        code: 'E_SIGNATURE_INVALID',
        message:
          'the signature does not verify with the given key (wrong key, or the file changed after signing)',
      });
      return done();
    }
    checks.push({ name: 'signature', ok: true, found: signerKey.hint });
    signer = { keyHint: signerKey.hint };
  } else {
    if (!input.certificatePem) {
      checks.push({
        name: 'certificate',
        ok: false,
        code: 'E_CERTIFICATE_INVALID',
        message: 'no certificate to check the signature with: pass --certificate, or --key',
      });
      return done();
    }
    // The log's integrated time is trusted only because the SET is verified below before anything passes.
    const logged = expectations.ignoreTlog ? undefined : input.rekorBundle?.Payload.integratedTime;
    const cert = checkCertificateForSignature({
      certificatePem: input.certificatePem,
      identities: expectations.identities ?? [],
      trust,
      at: at ?? (logged !== undefined ? new Date(logged * 1000) : (options.now?.() ?? new Date())),
      ...(at ? { atSource: 'tsa' as const } : {}),
      requireSct: !expectations.ignoreSct,
      checks,
    });
    if (!cert) return done();
    const key = loadPublicKey(cert.publicKeyPem);
    if (!verifies(key)) {
      checks.push({
        name: 'signature',
        ok: false,
        code: 'E_SIGNATURE_INVALID',
        message: 'the signature does not verify with the certificate key (or the file changed after signing)',
      });
      return done();
    }
    checks.push({ name: 'signature', ok: true, found: 'certificate key' });
    signerKey = key;
    signer = cert.signer;
  }

  let integratedTime: number | undefined;
  if (!expectations.ignoreTlog) {
    if (!input.rekorBundle) {
      checks.push({
        name: 'tlog',
        ok: false,
        code: 'E_TLOG_INVALID',
        message:
          'no transparency-log evidence for this signature: verify with a bundle that carries it (--bundle), or pass --insecure-ignore-tlog (or --private-infrastructure)',
      });
      return done(signer);
    }
    integratedTime = checkLegacyTlog(input, { sha256 }, signerKey, trust, checks);
    if (integratedTime === undefined) return done(signer);
  }
  return done(signer, integratedTime);
}

/** Log entries examined at most when looking a detached signature up in the log by the file's digest. */
export const MAX_LOOKUP_ENTRIES = 32;
/** Each lookup request's deadline, and the largest answer read. */
const LOOKUP_TIMEOUT_MS = 30_000;
const MAX_LOOKUP_RESPONSE = 4 * 1024 * 1024;

/**
 * The log's evidence for a detached signature that came without any (cosign v2's online lookup): entries
 * for the file's sha256 whose logged signature is this one, as Rekor bundles. Their SETs are checked by
 * verifyBlobSignature like any other; nothing here is trusted.
 */
export async function lookupRekorBundles(
  rekorUrl: string,
  sha256: string,
  signature: Uint8Array,
): Promise<RekorBundle[]> {
  // A few fetches with hand-written shape checks: the verify path stays free of the log client's schemas.
  const base = rekorUrl.replace(/\/+$/, '');
  const call = async (path: string, body?: unknown): Promise<unknown> => {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS),
      });
    } catch (cause) {
      throw new SealError('E_NETWORK', `cannot reach the log at ${base}: ${(cause as Error).message}`, {
        cause,
      });
    }
    // Read no more than the limit: a hostile log cannot make verify hold an endless answer.
    const parts: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body ?? []) {
      size += (chunk as Uint8Array).byteLength;
      if (size > MAX_LOOKUP_RESPONSE) {
        await res.body?.cancel().catch(() => undefined);
        throw new SealError(
          'E_TLOG_INVALID',
          `the log at ${base} answered more than ${MAX_LOOKUP_RESPONSE} bytes`,
        );
      }
      parts.push(Buffer.from(chunk as Uint8Array));
    }
    const text = Buffer.concat(parts).toString('utf8');
    if (res.status !== 200)
      throw new SealError('E_TLOG_INVALID', `the log at ${base} answered ${res.status} to ${path}`);
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new SealError('E_TLOG_INVALID', `the log at ${base} answered with other than JSON`, { cause });
    }
  };
  const found = await call('/api/v1/index/retrieve', { hash: `sha256:${sha256.toLowerCase()}` });
  const uuids = (Array.isArray(found) ? found : [])
    .filter((u): u is string => typeof u === 'string' && /^([0-9a-f]{16})?[0-9a-f]{64}$/.test(u))
    .slice(0, MAX_LOOKUP_ENTRIES);
  const want = Buffer.from(signature).toString('base64');
  const out: RekorBundle[] = [];
  for (const uuid of uuids) {
    const answer = await call(`/api/v1/log/entries/${uuid}`);
    const entry = (typeof answer === 'object' && answer !== null ? Object.values(answer)[0] : undefined) as
      | Record<string, unknown>
      | undefined;
    const set = (entry?.verification as { signedEntryTimestamp?: unknown } | undefined)?.signedEntryTimestamp;
    const { body, integratedTime, logIndex, logID } = entry ?? {};
    if (
      typeof body !== 'string' ||
      typeof set !== 'string' ||
      typeof logID !== 'string' ||
      !Number.isSafeInteger(integratedTime) ||
      !Number.isSafeInteger(logIndex)
    )
      continue;
    let logged: unknown;
    try {
      logged = JSON.parse(Buffer.from(body, 'base64').toString('utf8'));
    } catch {
      continue;
    }
    const spec = (logged as { spec?: { signature?: { content?: unknown } } } | null)?.spec;
    if (spec?.signature?.content !== want) continue;
    out.push({
      SignedEntryTimestamp: new Uint8Array(Buffer.from(set, 'base64')),
      Payload: { body, integratedTime: integratedTime as number, logIndex: logIndex as number, logID },
    });
  }
  return out;
}
