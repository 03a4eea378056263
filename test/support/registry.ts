// Test harness: a real CNCF distribution registry (`/usr/bin/docker-registry`, Debian package
// docker-registry, v2.8) on 127.0.0.1, without auth, with htpasswd basic auth, or with token auth; over
// plain HTTP, or over TLS (optionally requiring a client certificate).

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { stringify } from 'yaml';
import { startTokenServer, type TokenServer, type TokenServerOptions } from './token-server.js';

export const REGISTRY_BINARY = process.env.SEAL_REGISTRY_BINARY ?? '/usr/bin/docker-registry';

export interface StartRegistryOptions {
  auth?: 'none' | 'htpasswd' | 'token';
  /** htpasswd users (name → password). Default `{ alice: 'wonderland' }`. */
  users?: Record<string, string>;
  /** For auth 'token': options of the token server started for it (dir is filled in). */
  tokenServer?: Omit<TokenServerOptions, 'dir'>;
  /** `storage.delete.enabled` (default true); false makes DELETE answer 405 UNSUPPORTED, as many registries do. */
  deleteEnabled?: boolean;
  /**
   * Serve https with this certificate and key (PEM files); with `clientCAs`, only clients presenting a
   * certificate issued by one of them get through (distribution's http.tls.clientcas:
   * RequireAndVerifyClientCert).
   */
  tls?: { certificate: string; key: string; clientCAs?: string[] };
}

export interface RunningRegistry {
  /** `127.0.0.1:PORT` — what goes in a reference. */
  host: string;
  /** `http://127.0.0.1:PORT` (`https://` with tls) */
  url: string;
  /** Temporary directory holding the config, storage and auth files. */
  dir: string;
  users: Record<string, string>;
  tokenServer?: TokenServer;
  /** The registry's stderr so far (for diagnostics). */
  logs(): string;
  stop(): Promise<void>;
}

/** Why the registry cannot be run here, or undefined when it can. */
export function registryUnavailableReason(auth: StartRegistryOptions['auth'] = 'none'): string | undefined {
  if (!existsSync(REGISTRY_BINARY)) {
    return `${REGISTRY_BINARY} not found: install the CNCF distribution registry with "apt-get install -y docker-registry"`;
  }
  if (auth === 'htpasswd' && !hasHtpasswd()) {
    return 'htpasswd not found: install it with "apt-get install -y apache2-utils"';
  }
  return undefined;
}

function hasHtpasswd(): boolean {
  try {
    execFileSync('htpasswd', ['-h'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    // htpasswd -h exits non-zero but runs; ENOENT means it is missing
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/**
 * `describe` for tests that need the real registry. Outside CI a missing registry skips them with a
 * message; with CI=true it fails them.
 */
export function describeWithRegistry(
  name: string,
  fn: () => void,
  auth: StartRegistryOptions['auth'] = 'none',
): void {
  const reason = registryUnavailableReason(auth);
  if (!reason) {
    describe(name, fn);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs the real registry', () => {
        throw new Error(`CI=true and the registry cannot run: ${reason}`);
      });
    });
    return;
  }
  console.warn(`skipping "${name}": ${reason}`);
  describe.skip(name, fn);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Does something accept TCP connections on host:port? (A TLS registry asking for client certificates answers no plain probe.) */
function acceptsConnections(hostPort: string): Promise<boolean> {
  const colon = hostPort.lastIndexOf(':');
  return new Promise((resolve) => {
    const socket = connect({ host: hostPort.slice(0, colon), port: Number(hostPort.slice(colon + 1)) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitReady(
  url: string,
  child: ChildProcess,
  logs: () => string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`docker-registry exited with ${child.exitCode} before it was ready:\n${logs()}`);
    }
    if (url.startsWith('https:')) {
      if (await acceptsConnections(new URL(url).host)) return;
      lastError = 'not accepting connections';
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) return;
      lastError = `HTTP ${res.status}`;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`docker-registry at ${url} not ready after ${timeoutMs} ms (${lastError}):\n${logs()}`);
}

/** Start a registry on a free loopback port; retries once if the port was taken in between. */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<RunningRegistry> {
  const reason = registryUnavailableReason(options.auth);
  if (reason) throw new Error(reason);
  try {
    return await startOnce(options);
  } catch (err) {
    if (/address already in use/i.test((err as Error).message)) return startOnce(options);
    throw err;
  }
}

async function startOnce(options: StartRegistryOptions): Promise<RunningRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'seal-registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const url = `${options.tls ? 'https' : 'http'}://${host}`;
  const users = options.users ?? { alice: 'wonderland' };
  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true }, formatter: 'text' },
    storage: {
      filesystem: { rootdirectory: join(dir, 'data') },
      delete: { enabled: options.deleteEnabled ?? true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: {
      addr: host,
      secret: randomBytes(16).toString('hex'),
      headers: { 'X-Content-Type-Options': ['nosniff'] },
      ...(options.tls
        ? {
            tls: {
              certificate: options.tls.certificate,
              key: options.tls.key,
              ...(options.tls.clientCAs ? { clientcas: options.tls.clientCAs } : {}),
            },
          }
        : {}),
    },
  };
  let tokenServer: TokenServer | undefined;
  if (options.auth === 'htpasswd') {
    const lines = Object.entries(users).map(([name, password]) =>
      execFileSync('htpasswd', ['-Bbn', name, password], { encoding: 'utf8' }).trim(),
    );
    const path = join(dir, 'htpasswd');
    await writeFile(path, `${lines.join('\n')}\n`);
    config.auth = { htpasswd: { realm: 'seal-test', path } };
  } else if (options.auth === 'token') {
    tokenServer = await startTokenServer({ users: {}, ...options.tokenServer, dir });
    config.auth = {
      token: {
        realm: tokenServer.realm,
        service: tokenServer.service,
        issuer: tokenServer.issuer,
        rootcertbundle: tokenServer.rootCertBundle,
      },
    };
  }
  const configPath = join(dir, 'config.yml');
  await writeFile(configPath, stringify(config));

  const child = spawn(REGISTRY_BINARY, ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (d: Buffer): void => {
    output += d.toString('utf8');
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const logs = (): string => output;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await tokenServer?.stop();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await waitReady(url, child, logs);
  } catch (err) {
    await stop();
    throw err;
  }
  const running: RunningRegistry = { host, url, dir, users, logs, stop };
  if (tokenServer) running.tokenServer = tokenServer;
  return running;
}

/** The generated config (for reports and debugging). */
export async function registryConfig(reg: RunningRegistry): Promise<string> {
  return readFile(join(reg.dir, 'config.yml'), 'utf8');
}
