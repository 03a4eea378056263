// One bounded HTTP exchange with a KMS (or its token service): a deadline over the whole exchange, the answer
// read up to MAX_ANSWER_BYTES and parsed as JSON. Every provider module talks through this.

import { isSealError, SealError } from '../../errors.js';

/** A KMS answer (a public key, a signature, a key listing, an error) is a few KiB; more is refused. */
export const MAX_ANSWER_BYTES = 256 * 1024;

/** Time for one exchange, connection to last byte (SEAL_KMS_TIMEOUT_MS changes it). */
export const DEFAULT_KMS_TIMEOUT_MS = 15_000;

export interface KmsAnswer {
  status: number;
  /** The parsed JSON body, or undefined when the body is empty or not JSON. */
  json: unknown;
  text: string;
}

export function kmsTimeoutMs(env: NodeJS.ProcessEnv): number {
  const v = Number(env.SEAL_KMS_TIMEOUT_MS);
  return Number.isInteger(v) && v > 0 && v <= 300_000 ? v : DEFAULT_KMS_TIMEOUT_MS;
}

/** Send one request; E_NETWORK when it cannot be sent or does not complete in time, E_KMS when the answer is too long. */
export async function kmsExchange(
  what: string,
  url: string,
  init: { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string; timeoutMs: number },
): Promise<KmsAnswer> {
  const signal = AbortSignal.timeout(init.timeoutMs);
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method,
      headers: init.headers ?? {},
      ...(init.body !== undefined ? { body: init.body } : {}),
      signal,
      redirect: 'error',
    });
  } catch (cause) {
    throw new SealError('E_NETWORK', `${what}: cannot reach ${originOf(url)} (${reason(cause)})`, { cause });
  }
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > MAX_ANSWER_BYTES) {
    await res.body?.cancel().catch(() => {});
    throw new SealError(
      'E_KMS',
      `${what}: ${originOf(url)} answered ${declared} bytes; at most ${MAX_ANSWER_BYTES} are read`,
    );
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body ?? []) {
      total += chunk.byteLength;
      if (total > MAX_ANSWER_BYTES) {
        await res.body?.cancel().catch(() => {});
        throw new SealError(
          'E_KMS',
          `${what}: ${originOf(url)} answered over ${MAX_ANSWER_BYTES} bytes; refused`,
        );
      }
      chunks.push(chunk);
    }
  } catch (cause) {
    if (isSealError(cause)) throw cause;
    throw new SealError(
      'E_NETWORK',
      `${what}: the answer from ${originOf(url)} did not arrive (${reason(cause)})`,
      {
        cause,
      },
    );
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

function reason(cause: unknown): string {
  const e = cause as Error & { cause?: Error };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timed out';
  return e?.cause?.message ?? e?.message ?? String(cause);
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the KMS';
  }
}

/** A short, printable excerpt of an error answer for a message (never the whole body). */
export function answerExcerpt(a: KmsAnswer): string {
  return a.text.replace(/\s+/g, ' ').slice(0, 200);
}

/** A string field of an object, or undefined. */
export function field(v: unknown, name: string): unknown {
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[name] : undefined;
}

export function stringField(v: unknown, name: string): string | undefined {
  const f = field(v, name);
  return typeof f === 'string' ? f : undefined;
}
