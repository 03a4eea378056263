// Compiles the `policy` bodies of policy-controller ClusterImagePolicies (spec.policy and
// spec.authorities[].attestations[].policy, `type: cue|rego`) into evaluators of a JSON document.
// Semantics of policy-controller's EvaluatePolicyAgainstJSON: CUE is unified with the document and validated;
// Rego is queried for data.sigstore.isCompliant (src/policy/rego/sigstore.ts).

import { SealError } from '../../errors.js';
import { CueCompileError, compileCue } from '../cue/index.js';
import { jsonTextOf, readJson } from '../cue/json.js';
import { compileSigstoreRego, regoOutcomeFailure } from '../rego/sigstore.js';

export type CipPolicyType = 'cue' | 'rego';

export type CipPolicyResult = { ok: true; warnings?: string[] } | { ok: false; message: string };

export interface CompiledCipPolicy {
  readonly type: CipPolicyType;
  /** Apply the policy to a JSON document (an in-toto statement, or the spec-level policy input). */
  evaluate(input: unknown): CipPolicyResult;
}

/**
 * Compile a policy body at load time. `path` names the body in messages
 * (`<origin>: spec.authorities[0].attestations[0].policy.data`); anything seal cannot evaluate is an
 * E_POLICY_INVALID naming that path and the construct.
 */
export function compileCipPolicy(
  type: string,
  body: string,
  path: string,
  /**
   * What policy-controller names the evaluated document in its messages (the attestation's name, or
   * "ClusterImagePolicy" at spec level): given, failures read as policy-controller's
   * (`failed evaluating cue policy for NAME: …`, `failed evaluating rego policy for type NAME: …`).
   */
  name?: string,
): CompiledCipPolicy {
  if (type === 'cue') {
    let compiled: ReturnType<typeof compileCue>;
    try {
      compiled = compileCue(body);
    } catch (err) {
      if (err instanceof CueCompileError) throw new SealError('E_POLICY_INVALID', `${path}: ${err.message}`);
      if (err instanceof SealError) throw err;
      throw new SealError(
        'E_POLICY_INVALID',
        `${path}: CUE policy could not be compiled: ${(err as Error).message}`,
      );
    }
    return {
      type: 'cue',
      evaluate(input) {
        let r: ReturnType<typeof compiled.evaluate>;
        try {
          // A verified statement is read from its signed JSON text, as policy-controller compiles the
          // payload bytes: numbers keep their spelling (7.0 is a float, large integers exact).
          const text = jsonTextOf(input);
          let data = input;
          if (text !== undefined) {
            try {
              data = readJson(text);
            } catch (err) {
              return {
                ok: false,
                message: `the statement could not be read for the CUE policy: ${(err as Error).message}`,
              };
            }
          }
          r = compiled.evaluate(data);
        } catch (err) {
          // A failure of the evaluator itself fails this policy (closed), not the whole decision.
          return { ok: false, message: `CUE evaluation failed: ${(err as Error).message}` };
        }
        if (r.ok) return { ok: true };
        return {
          ok: false,
          message:
            name === undefined
              ? r.message
              : `failed evaluating cue policy for ${name}: failed to evaluate the policy with error: ${r.message}`,
        };
      },
    };
  }
  if (type === 'rego') {
    // seal's own Rego evaluator (src/policy/rego/compile.ts says why), with cosign's isCompliant verdicts.
    const compiled = compileSigstoreRego(body, path);
    return {
      type: 'rego',
      evaluate(input) {
        let outcome: ReturnType<typeof compiled.evaluate>;
        try {
          outcome = compiled.evaluate(input, name);
        } catch (err) {
          // A failure of the evaluator itself fails this policy (closed), not the whole decision.
          return { ok: false, message: `Rego evaluation failed: ${(err as Error).message}` };
        }
        const failure = regoOutcomeFailure(outcome);
        return failure === undefined ? { ok: true } : { ok: false, message: failure };
      },
    };
  }
  throw new SealError('E_POLICY_INVALID', `${path}: policy type "${type}" is not one of cue, rego`);
}
