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

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (isSealError(err)) return `${err.code}: ${err.message}`;
    throw err;
  }
  return undefined;
}

describe('notation-go signature envelopes', () => {
  it('verifies ca_valid_sig_env.json (PS384, notary.x509) against NotationTestRoot in a ca store', () => {
    const r = verifyEnvelope(JWS, read('ca_valid_sig_env.json'), SUBJECT, trust(), NOW);
    expect(r.env.scheme).toBe('notary.x509');
    expect(r.env.targetArtifact.digest).toBe(SUBJECT.digest);
    expect(r.env.chain).toHaveLength(2);
    expect(r.logged).toEqual([]);
  });

  it('matches a trusted x509.subject identity of the notation test leaf and refuses another', () => {
    const leafSubject = verifyEnvelope(JWS, read('ca_valid_sig_env.json'), SUBJECT, trust(), NOW).env
      .chain[0]!;
    expect(leafSubject).toBeDefined();
    expect(
      codeOf(() =>
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

  it('verifies sa_valid_sig_env.json (signingAuthority) only from a signingAuthority store', () => {
    const root = certs('NotationTestRoot.pem');
    const sa = trust({ roots: { ca: [], signingAuthority: root } });
    expect(verifyEnvelope(JWS, read('sa_valid_sig_env.json'), SUBJECT, sa, NOW).env.scheme).toBe(
      'notary.x509.signingAuthority',
    );
    expect(codeOf(() => verifyEnvelope(JWS, read('sa_valid_sig_env.json'), SUBJECT, trust(), NOW))).toMatch(
      /^E_CERTIFICATE_INVALID: .*names no signingAuthority trust store/,
    );
  });

  it('refuses ca_invalid_sig_env.json', () => {
    expect(codeOf(() => verifyEnvelope(JWS, read('ca_invalid_sig_env.json'), SUBJECT, trust(), NOW))).toMatch(
      /^E_SIGNATURE_INVALID: /,
    );
  });

  it('refuses ca_expired_sig_env.json as expired under strict, logs it under permissive', () => {
    expect(codeOf(() => verifyEnvelope(JWS, read('ca_expired_sig_env.json'), SUBJECT, trust(), NOW))).toMatch(
      /^E_SIGNATURE_EXPIRED: .*2022-07-29T23:59:00/,
    );
    const p = verifyEnvelope(
      JWS,
      read('ca_expired_sig_env.json'),
      SUBJECT,
      trust({ level: 'permissive' }),
      NOW,
    );
    expect(p.logged.join('\n')).toContain('expiry: notation signature: the signature expired');
  });

  it('refuses the valid envelope with the wrong trust store, and for another image', () => {
    expect(
      codeOf(() =>
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
      codeOf(() =>
        verifyEnvelope(JWS, read('ca_valid_sig_env.json'), { ...SUBJECT, size: 529 }, trust(), NOW),
      ),
    ).toMatch(/^E_SUBJECT_MISMATCH: /);
  });
});
