// Checks on a verified attestation beyond its signature: Kyverno-style conditions (`--policy FILE`, JMESPath
// via src/policy/conditions.ts) and SLSA provenance expectations. docs/attestation-policy.md; issue #6.

import * as z from 'zod';
import { SealError } from '../errors.js';
import type { Statement } from '../formats/intoto.js';
import { evaluateConditions, parseOperator } from '../policy/conditions.js';
import { parseYamlDocuments } from '../policy/load.js';
import { toConditionBlock } from '../policy/model.js';
import type { ConditionBlock } from '../policy/types.js';
import { type ProvenanceExpectations, verifyProvenancePredicate } from '../provenance/verify.js';
import type { Check } from './types.js';

const ConditionSchema = z.union([
  z.strictObject({
    key: z.string(),
    operator: z.string(),
    value: z.unknown(),
    message: z.string().optional(),
  }),
  z.strictObject({ expr: z.string().min(1), message: z.string().optional() }),
]);
const BlockSchema = z.strictObject({
  all: z.array(ConditionSchema).optional(),
  any: z.array(ConditionSchema).optional(),
});
/** A file holds one block `{all, any}`, a list of blocks, or `{conditions: [blocks]}` (Kyverno's shape). */
const PolicyFileSchema = z.union([
  BlockSchema,
  z.array(BlockSchema).min(1),
  z.strictObject({ conditions: z.array(BlockSchema).min(1) }),
]);

export type AttestationPolicy = ConditionBlock[];

/** Parse an attestation policy (YAML or JSON text). E_POLICY_INVALID naming the bad field. */
export function parseAttestationPolicy(text: string, origin = 'policy'): AttestationPolicy {
  if (/\.(rego|cue)$/i.test(origin)) {
    throw new SealError(
      'E_POLICY_INVALID',
      `${origin}: CUE and Rego policies are not supported; write {all, any} conditions (docs/attestation-policy.md)`,
    );
  }
  const docs = parseYamlDocuments(text, origin);
  if (docs.length !== 1) {
    throw new SealError(
      'E_POLICY_INVALID',
      `${origin}: an attestation policy is one YAML or JSON document, found ${docs.length}`,
    );
  }
  const parsed = PolicyFileSchema.safeParse(docs[0]);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SealError(
      'E_POLICY_INVALID',
      `${origin}: ${issue?.path.join('.') || '(top level)'}: ${issue?.message ?? 'invalid'} (expected {all: [...], any: [...]} of {key, operator, value} or {expr} conditions)`,
    );
  }
  const raw = parsed.data;
  const blocks = Array.isArray(raw) ? raw : 'conditions' in raw ? raw.conditions : [raw];
  const out = blocks.map((b, i) => toConditionBlock(b, `${origin}.conditions[${i}]`, parseOperator));
  if (out.every((b) => b.all.length === 0 && b.any.length === 0)) {
    throw new SealError('E_POLICY_INVALID', `${origin}: the policy has no conditions`);
  }
  return out;
}

/** The JSON the conditions see: the whole in-toto statement (`_type`, `subject`, `predicateType`, `predicate`). */
export function policyInput(statement: Statement): unknown {
  return {
    _type: statement._type,
    subject: statement.subject,
    predicateType: statement.predicateType,
    predicate: statement.predicate,
  };
}

/** Evaluate the policy over a statement: one `policy` check, failing with E_CONDITION_FAILED and the condition. */
export function checkAttestationPolicy(policy: AttestationPolicy, statement: Statement): Check {
  const result = evaluateConditions(policy, policyInput(statement));
  if (result.ok) return { name: 'policy', ok: true };
  return {
    name: 'policy',
    ok: false,
    code: 'E_CONDITION_FAILED',
    found: result.failed,
    message: `attestation condition failed: ${result.failed}`,
  };
}

export interface AttestationChecksOptions {
  policy?: AttestationPolicy;
  /** slsa-verifier-style expectations; checked only when at least one is set. */
  provenance?: ProvenanceExpectations;
}

/** Does the caller ask for provenance checks? */
export function hasProvenanceExpectations(
  p: ProvenanceExpectations | undefined,
): p is ProvenanceExpectations {
  return p !== undefined && Object.values(p).some((v) => v !== undefined);
}

/** Every extra check on a signature-verified statement, in order (provenance first, then the policy). */
export function attestationChecks(statement: Statement, options: AttestationChecksOptions): Check[] {
  const checks: Check[] = [];
  if (hasProvenanceExpectations(options.provenance)) {
    checks.push(...verifyProvenancePredicate(statement.predicate, options.provenance));
  }
  if (options.policy) checks.push(checkAttestationPolicy(options.policy, statement));
  return checks;
}
