import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import { KeySigner } from '../../src/keys/signer.js';
import { Digest } from '../../src/oci/digest.js';
import { attestBlob, attestDigest, attestStatement, fileSha256 } from '../../src/sign/attest-blob.js';
import { verifyBlobAttestation } from '../../src/verify/blob-attestation.js';

const newSigner = () => new KeySigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);

describe('attest-blob and verify-blob-attestation (library, key, no log)', () => {
  let dir: string;
  let file: string;
  const signer = newSigner();
  const expectations = { keys: [signer.publicKeyPem()], ignoreTlog: true };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-attest-blob-'));
    file = join(dir, 'release.tar');
    await writeFile(file, randomBytes(10_000));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('names the file by base name and sha256, and verifies with the predicate type', async () => {
    const r = await attestBlob(file, { signer, type: 'openvex', predicate: { statements: [] } });
    const d = await fileSha256(file);
    expect(r.digest.equals(d)).toBe(true);
    const payload = JSON.parse(Buffer.from(r.envelope.payload).toString('utf8'));
    expect(payload.subject).toEqual([{ name: 'release.tar', digest: { sha256: d.hex } }]);
    const v = verifyBlobAttestation(
      r.bundle,
      { algorithm: 'sha256', hex: d.hex },
      {
        ...expectations,
        predicateType: 'https://openvex.dev/ns',
      },
      undefined,
    );
    expect(v.ok, v.message).toBe(true);
    expect(v.signatures[0]!.payload).toMatchObject({ predicateType: 'https://openvex.dev/ns' });
  });

  it('refuses each way with its own code', async () => {
    const d = await fileSha256(file);
    const r = await attestDigest(
      { name: 'x', digest: d },
      { signer, type: 'link', predicate: { name: 'a' } },
    );
    const at = { algorithm: 'sha256' as const, hex: d.hex };
    const link = { ...expectations, predicateType: 'https://in-toto.io/Link/v1' };
    expect(
      verifyBlobAttestation(
        r.bundle,
        at,
        { ...link, predicateType: 'https://slsa.dev/provenance/v1' },
        undefined,
      ).code,
    ).toBe('E_PREDICATE_TYPE_MISMATCH');
    expect(
      verifyBlobAttestation(
        r.bundle,
        { algorithm: 'sha256', hex: Digest.of(randomBytes(4)).hex },
        link,
        undefined,
      ).code,
    ).toBe('E_SUBJECT_MISMATCH');
    const other = { ...link, keys: [newSigner().publicKeyPem()] };
    expect(verifyBlobAttestation(r.bundle, at, other, undefined).code).toBe('E_SIGNATURE_INVALID');
    const edited = structuredClone(r.bundle) as { dsseEnvelope: { payload: string } };
    const statement = JSON.parse(Buffer.from(edited.dsseEnvelope.payload, 'base64').toString('utf8'));
    statement.predicate.name = 'b';
    edited.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
    expect(verifyBlobAttestation(edited, at, link, undefined).code).toBe('E_SIGNATURE_INVALID');
    // The log is required unless ignored: a bundle without entries fails.
    expect(verifyBlobAttestation(r.bundle, at, { ...link, ignoreTlog: false }, undefined).ok).toBe(false);
    let code: string | undefined;
    try {
      verifyBlobAttestation(r.bundle, at, expectations, undefined);
    } catch (err) {
      if (isSealError(err)) code = err.code;
    }
    expect(code).toBe('E_INVALID_ARGUMENT');
  });

  it('signs a complete statement as given and checks its subject names the file', async () => {
    const d = await fileSha256(file);
    const bytes = new TextEncoder().encode(
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ name: 'a', digest: { sha256: d.hex } }],
        predicateType: 'https://example.com/p/v1',
        predicate: {},
      }),
    );
    const r = await attestStatement(bytes, { signer, digest: d });
    expect(Buffer.from(r.envelope.payload).equals(Buffer.from(bytes))).toBe(true);
    await expect(attestStatement(bytes, { signer, digest: Digest.of(randomBytes(3)) })).rejects.toMatchObject(
      {
        code: 'E_SUBJECT_MISMATCH',
      },
    );
    await expect(
      attestStatement(new TextEncoder().encode('{"_type":"x"}'), { signer }),
    ).rejects.toMatchObject({
      code: 'E_PAYLOAD_INVALID',
    });
  });
});
