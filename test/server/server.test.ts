import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFromJSON } from '@sigstore/bundle';
import { PublicKeyDetails, SigningConfig, TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { sign as sigstoreSign } from 'sigstore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FulcioClient } from '../../src/ca/client.js';
import { treeHeadSignatureInput } from '../../src/ca/ctlog.js';
import { hashLeaf, verifyConsistency, verifyInclusion } from '../../src/tlog/merkle.js';
import { createPublicKey, verify as verifySig } from 'node:crypto';
import { isSealError } from '../../src/errors.js';
import { tokenFromDevIssuer } from '../../src/oidc/sources.js';
import { type RunningServer, startServer } from '../../src/server/server.js';

async function trustMaterial(path: string) {
  return toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(await readFile(path, 'utf8'))));
}

describe('seal serve (in process)', () => {
  let dir: string;
  let server: RunningServer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-serve-'));
    server = await startServer({ dataDir: dir, port: 0 });
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a trusted root and signing config in protobuf-specs shapes', async () => {
    const tr = JSON.parse(await readFile(join(dir, 'trusted_root.json'), 'utf8'));
    expect(tr.mediaType).toBe('application/vnd.dev.sigstore.trustedroot+json;version=0.1');
    const parsed = TrustedRoot.fromJSON(tr);
    // everything survives the protojson round trip
    expect(TrustedRoot.toJSON(parsed)).toEqual(tr);
    expect(parsed.certificateAuthorities[0]!.certChain!.certificates).toHaveLength(2);
    expect(parsed.tlogs[0]!.baseUrl).toBe(server.url);
    expect(Buffer.from(parsed.tlogs[0]!.logId!.keyId).toString('hex')).toBe(server.rekor.logId);
    expect(Buffer.from(parsed.ctlogs[0]!.logId!.keyId)).toEqual(Buffer.from(server.ctlog.logId));
    expect(parsed.tlogs[0]!.publicKey!.validFor!.start).toBeInstanceOf(Date);
    expect(parsed.tlogs[0]!.checkpointKeyId).toBeUndefined();
    // the Rekor v2 log beside it: same URL, its own Ed25519 key, found by its checkpoint key ID
    expect(parsed.tlogs).toHaveLength(2);
    const v2 = parsed.tlogs[1]!;
    expect(v2.baseUrl).toBe(server.url);
    expect(v2.publicKey!.keyDetails).toBe(PublicKeyDetails.PKIX_ED25519);
    expect(Buffer.from(v2.logId!.keyId)).toEqual(Buffer.from(server.rekorV2.checkpointKeyId));
    expect(Buffer.from(v2.checkpointKeyId!.keyId)).toEqual(Buffer.from(server.rekorV2.checkpointKeyId));
    // the TSA: its chain (leaf, root) as it serves it
    expect(parsed.timestampAuthorities).toHaveLength(1);
    expect(parsed.timestampAuthorities[0]!.certChain!.certificates).toHaveLength(2);
    expect(
      parsed.timestampAuthorities[0]!.certChain!.certificates.map((c) => Buffer.from(c.rawBytes)),
    ).toEqual(server.tsa.chain.map((c) => Buffer.from(c)));

    const sc = JSON.parse(await readFile(join(dir, 'signing_config.json'), 'utf8'));
    expect(SigningConfig.toJSON(SigningConfig.fromJSON(sc))).toEqual(sc);
    expect(sc).toMatchObject({
      mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.2+json',
      caUrls: [{ url: server.url, majorApiVersion: 1 }],
      oidcUrls: [{ url: `${server.url}/oidc` }],
      // v2 first: sigstore-js takes the first of equal starts, cosign v3 the highest version; both get the TSA
      rekorTlogUrls: [
        { url: server.url, majorApiVersion: 2 },
        { url: server.url, majorApiVersion: 1 },
      ],
      tsaUrls: [{ url: `${server.url}/api/v1/timestamp`, majorApiVersion: 1 }],
      rekorTlogConfig: { selector: 'ANY' },
      tsaConfig: { selector: 'ANY' },
    });
    const chain = await (await fetch(`${server.url}/api/v1/timestamp/certchain`)).text();
    expect(chain.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  });

  it('serves OIDC discovery whose issuer is the URL tokens carry', async () => {
    const doc = (await (await fetch(`${server.url}/oidc/.well-known/openid-configuration`)).json()) as Record<
      string,
      string
    >;
    expect(doc.issuer).toBe(`${server.url}/oidc`);
    const token = await tokenFromDevIssuer(doc.issuer!, 'alice@example.com');
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    expect(payload).toMatchObject({
      iss: `${server.url}/oidc`,
      aud: 'sigstore',
      email: 'alice@example.com',
      email_verified: true,
    });
  });

  it('sigstore-js signs against seal serve and @sigstore/verify accepts the bundle with trusted_root.json', async () => {
    const identityToken = await tokenFromDevIssuer(`${server.url}/oidc`, 'alice@example.com');
    const data = Buffer.from('hello from sigstore-js');
    const bundleJson = await sigstoreSign(data, {
      fulcioURL: server.url,
      rekorURL: server.url,
      identityToken,
      timeout: 30_000,
    });
    const bundle = bundleFromJSON(bundleJson);
    expect(bundle.verificationMaterial.tlogEntries).toHaveLength(1);
    const verifier = new Verifier(await trustMaterial(join(dir, 'trusted_root.json')), {
      ctlogThreshold: 1,
      tlogThreshold: 1,
    });
    const signer = verifier.verify(toSignedEntity(bundle, data), {
      subjectAlternativeName: 'alice@example.com',
      extensions: { issuer: `${server.url}/oidc` },
    });
    expect(signer.identity?.subjectAlternativeName).toBe('alice@example.com');

    // the same bundle is refused for another identity, another issuer, and other data
    expect(() =>
      verifier.verify(toSignedEntity(bundle, data), { subjectAlternativeName: 'bob@example.com' }),
    ).toThrow();
    expect(() =>
      verifier.verify(toSignedEntity(bundle, data), { extensions: { issuer: 'https://other' } }),
    ).toThrow();
    expect(() => verifier.verify(toSignedEntity(bundle, Buffer.from('tampered')))).toThrow();
  });

  it('issues GitHub workflow certificates from the Actions-shaped dev issuer', async () => {
    const workflow = 'acme/app/.github/workflows/release.yml@refs/tags/v1.2.3';
    const identityToken = await tokenFromDevIssuer(`${server.url}/oidc/github`, workflow, 'sigstore', {
      sha: 'a'.repeat(40),
    });
    const data = Buffer.from('built by a workflow');
    const bundle = bundleFromJSON(
      await sigstoreSign(data, {
        fulcioURL: server.url,
        rekorURL: server.url,
        identityToken,
        timeout: 30_000,
      }),
    );
    const verifier = new Verifier(await trustMaterial(join(dir, 'trusted_root.json')));
    const signer = verifier.verify(toSignedEntity(bundle, data), {
      subjectAlternativeName: `https://github.com/${workflow}`,
      extensions: { issuer: `${server.url}/oidc/github` },
    });
    const oid = (n: number) =>
      signer.identity?.oids
        ?.find((o) => o.oid?.id.join('.') === `1.3.6.1.4.1.57264.1.${n}`)
        ?.value.toString();
    expect(oid(5)).toBe('acme/app'); // raw bytes
    expect(oid(3)).toBe('a'.repeat(40));
    expect(oid(6)).toBe('refs/tags/v1.2.3');
    expect(oid(12)?.slice(2)).toBe('https://github.com/acme/app'); // DER UTF8String
  });

  it('serves the CT log over the RFC 6962 read API: signed STH, entries, inclusion and consistency', async () => {
    const get = async (path: string) => {
      const res = await fetch(`${server.url}/ct/v1/${path}`);
      expect(res.status).toBe(200);
      return (await res.json()) as Record<string, unknown>;
    };
    const sth = (await get('get-sth')) as {
      tree_size: number;
      timestamp: number;
      sha256_root_hash: string;
      tree_head_signature: string;
    };
    expect(sth.tree_size).toBeGreaterThanOrEqual(2); // one precert per certificate issued above
    const root = new Uint8Array(Buffer.from(sth.sha256_root_hash, 'base64'));
    const sig = Buffer.from(sth.tree_head_signature, 'base64');
    expect([sig[0], sig[1]]).toEqual([4, 3]);
    expect(sig.readUInt16BE(2)).toBe(sig.length - 4);
    const ctKey = createPublicKey({
      key: Buffer.from(server.ctlog.publicKeySpki),
      format: 'der',
      type: 'spki',
    });
    const input = treeHeadSignatureInput(BigInt(sth.timestamp), BigInt(sth.tree_size), root);
    expect(verifySig('sha256', input, ctKey, sig.subarray(4))).toBe(true);

    const { entries } = (await get(`get-entries?start=0&end=${sth.tree_size - 1}`)) as {
      entries: { leaf_input: string }[];
    };
    expect(entries).toHaveLength(sth.tree_size);
    const last = new Uint8Array(Buffer.from(entries.at(-1)!.leaf_input, 'base64'));
    expect([last[0], last[1], last[10], last[11]]).toEqual([0, 0, 0, 1]); // v1, timestamped_entry, precert_entry
    const leafHash = hashLeaf(last);
    const proof = (await get(
      `get-proof-by-hash?hash=${encodeURIComponent(Buffer.from(leafHash).toString('base64'))}&tree_size=${sth.tree_size}`,
    )) as { leaf_index: number; audit_path: string[] };
    expect(proof.leaf_index).toBe(sth.tree_size - 1);
    verifyInclusion(
      proof.leaf_index,
      sth.tree_size,
      leafHash,
      proof.audit_path.map((h) => new Uint8Array(Buffer.from(h, 'base64'))),
      root,
    );

    const firstLeaf = hashLeaf(new Uint8Array(Buffer.from(entries[0]!.leaf_input, 'base64')));
    const cons = (await get(`get-sth-consistency?first=1&second=${sth.tree_size}`)) as {
      consistency: string[];
    };
    verifyConsistency(
      1,
      sth.tree_size,
      cons.consistency.map((h) => new Uint8Array(Buffer.from(h, 'base64'))),
      firstLeaf,
      root,
    );

    const roots = (await get('get-roots')) as { certificates: string[] };
    expect(roots.certificates).toHaveLength(1);
  });

  it('the CA refuses a dev token for another audience', async () => {
    const token = await tokenFromDevIssuer(`${server.url}/oidc`, 'alice@example.com', 'not-sigstore');
    const err = await new FulcioClient(server.url)
      .signingCert(token, '-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----', 'AA==')
      .catch((e: unknown) => e);
    expect(isSealError(err, 'E_TOKEN_INVALID')).toBe(true);
    expect((err as Error).message).toMatch(/wrong audience/);
  });

  it('refuses to run the dev issuer on a non-loopback address without the flag', async () => {
    const err = await startServer({ dataDir: dir, port: 0, host: '0.0.0.0' }).catch((e: unknown) => e);
    expect(isSealError(err, 'E_INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toMatch(/refusing to run the dev OIDC issuer on 0.0.0.0/);
  });
});
