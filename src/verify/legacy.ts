// Checks specific to cosign's legacy `.sig`/`.att` layers: the Rekor SET annotation (cosign.md §2a
// "Rekor bundle annotation", §2e legacy path step 2) and the certificate annotation (step 3).

import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { printable, printableTime } from '../errors.js';
import type { LegacySignature } from '../formats/cosign.js';
import { certificatesFromPem } from '../formats/x509.js';
import type { DsseEnvelope } from '../formats/dsse.js';
import { loadPublicKey } from '../keys/public-key.js';
import type { PublicKeyVerifier } from '../keys/types.js';
import { setPayload } from '../tlog/entry.js';
import { verifyLogSignature } from '../tlog/logkey.js';
import { checkCertificateForSignature } from './certificate.js';
import type { TrustMaterial } from './trust.js';
import type { Check, Expectations, SignatureResult } from './types.js';

/** The string at a path in parsed JSON, or undefined when any step is missing or of another type. */
function textAt(value: unknown, ...path: (string | number)[]): string | undefined {
  let v = value;
  for (const step of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string | number, unknown>)[step];
  }
  return typeof v === 'string' ? v : undefined;
}

/** Log integrated times later than now plus this are refused (as the bundle path does). */
const MAX_CLOCK_SKEW_MS = 5 * 60_000;

function spki(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

/** DER of the first certificate in a PEM text, if any. */
function certificateDer(pem: string): Buffer | undefined {
  const der = certificatesFromPem(pem)[0];
  return der ? Buffer.from(der) : undefined;
}

function keyFromEntryMaterial(b64Pem: string): KeyObject | undefined {
  try {
    const pem = Buffer.from(b64Pem, 'base64').toString('utf8');
    return pem.includes('CERTIFICATE')
      ? createPublicKey({ key: pem, format: 'pem' }) // Node accepts certificates for createPublicKey
      : createPublicKey(pem);
  } catch {
    return undefined;
  }
}

/**
 * Verify the `dev.sigstore.cosign/bundle` annotation: the SET by a trusted log key, and that the logged
 * entry is this signature (same signature, same key, hash of this payload). Returns the integrated time
 * (unix seconds), or undefined after pushing the failing check.
 */
export function checkLegacyTlog(
  legacy: Pick<LegacySignature, 'rekorBundle' | 'signature' | 'certificatePem'>,
  /** The signed bytes, or (a blob verified by digest) their sha256 in hex. */
  payload: Uint8Array | { sha256: string },
  signerKey: PublicKeyVerifier,
  trust: TrustMaterial | undefined,
  checks: Check[],
  envelope?: DsseEnvelope,
): number | undefined {
  const fail = (message: string, extra: Partial<Check> = {}): undefined => {
    checks.push({ name: 'tlog', ok: false, code: 'E_TLOG_INVALID', message, ...extra });
    return undefined;
  };
  const rb = legacy.rekorBundle;
  if (!rb)
    return fail(
      'no transparency log evidence on the signature (sign with a log, or pass --insecure-ignore-tlog)',
    );
  const logId = rb.Payload.logID.toLowerCase();
  const keys = trust?.tlogs.get(logId) ?? [];
  if (keys.length === 0) {
    return fail(
      `the signature was logged by log ${logId}, which the trusted root does not list (give a trusted root that lists it: --trusted-root on the CLI)`,
      {
        found: logId,
      },
    );
  }
  const set = setPayload({
    body: rb.Payload.body,
    integratedTime: rb.Payload.integratedTime,
    logID: rb.Payload.logID,
    logIndex: rb.Payload.logIndex,
  });
  const sig = rb.SignedEntryTimestamp;
  const when = rb.Payload.integratedTime * 1000;
  if (when > Date.now() + MAX_CLOCK_SKEW_MS) {
    return fail(`the log integrated time ${printableTime(when)} is in the future`, {
      found: rb.Payload.integratedTime,
    });
  }
  const logKey = keys.find(
    (k) => when >= k.validFor.start && when <= k.validFor.end && verifyLogSignature(k.key, set, sig),
  );
  if (!logKey) return fail('the signed entry timestamp does not verify with the log key of the trusted root');
  checks.push({
    name: 'tlog-set',
    ok: true,
    found: { logIndex: rb.Payload.logIndex, integratedTime: rb.Payload.integratedTime },
  });
  let body: { kind?: string; spec?: Record<string, unknown> };
  try {
    body = JSON.parse(Buffer.from(rb.Payload.body, 'base64').toString('utf8'));
  } catch {
    return fail('the logged entry body is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return fail('the logged entry body is not a JSON object');
  const payloadHash =
    payload instanceof Uint8Array
      ? createHash('sha256').update(payload).digest('hex')
      : payload.sha256.toLowerCase();
  const spec = body.spec ?? {};
  let loggedHash: string | undefined;
  let loggedSig: string | undefined;
  let loggedKey: string | undefined;
  if (body.kind === 'hashedrekord') {
    loggedHash = textAt(spec, 'data', 'hash', 'value');
    loggedSig = textAt(spec, 'signature', 'content');
    loggedKey = textAt(spec, 'signature', 'publicKey', 'content');
    // A hashedrekord entry always records the signature and the key: an entry without them binds nothing.
    if (loggedSig === undefined || loggedKey === undefined)
      return fail('the logged hashedrekord entry records no signature or no key');
  } else if (body.kind === 'dsse') {
    // A dsse entry records the hash of the statement inside the envelope (payloadHash).
    if (!envelope) return fail('a dsse log entry for a layer that is not a DSSE envelope');
    loggedHash = textAt(spec, 'payloadHash', 'value');
    if (loggedHash === createHash('sha256').update(envelope.payload).digest('hex')) loggedHash = payloadHash;
    loggedKey = textAt(spec, 'signatures', 0, 'verifier');
    if (loggedKey === undefined) return fail('the logged dsse entry records no verifier');
    const sig = textAt(spec, 'signatures', 0, 'signature');
    const ours = envelope.signatures.map((x) => Buffer.from(x.sig).toString('base64'));
    if (sig === undefined || !ours.includes(sig))
      return fail('the logged envelope signature differs from the one on the image');
  } else if (body.kind === 'intoto') {
    // An intoto entry logs a DSSE envelope: it is no evidence for a simple signature.
    if (!envelope) return fail('an intoto log entry for a layer that is not a DSSE envelope');
    loggedHash = textAt(spec, 'content', 'hash', 'value');
  } else {
    return fail(`unsupported log entry kind ${printable(body.kind)}`);
  }
  if (loggedHash !== payloadHash) {
    return fail('the logged entry is for other content than this signature', {
      expected: payloadHash,
      found: loggedHash,
    });
  }
  if (loggedSig !== undefined && loggedSig !== Buffer.from(legacy.signature).toString('base64')) {
    return fail('the logged signature differs from the signature being verified');
  }
  if (loggedKey !== undefined) {
    const k = keyFromEntryMaterial(loggedKey);
    if (!k || !spki(k).equals(spki(signerKey.keyObject))) {
      return fail('the logged entry was made with another key or certificate than this signature');
    }
    // A logged certificate must be the very certificate on the layer (whose identity was checked), not
    // another certificate for the same key.
    const logged = certificateDer(Buffer.from(loggedKey, 'base64').toString('utf8'));
    const ours = legacy.certificatePem ? certificateDer(legacy.certificatePem) : undefined;
    if (logged && ours && !logged.equals(ours)) {
      return fail('the logged entry names another certificate than the one on the signature');
    }
  }
  checks.push({ name: 'tlog-body', ok: true });
  return rb.Payload.integratedTime;
}

/** The certificate path of a legacy signature: chain, identity, and the signature by the certificate's key. */
export function checkLegacyCertificate(
  legacy: LegacySignature,
  verifies: (key: PublicKeyVerifier) => boolean,
  expectations: Expectations,
  trust: TrustMaterial | undefined,
  checks: Check[],
  now: Date,
): { key: PublicKeyVerifier; signer: NonNullable<SignatureResult['signer']> } | undefined {
  if (!legacy.certificatePem) {
    checks.push({
      name: 'certificate',
      ok: false,
      code: 'E_CERTIFICATE_INVALID',
      message: 'the signature carries no certificate, and no --key was given to check it with',
    });
    return undefined;
  }
  // The annotation's integrated time is trusted only because checkLegacyTlog verifies its SET afterwards;
  // with the log ignored nothing vouches for it, so the certificate must be valid now.
  const integratedTime = expectations.ignoreTlog ? undefined : legacy.rekorBundle?.Payload.integratedTime;
  const result = checkCertificateForSignature({
    certificatePem: legacy.certificatePem,
    chainPem: legacy.chainPem,
    identities: expectations.identities ?? [],
    trust,
    at: integratedTime !== undefined ? new Date(integratedTime * 1000) : now,
    requireSct: !expectations.ignoreSct,
    checks,
  });
  if (!result) return undefined;
  const key = loadPublicKey(result.publicKeyPem);
  const ok = verifies(key);
  checks.push({
    name: 'signature',
    ok,
    ...(ok
      ? {}
      : {
          code: 'E_SIGNATURE_INVALID' as const,
          message: 'the signature does not verify with the certificate key',
        }),
  });
  return ok ? { key, signer: result.signer } : undefined;
}
