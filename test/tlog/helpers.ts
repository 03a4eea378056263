// Test helpers for the transparency log: key material, proposed entries, database URLs.
import 'reflect-metadata';
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign, webcrypto } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import pg from 'pg';

x509.cryptoProvider.set(webcrypto as never);

export function ecKey(curve = 'P-256') {
  return generateKeyPairSync('ec', { namedCurve: curve });
}

export function pemOf(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }) as string;
}

export interface HashedRekordProposal {
  apiVersion: '0.0.1';
  kind: 'hashedrekord';
  spec: {
    data: { hash: { algorithm: string; value: string } };
    signature: { content: string; publicKey: { content: string } };
  };
}

/** Loosely typed JSON for poking at responses in tests. */
// biome-ignore lint/suspicious/noExplicitAny: tests walk arbitrary JSON
export type AnyJson = any;

/** A hashedrekord proposed entry over random (or given) artifact bytes. */
export function hashedRekord(
  keys = ecKey(),
  artifact: Uint8Array = randomBytes(32),
  verifierPem?: string,
): HashedRekordProposal {
  const digest = createHash('sha256').update(artifact).digest('hex');
  const sig = sign('sha256', artifact, keys.privateKey);
  return {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: digest } },
      signature: {
        content: sig.toString('base64'),
        publicKey: { content: Buffer.from(verifierPem ?? pemOf(keys.publicKey)).toString('base64') },
      },
    },
  };
}

export function paeOf(type: string, payload: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${payload.length} `),
    payload,
  ]);
}

export function dsseEntry(
  keys = ecKey(),
  statement: unknown = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'x', digest: { sha256: 'ab'.repeat(32) } }],
    predicateType: 'https://example.com/p',
    predicate: {},
  },
) {
  const payload = Buffer.from(JSON.stringify(statement));
  const type = 'application/vnd.in-toto+json';
  const sig = sign('sha256', paeOf(type, payload), keys.privateKey);
  const envelope = JSON.stringify({
    payloadType: type,
    payload: payload.toString('base64'),
    signatures: [{ keyid: '', sig: sig.toString('base64') }],
  });
  return {
    apiVersion: '0.0.1' as const,
    kind: 'dsse' as const,
    spec: {
      proposedContent: { envelope, verifiers: [Buffer.from(pemOf(keys.publicKey)).toString('base64')] },
    },
  };
}

/** A Fulcio-like leaf certificate (self-issued) with an email SAN and the OIDC issuer extensions .1 and .8. */
export async function fulcioLikeCert(
  email: string,
  issuer: string,
  opts: { uri?: string; v2Issuer?: Uint8Array } = {},
) {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const utf8 = Buffer.from(issuer);
  const der = opts.v2Issuer ?? Buffer.concat([Buffer.from([0x0c, utf8.length]), utf8]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: '',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 600_000),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.SubjectAlternativeNameExtension(
        [{ type: 'email', value: email }, ...(opts.uri ? [{ type: 'url' as const, value: opts.uri }] : [])],
        true,
      ),
      new x509.Extension('1.3.6.1.4.1.57264.1.1', false, new Uint8Array(utf8)),
      new x509.Extension('1.3.6.1.4.1.57264.1.8', false, new Uint8Array(der)),
    ],
  });
  const { createPrivateKey, KeyObject } = await import('node:crypto');
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  void KeyObject;
  return { pem: cert.toString('pem'), der: new Uint8Array(cert.rawData), privateKey };
}

export function tempDir(prefix = 'seal-tlog-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A PostgreSQL URL with a fresh schema, or undefined when PostgreSQL is not reachable (CI: throws). */
export async function postgresUrl(): Promise<string | undefined> {
  for (const user of ['postgres', 'root']) {
    const base = `postgres://${user}@127.0.0.1:5432/test`;
    const c = new pg.Client({ connectionString: base, connectionTimeoutMillis: 2000 });
    try {
      await c.connect();
      await c.end();
      return `${base}?schema=t_${randomBytes(6).toString('hex')}`;
    } catch {
      await c.end().catch(() => {});
    }
  }
  if (process.env.CI) throw new Error('PostgreSQL at 127.0.0.1:5432 (database test) is required in CI');
  return undefined;
}

export async function dropSchema(url: string): Promise<void> {
  const u = new URL(url);
  const schema = u.searchParams.get('schema');
  u.searchParams.delete('schema');
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await c.end();
}
