// A TUF repository (TUF spec 1.0 §4) publishing seal serve's trusted_root.json and
// signing_config.v0.2.json, so `seal initialize --mirror URL/tuf --root URL/tuf/root.json` (or cosign's)
// sets up every later command the way Sigstore's public-good TUF repository does.
//
// One Ed25519 key signs all four roles. Root is made once per data directory (version 1, ten years) and
// kept; targets, snapshot and timestamp are re-signed at each start with the start time in seconds as their
// version, so a client that cached an earlier start's metadata sees newer versions, never a rollback.
// Signatures are over canonical JSON: the metadata here holds only ASCII strings and integers, for which
// RFC 8785 (the `canonicalize` package) and TUF's OLPC canonical form produce the same bytes.

import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import canonicalize from 'canonicalize';

const ROOT_LIFETIME_MS = 10 * 365 * 24 * 3600 * 1000;
const METADATA_LIFETIME_MS = 365 * 24 * 3600 * 1000;
const SPEC_VERSION = '1.0.31';

function expiresAt(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

interface TufKey {
  privateKey: KeyObject;
  keyid: string;
  keyObj: { keytype: 'ed25519'; scheme: 'ed25519'; keyval: { public: string } };
}

function tufKey(privateKey: KeyObject): TufKey {
  const raw = privateKey.export({ format: 'jwk' }).x!;
  const keyObj = {
    keytype: 'ed25519' as const,
    scheme: 'ed25519' as const,
    keyval: { public: Buffer.from(raw, 'base64url').toString('hex') },
  };
  return { privateKey, keyObj, keyid: createHash('sha256').update(canonicalize(keyObj)!).digest('hex') };
}

/** `{signatures, signed}` with one signature by `key` over the canonical form of `body`. */
export function signTufMetadata(body: Record<string, unknown>, key: KeyObject, keyid: string): string {
  const sig = sign(null, Buffer.from(canonicalize(body)!), key).toString('hex');
  return `${JSON.stringify({ signatures: [{ keyid, sig }], signed: body }, null, 1)}\n`;
}

/** The key (created on first use, mode 0600) and root.json of the repository in `dir`. */
async function keyAndRoot(dir: string, now: number): Promise<{ key: TufKey; root: Buffer }> {
  const keyFile = join(dir, 'tuf.key.pem');
  const rootFile = join(dir, 'root.json');
  let pem: string;
  try {
    pem = await readFile(keyFile, 'utf8');
  } catch {
    pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await writeFile(keyFile, pem, { mode: 0o600, flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
      pem = await readFile(keyFile, 'utf8');
    });
  }
  const key = tufKey(createPrivateKey(pem));
  try {
    const root = await readFile(rootFile);
    const parsed = JSON.parse(root.toString('utf8')) as { signed?: { keys?: Record<string, unknown> } };
    if (parsed.signed?.keys?.[key.keyid]) return { key, root };
  } catch {
    // absent or unreadable: made below
  }
  const role = { keyids: [key.keyid], threshold: 1 };
  const root = Buffer.from(
    signTufMetadata(
      {
        _type: 'root',
        spec_version: SPEC_VERSION,
        version: 1,
        expires: expiresAt(now + ROOT_LIFETIME_MS),
        consistent_snapshot: false,
        keys: { [key.keyid]: key.keyObj },
        roles: { root: role, targets: role, snapshot: role, timestamp: role },
      },
      key.privateKey,
      key.keyid,
    ),
  );
  await writeFile(rootFile, root, { mode: 0o644 });
  return { key, root };
}

/**
 * The repository's files by path (`root.json`, `1.root.json`, `timestamp.json`, `snapshot.json`,
 * `targets.json`, `targets/<name>`), its key and root kept in `dir`.
 */
export async function buildTufRepository(
  dir: string,
  targets: Record<string, Buffer>,
  now = Date.now(),
): Promise<Map<string, Buffer>> {
  const { key, root } = await keyAndRoot(dir, now);
  const version = Math.floor(now / 1000);
  const common = { spec_version: SPEC_VERSION, version, expires: expiresAt(now + METADATA_LIFETIME_MS) };
  const meta = (text: string) => ({
    version,
    length: Buffer.byteLength(text),
    hashes: { sha256: createHash('sha256').update(text).digest('hex') },
  });
  const targetsJson = signTufMetadata(
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
    key.privateKey,
    key.keyid,
  );
  const snapshotJson = signTufMetadata(
    { _type: 'snapshot', ...common, meta: { 'targets.json': meta(targetsJson) } },
    key.privateKey,
    key.keyid,
  );
  const timestampJson = signTufMetadata(
    { _type: 'timestamp', ...common, meta: { 'snapshot.json': meta(snapshotJson) } },
    key.privateKey,
    key.keyid,
  );
  return new Map<string, Buffer>([
    ['root.json', root],
    ['1.root.json', root],
    ['targets.json', Buffer.from(targetsJson)],
    ['snapshot.json', Buffer.from(snapshotJson)],
    ['timestamp.json', Buffer.from(timestampJson)],
    ...Object.entries(targets).map(([name, bytes]) => [`targets/${name}`, bytes] as [string, Buffer]),
  ]);
}
