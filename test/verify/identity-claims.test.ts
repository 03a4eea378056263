// Pinning Fulcio CI claims (extensions .9–.24, formats/fulcio-claims.ts): exact match on the DER UTF8String's
// strictly decoded value; a certificate without the extension fails naming it; one whose extension is not a
// well-formed UTF8String is refused (a certificate with an extension twice does not parse at all) (E_CERTIFICATE_INVALID), never compared.

import { webcrypto } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { x509 } from '../../src/ca/x509.js';
import { FULCIO_CLAIMS } from '../../src/formats/fulcio-claims.js';
import { parseCertificate } from '../../src/formats/x509.js';
import { certificateIdentity, checkIdentity } from '../../src/verify/bundle/identity.js';
import type { IdentityExpectation } from '../../src/verify/types.js';

const SAN = 'https://gitlab.example/grp/proj//.gitlab-ci.yml@refs/tags/v1.0.0';
const ISSUER = 'https://gitlab.example';

/** DER UTF8String of raw content bytes. */
const utf8der = (content: Uint8Array) => new Uint8Array([0x0c, content.length, ...content]);
const text = (s: string) => utf8der(new TextEncoder().encode(s));
const claimOid = (name: string) => FULCIO_CLAIMS.find((c) => c.name === name)!.oid;

async function certificate(extensions: [oid: string, value: Uint8Array][]) {
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '03',
    name: 'CN=claims',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 600_000),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    keys,
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: SAN }]),
      new x509.Extension('1.3.6.1.4.1.57264.1.8', false, text(ISSUER)),
      ...extensions.map(([oid, value]) => new x509.Extension(oid, false, value)),
    ],
  });
  return certificateIdentity(parseCertificate(new Uint8Array(cert.rawData)));
}

describe('Fulcio claim pins', () => {
  let id: Awaited<ReturnType<typeof certificate>>;
  const want = (extensions: IdentityExpectation['extensions']): IdentityExpectation => ({
    subject: SAN,
    issuer: ISSUER,
    extensions,
  });

  beforeAll(async () => {
    id = await certificate([
      [claimOid('sourceRepositoryUri'), text('https://gitlab.example/grp/proj')],
      [claimOid('sourceRepositoryRef'), text('refs/tags/v1.0.0')],
      // a raw string where a DER UTF8String belongs (the .2–.6 encoding, wrong for .9+)
      [claimOid('buildTrigger'), new TextEncoder().encode('push')],
      // a UTF8String whose content is not UTF-8
      [claimOid('runnerEnvironment'), utf8der(new Uint8Array([0x67, 0xff, 0x68]))],
    ]);
  });

  it('passes when every pinned claim is the exact value', () => {
    expect(
      checkIdentity(
        id,
        want({
          sourceRepositoryUri: 'https://gitlab.example/grp/proj',
          sourceRepositoryRef: 'refs/tags/v1.0.0',
        }),
      ),
    ).toBeUndefined();
  });

  it('fails another value, exactly (no prefix, no case folding)', () => {
    for (const other of [
      'https://gitlab.example/grp/pro',
      'https://gitlab.example/grp/proj/',
      'HTTPS://gitlab.example/grp/proj',
    ])
      expect(checkIdentity(id, want({ sourceRepositoryUri: other }))).toMatchObject({
        code: 'E_IDENTITY_MISMATCH',
        message: `Source Repository URI "https://gitlab.example/grp/proj" is not "${other}"`,
      });
  });

  it('fails a claim the certificate does not carry, naming the extension', () => {
    expect(checkIdentity(id, want({ deploymentEnvironment: 'production' }))).toMatchObject({
      code: 'E_IDENTITY_MISMATCH',
      message:
        'the certificate has no Deployment Environment extension (1.3.6.1.4.1.57264.1.23); "production" was required',
    });
  });

  it('refuses to compare an extension that is not a well-formed DER UTF8String', () => {
    expect(checkIdentity(id, want({ buildTrigger: 'push' }))).toMatchObject({
      code: 'E_CERTIFICATE_INVALID',
      message: expect.stringContaining('Build Trigger extension (1.3.6.1.4.1.57264.1.20)'),
    });
    expect(checkIdentity(id, want({ runnerEnvironment: 'g\ufffdh' }))).toMatchObject({
      code: 'E_CERTIFICATE_INVALID',
      message: expect.stringContaining('is not valid UTF-8'),
    });
    // unpinned, the same malformed extensions do not fail the identity
    expect(checkIdentity(id, want({}))).toBeUndefined();
  });

  it('names every claim by Fulcio extension .9–.24, one flag each', () => {
    expect(FULCIO_CLAIMS.map((c) => Number(c.oid.split('.').pop()))).toEqual(
      Array.from({ length: 16 }, (_, i) => i + 9),
    );
    expect(new Set(FULCIO_CLAIMS.map((c) => c.flag)).size).toBe(16);
    expect(FULCIO_CLAIMS.find((c) => c.oid.endsWith('.12'))?.flag).toBe('certificate-source-repository-uri');
  });
});
