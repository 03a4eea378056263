import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { catalogFilesystem, combinedMatcher } from '../../src/sbom/catalog/index.js';
import { readLayers } from '../../src/sbom/layers.js';
import { dirLayer } from './helpers.js';

const DIST = 'usr/lib/python3/dist-packages';

describe('python cataloger against importlib.metadata', () => {
  it('finds the distributions Python itself sees in the host dist-packages', async (ctx) => {
    if (spawnSync('sh', ['-c', 'command -v python3']).status !== 0 || !existsSync(`/${DIST}`)) {
      // Python is not a prerequisite of this project; the handwritten metadata tests still run
      console.warn(`skipping: no python3 or no /${DIST} on this machine`);
      ctx.skip();
      return;
    }
    const truth = execFileSync(
      'python3',
      [
        '-c',
        `import importlib.metadata as m\nfor d in m.distributions(path=['/${DIST}']):\n  print(d.metadata['Name'] + ' ' + d.version)`,
      ],
      { encoding: 'utf8' },
    )
      .split('\n')
      .filter(Boolean)
      .sort();
    if (truth.length === 0) {
      console.warn(`skipping: /${DIST} holds no distributions`);
      ctx.skip();
      return;
    }
    const view = await readLayers([dirLayer('/', [DIST])], combinedMatcher());
    const pkgs = await catalogFilesystem(view);
    await view.dispose();
    const found = pkgs.filter((p) => p.type === 'pypi').map((p) => `${p.name} ${p.version}`);
    expect(found.sort()).toEqual([...new Set(truth)]);
  });
});
