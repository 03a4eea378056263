import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { catalogFilesystem, combinedMatcher } from '../../src/sbom/catalog/index.js';
import { readLayers } from '../../src/sbom/layers.js';
import { bufferLayer, dirLayer, makeTar } from './helpers.js';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

interface LsNode {
  version?: string;
  missing?: boolean;
  dependencies?: Record<string, LsNode>;
}

describe('npm cataloger against npm ls', () => {
  it('finds the same name@version set as `npm ls --all --json` on this project node_modules', async () => {
    const ls = JSON.parse(
      execFileSync('npm', ['ls', '--all', '--json'], {
        cwd: projectRoot,
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      }),
    ) as LsNode;
    // npm ls repeats deduped packages under every dependent: the set of name@version is what is installed
    const truth = new Set<string>();
    const walk = (deps: Record<string, LsNode> | undefined) => {
      for (const [name, node] of Object.entries(deps ?? {})) {
        if (node.version && !node.missing) truth.add(`${name}@${node.version}`);
        walk(node.dependencies);
      }
    };
    walk(ls.dependencies);
    expect(truth.size).toBeGreaterThan(100);
    const view = await readLayers(
      [dirLayer(projectRoot, ['node_modules', 'package.json', 'package-lock.json'])],
      combinedMatcher(),
    );
    const pkgs = await catalogFilesystem(view);
    await view.dispose();
    const found = new Set(pkgs.filter((p) => p.type === 'npm').map((p) => `${p.name}@${p.version}`));
    expect([...truth].filter((x) => !found.has(x))).toEqual([]); // none missing
    expect([...found].filter((x) => !truth.has(x))).toEqual([]); // none invented
    expect(pkgs.filter((p) => p.type !== 'npm')).toEqual([]);
    const zod = pkgs.find((p) => p.name === 'zod')!;
    expect(zod.purl).toMatch(/^pkg:npm\/zod@\d/);
    expect(zod.licenses).toEqual(['MIT']);
    const scoped = pkgs.find((p) => p.name.startsWith('@sigstore/'))!;
    expect(scoped.purl.startsWith('pkg:npm/%40sigstore/')).toBe(true);
  }, 300_000);

  it('reads a v3 lock file only where its modules are not installed, skipping dev entries', async () => {
    const lock = {
      name: 'app',
      lockfileVersion: 3,
      packages: {
        '': { name: 'app', version: '1.0.0' },
        'node_modules/express': { version: '4.19.2', license: 'MIT' },
        'node_modules/@types/node': { version: '20.0.0', dev: true },
        'node_modules/express/node_modules/debug': { version: '2.6.9' },
      },
    };
    const t = await makeTar([
      { name: 'srv/app/package-lock.json', content: JSON.stringify(lock) },
      { name: 'srv/other/package-lock.json', content: JSON.stringify(lock) },
      {
        name: 'srv/other/node_modules/left-pad/package.json',
        content: '{"name":"left-pad","version":"1.3.0","license":"WTFPL"}',
      },
    ]);
    const view = await readLayers([bufferLayer(t)], combinedMatcher());
    const pkgs = await catalogFilesystem(view);
    expect(pkgs.map((p) => `${p.purl} ${p.locations.join(',')}`)).toEqual([
      'pkg:npm/express@4.19.2 /srv/app/package-lock.json',
      'pkg:npm/debug@2.6.9 /srv/app/package-lock.json',
      'pkg:npm/left-pad@1.3.0 /srv/other/node_modules/left-pad/package.json',
    ]);
  });
});
