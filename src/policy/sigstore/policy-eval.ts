// Compiles the `policy` bodies of policy-controller ClusterImagePolicies (spec.policy and
// spec.authorities[].attestations[].policy, `type: cue|rego`) into evaluators of a JSON document.
// Semantics of policy-controller's EvaluatePolicyAgainstJSON: CUE is unified with the document and validated.

import { SealError } from '../../errors.js';
import { CueCompileError, compileCue } from '../cue/index.js';

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
export function compileCipPolicy(type: string, body: string, path: string): CompiledCipPolicy {
  if (type === 'cue') {
    let compiled: ReturnType<typeof compileCue>;
    try {
      compiled = compileCue(body);
    } catch (err) {
      if (err instanceof CueCompileError) throw new SealError('E_POLICY_INVALID', `${path}: ${err.message}`);
      throw err;
    }
    return {
      type: 'cue',
      evaluate(input) {
        let r: ReturnType<typeof compiled.evaluate>;
        try {
          r = compiled.evaluate(input);
        } catch (err) {
          // A failure of the evaluator itself fails this policy (closed), not the whole decision.
          return { ok: false, message: `CUE evaluation failed: ${(err as Error).message}` };
        }
        return r.ok ? { ok: true } : { ok: false, message: r.message };
      },
    };
  }
  if (type === 'rego') {
    throw new SealError(
      'E_POLICY_INVALID',
      `${path}: rego policies are not supported by seal (use type: cue, or a seal ImagePolicy with conditions)`,
    );
  }
  throw new SealError('E_POLICY_INVALID', `${path}: policy type "${type}" is not one of cue, rego`);
}
