// Test support for the CA: a real OIDC issuer over HTTP on 127.0.0.1 (discovery + JWKS whose keys
// can be rotated) and token signing with arbitrary headers/claims.

import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, type JWK, SignJWT } from 'jose';

export interface TestKey {
  kid: string;
  privateKey: KeyObject;
  jwk: JWK;
  alg: 'ES256' | 'RS256' | 'EdDSA';
}

export async function makeKey(alg: TestKey['alg'] = 'ES256'): Promise<TestKey> {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'RS256'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519');
  const kid = randomBytes(8).toString('hex');
  return { kid, privateKey: pair.privateKey, jwk: { ...(await exportJWK(pair.publicKey)), kid, alg }, alg };
}

export interface TestIssuer {
  url: string;
  keys: TestKey[];
  /** Number of JWKS fetches served. */
  jwksFetches: number;
  close(): Promise<void>;
}

export async function startTestIssuer(keys: TestKey[], path = '/issuer'): Promise<TestIssuer> {
  const state = { keys, jwksFetches: 0 };
  let url = '';
  const server: Server = createServer((req, res) => {
    if (req.url === `${path}/.well-known/openid-configuration`) {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer: url, jwks_uri: `${url}/keys` }));
    } else if (req.url === `${path}/keys`) {
      state.jwksFetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: state.keys.map((k) => k.jwk) }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return {
    url,
    get keys() {
      return state.keys;
    },
    set keys(k: TestKey[]) {
      state.keys = k;
    },
    get jwksFetches() {
      return state.jwksFetches;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function signToken(
  key: TestKey,
  claims: Record<string, unknown>,
  opts: { expiresInSec?: number; iatOffsetSec?: number; header?: Record<string, unknown> } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000) + (opts.iatOffsetSec ?? 0);
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, ...(opts.header ?? {}) })
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.expiresInSec ?? 300))
    .sign(key.privateKey);
}

/** An unsigned token (`alg: none`), as an attacker would send it. */
export function unsignedToken(claims: Record<string, unknown>): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iat: now, exp: now + 300, ...claims })}.`;
}
