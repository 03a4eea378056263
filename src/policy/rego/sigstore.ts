// What sigstore policy-controller makes of a Rego `policy` (cosign pkg/policy EvaluatePolicyAgainstJSON and
// pkg/cosign/rego ValidateJSONWithModuleInput): the query `isCompliant = data.sigstore.isCompliant` over the
// input document; `true` passes; a list of {result, error, warning} objects passes on the first with
// result true (with a warning, policy-controller still rejects); anything else fails — messages as cosign's.

import { type CompiledRego, compileRego, RegoEvalError } from './compile.js';
import { toJson } from './values.js';

export const SIGSTORE_REGO_QUERY = 'isCompliant = data.sigstore.isCompliant';

export interface RegoPolicyOutcome {
  /** cosign's `warnings` return (set even when `error` is). */
  warning?: string;
  /** cosign's `errors` return, wrapped as EvaluatePolicyAgainstJSON wraps it. */
  error?: string;
}

export interface SigstoreRegoPolicy {
  /**
   * Evaluate against the JSON input (an attestation's statement, or the spec-level policy document);
   * `name` is what policy-controller names in its messages (the attestation's name, or "ClusterImagePolicy").
   */
  evaluate(input: unknown, name?: string, opts?: { nowNs?: number }): RegoPolicyOutcome;
}

/** policy-controller's verdict from an outcome: any error or warning fails, the error's text first. */
export function regoOutcomeFailure(o: RegoPolicyOutcome): string | undefined {
  return o.error ?? o.warning;
}

export function compileSigstoreRego(body: string, where: string): SigstoreRegoPolicy {
  const compiled = compileRego(body, where);
  return { evaluate: (input, name, opts) => evaluateSigstore(compiled, input, name, opts) };
}

function evaluateSigstore(
  compiled: CompiledRego,
  input: unknown,
  name: string | undefined,
  opts?: { nowNs?: number },
): RegoPolicyOutcome {
  // Unnamed: the caller wraps the message (the attestation level names the attestation itself).
  const wrap = (msg: string) =>
    name === undefined ? msg : `failed evaluating rego policy for type ${name}: ${msg}`;
  let value: unknown;
  try {
    const inPackage = compiled.pkg.length === 1 && compiled.pkg[0] === 'sigstore';
    const v = inPackage ? compiled.query('isCompliant', input, opts) : undefined;
    value = v === undefined ? undefined : toJson(v);
  } catch (err) {
    if (err instanceof RegoEvalError) return { error: wrap(err.message) };
    throw err;
  }
  const notCompliant = `policy is not compliant for query '${SIGSTORE_REGO_QUERY}'`;
  if (value === true) return {};
  if (!Array.isArray(value)) return { error: wrap(notCompliant) };
  let warning: string | undefined;
  let error = `policy is not compliant for query "${SIGSTORE_REGO_QUERY}"`;
  for (const r of value) {
    if (r === null || typeof r !== 'object' || Array.isArray(r))
      return { error: wrap(`${notCompliant}: unexpected result type ${goTypeOf(r)}`) };
    const parsed = cosignRuleResult(r as Record<string, unknown>);
    if (typeof parsed === 'string')
      return { error: wrap(`${notCompliant} due to parsing errors: ${parsed}`) };
    if (parsed.result) return parsed.warning === '' ? {} : { warning: `warning: ${parsed.warning}` };
    warning = parsed.warning;
    error = `${notCompliant} with errors: ${parsed.error}`;
  }
  return { ...(warning !== undefined ? { warning } : {}), error: wrap(error) };
}

/** encoding/json into cosign's CosignRuleResult{Warning, Error string; Result bool}: keys match case-insensitively. */
function cosignRuleResult(
  o: Record<string, unknown>,
): { result: boolean; warning: string; error: string } | string {
  const out = { result: false, warning: '', error: '' };
  const fields: [keyof typeof out, 'bool' | 'string'][] = [
    ['error', 'string'],
    ['result', 'bool'],
    ['warning', 'string'],
  ];
  for (const key of Object.keys(o).sort()) {
    const field =
      fields.find(([f]) => f === key) ?? fields.find(([f]) => f.toLowerCase() === key.toLowerCase());
    if (!field) continue;
    const v = o[key];
    if (v === null) continue;
    const want = field[1] === 'bool' ? 'boolean' : 'string';
    if (typeof v !== want)
      return `json: cannot unmarshal ${jsonTypeOf(v)} into Go struct field CosignRuleResult.${field[0]} of type ${field[1]}`;
    (out as Record<string, unknown>)[field[0]] = v;
  }
  return out;
}

function jsonTypeOf(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  return typeof v === 'object' ? 'object' : typeof v;
}

function goTypeOf(v: unknown): string {
  if (v === null) return '<nil>';
  if (Array.isArray(v)) return '[]interface {}';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'json.Number';
  return 'string';
}
