// policy-controller TrustRoot `remote` (a TUF mirror URL and its initial root) and `repository` (a
// serialized mirror: a gzipped tar, base64, with the initial root): the trusted_root.json target read
// through TUF (spec 1.0 §5, the client workflow of @sigstore/tuf), as policy-controller's reconciler does.
// Fetched before the policies load (loading itself is synchronous), bounded in time and bytes, and cached.

import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { SealError } from '../../errors.js';
import { fetchTufTarget } from '../../verify/tuf-init.js';

/** A serialized mirror is at most this big (decoded, compressed) and this big unpacked, in this many files. */
export const MAX_MIRROR_FS_BYTES = 16 * 1024 * 1024;
export const MAX_MIRROR_FS_UNPACKED = 64 * 1024 * 1024;
export const MAX_MIRROR_FS_FILES = 4096;
/** How long one remote TrustRoot fetch may take, and how long its result is reused before asking again. */
export const REMOTE_TIMEOUT_MS = 20_000;
export const REMOTE_REUSE_MS = 5 * 60_000;
/** policy-controller's DefaultTUFRepoPrefix: the prefix stripped from a serialized mirror's paths. */
const REPO_PREFIX = '/repository/';

/** What a TrustRoot's `remote` or `repository` names, decoded and checked (no I/O). */
export interface TufSource {
  kind: 'remote' | 'repository';
  /** sha256 over what the source is: the key its fetched trusted root is kept under. */
  key: string;
  rootJson: Buffer;
  targets: string;
  trustedRootTarget: string;
  mirror?: string;
  mirrorFS?: Buffer;
}

const refuse = (where: string, why: string): never => {
  throw new SealError('E_POLICY_INVALID', `${where}: ${why}`);
};

/** A Kubernetes `[]byte` field (base64); the JSON itself is read too, as the examples sometimes write it. */
function rootField(value: string, where: string): Buffer {
  const text = value.trim();
  const bytes = text.startsWith('{')
    ? Buffer.from(text)
    : /^[A-Za-z0-9+/=\s]+$/.test(text)
      ? Buffer.from(text.replace(/\s+/g, ''), 'base64')
      : refuse(where, 'is neither base64 nor JSON');
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return refuse(where, 'is not a TUF root.json (not JSON)');
  }
  const signed = (json as { signed?: { _type?: unknown } } | null)?.signed;
  if (signed?._type !== 'root') refuse(where, 'is not a TUF root.json (no signed._type "root")');
  return bytes;
}

/** A path segment below the repository (`targets`): no traversal, no absolute path. */
function targetsField(value: string | undefined, where: string): string {
  if (value === undefined || value === '') return 'targets';
  const clean = posix.normalize(value).replace(/^\/+|\/+$/g, '');
  if (clean === '' || clean.startsWith('..') || clean.includes('/../') || !/^[\w./-]+$/.test(clean))
    refuse(where, `"${value}" is not a directory inside the repository`);
  return clean;
}

function targetNameField(value: string | undefined, where: string): string {
  if (value === undefined || value === '') return 'trusted_root.json';
  if (!/^[\w.-]+(\/[\w.-]+)*$/.test(value) || value.split('/').includes('..'))
    refuse(where, `"${value}" is not a TUF target name`);
  return value;
}

/** Decode and check a TrustRoot `remote` / `repository` (E_POLICY_INVALID naming the field). */
export function tufSourceOf(
  spec: {
    remote?: {
      mirror: string;
      root: string;
      targets?: string | undefined;
      trustedRootTarget?: string | undefined;
    };
    repository?: {
      mirrorFS: string;
      root: string;
      targets?: string | undefined;
      trustedRootTarget?: string | undefined;
    };
  },
  where: string,
): TufSource | undefined {
  const hash = (parts: (string | Buffer)[]) => {
    const h = createHash('sha256');
    for (const p of parts) h.update(createHash('sha256').update(p).digest());
    return h.digest('hex');
  };
  if (spec.remote) {
    const w = `${where}.remote`;
    let url: URL;
    try {
      url = new URL(spec.remote.mirror);
    } catch {
      return refuse(`${w}.mirror`, `"${spec.remote.mirror}" is not a URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      refuse(`${w}.mirror`, `"${spec.remote.mirror}" is not an http(s) URL`);
    if (url.search || url.hash || url.username || url.password)
      refuse(`${w}.mirror`, 'a mirror URL has no query, fragment or credentials');
    const targets = targetsField(spec.remote.targets, `${w}.targets`);
    // @sigstore/tuf reads targets from <mirror>/targets, the layout every Sigstore mirror has.
    if (targets !== 'targets')
      refuse(`${w}.targets`, `seal reads a remote mirror's targets from <mirror>/targets, not "${targets}"`);
    const mirror = url.toString().replace(/\/+$/, '');
    const rootJson = rootField(spec.remote.root, `${w}.root`);
    const trustedRootTarget = targetNameField(spec.remote.trustedRootTarget, `${w}.trustedRootTarget`);
    return {
      kind: 'remote',
      key: hash(['remote', mirror, rootJson, targets, trustedRootTarget]),
      mirror,
      rootJson,
      targets,
      trustedRootTarget,
    };
  }
  if (spec.repository) {
    const w = `${where}.repository`;
    const text = spec.repository.mirrorFS.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text === '') refuse(`${w}.mirrorFS`, 'is not base64');
    if ((text.length / 4) * 3 > MAX_MIRROR_FS_BYTES + 3)
      refuse(`${w}.mirrorFS`, `is over ${MAX_MIRROR_FS_BYTES} bytes`);
    const mirrorFS = Buffer.from(text, 'base64');
    const rootJson = rootField(spec.repository.root, `${w}.root`);
    const targets = targetsField(spec.repository.targets, `${w}.targets`);
    const trustedRootTarget = targetNameField(spec.repository.trustedRootTarget, `${w}.trustedRootTarget`);
    return {
      kind: 'repository',
      key: hash(['repository', mirrorFS, rootJson, targets, trustedRootTarget]),
      mirrorFS,
      rootJson,
      targets,
      trustedRootTarget,
    };
  }
  return undefined;
}

/** The files of a serialized mirror (gzipped tar), policy-controller's `/repository/` prefix stripped. */
export async function unpackMirrorFS(bytes: Buffer, where: string): Promise<Map<string, Buffer>> {
  let tar: Buffer;
  try {
    tar = gunzipSync(bytes, { maxOutputLength: MAX_MIRROR_FS_UNPACKED });
  } catch (err) {
    const big = (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
    return refuse(
      `${where}.mirrorFS`,
      big ? `unpacks to over ${MAX_MIRROR_FS_UNPACKED} bytes` : `is not gzip: ${(err as Error).message}`,
    );
  }
  const files = new Map<string, Buffer>();
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => {
        chunks.push(c as Buffer);
      });
      stream.on('end', () => {
        if (header.type === 'file') {
          if (files.size >= MAX_MIRROR_FS_FILES) {
            reject(
              new SealError('E_POLICY_INVALID', `${where}.mirrorFS: holds over ${MAX_MIRROR_FS_FILES} files`),
            );
            return;
          }
          // As policy-controller: paths are made relative to "/", the prefix and the leading "/" dropped.
          const abs = posix.normalize(`/${header.name}`);
          let rel = abs.startsWith(REPO_PREFIX) ? abs.slice(REPO_PREFIX.length) : abs;
          rel = rel.replace(/^\/+/, '');
          files.set(rel, Buffer.concat(chunks));
        }
        next();
      });
      stream.on('error', reject);
    });
    ex.on('finish', resolve);
    ex.on('error', (err: Error) =>
      reject(new SealError('E_POLICY_INVALID', `${where}.mirrorFS: is not a tar archive: ${err.message}`)),
    );
  });
  ex.end(tar);
  await done;
  return files;
}

/**
 * Serve a serialized mirror's files on loopback for the TUF client while `use` runs (the client reads over
 * HTTP only); `/targets/*` is read from the repository's targets directory.
 */
async function serveFiles<T>(
  files: Map<string, Buffer>,
  targets: string,
  use: (url: string) => Promise<T>,
): Promise<T> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!).replace(/^\/+/, '');
    const file = path.startsWith('targets/') ? `${targets}/${path.slice('targets/'.length)}` : path;
    const body = req.method === 'GET' ? files.get(file) : undefined;
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await use(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Where remote TrustRoots' TUF metadata is kept between loads ($TUF_ROOT as `seal initialize`). */
export function trustRootCacheDir(env: NodeJS.ProcessEnv | undefined): string {
  const base = env?.TUF_ROOT ?? join(env?.HOME ?? homedir(), '.sigstore', 'seal');
  return join(base, 'trustroots');
}

const fetched = new Map<string, { at: number; root: Promise<unknown> }>();

/**
 * The trusted_root.json a TUF source names, parsed as JSON (checked by the TrustRoot loader). A remote is
 * asked again after REMOTE_REUSE_MS (a failed fetch at once); a serialized mirror's answer never changes.
 */
export function fetchTufTrustedRoot(
  source: TufSource,
  where: string,
  opts: { env?: NodeJS.ProcessEnv; now?: number } = {},
): Promise<unknown> {
  const now = opts.now ?? Date.now();
  const hit = fetched.get(source.key);
  if (hit && (source.kind === 'repository' || now - hit.at < REMOTE_REUSE_MS)) return hit.root;
  const root = fetchUncached(source, where, opts.env);
  if (fetched.size >= 64) fetched.delete(fetched.keys().next().value!);
  fetched.set(source.key, { at: now, root });
  root.catch(() => {
    if (fetched.get(source.key)?.root === root) fetched.delete(source.key);
  });
  return root;
}

async function fetchUncached(source: TufSource, where: string, env: NodeJS.ProcessEnv | undefined) {
  const scratch = await mkdtemp(join(tmpdir(), 'seal-trustroot-'));
  try {
    const rootPath = join(scratch, 'root.json');
    await writeFile(rootPath, source.rootJson);
    const w = `${where}.${source.kind}`;
    const get = (mirror: string, cacheDir: string) =>
      fetchTufTarget({
        mirror,
        rootPath,
        cacheDir,
        target: source.trustedRootTarget,
        timeoutMs: REMOTE_TIMEOUT_MS,
        // A remote's metadata is kept (a root rotation is remembered); a serialized mirror is read afresh.
        keepCache: source.kind === 'remote',
      });
    let text: string;
    try {
      text =
        source.kind === 'remote'
          ? await get(source.mirror!, join(trustRootCacheDir(env), source.key))
          : await serveFiles(await unpackMirrorFS(source.mirrorFS!, w), source.targets, (url) =>
              get(url, join(scratch, 'tuf')),
            );
    } catch (err) {
      if (err instanceof SealError && err.code === 'E_POLICY_INVALID') throw err;
      throw new SealError(
        'E_POLICY_INVALID',
        `${w}: the trusted root could not be read through TUF${source.mirror ? ` from ${source.mirror}` : ''}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return refuse(`${w}.trustedRootTarget`, `target ${source.trustedRootTarget} is not JSON`);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
