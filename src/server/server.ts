// `seal serve`: the embedded Sigstore stack in one process and one port: Rekor v1 API (SQLite), a Rekor v2 log
// beside it (its own tree and key, under /api/v2), a CT log, the Fulcio v2 CA and the dev OIDC issuer, state in one
// directory (issue #5 §3; sigstore-servers.md §1, §2, §4, §5).

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import * as z from 'zod';
import { registerFulcioApi } from '../ca/api.js';
import { registerCtApi } from '../ca/ct-api.js';
import { CertificateAuthority } from '../ca/ca.js';
import { CtLog } from '../ca/ctlog.js';
import type { IssuerConfig } from '../ca/issuer-types.js';
import { loadOrCreateEcKey } from '../ca/keyfile.js';
import { OidcVerifier } from '../ca/oidc.js';
import { SealError } from '../errors.js';
import type { Signer } from '../keys/types.js';
import { applyHttpLimits, fastifyHttpOptions, type HttpLimits, httpLimits } from '../http/limits.js';
import { DevIssuer, isLoopbackHost } from '../oidc/dev-issuer.js';
import { registerRekorApi } from '../tlog/api.js';
import { rekorV2ApiPlugin } from '../tlog/api-v2.js';
import { openLog, type TransparencyLog } from '../tlog/log.js';
import {
  buildSigningConfig,
  type ServiceInput,
  type SigningConfigDocument,
} from '../formats/signingconfig.js';
import { buildTrustedRoot, type KeyDetails, type TrustedRoot } from '../formats/trustedroot.js';
import { x509 } from '../ca/x509.js';
import { registerTimestampApi } from '../tsa/api.js';
import { loadOrCreateTsaFiles, TimestampAuthority } from '../tsa/authority.js';

export interface ServerOptions {
  dataDir: string;
  /** 0 = any free port. */
  port: number;
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** URL clients use to reach the server when it differs from http://host:port (e.g. behind a proxy). */
  publicUrl?: string;
  /** Run the dev OIDC issuer at <url>/oidc (default true). */
  devIssuer?: boolean;
  /** Allow the dev issuer on a non-loopback address (it vouches for any identity asked of it). */
  allowRemoteDevIssuer?: boolean;
  /** More OIDC issuers the CA accepts (Fulcio-style issuer configs). */
  issuers?: IssuerConfig[];
  /** Leaf certificate validity in seconds (default 600). */
  certValiditySec?: number;
  /** The CA's issuing key (e.g. in a PKCS#11 token) instead of <data>/ca/intermediate.key.pem. */
  caSigner?: Signer;
  /** The TSA's key (e.g. in a PKCS#11 token) and its chain (DER, leaf first) instead of <data>/tsa. */
  tsaKey?: { signer: Signer; chain: Uint8Array[] };
  /** Fastify/pino logging to stderr (default off). */
  logLevel?: string;
  /** Request/headers/idle timeouts and the connection cap (DEFAULT_HTTP_LIMITS for what is not given). */
  limits?: Partial<HttpLimits>;
}

export interface RunningServer {
  url: string;
  /** The dev issuer's URL (`iss` of its tokens), when it runs; `<issuerUrl>/github` is its GitHub Actions twin. */
  issuerUrl?: string;
  trustedRootPath: string;
  signingConfigPath: string;
  /** The TUF repository's URL (`seal initialize --mirror`) and its initial root (`--root`). */
  tufUrl: string;
  tufRootPath: string;
  ca: CertificateAuthority;
  rekor: TransparencyLog;
  /** The Rekor v2 log (origin: the host of the URL), served under /api/v2. */
  rekorV2: TransparencyLog;
  ctlog: CtLog;
  /** The RFC 3161 timestamp authority at <url>/api/v1/timestamp. */
  tsa: TimestampAuthority;
  devIssuer?: DevIssuer;
  githubIssuer?: DevIssuer;
  app: FastifyInstance;
  close(): Promise<void>;
}

const StateFile = z.object({ createdAt: z.string() });

/** First-start facts that must survive restarts (validity starts in the trusted root). */
async function loadState(dataDir: string): Promise<z.infer<typeof StateFile>> {
  const path = join(dataDir, 'seal-serve.json');
  try {
    const parsed = StateFile.safeParse(JSON.parse(await readFile(path, 'utf8')));
    if (parsed.success) return parsed.data;
    throw new SealError('E_IO', `${path} is malformed; restore it or remove it to start a new trust epoch`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  // Whole seconds: log integrated times are seconds and must not precede the validity start.
  const state = { createdAt: new Date(Math.floor(Date.now() / 1000) * 1000).toISOString() };
  await writeFile(path, `${JSON.stringify(state, null, 2)}\n`);
  return state;
}

async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(tmp, path);
}

function urlFor(host: string, port: number): string {
  const h =
    host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  const runDevIssuer = opts.devIssuer ?? true;
  if (runDevIssuer && !isLoopbackHost(host) && !opts.allowRemoteDevIssuer) {
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `refusing to run the dev OIDC issuer on ${host}: it signs a token for any identity anyone asks for. ` +
        'Listen on 127.0.0.1, pass --dev-issuer=false, or accept the risk with --allow-remote-dev-issuer',
    );
  }
  const dataDir = opts.dataDir;
  await mkdir(join(dataDir, 'ca'), { recursive: true, mode: 0o700 });
  await mkdir(join(dataDir, 'ctlog'), { recursive: true, mode: 0o700 });
  await mkdir(join(dataDir, 'rekor'), { recursive: true, mode: 0o700 });
  await mkdir(join(dataDir, 'oidc'), { recursive: true, mode: 0o700 });
  await mkdir(join(dataDir, 'tsa'), { recursive: true, mode: 0o700 });
  const state = await loadState(dataDir);

  // Keys first (both CT components read the same PEM), then the logs.
  const ctKeyFile = join(dataDir, 'ctlog', 'ctlog.key.pem');
  const ctKey = await loadOrCreateEcKey(ctKeyFile, 'P-256');
  let publicUrl = opts.publicUrl?.replace(/\/+$/, '');
  // The checkpoint key name must be a substring of the log's baseUrl (sigstore-servers.md §0.3); with a
  // port chosen at listen time, the hostname alone is known now.
  const originHost = publicUrl ? new URL(publicUrl).hostname : new URL(urlFor(host, 1)).hostname;
  const rekor = await openLog({
    db: `sqlite:${join(dataDir, 'rekor', 'rekor.db')}`,
    keyFile: join(dataDir, 'rekor', 'rekor.key.pem'),
    origin: originHost.replace(/^\[|\]$/g, ''),
  });
  let ctLeaves: TransparencyLog | undefined;
  const closers: (() => Promise<void>)[] = [() => rekor.close()];
  try {
    // Rekor v2 is a separate log instance: own database, Ed25519 key, the bare host as origin (sigstore-go
    // requires origin == the host of the trusted root's baseUrl, sigstore-servers.md §0.1).
    const rekorV2 = await openLog({
      db: `sqlite:${join(dataDir, 'rekor', 'rekor-v2.db')}`,
      keyFile: join(dataDir, 'rekor', 'rekor-v2.key.pem'),
      origin: originHost.replace(/^\[|\]$/g, ''),
      apiVersion: 2,
    });
    closers.push(() => rekorV2.close());
    ctLeaves = await openLog({
      db: `sqlite:${join(dataDir, 'ctlog', 'ctlog.db')}`,
      keyFile: ctKeyFile,
      origin: originHost.replace(/^\[|\]$/g, ''),
    });
    const ctLeavesLog = ctLeaves;
    closers.push(() => ctLeavesLog.close());
    const ctlog = new CtLog(ctKey, ctLeaves);

    const verifier = new OidcVerifier({ issuers: opts.issuers ?? [] });
    const ca = await CertificateAuthority.open({
      dir: join(dataDir, 'ca'),
      verifier,
      ctlog,
      validitySec: opts.certValiditySec,
      ...(opts.caSigner ? { intermediateSigner: opts.caSigner } : {}),
    });

    const tsa = opts.tsaKey
      ? new TimestampAuthority(opts.tsaKey)
      : await loadOrCreateTsaFiles(join(dataDir, 'tsa'));

    const limits = httpLimits(opts.limits);
    const app = Fastify({
      logger: opts.logLevel ? { level: opts.logLevel, stream: process.stderr } : false,
      bodyLimit: 4 * 1024 * 1024,
      ...fastifyHttpOptions(limits),
    });
    applyHttpLimits(app.server, limits);
    closers.unshift(() => app.close());
    let issuerUrl: string | undefined;
    const devIssuer = runDevIssuer
      ? await DevIssuer.open(join(dataDir, 'oidc'), () => {
          if (!issuerUrl) throw new SealError('E_INTERNAL', 'dev issuer used before the server listened');
          return issuerUrl;
        })
      : undefined;
    devIssuer?.register(app, '/oidc');
    // A second dev issuer shaped like GitHub Actions, so workflow identities and the .1.2–.1.22 claims can be
    // exercised offline; the CA treats it as a github-workflow issuer.
    const githubIssuer = runDevIssuer
      ? await DevIssuer.open(
          join(dataDir, 'oidc'),
          () => {
            if (!issuerUrl) throw new SealError('E_INTERNAL', 'dev issuer used before the server listened');
            return `${issuerUrl}/github`;
          },
          { flavor: 'github-workflow' },
        )
      : undefined;
    githubIssuer?.register(app, '/oidc/github');
    // And one shaped like a GitLab instance's id_tokens (ci_config_ref_uri identities, GitLab's claims).
    const gitlabIssuer = runDevIssuer
      ? await DevIssuer.open(
          join(dataDir, 'oidc'),
          () => {
            if (!issuerUrl) throw new SealError('E_INTERNAL', 'dev issuer used before the server listened');
            return `${issuerUrl}/gitlab`;
          },
          { flavor: 'gitlab-pipeline' },
        )
      : undefined;
    gitlabIssuer?.register(app, '/oidc/gitlab');
    registerFulcioApi(app, ca);
    registerCtApi(app, ctlog, ctLeavesLog, [new Uint8Array(ca.hierarchy.root.rawData)]);
    await registerRekorApi(app, rekor, { publicUrl });
    await registerTimestampApi(app, tsa);
    await app.register(rekorV2ApiPlugin(rekorV2));
    app.get('/healthz', async () => ({ status: 'ok' }));
    let trustedRoot: TrustedRoot | undefined;
    let signingConfig: SigningConfigDocument | undefined;
    app.get('/trusted_root.json', async () => trustedRoot);
    app.get('/signing_config.json', async () => signingConfig);
    // The TUF repository publishing both (src/server/tuf.ts), for `seal initialize --mirror URL/tuf`.
    let tufFiles = new Map<string, Buffer>();
    app.get('/tuf/*', async (request, reply) => {
      const path = (request.params as { '*': string })['*'];
      const body = tufFiles.get(path);
      if (!body) return reply.code(404).send({ error: 'not found' });
      return reply.type(path.endsWith('.json') ? 'application/json' : 'application/octet-stream').send(body);
    });

    let address: string;
    try {
      address = await app.listen({ port: opts.port, host });
    } catch (err) {
      // EADDRINUSE and the like: a message naming the address, not a stack trace
      throw new SealError('E_IO', `cannot listen on ${host}:${opts.port}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const port = Number(new URL(address).port);
    publicUrl ??= urlFor(host, port);
    const url = publicUrl;
    if (devIssuer) {
      issuerUrl = `${url}/oidc`;
      // The CA trusts the dev issuer with its keys in hand: no HTTP round trip to itself.
      verifier.addIssuer({ issuerUrl, type: 'email', jwks: await devIssuer.jwks() });
      if (githubIssuer) {
        verifier.addIssuer({
          issuerUrl: `${issuerUrl}/github`,
          type: 'github-workflow',
          jwks: await githubIssuer.jwks(),
        });
      }
      if (gitlabIssuer) {
        verifier.addIssuer({
          issuerUrl: `${issuerUrl}/gitlab`,
          type: 'gitlab-pipeline',
          jwks: await gitlabIssuer.jwks(),
        });
      }
    }

    const validFrom = new Date(state.createdAt);
    const derOf = (pem: string) => new Uint8Array(new x509.X509Certificate(pem).rawData);
    trustedRoot = buildTrustedRoot({
      certificateAuthorities: [
        {
          uri: url,
          certificates: ca.chainPem.map(derOf),
          organization: 'seal',
          commonName: 'seal',
          validFrom: ca.hierarchy.root.notBefore,
          operator: 'seal',
        },
      ],
      // v1-style logs: logId = SHA-256(SPKI), no checkpointKeyId (sigstore-servers.md §0.4); the v2 log is
      // found by its checkpoint key ID, which is its logId too
      tlogs: [
        {
          baseUrl: url,
          publicKeyDer: rekor.signer.spki,
          keyDetails: rekor.signer.keyDetails as KeyDetails,
          validFrom,
          operator: 'seal',
        },
        {
          baseUrl: url,
          publicKeyDer: rekorV2.signer.spki,
          keyDetails: rekorV2.signer.keyDetails as KeyDetails,
          logId: rekorV2.checkpointKeyId,
          checkpointKeyId: rekorV2.checkpointKeyId,
          validFrom,
          operator: 'seal',
        },
      ],
      ctlogs: [
        {
          baseUrl: `${url}/ct`,
          publicKeyDer: ctKey.spki,
          keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          validFrom,
          operator: 'seal',
        },
      ],
      timestampAuthorities: [
        {
          uri: `${url}/api/v1/timestamp`,
          certificates: tsa.chain,
          organization: 'seal',
          commonName: 'seal-tsa',
          validFrom: tsa.validFrom(),
          operator: 'seal',
        },
      ],
    });
    // Fulcio is listed as API v1 although its path is /api/v2 (as sigstore-go's example config).
    const svc = (u: string) => [{ url: u, majorApiVersion: 1, validFrom, operator: 'seal' }];
    // a full URL, as TSA URLs in a signing config are (sigstore-servers.md §5)
    const tsaUrls: ServiceInput[] = svc(`${url}/api/v1/timestamp`);
    // Both logs are offered. A v2 entry has no signed time, so v2 is listed first (sigstore-js takes the first of
    // equal starts; cosign v3 and seal take the highest version) only when a TSA is offered with it.
    const v1Log = { url, majorApiVersion: 1, validFrom, operator: 'seal' };
    const v2Log = { url, majorApiVersion: 2, validFrom, operator: 'seal' };
    signingConfig = buildSigningConfig({
      caUrls: svc(url),
      oidcUrls: issuerUrl ? svc(issuerUrl) : [],
      rekorTlogUrls: tsaUrls.length > 0 ? [v2Log, v1Log] : [v1Log, v2Log],
      rekorTlogSelector: 'ANY',
      tsaUrls,
      tsaSelector: 'ANY',
    });
    const trustedRootPath = join(dataDir, 'trusted_root.json');
    const signingConfigPath = join(dataDir, 'signing_config.json');
    await writeJsonAtomic(trustedRootPath, trustedRoot);
    await writeJsonAtomic(signingConfigPath, signingConfig);
    await mkdir(join(dataDir, 'tuf'), { recursive: true, mode: 0o700 });
    tufFiles = await (await import('./tuf.js')).buildTufRepository(join(dataDir, 'tuf'), {
      'trusted_root.json': await readFile(trustedRootPath),
      'signing_config.v0.2.json': await readFile(signingConfigPath),
    });
    let closed = false;
    return {
      url,
      issuerUrl,
      trustedRootPath,
      signingConfigPath,
      tufUrl: `${url}/tuf`,
      tufRootPath: join(dataDir, 'tuf', 'root.json'),
      ca,
      rekor,
      rekorV2,
      ctlog,
      tsa,
      devIssuer,
      githubIssuer,
      app,
      async close() {
        if (closed) return;
        closed = true;
        for (const close of closers) await close();
      },
    };
  } catch (err) {
    for (const close of closers) await close().catch(() => undefined);
    throw err;
  }
}
