// JSON read as CUE reads it (cue.Context.CompileBytes): a number keeps its spelling, so `7.0` stays a float
// and `9007199254740993` an exact int (CUE specification, "Numeric values"); JSON.parse would give both as
// the same JavaScript number.

/** A JSON number as written. */
export class JsonNumber {
  constructor(readonly text: string) {}
  /** An integer literal (no fraction, no exponent) is an int in CUE; anything else a float. */
  get isInt(): boolean {
    return /^-?\d+$/.test(this.text);
  }
}

export class JsonReadError extends Error {}

export const JSON_READ_LIMITS = { maxBytes: 64 * 1024 * 1024, maxDepth: 128 };

// The JSON text of values seal verified (in-toto statements), by the parsed value handed to policies.
const texts = new WeakMap<object, string>();

/** Remember the exact JSON text `value` was parsed from, so that a CUE policy reads its numbers as written. */
export function rememberJsonText(value: unknown, text: string): void {
  if (value !== null && typeof value === 'object') texts.set(value, text);
}

export function jsonTextOf(value: unknown): string | undefined {
  return value !== null && typeof value === 'object' ? texts.get(value) : undefined;
}

/**
 * Strict JSON (RFC 8259) with numbers as JsonNumber and objects without a prototype (so that a
 * `__proto__` key is data). Duplicate keys are refused: CUE would unify them, JSON.parse keeps the last.
 */
export function readJson(text: string): unknown {
  if (text.length > JSON_READ_LIMITS.maxBytes)
    throw new JsonReadError(`JSON larger than ${JSON_READ_LIMITS.maxBytes} bytes`);
  let i = 0;
  const fail = (why: string): never => {
    throw new JsonReadError(`invalid JSON at offset ${i}: ${why}`);
  };
  const ws = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const str = (): string => {
    const start = i;
    i++;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return JSON.parse(text.slice(start, i)) as string;
      }
      if (c < 0x20) fail('control character in string');
      i += c === 0x5c ? 2 : 1;
    }
    return fail('unterminated string');
  };
  const NUM = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const value = (depth: number): unknown => {
    if (depth > JSON_READ_LIMITS.maxDepth) fail(`nested deeper than ${JSON_READ_LIMITS.maxDepth} levels`);
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, unknown> = Object.create(null);
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      while (true) {
        ws();
        if (text[i] !== '"') fail('expected a string key');
        const k = str();
        if (Object.hasOwn(obj, k)) fail(`duplicate key ${JSON.stringify(k)}`);
        ws();
        if (text[i] !== ':') fail('expected ":"');
        i++;
        obj[k] = value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return obj;
        }
        fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      while (true) {
        arr.push(value(depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        fail('expected "," or "]"');
      }
    }
    if (c === '"') return str();
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    NUM.lastIndex = i;
    const m = NUM.exec(text);
    if (!m) return fail('unexpected character');
    i += m[0].length;
    return new JsonNumber(m[0]);
  };
  const out = value(0);
  ws();
  if (i !== text.length) fail('trailing data');
  return out;
}
