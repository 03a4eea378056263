// CUE values and their unification (CUE language specification, "Values", "Unification", "Disjunction",
// "Default values", "Bounds"): the lattice seal's CUE evaluator computes in.

import type { BoundOp, Scalar } from './parser.js';

export const K_NULL = 1;
export const K_BOOL = 2;
export const K_INT = 4;
export const K_FLOAT = 8;
export const K_STRING = 16;
export const K_BYTES = 32;
export const K_STRUCT = 64;
export const K_LIST = 128;
export const K_NUMBER = K_INT | K_FLOAT;
export const K_TOP = 255;

export interface Bound {
  op: BoundOp;
  /** The bound's operand: a number or string (`=~`/`!~` hold the pattern source). */
  v: Scalar;
  re?: RegExp;
}

export type Value =
  | { t: 'top' }
  | { t: 'bottom'; msg: string; path?: string }
  /** Not known yet (a reference to something not concrete); never an error by itself. */
  | { t: 'incomplete'; msg: string }
  /** A scalar constraint: the kinds still allowed, the bounds, and the value once concrete. */
  | { t: 'atom'; kinds: number; bounds: Bound[]; concrete?: Scalar }
  | { t: 'struct'; fields: Map<string, Field> }
  | { t: 'list'; elems: Value[]; tail: Value | null }
  | { t: 'disj'; items: { v: Value; d: boolean }[] };

export interface Field {
  v: Value;
  /** '' regular, '?' optional, '!' required. */
  opt: '' | '?' | '!';
}

export const TOP: Value = { t: 'top' };

export function bottom(msg: string): Value {
  return { t: 'bottom', msg };
}

export function kindOfScalar(s: Scalar): number {
  switch (s.k) {
    case 'null':
      return K_NULL;
    case 'bool':
      return K_BOOL;
    case 'int':
      return K_INT;
    case 'float':
      return K_FLOAT;
    case 'string':
      return K_STRING;
  }
}

export function atomOf(s: Scalar): Value {
  return { t: 'atom', kinds: kindOfScalar(s), bounds: [], concrete: s };
}

export function kindAtom(kinds: number): Value {
  return { t: 'atom', kinds, bounds: [] };
}

/** Unification budget shared by one evaluation (bounds the work an input can cause). */
export class Budget {
  steps = 0;
  constructor(readonly max: number) {}
  tick(): void {
    if (++this.steps > this.max) throw new BudgetExceeded(this.max);
  }
}

export class BudgetExceeded extends Error {
  constructor(max: number) {
    super(`evaluation exceeded ${max} steps`);
  }
}

const MAX_DISJUNCTS = 256;

// ---- formatting (as CUE prints values in its messages) ----

function formatFloat(v: number): string {
  const s = String(v);
  return /[.eE]/.test(s) || !Number.isFinite(v) ? s : `${s}.0`;
}

export function formatScalar(s: Scalar): string {
  switch (s.k) {
    case 'null':
      return 'null';
    case 'bool':
      return String(s.v);
    case 'int':
      return s.v.toString();
    case 'float':
      return formatFloat(s.v);
    case 'string':
      return JSON.stringify(s.v);
  }
}

const KIND_NAMES: [number, string][] = [
  [K_NULL, 'null'],
  [K_BOOL, 'bool'],
  [K_INT, 'int'],
  [K_FLOAT, 'float'],
  [K_STRING, 'string'],
  [K_BYTES, 'bytes'],
  [K_STRUCT, 'struct'],
  [K_LIST, 'list'],
];

export function formatKinds(kinds: number): string {
  if (kinds === K_TOP) return '_';
  const names: string[] = [];
  let rest = kinds;
  if ((rest & K_NUMBER) === K_NUMBER) {
    names.push('number');
    rest &= ~K_NUMBER;
  }
  for (const [bit, name] of KIND_NAMES) if (rest & bit) names.push(name);
  return names.join('|');
}

function formatBound(b: Bound): string {
  return `${b.op}${formatScalar(b.v)}`;
}

export function formatValue(v: Value, depth = 0): string {
  switch (v.t) {
    case 'top':
      return '_';
    case 'bottom':
      return '_|_';
    case 'incomplete':
      return '_';
    case 'atom': {
      if (v.concrete) return formatScalar(v.concrete);
      const parts: string[] = [];
      const implied = v.bounds.reduce((k, b) => k & boundKinds(b), K_TOP);
      if (v.kinds !== implied || v.bounds.length === 0) parts.push(formatKinds(v.kinds));
      for (const b of v.bounds) parts.push(formatBound(b));
      return parts.join(' & ');
    }
    case 'struct': {
      if (depth > 2) return '{...}';
      const fs = [...v.fields].map(([k, f]) => `${labelText(k)}${f.opt}: ${formatValue(f.v, depth + 1)}`);
      return `{${fs.join(', ')}}`;
    }
    case 'list': {
      if (depth > 2) return '[...]';
      const es = v.elems.map((e) => formatValue(e, depth + 1));
      if (v.tail) es.push(v.tail.t === 'top' ? '...' : `...${formatValue(v.tail, depth + 1)}`);
      return `[${es.join(', ')}]`;
    }
    case 'disj':
      return v.items
        .map((i) => `${i.d && hasMarkedDefault(v) ? '*' : ''}${formatValue(i.v, depth + 1)}`)
        .join(' | ');
  }
}

function hasMarkedDefault(v: Extract<Value, { t: 'disj' }>): boolean {
  return v.items.some((i) => i.d) && !v.items.every((i) => i.d);
}

export function labelText(label: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(label) ? label : JSON.stringify(label);
}

// ---- comparison ----

function utf8Compare(a: string, b: string): number {
  // CUE compares strings bytewise (Go string order), not by UTF-16 code units.
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Numeric equality across int (bigint) and float (number): JS orders mixed bigint/number exactly. */
function numEqual(a: number | bigint, b: number | bigint): boolean {
  return !(a < b) && !(a > b);
}

function numeric(s: Scalar): number | bigint | undefined {
  return s.k === 'int' || s.k === 'float' ? s.v : undefined;
}

function scalarEqual(a: Scalar, b: Scalar): boolean {
  if (a.k !== b.k) return false;
  switch (a.k) {
    case 'null':
      return true;
    case 'bool':
    case 'int':
    case 'float':
    case 'string':
      return a.v === (b as typeof a).v;
  }
}

/** The kinds a bound can constrain (`<3` numbers, `<"b"` strings, `=~` strings, `!=x` anything). */
export function boundKinds(b: Bound): number {
  if (b.op === '!=') return K_TOP;
  if (b.op === '=~' || b.op === '!~') return K_STRING | K_BYTES;
  return b.v.k === 'string' ? K_STRING : K_NUMBER;
}

/** Does concrete value `x` satisfy bound `b`? */
function satisfies(x: Scalar, b: Bound): boolean {
  if (b.op === '!=') {
    const nx = numeric(x);
    const nb = numeric(b.v);
    if (nx !== undefined && nb !== undefined) return !numEqual(nx, nb);
    return !scalarEqual(x, b.v);
  }
  if (b.op === '=~' || b.op === '!~') {
    if (x.k !== 'string') return false;
    const m = b.re!.test(x.v);
    return b.op === '=~' ? m : !m;
  }
  let c: number;
  if (x.k === 'string' && b.v.k === 'string') c = utf8Compare(x.v, b.v.v);
  else {
    const nx = numeric(x);
    const nb = numeric(b.v);
    if (nx === undefined || nb === undefined) return false;
    c = nx < nb ? -1 : nx > nb ? 1 : 0;
  }
  switch (b.op) {
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    case '>=':
      return c >= 0;
  }
}

function mismatched(a: Value, b: Value, ka: number, kb: number): Value {
  return bottom(
    `conflicting values ${formatValue(a)} and ${formatValue(b)} (mismatched types ${formatKinds(ka)} and ${formatKinds(kb)})`,
  );
}

export function kindsOf(v: Value): number {
  switch (v.t) {
    case 'top':
    case 'incomplete':
      return K_TOP;
    case 'bottom':
      return 0;
    case 'atom':
      return v.kinds;
    case 'struct':
      return K_STRUCT;
    case 'list':
      return K_LIST;
    case 'disj':
      return v.items.reduce((k, i) => k | kindsOf(i.v), 0);
  }
}

/** Empty numeric ranges (`>5 & <3`) are bottom, as CUE reports them. */
function checkRange(bounds: Bound[], kinds: number): string | undefined {
  if ((kinds & K_NUMBER) === 0 || (kinds & ~K_NUMBER) !== 0) return undefined;
  let lo: Bound | undefined;
  let hi: Bound | undefined;
  for (const b of bounds) {
    const n = numeric(b.v);
    if (n === undefined) continue;
    if (b.op === '>' || b.op === '>=') {
      const cur = lo ? numeric(lo.v)! : undefined;
      if (cur === undefined || n > cur || (numEqual(n, cur) && b.op === '>')) lo = b;
    } else if (b.op === '<' || b.op === '<=') {
      const cur = hi ? numeric(hi.v)! : undefined;
      if (cur === undefined || n < cur || (numEqual(n, cur) && b.op === '<')) hi = b;
    }
  }
  if (!lo || !hi) return undefined;
  const l = numeric(lo.v)!;
  const h = numeric(hi.v)!;
  const empty = l > h || (numEqual(l, h) && (lo.op === '>' || hi.op === '<'));
  return empty ? `incompatible number bounds ${formatBound(hi)} and ${formatBound(lo)}` : undefined;
}

function unifyAtoms(a: Extract<Value, { t: 'atom' }>, b: Extract<Value, { t: 'atom' }>): Value {
  const kinds = a.kinds & b.kinds;
  if (kinds === 0) return mismatched(a, b, a.kinds, b.kinds);
  if (a.concrete && b.concrete) {
    if (!scalarEqual(a.concrete, b.concrete)) {
      return bottom(`conflicting values ${formatScalar(a.concrete)} and ${formatScalar(b.concrete)}`);
    }
  }
  const concrete = a.concrete ?? b.concrete;
  const bounds = [...a.bounds];
  for (const x of b.bounds) {
    if (!bounds.some((y) => y.op === x.op && scalarEqual(y.v, x.v))) bounds.push(x);
  }
  if (concrete) {
    for (const x of bounds) {
      if (!satisfies(concrete, x))
        return bottom(`invalid value ${formatScalar(concrete)} (out of bound ${formatBound(x)})`);
    }
    return { t: 'atom', kinds, bounds: [], concrete };
  }
  const empty = checkRange(bounds, kinds);
  if (empty) return bottom(empty);
  return { t: 'atom', kinds, bounds };
}

/** An atom (kind/bound constraint) met with a struct or list. */
function unifyAtomComposite(a: Extract<Value, { t: 'atom' }>, c: Value, kind: number): Value {
  if ((a.kinds & kind) === 0) return mismatched(a, c, a.kinds, kind);
  // Only `!=` bounds allow composite kinds; a struct or list is never equal to a scalar.
  return c;
}

/** Is there an error anywhere in the regular (data) part of `v`? (A failed disjunct is eliminated.) */
export function hasError(v: Value): boolean {
  switch (v.t) {
    case 'bottom':
      return true;
    case 'struct':
      for (const f of v.fields.values()) if (f.opt === '' && hasError(f.v)) return true;
      return false;
    case 'list':
      return v.elems.some(hasError) || (v.tail !== null && v.tail.t === 'bottom');
    default:
      return false;
  }
}

export function unify(a: Value, b: Value, budget: Budget): Value {
  budget.tick();
  if (a.t === 'bottom') return a;
  if (b.t === 'bottom') return b;
  if (a.t === 'top') return b;
  if (b.t === 'top') return a;
  if (a.t === 'disj' || b.t === 'disj') return unifyDisjunctions(a, b, budget);
  if (a.t === 'incomplete') return a;
  if (b.t === 'incomplete') return b;
  if (a.t === 'atom' && b.t === 'atom') return unifyAtoms(a, b);
  if (a.t === 'atom') return unifyAtomComposite(a, b, b.t === 'struct' ? K_STRUCT : K_LIST);
  if (b.t === 'atom') return unifyAtomComposite(b, a, a.t === 'struct' ? K_STRUCT : K_LIST);
  if (a.t === 'struct' && b.t === 'struct') {
    const fields = new Map<string, Field>();
    for (const [k, f] of a.fields) fields.set(k, f);
    for (const [k, f] of b.fields) {
      const g = fields.get(k);
      fields.set(k, g ? { v: unify(g.v, f.v, budget), opt: mergeOpt(g.opt, f.opt) } : f);
    }
    return { t: 'struct', fields };
  }
  if (a.t === 'list' && b.t === 'list') return unifyLists(a, b, budget);
  return mismatched(a, b, kindsOf(a), kindsOf(b));
}

/** Regular wins over required, required over optional (spec "Field constraints"). */
export function mergeOpt(a: '' | '?' | '!', b: '' | '?' | '!'): '' | '?' | '!' {
  if (a === '' || b === '') return '';
  if (a === '!' || b === '!') return '!';
  return '?';
}

function unifyLists(
  a: Extract<Value, { t: 'list' }>,
  b: Extract<Value, { t: 'list' }>,
  budget: Budget,
): Value {
  const la = a.elems.length;
  const lb = b.elems.length;
  if (!a.tail && !b.tail && la !== lb) return bottom(`incompatible list lengths (${la} and ${lb})`);
  if (!a.tail && lb > la) return bottom(`incompatible list lengths (${la} and ${lb})`);
  if (!b.tail && la > lb) return bottom(`incompatible list lengths (${la} and ${lb})`);
  const n = Math.max(la, lb);
  const elems: Value[] = [];
  for (let i = 0; i < n; i++) {
    const x = i < la ? a.elems[i]! : a.tail!;
    const y = i < lb ? b.elems[i]! : b.tail!;
    elems.push(unify(x, y, budget));
  }
  const tail = a.tail && b.tail ? unify(a.tail, b.tail, budget) : null;
  return { t: 'list', elems, tail };
}

function disjItems(v: Value): { v: Value; d: boolean }[] {
  return v.t === 'disj' ? v.items : [{ v, d: true }];
}

/** ⟨v1,d1⟩ & ⟨v2,d2⟩ = ⟨v1&v2, d1&d2⟩, failed disjuncts eliminated (spec "Default values"). */
function unifyDisjunctions(a: Value, b: Value, budget: Budget): Value {
  const out: { v: Value; d: boolean }[] = [];
  const errors: string[] = [];
  for (const x of disjItems(a)) {
    for (const y of disjItems(b)) {
      const v = unify(x.v, y.v, budget);
      if (hasError(v)) {
        errors.push(firstError(v));
        continue;
      }
      addDisjunct(out, { v, d: x.d && y.d });
      if (out.length > MAX_DISJUNCTS)
        return bottom(`disjunction with more than ${MAX_DISJUNCTS} alternatives`);
    }
  }
  return makeDisjunction(out, errors);
}

export function firstError(v: Value, path = ''): string {
  switch (v.t) {
    case 'bottom':
      return path ? `${path}: ${v.msg}` : v.msg;
    case 'struct':
      for (const [k, f] of v.fields) {
        if (f.opt === '' && hasError(f.v))
          return firstError(f.v, path ? `${path}.${labelText(k)}` : labelText(k));
      }
      return '';
    case 'list':
      for (let i = 0; i < v.elems.length; i++) {
        if (hasError(v.elems[i]!)) return firstError(v.elems[i]!, `${path}.${i}`.replace(/^\./, ''));
      }
      return '';
    default:
      return '';
  }
}

function addDisjunct(out: { v: Value; d: boolean }[], item: { v: Value; d: boolean }): void {
  const same = out.find((o) => equalValues(o.v, item.v));
  if (same) same.d ||= item.d;
  else out.push(item);
}

export function makeDisjunction(items: { v: Value; d: boolean }[], errors: string[]): Value {
  if (items.length === 0) {
    const uniq = [...new Set(errors)];
    if (uniq.length === 1) return bottom(uniq[0]!);
    return bottom(`${uniq.length} errors in empty disjunction: ${uniq.join('; ')}`);
  }
  if (items.length === 1) return items[0]!.v;
  return { t: 'disj', items };
}

/** `a | b | *c`: marked terms keep their defaults; unmarked terms lose theirs when any term is marked. */
export function disjunctionOf(terms: { v: Value; marked: boolean }[]): Value {
  const anyMarked = terms.some((t) => t.marked);
  const out: { v: Value; d: boolean }[] = [];
  const errors: string[] = [];
  for (const term of terms) {
    for (const item of disjItems(term.v)) {
      if (hasError(item.v)) {
        errors.push(firstError(item.v));
        continue;
      }
      addDisjunct(out, { v: item.v, d: anyMarked ? term.marked && item.d : item.d });
    }
  }
  return makeDisjunction(out, errors);
}

/** The default of a value (spec "Default values"): the marked disjuncts, or the value itself. */
export function defaultOf(v: Value): Value {
  if (v.t !== 'disj') return v;
  const ds = v.items.filter((i) => i.d);
  if (ds.length === 1) return ds[0]!.v;
  if (ds.length === 0 || ds.length === v.items.length) return v;
  return { t: 'disj', items: ds.map((i) => ({ v: i.v, d: true })) };
}

export function equalValues(a: Value, b: Value): boolean {
  if (a.t !== b.t) return false;
  switch (a.t) {
    case 'top':
      return true;
    case 'bottom':
    case 'incomplete':
      return false;
    case 'atom': {
      const y = b as typeof a;
      if (a.kinds !== y.kinds || a.bounds.length !== y.bounds.length) return false;
      if (!!a.concrete !== !!y.concrete) return false;
      if (a.concrete && !scalarEqual(a.concrete, y.concrete!)) return false;
      return a.bounds.every((x, i) => x.op === y.bounds[i]!.op && scalarEqual(x.v, y.bounds[i]!.v));
    }
    case 'struct': {
      const y = b as typeof a;
      if (a.fields.size !== y.fields.size) return false;
      for (const [k, f] of a.fields) {
        const g = y.fields.get(k);
        if (!g || g.opt !== f.opt || !equalValues(f.v, g.v)) return false;
      }
      return true;
    }
    case 'list': {
      const y = b as typeof a;
      if (a.elems.length !== y.elems.length || !!a.tail !== !!y.tail) return false;
      if (a.tail && !equalValues(a.tail, y.tail!)) return false;
      return a.elems.every((e, i) => equalValues(e, y.elems[i]!));
    }
    case 'disj':
      return false;
  }
}

/** A concrete scalar for use as a bound or builtin argument, if `v` (after defaults) is one. */
export function concreteScalar(v: Value): Scalar | undefined {
  const d = defaultOf(v);
  return d.t === 'atom' ? d.concrete : undefined;
}
