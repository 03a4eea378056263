// What the working directory's git repository says about the source of a local build: remote URL
// (credentials stripped), branch, commit, dirty state. Reads with `git` itself; absent repo → undefined.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface GitSource {
  /** `git+https://host/path` form of the origin remote, without credentials; undefined without a remote. */
  uri?: string;
  commit: string;
  branch?: string;
  dirty: boolean;
}

/**
 * `https://user:token@host/org/repo.git` → `git+https://host/org/repo`; `git@host:org/repo.git` →
 * `git+https://host/org/repo`. Credentials never leave the machine inside a provenance.
 */
export function normaliseRemote(remote: string): string | undefined {
  const trimmed = remote.trim();
  const scp = /^[^@/\s]+@([^:/\s]+):(.+)$/.exec(trimmed);
  let url: URL;
  try {
    url = new URL(scp ? `https://${scp[1]}/${scp[2]}` : trimmed.replace(/^git\+/, ''));
  } catch {
    return undefined;
  }
  if (url.protocol === 'file:') return undefined;
  const scheme = url.protocol === 'ssh:' || url.protocol === 'git:' ? 'https:' : url.protocol;
  const path = url.pathname.replace(/\.git$/, '').replace(/\/+$/, '');
  return `git+${scheme}//${url.hostname}${url.port && scheme === url.protocol ? `:${url.port}` : ''}${path}`;
}

async function git(cwd: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await run('git', ['-C', cwd, ...args], { timeout: 10_000, maxBuffer: 16 << 20 });
    return stdout.trim();
  } catch {
    return undefined;
  }
}

export async function readGitSource(cwd: string): Promise<GitSource | undefined> {
  const commit = await git(cwd, ['rev-parse', 'HEAD']);
  if (!commit || !/^[0-9a-f]{40,64}$/.test(commit)) return undefined;
  const source: GitSource = { commit, dirty: ((await git(cwd, ['status', '--porcelain'])) ?? '') !== '' };
  const branch = await git(cwd, ['symbolic-ref', '--quiet', '--short', 'HEAD']);
  if (branch) source.branch = branch;
  const remote = await git(cwd, ['remote', 'get-url', 'origin']);
  const uri = remote ? normaliseRemote(remote) : undefined;
  if (uri) source.uri = uri;
  return source;
}
