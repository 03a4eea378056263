import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OidcVerifier } from '../../src/ca/oidc.js';
import { isSealError } from '../../src/errors.js';
import {
  DevIssuer,
  githubWorkflowClaims,
  identityClaims,
  isLoopbackHost,
} from '../../src/oidc/dev-issuer.js';
import { tokenFromBrowserFlow, tokenFromDevIssuer, tokenFromDeviceFlow } from '../../src/oidc/sources.js';

describe('DevIssuer', () => {
  let dir: string;
  let app: FastifyInstance;
  let issuerUrl: string;
  let issuer: DevIssuer;
  let verifier: OidcVerifier;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-dev-issuer-'));
    issuer = await DevIssuer.open(dir, () => issuerUrl);
    app = Fastify();
    issuer.register(app, '/oidc');
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    issuerUrl = `${base}/oidc`;
    // verified over HTTP discovery + JWKS, as any CA would
    verifier = new OidcVerifier({ issuers: [{ issuerUrl, type: 'email' }] });
  });
  afterAll(async () => {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('publishes a discovery document that points at its JWKS and endpoints', async () => {
    const doc = (await (await fetch(`${issuerUrl}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(doc).toMatchObject({
      issuer: issuerUrl,
      jwks_uri: `${issuerUrl}/jwks`,
      token_endpoint: `${issuerUrl}/token`,
      device_authorization_endpoint: `${issuerUrl}/device/code`,
      authorization_endpoint: `${issuerUrl}/auth`,
      id_token_signing_alg_values_supported: ['ES256'],
    });
    const jwks = (await (await fetch(`${issuerUrl}/jwks`)).json()) as {
      keys: { kid: string; kty: string; d?: string }[];
    };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', alg: 'ES256' });
    expect(jwks.keys[0]!.d).toBeUndefined();
  });

  it('mints email tokens with email_verified that the CA verifier accepts', async () => {
    const token = await tokenFromDevIssuer(issuerUrl, 'alice@example.com');
    const id = await verifier.verify(token);
    expect(id.san).toEqual({ type: 'email', value: 'alice@example.com' });
    expect(id.claims.email_verified).toBe(true);
  });

  it('mints URI identities as a subject', () => {
    expect(identityClaims('spiffe://example.org/ns/a')).toEqual({ sub: 'spiffe://example.org/ns/a' });
    expect(() => identityClaims('not an identity')).toThrow(/neither an email address nor a URI/);
  });

  it('derives GitHub Actions claims from a workflow ref, with overrides', () => {
    const c = githubWorkflowClaims('acme/app/.github/workflows/ci.yml@refs/heads/main', {
      event_name: 'workflow_dispatch',
    });
    expect(c).toMatchObject({
      sub: 'repo:acme/app:ref:refs/heads/main',
      repository: 'acme/app',
      repository_owner: 'acme',
      ref: 'refs/heads/main',
      workflow: 'ci.yml',
      job_workflow_ref: 'acme/app/.github/workflows/ci.yml@refs/heads/main',
      event_name: 'workflow_dispatch',
    });
    expect(() => githubWorkflowClaims('acme/app@main')).toThrow(/must look like owner\/repo/);
  });

  it('honours the requested audience (so the CA can refuse it)', async () => {
    const token = await tokenFromDevIssuer(issuerUrl, 'alice@example.com', 'elsewhere');
    await expect(verifier.verify(token)).rejects.toThrow(/wrong audience/);
  });

  it('rejects unknown grant types and missing identities with OAuth errors', async () => {
    const res = await fetch(`${issuerUrl}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=password&username=x',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'unsupported_grant_type' });
    const err = await tokenFromDevIssuer(issuerUrl, 'bad identity').catch((e: unknown) => e);
    expect(isSealError(err, 'E_INVALID_ARGUMENT')).toBe(true);
  });

  it('runs the device authorization grant end to end (RFC 8628)', async () => {
    let prompted: { userCode: string; verificationUri: string } | undefined;
    const pending = tokenFromDeviceFlow({
      issuer: issuerUrl,
      onPrompt: (p) => {
        prompted = p;
      },
    });
    // the user opens the page and approves
    while (!prompted) await new Promise((r) => setTimeout(r, 20));
    expect(prompted.verificationUri).toBe(`${issuerUrl}/device`);
    const page = await (await fetch(`${issuerUrl}/device?user_code=${prompted.userCode}`)).text();
    expect(page).toContain(prompted.userCode);
    // a poll before approval is answered authorization_pending (the client keeps waiting)
    await new Promise((r) => setTimeout(r, 1200));
    const approve = await fetch(`${issuerUrl}/device`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        user_code: prompted.userCode,
        identity: 'carol@example.com',
        action: 'approve',
      }).toString(),
    });
    expect(approve.status).toBe(200);
    const token = await pending;
    const id = await verifier.verify(token);
    expect(id.san.value).toBe('carol@example.com');
  });

  it('runs the authorization code flow with PKCE and a loopback redirect (as cosign does)', async () => {
    const { createHash, randomBytes } = await import('node:crypto');
    const verifierStr = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifierStr).digest('base64url');
    const redirectUri = 'http://127.0.0.1:50123/auth/callback';
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: 'sigstore',
      redirect_uri: redirectUri,
      state: 'st4te',
      nonce: 'n0nce',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      scope: 'openid email',
    });
    const page = await fetch(`${issuerUrl}/auth?${params}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('name="code_challenge"');
    // the user submits the form; the issuer redirects to the loopback listener with code and state
    const form = new URLSearchParams(params);
    form.set('identity', 'dave@example.com');
    const submitted = await fetch(`${issuerUrl}/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
      redirect: 'manual',
    });
    expect(submitted.status).toBe(302);
    const location = new URL(submitted.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(redirectUri);
    expect(location.searchParams.get('state')).toBe('st4te');
    const code = location.searchParams.get('code')!;
    const exchange = (body: Record<string, string>) =>
      fetch(`${issuerUrl}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: redirectUri,
          client_id: 'sigstore',
          ...body,
        }).toString(),
      });
    const ok = (await (await exchange({ code_verifier: verifierStr })).json()) as { id_token: string };
    const id = await verifier.verify(ok.id_token);
    expect(id.san.value).toBe('dave@example.com');
    expect(id.claims.nonce).toBe('n0nce');
    // codes are single use
    const replay = await exchange({ code_verifier: verifierStr });
    expect(await replay.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('tokenFromBrowserFlow signs in through a loopback redirect (the "browser" submits the form)', async () => {
    const browser = async (authUrl: string) => {
      const u = new URL(authUrl);
      const form = new URLSearchParams(u.searchParams);
      form.set('identity', 'frank@example.com');
      const res = await fetch(`${issuerUrl}/auth`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
        redirect: 'manual',
      });
      const back = await fetch(res.headers.get('location')!);
      expect(await back.text()).toMatch(/^Signed in/);
    };
    let opened: Promise<void> | undefined;
    const token = await tokenFromBrowserFlow({
      issuer: issuerUrl,
      openUrl: (url) => (opened = browser(url)),
    });
    await opened;
    expect((await verifier.verify(token)).san.value).toBe('frank@example.com');
  });

  it('refuses a code exchange with the wrong PKCE verifier and non-loopback redirects', async () => {
    const { createHash } = await import('node:crypto');
    const base = {
      response_type: 'code',
      client_id: 'sigstore',
      code_challenge: createHash('sha256').update('x'.repeat(43)).digest('base64url'),
      code_challenge_method: 'S256',
    };
    const remote = await fetch(
      `${issuerUrl}/auth?${new URLSearchParams({ ...base, redirect_uri: 'https://evil.example/cb' })}`,
    );
    expect(remote.status).toBe(400);
    const redirectUri = 'http://localhost:9/cb';
    const submitted = await fetch(`${issuerUrl}/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        ...base,
        redirect_uri: redirectUri,
        identity: 'eve@example.com',
      }).toString(),
      redirect: 'manual',
    });
    const code = new URL(submitted.headers.get('location')!).searchParams.get('code')!;
    const res = await fetch(`${issuerUrl}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: redirectUri,
        code_verifier: 'y'.repeat(43),
      }).toString(),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: 'invalid_grant',
      error_description: 'PKCE code_verifier does not match',
    });
  });

  it('a denied device request fails with access_denied', async () => {
    let code: string | undefined;
    const pending = tokenFromDeviceFlow({ issuer: issuerUrl, onPrompt: (p) => (code = p.userCode) }).catch(
      (e: unknown) => e,
    );
    while (!code) await new Promise((r) => setTimeout(r, 20));
    await fetch(`${issuerUrl}/device`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ user_code: code, action: 'deny' }).toString(),
    });
    const err = await pending;
    expect(isSealError(err, 'E_TOKEN_INVALID')).toBe(true);
    expect((err as Error).message).toBe('device flow failed: access_denied');
  });

  it('keeps its signing key in the data dir (0600) across restarts', async () => {
    const keyFile = join(dir, 'issuer.key.pem');
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    const again = await DevIssuer.open(dir, () => issuerUrl);
    expect(await again.publicJwk()).toEqual(await issuer.publicJwk());
    expect(await readFile(keyFile, 'utf8')).toMatch(/BEGIN PRIVATE KEY/);
  });

  it('knows loopback addresses', () => {
    for (const h of ['127.0.0.1', 'localhost', '::1', '[::1]', '127.3.2.1'])
      expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.com']) expect(isLoopbackHost(h)).toBe(false);
  });
});
