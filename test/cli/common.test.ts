// The shared registry flags: --timeout read as cosign writes durations (Go's time.ParseDuration forms),
// defaulting to cosign's 3m0s, as an overall deadline (each operation, and the whole command's registry work).

import { describe, expect, it } from 'vitest';
import { parseDuration, registryOptionsFrom, registryOptionSpecs } from '../../src/cli/common.js';
import { isSealError } from '../../src/errors.js';

describe('--timeout', () => {
  it('reads the durations cosign prints and accepts', () => {
    expect(parseDuration('3m0s')).toBe(180_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1m30.5s')).toBe(90_500);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('45')).toBe(45_000);
    for (const bad of ['', 'soon', '3x', '3m0', 'm3', '-1s', '1h 2m']) {
      expect(() => parseDuration(bad), bad).toThrow(/invalid duration/);
    }
  });

  it('defaults to 3m0s, as cosign, and says so in the help', () => {
    expect(registryOptionSpecs.timeout.default).toBe('3m0s');
    const options = registryOptionsFrom({});
    expect(options.deadlineMs).toBe(180_000);
    expect(options.signal?.aborted).toBe(false);
  });

  it('gives a one-shot command an overall signal that aborts with E_NETWORK naming --timeout', async () => {
    const options = registryOptionsFrom({ timeout: '50ms' });
    expect(options.deadlineMs).toBe(50);
    const signal = options.signal!;
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    expect(isSealError(signal.reason, 'E_NETWORK')).toBe(true);
    expect((signal.reason as Error).message).toMatch(/ran past --timeout 50ms/);
  });

  it('gives a server only the per-operation deadline (its requests bring their own signals)', () => {
    const options = registryOptionsFrom({ timeout: '20s' }, { server: true });
    expect(options.deadlineMs).toBe(20_000);
    expect(options.signal).toBeUndefined();
  });

  it('refuses a malformed or non-positive --timeout with E_INVALID_ARGUMENT', () => {
    for (const bad of ['soon', '0s', '0']) {
      let caught: unknown;
      try {
        registryOptionsFrom({ timeout: bad });
      } catch (err) {
        caught = err;
      }
      expect(isSealError(caught, 'E_INVALID_ARGUMENT'), bad).toBe(true);
    }
  });
});
