// KMS keys against faithful local stand-ins of each provider's wire API (test/support/kms-standins.ts):
// public keys fetched and cached, signatures made inside the KMS, and each failure a specific E_KMS_* error.

import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ErrorCode, isSealError } from '../../src/errors.js';
import { clearKmsKeyCache, fetchKmsPublicKey, parseKmsUri } from '../../src/keys/kms/index.js';
import { loadSigner, loadVerifier } from '../../src/keys/signer.js';
import {
  type AwsKmsStandIn,
  type GcpKmsStandIn,
  p256,
  type StandIn,
  startAwsKms,
  startAzureKeyVault,
  startGcpKms,
  startVaultTransit,
} from '../support/kms-standins.js';

async function refusal(p: Promise<unknown>, code: ErrorCode): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(isSealError(err, code), String(err)).toBe(true);
    return (err as Error).message;
  }
  throw new Error(`expected ${code}`);
}

const message = new TextEncoder().encode('{"critical":{"image":{"docker-manifest-digest":"sha256:00"}}}');

beforeEach(() => clearKmsKeyCache());

describe('KMS URIs (cosign grammars)', () => {
  it('reads the forms cosign documents for each provider', () => {
    expect(parseKmsUri('awskms:///1234abcd-12ab-34cd-56ef-1234567890ab')).toMatchObject({
      keyId: '1234abcd-12ab-34cd-56ef-1234567890ab',
    });
    expect(
      parseKmsUri(
        'awskms://localhost:4566/arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      ),
    ).toMatchObject({ endpoint: 'localhost:4566', arnRegion: 'us-east-2' });
    expect(parseKmsUri('awskms:///alias/ExampleAlias')).toMatchObject({ keyId: 'alias/ExampleAlias' });
    expect(parseKmsUri('awskms:///arn:aws:kms:us-east-2:111122223333:alias/ExampleAlias')).toMatchObject({
      keyId: 'arn:aws:kms:us-east-2:111122223333:alias/ExampleAlias',
    });
    expect(
      parseKmsUri('gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k/versions/3'),
    ).toMatchObject({
      keyName: 'projects/p/locations/global/keyRings/r/cryptoKeys/k',
      version: '3',
    });
    expect(parseKmsUri('gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k')).not.toHaveProperty(
      'version',
    );
    expect(parseKmsUri('azurekms://myvault.vault.azure.net/mykey')).toMatchObject({
      vaultHost: 'myvault.vault.azure.net',
      keyName: 'mykey',
    });
    expect(parseKmsUri('hashivault://release-key')).toMatchObject({ keyName: 'release-key' });
  });

  it.each([
    'awskms://',
    'awskms:///not-a-key',
    'awskms:///arn:aws:kms:us-east-2:1111:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    'gcpkms://projects/p/keyRings/r',
    'azurekms://vault',
    'hashivault://key/path',
    'hashivault://',
  ])('refuses %s with E_KMS_URI naming the expected form', async (uri) => {
    expect(
      await refusal(
        Promise.resolve().then(() => parseKmsUri(uri)),
        'E_KMS_URI',
      ),
    ).toMatch(/expected/);
  });
});

describe('AWS KMS (SigV4-signed JSON 1.1)', () => {
  let kms: AwsKmsStandIn;
  const id = '1234abcd-12ab-34cd-56ef-1234567890ab';
  const key = p256();
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    AWS_REGION: 'us-east-2',
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
    AWS_SESSION_TOKEN: 'session-token',
    AWS_ENDPOINT_URL: kms.url,
    ...extra,
  });
  beforeAll(async () => {
    kms = await startAwsKms({
      region: 'us-east-2',
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      sessionToken: 'session-token',
      keys: [
        {
          id,
          alias: 'release',
          privateKey: key,
          keySpec: 'ECC_NIST_P256',
          signingAlgorithms: ['ECDSA_SHA_256'],
        },
        {
          id: '99999999-12ab-34cd-56ef-1234567890ab',
          privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
          keySpec: 'RSA_2048',
          keyUsage: 'ENCRYPT_DECRYPT',
          signingAlgorithms: [],
        },
      ],
    });
  });
  afterAll(() => kms.close());

  it('signs inside KMS by alias; the signature verifies under the key and under the key fetched by ARN', async () => {
    const signer = await loadSigner('awskms:///alias/release', { env: env() });
    expect(signer.algorithm).toBe('ecdsa-p256-sha256');
    expect(signer.publicKeyPem()).toBe(createPublicKey(key).export({ type: 'spki', format: 'pem' }));
    const sig = await signer.sign(message);
    expect(verify('sha256', message, createPublicKey(key), sig)).toBe(true);
    const verifier = await loadVerifier(`awskms:///${kms.arnOf(id)}`, { env: env() });
    expect(verifier.verify(message, sig)).toBe(true);
    expect(verifier.verify(new TextEncoder().encode('other'), sig)).toBe(false);
    expect(kms.requests.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(3);
  });

  it('fetches a public key once per process (concurrent callers share the request)', async () => {
    const before = kms.requests.length;
    const keys = await Promise.all([1, 2, 3].map(() => fetchKmsPublicKey(`awskms:///${id}`, env())));
    await fetchKmsPublicKey(`awskms:///${id}`, env());
    expect(kms.requests.length - before).toBe(1);
    expect(keys[0]!.key.equals(keys[2]!.key)).toBe(true);
  });

  it('a wrong secret fails SigV4 at the KMS: E_KMS_AUTH with its reason', async () => {
    const why = await refusal(
      fetchKmsPublicKey(`awskms:///${id}`, env({ AWS_SECRET_ACCESS_KEY: 'wrong' })),
      'E_KMS_AUTH',
    );
    expect(why).toMatch(/InvalidSignatureException/);
    expect(
      await refusal(fetchKmsPublicKey(`awskms:///${id}`, env({ AWS_SESSION_TOKEN: '' })), 'E_KMS_AUTH'),
    ).toMatch(/UnrecognizedClient/);
    expect(
      await refusal(fetchKmsPublicKey(`awskms:///${id}`, env({ AWS_ACCESS_KEY_ID: '' })), 'E_KMS_AUTH'),
    ).toMatch(/AWS_ACCESS_KEY_ID/);
  });

  it('a key that does not exist is E_KMS_KEY; an encryption key is E_KMS_KEY naming its usage', async () => {
    expect(await refusal(fetchKmsPublicKey('awskms:///alias/nope', env()), 'E_KMS_KEY')).toMatch(
      /NotFoundException/,
    );
    expect(
      await refusal(fetchKmsPublicKey('awskms:///99999999-12ab-34cd-56ef-1234567890ab', env()), 'E_KMS_KEY'),
    ).toMatch(/ENCRYPT_DECRYPT/);
  });

  it('without a region and without an ARN the reference is refused before any request', async () => {
    const before = kms.requests.length;
    expect(
      await refusal(
        fetchKmsPublicKey(`awskms:///${id}`, env({ AWS_REGION: '', AWS_DEFAULT_REGION: '' })),
        'E_KMS_URI',
      ),
    ).toMatch(/AWS_REGION/);
    expect(kms.requests.length).toBe(before);
  });
});

describe('Vault transit', () => {
  let vault: StandIn;
  const v1 = p256();
  const v2 = p256();
  const ed = generateKeyPairSync('ed25519').privateKey;
  beforeAll(async () => {
    vault = await startVaultTransit({
      token: 's.root',
      mount: 'signing',
      keys: [
        { name: 'release', type: 'ecdsa-p256', versions: [v1, v2] },
        { name: 'ed', type: 'ed25519', versions: [ed] },
        { name: 'secret', type: 'aes256-gcm96', versions: [] },
      ],
    });
  });
  afterAll(() => vault.close());
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    VAULT_ADDR: vault.url,
    VAULT_TOKEN: 's.root',
    TRANSIT_SECRET_ENGINE_PATH: 'signing',
    HOME: '/nonexistent',
    ...extra,
  });

  it('signs with the latest version (ECDSA, prehashed) and Ed25519 (the message itself)', async () => {
    const signer = await loadSigner('hashivault://release', { env: env() });
    const sig = await signer.sign(message);
    expect(verify('sha256', message, createPublicKey(v2), sig)).toBe(true);
    expect(
      vault.requests.some((r) => r.path === '/v1/signing/sign/release/sha2-256' && r.status === 200),
    ).toBe(true);
    const edSigner = await loadSigner('hashivault://ed', { env: env() });
    expect(edSigner.algorithm).toBe('ed25519');
    expect(verify(null, message, createPublicKey(ed), await edSigner.sign(message))).toBe(true);
  });

  it('reads the token from ~/.vault-token when VAULT_TOKEN is not set', async () => {
    const home = await mkdtemp(join(tmpdir(), 'seal-vault-home-'));
    await writeFile(join(home, '.vault-token'), 's.root\n');
    const v = await loadVerifier('hashivault://release', { env: env({ VAULT_TOKEN: '', HOME: home }) });
    expect(v.keyObject.equals(createPublicKey(v2))).toBe(true);
  });

  it('a wrong token is E_KMS_AUTH; a missing key E_KMS_KEY; a key that does not sign E_KMS_KEY', async () => {
    expect(
      await refusal(fetchKmsPublicKey('hashivault://release', env({ VAULT_TOKEN: 'bad' })), 'E_KMS_AUTH'),
    ).toMatch(/permission denied/);
    expect(await refusal(fetchKmsPublicKey('hashivault://nope', env()), 'E_KMS_KEY')).toMatch(/no such key/);
    expect(await refusal(fetchKmsPublicKey('hashivault://secret', env()), 'E_KMS_KEY')).toMatch(
      /aes256-gcm96/,
    );
    expect(
      await refusal(fetchKmsPublicKey('hashivault://release', { HOME: '/nonexistent' }), 'E_KMS_URI'),
    ).toMatch(/VAULT_ADDR/);
  });
});

describe('Google Cloud KMS', () => {
  let gcp: GcpKmsStandIn;
  const ring = 'projects/p/locations/global/keyRings/r/cryptoKeys';
  const [k1, k2, k3] = [p256(), p256(), p256()];
  beforeAll(async () => {
    gcp = await startGcpKms({
      accessTokens: ['ya29.given'],
      keys: {
        [`${ring}/release`]: [
          { state: 'ENABLED', algorithm: 'EC_SIGN_P256_SHA256', privateKey: k1 },
          { state: 'ENABLED', algorithm: 'EC_SIGN_P256_SHA256', privateKey: k2 },
          { state: 'DISABLED', algorithm: 'EC_SIGN_P256_SHA256', privateKey: k3 },
        ],
      },
    });
  });
  afterAll(() => gcp.close());

  it('without a version uses the newest enabled one, and signs with it (access token from the environment)', async () => {
    const env = { SEAL_GCPKMS_ENDPOINT: gcp.url, GOOGLE_OAUTH_ACCESS_TOKEN: 'ya29.given' };
    const signer = await loadSigner(`gcpkms://${ring}/release`, { env });
    expect(signer.publicKeyPem()).toBe(createPublicKey(k2).export({ type: 'spki', format: 'pem' }));
    expect(verify('sha256', message, createPublicKey(k2), await signer.sign(message))).toBe(true);
    const v1 = await loadVerifier(`gcpkms://${ring}/release/cryptoKeyVersions/1`, { env });
    expect(v1.keyObject.equals(createPublicKey(k1))).toBe(true);
  });

  it('gets a token with a service account key (JWT bearer grant) and reuses it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'seal-gcp-'));
    const file = join(dir, 'sa.json');
    await writeFile(file, gcp.serviceAccountJson);
    const env = { SEAL_GCPKMS_ENDPOINT: gcp.url, GOOGLE_APPLICATION_CREDENTIALS: file };
    const v = await loadVerifier(`gcpkms://${ring}/release/versions/2`, { env });
    expect(v.keyObject.equals(createPublicKey(k2))).toBe(true);
    clearKmsKeyCache();
    await loadVerifier(`gcpkms://${ring}/release/versions/1`, { env });
    expect(gcp.requests.filter((r) => r.path === '/token').length).toBe(1);
  });

  it('a bad token is E_KMS_AUTH; a disabled version or missing key E_KMS_KEY', async () => {
    const env = { SEAL_GCPKMS_ENDPOINT: gcp.url, GOOGLE_OAUTH_ACCESS_TOKEN: 'ya29.given' };
    expect(
      await refusal(
        fetchKmsPublicKey(`gcpkms://${ring}/release`, { ...env, GOOGLE_OAUTH_ACCESS_TOKEN: 'ya29.wrong' }),
        'E_KMS_AUTH',
      ),
    ).toMatch(/UNAUTHENTICATED/);
    expect(await refusal(fetchKmsPublicKey(`gcpkms://${ring}/release/versions/3`, env), 'E_KMS_KEY')).toMatch(
      /FAILED_PRECONDITION/,
    );
    expect(await refusal(fetchKmsPublicKey(`gcpkms://${ring}/other`, env), 'E_KMS_KEY')).toMatch(/NOT_FOUND/);
  });
});

describe('Azure Key Vault', () => {
  let az: StandIn;
  const cur = p256();
  beforeAll(async () => {
    az = await startAzureKeyVault({
      tenant: 'tenant-1',
      clientId: 'app',
      clientSecret: 'secret',
      keys: [
        {
          name: 'release',
          versions: [
            { id: 'a1', key: p256() },
            { id: 'b2', key: cur },
          ],
        },
      ],
    });
  });
  afterAll(() => az.close());
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    SEAL_AZUREKMS_ENDPOINT: az.url,
    AZURE_AUTHORITY_HOST: az.url,
    AZURE_TENANT_ID: 'tenant-1',
    AZURE_CLIENT_ID: 'app',
    AZURE_CLIENT_SECRET: 'secret',
    ...extra,
  });

  it('reads the current version as a JWK with a client-credentials token', async () => {
    const v = await loadVerifier('azurekms://myvault.vault.azure.net/release', { env: env() });
    expect(v.keyObject.equals(createPublicKey(cur))).toBe(true);
    expect(az.requests.some((r) => r.path.startsWith('/keys/release?api-version='))).toBe(true);
  });

  it('a wrong secret is E_KMS_AUTH; a missing key E_KMS_KEY; signing is refused by name', async () => {
    expect(
      await refusal(
        fetchKmsPublicKey('azurekms://myvault.vault.azure.net/release', env({ AZURE_CLIENT_SECRET: 'x' })),
        'E_KMS_AUTH',
      ),
    ).toMatch(/Invalid client secret/);
    expect(
      await refusal(fetchKmsPublicKey('azurekms://myvault.vault.azure.net/gone', env()), 'E_KMS_KEY'),
    ).toMatch(/KeyNotFound/);
    expect(
      await refusal(
        loadSigner('azurekms://myvault.vault.azure.net/release', { env: env() }),
        'E_KEY_UNSUPPORTED',
      ),
    ).toMatch(/does not sign/);
  });
});

describe('bounded exchanges', () => {
  it('an answer over 256 KiB is E_KMS; a KMS that never answers is E_NETWORK within SEAL_KMS_TIMEOUT_MS', async () => {
    const server = createServer((req, res) => {
      if (req.url?.includes('big')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`{"data":"${'x'.repeat(300 * 1024)}"}`);
      }
      // otherwise: never answer
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect(
        await refusal(fetchKmsPublicKey('hashivault://big', { VAULT_ADDR: url, VAULT_TOKEN: 't' }), 'E_KMS'),
      ).toMatch(/256|262144/);
      expect(
        await refusal(
          fetchKmsPublicKey('hashivault://stall', {
            VAULT_ADDR: url,
            VAULT_TOKEN: 't',
            SEAL_KMS_TIMEOUT_MS: '300',
          }),
          'E_NETWORK',
        ),
      ).toMatch(/timed out/);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
