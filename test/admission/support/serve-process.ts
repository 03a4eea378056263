// `seal admission serve` as a child process in the e2e tests: wait for the URL it prints once it listens.

import type { ChildProcess } from 'node:child_process';

/** Resolves with the `https://127.0.0.1:PORT` line the server prints on stdout; rejects (with its stderr) if it exits first. */
export function admissionServeUrl(child: ChildProcess, timeoutMs = 60_000): Promise<string> {
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  return new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`admission serve did not start: ${stderr}`)), timeoutMs);
    child.stdout?.on('data', (d) => {
      out += d;
      const m = /^(https:\/\/127\.0\.0\.1:\d+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`admission serve exited ${code}: ${stderr}`));
    });
  });
}
