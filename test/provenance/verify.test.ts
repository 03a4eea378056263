import { describe, expect, it } from 'vitest';
import { buildProvenance } from '../../src/provenance/build.js';
import { normaliseSourceUri, verifyProvenancePredicate } from '../../src/provenance/verify.js';

const SHA = 'c'.repeat(40);
const env: NodeJS.ProcessEnv = {
  GITHUB_ACTIONS: 'true',
  GITHUB_REPOSITORY: 'org/repo',
  GITHUB_SHA: SHA,
  GITHUB_REF: 'refs/tags/v1.0.0',
  GITHUB_RUN_ID: '1',
  GITHUB_WORKFLOW_REF: 'org/repo/.github/workflows/release.yml@refs/tags/v1.0.0',
};
const failed = (checks: ReturnType<typeof verifyProvenancePredicate>) =>
  checks.filter((c) => !c.ok).map((c) => [c.name, c.code]);

describe('verifyProvenancePredicate', () => {
  it('passes a GitHub provenance for the expected source, builder (with or without @ref), tag and commit', async () => {
    const pred = await buildProvenance(env);
    const checks = verifyProvenancePredicate(pred, {
      sourceUri: 'github.com/org/repo',
      builderId: 'https://github.com/org/repo/.github/workflows/release.yml',
      sourceTag: 'v1.0.0',
      sourceCommit: SHA,
    });
    expect(failed(checks)).toEqual([]);
    expect(checks.map((c) => c.name)).toEqual([
      'provenance-predicate',
      'builder-id',
      'source-uri',
      'source-tag',
      'source-commit',
    ]);
    const pinned = verifyProvenancePredicate(pred, {
      sourceUri: 'https://github.com/Org/Repo.git',
      builderId: 'https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1.0.0',
    });
    expect(failed(pinned)).toEqual([]);
  });

  it('names each mismatch with its own code', async () => {
    const pred = await buildProvenance(env);
    expect(failed(verifyProvenancePredicate(pred, { sourceUri: 'github.com/org/other' }))).toEqual([
      ['source-uri', 'E_SOURCE_MISMATCH'],
    ]);
    // a look-alike repository whose name starts with the expected one is another repository
    expect(failed(verifyProvenancePredicate(pred, { sourceUri: 'github.com/org/rep' }))).toEqual([
      ['source-uri', 'E_SOURCE_MISMATCH'],
    ]);
    expect(
      failed(
        verifyProvenancePredicate(pred, {
          sourceUri: 'github.com/org/repo',
          builderId: 'https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main',
        }),
      ),
    ).toEqual([['builder-id', 'E_BUILDER_MISMATCH']]);
    expect(
      failed(
        verifyProvenancePredicate(pred, {
          sourceUri: 'github.com/org/repo',
          builderId: 'https://github.com/org/repo/.github/workflows/rel',
        }),
      ),
    ).toEqual([['builder-id', 'E_BUILDER_MISMATCH']]);
    expect(
      failed(verifyProvenancePredicate(pred, { sourceUri: 'github.com/org/repo', sourceBranch: 'main' })),
    ).toEqual([['source-branch', 'E_SOURCE_MISMATCH']]);
    expect(
      failed(
        verifyProvenancePredicate(pred, { sourceUri: 'github.com/org/repo', sourceCommit: 'd'.repeat(40) }),
      ),
    ).toEqual([['source-commit', 'E_SOURCE_MISMATCH']]);
    expect(
      failed(
        verifyProvenancePredicate(pred, {
          sourceUri: 'github.com/org/repo',
          buildType: 'https://example.com/other',
        }),
      ),
    ).toEqual([['build-type', 'E_BUILDER_MISMATCH']]);
  });

  it('requires an expected source and rejects what is not a SLSA v1 predicate', async () => {
    const pred = await buildProvenance(env);
    expect(failed(verifyProvenancePredicate(pred, {}))).toEqual([['source-uri', 'E_EXPECTATIONS_MISSING']]);
    expect(
      failed(verifyProvenancePredicate({ builder: { id: 'x' } }, { sourceUri: 'github.com/org/repo' })),
    ).toEqual([['provenance-predicate', 'E_PAYLOAD_INVALID']]);
  });

  it('a local build never passes for a CI builder id', async () => {
    const local = await buildProvenance({}, { cwd: process.cwd() });
    const checks = verifyProvenancePredicate(local, {
      sourceUri: 'github.com/org/repo',
      builderId: 'https://github.com/org/repo/.github/workflows/release.yml',
    });
    expect(checks.find((c) => c.name === 'builder-id')).toMatchObject({
      ok: false,
      code: 'E_BUILDER_MISMATCH',
      found: 'https://seal.dev/local-builder@v1',
    });
  });

  it('normalises source URIs the way users write them', () => {
    expect(normaliseSourceUri('git+https://github.com/Org/Repo.git@refs/heads/main')).toBe(
      'github.com/org/repo',
    );
    expect(normaliseSourceUri('github.com/org/repo')).toBe('github.com/org/repo');
    expect(normaliseSourceUri('https://gitlab.example.com/g/sub/p/')).toBe('gitlab.example.com/g/sub/p');
  });
});
