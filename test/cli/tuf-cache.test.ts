// Which trusted root a command uses without --trusted-root (src/cli/tuf-cache.ts): the one `seal initialize`
// fetched into $TUF_ROOT, else the public-good root shipped in the package; the flag always wins. Every
// command that verifies (verify*, policy test, admission serve, coverage, promote) takes it from here.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initializedTrust, trustedRootFor } from '../../src/cli/tuf-cache.js';
import { publicGoodTrustedRoot, publicGoodTrustedRootJson } from '../../src/verify/trust.js';

describe('trustedRootFor', () => {
  let dir: string;
  let onlyFirstLog: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seal-tuf-cache-'));
    const root = publicGoodTrustedRootJson() as { tlogs: unknown[] };
    expect(root.tlogs.length).toBeGreaterThan(1);
    // a root told apart from the public-good one: its first log only
    onlyFirstLog = JSON.stringify({ ...root, tlogs: root.tlogs.slice(0, 1) });
    await writeFile(join(dir, 'trusted_root.json'), onlyFirstLog);
    await writeFile(join(dir, 'flag.json'), onlyFirstLog);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('takes what seal initialize fetched when no flag names a root', async () => {
    expect(initializedTrust({ TUF_ROOT: dir }).trustedRoot).toBe(join(dir, 'trusted_root.json'));
    expect((await trustedRootFor(undefined, { TUF_ROOT: dir })).tlogs.size).toBe(1);
  });

  it('falls back to the public-good root without an initialized cache', async () => {
    const empty = join(dir, 'absent');
    expect(initializedTrust({ TUF_ROOT: empty })).toEqual({});
    const trust = await trustedRootFor(undefined, { TUF_ROOT: empty });
    expect(trust.tlogs.size).toBe(publicGoodTrustedRoot().tlogs.size);
    expect(trust.tlogs.size).toBeGreaterThan(1);
  });

  it('lets --trusted-root win over the cache', async () => {
    const empty = join(dir, 'absent');
    expect((await trustedRootFor(join(dir, 'flag.json'), { TUF_ROOT: empty })).tlogs.size).toBe(1);
  });
});
