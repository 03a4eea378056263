import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import {
  readIdentityTokenFlag,
  resolveIdentityToken,
  tokenFromGitHubActions,
} from '../../src/oidc/sources.js';

const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';

/**
 * A stand-in for the GitHub Actions OIDC token service: GET <url>?api-version=2.0&audience=…, bearer auth
 * with the request token, answers {"count":…,"value":"<jwt>"} (actions/toolkit core getIDToken).
 */
async function startActionsTokenService(requestToken: string) {
  const seen: IncomingMessage[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(req);
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.headers.authorization !== `bearer ${requestToken}`) {
      res.statusCode = 401;
      res.end('{"message":"bad token"}');
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        count: 1,
        value: `${JWT.split('.')[0]}.${Buffer.from(JSON.stringify({ aud: url.searchParams.get('audience') })).toString('base64url')}.c2ln`,
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/_apis/distributedtask/hubs/build/plans/p/jobs/j/idtoken?api-version=2.0`,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('token sources', () => {
  let dir: string;
  let actions: Awaited<ReturnType<typeof startActionsTokenService>>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-tok-'));
    actions = await startActionsTokenService('req-token');
  });
  afterAll(async () => {
    await actions.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('--identity-token takes a JWT or a file holding one', async () => {
    expect(await readIdentityTokenFlag(JWT)).toBe(JWT);
    const file = join(dir, 'token');
    await writeFile(file, `${JWT}\n`);
    expect(await readIdentityTokenFlag(file)).toBe(JWT);
    await writeFile(file, 'garbage');
    await expect(readIdentityTokenFlag(file)).rejects.toThrow(/does not hold a JWT/);
    await expect(readIdentityTokenFlag(join(dir, 'missing'))).rejects.toThrow(
      /neither a JWT nor a readable file/,
    );
  });

  it('asks the GitHub Actions token service with audience=sigstore and bearer auth', async () => {
    const token = await tokenFromGitHubActions({
      ACTIONS_ID_TOKEN_REQUEST_URL: actions.url,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'req-token',
    });
    expect(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())).toEqual({
      aud: 'sigstore',
    });
    const req = actions.seen.at(-1)!;
    const url = new URL(req.url!, 'http://x');
    expect(url.searchParams.get('api-version')).toBe('2.0');
    expect(url.searchParams.get('audience')).toBe('sigstore');
  });

  it('reports a refused GitHub Actions request', async () => {
    const err = await tokenFromGitHubActions({
      ACTIONS_ID_TOKEN_REQUEST_URL: actions.url,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'wrong',
    }).catch((e: unknown) => e);
    expect(isSealError(err, 'E_TOKEN_INVALID')).toBe(true);
    expect((err as Error).message).toMatch(/answered 401/);
  });

  it('resolves in cosign order: flag, SIGSTORE_ID_TOKEN, GitHub Actions', async () => {
    const env = {
      SIGSTORE_ID_TOKEN: `${JWT}x`,
      ACTIONS_ID_TOKEN_REQUEST_URL: actions.url,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'req-token',
    };
    expect(await resolveIdentityToken({ identityToken: JWT, env })).toBe(JWT);
    expect(await resolveIdentityToken({ env })).toBe(`${JWT}x`);
    const fromActions = await resolveIdentityToken({
      env: { ...env, SIGSTORE_ID_TOKEN: undefined },
      audience: 'custom',
    });
    expect(JSON.parse(Buffer.from(fromActions.split('.')[1]!, 'base64url').toString())).toEqual({
      aud: 'custom',
    });
    const err = await resolveIdentityToken({ env: {} }).catch((e: unknown) => e);
    expect(isSealError(err, 'E_TOKEN_INVALID')).toBe(true);
    expect((err as Error).message).toMatch(/^no identity token/);
  });
});
