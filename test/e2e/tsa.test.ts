// Signing with RFC 3161 timestamps, end to end on real processes: `seal serve` (log, CA, dev issuer and TSA) and
// the seal CLI as subprocesses (the built bin/seal.js), sigstore-js 4.x as the independent client both ways,
// openssl checking seal's timestamps, and the refusals: a tampered timestamp, a TSA certificate without the
// timeStamping EKU, a timestamp outside the signing certificate's validity — each with its own code.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { SigningConfig, TrustedRoot } from '@sigstore/protobuf-specs';
import { bundleBuilderFromSigningConfig } from '@sigstore/sign';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { certificatesFromPem } from '../../src/formats/x509.js';
import { KeySigner } from '../../src/keys/signer.js';
import { createTimestampServer } from '../../src/tsa/api.js';
import { loadOrCreateTsaFiles } from '../../src/tsa/authority.js';
import { parseDerRequest } from '../../src/tsa/request.js';
import { issueTimestampResponse } from '../../src/tsa/token.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { parseReference } from '../../src/oci/ref.js';
import { pushRandomImage } from '../oci/store-suite.js';
import { describeWithOpenssl, issue, makeOpensslCA, openssl } from '../support/openssl-ca.js';
import { SEAL_BIN } from '../support/peak-rss.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';
import { createPrivateKey } from 'node:crypto';

const exec = promisify(execFile);

async function seal(args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [SEAL_BIN, ...args], {
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
      maxBuffer: 16 << 20,
    });
    return { code: 0, out: stdout, err: stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: e.stdout ?? '', err: e.stderr ?? '' };
  }
}

interface Serve {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

async function startServe(dataDir: string): Promise<Serve> {
  const child = spawn(process.execPath, [SEAL_BIN, 'serve', '--data', dataDir, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /^seal serve listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`seal serve exited ${code}: ${stderr}`)));
  });
  return {
    child,
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.on('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

const alice = 'alice@example.com';

/** One shared `seal serve` per describe: its trusted root, signing config and a dev-issuer token. */
function serveFixture() {
  const f = {} as {
    dir: string;
    serve: Serve;
    trustedRoot: string;
    signingConfig: string;
    token: () => Promise<string>;
  };
  beforeAll(async () => {
    f.dir = await mkdtemp(join(tmpdir(), 'seal-tsa-e2e-'));
    f.serve = await startServe(join(f.dir, 'serve'));
    f.trustedRoot = join(f.dir, 'serve', 'trusted_root.json');
    f.signingConfig = join(f.dir, 'serve', 'signing_config.json');
    f.token = async () => {
      const t = await seal(['token', '--server', f.serve.url, '--identity', alice]);
      expect(t.code, t.err).toBe(0);
      return t.out.trim();
    };
  }, 60_000);
  afterAll(async () => {
    await f.serve?.stop();
    if (f.dir) await rm(f.dir, { recursive: true, force: true });
  });
  return f;
}

const pinned = (f: ReturnType<typeof serveFixture>) => [
  '--trusted-root',
  f.trustedRoot,
  '--certificate-identity',
  alice,
  '--certificate-oidc-issuer',
  `${f.serve.url}/oidc`,
];

/** The bundle with one byte of its first signed timestamp changed (inside the TSA's signature). */
function tamperTimestamp(bundle: {
  verificationMaterial: { timestampVerificationData: { rfc3161Timestamps: { signedTimestamp: string }[] } };
}) {
  const copy = structuredClone(bundle);
  const ts = copy.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0]!;
  const der = Buffer.from(ts.signedTimestamp, 'base64');
  der[der.length - 5] ^= 0x01;
  ts.signedTimestamp = der.toString('base64');
  return copy;
}

describeWithOpenssl('signing with an RFC 3161 timestamp against seal serve (subprocesses)', () => {
  const f = serveFixture();

  it("sigstore-js signs a blob with seal serve's signing config (its TSA); seal verify-blob verifies the timestamp", async () => {
    const config = SigningConfig.fromJSON(JSON.parse(await readFile(f.signingConfig, 'utf8')));
    expect(config.tsaUrls[0]!.url).toBe(`${f.serve.url}/api/v1/timestamp`);
    const token = await f.token();
    const builder = bundleBuilderFromSigningConfig({
      signingConfig: config,
      identityProvider: { getToken: async () => token },
      bundleType: 'messageSignature',
      fetchOptions: { timeout: 30_000 },
    });
    const data = Buffer.from('signed by sigstore-js with a timestamp');
    const bundle = bundleToJSON(await builder.create({ data })) as unknown as Parameters<
      typeof tamperTimestamp
    >[0];
    expect(bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps).toHaveLength(1);
    const artifact = join(f.dir, 'sj.txt');
    await writeFile(artifact, data);
    await writeFile(join(f.dir, 'sj.json'), JSON.stringify(bundle));
    const ok = await seal([
      'verify-blob',
      '--bundle',
      join(f.dir, 'sj.json'),
      ...pinned(f),
      '--use-signed-timestamps',
      '-o',
      'verdict',
      artifact,
    ]);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toContain('"name":"timestamp","ok":true');

    await writeFile(join(f.dir, 'sj-tampered.json'), JSON.stringify(tamperTimestamp(bundle)));
    const bad = await seal([
      'verify-blob',
      '--bundle',
      join(f.dir, 'sj-tampered.json'),
      ...pinned(f),
      artifact,
    ]);
    expect(bad.code).toBe(12);
    expect(bad.err).toContain('E_TIMESTAMP_INVALID');
  });

  it('seal sign-blob stamps the signature; sigstore-js verifies it with trusted_root.json, openssl ts -verify accepts the timestamp', async () => {
    const artifact = join(f.dir, 'seal.txt');
    const data = Buffer.from('signed by seal with a timestamp');
    await writeFile(artifact, data);
    const signed = await seal([
      'sign-blob',
      '--signing-config',
      f.signingConfig,
      '--identity-token',
      await f.token(),
      '--bundle',
      join(f.dir, 'seal.json'),
      '--rfc3161-timestamp',
      join(f.dir, 'seal.ts.json'),
      artifact,
    ]);
    expect(signed.code, signed.err).toBe(0);
    expect(signed.err).toContain(`timestamp from ${f.serve.url}/api/v1/timestamp`);
    const bundle = JSON.parse(await readFile(join(f.dir, 'seal.json'), 'utf8'));
    const stamps = bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps;
    expect(stamps).toHaveLength(1);
    // cosign's --rfc3161-timestamp file holds the same DER
    const tsFile = JSON.parse(await readFile(join(f.dir, 'seal.ts.json'), 'utf8'));
    expect(tsFile.SignedRFC3161Timestamp).toBe(stamps[0].signedTimestamp);

    const policy = { subjectAlternativeName: alice, extensions: { issuer: `${f.serve.url}/oidc` } };
    const root = TrustedRoot.fromJSON(JSON.parse(await readFile(f.trustedRoot, 'utf8')));
    // every signed time is required: the TSA's, and a v1 log's SET when the log is v1 (a v2 entry has none),
    // so the TSA's time must count
    const sets = bundle.verificationMaterial.tlogEntries.filter(
      (e: { inclusionPromise?: unknown }) => e.inclusionPromise,
    ).length;
    const verifier = new Verifier(toTrustMaterial(root), { timestampThreshold: sets + 1 });
    verifier.verify(toSignedEntity(bundleFromJSON(bundle), data), policy);
    expect(() =>
      verifier.verify(toSignedEntity(bundleFromJSON(tamperTimestamp(bundle)), data), policy),
    ).toThrow();

    const verified = await seal([
      'verify-blob',
      '--bundle',
      join(f.dir, 'seal.json'),
      ...pinned(f),
      '--use-signed-timestamps',
      artifact,
    ]);
    expect(verified.code, verified.err).toBe(0);

    // openssl: the timestamp is over the signature bytes, signed by the chain seal serve publishes
    await writeFile(join(f.dir, 'sig.bin'), Buffer.from(bundle.messageSignature.signature, 'base64'));
    await writeFile(join(f.dir, 'seal.tsr'), Buffer.from(tsFile.SignedRFC3161Timestamp, 'base64'));
    const chain = await (await fetch(`${f.serve.url}/api/v1/timestamp/certchain`)).text();
    const [leaf, rootPem] = chain.split(/(?<=-----END CERTIFICATE-----\n)/).filter((s) => s.trim());
    await writeFile(join(f.dir, 'tsa-leaf.pem'), leaf!);
    await writeFile(join(f.dir, 'tsa-root.pem'), rootPem!);
    const out = await openssl(
      f.dir,
      'ts',
      '-verify',
      '-data',
      'sig.bin',
      '-in',
      'seal.tsr',
      '-CAfile',
      'tsa-root.pem',
      '-untrusted',
      'tsa-leaf.pem',
    );
    expect(out).toContain('Verification: OK');
  });

  it('refuses a TSA certificate without the timeStamping EKU and a timestamp outside the certificate validity', async () => {
    // a CA made by openssl, a TSA certificate without EKU: `seal tsa serve` will not run with it
    const ca = await makeOpensslCA(join(f.dir), 'tsa@example.com', 'Other');
    await issue(
      f.dir,
      'noeku-tsa',
      '/CN=no EKU TSA',
      { pem: 'root.pem', key: 'root.key' },
      'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n',
    );
    const noEkuChain = (await readFile(join(f.dir, 'noeku-tsa.pem'), 'utf8')) + ca.rootPem;
    await writeFile(join(f.dir, 'noeku-chain.pem'), noEkuChain);
    const refused = await seal([
      'tsa',
      'serve',
      '--key',
      join(f.dir, 'noeku-tsa.key'),
      '--certificate-chain',
      join(f.dir, 'noeku-chain.pem'),
      '--port',
      '0',
    ]);
    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(/E_CERTIFICATE_INVALID.*no extended key usage/);

    // a TSA that signs with it anyway (no seal checks on this side), and one whose clock is two days ahead
    const noEkuSigner = new KeySigner(createPrivateKey(await readFile(join(f.dir, 'noeku-tsa.key'), 'utf8')));
    const noEkuDer = certificatesFromPem(noEkuChain);
    const rogue: Server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c) => parts.push(c));
      req.on('end', async () => {
        const request = parseDerRequest(Buffer.concat(parts), ['1.3.6.1.4.1.57264.2']);
        const der = await issueTimestampResponse(
          request,
          { signer: noEkuSigner, chain: noEkuDer, policy: '1.3.6.1.4.1.57264.2', accuracySeconds: 1 },
          new Date(),
        );
        res.writeHead(200, { 'content-type': 'application/timestamp-reply' }).end(Buffer.from(der));
      });
    });
    await new Promise<void>((r) => rogue.listen(0, '127.0.0.1', r));
    const skewedTsa = await loadOrCreateTsaFiles(join(f.dir, 'skewed'), {
      now: () => new Date(Date.now() + 2 * 24 * 3600 * 1000),
    });
    const skewed = await createTimestampServer(skewedTsa);
    const skewedUrl = await skewed.listen({ host: '127.0.0.1', port: 0 });
    try {
      // a trusted root listing both TSAs beside seal serve's
      const tr = JSON.parse(await readFile(f.trustedRoot, 'utf8'));
      const entry = (certs: Uint8Array[], start: string) => ({
        subject: { organization: 'test', commonName: 'test' },
        uri: 'http://127.0.0.1/',
        certChain: { certificates: certs.map((c) => ({ rawBytes: Buffer.from(c).toString('base64') })) },
        validFor: { start },
      });
      tr.timestampAuthorities.push(
        entry(noEkuDer, '2000-01-01T00:00:00Z'),
        entry(skewedTsa.chain, '2000-01-01T00:00:00Z'),
      );
      const trustedRoot = join(f.dir, 'tr-extra.json');
      await writeFile(trustedRoot, JSON.stringify(tr));
      const artifact = join(f.dir, 'refused.txt');
      await writeFile(artifact, 'stamped by the wrong TSAs');
      const cases = [
        {
          url: `http://127.0.0.1:${(rogue.address() as { port: number }).port}/api/v1/timestamp`,
          code: 'E_TSA_CERTIFICATE_INVALID',
          why: /no extended key usage/,
        },
        {
          url: `${skewedUrl}/api/v1/timestamp`,
          code: 'E_TIMESTAMP_OUTSIDE_VALIDITY',
          why: /not valid at the signed timestamp time/,
        },
      ];
      for (const c of cases) {
        const bundlePath = join(f.dir, `refused-${c.code}.json`);
        const signed = await seal([
          'sign-blob',
          '--signing-config',
          f.signingConfig,
          '--timestamp-server-url',
          c.url,
          '--identity-token',
          await f.token(),
          '--bundle',
          bundlePath,
          artifact,
        ]);
        expect(signed.code, signed.err).toBe(0);
        const r = await seal([
          'verify-blob',
          '--bundle',
          bundlePath,
          ...pinned(f).map((a) => (a === f.trustedRoot ? trustedRoot : a)),
          artifact,
        ]);
        expect(r.code, c.code).toBe(12);
        expect(r.err).toContain(c.code);
        expect(r.err).toMatch(c.why);
      }
    } finally {
      await new Promise((r) => rogue.close(r));
      await skewed.close();
    }
  });
});

describeWithRegistry("keyless image signing with seal serve's TSA (subprocesses, the real registry)", () => {
  const f = serveFixture();
  let registry: RunningRegistry;
  beforeAll(async () => {
    registry = await startRegistry();
  }, 120_000);
  afterAll(async () => {
    await registry?.stop();
  });

  it('sign and attest carry a timestamp that seal verify --use-signed-timestamps checks', async () => {
    const store = new RegistryStore({ credentials: anonymousCredentials });
    const ref = `${registry.host}/tsa${randomBytes(3).toString('hex')}/app:v1`;
    await pushRandomImage(store, parseReference(ref));
    const signed = await seal([
      'sign',
      '--signing-config',
      f.signingConfig,
      '--identity-token',
      await f.token(),
      '--bundle',
      join(f.dir, 'img.json'),
      ref,
    ]);
    expect(signed.code, signed.err).toBe(0);
    expect(signed.err).toContain('timestamp from');
    const bundle = JSON.parse(await readFile(join(f.dir, 'img.json'), 'utf8'));
    expect(bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps).toHaveLength(1);
    const ok = await seal(['verify', ...pinned(f), '--use-signed-timestamps', '-o', 'verdict', ref]);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toContain('"name":"timestamp","ok":true');

    await writeFile(join(f.dir, 'pred.json'), '{"ok":true}');
    const attested = await seal([
      'attest',
      '--signing-config',
      f.signingConfig,
      '--identity-token',
      await f.token(),
      '--type',
      'https://example.com/p',
      '--predicate',
      join(f.dir, 'pred.json'),
      ref,
    ]);
    expect(attested.code, attested.err).toBe(0);
    const att = await seal([
      'verify-attestation',
      ...pinned(f),
      '--use-signed-timestamps',
      '--type',
      'https://example.com/p',
      ref,
    ]);
    expect(att.code, att.err).toBe(0);

    // Rekor v2 (no signed entry time) with the TSA: a config offering only the v2 log
    const sc = JSON.parse(await readFile(f.signingConfig, 'utf8'));
    sc.rekorTlogUrls = sc.rekorTlogUrls.filter((l: { majorApiVersion: number }) => l.majorApiVersion === 2);
    expect(sc.rekorTlogUrls).toHaveLength(1);
    await writeFile(join(f.dir, 'v2-config.json'), JSON.stringify(sc));
    const v2ref = `${registry.host}/tsa${randomBytes(3).toString('hex')}/app:v1`;
    await pushRandomImage(store, parseReference(v2ref));
    const v2 = await seal([
      'sign',
      '--signing-config',
      join(f.dir, 'v2-config.json'),
      '--identity-token',
      await f.token(),
      '--bundle',
      join(f.dir, 'v2.json'),
      v2ref,
    ]);
    expect(v2.code, v2.err).toBe(0);
    const v2bundle = JSON.parse(await readFile(join(f.dir, 'v2.json'), 'utf8'));
    expect(v2bundle.verificationMaterial.tlogEntries[0].inclusionPromise).toBeUndefined();
    expect(v2bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps).toHaveLength(1);
    const v2ok = await seal(['verify', ...pinned(f), '--use-signed-timestamps', v2ref]);
    expect(v2ok.code, v2ok.err).toBe(0);

    // a legacy (.sig) signature carries no timestamp: --use-signed-timestamps refuses it
    const legacy = `${registry.host}/tsa${randomBytes(3).toString('hex')}/app:v1`;
    await pushRandomImage(store, parseReference(legacy));
    const s2 = await seal([
      'sign',
      '--new-bundle-format=false',
      '--signing-config',
      f.signingConfig,
      '--identity-token',
      await f.token(),
      legacy,
    ]);
    expect(s2.code, s2.err).toBe(0);
    const r2 = await seal(['verify', ...pinned(f), '--use-signed-timestamps', legacy]);
    expect(r2.code).toBe(12);
    expect(r2.err).toContain('E_TIMESTAMP_INVALID');
  });
});
