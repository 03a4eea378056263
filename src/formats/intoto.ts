// in-toto Statements (v1, and v0.1 on read/for legacy attest) and cosign's predicate-type shortcuts.
// cosign.md §2b (the `cosign/sign/v1` statement) and §2c (`--type` table); in-toto attestation spec v1.

import { SealError } from '../errors.js';
import { Digest } from '../oci/digest.js';
import { type GoValue, goMap, goMarshalBytes, goStruct } from './gojson.js';
import * as z from './zod.js';

export const STATEMENT_TYPE_V1 = 'https://in-toto.io/Statement/v1';
export const STATEMENT_TYPE_V01 = 'https://in-toto.io/Statement/v0.1';
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';

export interface ResourceDescriptor {
  name?: string;
  digest: Record<string, string>;
  annotations?: Record<string, unknown>;
}

export interface Statement {
  _type: string;
  subject: ResourceDescriptor[];
  predicateType: string;
  predicate: unknown;
}

/** JSON value → Go value with map keys sorted (deterministic bytes; cosign uses protojson, not canonical). */
function toGo(value: unknown): GoValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number')
    return value;
  if (Array.isArray(value)) return value.map(toGo);
  if (typeof value === 'object') {
    const out: Record<string, GoValue> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>))
      if (v !== undefined) out[k] = toGo(v);
    return goMap(out);
  }
  throw new SealError('E_PAYLOAD_INVALID', `cannot serialise a ${typeof value} in a statement`);
}

/** Serialise a statement: `_type, subject, predicateType, predicate`, subject fields `name, digest, annotations`. */
export function serializeStatement(statement: Statement): Uint8Array {
  return goMarshalBytes(
    goStruct([
      ['_type', statement._type],
      [
        'subject',
        statement.subject.map((s) =>
          goStruct([
            ['name', s.name],
            ['digest', toGo(s.digest)],
            [
              'annotations',
              s.annotations && Object.keys(s.annotations).length > 0 ? toGo(s.annotations) : undefined,
            ],
          ]),
        ),
      ],
      ['predicateType', statement.predicateType],
      ['predicate', toGo(statement.predicate ?? {})],
    ]),
  );
}

/**
 * The statement `cosign sign` signs in v3: subject = the image digest (no name) with the `-a`
 * annotations, predicate type `https://sigstore.dev/cosign/sign/v1`, empty predicate.
 */
export function buildCosignSignStatement(
  digest: Digest | string,
  annotations?: Readonly<Record<string, string>>,
): Uint8Array {
  const d = typeof digest === 'string' ? Digest.parse(digest) : digest;
  const subject: ResourceDescriptor = { digest: { [d.algorithm]: d.hex } };
  if (annotations && Object.keys(annotations).length > 0) subject.annotations = { ...annotations };
  return serializeStatement({
    _type: STATEMENT_TYPE_V1,
    subject: [subject],
    predicateType: COSIGN_SIGN_PREDICATE_TYPE,
    predicate: {},
  });
}

/** A statement for `attest`: v1 by default; `v0.1` reproduces cosign's legacy `--predicate` statements. */
export function buildStatement(input: {
  subjects: ResourceDescriptor[];
  predicateType: string;
  predicate: unknown;
  version?: 'v1' | 'v0.1';
}): Uint8Array {
  return serializeStatement({
    _type: input.version === 'v0.1' ? STATEMENT_TYPE_V01 : STATEMENT_TYPE_V1,
    subject: input.subjects,
    predicateType: input.predicateType,
    predicate: input.predicate,
  });
}

const StatementSchema = z.object({
  _type: z.enum([STATEMENT_TYPE_V1, STATEMENT_TYPE_V01]),
  subject: z
    .array(
      z.object({
        name: z.optional(z.string()),
        digest: z.record(z.string(), z.string()),
        annotations: z.optional(z.record(z.string(), z.unknown())),
      }),
    )
    .check(z.minLength(1)),
  predicateType: z.string().check(z.minLength(1)),
  predicate: z.optional(z.unknown()),
});

/** Parse statement bytes (v1 or v0.1). E_PAYLOAD_INVALID otherwise. */
export function parseStatement(bytes: Uint8Array): Statement {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new SealError('E_PAYLOAD_INVALID', 'the in-toto statement is not JSON', { cause });
  }
  const parsed = StatementSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SealError(
      'E_PAYLOAD_INVALID',
      `malformed in-toto statement: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(),
    );
  }
  const s = parsed.data;
  return {
    _type: s._type,
    subject: s.subject.map((x) => ({
      ...(x.name !== undefined ? { name: x.name } : {}),
      digest: x.digest,
      ...(x.annotations !== undefined ? { annotations: x.annotations } : {}),
    })),
    predicateType: s.predicateType,
    predicate: s.predicate ?? null,
  };
}

/** Does a subject name `digest` (same algorithm and hex)? */
export function subjectMatchesDigest(subject: ResourceDescriptor, digest: Digest): boolean {
  return subject.digest[digest.algorithm]?.toLowerCase() === digest.hex;
}

/** cosign's `--type` shortcuts (options/predicate.go). */
export const PREDICATE_TYPE_SHORTCUTS: Readonly<Record<string, string>> = {
  custom: 'https://cosign.sigstore.dev/attestation/v1',
  slsaprovenance: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance02: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance1: 'https://slsa.dev/provenance/v1',
  spdx: 'https://spdx.dev/Document',
  spdxjson: 'https://spdx.dev/Document',
  cyclonedx: 'https://cyclonedx.org/bom',
  link: 'https://in-toto.io/Link/v1',
  vuln: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  openvex: 'https://openvex.dev/ns',
  vsa: 'https://slsa.dev/verification_summary/v1',
};

/** A `--type` value: a shortcut from the table, else it must be a URI (E_INVALID_ARGUMENT otherwise). */
export function resolvePredicateType(value: string): string {
  const shortcut = PREDICATE_TYPE_SHORTCUTS[value];
  if (shortcut) return shortcut;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || !/^[a-z][a-z0-9+.-]*:/i.test(value)) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `invalid predicate type "${value}": use a URI or one of ${Object.keys(PREDICATE_TYPE_SHORTCUTS).join(', ')}`,
    );
  }
  return value;
}
