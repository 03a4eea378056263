// End to end on real parts: keys in a SoftHSM2 token (made by softhsm2-util and pkcs11-tool, and by
// `seal generate-key-pair --kms`), the built CLI as a subprocess, the real registry, openssl for the cross-check.
// An image and a blob signed in the token verify with the exported public key in seal and (the blob) in openssl.

import { execFile, spawn } from 'node:child_process';
import { createPublicKey, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseReference } from '../../src/oci/ref.js';
import { anonymousCredentials, RegistryStore } from '../../src/oci/registry.js';
import { pushRandomImage } from '../oci/store-suite.js';
import { type RunningRegistry, startRegistry } from '../support/registry.js';
import { SEAL_BIN } from '../support/peak-rss.js';
import { describeWithSoftHsm, type SoftHsm, startSoftHsm } from '../support/softhsm.js';

const exec = promisify(execFile);
const TOKEN = 'seal test token';
const PIN = '24680';

interface Run {
  code: number;
  out: string;
  err: string;
}

describeWithSoftHsm('PKCS#11 keys in SoftHSM2', () => {
  let hsm: SoftHsm;
  let dir: string;
  let slot: bigint;
  let registry: RunningRegistry;
  let blob: string;
  const M = () => hsm.modulePath;
  /** The key pkcs11-tool made, named as cosign's docs name keys. */
  const keyUri = (extra = `&pin-value=${PIN}`) =>
    `pkcs11:token=${encodeURIComponent(TOKEN)};object=hsm-ec?module-path=${M()}${extra}`;

  async function seal(args: string[], env: Record<string, string> = {}): Promise<Run> {
    try {
      const { stdout, stderr } = await exec(process.execPath, [SEAL_BIN, ...args], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '', HOME: dir, ...hsm.env, ...env },
        maxBuffer: 16 * 1024 * 1024,
      });
      return { code: 0, out: stdout, err: stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, out: e.stdout ?? '', err: e.stderr ?? '' };
    }
  }

  /** Start a long-running seal command; resolves once it prints "listening on". */
  async function startSeal(args: string[]): Promise<{ out: () => string; stop: () => Promise<void> }> {
    const child = spawn(process.execPath, [SEAL_BIN, ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: dir, ...hsm.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/listening on \S+/.test(out)) resolve();
      });
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      child.once('exit', (code) => reject(new Error(`seal ${args[0]} exited ${code}: ${err}`)));
    });
    return {
      out: () => out,
      stop: async () => {
        child.kill('SIGTERM');
        await exited;
      },
    };
  }

  async function opensslVerifies(pub: string, sigDer: string, file: string): Promise<boolean> {
    try {
      const { stdout } = await exec('openssl', [
        'dgst',
        '-sha256',
        '-verify',
        pub,
        '-signature',
        sigDer,
        file,
      ]);
      return stdout.includes('Verified OK');
    } catch {
      return false;
    }
  }

  beforeAll(async () => {
    expect(
      existsSync(join(SEAL_BIN, '..', '..', 'dist', 'cli-bundle', 'main.js')),
      'run `npm run build`',
    ).toBe(true);
    dir = await mkdtemp(join(tmpdir(), 'seal-pkcs11-'));
    hsm = await startSoftHsm();
    slot = await hsm.initToken(TOKEN, PIN);
    await hsm.keygen(TOKEN, PIN, 'EC:prime256v1', 'hsm-ec', '4a8d');
    await hsm.keygen(TOKEN, PIN, 'RSA:2048', 'hsm-rsa', '5253');
    blob = join(dir, 'release.tar.gz');
    await writeFile(blob, randomBytes(20_000));
    registry = await startRegistry();
  }, 120_000);
  afterAll(async () => {
    await registry?.stop();
    await hsm?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists the token and the key URIs as cosign pkcs11-tool does, and the listed URI signs', async () => {
    const tokens = await seal(['pkcs11-tool', 'list-tokens', '--module-path', M()]);
    expect(tokens.code, tokens.err).toBe(0);
    expect(tokens.out).toContain(`Listing tokens of PKCS11 module '${M()}'`);
    expect(tokens.out).toContain(`Token in slot ${slot}\n\tLabel: ${TOKEN}\n\tManufacturer: SoftHSM project`);

    const keys = await seal([
      'pkcs11-tool',
      'list-keys-uris',
      '--module-path',
      M(),
      '--slot-id',
      String(slot),
      '--pin',
      PIN,
    ]);
    expect(keys.code, keys.err).toBe(0);
    expect(keys.out).toContain(`Listing URIs of keys in slot '${slot}' of PKCS11 module '${M()}'`);
    expect(keys.out).toContain('\tLabel: hsm-ec\n\tID: 4a8d\n');
    const uri = `pkcs11:token=seal%20test%20token;slot-id=${slot};id=%4a%8d;object=hsm-ec?module-path=${M()}&pin-value=${PIN}`;
    expect(keys.out).toContain(`\tURI: ${uri}\n`);

    const pub = join(dir, 'listed.pub');
    expect((await seal(['public-key', '--key', uri, '--outfile', pub])).code).toBe(0);
    const sig = join(dir, 'listed.sig');
    const signed = await seal(['sign-blob', '--key', uri, '--b64=false', '--output-signature', sig, blob]);
    expect(signed.code, signed.err).toBe(0);
    expect(await opensslVerifies(pub, sig, blob)).toBe(true);
  });

  it('signs a blob with the HSM key: openssl and seal verify-blob accept it with the exported public key', async () => {
    const pub = join(dir, 'hsm.pub');
    const exported = await seal(['public-key', '--key', keyUri(), '--outfile', pub]);
    expect(exported.code, exported.err).toBe(0);
    const sig = join(dir, 'blob.sig.der');
    const bundle = join(dir, 'blob.bundle.json');
    const signed = await seal([
      'sign-blob',
      '--key',
      keyUri(),
      '--b64=false',
      '--output-signature',
      sig,
      '--bundle',
      bundle,
      blob,
    ]);
    expect(signed.code, signed.err).toBe(0);
    expect(signed.err + signed.out).not.toContain(PIN);
    // ASN.1 DER (SEQUENCE of two INTEGERs), not the token's raw r‖s.
    const der = await readFile(sig);
    expect(der[0]).toBe(0x30);
    expect(await opensslVerifies(pub, sig, blob)).toBe(true);

    const verified = await seal([
      'verify-blob',
      '--key',
      pub,
      '--bundle',
      bundle,
      '--insecure-ignore-tlog',
      blob,
    ]);
    expect(verified.code, verified.err).toBe(0);
    expect(verified.err).toContain('Verified OK');
    // The public key read from the token itself (no PIN, as cosign verifies with a pkcs11: key).
    const byUri = await seal([
      'verify-blob',
      '--key',
      keyUri(''),
      '--bundle',
      bundle,
      '--insecure-ignore-tlog',
      blob,
    ]);
    expect(byUri.code, byUri.err).toBe(0);

    // The check is not vacuous: another file does not verify, in seal or openssl.
    const other = join(dir, 'other.bin');
    await writeFile(other, randomBytes(100));
    expect(await opensslVerifies(pub, sig, other)).toBe(false);
    const refused = await seal([
      'verify-blob',
      '--key',
      pub,
      '--bundle',
      bundle,
      '--insecure-ignore-tlog',
      other,
    ]);
    expect(refused.code).not.toBe(0);
  });

  it('signs with an RSA key in the token (PKCS#1 v1.5, SHA-256), checked by openssl', async () => {
    const uri = `pkcs11:token=${encodeURIComponent(TOKEN)};id=%52%53?module-path=${M()}&pin-value=${PIN}`;
    const pub = join(dir, 'rsa.pub');
    expect((await seal(['public-key', '--key', uri, '--outfile', pub])).code).toBe(0);
    const sig = join(dir, 'rsa.sig');
    const signed = await seal(['sign-blob', '--key', uri, '--b64=false', '--output-signature', sig, blob]);
    expect(signed.code, signed.err).toBe(0);
    expect((await readFile(sig)).length).toBe(256);
    expect(await opensslVerifies(pub, sig, blob)).toBe(true);
  });

  it('signs an image in a real registry with the HSM key; seal verify accepts it with the exported key only', async () => {
    const store = new RegistryStore({ credentials: anonymousCredentials });
    const ref = `${registry.host}/hsm${randomBytes(3).toString('hex')}/app:v1`;
    const pushed = await pushRandomImage(store, parseReference(ref));
    const pub = join(dir, 'image.pub');
    expect((await seal(['public-key', '--key', keyUri(), '--outfile', pub])).code).toBe(0);

    const signed = await seal([
      'sign',
      '--key',
      keyUri(),
      '--tlog-upload=false',
      '-y',
      `${ref}@${pushed.digest}`,
    ]);
    expect(signed.code, signed.err).toBe(0);
    const verified = await seal(['verify', '--key', pub, '--insecure-ignore-tlog', ref]);
    expect(verified.code, verified.err).toBe(0);
    expect(verified.out).toContain(pushed.digest);

    const attested = await seal([
      'attest',
      '--key',
      keyUri(),
      '--tlog-upload=false',
      '-y',
      '--type',
      'custom',
      '--predicate',
      blob,
      `${ref}@${pushed.digest}`,
    ]);
    expect(attested.code, attested.err).toBe(0);
    const att = await seal([
      'verify-attestation',
      '--key',
      pub,
      '--type',
      'custom',
      '--insecure-ignore-tlog',
      ref,
    ]);
    expect(att.code, att.err).toBe(0);

    // Another key (made in the same token) does not verify the HSM key's signature.
    const gen = await seal(
      [
        'generate-key-pair',
        '--kms',
        `pkcs11:token=${encodeURIComponent(TOKEN)};object=unrelated?module-path=${M()}`,
        '--output-key-prefix',
        'unrelated',
      ],
      { COSIGN_PKCS11_PIN: PIN },
    );
    expect(gen.code, gen.err).toBe(0);
    const wrong = await seal(['verify', '--key', join(dir, 'unrelated.pub'), '--insecure-ignore-tlog', ref]);
    expect(wrong.code).toBe(12);
  });

  it('attest-blob with the HSM key verifies with verify-blob-attestation', async () => {
    const pub = join(dir, 'ab.pub');
    expect((await seal(['public-key', '--key', keyUri(), '--outfile', pub])).code).toBe(0);
    const bundle = join(dir, 'ab.bundle.json');
    const predicate = join(dir, 'pred.json');
    await writeFile(predicate, JSON.stringify({ marker: 'hsm' }));
    const made = await seal([
      'attest-blob',
      '--key',
      keyUri(),
      '--tlog-upload=false',
      '--type',
      'https://example.com/hsm/v1',
      '--predicate',
      predicate,
      '--bundle',
      bundle,
      blob,
    ]);
    expect(made.code, made.err).toBe(0);
    const ok = await seal([
      'verify-blob-attestation',
      '--key',
      pub,
      '--bundle',
      bundle,
      '--type',
      'https://example.com/hsm/v1',
      '--insecure-ignore-tlog',
      blob,
    ]);
    expect(ok.code, ok.err).toBe(0);
  });

  it('generate-key-pair --kms makes a P-256 key in the token that signs, and refuses to replace it', async () => {
    const uri = `pkcs11:token=${encodeURIComponent(TOKEN)};id=%c0%ff%ee;object=made-by-seal?module-path=${M()}&pin-value=${PIN}`;
    const made = await seal(['generate-key-pair', '--kms', uri, '--output-key-prefix', 'made']);
    expect(made.code, made.err).toBe(0);
    expect(made.err).not.toContain(PIN);
    expect(existsSync(join(dir, 'made.key'))).toBe(false);
    const pubPem = await readFile(join(dir, 'made.pub'), 'utf8');
    // pkcs11-tool sees it: an EC private key with that id and label.
    const { stdout } = await exec(
      'pkcs11-tool',
      [
        '--module',
        M(),
        '--token-label',
        TOKEN,
        '--login',
        '--pin',
        PIN,
        '--list-objects',
        '--type',
        'privkey',
      ],
      { env: { ...process.env, ...hsm.env } },
    );
    expect(stdout).toMatch(/Private Key Object; EC[\s\S]*label:\s+made-by-seal[\s\S]*ID:\s+c0ffee/);

    const sig = join(dir, 'made.sig');
    expect(
      (await seal(['sign-blob', '--key', uri, '--b64=false', '--output-signature', sig, blob])).code,
    ).toBe(0);
    expect(await opensslVerifies(join(dir, 'made.pub'), sig, blob)).toBe(true);
    const again = await seal(['generate-key-pair', '--kms', uri, '--output-key-prefix', 'made2']);
    expect(again.code).toBe(14);
    expect(again.err).toContain('[E_PKCS11] token "seal test token" already has a key');
    expect(await readFile(join(dir, 'made.pub'), 'utf8')).toBe(pubPem);
  });

  it('takes the PIN from pin-source, COSIGN_PKCS11_PIN or SEAL_PKCS11_PIN, and the module from COSIGN_PKCS11_MODULE_PATH', async () => {
    const pinFile = join(dir, 'pin.txt');
    await writeFile(pinFile, `${PIN}\n`);
    const cases: [string, Record<string, string>][] = [
      [keyUri(`&pin-source=${pinFile}`), {}],
      [keyUri(''), { COSIGN_PKCS11_PIN: PIN }],
      [keyUri(''), { SEAL_PKCS11_PIN: PIN }],
      [`pkcs11:slot-id=${slot};id=%4a%8d`, { COSIGN_PKCS11_MODULE_PATH: M(), COSIGN_PKCS11_PIN: PIN }],
    ];
    for (const [uri, env] of cases) {
      const r = await seal(['public-key', '--key', uri], env);
      expect(r.code, `${uri} ${JSON.stringify(env)}: ${r.err}`).toBe(0);
      expect(r.out).toContain('-----BEGIN PUBLIC KEY-----');
      const s = await seal(['sign-blob', '--key', uri, '--tlog-upload=false', blob], env);
      expect(s.code, s.err).toBe(0);
    }
  });

  it("seal serve --ca-key pkcs11:… issues keyless certificates with the HSM key; log monitor --watch-key pkcs11:… alerts on the key's use", async () => {
    const caUri = `pkcs11:token=${encodeURIComponent(TOKEN)};object=hsm-ca?module-path=${M()}&pin-value=${PIN}`;
    await hsm.keygen(TOKEN, PIN, 'EC:prime256v1', 'hsm-ca', 'ca01');
    const data = join(dir, 'serve');
    const server = await startSeal(['serve', '--data', data, '--port', '0', '--ca-key', caUri]);
    try {
      const url = /listening on (\S+)/.exec(server.out())![1]!;
      const token = (await seal(['token', '--server', url, '--identity', 'hsm-ca@example.com'])).out.trim();
      const bundle = join(dir, 'keyless.json');
      const signed = await seal([
        'sign-blob',
        '--signing-config',
        join(data, 'signing_config.json'),
        '--identity-token',
        token,
        '--bundle',
        bundle,
        blob,
      ]);
      expect(signed.code, signed.err).toBe(0);
      const verified = await seal([
        'verify-blob',
        '--trusted-root',
        join(data, 'trusted_root.json'),
        '--certificate-identity',
        'hsm-ca@example.com',
        '--certificate-oidc-issuer',
        `${url}/oidc`,
        '--bundle',
        bundle,
        blob,
      ]);
      expect(verified.code, verified.err).toBe(0);
      // The leaf was signed by the key in the token: its issuer certificate holds the token's public key and
      // the leaf verifies under it.
      const caPub = (await seal(['public-key', '--key', caUri])).out;
      const intermediate = new X509Certificate(await readFile(join(data, 'ca', 'intermediate.crt.pem')));
      expect(intermediate.publicKey.export({ type: 'spki', format: 'pem' })).toBe(caPub);
      const b = JSON.parse(await readFile(bundle, 'utf8')) as {
        verificationMaterial: { certificate?: { rawBytes: string } };
      };
      const leaf = new X509Certificate(Buffer.from(b.verificationMaterial.certificate!.rawBytes, 'base64'));
      expect(leaf.verify(createPublicKey(caPub))).toBe(true);
      expect(existsSync(join(data, 'ca', 'intermediate.key.pem'))).toBe(false);

      // Key use alerts: the HSM signing key watched by its URI; its next logged signature raises one.
      const watchArgs = ['log', 'monitor', url, '--once', '--state', join(dir, 'monitor.json')];
      const watchKey = ['--watch-key', keyUri('')];
      const alerts = join(dir, 'alerts.jsonl');
      const alertExec = ['--alert-exec', `cat >> '${alerts}'; echo >> '${alerts}'`];
      const first = await seal([...watchArgs, ...watchKey, ...alertExec]);
      expect(first.code, first.err).toBe(0);
      expect(existsSync(alerts)).toBe(false);
      const logged = await seal([
        'sign-blob',
        '--key',
        keyUri(),
        '--rekor-url',
        url,
        '--bundle',
        join(dir, 'l.json'),
        blob,
      ]);
      expect(logged.code, logged.err).toBe(0);
      const loggedBundle = JSON.parse(await readFile(join(dir, 'l.json'), 'utf8')) as {
        verificationMaterial: { tlogEntries: { logIndex: string }[] };
      };
      const index = Number(loggedBundle.verificationMaterial.tlogEntries[0]!.logIndex);
      const second = await seal([...watchArgs, ...watchKey, ...alertExec]);
      expect(second.code, second.err).toBe(0);
      const raised = (await readFile(alerts, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(raised).toEqual([expect.objectContaining({ type: 'match', watched: 'key', logIndex: index })]);
    } finally {
      await server.stop();
    }
  }, 60_000);

  it('seal tsa serve --key pkcs11:… and seal serve --tsa-key pkcs11:… answer timestamps signed in the token, which openssl ts -verify accepts', async () => {
    const tsaUri = `pkcs11:token=${encodeURIComponent(TOKEN)};object=hsm-tsa?module-path=${M()}&pin-value=${PIN}`;
    await hsm.keygen(TOKEN, PIN, 'EC:prime256v1', 'hsm-tsa', '75a0');
    const tsaDir = join(dir, 'tsa');
    await mkdir(tsaDir);
    const pub = join(tsaDir, 'tsa.pub');
    expect((await seal(['public-key', '--key', tsaUri, '--outfile', pub])).code).toBe(0);
    // A chain for the token's key: openssl's root certifies the public key the token exported.
    const o = (args: string[]) => exec('openssl', args, { cwd: tsaDir });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    await o([
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-subj',
      '/CN=hsm-tsa-root',
      '-days',
      '30',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
    ]);
    await o(['req', '-new', ...ec, '-keyout', 'csr.key', '-out', 'tsa.csr', '-subj', '/CN=hsm-tsa']);
    await writeFile(
      join(tsaDir, 'ext'),
      'extendedKeyUsage=critical,timeStamping\nkeyUsage=critical,digitalSignature\nbasicConstraints=CA:FALSE\n',
    );
    await o([
      'x509',
      '-req',
      '-in',
      'tsa.csr',
      '-force_pubkey',
      'tsa.pub',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '10',
      '-extfile',
      'ext',
      '-out',
      'tsa.pem',
    ]);
    await writeFile(
      join(tsaDir, 'chain.pem'),
      (await readFile(join(tsaDir, 'tsa.pem'), 'utf8')) + (await readFile(join(tsaDir, 'ca.pem'), 'utf8')),
    );
    const server = await startSeal([
      'tsa',
      'serve',
      '--key',
      tsaUri,
      '--certificate-chain',
      join(tsaDir, 'chain.pem'),
      '--port',
      '0',
    ]);
    try {
      const url = /listening on (\S+)/.exec(server.out())![1]!;
      await o(['ts', '-query', '-data', blob, '-sha256', '-cert', '-out', 'q.tsq']);
      const res = await fetch(`${url}/api/v1/timestamp`, {
        method: 'POST',
        headers: { 'content-type': 'application/timestamp-query' },
        body: await readFile(join(tsaDir, 'q.tsq')),
      });
      expect(res.status).toBe(200);
      await writeFile(join(tsaDir, 'r.tsr'), Buffer.from(await res.arrayBuffer()));
      const verified = await o([
        'ts',
        '-verify',
        '-in',
        'r.tsr',
        '-data',
        blob,
        '-CAfile',
        'ca.pem',
        '-untrusted',
        'tsa.pem',
      ]);
      expect(verified.stdout).toContain('Verification: OK');
    } finally {
      await server.stop();
    }
    // The same key as seal serve's timestamp authority (--tsa-key / --tsa-certificate-chain).
    const serve = await startSeal([
      'serve',
      '--data',
      join(tsaDir, 'serve'),
      '--port',
      '0',
      '--tsa-key',
      tsaUri,
      '--tsa-certificate-chain',
      join(tsaDir, 'chain.pem'),
    ]);
    try {
      const url = /listening on (\S+)/.exec(serve.out())![1]!;
      const chain = await (await fetch(`${url}/api/v1/timestamp/certchain`)).text();
      expect(new X509Certificate(chain).publicKey.export({ type: 'spki', format: 'pem' })).toBe(
        await readFile(pub, 'utf8'),
      );
      const res = await fetch(`${url}/api/v1/timestamp`, {
        method: 'POST',
        headers: { 'content-type': 'application/timestamp-query' },
        body: await readFile(join(tsaDir, 'q.tsq')),
      });
      expect(res.status).toBe(200);
      await writeFile(join(tsaDir, 'r2.tsr'), Buffer.from(await res.arrayBuffer()));
      const verified = await o([
        'ts',
        '-verify',
        '-in',
        'r2.tsr',
        '-data',
        blob,
        '-CAfile',
        'ca.pem',
        '-untrusted',
        'tsa.pem',
      ]);
      expect(verified.stdout).toContain('Verification: OK');
    } finally {
      await serve.stop();
    }
  }, 60_000);

  it('attaches a certificate stored under the key id, as cosign does, unless COSIGN_PKCS11_IGNORE_CERTIFICATE=1', async () => {
    await hsm.keygen(TOKEN, PIN, 'EC:prime256v1', 'hsm-cert', 'ce01');
    const uri = `pkcs11:token=${encodeURIComponent(TOKEN)};id=%ce%01?module-path=${M()}&pin-value=${PIN}`;
    const certDir = join(dir, 'cert');
    await mkdir(certDir);
    const pub = join(certDir, 'key.pub');
    expect((await seal(['public-key', '--key', uri, '--outfile', pub])).code).toBe(0);
    const o = (args: string[]) => exec('openssl', args, { cwd: certDir });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    await o([
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-subj',
      '/CN=root',
      '-days',
      '3',
    ]);
    await o(['req', '-new', ...ec, '-keyout', 'csr.key', '-out', 'k.csr', '-subj', '/CN=signer']);
    await o(
      [
        'x509',
        '-req',
        '-in',
        'k.csr',
        '-force_pubkey',
        'key.pub',
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
      ].concat(['-CAcreateserial', '-days', '2', '-outform', 'DER', '-out', 'key.der']),
    );
    await exec(
      'pkcs11-tool',
      [
        '--module',
        M(),
        '--token-label',
        TOKEN,
        '--login',
        '--pin',
        PIN,
        '--write-object',
        join(certDir, 'key.der'),
      ].concat(['--type', 'cert', '--id', 'ce01', '--label', 'hsm-cert']),
      { env: { ...process.env, ...hsm.env } },
    );
    const certOf = async (env: Record<string, string>) => {
      const bundle = join(certDir, `b-${randomBytes(3).toString('hex')}.json`);
      const r = await seal(['sign-blob', '--key', uri, '--tlog-upload=false', '--bundle', bundle, blob], env);
      expect(r.code, r.err).toBe(0);
      const b = JSON.parse(await readFile(bundle, 'utf8')) as {
        verificationMaterial: { certificate?: { rawBytes: string }; publicKey?: unknown };
      };
      return b.verificationMaterial.certificate?.rawBytes;
    };
    expect(await certOf({})).toBe((await readFile(join(certDir, 'key.der'))).toString('base64'));
    expect(await certOf({ COSIGN_PKCS11_IGNORE_CERTIFICATE: '1' })).toBeUndefined();
  });

  it('asks the PIN prompt (a terminal in the CLI) only when nothing else gives a PIN, with the token label', async () => {
    // In this process: the module reads SOFTHSM2_CONF when it is initialised.
    process.env.SOFTHSM2_CONF = hsm.env.SOFTHSM2_CONF;
    const { Pkcs11Signer, closePkcs11Modules } = await import('../../src/keys/pkcs11.js');
    try {
      const asked: string[] = [];
      const signer = await Pkcs11Signer.open(keyUri(''), {
        env: {},
        promptPin: async (label) => {
          asked.push(label);
          return PIN;
        },
      });
      expect(asked).toEqual([TOKEN]);
      const data = Buffer.from('prompted');
      expect(signer.verifier().verify(data, await signer.sign(data))).toBe(true);
      // Two signers on one token (the CA's and the TSA's, say): closing one leaves the other logged in.
      const second = await Pkcs11Signer.open(keyUri(), { env: {} });
      second.close();
      expect(signer.verifier().verify(data, await signer.sign(data))).toBe(true);
      signer.close();
      const fromEnv = await Pkcs11Signer.open(keyUri(''), {
        env: { COSIGN_PKCS11_PIN: PIN },
        promptPin: async () => {
          throw new Error('asked although COSIGN_PKCS11_PIN is set');
        },
      });
      fromEnv.close();
      await expect(
        Pkcs11Signer.open(keyUri(''), { env: {}, promptPin: async () => '00000' }),
      ).rejects.toMatchObject({ code: 'E_PKCS11_PIN' });
    } finally {
      closePkcs11Modules();
    }
  });

  it('refuses a wrong PIN, a missing module, a missing PIN, an unknown key and a malformed URI, each by its own error', async () => {
    const cases: [string, Record<string, string>, string, RegExp][] = [
      [keyUri('&pin-value=13579'), {}, 'E_PKCS11_PIN', /wrong PIN for PKCS#11 token "seal test token"/],
      [
        keyUri(`&pin-value=${PIN}`).replace(M(), '/nonexistent/libmissing.so'),
        {},
        'E_PKCS11_MODULE',
        /PKCS#11 module \/nonexistent\/libmissing\.so does not exist/,
      ],
      [keyUri(`&pin-value=${PIN}`).replace(M(), blob), {}, 'E_PKCS11_MODULE', /cannot load PKCS#11 module/],
      [`pkcs11:token=x;object=k?pin-value=${PIN}`, {}, 'E_PKCS11_MODULE', /no PKCS#11 module given/],
      [keyUri(''), {}, 'E_PKCS11_PIN', /needs a PIN/],
      [
        `pkcs11:token=${encodeURIComponent(TOKEN)};object=nope?module-path=${M()}&pin-value=${PIN}`,
        {},
        'E_PKCS11',
        /no private key with label "nope"/,
      ],
      [
        `pkcs11:token=missing;object=k?module-path=${M()}&pin-value=${PIN}`,
        {},
        'E_PKCS11',
        /no token labelled "missing"/,
      ],
      [`pkcs11:token=t;id=%g1?module-path=${M()}`, {}, 'E_PKCS11_URI', /bad percent-encoding in id/],
    ];
    for (const [uri, env, code, message] of cases) {
      const r = await seal(['sign-blob', '--key', uri, blob], env);
      expect(r.code, `${uri}: ${r.err}`).toBe(14);
      expect(r.err).toContain(`[${code}]`);
      expect(r.err).toMatch(message);
      expect(r.err).not.toContain(PIN);
    }
  });
});
