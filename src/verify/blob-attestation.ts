// Verifying a file's attestation (`verify-blob-attestation`): a DSSE bundle whose in-toto statement names
// the file's sha256 digest, with the required predicate type, signed by a pinned key or identity. cosign.md §2c.

import { SealError } from '../errors.js';
import { IN_TOTO_PAYLOAD_TYPE } from '../formats/dsse.js';
import { parseStatement, type Statement } from '../formats/intoto.js';
import { loadPublicKey } from '../keys/public-key.js';
import { verifyBundle } from './bundle/verify.js';
import { assertPinned } from './expectations.js';
import type { TrustMaterial } from './trust.js';
import type { Check, Expectations, SignatureResult, Verdict } from './types.js';

export interface BlobDigest {
  algorithm: 'sha256' | 'sha384' | 'sha512';
  hex: string;
}

function emptyTrust(): TrustMaterial {
  return { certificateAuthorities: [], tlogs: new Map(), ctlogs: new Map(), timestampAuthorities: [] };
}

/**
 * Verify an attestation bundle for a file digest. `expectations.predicateType` (a URI) is required: an
 * attestation is only meaningful as a claim of a known kind. The Verdict's payload is the statement.
 */
export function verifyBlobAttestation(
  bundleJson: unknown,
  digest: BlobDigest,
  expectations: Expectations,
  trust: TrustMaterial | undefined,
  reference = 'blob',
): Verdict {
  assertPinned(expectations);
  if (!expectations.predicateType) {
    throw new SealError('E_INVALID_ARGUMENT', 'verifying an attestation needs the predicate type (--type)');
  }
  const keys = (expectations.keys ?? []).map((k) => loadPublicKey(k));
  const result = verifyBundle(
    bundleJson,
    { kind: 'digest', algorithm: digest.algorithm, hex: digest.hex.toLowerCase() },
    {
      keys,
      identities: expectations.identities ?? [],
      ignoreTlog: expectations.ignoreTlog ?? false,
      ignoreSct: expectations.ignoreSct ?? false,
      requireSignedTimestamp: expectations.requireSignedTimestamp ?? false,
      requireDsse: true,
    },
    trust ?? emptyTrust(),
  );
  const checks: Check[] = [...result.checks];
  const sig: SignatureResult = { source: 'bundle-file', ok: false, checks };
  if (result.signer) sig.signer = result.signer;
  if (result.integratedTime !== undefined) sig.integratedTime = result.integratedTime;
  const fail = (code: Check['code'], message: string): Verdict => {
    if (!checks.some((c) => !c.ok)) checks.push({ name: 'bundle', ok: false, code, message });
    return {
      ok: false,
      reference,
      digest: `${digest.algorithm}:${digest.hex}`,
      code: checks.find((c) => !c.ok)?.code ?? code ?? 'E_SIGNATURE_INVALID',
      message,
      signatures: [sig],
    };
  };
  if (!result.ok) return fail(result.code ?? 'E_SIGNATURE_INVALID', result.message);
  if (result.dssePayloadType !== IN_TOTO_PAYLOAD_TYPE || !result.dssePayload) {
    checks.push({
      name: 'envelope',
      ok: false,
      code: 'E_PAYLOAD_INVALID',
      expected: IN_TOTO_PAYLOAD_TYPE,
      found: result.dssePayloadType,
      message: `the bundle envelope carries ${result.dssePayloadType ?? 'no DSSE payload'}, not an in-toto statement`,
    });
    return fail('E_PAYLOAD_INVALID', checks.at(-1)!.message!);
  }
  let statement: Statement;
  try {
    statement = parseStatement(result.dssePayload);
  } catch (err) {
    if (!(err instanceof SealError)) throw err;
    checks.push({ name: 'statement', ok: false, code: err.code, message: err.message });
    return fail(err.code, err.message);
  }
  sig.payload = statement;
  sig.payloadBytes = result.dssePayload;
  sig.predicateType = statement.predicateType;
  const typeOk = statement.predicateType === expectations.predicateType;
  checks.push({
    name: 'predicate-type',
    ok: typeOk,
    expected: expectations.predicateType,
    found: statement.predicateType,
    ...(typeOk
      ? {}
      : {
          code: 'E_PREDICATE_TYPE_MISMATCH' as const,
          message: `predicate type is ${statement.predicateType}, not ${expectations.predicateType}`,
        }),
  });
  if (!typeOk) return fail('E_PREDICATE_TYPE_MISMATCH', checks.at(-1)!.message!);
  sig.ok = true;
  return {
    ok: true,
    reference,
    digest: `${digest.algorithm}:${digest.hex}`,
    message: 'Verified OK',
    signatures: [sig],
  };
}
