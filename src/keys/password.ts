// Where a key password comes from, in cosign's order: SEAL_PASSWORD / COSIGN_PASSWORD (set, even empty),
// else a hidden TTY prompt (twice when confirming), else all of stdin. cosign.md §2d "Password".

import type { CliIO } from '../cli/io.js';
import { SealError } from '../errors.js';

export const PASSWORD_PROMPT = 'Enter password for private key: ';
export const PASSWORD_CONFIRM_PROMPT = 'Enter password for private key again: ';

/** The parts of CliIO password resolution reads; `readSecret` lets tests stand in for a terminal. */
export type PasswordIO = Pick<CliIO, 'env' | 'isTTY' | 'readStdin' | 'stderr'> & {
  readSecret?: (prompt: string) => Promise<string>;
};

/** Read one line from the terminal without echo; the prompt goes to stderr. */
export async function readHiddenLine(prompt: string, stderr: (text: string) => void): Promise<string> {
  const stdin = process.stdin;
  stderr(prompt);
  const wasRaw = stdin.isRaw;
  if (stdin.isTTY) stdin.setRawMode(true);
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let line = '';
      const onData = (chunk: Buffer) => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            cleanup();
            stderr('\n');
            resolve(line);
            return;
          }
          if (ch === '\u0003') {
            cleanup();
            stderr('\n');
            reject(new SealError('E_INVALID_ARGUMENT', 'interrupted while reading the password'));
            return;
          }
          if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
          else line += ch;
        }
      };
      const onEnd = () => {
        cleanup();
        resolve(line);
      };
      const cleanup = () => {
        stdin.off('data', onData);
        stdin.off('end', onEnd);
      };
      stdin.on('data', onData);
      stdin.on('end', onEnd);
    });
  } finally {
    if (stdin.isTTY) stdin.setRawMode(wasRaw);
    stdin.pause();
  }
}

/**
 * Resolve the key password. With `confirm` (generate/import), a TTY is asked twice and a mismatch is
 * E_KEY_PASSWORD. Piped stdin is used whole, as cosign does (no newline trimming).
 */
export async function resolvePassword(
  io: PasswordIO,
  options: { confirm?: boolean } = {},
): Promise<Uint8Array> {
  for (const name of ['SEAL_PASSWORD', 'COSIGN_PASSWORD']) {
    const value = io.env[name];
    if (value !== undefined) return new TextEncoder().encode(value);
  }
  if (io.isTTY || io.readSecret) {
    const read = io.readSecret ?? ((prompt: string) => readHiddenLine(prompt, io.stderr));
    const first = await read(PASSWORD_PROMPT);
    if (options.confirm) {
      const second = await read(PASSWORD_CONFIRM_PROMPT);
      if (first !== second) throw new SealError('E_KEY_PASSWORD', 'the passwords do not match');
    }
    return new TextEncoder().encode(first);
  }
  return Uint8Array.from(await io.readStdin());
}

/** Ask a yes/no question on the terminal (cosign's overwrite confirmation); false without a terminal. */
export async function confirmOnTerminal(question: string, io: PasswordIO): Promise<boolean> {
  if (!io.isTTY && !io.readSecret) return false;
  const answer = io.readSecret ? await io.readSecret(question) : await readVisibleLine(question, io.stderr);
  return /^y(es)?$/i.test(answer.trim());
}

async function readVisibleLine(prompt: string, stderr: (text: string) => void): Promise<string> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: false });
  stderr(prompt);
  try {
    return await rl.question('');
  } finally {
    rl.close();
  }
}
