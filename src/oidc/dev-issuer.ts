// A development OIDC issuer for local and air-gapped use: discovery, JWKS, a token endpoint that mints
// ID tokens for a named identity, and the device authorization grant (OpenID Connect Discovery 1.0, RFC 8628).

import { createHash, randomBytes, randomInt } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { calculateJwkThumbprint, exportJWK, type JWK, SignJWT } from 'jose';
import * as z from 'zod';
import { type EcKey, loadOrCreateEcKey } from '../ca/keyfile.js';
import { SealError } from '../errors.js';

/** Token endpoint grant type for "mint a token for this identity" (dev only, no client authentication). */
export const DEV_IDENTITY_GRANT = 'urn:seal:params:oauth:grant-type:dev-identity';
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export interface MintOptions {
  audience?: string;
  ttlSec?: number;
  /** Extra claims (e.g. GitHub Actions claims); cannot override iss/aud/iat/exp. */
  claims?: Record<string, unknown>;
}

/** Is `host` a loopback address (the only place a dev issuer may listen without an explicit flag)? */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1';
}

/**
 * Claims for a named identity: an email address gets `email` + `email_verified: true`; a URI
 * (https://…, spiffe://…) becomes the subject of a URI identity.
 */
export function identityClaims(identity: string): Record<string, unknown> {
  if (/^[^@\s/]+@[^@\s/]+$/.test(identity)) return { sub: identity, email: identity, email_verified: true };
  if (/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(identity)) return { sub: identity };
  throw new SealError('E_INVALID_ARGUMENT', `identity "${identity}" is neither an email address nor a URI`);
}

/**
 * GitHub Actions-shaped claims for a workflow identity `owner/repo/.github/workflows/file.yml@ref` (what
 * the SAN says after https://github.com/), as token.actions.githubusercontent.com would issue for a run of
 * that workflow on that ref; `overrides` replace any claim (e.g. sha, event_name, repository_id).
 */
export function githubWorkflowClaims(
  workflowRef: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const m = /^([^/\s]+)\/([^/\s]+)\/(\.github\/workflows\/[^@\s]+)@(\S+)$/.exec(workflowRef);
  if (!m) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `workflow "${workflowRef}" must look like owner/repo/.github/workflows/file.yml@refs/heads/main`,
    );
  }
  const [, owner, repo, path, ref] = m as unknown as [string, string, string, string, string];
  const repository = `${owner}/${repo}`;
  const claims: Record<string, unknown> = {
    sub: `repo:${repository}:ref:${ref}`,
    repository,
    repository_owner: owner,
    repository_id: '1',
    repository_owner_id: '1',
    repository_visibility: 'private',
    ref,
    ref_type: ref.startsWith('refs/tags/') ? 'tag' : 'branch',
    sha: '0'.repeat(40),
    workflow: path.replace(/^.*\//, ''),
    workflow_ref: workflowRef,
    workflow_sha: '0'.repeat(40),
    job_workflow_ref: workflowRef,
    job_workflow_sha: '0'.repeat(40),
    event_name: 'push',
    run_id: '1',
    run_attempt: '1',
    runner_environment: 'github-hosted',
    ...overrides,
  };
  return claims;
}

/**
 * GitLab CI-shaped claims for a pipeline identity: the scheme-less `ci_config_ref_uri`
 * `host/group/project//path/.gitlab-ci.yml@refs/heads/main` (what the SAN says after https://), as a GitLab
 * instance's `id_tokens` would carry for a job of that project on that ref; `overrides` replace any claim.
 */
export function gitlabPipelineClaims(
  ciConfigRefUri: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const m = /^([^/\s]+)\/([^\s]+?)\/\/([^@\s]+)@(refs\/(heads|tags)\/\S+)$/.exec(ciConfigRefUri);
  if (!m || !m[2]!.includes('/')) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `pipeline "${ciConfigRefUri}" must look like gitlab.com/group/project//.gitlab-ci.yml@refs/heads/main`,
    );
  }
  const [, , projectPath, , fullRef, kind] = m as unknown as [string, string, string, string, string, string];
  const ref = fullRef.replace(/^refs\/(heads|tags)\//, '');
  const refType = kind === 'tags' ? 'tag' : 'branch';
  return {
    sub: `project_path:${projectPath}:ref_type:${refType}:ref:${ref}`,
    namespace_id: '1',
    namespace_path: projectPath.replace(/\/[^/]+$/, ''),
    project_id: '1',
    project_path: projectPath,
    project_visibility: 'private',
    user_id: '1',
    user_login: 'dev',
    pipeline_id: '1',
    pipeline_source: 'push',
    job_id: '1',
    ref,
    ref_type: refType,
    ref_path: fullRef,
    ref_protected: 'true',
    sha: '0'.repeat(40),
    runner_id: 1,
    runner_environment: 'gitlab-hosted',
    ci_config_ref_uri: ciConfigRefUri,
    ci_config_sha: '0'.repeat(40),
    ...overrides,
  };
}

export type DevIssuerFlavor = 'email-or-uri' | 'github-workflow' | 'gitlab-pipeline';

/** The claims a flavor mints for `identity`, with `extra` claims on top (or the flavor's overrides). */
function flavorClaims(
  flavor: DevIssuerFlavor | undefined,
  identity: string,
  extra: Record<string, unknown>,
): Record<string, unknown> {
  if (flavor === 'github-workflow') return githubWorkflowClaims(identity, extra);
  if (flavor === 'gitlab-pipeline') return gitlabPipelineClaims(identity, extra);
  return { ...extra, ...identityClaims(identity) };
}

interface PendingDevice {
  userCode: string;
  expiresAt: number;
  audience: string;
  identity?: string;
  denied?: boolean;
  lastPoll?: number;
}

interface PendingCode {
  identity: string;
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  nonce?: string;
  expiresAt: number;
}

const AuthorizeParams = z.object({
  response_type: z.literal('code'),
  client_id: z.string().min(1),
  redirect_uri: z.string().min(1),
  state: z.string().optional(),
  nonce: z.string().optional(),
  code_challenge: z.string().min(43).max(128),
  code_challenge_method: z.literal('S256'),
  scope: z.string().optional(),
});

/** Redirects only to the client's own machine (RFC 8252 §7.3 loopback redirect). */
function isLoopbackRedirect(uri: string): boolean {
  try {
    const u = new URL(uri);
    return u.protocol === 'http:' && isLoopbackHost(u.hostname);
  } catch {
    return false;
  }
}

const TokenForm = z.object({
  grant_type: z.string(),
  identity: z.string().optional(),
  audience: z.string().optional(),
  device_code: z.string().optional(),
  client_id: z.string().optional(),
  code: z.string().optional(),
  code_verifier: z.string().optional(),
  redirect_uri: z.string().optional(),
  /** JSON object of extra claims (github-workflow flavor: overrides of the Actions claims). */
  claims: z.string().optional(),
});

function parseClaims(json: string | undefined): Record<string, unknown> | undefined {
  if (json === undefined || json === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new SealError('E_INVALID_ARGUMENT', 'claims must be a JSON object');
  }
  const parsed = z.record(z.string(), z.unknown()).safeParse(value);
  if (!parsed.success) throw new SealError('E_INVALID_ARGUMENT', 'claims must be a JSON object');
  return parsed.data;
}

const oauthError = (reply: FastifyReply, status: number, error: string, description: string) =>
  reply.code(status).send({ error, error_description: description });

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export class DevIssuer {
  private readonly devices = new Map<string, PendingDevice>();
  private readonly codes = new Map<string, PendingCode>();
  private jwk?: JWK;

  /** `issuerUrl` is read at request time: the server's port is known only once it listens. */
  constructor(
    private readonly key: EcKey,
    private readonly issuerUrl: () => string,
    private readonly opts: {
      defaultTtlSec?: number;
      devicePollIntervalSec?: number;
      /** email-or-uri (default): identities are emails or URIs; github-workflow: workflow refs, Actions claims. */
      flavor?: DevIssuerFlavor;
    } = {},
  ) {
    if (key.curve !== 'P-256')
      throw new SealError('E_KEY_UNSUPPORTED', 'the dev issuer signs with ES256 (P-256)');
  }

  /** Open the issuer whose signing key lives in `dir` (created on first use). */
  static async open(
    dir: string,
    issuerUrl: () => string,
    opts?: { defaultTtlSec?: number; flavor?: DevIssuerFlavor },
  ): Promise<DevIssuer> {
    return new DevIssuer(await loadOrCreateEcKey(join(dir, 'issuer.key.pem'), 'P-256'), issuerUrl, opts);
  }

  get issuer(): string {
    return this.issuerUrl();
  }

  async publicJwk(): Promise<JWK> {
    if (!this.jwk) {
      const jwk = await exportJWK(this.key.publicKey);
      this.jwk = { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'ES256', use: 'sig' };
    }
    return this.jwk;
  }

  async jwks(): Promise<{ keys: JWK[] }> {
    return { keys: [await this.publicJwk()] };
  }

  /** Mint an ID token for `identity` (email or URI). */
  async mint(identity: string, opts: MintOptions = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const ttl = opts.ttlSec ?? this.opts.defaultTtlSec ?? 600;
    const { iss: _i, aud: _a, iat: _t, exp: _e, nbf: _n, ...extra } = opts.claims ?? {};
    const jwk = await this.publicJwk();
    const claims = flavorClaims(this.opts.flavor, identity, extra);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: jwk.kid!, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(opts.audience ?? 'sigstore')
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + ttl)
      .setJti(randomBytes(12).toString('hex'))
      .sign(this.key.privateKey);
  }

  discoveryDocument(): Record<string, unknown> {
    const iss = this.issuer;
    return {
      issuer: iss,
      jwks_uri: `${iss}/jwks`,
      token_endpoint: `${iss}/token`,
      device_authorization_endpoint: `${iss}/device/code`,
      authorization_endpoint: `${iss}/auth`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['ES256'],
      grant_types_supported: ['authorization_code', DEVICE_CODE_GRANT, DEV_IDENTITY_GRANT],
      scopes_supported: ['openid', 'email'],
      claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'email', 'email_verified'],
    };
  }

  /** Mount the issuer's routes under `prefix` (its issuer URL must be `<server url><prefix>`). */
  register(app: FastifyInstance, prefix: string): void {
    const mount = prefix.replace(/\/+$/, '');
    // Encapsulated so the form parser (OAuth endpoints take application/x-www-form-urlencoded) stays ours.
    app.register(
      async (scope) => {
        scope.addContentTypeParser(
          'application/x-www-form-urlencoded',
          { parseAs: 'string' },
          (_req, body, done) => {
            done(null, Object.fromEntries(new URLSearchParams(String(body))));
          },
        );
        this.routes(scope, mount);
      },
      { prefix: mount },
    );
  }

  private routes(app: FastifyInstance, mount: string): void {
    const p = '';
    app.get(`${p}/.well-known/openid-configuration`, async () => this.discoveryDocument());
    app.get(`${p}/jwks`, async () => this.jwks());

    // The CI token request (dev only): GitHub's ACTIONS_ID_TOKEN_REQUEST_URL shape, `GET …?<claims>&audience=…`
    // with any bearer, answering `{"value": JWT}` whose claims come from the query. The GitLab flavor answers
    // the same request, so a test can fill SIGSTORE_ID_TOKEN as GitLab's `id_tokens` would.
    if (this.opts.flavor === 'github-workflow' || this.opts.flavor === 'gitlab-pipeline') {
      const path = this.opts.flavor === 'github-workflow' ? '/github-actions' : '/gitlab-ci';
      app.get(`${p}${path}`, async (request, reply) => {
        if (!/^bearer \S+/i.test(String(request.headers.authorization ?? ''))) {
          return reply.code(401).send({ message: 'a bearer token is required (any value: dev issuer)' });
        }
        const query = { ...(request.query as Record<string, unknown>) };
        const audience = typeof query.audience === 'string' ? query.audience : undefined;
        delete query.audience;
        delete query['api-version'];
        const claims: Record<string, string> = {};
        for (const [k, v] of Object.entries(query)) if (typeof v === 'string') claims[k] = v;
        const identity =
          this.opts.flavor === 'github-workflow'
            ? (claims.job_workflow_ref ?? claims.workflow_ref)
            : claims.ci_config_ref_uri;
        if (!identity) {
          const need = this.opts.flavor === 'github-workflow' ? 'job_workflow_ref' : 'ci_config_ref_uri';
          return reply.code(400).send({ message: `the query must carry the ${need} claim` });
        }
        // job_workflow_ref defaults to workflow_ref (a workflow that is not reusable)
        if (this.opts.flavor === 'github-workflow') claims.job_workflow_ref ??= identity;
        try {
          return { value: await this.mint(identity, { audience, claims }) };
        } catch (err) {
          return reply.code(400).send({ message: (err as Error).message });
        }
      });
    }

    app.post(`${p}/token`, async (request, reply) => {
      const form = TokenForm.safeParse(request.body ?? {});
      if (!form.success) return oauthError(reply, 400, 'invalid_request', 'grant_type is required');
      const f = form.data;
      if (f.grant_type === DEV_IDENTITY_GRANT) {
        if (!f.identity) return oauthError(reply, 400, 'invalid_request', 'identity is required');
        let token: string;
        try {
          token = await this.mint(f.identity, { audience: f.audience, claims: parseClaims(f.claims) });
        } catch (err) {
          return oauthError(reply, 400, 'invalid_request', (err as Error).message);
        }
        return { id_token: token, access_token: token, token_type: 'Bearer', expires_in: 600 };
      }
      if (f.grant_type === DEVICE_CODE_GRANT) return this.pollDevice(reply, f.device_code);
      if (f.grant_type === 'authorization_code') return this.redeemCode(reply, f);
      return oauthError(reply, 400, 'unsupported_grant_type', `grant_type ${f.grant_type} is not supported`);
    });

    // Authorization code + PKCE (RFC 6749 §4.1, RFC 7636) with loopback redirects, as cosign's browser flow.
    app.get(`${p}/auth`, async (request, reply) => {
      const q = AuthorizeParams.safeParse(request.query);
      if (!q.success) {
        return reply.code(400).send({
          error: 'invalid_request',
          error_description: `authorization request: ${q.error.issues[0]?.path.join('.')} ${q.error.issues[0]?.message}`,
        });
      }
      if (!isLoopbackRedirect(q.data.redirect_uri)) {
        return reply.code(400).send({
          error: 'invalid_request',
          error_description: 'redirect_uri must be http on a loopback address',
        });
      }
      const hidden = Object.entries(q.data)
        .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(String(v))}">`)
        .join('');
      reply.type('text/html; charset=utf-8');
      return `<!doctype html><title>seal dev issuer</title><h1>Sign in to ${escapeHtml(q.data.client_id)}</h1>
<p>This is seal's development OIDC issuer: it vouches for whatever identity you type.</p>
<form method="post" action="${escapeHtml(`${mount}/auth`)}">${hidden}
<label>Identity <input name="identity" placeholder="alice@example.com"></label> <button>Continue</button></form>`;
    });

    app.post(`${p}/auth`, async (request, reply) => {
      const body = (request.body ?? {}) as Record<string, unknown>;
      const q = AuthorizeParams.safeParse(body);
      const identity = typeof body.identity === 'string' ? body.identity : '';
      if (!q.success || !isLoopbackRedirect(q.data.redirect_uri)) {
        return reply
          .code(400)
          .send({ error: 'invalid_request', error_description: 'malformed authorization form' });
      }
      try {
        flavorClaims(this.opts.flavor, identity, {});
      } catch (err) {
        return reply.code(400).send({ error: 'invalid_request', error_description: (err as Error).message });
      }
      const code = randomBytes(24).toString('base64url');
      this.codes.set(code, {
        identity,
        clientId: q.data.client_id,
        redirectUri: q.data.redirect_uri,
        codeChallenge: q.data.code_challenge,
        nonce: q.data.nonce,
        expiresAt: Date.now() + 60_000,
      });
      const target = new URL(q.data.redirect_uri);
      target.searchParams.set('code', code);
      if (q.data.state !== undefined) target.searchParams.set('state', q.data.state);
      return reply.redirect(target.toString(), 302);
    });

    app.post(`${p}/device/code`, async (request) => {
      const body = z.object({ audience: z.string().optional() }).safeParse(request.body ?? {});
      const deviceCode = randomBytes(24).toString('base64url');
      const letters = 'BCDFGHJKLMNPQRSTVWXZ';
      const pick = () => Array.from({ length: 4 }, () => letters[randomInt(letters.length)]).join('');
      const userCode = `${pick()}-${pick()}`;
      const expiresIn = 600;
      this.devices.set(deviceCode, {
        userCode,
        expiresAt: Date.now() + expiresIn * 1000,
        audience: (body.success && body.data.audience) || 'sigstore',
      });
      return {
        device_code: deviceCode,
        user_code: userCode,
        verification_uri: `${this.issuer}/device`,
        verification_uri_complete: `${this.issuer}/device?user_code=${encodeURIComponent(userCode)}`,
        expires_in: expiresIn,
        interval: this.opts.devicePollIntervalSec ?? 1,
      };
    });

    // The "browser" side of the device flow: a form that names the identity to approve.
    app.get(`${p}/device`, async (request, reply) => {
      const q = z.object({ user_code: z.string().optional() }).safeParse(request.query);
      const code = q.success ? (q.data.user_code ?? '') : '';
      reply.type('text/html; charset=utf-8');
      return `<!doctype html><title>seal dev issuer</title><h1>Approve a device</h1>
<p>This is seal's development OIDC issuer: it vouches for whatever identity you type.</p>
<form method="post" action="${escapeHtml(`${mount}/device`)}">
<label>Code <input name="user_code" value="${escapeHtml(code)}"></label>
<label>Identity <input name="identity" placeholder="alice@example.com"></label>
<button name="action" value="approve">Approve</button> <button name="action" value="deny">Deny</button></form>`;
    });

    app.post(`${p}/device`, async (request, reply) => {
      const form = z
        .object({ user_code: z.string(), identity: z.string().optional(), action: z.string().optional() })
        .safeParse(request.body ?? {});
      if (!form.success)
        return reply.code(400).send({ error: 'invalid_request', error_description: 'user_code is required' });
      const entry = [...this.devices.values()].find(
        (d) => d.userCode === form.data.user_code.toUpperCase() && d.expiresAt > Date.now(),
      );
      if (!entry)
        return reply
          .code(404)
          .send({ error: 'invalid_request', error_description: 'unknown or expired user_code' });
      if (form.data.action === 'deny') {
        entry.denied = true;
        return { status: 'denied' };
      }
      if (!form.data.identity)
        return reply.code(400).send({ error: 'invalid_request', error_description: 'identity is required' });
      try {
        if (this.opts.flavor === 'github-workflow') githubWorkflowClaims(form.data.identity);
        else identityClaims(form.data.identity);
      } catch (err) {
        return reply.code(400).send({ error: 'invalid_request', error_description: (err as Error).message });
      }
      entry.identity = form.data.identity;
      return { status: 'approved', identity: entry.identity };
    });
  }

  private async redeemCode(reply: FastifyReply, f: z.infer<typeof TokenForm>) {
    const entry = f.code ? this.codes.get(f.code) : undefined;
    if (f.code) this.codes.delete(f.code); // single use, even when the exchange fails
    if (!entry || entry.expiresAt <= Date.now())
      return oauthError(reply, 400, 'invalid_grant', 'unknown or expired code');
    if (f.redirect_uri !== entry.redirectUri)
      return oauthError(reply, 400, 'invalid_grant', 'redirect_uri does not match');
    if (f.client_id !== undefined && f.client_id !== entry.clientId) {
      return oauthError(reply, 400, 'invalid_grant', 'client_id does not match');
    }
    const challenge = f.code_verifier ? createHash('sha256').update(f.code_verifier).digest('base64url') : '';
    if (challenge !== entry.codeChallenge)
      return oauthError(reply, 400, 'invalid_grant', 'PKCE code_verifier does not match');
    const token = await this.mint(entry.identity, {
      audience: entry.clientId,
      claims: entry.nonce ? { nonce: entry.nonce } : undefined,
    });
    return { id_token: token, access_token: token, token_type: 'Bearer', expires_in: 600 };
  }

  private async pollDevice(reply: FastifyReply, deviceCode: string | undefined) {
    const entry = deviceCode ? this.devices.get(deviceCode) : undefined;
    if (!entry || !deviceCode) return oauthError(reply, 400, 'invalid_grant', 'unknown device_code');
    if (entry.expiresAt <= Date.now()) {
      this.devices.delete(deviceCode);
      return oauthError(reply, 400, 'expired_token', 'the device code expired; start again');
    }
    if (entry.denied) {
      this.devices.delete(deviceCode);
      return oauthError(reply, 400, 'access_denied', 'the user denied the request');
    }
    if (!entry.identity) {
      const interval = (this.opts.devicePollIntervalSec ?? 1) * 1000;
      const tooFast = entry.lastPoll !== undefined && Date.now() - entry.lastPoll < interval / 2;
      entry.lastPoll = Date.now();
      return oauthError(
        reply,
        400,
        tooFast ? 'slow_down' : 'authorization_pending',
        'waiting for the user to approve',
      );
    }
    this.devices.delete(deviceCode);
    const token = await this.mint(entry.identity, { audience: entry.audience });
    return { id_token: token, access_token: token, token_type: 'Bearer', expires_in: 600 };
  }
}
