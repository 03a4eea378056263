// Rego values (OPA policy language reference, "Types"): JSON scalars, arrays, objects with any value as key,
// and sets — with OPA's equality, its total order across types (null < boolean < number < string < array
// < object < set) and its text form (what sprintf's %v prints for a composite).

export type Value = null | boolean | number | string | Value[] | RObject | RSet;

export class RObject {
  readonly map = new Map<string, [Value, Value]>();
  static from(entries: Iterable<[Value, Value]>): RObject {
    const o = new RObject();
    for (const [k, v] of entries) o.set(k, v);
    return o;
  }
  set(k: Value, v: Value): void {
    this.map.set(canon(k), [k, v]);
  }
  get(k: Value): Value | undefined {
    return this.map.get(canon(k))?.[1];
  }
  has(k: Value): boolean {
    return this.map.has(canon(k));
  }
  get size(): number {
    return this.map.size;
  }
  entries(): [Value, Value][] {
    return [...this.map.values()];
  }
}

export class RSet {
  readonly map = new Map<string, Value>();
  static from(items: Iterable<Value>): RSet {
    const s = new RSet();
    for (const v of items) s.add(v);
    return s;
  }
  add(v: Value): void {
    this.map.set(canon(v), v);
  }
  has(v: Value): boolean {
    return this.map.has(canon(v));
  }
  get size(): number {
    return this.map.size;
  }
  values(): Value[] {
    return [...this.map.values()];
  }
}

export function typeName(v: Value): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (v instanceof RObject) return 'object';
  if (v instanceof RSet) return 'set';
  return typeof v;
}

const TYPE_ORDER: Record<string, number> = {
  null: 0,
  boolean: 1,
  number: 2,
  string: 3,
  array: 4,
  object: 5,
  set: 6,
};

/** A string that is equal for equal values and only for them (keys of objects and sets). */
export function canon(v: Value): string {
  if (v === null) return 'n';
  if (v === true) return 't';
  if (v === false) return 'f';
  if (typeof v === 'number') return `#${Object.is(v, -0) ? 0 : v}`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v instanceof RObject)
    return `{${[...v.map.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, [, val]]) => `${k}:${canon(val)}`)
      .join(',')}}`;
  return `s{${[...v.map.keys()].sort().join(',')}}`;
}

export function equal(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return canon(a) === canon(b);
}

function sortedValues(vs: Value[]): Value[] {
  return [...vs].sort(compare);
}

export function compare(a: Value, b: Value): number {
  const ta = TYPE_ORDER[typeName(a)]!;
  const tb = TYPE_ORDER[typeName(b)]!;
  if (ta !== tb) return ta < tb ? -1 : 1;
  if (a === null || b === null) return 0;
  if (typeof a === 'boolean' || typeof a === 'number')
    return a === b ? 0 : (a as number) < (b as number) ? -1 : 1;
  if (typeof a === 'string') return compareStrings(a, b as string);
  if (Array.isArray(a)) return compareLists(a, b as Value[]);
  if (a instanceof RObject) {
    const bo = b as RObject;
    const ka = sortedValues(a.entries().map(([k]) => k));
    const kb = sortedValues(bo.entries().map(([k]) => k));
    for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
      const c = compare(ka[i]!, kb[i]!);
      if (c !== 0) return c;
      const cv = compare(a.get(ka[i]!)!, bo.get(kb[i]!)!);
      if (cv !== 0) return cv;
    }
    return ka.length === kb.length ? 0 : ka.length < kb.length ? -1 : 1;
  }
  return compareLists(sortedValues((a as RSet).values()), sortedValues((b as RSet).values()));
}

/** Strings in Go's order (UTF-8 bytes, the same as code points), not JavaScript's UTF-16 units. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate (U+D800–U+DFFF) starts a code point above U+FFFF: after every BMP unit.
    const hx = x >= 0xd800 && x <= 0xdfff;
    const hy = y >= 0xd800 && y <= 0xdfff;
    if (hx !== hy) return hx ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

function compareLists(a: Value[], b: Value[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compare(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** Nesting of the JSON document a policy is evaluated over (deeper is refused before evaluation). */
export const MAX_INPUT_DEPTH = 128;

/** A value nested beyond MAX_INPUT_DEPTH. */
export class InputDepthError extends Error {
  constructor() {
    super(`input nested deeper than ${MAX_INPUT_DEPTH} levels`);
    this.name = 'InputDepthError';
  }
}

/** A parsed JSON document as a Rego value (objects keyed by their string keys); InputDepthError when too deep. */
export function fromJson(v: unknown, depth = 0): Value {
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v !== 'object') return null;
  if (depth >= MAX_INPUT_DEPTH) throw new InputDepthError();
  if (Array.isArray(v)) return v.map((x) => fromJson(x, depth + 1));
  const o = new RObject();
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (val !== undefined) o.set(k, fromJson(val, depth + 1));
  }
  return o;
}

/** A Rego value as JSON, as OPA returns results (sets as sorted arrays, object keys as their text). */
export function toJson(v: Value): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(toJson);
  if (v instanceof RSet) return sortedValues(v.values()).map(toJson);
  const out: Record<string, unknown> = {};
  for (const [k, val] of v.entries()) out[typeof k === 'string' ? k : formatValue(k)] = toJson(val);
  return out;
}

/** OPA's text form of a value (ast.Value String()): strings quoted, sets as {…} or set(). */
export function formatValue(v: Value): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(formatValue).join(', ')}]`;
  if (v instanceof RObject)
    return `{${v
      .entries()
      .sort(([a], [b]) => compare(a, b))
      .map(([k, val]) => `${formatValue(k)}: ${formatValue(val)}`)
      .join(', ')}}`;
  if (v.size === 0) return 'set()';
  return `{${sortedValues(v.values()).map(formatValue).join(', ')}}`;
}

export function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return n.toFixed(0);
  return String(n);
}
