// What a command may touch of the process: its streams and environment. Tests pass their own.

import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';

export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Read all of standard input (for `--key -` and passwords). */
  readStdin: () => Promise<Buffer>;
  /** True when stdin/stderr are terminals (prompts, progress bars). */
  isTTY: boolean;
  cwd: string;
  /**
   * The command was abandoned at its --timeout while its work may still hold sockets or timers open: the
   * process ends once the exit status is set instead of waiting for them. Absent in tests.
   */
  abandon?: () => void;
}

/**
 * Writes to fd 1 or 2 with write(2) directly: building process.stdout/stderr loads the tty, net and stream
 * modules (~3 ms of a cold `seal verify`). If the descriptor is non-blocking and full (EAGAIN), or the
 * write is partial, that descriptor switches to Node's stream for good, so output keeps its order.
 */
function directWriter(fd: 1 | 2): (text: string) => void {
  let viaStream = false;
  // The reader went away (`seal … | head -1`): what is left to print is dropped, as a Unix tool would
  // stop on SIGPIPE, instead of an EPIPE stack trace.
  let closed = false;
  const stream = () => {
    const s = fd === 1 ? process.stdout : process.stderr;
    if (s.listenerCount('error') === 0)
      s.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EPIPE') throw err;
        closed = true;
      });
    return s;
  };
  return (text) => {
    if (closed) return;
    if (!viaStream) {
      const bytes = Buffer.from(text, 'utf8');
      let written = 0;
      try {
        written = writeSync(fd, bytes);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EPIPE') {
          closed = true;
          return;
        }
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      }
      if (written === bytes.length) return;
      viaStream = true;
      stream().write(bytes.subarray(written));
      return;
    }
    stream().write(text);
  };
}

const lazyRequire = createRequire(import.meta.url);

export function processIO(): CliIO {
  return {
    stdout: directWriter(1),
    stderr: directWriter(2),
    env: process.env,
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
    // isatty, not process.stdin.isTTY: touching process.stdin builds the stream (~5 ms of every cold start);
    // node:tty (which loads net and stream) only when a command asks
    get isTTY() {
      const { isatty } = lazyRequire('node:tty') as typeof import('node:tty');
      return isatty(0) && isatty(2);
    },
    cwd: process.cwd(),
    abandon: () => {
      // after bin/seal.js has set process.exitCode from the returned status
      setTimeout(() => process.exit(), 20).unref();
    },
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
