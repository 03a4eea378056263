// Byte-exact emulation of Go's encoding/json Marshal for the documents cosign writes with it: struct
// fields in declaration order, map keys sorted, compact, and Go's string escaping (HTML-safe, \u2028/9).

/** A JSON object whose key order is fixed (a Go struct) — plain JS objects reorder integer-like keys. */
export class GoObject {
  constructor(readonly entries: ReadonlyArray<readonly [string, GoValue]>) {}
}

export type GoValue = string | number | boolean | null | GoObject | readonly GoValue[];

/** A Go struct: fields in the order given; `undefined` values are dropped (as `omitempty`). */
export function goStruct(fields: ReadonlyArray<readonly [string, GoValue | undefined]>): GoObject {
  return new GoObject(fields.filter((f): f is readonly [string, GoValue] => f[1] !== undefined));
}

/** A Go map: keys sorted bytewise by their UTF-8 encoding, as encoding/json does. */
export function goMap(record: Readonly<Record<string, GoValue>>): GoObject {
  const keys = Object.keys(record).sort((a, b) =>
    Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')),
  );
  return new GoObject(keys.map((k) => [k, record[k]!] as const));
}

const HEX = '0123456789abcdef';

/**
 * Go's encodeState.string with escapeHTML=true (Go ≥ 1.22: `\b` and `\f` short escapes): `"` and `\`,
 * control characters, `<`, `>`, `&`, U+2028 and U+2029 are escaped; invalid UTF-16 becomes \ufffd.
 */
export function goQuote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += s[i]! + s[i + 1]!;
        i++;
      } else {
        out += '\\ufffd';
      }
      continue;
    }
    if (c >= 0xdc00 && c <= 0xdfff) {
      out += '\\ufffd';
      continue;
    }
    switch (c) {
      case 0x22:
        out += '\\"';
        break;
      case 0x5c:
        out += '\\\\';
        break;
      case 0x08:
        out += '\\b';
        break;
      case 0x0c:
        out += '\\f';
        break;
      case 0x0a:
        out += '\\n';
        break;
      case 0x0d:
        out += '\\r';
        break;
      case 0x09:
        out += '\\t';
        break;
      case 0x3c:
      case 0x3e:
      case 0x26:
        out += `\\u00${HEX[c >> 4]}${HEX[c & 15]}`;
        break;
      case 0x2028:
        out += '\\u2028';
        break;
      case 0x2029:
        out += '\\u2029';
        break;
      default:
        out += c < 0x20 ? `\\u00${HEX[c >> 4]}${HEX[c & 15]}` : s[i]!;
    }
  }
  return `${out}"`;
}

/** Serialise like json.Marshal. Only integers are expected among numbers (Go int64 fields). */
export function goMarshal(value: GoValue): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return goQuote(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('json: unsupported value: non-finite number');
    return String(value);
  }
  if (value instanceof GoObject) {
    return `{${value.entries.map(([k, v]) => `${goQuote(k)}:${goMarshal(v)}`).join(',')}}`;
  }
  return `[${value.map(goMarshal).join(',')}]`;
}

export function goMarshalBytes(value: GoValue): Uint8Array {
  return new TextEncoder().encode(goMarshal(value));
}

/** A string map (annotations) as a Go map, or null for an absent/empty map (a nil Go map). */
export function goStringMapOrNull(record: Readonly<Record<string, string>> | undefined): GoObject | null {
  if (!record || Object.keys(record).length === 0) return null;
  return goMap(record);
}
