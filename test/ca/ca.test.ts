import {
  createHash,
  generateKeyPairSync,
  type KeyObject,
  X509Certificate as NodeX509,
  sign,
  webcrypto,
} from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate as SigstoreX509 } from '@sigstore/core';
import { verifyCertificateChain } from '@sigstore/verify/dist/key/certificate.js';
import { verifySCTs } from '@sigstore/verify/dist/key/sct.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority } from '../../src/ca/ca.js';
import {
  OID_CT_POISON,
  OID_CT_SCT_LIST,
  precertMerkleLeaf,
  CtLog,
  MemoryLeafLog,
  verifyEmbeddedScts,
} from '../../src/ca/ctlog.js';
import { removeExtension, tbsOf } from '../../src/ca/der.js';
import { loadOrCreateEcKey } from '../../src/ca/keyfile.js';
import { OidcVerifier } from '../../src/ca/oidc.js';
import { x509 } from '../../src/ca/x509.js';
import { isSealError } from '../../src/errors.js';
import { makeKey, signToken, type TestKey } from './helpers.js';

const ISS = 'https://issuer.test';
const GH_ISS = 'https://gh.issuer.test';

function ecKey(): { privateKey: KeyObject; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}
const proof = (key: KeyObject, challenge: string) =>
  sign('sha256', Buffer.from(challenge), key).toString('base64');

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (isSealError(err)) return `${err.code}: ${err.message}`;
    throw err;
  }
  return 'accepted';
}

describe('CertificateAuthority', () => {
  let dir: string;
  let ca: CertificateAuthority;
  let leaves: MemoryLeafLog;
  let ct: CtLog;
  let tokenKey: TestKey;
  const emailToken = (extra: Record<string, unknown> = {}) =>
    signToken(tokenKey, {
      iss: ISS,
      aud: 'sigstore',
      sub: 'u-1',
      email: 'alice@example.com',
      email_verified: true,
      ...extra,
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-ca-'));
    tokenKey = await makeKey();
    const jwks = { keys: [tokenKey.jwk as Record<string, unknown>] };
    const verifier = new OidcVerifier({
      issuers: [
        { issuerUrl: ISS, type: 'email', jwks },
        { issuerUrl: GH_ISS, type: 'github-workflow', jwks },
      ],
    });
    leaves = new MemoryLeafLog();
    ct = new CtLog(await loadOrCreateEcKey(join(dir, 'ct.key.pem'), 'P-256'), leaves);
    ca = await CertificateAuthority.open({ dir: join(dir, 'ca'), verifier, ctlog: ct });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('issues a Fulcio-profile certificate for an email identity', async () => {
    const k = ecKey();
    const before = Math.floor(Date.now() / 1000) * 1000;
    const res = await ca.signingCertificate({
      token: await emailToken(),
      publicKey: k.pem,
      proofOfPossession: proof(k.privateKey, 'alice@example.com'),
    });
    expect(res.chainPem).toHaveLength(3);

    // Node's parser
    const leaf = new NodeX509(res.chainPem[0]!);
    expect(leaf.subject).toBeUndefined();
    expect(leaf.subjectAltName).toBe('email:alice@example.com');
    expect(leaf.checkIssued(new NodeX509(res.chainPem[1]!))).toBe(true);
    expect(leaf.verify(new NodeX509(res.chainPem[1]!).publicKey)).toBe(true);
    expect(leaf.publicKey.export({ type: 'spki', format: 'pem' })).toBe(k.pem);
    expect(leaf.ca).toBe(false);
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.3']);
    const validMs = new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime();
    expect(validMs).toBe(600_000);
    expect(new Date(leaf.validFrom).getTime()).toBeGreaterThanOrEqual(before);
    expect(leaf.serialNumber.length).toBe(40);

    // @peculiar/x509's parser
    const cert = new x509.X509Certificate(res.chainPem[0]!);
    const ku = cert.getExtension(x509.KeyUsagesExtension)!;
    expect(ku.critical).toBe(true);
    expect(ku.usages).toBe(x509.KeyUsageFlags.digitalSignature);
    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension)!;
    expect(eku.usages).toEqual(['1.3.6.1.5.5.7.3.3']);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension)!;
    expect(san.critical).toBe(true);
    expect(san.names.toJSON()).toEqual([{ type: 'email', value: 'alice@example.com' }]);
    expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)).toBeTruthy();
    expect(cert.getExtension(x509.AuthorityKeyIdentifierExtension)).toBeTruthy();
    const issuerV1 = cert.getExtension('1.3.6.1.4.1.57264.1.1')!;
    expect(Buffer.from(issuerV1.value).toString('utf8')).toBe(ISS); // raw bytes, no DER wrapper
    const issuerV2 = cert.getExtension('1.3.6.1.4.1.57264.1.8')!;
    expect(Buffer.from(issuerV2.value)).toEqual(
      Buffer.concat([Buffer.from([0x0c, ISS.length]), Buffer.from(ISS)]),
    );
    const subject = cert.getExtension('1.3.6.1.4.1.57264.1.24')!;
    expect(Buffer.from(subject.value).subarray(2).toString()).toBe('u-1');
    expect(cert.getExtension(OID_CT_POISON)).toBeNull();
    expect(cert.getExtension(OID_CT_SCT_LIST)).toBeTruthy();

    // sigstore-js: chain to the CA and the embedded SCT against the CT log key
    const sLeaf = SigstoreX509.parse(res.chainPem[0]!);
    const anchors = [
      {
        certChain: res.chainPem.slice(1).map((p) => SigstoreX509.parse(p)),
        validFor: { start: new Date(0), end: new Date(8e15) },
      },
    ];
    const path = verifyCertificateChain(new Date(), sLeaf, anchors);
    expect(path).toHaveLength(3);
    const ctlogs = [
      {
        logID: Buffer.from(ct.logId),
        publicKey: (await loadOrCreateEcKey(join(dir, 'ct.key.pem'), 'P-256')).publicKey,
        validFor: { start: new Date(0), end: new Date(8e15) },
        baseURL: '',
      },
    ];
    expect(verifySCTs(path[0]!, path[1]!, ctlogs)).toEqual([Buffer.from(ct.logId)]);
  });

  it('logs the precertificate entry the SCT covers (RFC 6962 MerkleTreeLeaf)', async () => {
    const k = ecKey();
    const n = leaves.leaves.length;
    const res = await ca.signingCertificate({
      token: await emailToken(),
      publicKey: k.pem,
      proofOfPossession: proof(k.privateKey, 'alice@example.com'),
    });
    expect(leaves.leaves.length).toBe(n + 1);
    const der = new Uint8Array(new x509.X509Certificate(res.chainPem[0]!).rawData);
    const tbs = removeExtension(tbsOf(der), OID_CT_SCT_LIST);
    const leaf = leaves.leaves[n]!;
    const timestamp = new DataView(leaf.buffer, leaf.byteOffset + 2, 8).getBigUint64(0);
    const issuerKeyHash = createHash('sha256').update(ca.hierarchy.intermediateKey.spki).digest();
    expect(Buffer.from(leaf)).toEqual(Buffer.from(precertMerkleLeaf(timestamp, issuerKeyHash, tbs)));
  });

  it('a SCT over another certificate does not verify (the check is real)', async () => {
    const k = ecKey();
    const res = await ca.signingCertificate({
      token: await emailToken(),
      publicKey: k.pem,
      proofOfPossession: proof(k.privateKey, 'alice@example.com'),
    });
    const other = new CtLog(
      await loadOrCreateEcKey(join(dir, 'other-ct.key.pem'), 'P-256'),
      new MemoryLeafLog(),
    );
    const sLeaf = SigstoreX509.parse(res.chainPem[0]!);
    const issuer = SigstoreX509.parse(res.chainPem[1]!);
    const wrongKey = [
      {
        logID: Buffer.from(ct.logId),
        publicKey: (await loadOrCreateEcKey(join(dir, 'other-ct.key.pem'), 'P-256')).publicKey,
        validFor: { start: new Date(0), end: new Date(8e15) },
        baseURL: '',
      },
    ];
    expect(other.logId).not.toEqual(ct.logId);
    expect(() => verifySCTs(sLeaf, issuer, wrongKey)).toThrow(/SCT verification failed/);
  });

  it('verifyEmbeddedScts checks the SCT natively and refuses a tampered certificate', async () => {
    const k = ecKey();
    const res = await ca.signingCertificate({
      token: await emailToken(),
      publicKey: k.pem,
      proofOfPossession: proof(k.privateKey, 'alice@example.com'),
    });
    const der = new Uint8Array(new x509.X509Certificate(res.chainPem[0]!).rawData);
    const ctPub = (await loadOrCreateEcKey(join(dir, 'ct.key.pem'), 'P-256')).publicKey;
    const logs = [{ logId: ct.logId, publicKey: ctPub }];
    const scts = verifyEmbeddedScts(der, ca.hierarchy.intermediateKey.spki, logs);
    expect(scts).toHaveLength(1);
    expect(Buffer.from(scts[0]!.logId)).toEqual(Buffer.from(ct.logId));
    expect(Math.abs(Number(scts[0]!.timestampMs) - Date.now())).toBeLessThan(60_000);
    // another issuer key hash (a certificate presented under another CA) fails
    expect(() => verifyEmbeddedScts(der, ct.publicKeySpki, logs)).toThrow(/does not verify/);
    // an SCT from an unknown log is not counted
    expect(verifyEmbeddedScts(der, ca.hierarchy.intermediateKey.spki, [])).toEqual([]);
  });

  it('maps GitHub workflow claims into the certificate extensions', async () => {
    const k = ecKey();
    const sub = 'repo:acme/app:ref:refs/heads/main';
    const token = await signToken(tokenKey, {
      iss: GH_ISS,
      aud: 'sigstore',
      sub,
      job_workflow_ref: 'acme/app/.github/workflows/rel.yml@refs/heads/main',
      event_name: 'push',
      sha: 'c'.repeat(40),
      repository: 'acme/app',
      ref: 'refs/heads/main',
      workflow: 'rel',
    });
    const res = await ca.signingCertificate({
      token,
      publicKey: k.pem,
      proofOfPossession: proof(k.privateKey, sub),
    });
    const cert = new x509.X509Certificate(res.chainPem[0]!);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension)!;
    expect(san.names.toJSON()).toEqual([
      { type: 'url', value: 'https://github.com/acme/app/.github/workflows/rel.yml@refs/heads/main' },
    ]);
    const raw = (n: number) => Buffer.from(cert.getExtension(`1.3.6.1.4.1.57264.1.${n}`)!.value).toString();
    const utf8 = (n: number) => {
      const v = Buffer.from(cert.getExtension(`1.3.6.1.4.1.57264.1.${n}`)!.value);
      expect(v[0]).toBe(0x0c);
      return v.subarray(2).toString();
    };
    expect(raw(2)).toBe('push');
    expect(raw(3)).toBe('c'.repeat(40));
    expect(raw(5)).toBe('acme/app');
    expect(raw(6)).toBe('refs/heads/main');
    expect(utf8(8)).toBe(GH_ISS);
    expect(utf8(12)).toBe('https://github.com/acme/app');
    expect(utf8(20)).toBe('push');
    // order of Sigstore extensions follows the OID arcs as Fulcio renders them
    const arcs = cert.extensions
      .map((e) => e.type)
      .filter((o) => o.startsWith('1.3.6.1.4.1.57264.1.'))
      .map((o) => Number(o.split('.').at(-1)));
    expect(arcs).toEqual([...arcs].sort((a, b) => a - b));
  });

  it('refuses a proof of possession over another subject', async () => {
    const k = ecKey();
    const r = await code(
      ca.signingCertificate({
        token: await emailToken(),
        publicKey: k.pem,
        proofOfPossession: proof(k.privateKey, 'mallory@example.com'),
      }),
    );
    expect(r).toMatch(
      /^E_PROOF_OF_POSSESSION: proof of possession does not verify: .*"alice@example.com" \(the token's email claim\)/,
    );
  });

  it('refuses a public key that does not match the proof', async () => {
    const signer = ecKey();
    const other = ecKey();
    const r = await code(
      ca.signingCertificate({
        token: await emailToken(),
        publicKey: other.pem,
        proofOfPossession: proof(signer.privateKey, 'alice@example.com'),
      }),
    );
    expect(r).toMatch(/^E_PROOF_OF_POSSESSION: proof of possession does not verify/);
  });

  it('refuses a request without proof', async () => {
    const k = ecKey();
    expect(await code(ca.signingCertificate({ token: await emailToken(), publicKey: k.pem }))).toMatch(
      /^E_PROOF_OF_POSSESSION: publicKeyRequest has no proofOfPossession/,
    );
  });

  it('refuses tokens before looking at keys (the token check comes first)', async () => {
    const k = ecKey();
    expect(
      await code(
        ca.signingCertificate({
          token: await emailToken({ aud: 'x' }),
          publicKey: k.pem,
          proofOfPossession: proof(k.privateKey, 'alice@example.com'),
        }),
      ),
    ).toMatch(/^E_TOKEN_INVALID: wrong audience/);
  });

  it('refuses unsupported key types', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const r = await code(
      ca.signingCertificate({
        token: await emailToken(),
        publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        proofOfPossession: proof(privateKey, 'alice@example.com'),
      }),
    );
    expect(r).toMatch(/^E_KEY_UNSUPPORTED/);
  });

  it('accepts Ed25519 keys with a pure Ed25519 proof', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const res = await ca.signingCertificate({
      token: await emailToken(),
      publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      proofOfPossession: sign(null, Buffer.from('alice@example.com'), privateKey).toString('base64'),
    });
    expect(new NodeX509(res.chainPem[0]!).publicKey.asymmetricKeyType).toBe('ed25519');
  });

  describe('CSR requests', () => {
    async function makeCsr(keys: webcrypto.CryptoKeyPair) {
      return x509.Pkcs10CertificateRequestGenerator.create({
        name: 'CN=ignored',
        keys,
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      });
    }
    const genKeys = () =>
      webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
        'sign',
        'verify',
      ]) as Promise<webcrypto.CryptoKeyPair>;

    it('issues for a valid CSR (base64 of PEM, as Fulcio takes it)', async () => {
      const keys = await genKeys();
      const csr = await makeCsr(keys);
      const res = await ca.signingCertificate({
        token: await emailToken(),
        csr: Buffer.from(csr.toString('pem')).toString('base64'),
      });
      const spki = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey));
      expect(Buffer.from(new x509.X509Certificate(res.chainPem[0]!).publicKey.rawData)).toEqual(spki);
    });

    it('refuses a CSR whose signature does not verify', async () => {
      const csr = await makeCsr(await genKeys());
      const der = Buffer.from(csr.rawData);
      der[der.length - 5] ^= 0xff;
      const r = await code(ca.signingCertificate({ token: await emailToken(), csr: der.toString('base64') }));
      expect(r).toMatch(/^E_PROOF_OF_POSSESSION: the CSR signature does not verify|^E_INVALID_ARGUMENT/);
    });

    it('refuses a public key that does not match the CSR', async () => {
      const csr = await makeCsr(await genKeys());
      const r = await code(
        ca.signingCertificate({
          token: await emailToken(),
          csr: csr.toString('pem'),
          publicKey: ecKey().pem,
        }),
      );
      expect(r).toBe('E_PROOF_OF_POSSESSION: publicKey does not match the public key in the CSR');
    });
  });

  it('keeps the same root and intermediate across restarts', async () => {
    const again = await CertificateAuthority.open({ dir: join(dir, 'ca'), verifier: ca.verifier, ctlog: ct });
    expect(again.chainPem).toEqual(ca.chainPem);
    const rootPem = await readFile(join(dir, 'ca', 'root.crt.pem'), 'utf8');
    expect(rootPem.trim()).toBe(ca.chainPem[1]!.trim());
    const root = new x509.X509Certificate(ca.chainPem[1]!);
    expect(root.getExtension(x509.BasicConstraintsExtension)!.ca).toBe(true);
    const inter = new x509.X509Certificate(ca.chainPem[0]!);
    expect(inter.getExtension(x509.BasicConstraintsExtension)!.pathLength).toBe(0);
  });

  it('issues without a CT log (no SCT extension) when none is configured', async () => {
    const bare = new CertificateAuthority(ca.hierarchy, ca.verifier);
    const k = ecKey();
    const res = await bare.signingCertificate({
      token: await emailToken(),
      publicKey: k.pem,
      proofOfPossession: proof(k.privateKey, 'alice@example.com'),
    });
    expect(res.embeddedSct).toBe(false);
    expect(new x509.X509Certificate(res.chainPem[0]!).getExtension(OID_CT_SCT_LIST)).toBeNull();
  });
});
