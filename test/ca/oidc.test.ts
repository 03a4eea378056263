import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OidcVerifier } from '../../src/ca/oidc.js';
import { isSealError } from '../../src/errors.js';
import {
  makeKey,
  signToken,
  startTestIssuer,
  type TestIssuer,
  type TestKey,
  unsignedToken,
} from './helpers.js';

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isSealError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected the token to be refused');
}

describe('OidcVerifier', () => {
  let issuer: TestIssuer;
  let key: TestKey;
  let verifier: OidcVerifier;
  const email = (extra: Record<string, unknown> = {}) => ({
    iss: issuer.url,
    aud: 'sigstore',
    sub: 'alice-id',
    email: 'alice@example.com',
    email_verified: true,
    ...extra,
  });

  beforeAll(async () => {
    key = await makeKey('ES256');
    issuer = await startTestIssuer([key]);
    verifier = new OidcVerifier({
      issuers: [{ issuerUrl: issuer.url, type: 'email' }],
      jwksRefetchCooldownSec: 0,
    });
  });
  afterAll(() => issuer.close());

  it('accepts a good email token and maps it to an email identity', async () => {
    const id = await verifier.verify(await signToken(key, email()));
    expect(id.issuer).toBe(issuer.url);
    expect(id.san).toEqual({ type: 'email', value: 'alice@example.com' });
    expect(id.challenge).toBe('alice@example.com');
    expect(id.subject).toBe('alice-id');
  });

  it('accepts RS256 and EdDSA keys from the same JWKS', async () => {
    const rsa = await makeKey('RS256');
    const ed = await makeKey('EdDSA');
    issuer.keys = [key, rsa, ed];
    for (const k of [rsa, ed]) {
      const id = await verifier.verify(await signToken(k, email()));
      expect(id.san.value).toBe('alice@example.com');
    }
    issuer.keys = [key];
  });

  it('refuses a token for another audience', async () => {
    const r = await refusal(verifier.verify(await signToken(key, email({ aud: 'not-sigstore' }))));
    expect(r.code).toBe('E_TOKEN_INVALID');
    expect(r.message).toMatch(/^wrong audience: token is for "not-sigstore", expected "sigstore"/);
  });

  it('refuses an expired token (beyond the clock skew)', async () => {
    const token = await signToken(key, email(), { iatOffsetSec: -3600, expiresInSec: 600 });
    const r = await refusal(verifier.verify(token));
    expect(r.code).toBe('E_TOKEN_INVALID');
    expect(r.message).toMatch(/^token expired at /);
  });

  it('accepts a token that expired within the clock skew', async () => {
    const token = await signToken(key, email(), { iatOffsetSec: -330, expiresInSec: 300 });
    await expect(verifier.verify(token)).resolves.toBeDefined();
  });

  it('refuses a token not yet valid (nbf in the future)', async () => {
    const token = await signToken(key, email({ nbf: Math.floor(Date.now() / 1000) + 3600 }));
    const r = await refusal(verifier.verify(token));
    expect(r.message).toMatch(/^token not yet valid/);
  });

  it('refuses an unsigned alg:none token', async () => {
    const r = await refusal(verifier.verify(unsignedToken(email())));
    expect(r.code).toBe('E_TOKEN_INVALID');
    expect(r.message).toBe('token uses alg "none": unsigned tokens are refused');
  });

  it('refuses HS256 (symmetric) tokens', async () => {
    const { SignJWT } = await import('jose');
    const token = await new SignJWT(email())
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('a-shared-secret-that-is-long-enough!'));
    const r = await refusal(verifier.verify(token));
    expect(r.message).toMatch(/^token algorithm HS256 is not allowed/);
  });

  it('refuses a token signed by a key the issuer does not publish', async () => {
    const stranger = await makeKey('ES256');
    const r = await refusal(verifier.verify(await signToken(stranger, email())));
    expect(r.code).toBe('E_TOKEN_INVALID');
    expect(r.message).toMatch(/^token signed by an unknown key \(kid [0-9a-f]+\)/);
  });

  it('refuses a token whose signature was made by another key under a known kid', async () => {
    const forger = await makeKey('ES256');
    const r = await refusal(verifier.verify(await signToken({ ...forger, kid: key.kid }, email())));
    expect(r.message).toMatch(/^token signature does not verify/);
  });

  it('refetches the JWKS when a token names an unknown kid (key rotation)', async () => {
    const rotated = await makeKey('ES256');
    await verifier.verify(await signToken(key, email()));
    const before = issuer.jwksFetches;
    issuer.keys = [key, rotated];
    const id = await verifier.verify(await signToken(rotated, email()));
    expect(id.san.value).toBe('alice@example.com');
    expect(issuer.jwksFetches).toBe(before + 1);
    issuer.keys = [key];
  });

  it('does not refetch within the cooldown', async () => {
    const v = new OidcVerifier({
      issuers: [{ issuerUrl: issuer.url, type: 'email' }],
      jwksRefetchCooldownSec: 3600,
    });
    await v.verify(await signToken(key, email()));
    const before = issuer.jwksFetches;
    const stranger = await makeKey('ES256');
    for (let i = 0; i < 3; i++) await refusal(v.verify(await signToken(stranger, email())));
    expect(issuer.jwksFetches).toBe(before);
  });

  it('refuses a token from an issuer that is not configured', async () => {
    const r = await refusal(verifier.verify(await signToken(key, email({ iss: 'https://evil.example' }))));
    expect(r.code).toBe('E_TOKEN_INVALID');
    expect(r.message).toBe('issuer not configured: https://evil.example is not an issuer this CA accepts');
  });

  it('refuses an email token whose email is not verified', async () => {
    for (const email_verified of [false, undefined, 'true']) {
      const r = await refusal(verifier.verify(await signToken(key, email({ email_verified }))));
      expect(r.code).toBe('E_TOKEN_INVALID');
      expect(r.message).toMatch(/^email not verified: the token for alice@example.com/);
    }
  });

  it('accepts unverified email when the issuer is configured to skip the check', async () => {
    const v = new OidcVerifier({
      issuers: [{ issuerUrl: issuer.url, type: 'email', skipEmailVerification: true }],
    });
    await expect(v.verify(await signToken(key, email({ email_verified: false })))).resolves.toBeDefined();
  });

  it('refuses malformed tokens', async () => {
    const r = await refusal(verifier.verify('not-a-jwt'));
    expect(r.message).toMatch(/^malformed token/);
  });

  it('uses a per-issuer audience when configured', async () => {
    const v = new OidcVerifier({ issuers: [{ issuerUrl: issuer.url, type: 'email', audience: 'custom' }] });
    await expect(v.verify(await signToken(key, email({ aud: 'custom' })))).resolves.toBeDefined();
    const r = await refusal(v.verify(await signToken(key, email())));
    expect(r.message).toMatch(/expected "custom"/);
  });

  it('matches Fulcio meta-issuer wildcards', async () => {
    const base = issuer.url.replace(/\/issuer$/, '');
    const v = new OidcVerifier({ issuers: [{ issuerUrl: `${base}/*`, type: 'email' }] });
    await expect(v.verify(await signToken(key, email()))).resolves.toBeDefined();
    const r = await refusal(v.verify(await signToken(key, email({ iss: `${base}/a/b` }))));
    expect(r.message).toMatch(/^issuer not configured/);
  });
});

describe('issuer types', () => {
  let issuer: TestIssuer;
  let key: TestKey;
  beforeAll(async () => {
    key = await makeKey('ES256');
    issuer = await startTestIssuer([key]);
  });
  afterAll(() => issuer.close());
  const verifierOf = (
    type: 'github-workflow' | 'gitlab-pipeline' | 'kubernetes' | 'uri' | 'spiffe',
    extra = {},
  ) => new OidcVerifier({ issuers: [{ issuerUrl: issuer.url, type, ...extra }] });

  it('github-workflow: SAN is the job workflow URL and claims map to Fulcio OIDs', async () => {
    const claims = {
      iss: issuer.url,
      aud: 'sigstore',
      sub: 'repo:acme/app:ref:refs/heads/main',
      job_workflow_ref: 'acme/app/.github/workflows/release.yml@refs/heads/main',
      job_workflow_sha: 'f'.repeat(40),
      event_name: 'push',
      sha: 'a'.repeat(40),
      workflow: 'release',
      repository: 'acme/app',
      ref: 'refs/heads/main',
      repository_id: 1234,
      repository_owner: 'acme',
      repository_owner_id: '99',
      workflow_ref: 'acme/app/.github/workflows/release.yml@refs/heads/main',
      workflow_sha: 'b'.repeat(40),
      runner_environment: 'github-hosted',
      run_id: '555',
      run_attempt: '2',
      repository_visibility: 'public',
    };
    const id = await verifierOf('github-workflow').verify(await signToken(key, claims));
    expect(id.san).toEqual({
      type: 'uri',
      value: 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main',
    });
    expect(id.challenge).toBe(claims.sub);
    const ext = Object.fromEntries(id.extensions.map((e) => [e.oid.split('.').at(-1), e.value]));
    expect(ext).toEqual({
      '2': 'push',
      '3': 'a'.repeat(40),
      '4': 'release',
      '5': 'acme/app',
      '6': 'refs/heads/main',
      '9': 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main',
      '10': 'f'.repeat(40),
      '11': 'github-hosted',
      '12': 'https://github.com/acme/app',
      '13': 'a'.repeat(40),
      '14': 'refs/heads/main',
      '15': '1234',
      '16': 'https://github.com/acme',
      '17': '99',
      '18': 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main',
      '19': 'b'.repeat(40),
      '20': 'push',
      '21': 'https://github.com/acme/app/actions/runs/555/attempts/2',
      '22': 'public',
      '24': claims.sub,
    });
  });

  it('github-workflow: refuses a token without job_workflow_ref', async () => {
    const token = await signToken(key, { iss: issuer.url, aud: 'sigstore', sub: 'repo:x' });
    await expect(verifierOf('github-workflow').verify(token)).rejects.toThrow(/no job_workflow_ref/);
  });

  it('gitlab-pipeline: SAN from ci_config_ref_uri, ref rendered as refs/heads/…', async () => {
    const claims = {
      iss: issuer.url,
      aud: 'sigstore',
      sub: 'project_path:grp/proj:ref_type:branch:ref:main',
      ci_config_ref_uri: 'gitlab.example/grp/proj//.gitlab-ci.yml@refs/heads/main',
      project_path: 'grp/proj',
      ref: 'main',
      ref_type: 'branch',
      pipeline_source: 'push',
      job_id: '77',
    };
    const id = await verifierOf('gitlab-pipeline').verify(await signToken(key, claims));
    expect(id.san.value).toBe('https://gitlab.example/grp/proj//.gitlab-ci.yml@refs/heads/main');
    const ext = Object.fromEntries(id.extensions.map((e) => [e.oid.split('.').at(-1), e.value]));
    expect(ext['14']).toBe('refs/heads/main');
    expect(ext['20']).toBe('push');
    expect(ext['21']).toBe(`${issuer.url}/grp/proj/-/jobs/77`);
  });

  it('kubernetes: SAN is the service account URI', async () => {
    const token = await signToken(key, {
      iss: issuer.url,
      aud: 'sigstore',
      sub: 'system:serviceaccount:prod:builder',
      'kubernetes.io': { namespace: 'prod', serviceaccount: { name: 'builder', uid: 'u' } },
    });
    const id = await verifierOf('kubernetes').verify(token);
    expect(id.san).toEqual({
      type: 'uri',
      value: 'https://kubernetes.io/namespaces/prod/serviceaccounts/builder',
    });
  });

  it('uri: subject must be inside the subject domain', async () => {
    const v = verifierOf('uri', { subjectDomain: 'https://ci.example' });
    const ok = await v.verify(
      await signToken(key, { iss: issuer.url, aud: 'sigstore', sub: 'https://ci.example/job/1' }),
    );
    expect(ok.san).toEqual({ type: 'uri', value: 'https://ci.example/job/1' });
    await expect(
      v.verify(
        await signToken(key, { iss: issuer.url, aud: 'sigstore', sub: 'https://other.example/job/1' }),
      ),
    ).rejects.toThrow(/outside the issuer's subject domain/);
  });

  it('spiffe: subject must be a SPIFFE ID in the trust domain', async () => {
    const v = verifierOf('spiffe', { spiffeTrustDomain: 'example.org' });
    const ok = await v.verify(
      await signToken(key, { iss: issuer.url, aud: 'sigstore', sub: 'spiffe://example.org/ns/a/sa/b' }),
    );
    expect(ok.san.value).toBe('spiffe://example.org/ns/a/sa/b');
    await expect(
      v.verify(await signToken(key, { iss: issuer.url, aud: 'sigstore', sub: 'spiffe://evil.org/x' })),
    ).rejects.toThrow(/not in trust domain example.org/);
  });
});
