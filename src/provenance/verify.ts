// Checks a SLSA provenance v1 predicate against what the verifier expects, as slsa-verifier does:
// source repository (and optionally branch, tag, commit), builder id (with or without @ref), build type.

import type { Check } from '../verify/types.js';
import { SlsaProvenanceV1Schema } from './slsa.js';

export interface ProvenanceExpectations {
  /** Source repository, e.g. `github.com/org/repo` (scheme, `git+` and `.git` are ignored). Required. */
  sourceUri?: string;
  /** Builder id; without `@ref` any ref of that builder matches, with `@ref` only that ref. */
  builderId?: string;
  /** Branch the build ran from (`main` or `refs/heads/main`). */
  sourceBranch?: string;
  /** Tag the build ran from (`v1.2.3` or `refs/tags/v1.2.3`). */
  sourceTag?: string;
  /** Commit the source was at. */
  sourceCommit?: string;
  buildType?: string;
}

/** `git+https://github.com/Org/Repo.git@refs/heads/main` → `github.com/org/repo`. */
export function normaliseSourceUri(uri: string): string {
  let s = uri.trim().replace(/^git\+/, '');
  s = s.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const at = s.indexOf('@', s.indexOf('/'));
  if (at >= 0) s = s.slice(0, at);
  s = s.replace(/\.git$/, '').replace(/\/+$/, '');
  // hosts compare case-insensitively; GitHub and GitLab repository paths do too
  return s.toLowerCase();
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function record(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

export interface ProvenanceSource {
  uri?: string;
  ref?: string;
  commit?: string;
}

/** Where a predicate says its source came from, across the GitHub, GitLab and local build types. */
export function provenanceSource(pred: {
  buildDefinition: {
    externalParameters: Record<string, unknown>;
    resolvedDependencies?: Array<{ uri?: string; digest?: Record<string, string> }>;
  };
}): ProvenanceSource {
  const ext = pred.buildDefinition.externalParameters;
  const workflow = record(ext.workflow);
  const localSource = record(ext.source);
  const dep = pred.buildDefinition.resolvedDependencies?.[0];
  const depUri = dep?.uri;
  const depRef =
    depUri && depUri.lastIndexOf('@') > depUri.indexOf('//')
      ? depUri.slice(depUri.lastIndexOf('@') + 1)
      : undefined;
  const out: ProvenanceSource = {};
  const uri = str(workflow?.repository) ?? str(ext.source) ?? str(localSource?.uri) ?? depUri;
  if (uri) out.uri = uri;
  const ref = str(workflow?.ref) ?? str(ext.ref) ?? str(localSource?.ref) ?? depRef;
  if (ref) out.ref = ref;
  const commit = dep?.digest?.gitCommit ?? dep?.digest?.sha1;
  if (commit) out.commit = commit;
  return out;
}

/** Every check that ran, in order; the predicate passes when all are ok. Never throws for bad input. */
export function verifyProvenancePredicate(predicate: unknown, expected: ProvenanceExpectations): Check[] {
  const checks: Check[] = [];
  const parsed = SlsaProvenanceV1Schema.safeParse(predicate);
  if (!parsed.success) {
    checks.push({
      name: 'provenance-predicate',
      ok: false,
      code: 'E_PAYLOAD_INVALID',
      message: `not a SLSA provenance v1 predicate: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    });
    return checks;
  }
  checks.push({ name: 'provenance-predicate', ok: true });
  const pred = parsed.data;
  const source = provenanceSource(pred);

  if (expected.buildType !== undefined) {
    const found = pred.buildDefinition.buildType;
    const ok = found === expected.buildType;
    checks.push({
      name: 'build-type',
      ok,
      expected: expected.buildType,
      found,
      ...(ok
        ? {}
        : { code: 'E_BUILDER_MISMATCH', message: `build type is ${found}, expected ${expected.buildType}` }),
    });
  }

  if (expected.builderId !== undefined) {
    const found = pred.runDetails.builder.id;
    const ok = expected.builderId.includes('@')
      ? found === expected.builderId
      : found === expected.builderId || found.startsWith(`${expected.builderId}@`);
    checks.push({
      name: 'builder-id',
      ok,
      expected: expected.builderId,
      found,
      ...(ok
        ? {}
        : { code: 'E_BUILDER_MISMATCH', message: `built by ${found}, expected ${expected.builderId}` }),
    });
  }

  if (expected.sourceUri === undefined) {
    checks.push({
      name: 'source-uri',
      ok: false,
      code: 'E_EXPECTATIONS_MISSING',
      message:
        'a provenance is only meaningful against an expected source: pass --source-uri (e.g. github.com/org/repo)',
    });
  } else {
    const want = normaliseSourceUri(expected.sourceUri);
    const found = source.uri ? normaliseSourceUri(source.uri) : undefined;
    const ok = found === want;
    checks.push({
      name: 'source-uri',
      ok,
      expected: want,
      found: found ?? null,
      ...(ok
        ? {}
        : {
            code: 'E_SOURCE_MISMATCH',
            message: `built from ${found ?? 'an unnamed source'}, expected ${want}`,
          }),
    });
  }

  const refCheck = (name: string, prefix: string, value: string | undefined) => {
    if (value === undefined) return;
    const want = value.startsWith('refs/') ? value : `${prefix}${value}`;
    const ok = source.ref === want;
    checks.push({
      name,
      ok,
      expected: want,
      found: source.ref ?? null,
      ...(ok
        ? {}
        : {
            code: 'E_SOURCE_MISMATCH',
            message: `built from ref ${source.ref ?? '(none)'}, expected ${want}`,
          }),
    });
  };
  refCheck('source-branch', 'refs/heads/', expected.sourceBranch);
  refCheck('source-tag', 'refs/tags/', expected.sourceTag);

  if (expected.sourceCommit !== undefined) {
    const ok =
      source.commit !== undefined && source.commit.toLowerCase() === expected.sourceCommit.toLowerCase();
    checks.push({
      name: 'source-commit',
      ok,
      expected: expected.sourceCommit,
      found: source.commit ?? null,
      ...(ok
        ? {}
        : {
            code: 'E_SOURCE_MISMATCH',
            message: `built from commit ${source.commit ?? '(none)'}, expected ${expected.sourceCommit}`,
          }),
    });
  }
  return checks;
}
