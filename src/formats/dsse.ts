// DSSE envelopes (secure-systems-lab/dsse v1.0): PAE, build/parse, sign/verify with seal's Signer and
// PublicKeyVerifier. Serialised like Go json.Marshal (cosign.md §2c): payload, payloadType, signatures.

import { SealError } from '../errors.js';
import type { PublicKeyVerifier, Signer } from '../keys/types.js';
import { decodeBase64, encodeBase64 } from './base64.js';
import { goMarshalBytes, goStruct } from './gojson.js';
import * as z from './zod.js';

export const DSSE_ENVELOPE_MEDIA_TYPE = 'application/vnd.dsse.envelope.v1+json';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

export interface DsseSignature {
  keyid?: string;
  sig: Uint8Array;
}

/** A decoded envelope: payload and signatures as bytes. */
export interface DsseEnvelope {
  payloadType: string;
  payload: Uint8Array;
  signatures: DsseSignature[];
}

/** PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in ASCII decimal bytes. */
export function preAuthEncoding(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = new TextEncoder().encode(payloadType);
  const head = new TextEncoder().encode(`DSSEv1 ${type.length} ${payloadType} ${payload.length} `);
  const out = new Uint8Array(head.length + payload.length);
  out.set(head, 0);
  out.set(payload, head.length);
  return out;
}

/** Sign `payload` into a one-signature envelope. */
export async function signEnvelope(
  signer: Signer,
  payloadType: string,
  payload: Uint8Array,
  options: { keyid?: string } = {},
): Promise<DsseEnvelope> {
  const sig = await signer.sign(preAuthEncoding(payloadType, payload));
  return { payloadType, payload, signatures: [options.keyid ? { keyid: options.keyid, sig } : { sig }] };
}

/** True when at least one signature verifies over PAE(payloadType, payload) under `verifier`. */
export function verifyEnvelope(envelope: DsseEnvelope, verifier: PublicKeyVerifier): boolean {
  const pae = preAuthEncoding(envelope.payloadType, envelope.payload);
  return envelope.signatures.some((s) => verifier.verify(pae, s.sig));
}

/** The envelope's JSON as Go json.Marshal writes it (`keyid` omitted when empty). */
export function serializeEnvelope(envelope: DsseEnvelope): Uint8Array {
  return goMarshalBytes(envelopeToGo(envelope));
}

export function envelopeToGo(envelope: DsseEnvelope) {
  return goStruct([
    ['payload', encodeBase64(envelope.payload)],
    ['payloadType', envelope.payloadType],
    [
      'signatures',
      envelope.signatures.map((s) =>
        goStruct([
          ['keyid', s.keyid || undefined],
          ['sig', encodeBase64(s.sig)],
        ]),
      ),
    ],
  ]);
}

/** The envelope as a plain JSON object (for embedding in bundles). */
export function envelopeToJSON(envelope: DsseEnvelope): SerializedEnvelope {
  return {
    payload: encodeBase64(envelope.payload),
    payloadType: envelope.payloadType,
    signatures: envelope.signatures.map((s) =>
      s.keyid ? { keyid: s.keyid, sig: encodeBase64(s.sig) } : { sig: encodeBase64(s.sig) },
    ),
  };
}

export interface SerializedEnvelope {
  payload: string;
  payloadType: string;
  signatures: { keyid?: string; sig: string }[];
}

export const SerializedEnvelopeSchema = z.object({
  payload: z.string(),
  payloadType: z.string(),
  signatures: z.array(z.object({ keyid: z.optional(z.string()), sig: z.string() })).check(z.minLength(1)),
});

/** Decode an envelope object (already JSON-parsed). E_PAYLOAD_INVALID for shape, E_BASE64 for encodings. */
export function envelopeFromJSON(json: unknown): DsseEnvelope {
  const parsed = SerializedEnvelopeSchema.safeParse(json);
  if (!parsed.success) {
    throw new SealError(
      'E_PAYLOAD_INVALID',
      `malformed DSSE envelope: ${parsed.error.issues[0]?.path.join('.') ?? ''}`,
    );
  }
  const e = parsed.data;
  // The DSSE spec lets readers accept both base64 alphabets.
  return {
    payloadType: e.payloadType,
    payload: decodeBase64(e.payload, 'DSSE payload', { urlSafe: true }),
    signatures: e.signatures.map((s, i) => ({
      ...(s.keyid ? { keyid: s.keyid } : {}),
      sig: decodeBase64(s.sig, `DSSE signatures[${i}].sig`, { urlSafe: true }),
    })),
  };
}

/** Parse envelope bytes (the legacy `.att` layer blob, or a file). */
export function parseEnvelope(bytes: Uint8Array): DsseEnvelope {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new SealError('E_PAYLOAD_INVALID', 'the DSSE envelope is not JSON', { cause });
  }
  return envelopeFromJSON(json);
}
