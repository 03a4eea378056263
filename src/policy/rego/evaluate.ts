// Top-down evaluation of the Rego subset with OPA's semantics (OPA policy language reference,
// "Expressions", "Rules", "Negation", "Some", "Every", "Comprehensions"): a body is the conjunction of its
// literals, each enumerating bindings (backtracking); a reference over a missing path is undefined and
// fails the literal; rule definitions of one name are OR-ed; `default` applies when none is defined.

import type { Literal, Module, RuleDef, Term } from './ast.js';
import { type BuiltinContext, BuiltinError, builtin } from './builtins.js';
import { RegoEvalError } from './errors.js';
import { canon, compare, equal, RObject, RSet, type Value } from './values.js';

/** Bound of an evaluation: literals tried plus elements iterated. */
export const MAX_EVAL_STEPS = 1_000_000;
/**
 * Wall-clock bound of one evaluation, in milliseconds: a step may compare or build whole values, so the
 * step bound alone does not bound time. Checked every DEADLINE_EVERY steps.
 */
export const MAX_EVAL_MS = 1000;
const DEADLINE_EVERY = 16;
/** Bound of rule/function nesting during one evaluation. */
const MAX_DEPTH = 64;

const UNBOUND = Symbol('unbound');
type Slot = Value | typeof UNBOUND;
type Env = ReadonlyMap<string, Slot>;

function bind(env: Env, name: string, v: Slot): Env {
  const m = new Map(env);
  m.set(name, v);
  return m;
}

export class Evaluation {
  private steps = 0;
  private depth = 0;
  private readonly deadline: number;
  private readonly ruleCache = new Map<string, Value | undefined>();
  private readonly inProgress = new Set<string>();
  private readonly rules = new Map<string, RuleDef[]>();

  constructor(
    private readonly mod: Module,
    private readonly input: Value | undefined,
    private readonly ctx: BuiltinContext,
    private readonly maxMs = MAX_EVAL_MS,
  ) {
    this.deadline = Date.now() + maxMs;
    for (const r of mod.rules) {
      const list = this.rules.get(r.name) ?? [];
      list.push(r);
      this.rules.set(r.name, list);
    }
  }

  /** The value of a rule of the module's package (undefined when it is undefined). */
  rule(name: string): Value | undefined {
    const defs = this.rules.get(name);
    if (!defs) return undefined;
    if (this.ruleCache.has(name)) return this.ruleCache.get(name);
    if (this.inProgress.has(name)) throw new RegoEvalError(`rule ${name} is recursive`, defs[0]!.pos);
    if (++this.depth > MAX_DEPTH)
      throw new RegoEvalError(`rules nest deeper than ${MAX_DEPTH}`, defs[0]!.pos);
    this.inProgress.add(name);
    try {
      const v = this.evalRule(name, defs);
      this.ruleCache.set(name, v);
      return v;
    } finally {
      this.inProgress.delete(name);
      this.depth--;
    }
  }

  private step(pos?: Term['pos']): void {
    if (++this.steps > MAX_EVAL_STEPS)
      throw new RegoEvalError(`evaluation exceeded ${MAX_EVAL_STEPS} steps`, pos);
    if (this.steps % DEADLINE_EVERY === 0 && Date.now() > this.deadline)
      throw new RegoEvalError(`evaluation exceeded ${this.maxMs} ms`, pos);
  }

  private evalRule(name: string, defs: RuleDef[]): Value | undefined {
    const kind = defs[0]!.kind;
    if (kind === 'function')
      throw new RegoEvalError(`function ${name} is referred to without arguments`, defs[0]!.pos);
    if (kind === 'set') {
      const out = new RSet();
      for (const d of defs) {
        for (const env of this.body(d.body, 0, new Map())) {
          for (const [k] of this.term(d.key!, env)) out.add(k);
        }
      }
      return out;
    }
    if (kind === 'object') {
      const out = new RObject();
      for (const d of defs) {
        for (const env of this.body(d.body, 0, new Map())) {
          for (const [k, e2] of this.term(d.key!, env)) {
            for (const [v] of this.term(d.value, e2)) {
              const prev = out.get(k);
              if (prev !== undefined && !equal(prev, v))
                throw new RegoEvalError(
                  `object keys must be unique: rule ${name} gives two values for one key`,
                  d.pos,
                );
              out.set(k, v);
            }
          }
        }
      }
      return out;
    }
    const v = this.completeValue(
      name,
      defs.filter((d) => !d.isDefault),
      new Map(),
    );
    if (v !== undefined) return v;
    const dflt = defs.find((d) => d.isDefault);
    if (!dflt) return undefined;
    for (const [dv] of this.term(dflt.value, new Map())) return dv;
    return undefined;
  }

  /** Complete rules and functions: one value across all definitions, else OPA's conflict error. */
  private completeValue(name: string, defs: RuleDef[], start: Env, args?: Value[]): Value | undefined {
    let result: Value | undefined;
    const offer = (v: Value, d: RuleDef) => {
      if (result !== undefined && !equal(result, v))
        throw new RegoEvalError(
          `${args ? 'functions' : 'complete rules'} must not produce multiple outputs (${name})`,
          d.pos,
        );
      result = v;
    };
    for (const d of defs) {
      for (const env0 of args ? this.bindArgs(d, args, start) : [start]) {
        let found = false;
        for (const env of this.body(d.body, 0, env0)) {
          for (const [v] of this.term(d.value, env)) {
            offer(v, d);
            found = true;
          }
        }
        if (found) continue;
        for (const e of d.elses) {
          let hit = false;
          for (const env of this.body(e.body, 0, env0)) {
            for (const [v] of this.term(e.value, env)) {
              offer(v, d);
              hit = true;
            }
            if (hit) break;
          }
          if (hit) break;
        }
      }
    }
    return result;
  }

  private *bindArgs(d: RuleDef, args: Value[], start: Env): Generator<Env> {
    const params = d.args!;
    if (params.length !== args.length) return;
    let scope: Env = start;
    for (const n of params.flatMap(patternVars)) scope = bind(scope, n, UNBOUND);
    let envs: Env[] = [scope];
    for (let i = 0; i < params.length; i++) {
      const next: Env[] = [];
      for (const e of envs) next.push(...this.unify(params[i]!, args[i]!, e));
      envs = next;
    }
    yield* envs;
  }

  private callFunction(name: string, args: Value[], pos: Term['pos']): Value | undefined {
    const defs = this.rules.get(name)!;
    const key = `${name}(${args.map(canon).join(',')})`;
    if (this.ruleCache.has(key)) return this.ruleCache.get(key);
    if (this.inProgress.has(name)) throw new RegoEvalError(`function ${name} is recursive`, pos);
    if (++this.depth > MAX_DEPTH) throw new RegoEvalError(`rules nest deeper than ${MAX_DEPTH}`, pos);
    this.inProgress.add(name);
    try {
      const v = this.completeValue(name, defs, new Map(), args);
      this.ruleCache.set(key, v);
      return v;
    } finally {
      this.inProgress.delete(name);
      this.depth--;
    }
  }

  *body(lits: Literal[], i: number, env: Env): Generator<Env> {
    if (i === lits.length) {
      yield env;
      return;
    }
    for (const e of this.literal(lits[i]!, env)) yield* this.body(lits, i + 1, e);
  }

  private *literal(lit: Literal, env: Env): Generator<Env> {
    this.step(lit.pos);
    switch (lit.l) {
      case 'some': {
        let e = env;
        for (const v of lit.vars) e = bind(e, v, UNBOUND);
        yield e;
        return;
      }
      case 'somein': {
        const names = [...(lit.key ? patternVars(lit.key) : []), ...patternVars(lit.value)];
        for (const [c, e1] of this.term(lit.coll, env)) {
          let scope: Env = e1;
          for (const n of names) scope = bind(scope, n, UNBOUND);
          for (const [k, v] of members(c)) {
            this.step(lit.pos);
            for (const e2 of lit.key ? this.unify(lit.key, k, scope) : [scope])
              yield* this.unify(lit.value, v, e2);
          }
        }
        return;
      }
      case 'every': {
        for (const [c] of this.term(lit.coll, env)) {
          let all = true;
          for (const [k, v] of members(c)) {
            this.step(lit.pos);
            let scope = bind(env, lit.value, v);
            if (lit.key !== undefined) scope = bind(scope, lit.key, k);
            if (this.body(lit.body, 0, scope).next().done) {
              all = false;
              break;
            }
          }
          if (all) yield env;
          return;
        }
        return;
      }
      case 'expr': {
        if (lit.negated) {
          this.checkSafe(lit.term, env, lit.pos);
          for (const [v] of this.term(lit.term, env)) if (v !== false) return;
          yield env;
          return;
        }
        for (const [v, e] of this.term(lit.term, env)) if (v !== false) yield e;
        return;
      }
      case 'assign': {
        const solutions = this.assign(lit, env);
        if (lit.negated) {
          this.checkSafe(lit.left, env, lit.pos);
          this.checkSafe(lit.right, env, lit.pos);
          if (solutions.next().done) yield env;
          return;
        }
        yield* solutions;
        return;
      }
    }
  }

  /** OPA: a named variable in a negated expression must be bound before it (`_` may iterate). */
  private checkSafe(t: Term, env: Env, pos: Term['pos']): void {
    for (const name of namedVars(t)) {
      const s = env.get(name);
      if (s === UNBOUND || (s === undefined && !this.isGlobal(name)))
        throw new RegoEvalError(
          `var ${name} is unsafe (in a negated expression it must be bound before)`,
          pos,
        );
    }
  }

  private *assign(lit: Extract<Literal, { l: 'assign' }>, env: Env): Generator<Env> {
    if (lit.op === ':=') {
      const names = patternVars(lit.left);
      for (const [v, e] of this.term(lit.right, env)) {
        let scope: Env = e;
        for (const n of names) scope = bind(scope, n, UNBOUND);
        yield* this.unify(lit.left, v, scope);
      }
      return;
    }
    const leftOpen = this.hasUnbound(lit.left, env);
    const rightOpen = this.hasUnbound(lit.right, env);
    if (leftOpen && rightOpen && !isRefOrCall(lit.right) && !isRefOrCall(lit.left)) {
      yield* this.unifyTerms(lit.left, lit.right, env, lit.pos);
      return;
    }
    if (leftOpen && !isRefOrCall(lit.left)) {
      for (const [v, e] of this.term(lit.right, env)) yield* this.unify(lit.left, v, e);
      return;
    }
    if (rightOpen && !isRefOrCall(lit.right)) {
      for (const [v, e] of this.term(lit.left, env)) yield* this.unify(lit.right, v, e);
      return;
    }
    for (const [a, e1] of this.term(lit.left, env))
      for (const [b, e2] of this.term(lit.right, e1)) if (equal(a, b)) yield e2;
  }

  /** Two patterns with unbound vars on both sides (`[x, 2] = [1, y]`): arrays element by element. */
  private *unifyTerms(a: Term, b: Term, env: Env, pos: Term['pos']): Generator<Env> {
    if (!this.hasUnbound(a, env)) {
      for (const [v, e] of this.term(a, env)) yield* this.unify(b, v, e);
      return;
    }
    if (!this.hasUnbound(b, env)) {
      for (const [v, e] of this.term(b, env)) yield* this.unify(a, v, e);
      return;
    }
    if (a.t === 'array' && b.t === 'array') {
      if (a.items.length !== b.items.length) return;
      const step = function* (this: Evaluation, i: number, e: Env): Generator<Env> {
        if (i === a.items.length) {
          yield e;
          return;
        }
        for (const e2 of this.unifyTerms(a.items[i]!, b.items[i]!, e, pos)) yield* step.call(this, i + 1, e2);
      };
      yield* step.call(this, 0, env);
      return;
    }
    throw new RegoEvalError('both sides of "=" have unbound variables', pos);
  }

  /** Pattern (var, array, object of patterns, or a bound term) against a value. */
  private *unify(pat: Term, v: Value, env: Env): Generator<Env> {
    if (pat.t === 'var') {
      const slot = this.lookupLocal(pat.name, env);
      if (slot === UNBOUND || (slot === undefined && !this.isGlobal(pat.name))) {
        yield bind(env, pat.name, v);
        return;
      }
    }
    if (pat.t === 'array' && this.hasUnbound(pat, env)) {
      if (!Array.isArray(v) || v.length !== pat.items.length) return;
      yield* this.unifyAll(pat.items, v, 0, env);
      return;
    }
    if (pat.t === 'object' && this.hasUnbound(pat, env)) {
      if (!(v instanceof RObject) || v.size !== pat.entries.length) return;
      const keys: Value[] = [];
      for (const [kt] of pat.entries) {
        const kv = this.term(kt, env).next();
        if (kv.done) return;
        keys.push(kv.value[0]);
      }
      const vals: Value[] = [];
      for (const k of keys) {
        const got = v.get(k);
        if (got === undefined) return;
        vals.push(got);
      }
      yield* this.unifyAll(
        pat.entries.map(([, vt]) => vt),
        vals,
        0,
        env,
      );
      return;
    }
    for (const [pv, e] of this.term(pat, env)) if (equal(pv, v)) yield e;
  }

  private *unifyAll(pats: Term[], vals: Value[], i: number, env: Env): Generator<Env> {
    if (i === pats.length) {
      yield env;
      return;
    }
    for (const e of this.unify(pats[i]!, vals[i]!, env)) yield* this.unifyAll(pats, vals, i + 1, e);
  }

  private lookupLocal(name: string, env: Env): Slot | undefined {
    return env.get(name);
  }

  private isGlobal(name: string): boolean {
    return name === 'input' || name === 'data' || this.rules.has(name) || this.mod.aliases.has(name);
  }

  private hasUnbound(t: Term, env: Env): boolean {
    switch (t.t) {
      case 'var': {
        const s = env.get(t.name);
        return s === UNBOUND || (s === undefined && !this.isGlobal(t.name));
      }
      case 'array':
        return t.items.some((x) => this.hasUnbound(x, env));
      case 'object':
        return t.entries.some(([, v]) => this.hasUnbound(v, env));
      case 'ref':
        return this.hasUnbound(t.head, env);
      default:
        return false;
    }
  }

  /** Every value of a term with the bindings that produce it (a reference with unbound vars iterates). */
  *term(t: Term, env: Env): Generator<[Value, Env]> {
    switch (t.t) {
      case 'scalar':
        yield [t.v, env];
        return;
      case 'var': {
        const s = env.get(t.name);
        if (s !== undefined && s !== UNBOUND) {
          yield [s, env];
          return;
        }
        if (s === UNBOUND)
          throw new RegoEvalError(`var ${t.name} is unsafe (not bound before it is used)`, t.pos);
        const g = this.global(t.name, t.pos);
        if (g !== undefined) yield [g, env];
        return;
      }
      case 'ref':
        yield* this.ref(t, env);
        return;
      case 'array':
        for (const [items, e] of this.product(t.items, env)) yield [items, e];
        return;
      case 'set':
        for (const [items, e] of this.product(t.items, env)) yield [RSet.from(items), e];
        return;
      case 'object': {
        const flat = t.entries.flat();
        for (const [vals, e] of this.product(flat, env)) {
          const o = new RObject();
          for (let i = 0; i < vals.length; i += 2) o.set(vals[i]!, vals[i + 1]!);
          yield [o, e];
        }
        return;
      }
      case 'arraycomp': {
        const out: Value[] = [];
        for (const e of this.body(t.body, 0, env)) for (const [v] of this.term(t.term, e)) out.push(v);
        yield [out, env];
        return;
      }
      case 'setcomp': {
        const out = new RSet();
        for (const e of this.body(t.body, 0, env)) for (const [v] of this.term(t.term, e)) out.add(v);
        yield [out, env];
        return;
      }
      case 'objcomp': {
        const out = new RObject();
        for (const e of this.body(t.body, 0, env)) {
          for (const [k, e2] of this.term(t.key, e)) {
            for (const [v] of this.term(t.value, e2)) {
              const prev = out.get(k);
              if (prev !== undefined && !equal(prev, v))
                throw new RegoEvalError('object keys must be unique (object comprehension)', t.pos);
              out.set(k, v);
            }
          }
        }
        yield [out, env];
        return;
      }
      case 'call': {
        for (const [args, e] of this.product(t.args, env)) {
          const v = this.call(t.name, args, t.pos);
          if (v !== undefined) yield [v, e];
        }
        return;
      }
      case 'binop': {
        for (const [a, e1] of this.term(t.left, env)) {
          for (const [b, e2] of this.term(t.right, e1)) {
            const v = binop(t.op, a, b);
            if (v !== undefined) yield [v, e2];
          }
        }
        return;
      }
      case 'member': {
        for (const [c, e1] of this.term(t.coll, env)) {
          for (const [x, e2] of this.term(t.value, e1)) {
            let found = false;
            for (const [, m] of members(c)) {
              this.step(t.pos);
              if (equal(m, x)) {
                found = true;
                break;
              }
            }
            yield [found, e2];
          }
        }
        return;
      }
    }
  }

  private global(name: string, pos: Term['pos']): Value | undefined {
    if (name === 'input') return this.input;
    if (name === 'data') return this.dataDocument();
    const alias = this.mod.aliases.get(name);
    if (alias) {
      const r = this.term(alias, new Map()).next();
      return r.done ? undefined : r.value[0];
    }
    if (this.rules.has(name)) return this.rule(name);
    throw new RegoEvalError(`var ${name} is unsafe (not bound before it is used)`, pos);
  }

  /** `data`: the module's package with its rules (seal loads no other data documents). */
  private dataDocument(): Value {
    const pkg = new RObject();
    for (const name of this.rules.keys()) {
      if (this.rules.get(name)![0]!.kind === 'function') continue;
      const v = this.rule(name);
      if (v !== undefined) pkg.set(name, v);
    }
    let doc: Value = pkg;
    for (const p of [...this.mod.pkg].reverse()) doc = RObject.from([[p, doc]]);
    return doc;
  }

  private *ref(t: Extract<Term, { t: 'ref' }>, env: Env): Generator<[Value, Env]> {
    // data.<package>.<rule>…: resolve the rule without building the whole document.
    let path = t.path;
    let heads: Generator<[Value, Env]>;
    if (t.head.t === 'var' && t.head.name === 'data' && env.get('data') === undefined) {
      const pkg = this.mod.pkg;
      let k = 0;
      while (k < pkg.length && k < path.length && isConst(path[k]!, pkg[k]!)) k++;
      if (
        k === pkg.length &&
        path.length > k &&
        path[k]!.t === 'scalar' &&
        typeof (path[k] as { v: unknown }).v === 'string'
      ) {
        const name = (path[k] as { v: string }).v;
        const v = this.rules.has(name) ? this.rule(name) : undefined;
        if (v === undefined) return;
        heads = single(v, env);
        path = path.slice(k + 1);
      } else heads = this.term(t.head, env);
    } else heads = this.term(t.head, env);
    for (const [h, e] of heads) yield* this.walk(h, path, 0, e);
  }

  private *walk(cur: Value, path: Term[], i: number, env: Env): Generator<[Value, Env]> {
    if (i === path.length) {
      yield [cur, env];
      return;
    }
    const seg = path[i]!;
    if (
      seg.t === 'var' &&
      (env.get(seg.name) === UNBOUND || (env.get(seg.name) === undefined && !this.isGlobal(seg.name)))
    ) {
      for (const [k, v] of members(cur)) {
        this.step(seg.pos);
        yield* this.walk(v, path, i + 1, bind(env, seg.name, k));
      }
      return;
    }
    if ((seg.t === 'array' || seg.t === 'object') && this.hasUnbound(seg, env)) {
      for (const [k, v] of members(cur)) {
        this.step(seg.pos);
        for (const e of this.unify(seg, k, env)) yield* this.walk(v, path, i + 1, e);
      }
      return;
    }
    for (const [k, e] of this.term(seg, env)) {
      const next = index(cur, k);
      if (next !== undefined) yield* this.walk(next, path, i + 1, e);
    }
  }

  private *product(terms: Term[], env: Env, i = 0, acc: Value[] = []): Generator<[Value[], Env]> {
    if (i === terms.length) {
      yield [[...acc], env];
      return;
    }
    for (const [v, e] of this.term(terms[i]!, env)) {
      acc.push(v);
      yield* this.product(terms, e, i + 1, acc);
      acc.pop();
    }
  }

  private call(name: string, args: Value[], pos: Term['pos']): Value | undefined {
    this.step(pos);
    const local = name.startsWith('data.') ? stripPackage(name, this.mod.pkg) : name;
    if (local !== undefined && this.rules.get(local)?.[0]?.kind === 'function')
      return this.callFunction(local, args, pos);
    const b = builtin(name);
    if (!b) throw new RegoEvalError(`unknown function ${name}`, pos);
    try {
      return b.fn(args, this.ctx);
    } catch (err) {
      if (err instanceof BuiltinError) return undefined;
      throw err;
    }
  }
}

function single(v: Value, env: Env): Generator<[Value, Env]> {
  return (function* () {
    yield [v, env] as [Value, Env];
  })();
}

function isConst(t: Term, s: string): boolean {
  return t.t === 'scalar' && t.v === s;
}

function isRefOrCall(t: Term): boolean {
  return t.t === 'ref' || t.t === 'call';
}

export function stripPackage(name: string, pkg: string[]): string | undefined {
  const prefix = `data.${pkg.join('.')}.`;
  return name.startsWith(prefix) && !name.slice(prefix.length).includes('.')
    ? name.slice(prefix.length)
    : undefined;
}

/** Named vars a term uses outside comprehension bodies (not `_`). */
function namedVars(t: Term): string[] {
  switch (t.t) {
    case 'var':
      return t.name.startsWith('$') ? [] : [t.name];
    case 'ref':
      return [...namedVars(t.head), ...t.path.flatMap(namedVars)];
    case 'array':
    case 'set':
      return t.items.flatMap(namedVars);
    case 'object':
      return t.entries.flatMap(([k, v]) => [...namedVars(k), ...namedVars(v)]);
    case 'call':
      return t.args.flatMap(namedVars);
    case 'binop':
      return [...namedVars(t.left), ...namedVars(t.right)];
    case 'member':
      return [...(t.key ? namedVars(t.key) : []), ...namedVars(t.value), ...namedVars(t.coll)];
    default:
      return [];
  }
}

/** Vars a pattern binds (for `:=` and `some … in`). */
function patternVars(t: Term): string[] {
  if (t.t === 'var') return [t.name];
  if (t.t === 'array') return t.items.flatMap(patternVars);
  if (t.t === 'object') return t.entries.flatMap(([, v]) => patternVars(v));
  return [];
}

/** A collection's (key, value) pairs in OPA's order: arrays by index, objects and sets sorted. */
function members(c: Value): [Value, Value][] {
  if (Array.isArray(c)) return c.map((v, i) => [i, v]);
  if (c instanceof RObject) return c.entries().sort(([a], [b]) => compare(a, b));
  if (c instanceof RSet)
    return c
      .values()
      .sort(compare)
      .map((v) => [v, v]);
  return [];
}

function index(c: Value, k: Value): Value | undefined {
  if (Array.isArray(c)) return typeof k === 'number' && Number.isInteger(k) && k >= 0 ? c[k] : undefined;
  if (c instanceof RObject) return c.get(k);
  if (c instanceof RSet) return c.has(k) ? k : undefined;
  return undefined;
}

function binop(op: string, a: Value, b: Value): Value | undefined {
  switch (op) {
    case '==':
      return equal(a, b);
    case '!=':
      return !equal(a, b);
    case '<':
      return compare(a, b) < 0;
    case '<=':
      return compare(a, b) <= 0;
    case '>':
      return compare(a, b) > 0;
    case '>=':
      return compare(a, b) >= 0;
    case '|':
      return a instanceof RSet && b instanceof RSet ? RSet.from([...a.values(), ...b.values()]) : undefined;
    case '&':
      return a instanceof RSet && b instanceof RSet
        ? RSet.from(a.values().filter((v) => b.has(v)))
        : undefined;
  }
  if (op === '-' && a instanceof RSet && b instanceof RSet)
    return RSet.from(a.values().filter((v) => !b.has(v)));
  if (typeof a !== 'number' || typeof b !== 'number') return undefined;
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return b === 0 ? undefined : a / b;
    case '%':
      return b === 0 || !Number.isInteger(a) || !Number.isInteger(b) ? undefined : a % b;
  }
  return undefined;
}
