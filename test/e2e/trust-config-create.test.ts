// seal trusted-root create and seal signing-config create (cosign v3's commands, doc/cosign_trusted-root_create.md
// and doc/cosign_signing-config_create.md) against a running seal serve: the files made from its PEMs sign
// with seal and verify with seal and with sigstore-js; bad specs get specific errors.

import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFromJSON } from '@sigstore/bundle';
import { SigningConfig, TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { describeWithOpenssl, makeOpensslCA, type OpensslCA } from '../support/openssl-ca.js';

async function seal(args: string[], env: Record<string, string> = {}) {
  const io = memoryIO({ COSIGN_PASSWORD: '', ...env });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

const pemOf = (type: string, b64: string) =>
  `-----BEGIN ${type}-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END ${type}-----\n`;

describe('trusted-root create and signing-config create against seal serve', () => {
  let dir: string;
  let server: RunningServer;
  const alice = 'alice@example.com';
  let artifact: string;
  const start = '2020-01-01T00:00:00Z';
  const file = (name: string) => join(dir, name);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-trustcfg-'));
    server = await startServer({ dataDir: join(dir, 'serve'), port: 0 });
    artifact = file('artifact');
    await writeFile(artifact, randomBytes(10_000));
    // What an operator has of their own servers: the CA chain, the log key, the CT log key (PEM).
    const served = JSON.parse(await readFile(server.trustedRootPath, 'utf8'));
    await writeFile(file('fulcio.pem'), server.ca.chainPem.join(''));
    const rekorPub = await (await fetch(`${server.url}/api/v1/log/publicKey`)).text();
    expect(rekorPub).toContain('BEGIN PUBLIC KEY');
    await writeFile(file('rekor.pub'), rekorPub);
    await writeFile(file('ctfe.pub'), pemOf('PUBLIC KEY', served.ctlogs[0].publicKey.rawBytes));
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const token = async () => (await seal(['token', '--server', server.url, '--identity', alice])).out.trim();

  const createRoot = (out: string, extra: string[] = []) =>
    seal([
      'trusted-root',
      'create',
      `--fulcio=url=${server.url},certificate-chain=${file('fulcio.pem')}`,
      `--rekor=url=${server.url},public-key=${file('rekor.pub')},start-time=${start}`,
      `--ctfe=url=${server.url}/ct,public-key=${file('ctfe.pub')},start-time=${start}`,
      ...extra,
      '--out',
      out,
    ]);

  const createSigningConfig = (out: string) =>
    seal([
      'signing-config',
      'create',
      `--fulcio=url=${server.url},api-version=1,start-time=${start},operator=test`,
      `--rekor=url=${server.url},api-version=1,start-time=${start},operator=test`,
      '--rekor-config=ANY',
      `--oidc-provider=url=${server.issuerUrl},api-version=1,start-time=${start},operator=test`,
      '--out',
      out,
    ]);

  it('signs with the created signing config; the created trusted root verifies in seal and sigstore-js', async () => {
    const root = await createRoot(file('trusted_root.json'));
    expect(root.code, root.err).toBe(0);
    const sc = await createSigningConfig(file('signing_config.json'));
    expect(sc.code, sc.err).toBe(0);

    const rootJson = JSON.parse(await readFile(file('trusted_root.json'), 'utf8'));
    expect(rootJson.mediaType).toBe('application/vnd.dev.sigstore.trustedroot+json;version=0.1');
    expect(rootJson.tlogs).toHaveLength(1);
    expect(rootJson.ctlogs).toHaveLength(1);
    expect(rootJson.certificateAuthorities[0].certChain.certificates).toHaveLength(server.ca.chainPem.length);
    // The log IDs are those seal serve publishes (sha256 of the key), so its entries are found.
    const served = JSON.parse(await readFile(server.trustedRootPath, 'utf8'));
    expect(rootJson.tlogs[0].logId).toEqual(served.tlogs[0].logId);
    expect(rootJson.ctlogs[0].logId).toEqual(served.ctlogs[0].logId);

    const scJson = JSON.parse(await readFile(file('signing_config.json'), 'utf8'));
    expect(scJson.mediaType).toBe('application/vnd.dev.sigstore.signingconfig.v0.2+json');
    expect(scJson.rekorTlogConfig).toEqual({ selector: 'ANY' });
    // sigstore-js's protobuf-specs reads it with the same services.
    const decoded = SigningConfig.fromJSON(scJson);
    expect(decoded.caUrls[0]!.url).toBe(server.url);
    expect(decoded.caUrls[0]!.majorApiVersion).toBe(1);
    expect(decoded.oidcUrls[0]!.url).toBe(server.issuerUrl);
    expect(decoded.rekorTlogUrls[0]!.operator).toBe('test');

    const bundle = file('artifact.sigstore.json');
    const signed = await seal([
      'sign-blob',
      '--signing-config',
      file('signing_config.json'),
      '--identity-token',
      await token(),
      '--bundle',
      bundle,
      artifact,
    ]);
    expect(signed.code, signed.err).toBe(0);
    const verify = (trustedRoot: string) =>
      seal([
        'verify-blob',
        '--bundle',
        bundle,
        '--certificate-identity',
        alice,
        '--certificate-oidc-issuer',
        server.issuerUrl!,
        '--trusted-root',
        trustedRoot,
        artifact,
      ]);
    const ok = await verify(file('trusted_root.json'));
    expect(ok.code, ok.err).toBe(0);

    const verifier = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(rootJson)));
    const bundleJson = JSON.parse(await readFile(bundle, 'utf8'));
    const signer = verifier.verify(toSignedEntity(bundleFromJSON(bundleJson), await readFile(artifact)), {
      subjectAlternativeName: alice,
      extensions: { issuer: server.issuerUrl! },
    });
    expect(signer.identity?.subjectAlternativeName).toBe(alice);

    // A root whose log key is another key does not vouch for seal serve's log entries.
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    await writeFile(file('other.pub'), other);
    const wrong = await seal([
      'trusted-root',
      'create',
      `--fulcio=url=${server.url},certificate-chain=${file('fulcio.pem')}`,
      `--rekor=url=${server.url},public-key=${file('other.pub')},start-time=${start}`,
      `--ctfe=url=${server.url}/ct,public-key=${file('ctfe.pub')},start-time=${start}`,
      '--out',
      file('wrong_root.json'),
    ]);
    expect(wrong.code, wrong.err).toBe(0);
    const refused = await verify(file('wrong_root.json'));
    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(/E_TLOG_INVALID|E_TRUSTED_ROOT_INVALID/);
    const wrongJson = JSON.parse(await readFile(file('wrong_root.json'), 'utf8'));
    expect(() =>
      new Verifier(toTrustMaterial(TrustedRoot.fromJSON(wrongJson))).verify(
        toSignedEntity(bundleFromJSON(bundleJson), Buffer.from('x')),
      ),
    ).toThrow();
  }, 60_000);

  it("cosign's deprecated per-field flags make the same trusted root, with a deprecation line each", async () => {
    const a = await createRoot(file('a.json'));
    expect(a.code, a.err).toBe(0);
    const b = await seal([
      'trusted-root',
      'create',
      '--certificate-chain',
      file('fulcio.pem'),
      '--fulcio-uri',
      server.url,
      '--rekor-key',
      file('rekor.pub'),
      '--rekor-url',
      server.url,
      '--rekor-start-time',
      start,
      '--ctfe-key',
      file('ctfe.pub'),
      '--ctfe-url',
      `${server.url}/ct`,
      '--ctfe-start-time',
      start,
      '--out',
      file('b.json'),
    ]);
    expect(b.code, b.err).toBe(0);
    expect(b.err).toContain('Flag --certificate-chain has been deprecated, use --fulcio instead');
    expect(b.err).toContain('Flag --rekor-key has been deprecated, use --rekor instead');
    expect(await readFile(file('b.json'), 'utf8')).toBe(await readFile(file('a.json'), 'utf8'));
    // Without --out the document goes to stdout.
    const stdout = await seal([
      'trusted-root',
      'create',
      `--rekor=url=${server.url},public-key=${file('rekor.pub')},start-time=${start}`,
    ]);
    expect(stdout.code, stdout.err).toBe(0);
    expect(JSON.parse(stdout.out).tlogs).toHaveLength(1);
  });

  it('an origin makes the Rekor v2 checkpoint key ID (Ed25519: sha256 of origin, 0x0A, 0x01, key)', async () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    await writeFile(file('v2.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    const r = await seal([
      'trusted-root',
      'create',
      `--rekor=url=https://log2025-1.rekor.example.test,public-key=${file('v2.pub')},start-time=${start},origin=log2025-1.rekor.example.test`,
    ]);
    expect(r.code, r.err).toBe(0);
    const raw = publicKey.export({ type: 'spki', format: 'der' }).subarray(-32);
    const want = createHash('sha256')
      .update('log2025-1.rekor.example.test\n')
      .update(Buffer.from([0x01]))
      .update(raw)
      .digest('base64');
    const tlog = JSON.parse(r.out).tlogs[0];
    expect(tlog.logId.keyId).toBe(want);
    expect(tlog.publicKey.keyDetails).toBe('PKIX_ED25519');
  });

  it("origin= gives seal serve's Rekor v2 log the log ID and checkpoint key ID seal serve publishes", async () => {
    const served = JSON.parse(await readFile(server.trustedRootPath, 'utf8'));
    const v2 = served.tlogs.find((t: { checkpointKeyId?: unknown }) => t.checkpointKeyId);
    expect(v2, 'seal serve lists a Rekor v2 log').toBeTruthy();
    await writeFile(file('rekor-v2.pub'), pemOf('PUBLIC KEY', v2.publicKey.rawBytes));
    const origin = new URL(server.url).hostname;
    const r = await seal([
      'trusted-root',
      'create',
      `--rekor=url=${server.url},public-key=${file('rekor-v2.pub')},start-time=${start},origin=${origin}`,
    ]);
    expect(r.code, r.err).toBe(0);
    const made = JSON.parse(r.out).tlogs[0];
    expect(made.logId).toEqual(v2.logId);
    expect(made.checkpointKeyId).toEqual(v2.checkpointKeyId);
    expect(made.publicKey.keyDetails).toBe(v2.publicKey.keyDetails);
  });

  it('--with-default-services starts from the embedded public-good root', async () => {
    const r = await seal([
      'trusted-root',
      'create',
      '--with-default-services',
      '--no-default-tsa',
      `--rekor=url=${server.url},public-key=${file('rekor.pub')},start-time=${start}`,
    ]);
    expect(r.code, r.err).toBe(0);
    const json = JSON.parse(r.out);
    expect(json.tlogs.map((t: { baseUrl: string }) => t.baseUrl)).toContain('https://rekor.sigstore.dev');
    expect(json.tlogs.map((t: { baseUrl: string }) => t.baseUrl)).toContain(server.url);
    expect(json.timestampAuthorities).toEqual([]);
    expect(json.certificateAuthorities.length).toBeGreaterThan(0);
  });

  it("replays doc/cosign_signing-config_create.md's examples unchanged but for the binary and paths", async () => {
    const out = file('signing-config.json');
    const r = await seal([
      'signing-config',
      'create',
      '--fulcio=url=https://fulcio.sigstore.dev,api-version=1,start-time=2024-01-01T00:00:00Z,end-time=2025-01-01T00:00:00Z,operator=sigstore.dev',
      '--rekor=url=https://rekor.sigstore.dev,api-version=1,start-time=2024-01-01T00:00:00Z,operator=sigstore.dev',
      '--rekor-config=ANY',
      '--oidc-provider=url=https://oauth2.sigstore.dev/auth,api-version=1,start-time=2024-01-01T00:00:00Z,operator=sigstore.dev',
      '--tsa=url=https://timestamp.sigstore.dev/api/v1/timestamp,api-version=1,start-time=2024-01-01T00:00:00Z,operator=sigstore.dev',
      '--tsa-config=EXACT:1',
      '--out',
      out,
    ]);
    expect(r.code, r.err).toBe(0);
    const json = JSON.parse(await readFile(out, 'utf8'));
    expect(json.caUrls[0]).toEqual({
      url: 'https://fulcio.sigstore.dev',
      majorApiVersion: 1,
      validFor: { start: '2024-01-01T00:00:00.000Z', end: '2025-01-01T00:00:00.000Z' },
      operator: 'sigstore.dev',
    });
    expect(json.tsaConfig).toEqual({ selector: 'EXACT', count: 1 });
    const decoded = SigningConfig.fromJSON(json);
    expect(decoded.tsaUrls[0]!.url).toBe('https://timestamp.sigstore.dev/api/v1/timestamp');
    // "Override OIDC provider from base config"
    const custom = file('custom-signing-config.json');
    const o = await seal([
      'signing-config',
      'create',
      '--base-config',
      out,
      '--oidc-provider=url=https://custom-oidc.example.com,api-version=1,start-time=2024-01-01T00:00:00Z,operator=example.com',
      '--out',
      custom,
    ]);
    expect(o.code, o.err).toBe(0);
    const c = JSON.parse(await readFile(custom, 'utf8'));
    expect(c.oidcUrls.map((s: { url: string }) => s.url)).toEqual(['https://custom-oidc.example.com']);
    expect(c.tsaUrls).toEqual(json.tsaUrls);
    expect(c.tsaConfig).toEqual({ selector: 'EXACT', count: 1 });
  });

  it('bad specs get specific errors', async () => {
    const cases: [string[], RegExp][] = [
      [
        [`--rekor=url=${server.url},public-key=${file('rekor.pub')}`],
        /missing or empty required key "start-time"/,
      ],
      [
        [`--rekor=url=${server.url},public-key=${file('rekor.pub')},start-time=yesterday`],
        /not an RFC 3339 time/,
      ],
      [[`--rekor=url=${server.url},pubkey=${file('rekor.pub')},start-time=${start}`], /unknown key "pubkey"/],
      [
        [`--rekor=url=${server.url},public-key=${file('fulcio.pem')},start-time=${start}`],
        /not a PEM public key/,
      ],
      [[`--fulcio=url=${server.url},certificate-chain=${file('rekor.pub')}`], /holds no PEM certificate/],
      [[`--fulcio=url=${server.url},certificate-chain=${file('nonexistent.pem')}`], /cannot read/],
      [[`--fulcio=url=${server.url}`, '--certificate-chain', file('fulcio.pem')], /cannot be combined/],
      [['--fulcio=url=x,certificate-chain=y'], /not a URL/],
      [[], /nothing to trust/],
    ];
    for (const [args, message] of cases) {
      const r = await seal(['trusted-root', 'create', ...args]);
      expect(r.code, args.join(' ')).toBe(
        /PEM public key/.test(message.source) ? 14 : /cannot read/.test(message.source) ? 1 : 2,
      );
      expect(r.err, args.join(' ')).toMatch(message);
    }
    const sc: [string[], RegExp][] = [
      [
        [`--rekor=url=${server.url},api-version=1,start-time=${start},operator=x`],
        /--rekor-config must be provided/,
      ],
      [
        [`--tsa=url=${server.url},api-version=1,start-time=${start},operator=x`, '--tsa-config=EXACT'],
        /EXACT needs a count/,
      ],
      [
        [`--rekor=url=${server.url},api-version=1,start-time=${start},operator=x`, '--rekor-config=EXACT:2'],
        /asks for more services than the 1 given/,
      ],
      [[`--fulcio=url=${server.url},api-version=v1,start-time=${start},operator=x`], /api-version "v1"/],
      [[`--fulcio=url=${server.url},api-version=1,start-time=${start}`], /required key "operator"/],
      [['--with-default-services'], /not supported: seal embeds no public-good signing config/],
      [['--base-config', file('rekor.pub')], /signing config is not JSON/],
      [[], /nothing to sign with/],
    ];
    for (const [args, message] of sc) {
      const r = await seal(['signing-config', 'create', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(message);
    }
  });

  it('--base-config keeps the services no flag replaces', async () => {
    const r = await seal([
      'signing-config',
      'create',
      '--base-config',
      server.signingConfigPath,
      `--oidc-provider=url=https://oidc.example.test,api-version=1,start-time=${start},operator=example`,
    ]);
    expect(r.code, r.err).toBe(0);
    const json = JSON.parse(r.out);
    const base = JSON.parse(await readFile(server.signingConfigPath, 'utf8'));
    expect(json.caUrls).toEqual(base.caUrls);
    expect(json.rekorTlogUrls).toEqual(base.rekorTlogUrls);
    expect(json.rekorTlogConfig).toEqual(base.rekorTlogConfig);
    expect(json.oidcUrls.map((s: { url: string }) => s.url)).toEqual(['https://oidc.example.test']);
  });
});

describeWithOpenssl('trusted-root create with a private CA and TSA made by openssl', () => {
  let dir: string;
  let ca: OpensslCA;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-trustcfg-pki-'));
    await mkdir(join(dir, 'ca'));
    ca = await makeOpensslCA(join(dir, 'ca'), 'signer@example.com');
  }, 60_000);
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('takes the CA chain and TSA chain in cosign order, and refuses them swapped', async () => {
    const r = await seal([
      'trusted-root',
      'create',
      `--fulcio=url=https://ca.example.test,certificate-chain=${join(ca.dir, 'chain.pem')}`,
      `--tsa=url=https://tsa.example.test,certificate-chain=${join(ca.dir, 'tsa-chain.pem')}`,
    ]);
    expect(r.code, r.err).toBe(0);
    const json = JSON.parse(r.out);
    expect(json.certificateAuthorities[0].subject.commonName).toBe('Test Root CA');
    expect(json.certificateAuthorities[0].certChain.certificates).toHaveLength(2);
    expect(json.timestampAuthorities[0].certChain.certificates).toHaveLength(2);
    expect(json.timestampAuthorities[0].uri).toBe('https://tsa.example.test');
    // sigstore-js reads both authorities.
    const material = toTrustMaterial(TrustedRoot.fromJSON(json));
    expect(material.certificateAuthorities).toHaveLength(1);
    expect(material.timestampAuthorities).toHaveLength(1);
    const swapped = await seal([
      'trusted-root',
      'create',
      `--tsa=url=https://tsa.example.test,certificate-chain=${join(ca.dir, 'chain.pem')}`,
    ]);
    expect(swapped.code).toBe(2);
    expect(swapped.err).toContain('must be the timestamp signing certificate, not a CA');
    const leafAsCa = await seal([
      'trusted-root',
      'create',
      `--fulcio=url=https://ca.example.test,certificate-chain=${join(ca.dir, 'tsa-chain.pem')}`,
    ]);
    expect(leafAsCa.code).toBe(2);
    expect(leafAsCa.err).toContain('is not a CA certificate');
  });
});
