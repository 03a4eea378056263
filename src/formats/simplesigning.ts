// cosign's simple-signing payload ("cosign container image signature"), byte-identical to the Go
// json.Marshal of sigstore/sigstore pkg/signature/payload. cosign.md §2a "Simple-signing payload".

import { SealError } from '../errors.js';
import { Digest } from '../oci/digest.js';
import { goMarshalBytes, goStringMapOrNull, goStruct } from './gojson.js';
import * as z from './zod.js';

export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';

export interface SimpleSigningInput {
  /** `Repository.Name()`: registry + repository, no tag (Docker Hub as `index.docker.io/library/x`). */
  dockerReference: string;
  digest: Digest | string;
  /** cosign's `-a` pairs; absent or empty gives `"optional":null` (cosign's nil map). */
  annotations?: Readonly<Record<string, string>>;
}

/** The exact bytes cosign signs for an image (compact, struct order, sorted `optional`, HTML escaping). */
export function buildSimpleSigningPayload(input: SimpleSigningInput): Uint8Array {
  const digest = typeof input.digest === 'string' ? Digest.parse(input.digest) : input.digest;
  return goMarshalBytes(
    goStruct([
      [
        'critical',
        goStruct([
          ['identity', goStruct([['docker-reference', input.dockerReference]])],
          ['image', goStruct([['docker-manifest-digest', digest.toString()]])],
          ['type', COSIGN_SIGNATURE_TYPE],
        ]),
      ],
      ['optional', goStringMapOrNull(input.annotations)],
    ]),
  );
}

const SimpleSigningSchema = z.object({
  critical: z.looseObject({
    identity: z.looseObject({ 'docker-reference': z.string() }),
    image: z.looseObject({ 'docker-manifest-digest': z.string() }),
    type: z.string(),
  }),
  optional: z.optional(z.nullable(z.record(z.string(), z.unknown()))),
});

export interface SimpleSigningPayload {
  dockerReference: string;
  /** As written in the payload; compare with `Digest.equals`. Not parsed, so a malformed one can be reported. */
  dockerManifestDigest: string;
  type: string;
  /** `optional` (annotations); values are usually strings but Go allows any JSON. */
  optional: Record<string, unknown> | null;
}

/** Parse signed payload bytes as simple signing; anything else is E_PAYLOAD_INVALID. */
export function parseSimpleSigningPayload(bytes: Uint8Array): SimpleSigningPayload {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new SealError('E_PAYLOAD_INVALID', 'the signed payload is not JSON', { cause });
  }
  const parsed = SimpleSigningSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SealError(
      'E_PAYLOAD_INVALID',
      `the signed payload is not a simple-signing document: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(),
    );
  }
  const c = parsed.data.critical;
  return {
    dockerReference: c.identity['docker-reference'],
    dockerManifestDigest: c.image['docker-manifest-digest'],
    type: c.type,
    optional: parsed.data.optional ?? null,
  };
}
