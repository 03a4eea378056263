import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { isSealError } from '../../src/errors.js';
import { verifyEd25519ph } from '../../src/keys/ed25519ph.js';
import { EphemeralSigner } from '../../src/keys/ephemeral.js';
import { writeKeyPair } from '../../src/keys/key-files.js';
import { resolvePassword } from '../../src/keys/password.js';
import { loadPublicKey, publicKeyFromCertificate, publicKeyHint } from '../../src/keys/public-key.js';
import { KeySigner, loadSigner, loadVerifier, parsePrivateKey } from '../../src/keys/signer.js';
import { createHash } from 'node:crypto';

const msg = new TextEncoder().encode('payload bytes');

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return isSealError(e) ? e.code : `not a SealError: ${String(e)}`;
  }
  return undefined;
}

describe('algorithms', () => {
  const cases: [string, () => KeyObject, string][] = [
    ['P-256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, 'ecdsa-p256-sha256'],
    ['P-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey, 'ecdsa-p384-sha384'],
    ['P-521', () => generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey, 'ecdsa-p521-sha512'],
    ['RSA', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'rsa-pkcs1-sha256'],
    ['RSA-PSS', () => generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey, 'rsa-pss-sha256'],
    ['Ed25519', () => generateKeyPairSync('ed25519').privateKey, 'ed25519'],
  ];
  for (const [name, make, alg] of cases) {
    it(`signs and verifies with ${name} as ${alg}`, async () => {
      const signer = new KeySigner(make());
      expect(signer.algorithm).toBe(alg);
      const sig = await signer.sign(msg);
      const verifier = loadPublicKey(signer.publicKeyPem());
      expect(verifier.algorithm).toBe(alg);
      expect(verifier.verify(msg, sig)).toBe(true);
      expect(verifier.verify(new TextEncoder().encode('payload bytez'), sig)).toBe(false);
      expect(verifier.verify(msg, sig.subarray(1))).toBe(false);
    });
  }

  it('encodes ECDSA signatures as ASN.1 DER', async () => {
    const sig = await EphemeralSigner.create().sign(msg);
    expect(sig[0]).toBe(0x30);
    expect(sig[1]).toBe(sig.length - 2);
  });

  it('hashes P-384 with SHA-384 (a SHA-256 verifier rejects it)', async () => {
    const { createVerify } = await import('node:crypto');
    const key = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const sig = await new KeySigner(key.privateKey).sign(msg);
    expect(createVerify('sha384').update(msg).verify({ key: key.publicKey, dsaEncoding: 'der' }, sig)).toBe(
      true,
    );
    expect(createVerify('sha256').update(msg).verify({ key: key.publicKey, dsaEncoding: 'der' }, sig)).toBe(
      false,
    );
  });

  it('refuses small RSA keys and unsupported curves', async () => {
    expect(
      await codeOf(() => new KeySigner(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey)),
    ).toBe('E_KEY_UNSUPPORTED');
    expect(
      await codeOf(() => new KeySigner(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey)),
    ).toBe('E_KEY_UNSUPPORTED');
  });

  it('computes the key hint as base64(sha256(SPKI DER))', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const expected = createHash('sha256')
      .update(publicKey.export({ type: 'spki', format: 'der' }))
      .digest('base64');
    expect(publicKeyHint(publicKey)).toBe(expected);
    expect(loadPublicKey(publicKey).hint).toBe(expected);
  });
});

describe('Ed25519ph', () => {
  // RFC 8032 §7.3 test vector (Ed25519ph, message "abc").
  const seed = '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42';
  const pub = 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf';
  const sig = Buffer.from(
    '98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae4131f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406',
    'hex',
  );
  const privateKey = createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seed, 'hex')]),
    format: 'der',
    type: 'pkcs8',
  });

  it('verifies the RFC 8032 Ed25519ph vector, and Ed25519 verifiers accept it', () => {
    const verifier = loadPublicKey(privateKey);
    expect(Buffer.from(verifier.keyObject.export({ format: 'jwk' }).x!, 'base64url').toString('hex')).toBe(
      pub,
    );
    const abc = new TextEncoder().encode('abc');
    expect(verifyEd25519ph(verifier.keyObject, createHash('sha512').update(abc).digest(), sig)).toBe(true);
    expect(verifier.verify(abc, sig)).toBe(true);
    expect(verifier.verify(new TextEncoder().encode('abd'), sig)).toBe(false);
    const tampered = Buffer.from(sig);
    tampered[10]! ^= 1;
    expect(verifier.verify(abc, tampered)).toBe(false);
  });

  it('signs pure Ed25519', async () => {
    const signer = new KeySigner(privateKey);
    const s = await signer.sign(msg);
    const { verify } = await import('node:crypto');
    expect(verify(null, msg, privateKey, s)).toBe(true);
  });
});

describe('loading keys', () => {
  it('reads PKCS#8, SEC1 (with EC PARAMETERS) and PKCS#1 private keys', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const sec1 = ec.export({ type: 'sec1', format: 'pem' }).toString();
    const withParams = `-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n${sec1}`;
    for (const pem of [ec.export({ type: 'pkcs8', format: 'pem' }).toString(), sec1, withParams]) {
      expect((await parsePrivateKey(pem)).asymmetricKeyType).toBe('ec');
    }
    expect(
      (await parsePrivateKey(rsa.export({ type: 'pkcs1', format: 'pem' }).toString())).asymmetricKeyType,
    ).toBe('rsa');
  });

  it('reads password-protected PKCS#8 and asks for the password only then', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const pem = ec
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' })
      .toString();
    let asked = 0;
    const ask = async () => {
      asked++;
      return 'pw';
    };
    expect((await parsePrivateKey(pem, ask)).asymmetricKeyType).toBe('ec');
    expect(asked).toBe(1);
    await parsePrivateKey(ec.export({ type: 'pkcs8', format: 'pem' }).toString(), ask);
    expect(asked).toBe(1);
    expect(await codeOf(parsePrivateKey(pem, 'nope'))).toBe('E_KEY_PASSWORD');
  });

  it('loads signers from a file, env:// and inline PEM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seal-keys-'));
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    writeFileSync(join(dir, 'k.pem'), pem);
    const a = await loadSigner(join(dir, 'k.pem'));
    const b = await loadSigner('env://SEAL_TEST_KEY', { env: { SEAL_TEST_KEY: pem } });
    const c = await loadSigner(pem);
    expect(new Set([a.publicKeyPem(), b.publicKeyPem(), c.publicKeyPem()]).size).toBe(1);
    expect(await codeOf(loadSigner('env://MISSING', { env: {} }))).toBe('E_KEY_INVALID');
  });

  it('loads verifiers from a file, stdin, env:// and certificates', async () => {
    const signer = EphemeralSigner.create();
    const dir = mkdtempSync(join(tmpdir(), 'seal-keys-'));
    writeFileSync(join(dir, 'k.pub'), signer.publicKeyPem());
    const io = memoryIO({ PUB: signer.publicKeyPem() }, signer.publicKeyPem());
    for (const source of [join(dir, 'k.pub'), '-', 'env://PUB']) {
      const v = await loadVerifier(source, io);
      expect(v.verify(msg, await signer.sign(msg))).toBe(true);
    }
    // A self-signed certificate's key.
    const { X509Certificate } = await import('node:crypto');
    const certPem = readFileSync(new URL('../fixtures/keys/self-signed.crt', import.meta.url), 'utf8');
    const fromCert = publicKeyFromCertificate(certPem);
    expect(fromCert.pem).toBe(new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'pem' }));
    expect((await loadVerifier(certPem)).hint).toBe(fromCert.hint);
    expect(
      await codeOf(
        loadVerifier(
          generateKeyPairSync('ec', { namedCurve: 'P-256' })
            .privateKey.export({ type: 'pkcs8', format: 'pem' })
            .toString(),
        ),
      ),
    ).toBe('E_KEY_INVALID');
    expect(await codeOf(async () => publicKeyFromCertificate(new Uint8Array([1, 2, 3])))).toBe(
      'E_CERTIFICATE_INVALID',
    );
  });

  it('keeps a certificate chain on ephemeral signers', async () => {
    const s = EphemeralSigner.create('ecdsa-p384').withCertificateChain(['leaf', 'root']);
    expect(s.algorithm).toBe('ecdsa-p384-sha384');
    expect(s.certificateChainPem).toEqual(['leaf', 'root']);
    expect(s.verifier().verify(msg, await s.sign(msg))).toBe(true);
  });
});

describe('resolvePassword', () => {
  it('prefers SEAL_PASSWORD, then COSIGN_PASSWORD, even when empty', async () => {
    expect(
      Buffer.from(await resolvePassword(memoryIO({ SEAL_PASSWORD: 'a', COSIGN_PASSWORD: 'b' }))).toString(),
    ).toBe('a');
    expect(Buffer.from(await resolvePassword(memoryIO({ COSIGN_PASSWORD: '' }, 'stdin')))).toHaveLength(0);
  });

  it('reads all of stdin when there is no terminal', async () => {
    expect(Buffer.from(await resolvePassword(memoryIO({}, 'pw\n'))).toString()).toBe('pw\n');
  });

  it('asks twice on a terminal when confirming and rejects a mismatch', async () => {
    const prompts: string[] = [];
    const answers = ['one', 'two'];
    const io = {
      ...memoryIO({}),
      isTTY: true,
      readSecret: async (p: string) => {
        prompts.push(p);
        return answers.shift()!;
      },
    };
    expect(await codeOf(resolvePassword(io, { confirm: true }))).toBe('E_KEY_PASSWORD');
    expect(prompts).toEqual(['Enter password for private key: ', 'Enter password for private key again: ']);
  });
});

describe('writeKeyPair', () => {
  it('writes 0600/0644 files and refuses to overwrite without -y', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seal-keys-'));
    const prefix = join(dir, 'cosign');
    await writeKeyPair(prefix, { privateKeyPem: 'PRIV', publicKeyPem: 'PUB' });
    expect(statSync(`${prefix}.key`).mode & 0o777).toBe(0o600);
    expect(statSync(`${prefix}.pub`).mode & 0o777).toBe(0o644);
    expect(await codeOf(writeKeyPair(prefix, { privateKeyPem: 'X', publicKeyPem: 'Y' }))).toBe('E_IO');
    expect(readFileSync(`${prefix}.key`, 'utf8')).toBe('PRIV');
    await writeKeyPair(prefix, { privateKeyPem: 'X', publicKeyPem: 'Y' }, { overwrite: true });
    expect(readFileSync(`${prefix}.key`, 'utf8')).toBe('X');
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir).sort()).toEqual(['cosign.key', 'cosign.pub']);
  });
});

describe('signStream', () => {
  it('produces signatures the one-shot verifier accepts, for every algorithm', async () => {
    const keys = [
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
      generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey,
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
      generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey,
      generateKeyPairSync('ed25519').privateKey,
    ];
    const parts = [new TextEncoder().encode('payload '), new TextEncoder().encode('bytes')];
    async function* chunks() {
      yield* parts;
    }
    for (const key of keys) {
      const signer = new KeySigner(key);
      const sig = await signer.signStream(chunks());
      expect(signer.verifier().verify(msg, sig), signer.algorithm).toBe(true);
    }
  });
});
