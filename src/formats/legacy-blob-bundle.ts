// cosign v2's blob bundle (`sign-blob --bundle` before the protobuf bundle): a signature, the signing
// certificate and the Rekor SET, as cosign's LocalSignedPayload JSON. cosign.md §2a "Rekor bundle annotation".

import { SealError } from '../errors.js';
import { decodeBase64, encodeBase64 } from './base64.js';
import { type RekorBundle, rekorPayloadToGo } from './cosign.js';
import { type GoValue, goMarshalBytes, goStruct } from './gojson.js';

/** `{"base64Signature", "cert", "rekorBundle"}`: cert is base64 of the certificate PEM, absent for keys. */
export interface LegacyBlobBundle {
  signature: Uint8Array;
  certificatePem?: string;
  rekorBundle?: RekorBundle;
}

const FIELDS = ['base64Signature', 'cert', 'rekorBundle'] as const;

/** Go's encoding/json matches field names case-insensitively (folding ſ and K): such keys are ambiguous. */
const fold = (k: string) =>
  k
    .replace(/\u017f/g, 's')
    .replace(/\u212a/g, 'k')
    .toLowerCase();

const invalid = (why: string): never => {
  throw new SealError('E_BUNDLE_INVALID', `cosign v2 blob bundle: ${why}`);
};

/** True when the JSON has the shape of a v2 blob bundle rather than a protobuf bundle (no mediaType). */
export function isLegacyBlobBundle(json: unknown): boolean {
  return (
    typeof json === 'object' &&
    json !== null &&
    !Array.isArray(json) &&
    !('mediaType' in json) &&
    'base64Signature' in json
  );
}

function rekorBundleOf(value: unknown): RekorBundle {
  const o = value as Record<string, unknown>;
  const p = (typeof o === 'object' && o !== null ? o.Payload : undefined) as
    | Record<string, unknown>
    | undefined;
  if (typeof o !== 'object' || o === null || typeof o.SignedEntryTimestamp !== 'string')
    return invalid('rekorBundle.SignedEntryTimestamp must be a string');
  if (typeof p !== 'object' || p === null) return invalid('rekorBundle.Payload must be an object');
  if (typeof p.body !== 'string') return invalid('rekorBundle.Payload.body must be a string');
  if (typeof p.logID !== 'string' || !/^[0-9a-fA-F]{64}$/.test(p.logID))
    return invalid('rekorBundle.Payload.logID must be 64 hex digits');
  for (const k of ['integratedTime', 'logIndex'] as const) {
    const n = p[k];
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)
      return invalid(`rekorBundle.Payload.${k} must be a non-negative integer`);
  }
  decodeBase64(p.body, 'rekorBundle.Payload.body');
  return {
    SignedEntryTimestamp: decodeBase64(o.SignedEntryTimestamp, 'rekorBundle.SignedEntryTimestamp'),
    Payload: {
      body: p.body,
      integratedTime: p.integratedTime as number,
      logIndex: p.logIndex as number,
      logID: p.logID.toLowerCase(),
    },
  };
}

/** Parse a v2 blob bundle (parsed JSON). E_BUNDLE_INVALID for shape, E_BASE64 for encodings. */
export function parseLegacyBlobBundle(json: unknown): LegacyBlobBundle {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return invalid('must be an object');
  const o = json as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    const f = FIELDS.find((x) => fold(x) === fold(key));
    // cosign reads `Cert` or `BASE64SIGNATURE` as the field; refuse what another reader would take otherwise.
    if (f !== undefined && f !== key) return invalid(`"${key}" is ambiguous (cosign reads it as "${f}")`);
  }
  if (typeof o.base64Signature !== 'string' || o.base64Signature === '')
    return invalid('base64Signature must be a non-empty string');
  const out: LegacyBlobBundle = { signature: decodeBase64(o.base64Signature, 'base64Signature') };
  if (o.cert !== undefined && o.cert !== null && o.cert !== '') {
    if (typeof o.cert !== 'string') return invalid('cert must be a string');
    const pem = new TextDecoder().decode(decodeBase64(o.cert, 'cert'));
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) return invalid('cert is not a base64 PEM certificate');
    out.certificatePem = pem;
  }
  if (o.rekorBundle !== undefined && o.rekorBundle !== null) out.rekorBundle = rekorBundleOf(o.rekorBundle);
  return out;
}

/** The JSON cosign v2 writes (Go json.Marshal of LocalSignedPayload: field order, omitempty). */
export function serializeLegacyBlobBundle(bundle: LegacyBlobBundle): string {
  const fields: [string, GoValue][] = [['base64Signature', encodeBase64(bundle.signature)]];
  if (bundle.certificatePem)
    fields.push(['cert', encodeBase64(new TextEncoder().encode(bundle.certificatePem))]);
  if (bundle.rekorBundle) {
    fields.push([
      'rekorBundle',
      goStruct([
        ['SignedEntryTimestamp', encodeBase64(bundle.rekorBundle.SignedEntryTimestamp)],
        ['Payload', rekorPayloadToGo(bundle.rekorBundle.Payload)],
      ]),
    ]);
  }
  return new TextDecoder().decode(goMarshalBytes(goStruct(fields)));
}
