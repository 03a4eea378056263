// Evaluation of a parsed CUE file unified with JSON data (CUE language specification, "References",
// "Unification", "Structs"): fields are vertices holding conjuncts, references copy the referenced
// field's conjuncts so that `x: a & {…}` re-evaluates `a`'s body in `x` as CUE does.

import { type Builtin, PACKAGES } from './builtins.js';
import { compileRe2 } from '../re2.js';
import { JsonNumber } from './json.js';
import type { CueFile, Expr } from './parser.js';
import {
  atomOf,
  type Bound,
  Budget,
  bottom,
  boundKinds,
  concreteScalar,
  defaultOf,
  disjunctionOf,
  type Field,
  formatScalar,
  formatValue,
  hasError,
  K_BOOL,
  K_BYTES,
  K_FLOAT,
  K_INT,
  K_NUMBER,
  K_STRING,
  kindAtom,
  labelText,
  mergeOpt,
  TOP,
  unify,
  type Value,
} from './value.js';

type StructExpr = Extract<Expr, { k: 'struct' }>;

interface Env {
  up: Env | null;
  vertex: Vertex;
  lit: StructExpr;
}

interface Ref {
  x: Expr;
  env: Env | null;
  seq: number;
}

type Conjunct = { x: Expr; env: Env | null } | { json: unknown };

class Vertex {
  conjuncts: Conjunct[] = [];
  arcs = new Map<string, Vertex>();
  opt: '' | '?' | '!' = '?';
  /** 0 new, 1 processing conjuncts, 2 arcs known, 3 finalizing, 4 done. */
  state = 0;
  value: Value | undefined;
  // Accumulated while processing conjuncts:
  /** Scalar parts, ordered by the conjunct they came from (so messages name values in source order). */
  base: { seq: number; v: Value }[] = [];
  isStruct = false;
  lists: { seq: number; v: Value }[] = [];
  constructor(
    readonly label: string,
    readonly parent: Vertex | null,
  ) {}

  arc(label: string, opt: '' | '?' | '!'): Vertex {
    let a = this.arcs.get(label);
    if (!a) {
      a = new Vertex(label, this);
      this.arcs.set(label, a);
    }
    a.opt = a.conjuncts.length === 0 ? opt : mergeOpt(a.opt, opt);
    return a;
  }

  isAncestorOf(v: Vertex): boolean {
    for (let p = v.parent; p; p = p.parent) if (p === this) return true;
    return false;
  }
}

/** A Map, so that names of Object.prototype (`constructor`, `toString`) are not taken for types. */
export const PREDECLARED_KINDS: ReadonlyMap<string, number> = new Map([
  ['string', K_STRING],
  ['int', K_INT],
  ['float', K_FLOAT],
  ['number', K_NUMBER],
  ['bool', K_BOOL],
  ['bytes', K_BYTES],
]);

/** A package's member, only if it is the package's own (never one inherited from Object.prototype). */
export function packageMember(path: string, name: string): Builtin | undefined {
  if (!Object.hasOwn(PACKAGES, path)) return undefined;
  const pkg = PACKAGES[path]!;
  return Object.hasOwn(pkg, name) ? pkg[name] : undefined;
}

export interface EvalOptions {
  maxSteps: number;
}

export class Evaluator {
  private readonly budget: Budget;
  /** The position, among the vertex's conjuncts, of the one being added. */
  private seq = 0;
  constructor(
    private readonly file: CueFile,
    options: EvalOptions,
  ) {
    this.budget = new Budget(options.maxSteps);
  }

  /** The file unified with `data` (a JSON value), as a value tree. */
  run(data: unknown): Value {
    const root = new Vertex('', null);
    root.opt = '';
    root.conjuncts.push({ x: this.file.body, env: null });
    if (data !== undefined) root.conjuncts.push({ json: data });
    return this.finalize(root);
  }

  private process(v: Vertex): void {
    if (v.state >= 1) return;
    v.state = 1;
    const queue = [...v.conjuncts];
    // References are expanded after the literal conjuncts so that the arcs they copy are all known.
    const refs: Ref[] = [];
    for (let i = 0; i < queue.length; i++) {
      this.seq = i;
      this.addConjunct(v, queue[i]!, refs);
    }
    for (let i = 0; i < refs.length; i++) {
      this.seq = refs[i]!.seq;
      this.addReference(v, refs[i]!, refs);
    }
    v.base.sort((a, b) => a.seq - b.seq);
    v.lists.sort((a, b) => a.seq - b.seq);
    v.state = 2;
  }

  private addConjunct(v: Vertex, c: Conjunct, refs: Ref[]): void {
    this.budget.tick();
    if ('json' in c) {
      this.addJson(v, c.json);
      return;
    }
    const { x, env } = c;
    switch (x.k) {
      case 'struct': {
        const env2: Env = { up: env, vertex: v, lit: x };
        const hasEmbed = x.decls.some((d) => d.k === 'embed');
        if (!hasEmbed || x.decls.some((d) => d.k !== 'embed')) v.isStruct = true;
        for (const d of x.decls) {
          if (d.k === 'field') v.arc(d.label, d.opt).conjuncts.push({ x: d.value, env: env2 });
          else if (d.k === 'embed') this.addConjunct(v, { x: d.x, env: env2 }, refs);
        }
        return;
      }
      case 'binary':
        if (x.op === '&') {
          this.addConjunct(v, { x: x.a, env }, refs);
          this.addConjunct(v, { x: x.b, env }, refs);
          return;
        }
        break;
      case 'ident':
      case 'select':
        refs.push({ x, env, seq: this.seq });
        return;
      case 'list':
        v.lists.push({ seq: this.seq, v: this.listValue(v, x, env) });
        return;
      default:
        break;
    }
    v.base.push({ seq: this.seq, v: this.evalValue(x, env, v) });
  }

  private addReference(v: Vertex, c: Ref, refs: Ref[]): void {
    const target = this.resolve(c.x, c.env);
    if (!(target instanceof Vertex)) {
      v.base.push({ seq: c.seq, v: target });
      return;
    }
    if (target === v) return; // `a: a` is `_`
    if (target.isAncestorOf(v)) {
      v.base.push({
        seq: c.seq,
        v: bottom(`structural cycle (reference to ${pathOf(target) || 'the root'})`),
      });
      return;
    }
    for (const c2 of target.conjuncts) {
      if ('json' in c2) this.addJson(v, c2.json);
      else this.addConjunct(v, c2, refs);
    }
  }

  private addJson(v: Vertex, data: unknown): void {
    if (data !== null && typeof data === 'object' && !Array.isArray(data) && !(data instanceof JsonNumber)) {
      v.isStruct = true;
      for (const [k, val] of Object.entries(data)) v.arc(k, '').conjuncts.push({ json: val });
      return;
    }
    v.base.push({ seq: this.seq, v: jsonValue(data) });
  }

  private listValue(parent: Vertex, x: Extract<Expr, { k: 'list' }>, env: Env | null): Value {
    const elems = x.elems.map((e, i) => {
      const el = new Vertex(String(i), parent);
      el.opt = '';
      el.conjuncts.push({ x: e, env });
      return this.finalize(el);
    });
    const tail = x.tail ? this.evalValue(x.tail, env, parent) : null;
    return { t: 'list', elems, tail };
  }

  /** A reference: the vertex it names, or (for a predeclared identifier or package member) its value. */
  private resolve(x: Expr, env: Env | null): Vertex | Value {
    if (x.k === 'ident') {
      for (let e = env; e; e = e.up) {
        if (e.lit.decls.some((d) => d.k === 'field' && d.ident && d.label === x.name)) {
          const a = e.vertex.arcs.get(x.name);
          if (a) return a;
        }
      }
      const kind = PREDECLARED_KINDS.get(x.name);
      if (kind !== undefined) return kindAtom(kind);
      return bottom(`reference "${x.name}" not found`);
    }
    if (x.k === 'select') {
      if (x.x.k === 'ident' && this.file.imports.has(x.x.name) && !this.isField(x.x.name, env)) {
        const member = packageMember(this.file.imports.get(x.x.name)!.path, x.sel);
        if (member?.constant) return atomOf(member.constant);
        return bottom(`${x.x.name}.${x.sel} is not a value`);
      }
      const base = this.resolve(x.x, env);
      if (!(base instanceof Vertex)) {
        if (base.t === 'bottom' || base.t === 'incomplete') return base;
        return bottom(`invalid selector ${x.sel} on ${kindName(base)}`);
      }
      if (base.state === 1) return bottom(`cycle: ${pathOf(base)} is being evaluated`);
      this.process(base);
      const a = base.arcs.get(x.sel);
      if (!a) {
        // Absent now, it may still be given by data: CUE reports this as incomplete.
        return { t: 'incomplete', msg: `undefined field: ${x.sel}` };
      }
      return a;
    }
    return bottom('not a reference');
  }

  private isField(name: string, env: Env | null): boolean {
    for (let e = env; e; e = e.up) {
      if (e.lit.decls.some((d) => d.k === 'field' && d.ident && d.label === name)) return true;
    }
    return false;
  }

  /** The value of an expression evaluated on its own (operands of bounds, disjuncts, call arguments). */
  private evalValue(x: Expr, env: Env | null, at: Vertex): Value {
    this.budget.tick();
    switch (x.k) {
      case 'lit':
        return atomOf(x.v);
      case 'top':
        return TOP;
      case 'bottom':
        return bottom('explicit error (_|_ literal) in source');
      case 'default':
        return this.evalValue(x.x, env, at);
      case 'ident':
      case 'select': {
        const r = this.resolve(x, env);
        if (!(r instanceof Vertex)) return r;
        if (r === at || r.isAncestorOf(at)) {
          if (r.state === 3) return { t: 'incomplete', msg: `cycle: ${pathOf(r)} refers to itself` };
        }
        return this.finalize(r);
      }
      case 'struct':
      case 'list': {
        const tmp = new Vertex(at.label, at.parent);
        tmp.opt = '';
        tmp.conjuncts.push({ x, env });
        return this.finalize(tmp);
      }
      case 'binary': {
        if (x.op === '&')
          return unify(this.evalValue(x.a, env, at), this.evalValue(x.b, env, at), this.budget);
        const terms: { v: Value; marked: boolean }[] = [];
        const collect = (e: Expr) => {
          if (e.k === 'binary' && e.op === '|') {
            collect(e.a);
            collect(e.b);
          } else if (e.k === 'default') terms.push({ v: this.evalValue(e.x, env, at), marked: true });
          else terms.push({ v: this.evalValue(e, env, at), marked: false });
        };
        collect(x);
        return disjunctionOf(terms);
      }
      case 'bound':
        return this.bound(x, env, at);
      case 'neg':
        return bottom('unsupported negation');
      case 'call':
        return this.call(x, env, at);
    }
  }

  private bound(x: Extract<Expr, { k: 'bound' }>, env: Env | null, at: Vertex): Value {
    const operand = this.evalValue(x.x, env, at);
    if (operand.t === 'bottom') return operand;
    const s = concreteScalar(operand);
    if (!s) return { t: 'incomplete', msg: `non-concrete value for bound ${x.op}` };
    const b: Bound = { op: x.op, v: s };
    if (x.op === '=~' || x.op === '!~') {
      if (s.k !== 'string')
        return bottom(
          `invalid operand ${formatScalar(s)} for ${x.op} (a regular expression string is needed)`,
        );
      try {
        // Go RE2, as CUE's regexp package: RE2's meaning, and what RE2 refuses is refused.
        b.re = compileRe2(s.v);
      } catch (err) {
        return bottom(`invalid regular expression ${formatScalar(s)}: ${(err as Error).message}`);
      }
    } else if (x.op !== '!=') {
      if (s.k !== 'string' && s.k !== 'int' && s.k !== 'float')
        return bottom(`invalid operand ${formatScalar(s)} for bound ${x.op} (a number or string is needed)`);
    }
    return { t: 'atom', kinds: boundKinds(b), bounds: [b] };
  }

  private call(x: Extract<Expr, { k: 'call' }>, env: Env | null, at: Vertex): Value {
    const fn = x.fn;
    if (fn.k !== 'select' || fn.x.k !== 'ident' || !this.file.imports.has(fn.x.name))
      return bottom('cannot call a non-function');
    const name = `${fn.x.name}.${fn.sel}`;
    const b = packageMember(this.file.imports.get(fn.x.name)!.path, fn.sel);
    if (!b?.fn || !b.params) return bottom(`cannot call non-function ${name}`);
    if (x.args.length !== b.params.length)
      return bottom(`${name} takes ${b.params.length} arguments, got ${x.args.length}`);
    const args = [];
    for (let i = 0; i < x.args.length; i++) {
      const v = this.evalValue(x.args[i]!, env, at);
      if (v.t === 'bottom') return v;
      const s = concreteScalar(v);
      if (!s) return { t: 'incomplete', msg: `non-concrete argument ${i} to ${name}` };
      if (s.k !== b.params[i]) {
        return bottom(`cannot use ${formatScalar(s)} as ${b.params[i]} in argument ${i + 1} to ${name}`);
      }
      args.push(s);
    }
    return b.fn(args);
  }

  private finalize(v: Vertex): Value {
    if (v.state === 4) return v.value!;
    if (v.state === 3) return { t: 'incomplete', msg: `cycle: ${pathOf(v)} refers to itself` };
    if (v.state === 1) return { t: 'incomplete', msg: `cycle: ${pathOf(v)} is being evaluated` };
    const only = v.conjuncts.length === 1 && v.state === 0 ? v.conjuncts[0]! : undefined;
    if (only && 'json' in only) {
      // Data the policy does not constrain (most of an SBOM): converted as it is, without evaluation steps.
      v.value = jsonValue(only.json);
      v.state = 4;
      return v.value;
    }
    this.process(v);
    v.state = 3;
    let acc: Value = TOP;
    const disjs: Value[] = [];
    for (const { v: b } of v.base) {
      if (b.t === 'disj') disjs.push(b);
      else acc = unify(acc, b, this.budget);
    }
    for (const l of v.lists) acc = unify(acc, l.v, this.budget);
    if (v.isStruct) {
      const fields = new Map<string, Field>();
      for (const [k, a] of v.arcs) {
        // Optional fields with no regular counterpart are constraints only; an error in one is not reported.
        fields.set(k, { v: this.finalize(a), opt: a.opt });
      }
      acc = unify(acc, { t: 'struct', fields }, this.budget);
    }
    for (const d of disjs) acc = unify(acc, d, this.budget);
    v.value = acc;
    v.state = 4;
    return acc;
  }
}

function kindName(v: Value): string {
  if (v.t === 'atom') return v.concrete ? v.concrete.k : 'non-struct value';
  return v.t;
}

function pathOf(v: Vertex): string {
  const parts: string[] = [];
  for (let p: Vertex | null = v; p?.parent; p = p.parent) parts.unshift(labelText(p.label));
  return parts.join('.');
}

/**
 * A JSON value as a CUE value: a JsonNumber (readJson) as written; a number as JSON.parse gives it is `int`
 * when integral, `float` otherwise.
 */
export function jsonValue(data: unknown): Value {
  if (data === null) return atomOf({ k: 'null' });
  switch (typeof data) {
    case 'boolean':
      return atomOf({ k: 'bool', v: data });
    case 'string':
      return atomOf({ k: 'string', v: data });
    case 'number':
      if (!Number.isFinite(data)) return bottom('non-finite number in data');
      return Number.isInteger(data) ? atomOf({ k: 'int', v: BigInt(data) }) : atomOf({ k: 'float', v: data });
    case 'bigint':
      return atomOf({ k: 'int', v: data });
    case 'object': {
      if (data instanceof JsonNumber) {
        // As written: an integer literal is an exact int, anything with a fraction or exponent a float.
        if (data.isInt) return atomOf({ k: 'int', v: BigInt(data.text) });
        const f = Number(data.text);
        return Number.isFinite(f) ? atomOf({ k: 'float', v: f }) : bottom(`number ${data.text} out of range`);
      }
      if (Array.isArray(data)) return { t: 'list', elems: data.map(jsonValue), tail: null };
      const fields = new Map<string, Field>();
      for (const [k, val] of Object.entries(data as object)) fields.set(k, { v: jsonValue(val), opt: '' });
      return { t: 'struct', fields };
    }
    default:
      return bottom(`${typeof data} is not JSON`);
  }
}

export interface ValidationIssue {
  path: string;
  message: string;
}

/**
 * cue.Value.Validate(): every error in the regular fields, with its path. With `concrete`, also every
 * value that is not concrete (cue.Concrete(true)).
 */
export function validate(v: Value, concrete: boolean): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const walk = (x: Value, path: string) => {
    if (out.length >= 20) return;
    switch (x.t) {
      case 'bottom':
        out.push({ path, message: x.msg });
        return;
      case 'struct':
        for (const [k, f] of x.fields) {
          const p = path ? `${path}.${labelText(k)}` : labelText(k);
          if (f.opt === '') walk(f.v, p);
          else if (f.opt === '!' && concrete)
            out.push({ path: p, message: 'field is required but not present' });
        }
        return;
      case 'list':
        for (const [i, e] of x.elems.entries()) walk(e, path ? `${path}.${i}` : String(i));
        return;
      case 'disj': {
        if (!concrete) return;
        const d = defaultOf(x);
        if (d.t === 'disj') out.push({ path, message: `incomplete value ${formatDisj(x)}` });
        else walk(d, path);
        return;
      }
      case 'atom':
        if (concrete && !x.concrete) out.push({ path, message: `incomplete value ${formatAtom(x)}` });
        return;
      case 'top':
      case 'incomplete':
        if (concrete) out.push({ path, message: x.t === 'top' ? 'incomplete value _' : x.msg });
        return;
    }
  };
  walk(v, '');
  return out;
}

function formatDisj(x: Value): string {
  return hasError(x) ? '_|_' : formatValue(x);
}

function formatAtom(x: Value): string {
  return formatValue(x);
}
