// A real token server for the distribution registry's `auth.token` mode, on 127.0.0.1: issues ES256
// JWTs with an `x5c` header chaining to a self-signed cert the registry trusts (distribution v2.8 token.go).

import { randomUUID, webcrypto } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { x509 } from '../../src/ca/x509.js';

/** Actions a user may take on repositories: repository name (or `*`) → actions. */
export type Grants = Record<string, string[]>;

export interface TokenUser {
  password: string;
  /** An OAuth2 refresh token (docker's `identitytoken`) that also logs this user in. */
  refreshToken?: string;
  grants: Grants;
}

export interface TokenServerOptions {
  /** Directory where `root.pem` (the registry's rootcertbundle) is written. */
  dir: string;
  users: Record<string, TokenUser>;
  /** Grants for requests without credentials. Default: none. */
  anonymous?: Grants;
  service?: string;
  issuer?: string;
  expiresInSeconds?: number;
  /** Which response field carries the token. Default both (`token` and `access_token`). */
  tokenField?: 'token' | 'access_token' | 'both';
}

export interface TokenRequestRecord {
  method: string;
  user: string | undefined;
  scopes: string[];
  granted: Array<{ type: string; name: string; actions: string[] }>;
}

export interface TokenServer {
  /** The realm URL (`http://127.0.0.1:PORT/token`). */
  realm: string;
  service: string;
  issuer: string;
  rootCertBundle: string;
  /** Every token request served (successful or not). */
  requests: TokenRequestRecord[];
  readonly hits: number;
  stop(): Promise<void>;
}

function grantedActions(grants: Grants | undefined, name: string, wanted: string[]): string[] {
  if (!grants) return [];
  const allowed = new Set([...(grants[name] ?? []), ...(grants['*'] ?? [])]);
  if (allowed.has('*')) return wanted;
  return wanted.filter((a) => allowed.has(a));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of req) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const service = options.service ?? 'seal-test-registry';
  const issuer = options.issuer ?? 'seal-test-token-issuer';
  const expiresIn = options.expiresInSeconds ?? 300;
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=seal test token issuer',
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 24 * 3600_000),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  const rootCertBundle = join(options.dir, 'token-root.pem');
  await writeFile(rootCertBundle, cert.toString('pem'));
  const x5c = Buffer.from(cert.rawData).toString('base64');

  const requests: TokenRequestRecord[] = [];

  const authenticate = (
    req: IncomingMessage,
    form: URLSearchParams | undefined,
  ): { ok: true; user: string | undefined } | { ok: false } => {
    if (form?.get('grant_type') === 'refresh_token') {
      const token = form.get('refresh_token');
      const found = Object.entries(options.users).find(([, u]) => u.refreshToken && u.refreshToken === token);
      return found ? { ok: true, user: found[0] } : { ok: false };
    }
    const header = req.headers.authorization;
    if (!header) return { ok: true, user: undefined };
    const m = /^Basic\s+(.+)$/i.exec(header);
    if (!m?.[1]) return { ok: false };
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const name = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const user = options.users[name];
    return user && colon >= 0 && user.password === password ? { ok: true, user: name } : { ok: false };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/token' || (req.method !== 'GET' && req.method !== 'POST')) {
      res.writeHead(404).end();
      return;
    }
    let params = url.searchParams;
    let form: URLSearchParams | undefined;
    if (req.method === 'POST') {
      form = new URLSearchParams(await readBody(req));
      params = form;
    }
    const scopes =
      req.method === 'POST'
        ? (params.get('scope') ?? '').split(' ').filter((s) => s.length > 0)
        : params.getAll('scope').flatMap((s) => s.split(' ').filter((x) => x.length > 0));
    const who = authenticate(req, form);
    const record: TokenRequestRecord = { method: req.method, user: undefined, scopes, granted: [] };
    requests.push(record);
    if (!who.ok) {
      res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"details":"invalid credentials"}');
      return;
    }
    record.user = who.user;
    if (params.get('service') !== service) {
      res.writeHead(400, { 'Content-Type': 'application/json' }).end('{"details":"unknown service"}');
      return;
    }
    const grants = who.user ? options.users[who.user]?.grants : options.anonymous;
    for (const scope of scopes) {
      const first = scope.indexOf(':');
      const last = scope.lastIndexOf(':');
      if (first < 0 || last === first) continue;
      const type = scope.slice(0, first);
      const name = scope.slice(first + 1, last);
      const wanted = scope
        .slice(last + 1)
        .split(',')
        .filter((a) => a.length > 0);
      if (type !== 'repository') continue;
      record.granted.push({ type, name, actions: grantedActions(grants, name, wanted) });
    }
    const issuedAt = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ access: record.granted })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', x5c: [x5c] })
      .setIssuer(issuer)
      .setSubject(who.user ?? '')
      .setAudience(service)
      .setIssuedAt(issuedAt)
      .setNotBefore(issuedAt - 1)
      .setExpirationTime(issuedAt + expiresIn)
      .setJti(randomUUID())
      .sign(keys.privateKey);
    const field = options.tokenField ?? 'both';
    const body: Record<string, unknown> = {
      expires_in: expiresIn,
      issued_at: new Date(issuedAt * 1000).toISOString(),
    };
    if (field !== 'access_token') body.token = token;
    if (field !== 'token') body.access_token = token;
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(500).end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    rootCertBundle,
    requests,
    get hits() {
      return requests.length;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
