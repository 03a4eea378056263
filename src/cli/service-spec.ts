// cosign v3's service flags (`--rekor="url=…,public-key=…,start-time=…"`): a comma-separated key=value list
// per service, for `trusted-root create` and `signing-config create` (cosign.md §3; cosign
// cmd/cosign/cli/options/{trustedroot,signingconfig}.go describe the keys).

import { writeFileAtomic } from '../keys/key-files.js';
import { SealError } from '../errors.js';

/**
 * Parse one spec. Unlike cosign, a key this flag does not know is refused: `end-tme=…` would otherwise
 * leave a service without the end its writer meant.
 */
export function parseServiceSpec(
  spec: string,
  flag: string,
  keys: { required: readonly string[]; optional: readonly string[] },
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of spec.split(',')) {
    const eq = pair.indexOf('=');
    if (eq < 0)
      throw new SealError('E_INVALID_ARGUMENT', `${flag}: "${pair}" is not a key=value pair (in "${spec}")`);
    const key = pair.slice(0, eq).trim();
    if (!keys.required.includes(key) && !keys.optional.includes(key))
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `${flag}: unknown key "${key}"; the keys are ${[...keys.required, ...keys.optional].join(', ')}`,
      );
    if (key in out) throw new SealError('E_INVALID_ARGUMENT', `${flag}: key "${key}" appears twice`);
    out[key] = pair.slice(eq + 1).trim();
  }
  for (const key of keys.required)
    if (!out[key])
      throw new SealError(
        'E_INVALID_ARGUMENT',
        `${flag}: missing or empty required key "${key}" in "${spec}"`,
      );
  return out;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 time as cosign reads it (time.RFC3339: a zone is required). */
export function parseRfc3339(text: string, what: string): Date {
  const ms = RFC3339.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(ms))
    throw new SealError(
      'E_INVALID_ARGUMENT',
      `${what}: "${text}" is not an RFC 3339 time (e.g. 2025-01-01T00:00:00Z)`,
    );
  return new Date(ms);
}

/** A URL a service spec names: absolute http(s). */
export function parseServiceUrl(text: string, what: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SealError('E_INVALID_ARGUMENT', `${what}: "${text}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new SealError('E_INVALID_ARGUMENT', `${what}: "${text}" is not an http(s) URL`);
  return text;
}

/** Write a JSON document to --out (relative to the working directory), or print it. */
export async function writeJsonOutput(
  value: unknown,
  out: string | undefined,
  io: { cwd: string; stdout(text: string): void },
): Promise<void> {
  const text = `${JSON.stringify(value, null, 2)}\n`;
  if (!out) {
    io.stdout(text);
    return;
  }
  const { resolve } = await import('node:path');
  try {
    await writeFileAtomic(resolve(io.cwd, out), text, 0o644);
  } catch (cause) {
    if (cause instanceof SealError) throw cause;
    throw new SealError('E_IO', `cannot write --out ${out}: ${(cause as Error).message}`, { cause });
  }
}
