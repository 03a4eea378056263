// cosign's registry flags against the real distribution registry: behind htpasswd (--registry-username/
// --registry-password, seal login), behind a token server (--registry-token), and over TLS with a private CA
// made by openssl that requires a client certificate (--registry-cacert, --registry-client-cert/-key,
// --registry-server-name when connecting by IP).

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { anonymousCredentials, staticCredentials } from '../../src/oci/auth.js';
import { parseReference } from '../../src/oci/ref.js';
import { RegistryStore } from '../../src/oci/registry.js';
import { pushRandomImage } from '../oci/store-suite.js';
import { describeWithOpenssl } from '../support/openssl-ca.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';
import { makeTlsPki, type TlsPki } from '../support/tls-pki.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'seal-regopts-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** seal in-process, with its own docker config directory (never the user's). */
async function seal(args: string[], env: Record<string, string> = {}, stdin = '') {
  const io = memoryIO({ COSIGN_PASSWORD: '', DOCKER_CONFIG: join(dir, 'docker-none'), ...env }, stdin);
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

async function keyPair(): Promise<{ key: string; pub: string }> {
  const prefix = join(dir, `k${randomBytes(3).toString('hex')}`);
  const made = await seal(['generate-key-pair', '--output-key-prefix', prefix]);
  expect(made.code, made.err).toBe(0);
  return { key: `${prefix}.key`, pub: `${prefix}.pub` };
}

describeWithRegistry(
  'registry behind htpasswd',
  () => {
    let registry: RunningRegistry;
    let keys: { key: string; pub: string };
    const creds = () => ['--registry-username', 'alice', '--registry-password', 'wonderland'];

    beforeAll(async () => {
      [registry, keys] = await Promise.all([
        startRegistry({ auth: 'htpasswd', users: { alice: 'wonderland' } }),
        keyPair(),
      ]);
    }, 120_000);
    afterAll(async () => registry?.stop());

    async function image(): Promise<string> {
      const ref = `${registry.host}/auth${randomBytes(3).toString('hex')}/app:v1`;
      const store = new RegistryStore({
        credentials: staticCredentials({ [registry.host]: { username: 'alice', password: 'wonderland' } }),
      });
      await pushRandomImage(store, parseReference(ref));
      return ref;
    }

    for (const legacy of [false, true]) {
      it(`signs and verifies with --registry-username/--registry-password (${legacy ? 'legacy .sig' : 'bundle'})`, async () => {
        const ref = await image();
        const format = legacy ? ['--new-bundle-format=false'] : [];
        const signed = await seal([
          'sign',
          '--key',
          keys.key,
          '--tlog-upload=false',
          ...format,
          ...creds(),
          ref,
        ]);
        expect(signed.code, signed.err).toBe(0);
        const verified = await seal(['verify', '--key', keys.pub, '--insecure-ignore-tlog', ...creds(), ref]);
        expect(verified.code, verified.err).toBe(0);
        // the same commands without credentials are refused by the registry
        const anonymous = await seal(['verify', '--key', keys.pub, '--insecure-ignore-tlog', ref]);
        expect(anonymous.code).not.toBe(0);
        expect(anonymous.err).toMatch(/E_UNAUTHORIZED|refused|unauthori/i);
      });
    }

    it('says the registry refused the credentials when the password is wrong, naming the flags', async () => {
      const ref = await image();
      const wrong = await seal([
        'sign',
        '--key',
        keys.key,
        '--tlog-upload=false',
        '--registry-username',
        'alice',
        '--registry-password',
        'not-the-password',
        ref,
      ]);
      expect(wrong.code).not.toBe(0);
      expect(wrong.err).toContain('E_UNAUTHORIZED');
      expect(wrong.err).toMatch(/refused the credentials/);
      expect(wrong.err).toContain('--registry-username');
      expect(wrong.err).not.toMatch(/\n\s+at /); // no stack trace
    });

    it('refuses half a credential pair before talking to the registry', async () => {
      const ref = await image();
      const half = await seal(['verify', '--key', keys.pub, '--registry-username', 'alice', ref]);
      expect(half.code).not.toBe(0);
      expect(half.err).toContain('--registry-username needs --registry-password');
    });

    it('seal login writes docker config.json (0600, other keys kept) and sign/verify then need no flags', async () => {
      const dockerDir = join(dir, `docker-${randomBytes(3).toString('hex')}`);
      await mkdir(dockerDir);
      const other = Buffer.from('bob:builder').toString('base64');
      await writeFile(
        join(dockerDir, 'config.json'),
        JSON.stringify({ auths: { 'other.example': { auth: other } }, psFormat: 'table {{.ID}}' }),
        { mode: 0o644 },
      );
      const env = { DOCKER_CONFIG: dockerDir };
      const login = await seal(['login', registry.host, '-u', 'alice', '-p', 'wonderland'], env);
      expect(login.code, login.err).toBe(0);
      expect(login.err).toContain(join(dockerDir, 'config.json'));
      const config = JSON.parse(await readFile(join(dockerDir, 'config.json'), 'utf8'));
      expect(config.auths[registry.host]).toEqual({
        auth: Buffer.from('alice:wonderland').toString('base64'),
      });
      expect(config.auths['other.example']).toEqual({ auth: other });
      expect(config.psFormat).toBe('table {{.ID}}');
      expect((await stat(join(dockerDir, 'config.json'))).mode & 0o777).toBe(0o600);

      const ref = await image();
      const signed = await seal(['sign', '--key', keys.key, '--tlog-upload=false', ref], env);
      expect(signed.code, signed.err).toBe(0);
      const verified = await seal(['verify', '--key', keys.pub, '--insecure-ignore-tlog', ref], env);
      expect(verified.code, verified.err).toBe(0);
    });

    it('seal login --password-stdin creates the config (and its directory) and drops one trailing newline', async () => {
      const dockerDir = join(dir, `docker-${randomBytes(3).toString('hex')}`, 'nested');
      const env = { DOCKER_CONFIG: dockerDir };
      const login = await seal(
        ['login', '-u', 'alice', '--password-stdin', registry.host],
        env,
        'wonderland\n',
      );
      expect(login.code, login.err).toBe(0);
      const config = JSON.parse(await readFile(join(dockerDir, 'config.json'), 'utf8'));
      expect(Buffer.from(config.auths[registry.host].auth, 'base64').toString()).toBe('alice:wonderland');
      expect((await stat(join(dockerDir, 'config.json'))).mode & 0o777).toBe(0o600);
      const ref = await image();
      const tree = await seal(['tree', ref], env);
      expect(tree.code, tree.err).toBe(0);
      // a wrong login is written as given, and then refused by the registry with the same clear error
      const bad = await seal(['login', '-u', 'alice', '-p', 'nope', registry.host], env);
      expect(bad.code).toBe(0);
      const refused = await seal(['tree', ref], env);
      expect(refused.code).not.toBe(0);
      expect(refused.err).toMatch(/refused the credentials/);
    });

    it('login refuses missing arguments', async () => {
      expect((await seal(['login', registry.host, '-p', 'x'])).err).toContain('-u/--username');
      expect((await seal(['login', registry.host, '-u', 'alice'])).err).toContain('--password-stdin');
      expect((await seal(['login', '-u', 'a', '-p', 'b', '--password-stdin', registry.host])).err).toContain(
        'exclude each other',
      );
    });
  },
  'htpasswd',
);

describeWithRegistry(
  'registry behind a token server',
  () => {
    let registry: RunningRegistry;
    let keys: { key: string; pub: string };

    beforeAll(async () => {
      [registry, keys] = await Promise.all([
        startRegistry({
          auth: 'token',
          tokenServer: { users: { alice: { password: 'wonderland', grants: { '*': ['pull', 'push'] } } } },
        }),
        keyPair(),
      ]);
    }, 120_000);
    afterAll(async () => registry?.stop());

    it('--registry-token is sent as the bearer token, with no token server round trip', async () => {
      const repo = `tok${randomBytes(3).toString('hex')}/app`;
      const ref = `${registry.host}/${repo}:v1`;
      const store = new RegistryStore({
        credentials: staticCredentials({ [registry.host]: { username: 'alice', password: 'wonderland' } }),
      });
      await pushRandomImage(store, parseReference(ref));
      // a token for this repository, as a CI system would hand one out
      const server = registry.tokenServer!;
      const url = new URL(server.realm);
      url.searchParams.set('service', server.service);
      url.searchParams.set('scope', `repository:${repo}:pull,push`);
      const res = await fetch(url, {
        headers: { Authorization: `Basic ${Buffer.from('alice:wonderland').toString('base64')}` },
      });
      const { token } = (await res.json()) as { token: string };
      const before = server.hits;
      const signed = await seal([
        'sign',
        '--key',
        keys.key,
        '--tlog-upload=false',
        '--registry-token',
        token,
        ref,
      ]);
      expect(signed.code, signed.err).toBe(0);
      const verified = await seal([
        'verify',
        '--key',
        keys.pub,
        '--insecure-ignore-tlog',
        '--registry-token',
        token,
        ref,
      ]);
      expect(verified.code, verified.err).toBe(0);
      expect(server.hits).toBe(before);
      const forged = await seal(['verify', '--key', keys.pub, '--registry-token', 'forged.token.value', ref]);
      expect(forged.code).not.toBe(0);
      expect(forged.err).toMatch(/refused the credentials/);
    });
  },
  'token',
);

describeWithOpenssl('registry over TLS with a private CA and client certificates', () => {
  describeWithRegistry('against the real registry', () => {
    let pki: TlsPki;
    let registry: RunningRegistry;
    let keys: { key: string; pub: string };
    let ref: string;

    beforeAll(async () => {
      const pkiDir = join(dir, 'pki');
      await mkdir(pkiDir);
      [pki, keys] = await Promise.all([makeTlsPki(pkiDir), keyPair()]);
      registry = await startRegistry({
        tls: { certificate: pki.serverCert, key: pki.serverKey, clientCAs: [pki.clientCa] },
      });
      ref = `${registry.host}/tls${randomBytes(3).toString('hex')}/app:v1`;
      const store = new RegistryStore({
        credentials: anonymousCredentials,
        tls: {
          ca: await readFile(pki.serverCa, 'utf8'),
          cert: await readFile(pki.clientCert, 'utf8'),
          key: await readFile(pki.clientKey, 'utf8'),
          servername: pki.serverName,
        },
      });
      await pushRandomImage(store, parseReference(ref));
    }, 120_000);
    afterAll(async () => registry?.stop());

    const tlsFlags = () => [
      '--registry-cacert',
      pki.serverCa,
      '--registry-client-cert',
      pki.clientCert,
      '--registry-client-key',
      pki.clientKey,
      '--registry-server-name',
      pki.serverName,
    ];
    // a failing TLS connection is retried as a network error: keep the command short
    const quick = ['--timeout', '20s'];

    it('signs and verifies by IP with --registry-cacert, the client certificate and --registry-server-name', async () => {
      const signed = await seal(['sign', '--key', keys.key, '--tlog-upload=false', ...tlsFlags(), ref]);
      expect(signed.code, signed.err).toBe(0);
      const verified = await seal([
        'verify',
        '--key',
        keys.pub,
        '--insecure-ignore-tlog',
        ...tlsFlags(),
        ref,
      ]);
      expect(verified.code, verified.err).toBe(0);
      const tree = await seal(['tree', ...tlsFlags(), ref]);
      expect(tree.code, tree.err).toBe(0);
    });

    it('without the client certificate: an error that names --registry-client-cert', async () => {
      const res = await seal([
        'digest',
        ...quick,
        '--registry-cacert',
        pki.serverCa,
        '--registry-server-name',
        pki.serverName,
        ref,
      ]);
      expect(res.code).not.toBe(0);
      expect(res.err).toContain('E_NETWORK');
      expect(res.err).toContain('--registry-client-cert');
    });

    it('with a client certificate from a CA the registry does not trust: the same error', async () => {
      const res = await seal([
        'digest',
        ...quick,
        '--registry-cacert',
        pki.serverCa,
        '--registry-server-name',
        pki.serverName,
        '--registry-client-cert',
        pki.strangerCert,
        '--registry-client-key',
        pki.strangerKey,
        ref,
      ]);
      expect(res.code).not.toBe(0);
      expect(res.err).toContain('--registry-client-cert');
    });

    it('by IP without --registry-server-name: the certificate is for another name, and the error says so', async () => {
      const res = await seal([
        'digest',
        ...quick,
        '--registry-cacert',
        pki.serverCa,
        '--registry-client-cert',
        pki.clientCert,
        '--registry-client-key',
        pki.clientKey,
        ref,
      ]);
      expect(res.code).not.toBe(0);
      expect(res.err).toContain('--registry-server-name');
    });

    it('without --registry-cacert the private CA is not trusted, and the error names the flag', async () => {
      const res = await seal([
        'digest',
        ...quick,
        '--registry-client-cert',
        pki.clientCert,
        '--registry-client-key',
        pki.clientKey,
        '--registry-server-name',
        pki.serverName,
        ref,
      ]);
      expect(res.code).not.toBe(0);
      expect(res.err).toContain('--registry-cacert');
    });

    it('checks the TLS files before connecting', async () => {
      const noKey = await seal(['digest', '--registry-client-cert', pki.clientCert, ref]);
      expect(noKey.err).toContain('--registry-client-cert needs --registry-client-key');
      const mismatched = await seal([
        'digest',
        '--registry-client-cert',
        pki.clientCert,
        '--registry-client-key',
        pki.strangerKey,
        ref,
      ]);
      expect(mismatched.err).toContain('is not the key of --registry-client-cert');
      const notCa = await seal(['digest', '--registry-cacert', pki.clientKey, ref]);
      expect(notCa.err).toContain('no PEM certificate');
    });
  });
});

describe('--k8s-keychain', () => {
  it('is refused outside a Kubernetes pod, naming the flag and why', async () => {
    const res = await seal(['digest', '--k8s-keychain', '127.0.0.1:1/none/app:v1']);
    expect(res.code).not.toBe(0);
    expect(res.err).toContain('--k8s-keychain');
    expect(res.err).toContain('not running in a Kubernetes pod');
  });
});

describeWithRegistry('where attachments go: --attachment-tag-prefix and --registry-referrers-mode', () => {
  let registry: RunningRegistry;
  let keys: { key: string; pub: string };
  const store = new RegistryStore({ credentials: anonymousCredentials });

  beforeAll(async () => {
    [registry, keys] = await Promise.all([startRegistry(), keyPair()]);
  }, 120_000);
  afterAll(async () => registry?.stop());

  async function image(): Promise<{ ref: string; repo: string; hex: string }> {
    const repo = `att${randomBytes(3).toString('hex')}/app`;
    const ref = `${registry.host}/${repo}:v1`;
    const pushed = await pushRandomImage(store, parseReference(ref));
    return { ref, repo, hex: pushed.digest.hex };
  }
  const tagsOf = (ref: string) => store.listTags(parseReference(ref));

  it('--attachment-tag-prefix writes and reads [prefix]sha256-<hex>.sig and .att', async () => {
    const { ref, hex } = await image();
    const prefix = ['--attachment-tag-prefix', 'team1-'];
    const signed = await seal([
      'sign',
      '--key',
      keys.key,
      '--tlog-upload=false',
      '--new-bundle-format=false',
      ...prefix,
      ref,
    ]);
    expect(signed.code, signed.err).toBe(0);
    const predicate = join(dir, 'predicate.txt');
    await writeFile(predicate, 'built on a Tuesday');
    const attested = await seal([
      'attest',
      '--key',
      keys.key,
      '--tlog-upload=false',
      '--new-bundle-format=false',
      '--type',
      'custom',
      '--predicate',
      predicate,
      ...prefix,
      ref,
    ]);
    expect(attested.code, attested.err).toBe(0);
    const tags = await tagsOf(ref);
    expect(tags).toContain(`team1-sha256-${hex}.sig`);
    expect(tags).toContain(`team1-sha256-${hex}.att`);
    expect(tags).not.toContain(`sha256-${hex}.sig`);
    expect(tags).not.toContain(`sha256-${hex}.att`);

    const verify = ['verify', '--key', keys.pub, '--insecure-ignore-tlog'];
    expect((await seal([...verify, ...prefix, ref])).code).toBe(0);
    // without the prefix there is nothing where seal looks
    const unprefixed = await seal([...verify, ref]);
    expect(unprefixed.code).not.toBe(0);
    expect(unprefixed.err).toContain('E_NO_SIGNATURES');
    const verifyAtt = ['verify-attestation', '--key', keys.pub, '--insecure-ignore-tlog', '--type', 'custom'];
    expect((await seal([...verifyAtt, ...prefix, ref])).code).toBe(0);
    expect((await seal([...verifyAtt, ref])).code).not.toBe(0);

    const tree = await seal(['tree', ...prefix, ref]);
    expect(tree.code, tree.err).toBe(0);
    expect(tree.out).toContain(`team1-sha256-${hex}.sig`);
    const downloaded = await seal(['download', 'signature', ...prefix, ref]);
    expect(downloaded.code, downloaded.err).toBe(0);
    expect(downloaded.out.trim().split('\n')).toHaveLength(1);

    // copy takes the prefixed tags along
    const target = `${registry.host}/copied${randomBytes(3).toString('hex')}/app:v1`;
    const copied = await seal(['copy', ...prefix, ref, target]);
    expect(copied.code, copied.err).toBe(0);
    expect(await tagsOf(target)).toEqual(
      expect.arrayContaining([`team1-sha256-${hex}.sig`, `team1-sha256-${hex}.att`]),
    );
    expect((await seal([...verify, ...prefix, target])).code).toBe(0);
  });

  it('attach, triangulate, save/load and clean use the prefixed tags too', async () => {
    const { ref, repo, hex } = await image();
    const prefix = ['--attachment-tag-prefix', 'p2-'];
    const tri = await seal(['triangulate', ...prefix, ref]);
    expect(tri.out.trim()).toBe(`${registry.host}/${repo}:p2-sha256-${hex}.sig`);
    // a detached signature attached by hand
    const sig = join(dir, `sig-${hex}`);
    const payload = join(dir, `payload-${hex}`);
    const made = await seal([
      'sign',
      '--key',
      keys.key,
      '--tlog-upload=false',
      '--new-bundle-format=false',
      '--upload=false',
      '--output-signature',
      sig,
      '--output-payload',
      payload,
      ref,
    ]);
    expect(made.code, made.err).toBe(0);
    const attached = await seal([
      'attach',
      'signature',
      ...prefix,
      '--payload',
      payload,
      '--signature',
      sig,
      ref,
    ]);
    expect(attached.code, attached.err).toBe(0);
    expect(await tagsOf(ref)).toContain(`p2-sha256-${hex}.sig`);
    const verify = ['verify', '--key', keys.pub, '--insecure-ignore-tlog'];
    expect((await seal([...verify, ...prefix, ref])).code).toBe(0);
    // save reads the prefixed tag; load writes it under the prefix elsewhere
    const layoutDir = join(dir, `layout-${hex}`);
    const saved = await seal(['save', ...prefix, '--dir', layoutDir, ref]);
    expect(saved.code, saved.err).toBe(0);
    const target = `${registry.host}/loaded${randomBytes(3).toString('hex')}/app:v1`;
    const loaded = await seal(['load', ...prefix, '--dir', layoutDir, target]);
    expect(loaded.code, loaded.err).toBe(0);
    expect(await tagsOf(target)).toContain(`p2-sha256-${hex}.sig`);
    expect((await seal([...verify, ...prefix, target])).code).toBe(0);
    // clean removes the prefixed tag
    const cleaned = await seal(['clean', '-f', '--type', 'signature', ...prefix, ref]);
    expect(cleaned.code, cleaned.err).toBe(0);
    expect(await tagsOf(ref)).not.toContain(`p2-sha256-${hex}.sig`);
    expect((await seal([...verify, ...prefix, ref])).code).not.toBe(0);
  });

  it('refuses a prefix that would make invalid tags', async () => {
    const { ref } = await image();
    const res = await seal(['verify', '--key', keys.pub, '--attachment-tag-prefix', 'bad/prefix', ref]);
    expect(res.code).not.toBe(0);
    expect(res.err).toContain('--attachment-tag-prefix');
  });

  it('--registry-referrers-mode=legacy puts a --new-bundle-format=false signature on the sha256-<hex>.sig tag', async () => {
    const { ref, hex } = await image();
    const signed = await seal([
      'sign',
      '--key',
      keys.key,
      '--tlog-upload=false',
      '--new-bundle-format=false',
      '--registry-referrers-mode=legacy',
      ref,
    ]);
    expect(signed.code, signed.err).toBe(0);
    const tags = await tagsOf(ref);
    expect(tags).toContain(`sha256-${hex}.sig`);
    expect(tags).not.toContain(`sha256-${hex}`); // no referrers fallback index: nothing was pushed as a referrer
    const digest = (await store.resolve(parseReference(ref))).digest;
    expect(
      await store.referrers(
        parseReference(ref),
        (await import('../../src/oci/digest.js')).Digest.parse(digest),
      ),
    ).toEqual([]);
    expect((await seal(['verify', '--key', keys.pub, '--insecure-ignore-tlog', ref])).code).toBe(0);
  });

  it('--registry-referrers-mode=oci-1-1 pushes it as an OCI 1.1 referrer, as cosign WriteSignaturesExperimentalOCI does', async () => {
    const { ref, repo, hex } = await image();
    const signed = await seal([
      'sign',
      '--key',
      keys.key,
      '--tlog-upload=false',
      '--new-bundle-format=false',
      '--registry-referrers-mode',
      'oci-1-1',
      ref,
    ]);
    expect(signed.code, signed.err).toBe(0);
    expect(signed.err).toMatch(/referrer sha256:/);
    const tags = await tagsOf(ref);
    expect(tags).not.toContain(`sha256-${hex}.sig`);
    // distribution 2.8 has no referrers API (404), so the referrer is listed in the sha256-<hex> fallback
    // index, as go-containerregistry (under cosign) does
    const api = await fetch(`${registry.url}/v2/${repo}/referrers/sha256:${hex}`);
    expect(api.status).toBe(404);
    expect(tags).toContain(`sha256-${hex}`);
    const { Digest } = await import('../../src/oci/digest.js');
    const listed = await store.referrers(parseReference(ref), Digest.parse(`sha256:${hex}`));
    expect(listed).toHaveLength(1);
    expect(listed[0]!.artifactType).toBe('application/vnd.dev.cosign.artifact.sig.v1+json');
    const { manifest } = await store.getManifest(
      parseReference(`${registry.host}/${repo}@${listed[0]!.digest}`),
    );
    expect(manifest).toMatchObject({
      artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
      config: { mediaType: 'application/vnd.dev.cosign.artifact.sig.v1+json' },
      subject: { digest: `sha256:${hex}` },
      layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json' }],
    });
    // seal verify finds it among the referrers (cosign: verify --experimental-oci11)
    const verified = await seal(['verify', '--key', keys.pub, '--insecure-ignore-tlog', ref]);
    expect(verified.code, verified.err).toBe(0);
    const other = await keyPair();
    expect((await seal(['verify', '--key', other.pub, '--insecure-ignore-tlog', ref])).code).not.toBe(0);
  });

  it('rejects an unknown mode, and notes that bundles always go as referrers', async () => {
    const { ref } = await image();
    const bad = await seal(['sign', '--key', keys.key, '--registry-referrers-mode', 'oci-2', ref]);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain('must be one of "legacy", "oci-1-1"');
    const bundle = await seal([
      'sign',
      '--key',
      keys.key,
      '--tlog-upload=false',
      '--registry-referrers-mode=legacy',
      ref,
    ]);
    expect(bundle.code, bundle.err).toBe(0);
    expect(bundle.err).toContain('a bundle always goes as an OCI 1.1 referrer');
    const digest = await seal(['digest', '--attachment-tag-prefix', 'x-', ref]);
    expect(digest.code).toBe(0);
    expect(digest.err).toContain('--attachment-tag-prefix changes nothing for seal digest');
  });
});
