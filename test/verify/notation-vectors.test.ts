// Notary Project JWS envelopes produced by notation-go's own signer (test/fixtures/notation/README.md names the
// source of each file), verified by seal's notation verifier with notation's test trust store.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import { certificatesFromPem, parseCertificate } from '../../src/formats/x509.js';
import { type NotationTrust, verifyEnvelope } from '../../src/verify/notation/index.js';

const DIR = join(import.meta.dirname, '../fixtures/notation');
const read = (f: string) => new Uint8Array(readFileSync(join(DIR, f)));
const certs = (f: string) => certificatesFromPem(readFileSync(join(DIR, f), 'utf8')).map(parseCertificate);

const SUBJECT = {
  mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
  digest: 'sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e',
  size: 528,
};
const JWS = 'application/jose+json';
const NOW = Date.parse('2026-12-05T00:00:00Z') / 1000;

function trust(over: Partial<NotationTrust> = {}): NotationTrust {
  return {
    name: 'test',
    level: 'strict',
    roots: { ca: certs('NotationTestRoot.pem'), signingAuthority: [] },
    trustedIdentities: '*',
    ...over,
  };
}

async function codeOf(fn: () => unknown): Promise<string | undefined> {
  try {
    await fn();
  } catch (err) {
    if (isSealError(err)) return `${err.code}: ${err.message}`;
    throw err;
  }
  return undefined;
}

describe('notation-go signature envelopes', async () => {
  it('verifies ca_valid_sig_env.json (PS384, notary.x509) against NotationTestRoot in a ca store', async () => {
    const r = await verifyEnvelope(JWS, read('ca_valid_sig_env.json'), SUBJECT, trust(), NOW);
    expect(r.env.scheme).toBe('notary.x509');
    expect(r.env.targetArtifact.digest).toBe(SUBJECT.digest);
    expect(r.env.chain).toHaveLength(2);
    expect(r.logged).toEqual([]);
  });

  it('matches a trusted x509.subject identity of the notation test leaf and refuses another', async () => {
    const ok = await verifyEnvelope(JWS, read('ca_valid_sig_env.json'), SUBJECT, trust(), NOW);
    expect(ok.identity).toBe('*');
    expect(
      await codeOf(() =>
        verifyEnvelope(
          JWS,
          read('ca_valid_sig_env.json'),
          SUBJECT,
          trust({ trustedIdentities: [{ C: 'US', ST: 'WA', O: 'Someone Else' }] }),
          NOW,
        ),
      ),
    ).toMatch(/^E_IDENTITY_MISMATCH: .*not a trusted identity/);
  });

  it('verifies sa_valid_sig_env.json (signingAuthority) only from a signingAuthority store', async () => {
    const root = certs('NotationTestRoot.pem');
    const sa = trust({ roots: { ca: [], signingAuthority: root } });
    expect((await verifyEnvelope(JWS, read('sa_valid_sig_env.json'), SUBJECT, sa, NOW)).env.scheme).toBe(
      'notary.x509.signingAuthority',
    );
    expect(
      await codeOf(() => verifyEnvelope(JWS, read('sa_valid_sig_env.json'), SUBJECT, trust(), NOW)),
    ).toMatch(/^E_CERTIFICATE_INVALID: .*names no signingAuthority trust store/);
  });

  it('refuses ca_invalid_sig_env.json', async () => {
    expect(
      await codeOf(() => verifyEnvelope(JWS, read('ca_invalid_sig_env.json'), SUBJECT, trust(), NOW)),
    ).toMatch(/^E_SIGNATURE_INVALID: /);
  });

  it('refuses ca_expired_sig_env.json as expired under strict, logs it under permissive', async () => {
    expect(
      await codeOf(() => verifyEnvelope(JWS, read('ca_expired_sig_env.json'), SUBJECT, trust(), NOW)),
    ).toMatch(/^E_SIGNATURE_EXPIRED: .*2022-07-29T23:59:00/);
    const p = await verifyEnvelope(
      JWS,
      read('ca_expired_sig_env.json'),
      SUBJECT,
      trust({ level: 'permissive' }),
      NOW,
    );
    expect(p.logged.join('\n')).toContain('expiry: notation signature: the signature expired');
  });

  it('refuses the valid envelope with the wrong trust store, and for another image', async () => {
    expect(
      await codeOf(() =>
        verifyEnvelope(
          JWS,
          read('ca_valid_sig_env.json'),
          SUBJECT,
          trust({ roots: { ca: certs('wabbit-networks.io.crt'), signingAuthority: [] } }),
          NOW,
        ),
      ),
    ).toMatch(/^E_CERTIFICATE_INVALID: .*does not lead to a certificate in the ca trust store/);
    expect(
      await codeOf(() =>
        verifyEnvelope(JWS, read('ca_valid_sig_env.json'), { ...SUBJECT, size: 529 }, trust(), NOW),
      ),
    ).toMatch(/^E_SUBJECT_MISMATCH: /);
  });
});

describe('notation-go COSE envelopes', () => {
  const COSE = 'application/cose';
  const OCI_SUBJECT = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: 'sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0',
    size: 481,
  };

  it('verifies internal/testdata/cose_signature.sig (self-signed notation leaf as the ca store)', async () => {
    const { verifyCoseEnvelope } = await import('../../src/verify/notation/envelope.js');
    const bytes = read('cose_signature.sig');
    const leaf = (await verifyCoseEnvelope(bytes)).chain[0]!;
    const t = trust({ roots: { ca: [leaf], signingAuthority: [] } });
    const r = await verifyEnvelope(COSE, bytes, OCI_SUBJECT, t, NOW);
    expect(r.env.format).toBe('cose');
    expect(r.env.targetArtifact).toEqual(OCI_SUBJECT);
    expect(await codeOf(() => verifyEnvelope(COSE, bytes, OCI_SUBJECT, trust(), NOW))).toMatch(
      /^E_CERTIFICATE_INVALID: .*does not lead to a certificate in the ca trust store/,
    );
    const tampered = new Uint8Array(bytes);
    const at = Buffer.from(tampered).indexOf('19dbd2e4');
    tampered[at] = '2'.charCodeAt(0);
    expect(await codeOf(() => verifyEnvelope(COSE, tampered, OCI_SUBJECT, t, NOW))).toMatch(
      /^E_SIGNATURE_INVALID: .*does not verify with the leaf certificate/,
    );
  });

  it('verifies the signature of verifier/testdata/timestamp/sigEnv/coseWithTimestamp.sig', async () => {
    const { verifyCoseEnvelope } = await import('../../src/verify/notation/envelope.js');
    const env = await verifyCoseEnvelope(read('coseWithTimestamp.sig'));
    expect(env.targetArtifact.digest).toBe(
      'sha256:c0669ef34cdc14332c0f1ab0c2c01acb91d96014b172f1a76f3a39e63d1f0bda',
    );
    expect(env.signingTime).toBe(1718692031);
  });
});
