// The package as Node tools see it: `import … from 'seal'` (built dist with .d.ts) and the `seal` bin.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

describe('the seal package', () => {
  it('exposes a typed library API through its package exports', async () => {
    expect(existsSync(join(root, 'dist', 'index.d.ts')), 'run `npm run build` first (npm test does)').toBe(
      true,
    );
    const script = `
      const seal = await import('seal');
      const names = ['parseReference', 'storeFor', 'signImage', 'verifyImage', 'signBlob', 'verifyBlobBundle',
        'attestImage', 'loadTrustedRootFile', 'SealError', 'Digest', 'LayoutStore', 'RegistryStore', 'copyImage'];
      const missing = names.filter((n) => typeof seal[n] !== 'function');
      const ref = seal.parseReference('alpine');
      console.log(JSON.stringify({ missing, ref: seal.formatReference(ref) }));
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: root });
    const out = JSON.parse(stdout);
    expect(out.missing).toEqual([]);
    expect(out.ref).toBe('index.docker.io/library/alpine:latest');
  });

  it('has a bin whose --help lists each command on one line', async () => {
    const { stdout } = await run(process.execPath, [join(root, 'bin', 'seal.js'), '--help'], { cwd: root });
    for (const cmd of [
      'sign',
      'verify',
      'sign-blob',
      'verify-blob',
      'tree',
      'copy',
      'digest',
      'generate-key-pair',
    ]) {
      expect(stdout).toMatch(new RegExp(`^  ${cmd} +\\S`, 'm'));
    }
  });
});
