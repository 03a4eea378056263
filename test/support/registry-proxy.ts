// A real HTTP proxy on 127.0.0.1 in front of a test registry: it can lie (alter bodies of chosen
// digests), inject failures, refuse mounts, and act as an OCI 1.1 referrers-API front (distribution-spec v1.1).

import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Digest } from '../../src/oci/digest.js';
import { type Descriptor, MediaTypes, parseManifest } from '../../src/oci/manifest.js';
import { normalizeReferrers, referrerDescriptor } from '../../src/oci/referrers.js';

export interface ProxyOptions {
  /** `127.0.0.1:PORT` of the registry behind. */
  upstream: string;
  /** Serve `GET /v2/<name>/referrers/<digest>` and answer manifest PUTs with `OCI-Subject`. */
  referrersApi?: boolean;
}

export interface ProxyRequestRecord {
  method: string;
  path: string;
  status: number;
}

export interface RegistryProxy {
  host: string;
  /** Every request answered, in order. */
  requests: ProxyRequestRecord[];
  /** Alter the bodies of that blob/manifest (by digest, and manifests served by tag with that digest). */
  corrupt(digest: Digest | string): void;
  /** Answer the next requests matching `pattern` with these statuses (then forward again). */
  failNext(pattern: RegExp, responses: Array<{ status: number; headers?: Record<string, string> }>): void;
  /** Strip `mount`/`from` from upload POSTs so the registry opens a plain upload (202). */
  refuseMounts: boolean;
  /**
   * Paginate `GET /v2/<name>/tags/list` at most this many per page with `n`/`last` and a `Link` header
   * (distribution-spec "Listing Tags"), as newer registries do; distribution v2.8 always sends all.
   */
  tagPageSize: number | undefined;
  stop(): Promise<void>;
}

interface Upstream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of req) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

export async function startRegistryProxy(options: ProxyOptions): Promise<RegistryProxy> {
  const [upHost, upPort] = options.upstream.split(':') as [string, string];
  const corrupted = new Set<string>();
  const failures: Array<{ pattern: RegExp; status: number; headers?: Record<string, string> }> = [];
  const requests: ProxyRequestRecord[] = [];
  /** repository|subject digest → referrer descriptors seen in manifest PUTs */
  const seenReferrers = new Map<string, Map<string, Descriptor>>();

  const forward = (
    method: string,
    path: string,
    headers: IncomingMessage['headers'],
    body: Buffer | undefined,
  ): Promise<Upstream> =>
    new Promise((resolve, reject) => {
      const h = { ...headers };
      if (body !== undefined) h['content-length'] = String(body.byteLength);
      const req = request({ host: upHost, port: Number(upPort), method, path, headers: h }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(parts) }),
        );
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });

  const upstreamManifest = async (
    name: string,
    reference: string,
    headers: IncomingMessage['headers'],
  ): Promise<Upstream> =>
    forward(
      'GET',
      `/v2/${name}/manifests/${reference}`,
      {
        host: headers.host,
        accept: [
          MediaTypes.ociIndex,
          MediaTypes.ociManifest,
          MediaTypes.dockerManifest,
          MediaTypes.dockerManifestList,
        ].join(', '),
        ...(headers.authorization ? { authorization: headers.authorization } : {}),
      },
      undefined,
    );

  const serveReferrers = async (
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
    subject: string,
    artifactType: string | null,
  ): Promise<number> => {
    // Authorise the way the registry would: the caller must be able to read the repository.
    const probe = await forward(
      'GET',
      `/v2/${name}/tags/list`,
      {
        host: req.headers.host,
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      },
      undefined,
    );
    if (probe.status === 401 || probe.status === 403) {
      res.writeHead(probe.status, probe.headers).end(probe.body);
      return probe.status;
    }
    const listed: Descriptor[] = [...(seenReferrers.get(`${name}|${subject}`)?.values() ?? [])];
    const fallback = await upstreamManifest(name, subject.replace(':', '-'), req.headers);
    if (fallback.status === 200) {
      const index = parseManifest(new Uint8Array(fallback.body));
      if ('manifests' in index) {
        for (const entry of index.manifests) {
          if (entry.annotations) {
            listed.push(entry);
            continue;
          }
          const m = await upstreamManifest(name, entry.digest, req.headers);
          if (m.status !== 200) {
            listed.push(entry);
            continue;
          }
          const bytes = new Uint8Array(m.body);
          const manifest = parseManifest(bytes);
          listed.push(referrerDescriptor(Digest.of(bytes), bytes.byteLength, entry.mediaType, manifest));
        }
      }
    }
    const headers: Record<string, string> = { 'Content-Type': MediaTypes.ociIndex };
    if (artifactType) headers['OCI-Filters-Applied'] = 'artifactType';
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociIndex,
      manifests: normalizeReferrers(listed, artifactType ? { artifactType } : {}),
    });
    res.writeHead(200, headers).end(body);
    return 200;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<number> => {
    const method = req.method ?? 'GET';
    let path = req.url ?? '/';
    const url = new URL(path, 'http://proxy');
    const failure = failures.findIndex((f) => f.pattern.test(`${method} ${url.pathname}`));
    if (failure >= 0) {
      const [f] = failures.splice(failure, 1);
      await readAll(req);
      res.writeHead(f!.status, f!.headers ?? {}).end();
      return f!.status;
    }
    const referrers = /^\/v2\/(.+)\/referrers\/([^/]+)$/.exec(url.pathname);
    if (referrers && options.referrersApi && method === 'GET') {
      return serveReferrers(req, res, referrers[1]!, referrers[2]!, url.searchParams.get('artifactType'));
    }
    if (proxy.refuseMounts && method === 'POST' && url.searchParams.has('mount')) {
      url.searchParams.delete('mount');
      url.searchParams.delete('from');
      path = `${url.pathname}${url.search}`;
    }
    const tagsList = /^\/v2\/(.+)\/tags\/list$/.exec(url.pathname);
    if (tagsList && method === 'GET' && proxy.tagPageSize !== undefined) {
      const up = await forward('GET', url.pathname, req.headers, undefined);
      if (up.status !== 200) {
        res.writeHead(up.status, up.headers).end(up.body);
        return up.status;
      }
      const all = ((JSON.parse(up.body.toString('utf8')) as { tags?: string[] | null }).tags ?? []).sort();
      const n = Math.min(Number(url.searchParams.get('n') ?? proxy.tagPageSize), proxy.tagPageSize);
      const last = url.searchParams.get('last');
      const rest = last === null ? all : all.filter((t) => t > last);
      const page = rest.slice(0, n);
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      if (rest.length > n && page.length > 0) {
        const next = new URLSearchParams({ n: String(n), last: page[page.length - 1] as string });
        headers.Link = `</v2/${tagsList[1]}/tags/list?${next.toString()}>; rel="next"`;
      }
      res.writeHead(200, headers).end(JSON.stringify({ name: tagsList[1], tags: page }));
      return 200;
    }
    const body = method === 'GET' || method === 'HEAD' ? undefined : await readAll(req);
    const up = await forward(method, path, req.headers, body);
    const headers = { ...up.headers };
    let out = up.body;

    const content = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (content && method === 'GET' && up.status === 200) {
      const servedDigest = String(up.headers['docker-content-digest'] ?? '');
      if (corrupted.has(content[3]!) || corrupted.has(servedDigest)) {
        out = Buffer.from(out);
        if (out.length > 0) out[out.length - 1] = (out[out.length - 1] ?? 0) ^ 0x01;
      }
    }
    if (
      content &&
      content[2] === 'manifests' &&
      method === 'PUT' &&
      up.status === 201 &&
      options.referrersApi &&
      body
    ) {
      const bytes = new Uint8Array(body);
      try {
        const manifest = parseManifest(bytes, String(req.headers['content-type'] ?? ''));
        if (manifest.subject) {
          const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
          const key = `${content[1]}|${manifest.subject.digest}`;
          const map = seenReferrers.get(key) ?? new Map<string, Descriptor>();
          map.set(
            digest,
            referrerDescriptor(
              Digest.parse(digest),
              bytes.byteLength,
              String(req.headers['content-type']),
              manifest,
            ),
          );
          seenReferrers.set(key, map);
          headers['oci-subject'] = manifest.subject.digest;
        }
      } catch {
        // not a manifest we understand: nothing to index
      }
    }
    res.writeHead(up.status, headers);
    res.end(method === 'HEAD' ? undefined : out);
    return up.status;
  };

  const server = createServer((req, res) => {
    handle(req, res).then(
      (status) => requests.push({ method: req.method ?? '', path: req.url ?? '', status }),
      (err: unknown) => {
        requests.push({ method: req.method ?? '', path: req.url ?? '', status: 502 });
        if (!res.headersSent) res.writeHead(502);
        res.end(String(err));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const proxy: RegistryProxy = {
    host: `127.0.0.1:${port}`,
    requests,
    refuseMounts: false,
    tagPageSize: undefined,
    corrupt(digest) {
      corrupted.add(digest.toString());
    },
    failNext(pattern, responses) {
      for (const r of responses)
        failures.push({ pattern, status: r.status, ...(r.headers ? { headers: r.headers } : {}) });
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return proxy;
}
