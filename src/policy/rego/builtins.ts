// The OPA built-in functions the Rego subset has (OPA policy reference, "Built-in Functions"), with OPA's
// default (non-strict) error handling: a built-in given the wrong types or failing leaves its expression
// undefined. A call to a function not listed here is refused when the policy loads.

import { compileRe2 } from '../re2.js';
import { canon, compare, formatNumber, formatValue, RObject, RSet, typeName, type Value } from './values.js';

/** A built-in's failure: the expression is undefined (OPA's non-strict built-in errors). */
export class BuiltinError extends Error {}

export interface BuiltinContext {
  /** time.now_ns(): one instant per evaluation, as OPA fixes it per query. */
  nowNs: number;
}

type Builtin = { arity: number; fn: (args: Value[], ctx: BuiltinContext) => Value };

function str(v: Value, fn: string, i: number): string {
  if (typeof v !== 'string')
    throw new BuiltinError(`${fn}: operand ${i} must be string but got ${typeName(v)}`);
  return v;
}

function num(v: Value, fn: string, i: number): number {
  if (typeof v !== 'number')
    throw new BuiltinError(`${fn}: operand ${i} must be number but got ${typeName(v)}`);
  return v;
}

function coll(v: Value, fn: string, i: number): Value[] {
  if (Array.isArray(v)) return v;
  if (v instanceof RSet) return v.values();
  throw new BuiltinError(`${fn}: operand ${i} must be array or set but got ${typeName(v)}`);
}

/** Go's strings.Split: an empty separator splits into code points (not UTF-16 units). */
function goSplit(s: string, sep: string): string[] {
  return sep === '' ? [...s] : s.split(sep);
}

const MAX_REGEX = 1024;
function regex(pattern: string): RegExp {
  if (pattern.length > MAX_REGEX) throw new BuiltinError(`regex.match: pattern longer than ${MAX_REGEX}`);
  let re: RegExp;
  try {
    // OPA matches with Go's regexp (RE2): RE2's meaning, and what RE2 refuses is an error (undefined).
    re = compileRe2(pattern);
  } catch (err) {
    throw new BuiltinError(`regex.match: ${(err as Error).message}`);
  }
  re.lastIndex = 0;
  return re;
}

/** RFC 3339 (Go's time.RFC3339Nano parse) → nanoseconds since the epoch. */
function parseRfc3339Ns(s: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/.exec(
    s,
  );
  if (!m) throw new BuiltinError(`time.parse_rfc3339_ns: parsing time "${s}" as RFC 3339 failed`);
  const [, y, mo, d, h, mi, se, frac, zone] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se));
  const check = new Date(ms);
  if (
    Number(mo) < 1 ||
    Number(mo) > 12 ||
    check.getUTCDate() !== Number(d) ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(se) > 59
  )
    throw new BuiltinError(`time.parse_rfc3339_ns: parsing time "${s}": field out of range`);
  let offsetMin = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone!.startsWith('-') ? -1 : 1;
    offsetMin = sign * (Number(zone!.slice(1, 3)) * 60 + Number(zone!.slice(4, 6)));
  }
  const nanos = frac ? Number(frac.padEnd(9, '0')) : 0;
  return (ms - offsetMin * 60_000) * 1e6 + nanos;
}

/** Go fmt verbs as OPA's sprintf uses them: %v %s %d %f %e %g %q %x %t %%, with width and precision. */
function sprintf(format: string, args: Value[]): string {
  let ai = 0;
  let out = '';
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!;
    if (c !== '%') {
      out += c;
      continue;
    }
    const m = /^([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/.exec(format.slice(i + 1));
    if (!m) {
      out += '%!(NOVERB)';
      continue;
    }
    i += m[0].length;
    const [, flags, width, prec, verb] = m;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (ai >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const a = args[ai++]!;
    let s: string;
    switch (verb) {
      case 'v':
      case 's':
        s = typeof a === 'string' ? a : formatValue(a);
        if (verb === 's' && typeof a !== 'string' && typeof a !== 'object')
          s = `%!s(${goTypeName(a)}=${formatValue(a)})`;
        if (prec !== undefined && typeof a === 'string') s = s.slice(0, Number(prec));
        break;
      case 'd':
        s =
          typeof a === 'number' && Number.isInteger(a)
            ? formatNumber(a)
            : `%!d(${goTypeName(a)}=${formatValue(a)})`;
        if (flags?.includes('+') && typeof a === 'number' && a >= 0) s = `+${s}`;
        break;
      case 'f':
      case 'F':
        s =
          typeof a === 'number'
            ? a.toFixed(prec === undefined ? 6 : Number(prec))
            : `%!f(${goTypeName(a)}=${formatValue(a)})`;
        break;
      case 'e':
        s =
          typeof a === 'number'
            ? goExp(a, prec === undefined ? 6 : Number(prec))
            : `%!e(${goTypeName(a)}=${formatValue(a)})`;
        break;
      case 'g':
        s = typeof a === 'number' ? String(a) : `%!g(${goTypeName(a)}=${formatValue(a)})`;
        break;
      case 'q':
        s = typeof a === 'string' ? JSON.stringify(a) : `%!q(${goTypeName(a)}=${formatValue(a)})`;
        break;
      case 'x':
      case 'X':
        if (typeof a === 'number' && Number.isInteger(a)) s = a.toString(16);
        else if (typeof a === 'string') s = Buffer.from(a, 'utf8').toString('hex');
        else s = `%!${verb}(${goTypeName(a)}=${formatValue(a)})`;
        if (verb === 'X') s = s.toUpperCase();
        break;
      case 't':
        s = typeof a === 'boolean' ? String(a) : `%!t(${goTypeName(a)}=${formatValue(a)})`;
        break;
      default:
        s = `%!${verb}(${goTypeName(a)}=${formatValue(a)})`;
    }
    if (width !== undefined && s.length < Number(width)) {
      const pad = (flags?.includes('0') && !flags.includes('-') ? '0' : ' ').repeat(Number(width) - s.length);
      s = flags?.includes('-') ? s + pad : pad + s;
    }
    out += s;
  }
  if (ai < args.length)
    out += `%!(EXTRA ${args
      .slice(ai)
      .map((a) => `${goTypeName(a)}=${formatValue(a)}`)
      .join(', ')})`;
  return out;
}

function goExp(n: number, prec: number): string {
  const [mant, exp] = n.toExponential(prec).split('e');
  const e = Number(exp);
  return `${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

/** The Go type OPA hands to fmt for each value kind (for the %!verb(type=value) forms). */
function goTypeName(v: Value): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'json.Number';
  if (typeof v === 'boolean') return 'ast.Boolean';
  if (v === null) return 'ast.Null';
  if (Array.isArray(v)) return '*ast.Array';
  if (v instanceof RObject) return '*ast.object';
  return '*ast.set';
}

function objectGet(obj: Value, key: Value, dflt: Value): Value {
  if (!(obj instanceof RObject))
    throw new BuiltinError(`object.get: operand 1 must be object but got ${typeName(obj)}`);
  if (!Array.isArray(key)) {
    const v = obj.get(key);
    return v === undefined ? dflt : v;
  }
  let cur: Value = obj;
  for (const k of key) {
    let next: Value | undefined;
    if (cur instanceof RObject) next = cur.get(k);
    else if (Array.isArray(cur) && typeof k === 'number' && Number.isInteger(k)) next = cur[k];
    else if (cur instanceof RSet) next = cur.has(k) ? k : undefined;
    if (next === undefined) return dflt;
    cur = next;
  }
  return cur;
}

const B: Record<string, Builtin> = {
  count: {
    arity: 1,
    fn: ([v]) => {
      if (typeof v === 'string') return [...v].length;
      if (Array.isArray(v)) return v.length;
      if (v instanceof RObject || v instanceof RSet) return v.size;
      throw new BuiltinError(
        `count: operand 1 must be one of {array, object, set, string} but got ${typeName(v!)}`,
      );
    },
  },
  startswith: { arity: 2, fn: ([a, b]) => str(a!, 'startswith', 1).startsWith(str(b!, 'startswith', 2)) },
  endswith: { arity: 2, fn: ([a, b]) => str(a!, 'endswith', 1).endsWith(str(b!, 'endswith', 2)) },
  contains: { arity: 2, fn: ([a, b]) => str(a!, 'contains', 1).includes(str(b!, 'contains', 2)) },
  lower: { arity: 1, fn: ([a]) => str(a!, 'lower', 1).toLowerCase() },
  upper: { arity: 1, fn: ([a]) => str(a!, 'upper', 1).toUpperCase() },
  concat: {
    arity: 2,
    fn: ([d, c]) =>
      coll(c!, 'concat', 2)
        .map((x, i) => str(x, 'concat', i + 2))
        .join(str(d!, 'concat', 1)),
  },
  split: { arity: 2, fn: ([a, b]) => goSplit(str(a!, 'split', 1), str(b!, 'split', 2)) },
  // Go's strings.ReplaceAll: an empty old string matches before each code point and at the end.
  replace: {
    arity: 3,
    fn: ([a, o, n]) => {
      const s = str(a!, 'replace', 1);
      const old = str(o!, 'replace', 2);
      const rep = str(n!, 'replace', 3);
      return old === '' ? rep + [...s].map((c) => c + rep).join('') : s.split(old).join(rep);
    },
  },
  trim_space: { arity: 1, fn: ([a]) => str(a!, 'trim_space', 1).trim() },
  trim_prefix: {
    arity: 2,
    fn: ([a, p]) => {
      const s = str(a!, 'trim_prefix', 1);
      const pre = str(p!, 'trim_prefix', 2);
      return s.startsWith(pre) ? s.slice(pre.length) : s;
    },
  },
  trim_suffix: {
    arity: 2,
    fn: ([a, p]) => {
      const s = str(a!, 'trim_suffix', 1);
      const suf = str(p!, 'trim_suffix', 2);
      return suf && s.endsWith(suf) ? s.slice(0, s.length - suf.length) : s;
    },
  },
  indexof: {
    arity: 2,
    // OPA counts runes (code points): the index is of the code point where the match starts.
    fn: ([a, b]) => {
      const s = str(a!, 'indexof', 1);
      const i = s.indexOf(str(b!, 'indexof', 2));
      return i < 0 ? -1 : [...s.slice(0, i)].length;
    },
  },
  substring: {
    arity: 3,
    fn: ([a, s, l]) => {
      const cps = [...str(a!, 'substring', 1)];
      const start = num(s!, 'substring', 2);
      const len = num(l!, 'substring', 3);
      if (start < 0) throw new BuiltinError('substring: negative offset');
      return cps.slice(start, len < 0 ? undefined : start + len).join('');
    },
  },
  sprintf: {
    arity: 2,
    fn: ([f, a]) => {
      if (!Array.isArray(a))
        throw new BuiltinError(`sprintf: operand 2 must be array but got ${typeName(a!)}`);
      return sprintf(str(f!, 'sprintf', 1), a);
    },
  },
  'regex.match': {
    arity: 2,
    fn: ([p, v]) => regex(str(p!, 'regex.match', 1)).test(str(v!, 'regex.match', 2)),
  },
  re_match: { arity: 2, fn: ([p, v]) => regex(str(p!, 're_match', 1)).test(str(v!, 're_match', 2)) },
  'time.parse_rfc3339_ns': { arity: 1, fn: ([s]) => parseRfc3339Ns(str(s!, 'time.parse_rfc3339_ns', 1)) },
  'time.now_ns': { arity: 0, fn: (_a, ctx) => ctx.nowNs },
  'object.get': { arity: 3, fn: ([o, k, d]) => objectGet(o!, k!, d!) },
  'object.keys': {
    arity: 1,
    fn: ([o]) => {
      if (!(o instanceof RObject))
        throw new BuiltinError(`object.keys: operand 1 must be object but got ${typeName(o!)}`);
      return RSet.from(o.entries().map(([k]) => k));
    },
  },
  'array.concat': {
    arity: 2,
    fn: ([a, b]) => {
      if (!Array.isArray(a) || !Array.isArray(b))
        throw new BuiltinError('array.concat: operands must be arrays');
      return [...a, ...b];
    },
  },
  to_number: {
    arity: 1,
    fn: ([v]) => {
      if (typeof v === 'number') return v;
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (v === null) return 0;
      // Go's strconv.ParseFloat: no surrounding spaces; a sign may lead.
      if (typeof v === 'string' && /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v)) return Number(v);
      throw new BuiltinError(`to_number: invalid syntax`);
    },
  },
  format_int: {
    arity: 2,
    fn: ([n, b]) => {
      const base = num(b!, 'format_int', 2);
      if (![2, 8, 10, 16].includes(base))
        throw new BuiltinError('format_int: operand 2 must be one of {2, 8, 10, 16}');
      return Math.trunc(num(n!, 'format_int', 1)).toString(base);
    },
  },
  abs: { arity: 1, fn: ([n]) => Math.abs(num(n!, 'abs', 1)) },
  // Go's math.Round: halves round away from zero (round(-2.5) is -3).
  round: {
    arity: 1,
    fn: ([n]) => {
      const x = num(n!, 'round', 1);
      return Math.sign(x) * Math.round(Math.abs(x)) + 0;
    },
  },
  sum: { arity: 1, fn: ([c]) => coll(c!, 'sum', 1).reduce<number>((s, x, i) => s + num(x, 'sum', i + 1), 0) },
  max: {
    arity: 1,
    fn: ([c]) => {
      const xs = coll(c!, 'max', 1);
      if (xs.length === 0) throw new BuiltinError('max: empty');
      return xs.reduce((m, x) => (compare(x, m) > 0 ? x : m));
    },
  },
  min: {
    arity: 1,
    fn: ([c]) => {
      const xs = coll(c!, 'min', 1);
      if (xs.length === 0) throw new BuiltinError('min: empty');
      return xs.reduce((m, x) => (compare(x, m) < 0 ? x : m));
    },
  },
  sort: { arity: 1, fn: ([c]) => [...coll(c!, 'sort', 1)].sort(compare) },
  union: {
    arity: 1,
    fn: ([c]) => {
      if (!(c instanceof RSet)) throw new BuiltinError('union: operand 1 must be set');
      const out = new RSet();
      for (const s of c.values()) {
        if (!(s instanceof RSet)) throw new BuiltinError('union: operand 1 must be set of sets');
        for (const v of s.values()) out.add(v);
      }
      return out;
    },
  },
  intersection: {
    arity: 1,
    fn: ([c]) => {
      if (!(c instanceof RSet)) throw new BuiltinError('intersection: operand 1 must be set');
      const sets = c.values();
      if (!sets.every((s) => s instanceof RSet))
        throw new BuiltinError('intersection: operand 1 must be set of sets');
      if (sets.length === 0) return new RSet();
      const [first, ...rest] = sets as RSet[];
      return RSet.from(first!.values().filter((v) => rest.every((s) => s.has(v))));
    },
  },
  type_name: { arity: 1, fn: ([v]) => typeName(v!) },
  is_string: { arity: 1, fn: ([v]) => typeof v === 'string' },
  is_number: { arity: 1, fn: ([v]) => typeof v === 'number' },
  is_boolean: { arity: 1, fn: ([v]) => typeof v === 'boolean' },
  is_null: { arity: 1, fn: ([v]) => v === null },
  is_array: { arity: 1, fn: ([v]) => Array.isArray(v) },
  is_object: { arity: 1, fn: ([v]) => v instanceof RObject },
  is_set: { arity: 1, fn: ([v]) => v instanceof RSet },
};

export function builtin(name: string): Builtin | undefined {
  return Object.hasOwn(B, name) ? B[name] : undefined;
}

export const BUILTIN_NAMES = Object.keys(B);

/** The key OPA orders a set's members by, for deterministic iteration. */
export const memberKey = canon;
