// seal initialize (cosign's `initialize`, doc/cosign_initialize.md) against a TUF repository served over
// loopback whose targets are seal serve's trusted root and signing config: the fetched files sign and
// verify; a tampered target, a wrong root checksum and an unreachable mirror are refused by name.

import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { type RunningServer, startServer } from '../../src/server/server.js';
import { startTufRepo, type TufRepo } from '../support/tuf-repo.js';

async function seal(args: string[], env: Record<string, string> = {}) {
  const io = memoryIO({ COSIGN_PASSWORD: '', ...env });
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

describe('seal initialize from a TUF mirror on loopback', () => {
  let dir: string;
  let server: RunningServer;
  let repo: TufRepo;
  let rootFile: string;
  const alice = 'alice@example.com';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-initialize-'));
    server = await startServer({ dataDir: join(dir, 'serve'), port: 0 });
    repo = await startTufRepo({
      'trusted_root.json': await readFile(server.trustedRootPath),
      'signing_config.v0.2.json': await readFile(server.signingConfigPath),
    });
    rootFile = join(dir, 'root.json');
    await writeFile(rootFile, repo.rootJson);
  }, 120_000);
  afterAll(async () => {
    await repo?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('fetches the trusted root and signing config; seal signs and verifies with them', async () => {
    const cache = join(dir, 'cache');
    // doc/cosign_initialize.md: cosign initialize --mirror <url> --root <url>
    const r = await seal(['initialize', '--mirror', repo.url, '--root', rootFile], { TUF_ROOT: cache });
    expect(r.code, r.err).toBe(0);
    const trustedRoot = join(cache, 'trusted_root.json');
    const signingConfig = join(cache, 'signing_config.json');
    expect(r.err).toContain(`--trusted-root ${trustedRoot}`);
    expect(r.err).toContain(`signs with the services of ${signingConfig}`);
    expect(await readFile(trustedRoot, 'utf8')).toBe(await readFile(server.trustedRootPath, 'utf8'));
    // The client walked the TUF metadata, not just the target.
    for (const f of [
      '2.root.json',
      'timestamp.json',
      'snapshot.json',
      'targets.json',
      'targets/trusted_root.json',
    ])
      expect(repo.requests).toContain(f);

    const artifact = join(dir, 'artifact');
    await writeFile(artifact, randomBytes(1000));
    const token = (await seal(['token', '--server', server.url, '--identity', alice])).out.trim();
    const bundle = join(dir, 'artifact.sigstore.json');
    const signed = await seal([
      'sign-blob',
      '--signing-config',
      signingConfig,
      '--identity-token',
      token,
      '--bundle',
      bundle,
      artifact,
    ]);
    expect(signed.code, signed.err).toBe(0);
    const ok = await seal([
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
    expect(ok.code, ok.err).toBe(0);

    // --root-checksum: cosign's sha256 (default) or sha512:<hex>.
    const sha256 = createHash('sha256').update(repo.rootJson).digest('hex');
    const sha512 = createHash('sha512').update(repo.rootJson).digest('hex');
    for (const sum of [sha256, `sha512:${sha512}`]) {
      const c = await seal(['initialize', '--mirror', repo.url, '--root', rootFile, '--root-checksum', sum], {
        TUF_ROOT: cache,
      });
      expect(c.code, c.err).toBe(0);
    }
    const wrong = await seal(
      ['initialize', '--mirror', repo.url, '--root', rootFile, '--root-checksum', '00'.repeat(32)],
      {
        TUF_ROOT: cache,
      },
    );
    expect(wrong.code).not.toBe(0);
    expect(wrong.err).toContain('E_DIGEST_MISMATCH');
  });

  it('refuses a target that does not match the signed targets metadata', async () => {
    const good = repo.files.get('targets/trusted_root.json')!;
    const tampered = JSON.parse(good.toString());
    tampered.tlogs[0].baseUrl = 'https://attacker.example';
    repo.files.set('targets/trusted_root.json', Buffer.from(JSON.stringify(tampered)));
    try {
      const r = await seal(['initialize', '--mirror', repo.url, '--root', rootFile], {
        TUF_ROOT: join(dir, 'cache2'),
      });
      expect(r.code).not.toBe(0);
      expect(r.err).toContain('E_TRUSTED_ROOT_INVALID');
      expect(r.err).toContain(`the TUF repository at ${repo.url} failed verification`);
    } finally {
      repo.files.set('targets/trusted_root.json', good);
    }
  });

  it('refuses metadata signed by another key than the initial root names', async () => {
    const other = await startTufRepo({ 'trusted_root.json': await readFile(server.trustedRootPath) });
    try {
      const r = await seal(['initialize', '--mirror', other.url, '--root', rootFile], {
        TUF_ROOT: join(dir, 'cache3'),
      });
      expect(r.code).not.toBe(0);
      expect(r.err).toContain('E_TRUSTED_ROOT_INVALID');
    } finally {
      await other.close();
    }
  });

  it('offline: names the mirror it could not reach', async () => {
    const r = await seal(['initialize', '--mirror', 'http://127.0.0.1:9', '--root', rootFile], {
      TUF_ROOT: join(dir, 'cache4'),
    });
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('E_NETWORK');
    expect(r.err).toContain('cannot reach the TUF mirror http://127.0.0.1:9');
  });

  it('refuses what it cannot check', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['--mirror', repo.url],
        /seal embeds the initial root of https:\/\/tuf-repo-cdn.sigstore.dev only: pass --root/,
      ],
      [['--staging'], /pass --root with the root.json of https:\/\/tuf-repo-cdn.sigstage.dev/],
      [['--mirror', repo.url, '--root', `${repo.url}/root.json`], /needs --root-checksum/],
      [['--mirror', 'file:///tmp/repo', '--root', rootFile], /not an http\(s\) URL/],
      [
        ['--mirror', repo.url, '--root', rootFile, '--root-checksum', 'md5:00'],
        /is not <hex> or sha512:<hex>/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await seal(['initialize', ...args], { TUF_ROOT: join(dir, 'cache5') });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(message);
    }
  });

  it('warns when the repository has no signing config', async () => {
    const bare = await startTufRepo({ 'trusted_root.json': await readFile(server.trustedRootPath) });
    try {
      await writeFile(join(dir, 'bare-root.json'), bare.rootJson);
      const r = await seal(['initialize', '--mirror', bare.url, '--root', join(dir, 'bare-root.json')], {
        TUF_ROOT: join(dir, 'cache6'),
      });
      expect(r.code, r.err).toBe(0);
      expect(r.err).toContain('WARNING: could not fetch signing_config.v0.2.json');
    } finally {
      await bare.close();
    }
  });
});
