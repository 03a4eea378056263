// The dev issuer's CI token request (GitHub's ACTIONS_ID_TOKEN_REQUEST_URL shape), for the GitHub and GitLab
// flavors, and the CA's mapping of the minted claims into Fulcio's extension OIDs (wave2-facts §6.4).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OID } from '../../src/ca/issuer-types.js';
import { OidcVerifier } from '../../src/ca/oidc.js';
import { DevIssuer, gitlabPipelineClaims } from '../../src/oidc/dev-issuer.js';

describe('dev issuer CI token endpoint', () => {
  let dir: string;
  let app: FastifyInstance;
  let base: string;
  let verifier: OidcVerifier;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-ci-token-'));
    const gh = await DevIssuer.open(dir, () => `${base}/oidc/github`, { flavor: 'github-workflow' });
    const gl = await DevIssuer.open(dir, () => `${base}/oidc/gitlab`, { flavor: 'gitlab-pipeline' });
    app = Fastify();
    gh.register(app, '/oidc/github');
    gl.register(app, '/oidc/gitlab');
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    verifier = new OidcVerifier({
      issuers: [
        { issuerUrl: `${base}/oidc/github`, type: 'github-workflow' },
        { issuerUrl: `${base}/oidc/gitlab`, type: 'gitlab-pipeline' },
      ],
    });
  });
  afterAll(async () => {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  const ext = (exts: { oid: string; value: string }[], oid: string) => exts.find((e) => e.oid === oid)?.value;

  it('GitHub: the query claims become the token; the CA maps them as Fulcio does', async () => {
    // ACTIONS_ID_TOKEN_REQUEST_URL carries a query already; clients append &audience=
    const requestUrl = `${base}/oidc/github/github-actions?api-version=2.0&repository=acme/app&repository_owner=acme&workflow_ref=acme/app/.github/workflows/release.yml@refs/tags/v1.0.0&ref=refs/tags/v1.0.0&sha=${'a'.repeat(40)}&event_name=push&run_id=42&run_attempt=2`;
    const res = await fetch(`${requestUrl}&audience=sigstore`, {
      headers: { authorization: 'bearer anything' },
    });
    expect(res.status).toBe(200);
    const { value } = (await res.json()) as { value: string };
    const id = await verifier.verify(value);
    expect(id.san).toEqual({
      type: 'uri',
      value: 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0',
    });
    expect(id.claims).toMatchObject({ aud: 'sigstore', repository: 'acme/app', run_id: '42' });
    expect(id.claims['api-version']).toBeUndefined();
    expect(ext(id.extensions, OID.sourceRepositoryUri)).toBe('https://github.com/acme/app');
    expect(ext(id.extensions, OID.sourceRepositoryDigest)).toBe('a'.repeat(40));
    expect(ext(id.extensions, OID.sourceRepositoryRef)).toBe('refs/tags/v1.0.0');
    expect(ext(id.extensions, OID.runInvocationUri)).toBe(
      'https://github.com/acme/app/actions/runs/42/attempts/2',
    );
    expect(ext(id.extensions, OID.githubWorkflowRepository)).toBe('acme/app');
    // the audience asked for is the audience minted (so a CA expecting sigstore refuses another)
    const other = await fetch(`${requestUrl}&audience=nobody`, { headers: { authorization: 'Bearer x' } });
    await expect(verifier.verify(((await other.json()) as { value: string }).value)).rejects.toThrow(
      /audience/,
    );
  });

  it('GitHub: refuses a request without a bearer, and one naming no workflow', async () => {
    const noAuth = await fetch(
      `${base}/oidc/github/github-actions?workflow_ref=a/b/.github/workflows/x.yml@refs/heads/main`,
    );
    expect(noAuth.status).toBe(401);
    const noWorkflow = await fetch(`${base}/oidc/github/github-actions?repository=a/b`, {
      headers: { authorization: 'bearer x' },
    });
    expect(noWorkflow.status).toBe(400);
    expect(await noWorkflow.text()).toMatch(/job_workflow_ref/);
  });

  it('GitLab: ci_config_ref_uri claims map into the GitLab extensions', async () => {
    const q = new URLSearchParams({
      ci_config_ref_uri: 'gitlab.example/grp/sub/proj//.gitlab-ci.yml@refs/tags/v2.0.0',
      sha: 'b'.repeat(40),
      pipeline_source: 'web',
      job_id: '77',
      project_id: '9',
      audience: 'sigstore',
    });
    const res = await fetch(`${base}/oidc/gitlab/gitlab-ci?${q}`, { headers: { authorization: 'bearer x' } });
    expect(res.status).toBe(200);
    const id = await verifier.verify(((await res.json()) as { value: string }).value);
    const url = `${base}/oidc/gitlab`;
    expect(id.san).toEqual({
      type: 'uri',
      value: 'https://gitlab.example/grp/sub/proj//.gitlab-ci.yml@refs/tags/v2.0.0',
    });
    expect(id.subject).toBe('project_path:grp/sub/proj:ref_type:tag:ref:v2.0.0');
    expect(ext(id.extensions, OID.sourceRepositoryUri)).toBe(`${url}/grp/sub/proj`);
    expect(ext(id.extensions, OID.sourceRepositoryOwnerUri)).toBe(`${url}/grp/sub`);
    expect(ext(id.extensions, OID.sourceRepositoryRef)).toBe('refs/tags/v2.0.0');
    expect(ext(id.extensions, OID.sourceRepositoryIdentifier)).toBe('9');
    expect(ext(id.extensions, OID.buildTrigger)).toBe('web');
    expect(ext(id.extensions, OID.runInvocationUri)).toBe(`${url}/grp/sub/proj/-/jobs/77`);
    expect(ext(id.extensions, OID.buildSignerUri)).toBe(id.san.value);
    // GitLab emits none of the deprecated GitHub .2–.6 extensions
    expect(ext(id.extensions, OID.githubWorkflowRepository)).toBeUndefined();
  });

  it('GitLab claims: branch refs are bare names; a malformed ci_config_ref_uri is refused', () => {
    expect(gitlabPipelineClaims('gitlab.com/g/p//.gitlab-ci.yml@refs/heads/main')).toMatchObject({
      ref: 'main',
      ref_type: 'branch',
      project_path: 'g/p',
      namespace_path: 'g',
    });
    expect(() => gitlabPipelineClaims('gitlab.com/p//.gitlab-ci.yml@main')).toThrow(/must look like/);
  });
});
