// SLSA Verification Summary Attestation v1 (https://slsa.dev/verification_summary/v1, wave2-facts §7): the
// predicate `seal promote` attests after verifying an image against a policy, and the checks a consumer
// makes on one (`verify-attestation --type vsa`): verifier id, resourceUri, PASSED, expected levels.

import type { Check } from '../verify/types.js';

export const VSA_PREDICATE_TYPE = 'https://slsa.dev/verification_summary/v1';

export interface ResourceDescriptorV1 {
  uri?: string;
  digest?: Record<string, string>;
  name?: string;
}

export interface VsaPredicate {
  verifier: { id: string; version?: Record<string, string> };
  timeVerified: string;
  resourceUri: string;
  policy: ResourceDescriptorV1;
  inputAttestations?: ResourceDescriptorV1[];
  verificationResult: 'PASSED' | 'FAILED';
  verifiedLevels: string[];
  slsaVersion?: string;
}

export function buildVsa(p: {
  verifierId: string;
  verifierVersion?: Record<string, string>;
  time: Date;
  resourceUri: string;
  policy: ResourceDescriptorV1;
  inputAttestations?: ResourceDescriptorV1[];
  passed: boolean;
  verifiedLevels: string[];
}): VsaPredicate {
  return {
    verifier: { id: p.verifierId, ...(p.verifierVersion ? { version: p.verifierVersion } : {}) },
    timeVerified: p.time.toISOString(),
    resourceUri: p.resourceUri,
    policy: p.policy,
    ...(p.inputAttestations && p.inputAttestations.length > 0
      ? { inputAttestations: p.inputAttestations }
      : {}),
    verificationResult: p.passed ? 'PASSED' : 'FAILED',
    verifiedLevels: p.verifiedLevels,
  };
}

export interface VsaExpectations {
  verifierId?: string;
  resourceUri?: string;
  /** Each must be met: SLSA_<TRACK>_LEVEL_<n> is met by the same track at n or higher. */
  levels?: string[];
}

const LEVEL = /^SLSA_([A-Z_]+)_LEVEL_(\d+)$/;

/** Does `have` (a verifiedLevels list) satisfy `want`? A level implies the lower ones of its track. */
export function levelSatisfied(have: string[], want: string): boolean {
  const w = LEVEL.exec(want);
  if (!w) return have.includes(want);
  return have.some((h) => {
    const m = LEVEL.exec(h);
    return m !== null && m[1] === w[1] && Number(m[2]) >= Number(w[2]);
  });
}

function inputAttestationProblem(value: unknown): string | undefined {
  if (!Array.isArray(value)) return 'is not a list';
  for (const [i, d] of value.entries()) {
    if (typeof d !== 'object' || d === null || Array.isArray(d)) return `[${i}] is not an object`;
    const { uri, digest } = d as { uri?: unknown; digest?: unknown };
    if (uri !== undefined && (typeof uri !== 'string' || uri === '')) return `[${i}].uri is not a string`;
    if (digest !== undefined) {
      if (typeof digest !== 'object' || digest === null || Array.isArray(digest))
        return `[${i}].digest is not a map of algorithm to hex`;
      for (const [alg, hex] of Object.entries(digest))
        if (typeof hex !== 'string' || !/^[0-9a-f]+$/.test(hex))
          return `[${i}].digest.${alg} is not lowercase hex`;
    }
    if (uri === undefined && (digest === undefined || Object.keys(digest).length === 0))
      return `[${i}] names no attestation (neither uri nor digest)`;
  }
  return undefined;
}

/** The SLSA "how to verify" steps 3–7 on a statement whose signature and subject digest already verified. */
export function vsaChecks(
  statement: { predicateType?: unknown; predicate?: unknown },
  want: VsaExpectations,
): Check[] {
  const fail = (name: string, message: string, expected?: unknown, found?: unknown): Check => ({
    name,
    ok: false,
    code: 'E_CONDITION_FAILED',
    message,
    ...(expected !== undefined ? { expected } : {}),
    ...(found !== undefined ? { found } : {}),
  });
  if (statement.predicateType !== VSA_PREDICATE_TYPE) {
    return [
      fail('vsa-type', `predicateType is ${String(statement.predicateType)}, not ${VSA_PREDICATE_TYPE}`),
    ];
  }
  const p = (statement.predicate ?? {}) as Partial<Record<string, unknown>>;
  const checks: Check[] = [];
  const verifierId = (p.verifier as { id?: unknown } | undefined)?.id;
  if (
    typeof verifierId !== 'string' ||
    typeof p.resourceUri !== 'string' ||
    !Array.isArray(p.verifiedLevels)
  ) {
    return [
      fail(
        'vsa-shape',
        'the VSA lacks verifier.id, resourceUri or verifiedLevels (v1 names, lowerCamelCase)',
      ),
    ];
  }
  // inputAttestations is optional; when present each entry is a ResourceDescriptor naming an attestation
  // (a uri and/or a digest set of algorithm → hex). One that is not is a malformed VSA, not ignored.
  if (p.inputAttestations !== undefined) {
    const bad = inputAttestationProblem(p.inputAttestations);
    if (bad) return [fail('vsa-shape', `the VSA's inputAttestations ${bad}`)];
  }
  if (want.verifierId !== undefined) {
    checks.push(
      verifierId === want.verifierId
        ? { name: 'vsa-verifier', ok: true }
        : fail(
            'vsa-verifier',
            `verifier ${verifierId}, expected ${want.verifierId}`,
            want.verifierId,
            verifierId,
          ),
    );
  }
  if (want.resourceUri !== undefined) {
    checks.push(
      p.resourceUri === want.resourceUri
        ? { name: 'vsa-resource', ok: true }
        : fail(
            'vsa-resource',
            `resourceUri ${p.resourceUri}, expected ${want.resourceUri}`,
            want.resourceUri,
            p.resourceUri,
          ),
    );
  }
  checks.push(
    p.verificationResult === 'PASSED'
      ? { name: 'vsa-result', ok: true }
      : fail(
          'vsa-result',
          `verificationResult is ${String(p.verificationResult)}, not PASSED`,
          'PASSED',
          p.verificationResult,
        ),
  );
  const levels = p.verifiedLevels.filter((l): l is string => typeof l === 'string');
  for (const l of want.levels ?? []) {
    checks.push(
      levelSatisfied(levels, l)
        ? { name: 'vsa-level', ok: true }
        : fail('vsa-level', `verifiedLevels [${levels.join(', ')}] do not reach ${l}`, l, levels),
    );
  }
  return checks;
}
