// End to end: the built CLI refuses a 200 MB key file by its size (E_KEY_FILE_TOO_LARGE, exit 14) without
// reading it: its peak RSS stays near that of a command that reads nothing (a whole read costs the file's
// size at least once). The file is sparse, so the test itself writes nothing to disk.

import { existsSync, mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runSealMeasured, SEAL_BIN } from '../support/peak-rss.js';

const FILE_BYTES = 200_000_000;
/** Headroom over the baseline for the command's own modules and the refusal; far below the file's size. */
const HEADROOM = 48 * 1024 * 1024;

describe('a 200 MB key file', () => {
  let dir: string;
  let big: string;
  let baseline: number;

  beforeAll(async () => {
    expect(
      existsSync(join(SEAL_BIN, '..', '..', 'dist', 'cli-bundle', 'main.js')),
      'run `npm run build` first',
    ).toBe(true);
    dir = mkdtempSync(join(tmpdir(), 'seal-key-size-'));
    big = join(dir, 'big.key');
    writeFileSync(big, '');
    truncateSync(big, FILE_BYTES);
    const version = await runSealMeasured(['version']);
    expect(version.code).toBe(0);
    baseline = version.peakRss;
  }, 60_000);

  it.each([
    ['sign', ['sign', '--key']],
    ['verify', ['verify', '--key']],
    ['import-key-pair', ['import-key-pair', '--output-key-prefix', 'imported', '--key']],
  ])(
    'is refused by %s by its size, without being read',
    async (name, args) => {
      const target = name === 'import-key-pair' ? [] : [`oci-layout:${join(dir, 'nothing')}`];
      const r = await runSealMeasured([...args, big, ...target], { cwd: dir });
      expect(r.code).toBe(14);
      expect(r.stderr).toContain('E_KEY_FILE_TOO_LARGE');
      expect(r.stderr).toContain(`${big} is ${FILE_BYTES} bytes`);
      expect(r.peakRss).toBeLessThan(baseline + HEADROOM);
    },
    60_000,
  );
});
