// Where a signer's OIDC identity token comes from: a flag (value or file), SIGSTORE_ID_TOKEN, the GitHub
// Actions token endpoint, seal's dev issuer, or an interactive device authorization grant (RFC 8628).

import { createHash, randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as z from 'zod';
import { SealError } from '../errors.js';

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

async function fetchJson(
  url: string,
  init: RequestInit,
  what: string,
): Promise<{ status: number; json: unknown }> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: init.signal ?? AbortSignal.timeout(30_000) });
  } catch (err) {
    throw new SealError('E_NETWORK', `cannot reach ${what} at ${url}`, { cause: err });
  }
  const text = await res.text();
  try {
    return { status: res.status, json: JSON.parse(text) };
  } catch {
    throw new SealError(
      'E_NETWORK',
      `${what} answered ${res.status} with a non-JSON body: ${text.slice(0, 200)}`,
    );
  }
}

/**
 * `--identity-token` takes the token itself or a path to a file holding it (cosign accepts both).
 * A value that looks like a JWT is used as is; otherwise it must name a readable file.
 */
export async function readIdentityTokenFlag(value: string): Promise<string> {
  const trimmed = value.trim();
  if (JWT_SHAPE.test(trimmed)) return trimmed;
  let isFile = false;
  try {
    isFile = (await stat(value)).isFile();
  } catch {
    isFile = false;
  }
  if (!isFile)
    throw new SealError('E_INVALID_ARGUMENT', '--identity-token is neither a JWT nor a readable file');
  const content = (await readFile(value, 'utf8')).trim();
  if (!JWT_SHAPE.test(content)) throw new SealError('E_TOKEN_INVALID', `${value} does not hold a JWT`);
  return content;
}

/** GitHub Actions: GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=… with the request token as bearer. */
export async function tokenFromGitHubActions(env: NodeJS.ProcessEnv, audience = 'sigstore'): Promise<string> {
  const requestUrl = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const requestToken = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!requestUrl || !requestToken) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      'ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN are not set (the workflow needs `permissions: id-token: write`)',
    );
  }
  const url = new URL(requestUrl);
  url.searchParams.set('audience', audience);
  const { status, json } = await fetchJson(
    url.toString(),
    { headers: { authorization: `bearer ${requestToken}`, accept: 'application/json; api-version=2.0' } },
    'the GitHub Actions token service',
  );
  const parsed = z.object({ value: z.string().regex(JWT_SHAPE) }).safeParse(json);
  if (status !== 200 || !parsed.success) {
    throw new SealError(
      'E_TOKEN_INVALID',
      `the GitHub Actions token service answered ${status} without a token`,
    );
  }
  return parsed.data.value;
}

/** Ask a seal dev issuer (`seal serve`) for a token naming `identity`. */
export async function tokenFromDevIssuer(
  issuerUrl: string,
  identity: string,
  audience = 'sigstore',
  claims?: Record<string, unknown>,
): Promise<string> {
  const iss = issuerUrl.replace(/\/+$/, '');
  const { status, json } = await fetchJson(
    `${iss}/token`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:seal:params:oauth:grant-type:dev-identity',
        identity,
        audience,
        ...(claims ? { claims: JSON.stringify(claims) } : {}),
      }).toString(),
    },
    'the dev OIDC issuer',
  );
  const ok = z.object({ id_token: z.string() }).safeParse(json);
  if (status === 200 && ok.success) return ok.data.id_token;
  const err = z.object({ error_description: z.string().optional() }).safeParse(json);
  throw new SealError(
    status === 400 ? 'E_INVALID_ARGUMENT' : 'E_NETWORK',
    `the dev issuer refused: ${(err.success && err.data.error_description) || `status ${status}`}`,
  );
}

const Discovery = z.object({
  issuer: z.string(),
  token_endpoint: z.string().optional(),
  device_authorization_endpoint: z.string().optional(),
});

const DeviceAuthorization = z.object({
  device_code: z.string(),
  user_code: z.string(),
  verification_uri: z.string(),
  verification_uri_complete: z.string().optional(),
  expires_in: z.number(),
  interval: z.number().optional(),
});

export interface DeviceFlowOptions {
  issuer: string;
  clientId?: string;
  audience?: string;
  /** Show the user where to go and which code to enter. */
  onPrompt: (prompt: { verificationUri: string; userCode: string; verificationUriComplete?: string }) => void;
  signal?: AbortSignal;
}

/** RFC 8628 device authorization grant against an issuer whose discovery document advertises it. */
export async function tokenFromDeviceFlow(opts: DeviceFlowOptions): Promise<string> {
  const iss = opts.issuer.replace(/\/+$/, '');
  const disc = Discovery.safeParse(
    (await fetchJson(`${iss}/.well-known/openid-configuration`, {}, 'the OIDC issuer')).json,
  );
  if (!disc.success || !disc.data.device_authorization_endpoint || !disc.data.token_endpoint) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `issuer ${iss} does not support the device authorization grant`,
    );
  }
  const clientId = opts.clientId ?? 'sigstore';
  const form = (params: Record<string, string>) => ({
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(params).toString(),
  });
  const start = await fetchJson(
    disc.data.device_authorization_endpoint,
    form({
      client_id: clientId,
      scope: 'openid email',
      ...(opts.audience ? { audience: opts.audience } : {}),
    }),
    'the device authorization endpoint',
  );
  const auth = DeviceAuthorization.safeParse(start.json);
  if (!auth.success) throw new SealError('E_TOKEN_INVALID', `device authorization failed (${start.status})`);
  opts.onPrompt({
    verificationUri: auth.data.verification_uri,
    userCode: auth.data.user_code,
    verificationUriComplete: auth.data.verification_uri_complete,
  });
  let intervalMs = (auth.data.interval ?? 5) * 1000;
  const deadline = Date.now() + auth.data.expires_in * 1000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, intervalMs));
    if (opts.signal?.aborted) throw new SealError('E_TOKEN_INVALID', 'device flow cancelled');
    const { json } = await fetchJson(
      disc.data.token_endpoint,
      form({
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        device_code: auth.data.device_code,
        client_id: clientId,
      }),
      'the token endpoint',
    );
    const ok = z.object({ id_token: z.string() }).safeParse(json);
    if (ok.success) return ok.data.id_token;
    const error = z.object({ error: z.string() }).safeParse(json);
    const code = error.success ? error.data.error : 'invalid_response';
    if (code === 'authorization_pending') continue;
    if (code === 'slow_down') {
      intervalMs += 5000;
      continue;
    }
    throw new SealError('E_TOKEN_INVALID', `device flow failed: ${code}`);
  }
  throw new SealError('E_TOKEN_INVALID', 'device flow failed: the code expired before it was approved');
}

const BrowserDiscovery = z.object({
  issuer: z.string(),
  authorization_endpoint: z.string(),
  token_endpoint: z.string(),
});

export interface BrowserFlowOptions {
  issuer: string;
  clientId?: string;
  /** Show or open the authorization URL (print it; a CLI may also launch a browser). */
  openUrl: (url: string) => void;
  /** How long to wait for the redirect (default 5 min). */
  timeoutMs?: number;
}

/**
 * OIDC authorization code flow with PKCE (RFC 7636) and a loopback redirect (RFC 8252 §7.3): listen on
 * 127.0.0.1, send the user to the issuer, take the code from the redirect, exchange it with the verifier.
 */
export async function tokenFromBrowserFlow(opts: BrowserFlowOptions): Promise<string> {
  const iss = opts.issuer.replace(/\/+$/, '');
  const disc = BrowserDiscovery.safeParse(
    (await fetchJson(`${iss}/.well-known/openid-configuration`, {}, 'the OIDC issuer')).json,
  );
  if (!disc.success)
    throw new SealError('E_INVALID_ARGUMENT', `issuer ${iss} has no authorization/token endpoint`);
  const clientId = opts.clientId ?? 'sigstore';
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  let settle: (r: { code?: string; error?: string }) => void = () => undefined;
  const redirected = new Promise<{ code?: string; error?: string }>((resolve) => {
    settle = resolve;
  });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/auth/callback') {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    if (url.searchParams.get('state') !== state) {
      res.statusCode = 400;
      res.end('state mismatch: this redirect is not for this sign-in');
      return;
    }
    res.end('Signed in. You can close this window.');
    settle({
      code: url.searchParams.get('code') ?? undefined,
      error: url.searchParams.get('error') ?? undefined,
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth/callback`;
    const auth = new URL(disc.data.authorization_endpoint);
    auth.search = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: redirectUri,
      scope: 'openid email',
      state,
      nonce,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    opts.openUrl(auth.toString());
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new SealError('E_TOKEN_INVALID', 'browser sign-in timed out')),
        opts.timeoutMs ?? 300_000,
      );
    });
    const result = await Promise.race([redirected, timeout]).finally(() => clearTimeout(timer));
    if (!result.code)
      throw new SealError('E_TOKEN_INVALID', `browser sign-in failed: ${result.error ?? 'no code'}`);
    const { status, json } = await fetchJson(
      disc.data.token_endpoint,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: result.code,
          redirect_uri: redirectUri,
          client_id: clientId,
          code_verifier: verifier,
        }).toString(),
      },
      'the token endpoint',
    );
    const ok = z.object({ id_token: z.string().regex(JWT_SHAPE) }).safeParse(json);
    if (status !== 200 || !ok.success)
      throw new SealError('E_TOKEN_INVALID', `code exchange failed (${status})`);
    // The CA checks the signature; here the nonce ties the token to this sign-in (OIDC Core §3.1.3.7).
    const payload = z
      .object({ nonce: z.string().optional() })
      .safeParse(JSON.parse(Buffer.from(ok.data.id_token.split('.')[1]!, 'base64url').toString('utf8')));
    if (!payload.success || payload.data.nonce !== nonce) {
      throw new SealError('E_TOKEN_INVALID', "the ID token does not carry this sign-in's nonce");
    }
    return ok.data.id_token;
  } finally {
    server.close();
    server.closeAllConnections();
  }
}

export interface ResolveTokenOptions {
  /** `--identity-token` (a JWT or a file path). */
  identityToken?: string;
  env: NodeJS.ProcessEnv;
  audience?: string;
  /** Interactive fallback when nothing else provides a token: the device grant, or the browser flow. */
  interactive?: Omit<DeviceFlowOptions, 'audience'> | ({ browser: true } & BrowserFlowOptions);
}

/**
 * Pick a token the way cosign does: the flag, then SIGSTORE_ID_TOKEN, then the CI environment
 * (GitHub Actions), then an interactive flow if one is configured.
 */
export async function resolveIdentityToken(opts: ResolveTokenOptions): Promise<string> {
  if (opts.identityToken) return readIdentityTokenFlag(opts.identityToken);
  const envToken = opts.env.SIGSTORE_ID_TOKEN?.trim();
  if (envToken) {
    if (!JWT_SHAPE.test(envToken))
      throw new SealError('E_TOKEN_INVALID', 'SIGSTORE_ID_TOKEN does not hold a JWT');
    return envToken;
  }
  if (opts.env.ACTIONS_ID_TOKEN_REQUEST_URL && opts.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN) {
    return tokenFromGitHubActions(opts.env, opts.audience);
  }
  if (opts.interactive) {
    if ('browser' in opts.interactive) return tokenFromBrowserFlow(opts.interactive);
    return tokenFromDeviceFlow({ ...opts.interactive, audience: opts.audience });
  }
  throw new SealError(
    'E_TOKEN_INVALID',
    'no identity token: pass --identity-token, set SIGSTORE_ID_TOKEN, run in GitHub Actions with id-token: write, ' +
      'or use `seal token` against a seal serve dev issuer',
  );
}
