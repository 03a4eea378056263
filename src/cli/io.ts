// What a command may touch of the process: its streams and environment. Tests pass their own.

import { isatty } from 'node:tty';

export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Read all of standard input (for `--key -` and passwords). */
  readStdin: () => Promise<Buffer>;
  /** True when stdin/stderr are terminals (prompts, progress bars). */
  isTTY: boolean;
  cwd: string;
}

export function processIO(): CliIO {
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
    // isatty, not process.stdin.isTTY: touching process.stdin builds the stream (~5 ms of every cold start)
    get isTTY() {
      return isatty(0) && isatty(2);
    },
    cwd: process.cwd(),
  };
}

/** An in-memory CliIO for tests: collects output. */
export function memoryIO(env: NodeJS.ProcessEnv = {}, stdin = ''): CliIO & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout: (t: string) => {
      io.out += t;
    },
    stderr: (t: string) => {
      io.err += t;
    },
    env,
    readStdin: async () => Buffer.from(stdin),
    isTTY: false,
    cwd: process.cwd(),
  };
  return io;
}
