// A small TUF repository for tests: root, targets, snapshot and timestamp metadata signed by one Ed25519
// key (TUF spec 1.0 §4, canonical JSON signatures), served over loopback HTTP with the targets given.

import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import canonicalize from 'canonicalize';
import { signTufMetadata } from '../../src/server/tuf.js';

export interface TufRepo {
  url: string;
  /** The initial root.json (version 1) a client starts from. */
  rootJson: string;
  /** Files served, by path (metadata at the top, targets under targets/). Tests may change them. */
  files: Map<string, Buffer>;
  requests: string[];
  close(): Promise<void>;
}

const EXPIRES = '2099-01-01T00:00:00Z';

// the repository's signatures are made as seal serve's TUF repository makes them
const signed = (body: Record<string, unknown>, key: KeyObject, keyid: string): string =>
  signTufMetadata(body, key, keyid);

export async function startTufRepo(targets: Record<string, Buffer>): Promise<TufRepo> {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('hex');
  const keyObj = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: raw } };
  const keyid = createHash('sha256').update(canonicalize(keyObj)!).digest('hex');
  const role = { keyids: [keyid], threshold: 1 };
  const common = { spec_version: '1.0.31', version: 1, expires: EXPIRES };
  const rootJson = signed(
    {
      _type: 'root',
      ...common,
      consistent_snapshot: false,
      keys: { [keyid]: keyObj },
      roles: { root: role, targets: role, snapshot: role, timestamp: role },
    },
    privateKey,
    keyid,
  );
  const targetsJson = signed(
    {
      _type: 'targets',
      ...common,
      targets: Object.fromEntries(
        Object.entries(targets).map(([name, bytes]) => [
          name,
          { length: bytes.length, hashes: { sha256: createHash('sha256').update(bytes).digest('hex') } },
        ]),
      ),
    },
    privateKey,
    keyid,
  );
  const snapshotJson = signed(
    { _type: 'snapshot', ...common, meta: { 'targets.json': { version: 1 } } },
    privateKey,
    keyid,
  );
  const timestampJson = signed(
    { _type: 'timestamp', ...common, meta: { 'snapshot.json': { version: 1 } } },
    privateKey,
    keyid,
  );
  const files = new Map<string, Buffer>([
    ['1.root.json', Buffer.from(rootJson)],
    ['root.json', Buffer.from(rootJson)],
    ['targets.json', Buffer.from(targetsJson)],
    ['snapshot.json', Buffer.from(snapshotJson)],
    ['timestamp.json', Buffer.from(timestampJson)],
    ...Object.entries(targets).map(([name, bytes]) => [`targets/${name}`, bytes] as [string, Buffer]),
  ]);
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!).replace(/^\/+/, '');
    requests.push(path);
    const body = files.get(path);
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res
      .writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length })
      .end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    rootJson,
    files,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
