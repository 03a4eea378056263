// Registry credentials and authorisation: docker/podman config files and credential helpers, and
// the Basic and Bearer-token challenge flows (distribution "Token Authentication Specification").

import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SealError } from '../errors.js';
import * as z from '../formats/zod.js';
import { DEFAULT_OPERATION_DEADLINE_MS, OperationBudget, raceSignal } from './deadline.js';
import type { HttpClient } from './http.js';
import { canonicalRegistry } from './ref.js';

/**
 * What authenticates us to a registry: a user and password (Basic, or exchanged at a token server), an
 * identity token (OAuth2 refresh token, docker's `identitytoken`), or a registry token sent as it is as
 * `Bearer` (cosign's `--registry-token`, go-containerregistry's authn.Bearer: no token exchange).
 */
export type RegistryCredentials =
  | { username: string; password: string }
  | { identityToken: string }
  | { registryToken: string };

/** Finds credentials for a registry host (`127.0.0.1:5000`, `index.docker.io`, `ghcr.io`). */
export interface CredentialResolver {
  resolve(registry: string): Promise<RegistryCredentials | undefined>;
}

/** The Docker Hub key docker writes in config.json. */
export const DOCKER_HUB_CONFIG_KEY = 'https://index.docker.io/v1/';
const DOCKER_HUB_ALIASES = new Set([
  'index.docker.io',
  'docker.io',
  'registry-1.docker.io',
  'registry.hub.docker.com',
]);

/**
 * Canonical host for matching config keys: no scheme, no path, Docker Hub aliases folded, and the
 * spelling references get (canonicalRegistry: `GHCR.io:443` is `ghcr.io`), so credentials are found
 * whatever spelling the image or the config used. A key that is no valid host is only lower-cased.
 */
export function normaliseRegistryKey(key: string): string {
  let host = key.trim().replace(/^[a-z]+:\/\//i, '');
  const slash = host.indexOf('/');
  if (slash >= 0) host = host.slice(0, slash);
  host = host.toLowerCase();
  if (DOCKER_HUB_ALIASES.has(host)) return 'index.docker.io';
  try {
    return canonicalRegistry(host);
  } catch {
    return host;
  }
}

/** Credentials given directly (CLI flags, tests). Keys are registry hosts. */
export function staticCredentials(entries: Record<string, RegistryCredentials>): CredentialResolver {
  const map = new Map(Object.entries(entries).map(([k, v]) => [normaliseRegistryKey(k), v]));
  return { resolve: async (registry) => map.get(normaliseRegistryKey(registry)) };
}

export const anonymousCredentials: CredentialResolver = { resolve: async () => undefined };

/** The same credentials for every registry (cosign's `--registry-username/--registry-password/--registry-token`). */
export function fixedCredentials(credentials: RegistryCredentials): CredentialResolver {
  return { resolve: async () => credentials };
}

const AuthEntrySchema = z.object({
  auth: z.optional(z.string()),
  username: z.optional(z.string()),
  password: z.optional(z.string()),
  identitytoken: z.optional(z.string()),
});

const ConfigFileSchema = z.object({
  auths: z.optional(z.record(z.string(), AuthEntrySchema)),
  credsStore: z.optional(z.string()),
  credHelpers: z.optional(z.record(z.string(), z.string())),
});
type ConfigFile = z.infer<typeof ConfigFileSchema>;

async function readConfigFile(path: string): Promise<ConfigFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SealError('E_IO', `cannot read registry credentials file ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SealError('E_IO', `registry credentials file ${path} is not JSON; fix or remove it`, {
      cause: err,
    });
  }
  const parsed = ConfigFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new SealError(
      'E_IO',
      `registry credentials file ${path} is malformed: ${parsed.error.issues[0]?.message}`,
    );
  }
  return parsed.data;
}

function entryCredentials(
  entry: z.infer<typeof AuthEntrySchema>,
  where: string,
): RegistryCredentials | undefined {
  if (entry.identitytoken) return { identityToken: entry.identitytoken };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0)
      throw new SealError('E_IO', `the "auth" entry for ${where} does not decode to user:password`);
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry.username !== undefined && entry.password !== undefined) {
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}

function findByHost<T>(record: Record<string, T> | undefined, registry: string): T | undefined {
  if (!record) return undefined;
  const want = normaliseRegistryKey(registry);
  for (const [key, value] of Object.entries(record)) {
    if (normaliseRegistryKey(key) === want) return value;
  }
  return undefined;
}

const HelperOutputSchema = z.object({ Username: z.string(), Secret: z.string() });

/**
 * Ask `docker-credential-<helper> get` (docker-credential-helpers protocol: server URL on stdin,
 * JSON `{ServerURL, Username, Secret}` on stdout; Username `<token>` means Secret is an identity token).
 */
export async function runCredentialHelper(
  helper: string,
  serverUrl: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RegistryCredentials | undefined> {
  if (!/^[A-Za-z0-9._-]+$/.test(helper)) {
    throw new SealError('E_UNAUTHORIZED', `credential helper name "${helper}" is not a plain name`);
  }
  const program = `docker-credential-${helper}`;
  // loaded on first use: node:child_process (with net, dgram and streams) is a sixth of a cold `seal verify`'s
  // own start, and only a registry with a credential helper needs it
  const { spawn } = await import('node:child_process');
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(program, ['get'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString('utf8');
      });
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString('utf8');
      });
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(
          new SealError(
            'E_UNAUTHORIZED',
            `credential helper ${program} could not be run (${(e as NodeJS.ErrnoException).code ?? e.message}); install it or fix credHelpers/credsStore in your docker config`,
            { cause: e },
          ),
        );
      });
      child.on('close', (c) => {
        clearTimeout(timer);
        resolve({ code: c, stdout: out, stderr: err });
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(serverUrl);
    },
  );
  if (code !== 0) {
    if (/credentials not found/i.test(stdout + stderr)) return undefined;
    throw new SealError(
      'E_UNAUTHORIZED',
      `credential helper ${program} failed for ${serverUrl} (exit ${code}): ${(stdout + stderr).trim().slice(0, 300)}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch (err) {
    throw new SealError('E_UNAUTHORIZED', `credential helper ${program} printed something other than JSON`, {
      cause: err,
    });
  }
  const parsed = HelperOutputSchema.safeParse(json);
  if (!parsed.success) {
    throw new SealError(
      'E_UNAUTHORIZED',
      `credential helper ${program} printed JSON without Username/Secret`,
    );
  }
  if (parsed.data.Username === '<token>') return { identityToken: parsed.data.Secret };
  return { username: parsed.data.Username, password: parsed.data.Secret };
}

/** docker's config file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json` (what `docker login` writes). */
export function dockerConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG || join(env.HOME ?? homedir(), '.docker'), 'config.json');
}

/**
 * Credentials the way docker, podman and cosign find them: `REGISTRY_AUTH_FILE` (podman format),
 * `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, then `$XDG_RUNTIME_DIR/containers/auth.json`.
 * In each file: `credHelpers[registry]`, then `auths[registry]`, then `credsStore`.
 */
export function dockerConfigCredentials(env: NodeJS.ProcessEnv = process.env): CredentialResolver {
  const files: string[] = [];
  if (env.REGISTRY_AUTH_FILE) files.push(env.REGISTRY_AUTH_FILE);
  files.push(dockerConfigFile(env));
  if (env.XDG_RUNTIME_DIR) files.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));

  return {
    async resolve(registry) {
      const host = normaliseRegistryKey(registry);
      const serverUrl = host === 'index.docker.io' ? DOCKER_HUB_CONFIG_KEY : host;
      for (const file of files) {
        const config = await readConfigFile(file);
        if (!config) continue;
        const helper = findByHost(config.credHelpers, host);
        if (helper) return runCredentialHelper(helper, serverUrl, env);
        const entry = findByHost(config.auths, host);
        const fromEntry = entry ? entryCredentials(entry, `${host} in ${file}`) : undefined;
        if (fromEntry) return fromEntry;
        if (config.credsStore) {
          const fromStore = await runCredentialHelper(config.credsStore, serverUrl, env);
          if (fromStore) return fromStore;
        }
      }
      return undefined;
    },
  };
}

/** One `WWW-Authenticate` challenge: scheme and its auth-params (RFC 7235). */
export interface AuthChallenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parse a `WWW-Authenticate` header into challenges. Handles quoted values with commas and escapes,
 * unquoted tokens, several challenges in one header, and stray whitespace.
 */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  let i = 0;
  const n = header.length;
  const skipWs = (): void => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && !/[\s,=]/.test(header[i] as string)) i++;
    return header.slice(start, i);
  };
  let current: AuthChallenge | undefined;
  while (i < n) {
    skipWs();
    if (header[i] === ',') {
      i++;
      continue;
    }
    const token = readToken();
    if (!token) {
      i++;
      continue;
    }
    skipWs();
    if (header[i] === '=' && current) {
      i++;
      skipWs();
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++;
      } else {
        const start = i;
        while (i < n && header[i] !== ',' && header[i] !== ' ' && header[i] !== '\t') i++;
        value = header.slice(start, i);
      }
      current.params[token.toLowerCase()] = value;
    } else if (header[i] === '=' && !current) {
      // a parameter before any scheme: malformed, skip its value
      i++;
    } else {
      // a new scheme (possibly followed directly by params)
      current = { scheme: token.toLowerCase(), params: {} };
      challenges.push(current);
    }
  }
  return challenges;
}

/** A scope the registry grants: `repository:<name>:<actions>`. */
export interface AccessScope {
  repository: string;
  actions: string[];
}

export function formatScope(scope: AccessScope): string {
  return `repository:${scope.repository}:${[...scope.actions].sort().join(',')}`;
}

export function parseScope(text: string): { type: string; name: string; actions: string[] } | undefined {
  const first = text.indexOf(':');
  const last = text.lastIndexOf(':');
  if (first < 0 || last === first) return undefined;
  return {
    type: text.slice(0, first),
    name: text.slice(first + 1, last),
    actions: text
      .slice(last + 1)
      .split(',')
      .filter((a) => a.length > 0),
  };
}

const TokenResponseSchema = z.object({
  token: z.optional(z.string()),
  access_token: z.optional(z.string()),
  expires_in: z.optional(z.number()),
  issued_at: z.optional(z.string()),
});

interface CachedToken {
  service: string;
  /** scope string → granted actions (as requested; the registry has the last word) */
  scopes: Map<string, Set<string>>;
  header: string;
  expiresAt: number;
}

type RegistryScheme =
  | { kind: 'basic' }
  | { kind: 'token' }
  | { kind: 'bearer'; realm: string; service: string };

/** Minimum lifetime the token spec guarantees when `expires_in` is absent. */
const DEFAULT_TOKEN_SECONDS = 60;
/** A token response (or its error) larger than this is refused: tokens are a few KiB. */
const TOKEN_BODY_LIMIT = 1024 * 1024;

/**
 * Produces `Authorization` headers for registry requests. Learns each registry's scheme from its
 * first 401 challenge, then authorises later requests up front; bearer tokens are cached per
 * registry + scope set until shortly before they expire.
 */
export class RegistryAuthorizer {
  private readonly schemes = new Map<string, RegistryScheme>();
  private readonly tokens = new Map<string, CachedToken[]>();
  private readonly credentialCache = new Map<string, Promise<RegistryCredentials | undefined>>();
  private readonly inflight = new Map<string, Promise<string>>();

  /**
   * @param allowHttpRealm send credentials to a plain-http token realm on a non-loopback host
   *   (only with --allow-http-registry; loopback realms are always allowed)
   */
  constructor(
    private readonly http: HttpClient,
    private readonly credentials: CredentialResolver,
    private readonly allowHttpRealm = false,
    /** Overall deadline of one token request (shared by every caller waiting for that token). */
    private readonly tokenDeadlineMs = DEFAULT_OPERATION_DEADLINE_MS,
  ) {}

  private credentialsFor(registry: string): Promise<RegistryCredentials | undefined> {
    let p = this.credentialCache.get(registry);
    if (!p) {
      p = this.credentials.resolve(registry);
      this.credentialCache.set(registry, p);
      p.catch(() => this.credentialCache.delete(registry));
    }
    return p;
  }

  /** The header to send before any challenge, if this registry's scheme is already known. */
  async headerFor(
    registry: string,
    scopes: AccessScope[],
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    const scheme = this.schemes.get(registry);
    if (!scheme) return undefined;
    const header =
      scheme.kind === 'basic' || scheme.kind === 'token'
        ? this.basicHeader(registry)
        : this.bearerHeader(registry, scheme, scopes, []);
    return raceSignal(header, signal, `authenticating to ${registry}`);
  }

  /**
   * After a 401: learn from the challenge and return a header to retry with, or undefined when we
   * have nothing better to offer than what was already sent.
   */
  async onChallenge(
    registry: string,
    wwwAuthenticate: string | null,
    scopes: AccessScope[],
    sentHeader: string | undefined,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    return raceSignal(
      this.answerChallenge(registry, wwwAuthenticate, scopes, sentHeader),
      signal,
      `authenticating to ${registry}`,
    );
  }

  private async answerChallenge(
    registry: string,
    wwwAuthenticate: string | null,
    scopes: AccessScope[],
    sentHeader: string | undefined,
  ): Promise<string | undefined> {
    const challenges = wwwAuthenticate ? parseWwwAuthenticate(wwwAuthenticate) : [];
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    const creds = bearer || basic ? await this.credentialsFor(registry) : undefined;
    if (creds && 'registryToken' in creds) {
      // A registry token goes to the registry itself, whatever the challenge (no token server round trip).
      this.schemes.set(registry, { kind: 'token' });
      const header = `Bearer ${creds.registryToken}`;
      return header === sentHeader ? undefined : header;
    }
    if (bearer?.params.realm) {
      const scheme: RegistryScheme = {
        kind: 'bearer',
        realm: bearer.params.realm,
        service: bearer.params.service ?? '',
      };
      this.schemes.set(registry, scheme);
      const extra = bearer.params.scope ? bearer.params.scope.split(' ').filter((s) => s.length > 0) : [];
      if (sentHeader) this.dropToken(registry, sentHeader);
      const header = await this.bearerHeader(registry, scheme, scopes, extra, true);
      return header === sentHeader ? undefined : header;
    }
    if (basic) {
      this.schemes.set(registry, { kind: 'basic' });
      const header = await this.basicHeader(registry);
      return header === sentHeader ? undefined : header;
    }
    return undefined;
  }

  private async basicHeader(registry: string): Promise<string | undefined> {
    const creds = await this.credentialsFor(registry);
    if (creds && 'registryToken' in creds) return `Bearer ${creds.registryToken}`;
    if (!creds || !('username' in creds)) return undefined;
    return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
  }

  private dropToken(registry: string, header: string): void {
    const list = this.tokens.get(registry);
    if (list)
      this.tokens.set(
        registry,
        list.filter((t) => t.header !== header),
      );
  }

  private async bearerHeader(
    registry: string,
    scheme: { realm: string; service: string },
    scopes: AccessScope[],
    extraScopes: string[],
    fresh = false,
  ): Promise<string> {
    const wanted = new Map<string, Set<string>>();
    const add = (name: string, actions: string[]): void => {
      const set = wanted.get(name) ?? new Set<string>();
      for (const a of actions) set.add(a);
      wanted.set(name, set);
    };
    for (const s of scopes) add(`repository:${s.repository}`, s.actions);
    for (const text of extraScopes) {
      const p = parseScope(text);
      if (p) add(`${p.type}:${p.name}`, p.actions);
    }
    const now = Date.now();
    if (!fresh) {
      const cached = (this.tokens.get(registry) ?? []).find(
        (t) =>
          t.service === scheme.service &&
          t.expiresAt > now &&
          [...wanted].every(([res, actions]) => {
            const have = t.scopes.get(res);
            return have !== undefined && [...actions].every((a) => have.has(a));
          }),
      );
      if (cached) return cached.header;
    }
    const scopeStrings = [...wanted]
      .map(([res, actions]) => `${res}:${[...actions].sort().join(',')}`)
      .sort();
    const key = `${registry}|${scheme.realm}|${scheme.service}|${scopeStrings.join(' ')}`;
    const running = this.inflight.get(key);
    if (running) return running;
    const p = this.fetchToken(registry, scheme, scopeStrings).then((t) => {
      const list = (this.tokens.get(registry) ?? []).filter((x) => x.expiresAt > Date.now());
      list.push({ service: scheme.service, scopes: wanted, header: t.header, expiresAt: t.expiresAt });
      this.tokens.set(registry, list);
      return t.header;
    });
    this.inflight.set(key, p);
    try {
      return await p;
    } finally {
      this.inflight.delete(key);
    }
  }

  /** A token request, shared by every caller that waits for it: bounded by its own deadline, not theirs. */
  private async fetchToken(
    registry: string,
    scheme: { realm: string; service: string },
    scopes: string[],
  ): Promise<{ header: string; expiresAt: number }> {
    const budget = new OperationBudget(`token request for ${registry}`, this.tokenDeadlineMs, []);
    try {
      return await this.fetchTokenIn(registry, scheme, scopes, budget.signal);
    } finally {
      budget.dispose();
    }
  }

  private async fetchTokenIn(
    registry: string,
    scheme: { realm: string; service: string },
    scopes: string[],
    signal: AbortSignal,
  ): Promise<{ header: string; expiresAt: number }> {
    let realm: URL;
    try {
      realm = new URL(scheme.realm);
    } catch {
      throw new SealError(
        'E_UNAUTHORIZED',
        `registry ${registry} sent a bearer challenge with an invalid realm`,
      );
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
      throw new SealError('E_UNAUTHORIZED', `registry ${registry} sent a bearer realm that is not http(s)`);
    }
    const creds = await this.credentialsFor(registry);
    const loopbackRealm = ['localhost', '127.0.0.1', '[::1]'].includes(realm.hostname.toLowerCase());
    if (creds && realm.protocol === 'http:' && !loopbackRealm && !this.allowHttpRealm) {
      throw new SealError(
        'E_UNAUTHORIZED',
        `registry ${registry} asks for credentials to be sent over plain HTTP to ${realm.origin}; refusing (use --allow-http-registry to permit it)`,
      );
    }
    let res: Awaited<ReturnType<HttpClient['send']>>;
    if (creds && 'identityToken' in creds) {
      // OAuth2 refresh-token grant (token spec "oauth.md"), as docker does with an identity token.
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: creds.identityToken,
        service: scheme.service,
        client_id: 'seal',
      });
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      res = await this.http.send({
        method: 'POST',
        url: realm.toString(),
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new TextEncoder().encode(form.toString()),
        idempotent: true,
        signal,
      });
    } else {
      const url = new URL(realm);
      if (scheme.service) url.searchParams.set('service', scheme.service);
      for (const s of scopes) url.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (creds && 'username' in creds) {
        url.searchParams.set('account', creds.username);
        headers.Authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      }
      res = await this.http.send({ method: 'GET', url: url.toString(), headers, signal });
    }
    if (res.status === 401 || res.status === 403) {
      await res.discard();
      throw new SealError(
        'E_UNAUTHORIZED',
        creds
          ? `the token server for ${registry} refused the credentials (HTTP ${res.status}); check them (--registry-username/--registry-password, seal login, docker config.json)`
          : `the token server for ${registry} refused anonymous access (HTTP ${res.status}); give credentials (--registry-username/--registry-password, seal login, docker config.json)`,
      );
    }
    if (res.status !== 200) {
      const text = new TextDecoder()
        .decode(
          await res.bytes({
            max: TOKEN_BODY_LIMIT,
            onExceed: () =>
              new SealError('E_UNAUTHORIZED', `the token server for ${registry} sent an oversized error`),
          }),
        )
        .slice(0, 300);
      throw new SealError(
        'E_UNAUTHORIZED',
        `the token server for ${registry} answered HTTP ${res.status}: ${text}`,
      );
    }
    const body = await res.bytes({
      max: TOKEN_BODY_LIMIT,
      onExceed: () =>
        new SealError(
          'E_UNAUTHORIZED',
          `the token server for ${registry} sent a response over ${TOKEN_BODY_LIMIT} bytes`,
        ),
    });
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(body));
    } catch (err) {
      throw new SealError(
        'E_UNAUTHORIZED',
        `the token server for ${registry} answered with something other than JSON`,
        {
          cause: err,
        },
      );
    }
    const parsed = TokenResponseSchema.safeParse(json);
    const token = parsed.success ? (parsed.data.token ?? parsed.data.access_token) : undefined;
    if (!parsed.success || !token) {
      throw new SealError('E_UNAUTHORIZED', `the token server for ${registry} answered without a token`);
    }
    const issued = parsed.data.issued_at ? Date.parse(parsed.data.issued_at) : Number.NaN;
    const start = Number.isNaN(issued) ? Date.now() : Math.min(issued, Date.now());
    const lifetime = (parsed.data.expires_in ?? DEFAULT_TOKEN_SECONDS) * 1000;
    // renew a little early so a token does not expire between our check and the registry's
    const expiresAt = start + lifetime - Math.min(10_000, lifetime / 10);
    return { header: `Bearer ${token}`, expiresAt };
  }
}
