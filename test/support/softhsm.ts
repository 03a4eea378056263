// Test harness: a private SoftHSM2 token store (SOFTHSM2_CONF pointing at a temporary tokendir), tokens made
// with softhsm2-util and keys with pkcs11-tool (Debian packages softhsm2 and opensc).

import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'vitest';

const run = promisify(execFile);

export const SOFTHSM_MODULE = process.env.SEAL_TEST_SOFTHSM_MODULE ?? '/usr/lib/softhsm/libsofthsm2.so';

function hasCommand(name: string, args: string[]): boolean {
  try {
    execFileSync(name, args, { stdio: 'ignore' });
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/** Why SoftHSM cannot be used here, or undefined when it can. */
export function softhsmUnavailableReason(): string | undefined {
  if (!hasCommand('softhsm2-util', ['--version']))
    return 'softhsm2-util not found: install it with "apt-get install -y softhsm2"';
  if (!existsSync(SOFTHSM_MODULE)) return `${SOFTHSM_MODULE} not found: install "softhsm2"`;
  if (!hasCommand('pkcs11-tool', ['--help']))
    return 'pkcs11-tool not found: install it with "apt-get install -y opensc"';
  return undefined;
}

/** `describe` for tests that need SoftHSM: skipped with a message outside CI, failed with CI=true. */
export function describeWithSoftHsm(name: string, fn: () => void): void {
  const reason = softhsmUnavailableReason();
  if (!reason) {
    describe(name, fn);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs SoftHSM2', () => {
        throw new Error(`CI=true and SoftHSM2 cannot run: ${reason}`);
      });
    });
    return;
  }
  console.warn(`skipping "${name}": ${reason}`);
  describe.skip(name, fn);
}

export interface SoftHsm {
  dir: string;
  /** Environment for processes that use this token store (SOFTHSM2_CONF). */
  env: Record<string, string>;
  modulePath: string;
  /** Initialise a token in the first free slot; returns its slot ID as softhsm2-util reports it. */
  initToken(label: string, pin: string, soPin?: string): Promise<bigint>;
  /** `pkcs11-tool --keypairgen` in the token. */
  keygen(token: string, pin: string, keyType: string, label: string, idHex: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startSoftHsm(): Promise<SoftHsm> {
  const dir = await mkdtemp(join(tmpdir(), 'seal-softhsm-'));
  const conf = join(dir, 'softhsm2.conf');
  await writeFile(conf, `directories.tokendir = ${dir}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const env = { SOFTHSM2_CONF: conf };
  const childEnv = { ...process.env, ...env };
  return {
    dir,
    env,
    modulePath: SOFTHSM_MODULE,
    async initToken(label, pin, soPin = '5678') {
      const { stdout } = await run(
        'softhsm2-util',
        ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', soPin],
        { env: childEnv },
      );
      const slot = /reassigned to slot (\d+)/.exec(stdout);
      if (!slot) throw new Error(`softhsm2-util --init-token printed no slot: ${stdout}`);
      return BigInt(slot[1]!);
    },
    async keygen(token, pin, keyType, label, idHex) {
      await run(
        'pkcs11-tool',
        [
          '--module',
          SOFTHSM_MODULE,
          '--token-label',
          token,
          '--login',
          '--pin',
          pin,
          '--keypairgen',
          '--key-type',
          keyType,
          '--label',
          label,
          '--id',
          idHex,
        ],
        { env: childEnv },
      );
    },
    async stop() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
