// Signed timestamps checked by seal's verifier: seal's TSA and an openssl TSA (a CA made by the openssl CLI)
// accepted with their chains; a tampered token, a TSA certificate without the critical timeStamping EKU, a
// timestamp over other bytes, refused, each with its own code.

import { createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { certificatesFromPem, parseCertificate } from '../../src/formats/x509.js';
import { KeySigner } from '../../src/keys/signer.js';
import { loadOrCreateTsaFiles, type TimestampAuthority } from '../../src/tsa/authority.js';
import { issueTimestampResponse } from '../../src/tsa/token.js';
import {
  type SignedTimestamp,
  parseSignedTimestamp,
  TimestampError,
  verifySignedTimestamp,
} from '../../src/verify/bundle/tsa.js';
import type { CertificateAuthority } from '../../src/verify/trust.js';
import {
  describeWithOpenssl,
  issue,
  makeOpensslCA,
  type OpensslCA,
  opensslTimestamp,
} from '../support/openssl-ca.js';
import { createHash } from 'node:crypto';

const always = { start: Number.NEGATIVE_INFINITY, end: Number.POSITIVE_INFINITY };
const authority = (pemOrDer: string | Uint8Array[]): CertificateAuthority => ({
  chain: (typeof pemOrDer === 'string' ? certificatesFromPem(pemOrDer) : pemOrDer).map(parseCertificate),
  validFor: always,
});

function refusal(fn: () => unknown): TimestampError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TimestampError) return err;
    throw err;
  }
  throw new Error('expected a TimestampError');
}

describeWithOpenssl('signed timestamps', () => {
  let dir: string;
  let ca: OpensslCA;
  let tsa: TimestampAuthority;
  const signature = new TextEncoder().encode('the bundle signature bytes');
  const request = (certReq = false) => ({
    hashAlgorithm: 'sha256' as const,
    hashedMessage: new Uint8Array(createHash('sha256').update(signature).digest()),
    certReq,
  });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-tsa-verify-'));
    ca = await makeOpensslCA(dir, 'alice@example.com');
    tsa = await loadOrCreateTsaFiles(join(dir, 'seal-tsa'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("accepts seal's TSA with its chain, and refuses a tampered token or other bytes (E_TIMESTAMP_INVALID)", async () => {
    const der = await tsa.timestamp(request());
    const genTime = verifySignedTimestamp(der, signature, [authority(tsa.chain)]);
    expect(Math.abs(genTime - Date.now())).toBeLessThan(60_000);

    // one bit of the genTime inside the signed TSTInfo
    const ts: SignedTimestamp = parseSignedTimestamp(der);
    const at = Buffer.from(der).indexOf(Buffer.from(ts.tstInfo));
    const tampered = Uint8Array.from(der);
    // GeneralizedTime, 15 bytes (YYYYMMDDHHMMSSZ): a year later, inside every certificate's validity
    const genTimeAt = Buffer.from(tampered).indexOf(Buffer.from([0x18, 0x0f]), at) + 2 + 3;
    tampered[genTimeAt] = 0x30 + ((tampered[genTimeAt]! - 0x30 + 1) % 10);
    const t = refusal(() => verifySignedTimestamp(tampered, signature, [authority(tsa.chain)]));
    expect(t.code).toBe('E_TIMESTAMP_INVALID');
    expect(t.message).toMatch(/TSA signature does not verify/);

    const other = refusal(() =>
      verifySignedTimestamp(der, new Uint8Array([1, 2, 3]), [authority(tsa.chain)]),
    );
    expect(other.code).toBe('E_TIMESTAMP_INVALID');
    expect(other.message).toMatch(/message imprint/);

    // another TSA's chain: not the signer
    const another = await loadOrCreateTsaFiles(join(dir, 'another-tsa'));
    expect(refusal(() => verifySignedTimestamp(der, signature, [authority(another.chain)])).code).toBe(
      'E_TIMESTAMP_INVALID',
    );
  });

  it('accepts a root-only TSA entry when the token embeds the signing certificate (certReq)', async () => {
    const der = await tsa.timestamp(request(true));
    expect(verifySignedTimestamp(der, signature, [authority([tsa.chain[1]!])])).toBeGreaterThan(0);
    const bare = await tsa.timestamp(request(false));
    expect(refusal(() => verifySignedTimestamp(bare, signature, [authority([tsa.chain[1]!])])).code).toBe(
      'E_TIMESTAMP_INVALID',
    );
  });

  it('accepts a timestamp from openssl ts -reply with the matching chain', async () => {
    const file = join(dir, 'sig.bin');
    await writeFile(file, signature);
    await opensslTimestamp(ca, file, join(dir, 'sig.tsr'));
    const der = new Uint8Array(await readFile(join(dir, 'sig.tsr')));
    expect(verifySignedTimestamp(der, signature, [authority(ca.tsaChainPem)])).toBeGreaterThan(0);
  });

  it('refuses a TSA certificate without the critical timeStamping-only EKU (E_TSA_CERTIFICATE_INVALID)', async () => {
    const root = { pem: 'root.pem', key: 'root.key' };
    const variants = {
      'no-eku': ['', /no extended key usage/],
      'eku-not-critical': ['extendedKeyUsage=timeStamping\n', /not critical/],
      'eku-extra': ['extendedKeyUsage=critical,timeStamping,codeSigning\n', /not timeStamping alone/],
    } as const;
    for (const [name, [eku, why]] of Object.entries(variants)) {
      await issue(
        dir,
        name,
        `/CN=${name}`,
        root,
        `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n${eku}`,
      );
      const pem = await readFile(join(dir, `${name}.pem`), 'utf8');
      const signer = new KeySigner(createPrivateKey(await readFile(join(dir, `${name}.key`), 'utf8')));
      const chain = [...certificatesFromPem(pem), ...certificatesFromPem(ca.rootPem)];
      const der = await issueTimestampResponse(
        request(),
        { signer, chain, policy: '1.3.6.1.4.1.57264.2', accuracySeconds: 1 },
        new Date(),
      );
      const err = refusal(() => verifySignedTimestamp(der, signature, [authority(chain)]));
      expect(err.code, name).toBe('E_TSA_CERTIFICATE_INVALID');
      expect(err.message, name).toMatch(why);
    }
  });
});
