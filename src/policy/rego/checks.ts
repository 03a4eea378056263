// Load-time checks OPA's compiler makes on every rule, reached by an evaluation or not (OPA policy language
// reference, "Safety", "Recursion", and the compiler's rewriting of `:=`):
// - a var is declared with `:=` once per body ("var x assigned above");
// - every named var a rule uses is bound somewhere in a non-negated position of its body (an output of a
//   reference's iteration, either side of `=`, the left of `:=`, `some … in`, a function's arguments):
//   OPA orders a body's literals so that bindings come first, so any position in the body counts;
// - rules do not depend on themselves, directly or through other rules and functions.
// A failure is a RegoSyntaxError naming the rule and the line:column of the offending var or rule.

import type { Literal, Module, RuleDef, Term } from './ast.js';
import { RegoSyntaxError } from './errors.js';
import { stripPackage } from './evaluate.js';

export function checkModule(mod: Module): void {
  const ruleNames = new Set(mod.rules.map((r) => r.name));
  const isGlobal = (n: string) =>
    n === 'input' || n === 'data' || ruleNames.has(n) || mod.aliases.has(n) || n.startsWith('$');
  for (const r of mod.rules) {
    checkAssignOnce(r);
    checkSafety(r, isGlobal);
  }
  checkRecursion(mod);
}

function checkAssignOnce(r: RuleDef): void {
  const bodies = (lits: Literal[]): void => {
    const declared = new Set<string>(r.args?.flatMap(patternVars) ?? []);
    for (const l of lits) {
      if (l.l === 'assign' && l.op === ':=') {
        for (const v of patternVarTerms(l.left)) {
          if (v.name.startsWith('$')) continue;
          if (declared.has(v.name))
            throw new RegoSyntaxError(`rule ${r.name}: var ${v.name} assigned above`, v.pos);
          declared.add(v.name);
        }
      }
      for (const inner of nestedBodies(l)) bodies(inner);
    }
  };
  bodies(r.body);
  for (const e of r.elses) bodies(e.body);
}

/** Comprehension and `every` bodies inside a literal (they have their own scope). */
function nestedBodies(l: Literal): Literal[][] {
  const out: Literal[][] = [];
  const visit = (t: Term): void => {
    forChildren(t, visit, (b) => out.push(b));
  };
  switch (l.l) {
    case 'expr':
      visit(l.term);
      break;
    case 'assign':
      visit(l.left);
      visit(l.right);
      break;
    case 'somein':
      if (l.key) visit(l.key);
      visit(l.value);
      visit(l.coll);
      break;
    case 'every':
      visit(l.coll);
      out.push(l.body);
      break;
    case 'some':
      break;
  }
  return out;
}

/** Calls `term` on each direct sub-term of `t` and `body` on each comprehension body it holds. */
export function forChildren(t: Term, term: (t: Term) => void, body: (b: Literal[]) => void): void {
  switch (t.t) {
    case 'ref':
      term(t.head);
      t.path.forEach(term);
      return;
    case 'array':
    case 'set':
      t.items.forEach(term);
      return;
    case 'object':
      for (const [k, v] of t.entries) {
        term(k);
        term(v);
      }
      return;
    case 'arraycomp':
    case 'setcomp':
      body(t.body);
      term(t.term);
      return;
    case 'objcomp':
      body(t.body);
      term(t.key);
      term(t.value);
      return;
    case 'call':
      t.args.forEach(term);
      return;
    case 'binop':
      term(t.left);
      term(t.right);
      return;
    case 'member':
      if (t.key) term(t.key);
      term(t.value);
      term(t.coll);
      return;
    default:
      return;
  }
}

function patternVarTerms(t: Term): Extract<Term, { t: 'var' }>[] {
  if (t.t === 'var') return [t];
  if (t.t === 'array') return t.items.flatMap(patternVarTerms);
  if (t.t === 'object') return t.entries.flatMap(([, v]) => patternVarTerms(v));
  return [];
}

function patternVars(t: Term): string[] {
  return patternVarTerms(t).map((v) => v.name);
}

/** Vars a term binds by iteration: vars (and patterns) in reference paths, outside comprehensions. */
function refOutputs(t: Term, out: Set<string>): void {
  if (t.t === 'ref') {
    if (t.head.t !== 'var') refOutputs(t.head, out);
    for (const seg of t.path) {
      if (seg.t === 'var' || seg.t === 'array' || seg.t === 'object')
        for (const v of patternVars(seg)) out.add(v);
      refOutputs(seg, out);
    }
    return;
  }
  forChildren(
    t,
    (c) => refOutputs(c, out),
    () => {},
  );
}

/** Named vars a term uses (outside comprehensions: those a comprehension needs from outside it). */
function usedVars(t: Term, out: Set<string>, isGlobal: (n: string) => boolean): void {
  if (t.t === 'var') {
    if (!isGlobal(t.name)) out.add(t.name);
    return;
  }
  if (t.t === 'arraycomp' || t.t === 'setcomp' || t.t === 'objcomp') {
    const inner = new Set<string>();
    const heads = t.t === 'objcomp' ? [t.key, t.value] : [t.term];
    for (const h of heads) usedVars(h, inner, isGlobal);
    for (const l of t.body) for (const v of literalNeeds(l, isGlobal)) inner.add(v);
    const own = new Set<string>();
    for (const l of t.body) literalOutputs(l, own);
    for (const v of inner) if (!own.has(v)) out.add(v);
    return;
  }
  forChildren(
    t,
    (c) => usedVars(c, out, isGlobal),
    () => {},
  );
}

/** Vars a literal binds when it succeeds. */
function literalOutputs(l: Literal, b: Set<string>): void {
  switch (l.l) {
    case 'expr':
      if (!l.negated) refOutputs(l.term, b);
      return;
    case 'assign':
      if (l.negated) return;
      for (const v of patternVars(l.left)) b.add(v);
      if (l.op === '=') for (const v of patternVars(l.right)) b.add(v);
      refOutputs(l.left, b);
      refOutputs(l.right, b);
      return;
    case 'somein':
      if (l.key) for (const v of patternVars(l.key)) b.add(v);
      for (const v of patternVars(l.value)) b.add(v);
      refOutputs(l.coll, b);
      return;
    case 'every':
      refOutputs(l.coll, b);
      return;
    case 'some':
      return;
  }
}

/** Vars a literal needs bound before it (those it uses and does not bind itself). */
function literalNeeds(l: Literal, isGlobal: (n: string) => boolean): Set<string> {
  const used = new Set<string>();
  if (l.l === 'every') {
    usedVars(l.coll, used, isGlobal);
    const inner = new Set<string>();
    for (const b of l.body) for (const v of literalNeeds(b, isGlobal)) inner.add(v);
    const own = new Set<string>([l.value, ...(l.key !== undefined ? [l.key] : [])]);
    for (const b of l.body) literalOutputs(b, own);
    for (const v of inner) if (!own.has(v)) used.add(v);
  } else for (const t of literalTerms(l)) usedVars(t, used, isGlobal);
  const outs = new Set<string>();
  literalOutputs(l, outs);
  for (const v of outs) used.delete(v);
  return used;
}

/** The first occurrence of a var in a literal (for the message's line:column). */
function findVar(l: Literal, name: string): Term['pos'] {
  let found: Term['pos'] | undefined;
  const visit = (t: Term): void => {
    if (found) return;
    if (t.t === 'var' && t.name === name) {
      found = t.pos;
      return;
    }
    forChildren(t, visit, visitBody);
  };
  const visitBody = (lits: Literal[]): void => {
    for (const x of lits) {
      for (const t of literalTerms(x)) visit(t);
      if (x.l === 'every') visitBody(x.body);
    }
  };
  visitBody([l]);
  return found ?? l.pos;
}

/**
 * OPA's safety: order a body's literals so that each comes after the literals binding the vars it needs
 * (declarations first, otherwise the written order where possible), recursively in comprehension and
 * `every` bodies; a var no literal binds is unsafe. Reorders the bodies in place (evaluation runs in order).
 */
function checkSafety(r: RuleDef, isGlobal: (n: string) => boolean): void {
  const unsafe = (name: string, pos: Term['pos']): RegoSyntaxError =>
    new RegoSyntaxError(`rule ${r.name}: var ${name} is unsafe (it is never bound)`, pos);

  /** Reorder `lits` given the vars bound outside; returns the vars bound after it. */
  const orderBody = (lits: Literal[], outer: ReadonlySet<string>): Set<string> => {
    const bound = new Set(outer);
    const pending = lits.filter((l) => l.l !== 'some');
    const ordered: Literal[] = lits.filter((l) => l.l === 'some');
    const needs = new Map(pending.map((l) => [l, [...literalNeeds(l, isGlobal)]]));
    while (pending.length > 0) {
      const idx = pending.findIndex((l) => needs.get(l)!.every((v) => bound.has(v)));
      if (idx < 0) {
        const l = pending[0]!;
        const v = needs.get(l)!.find((n) => !bound.has(n))!;
        throw unsafe(v, findVar(l, v));
      }
      const [l] = pending.splice(idx, 1) as [Literal];
      literalOutputs(l, bound);
      ordered.push(l);
    }
    lits.splice(0, lits.length, ...ordered);
    for (const l of lits) nested(l, bound);
    return bound;
  };

  /** Order the comprehension and `every` bodies inside a literal, with the vars bound around it. */
  const nested = (l: Literal, scope: ReadonlySet<string>): void => {
    const visit = (t: Term): void => {
      if (t.t === 'arraycomp' || t.t === 'setcomp' || t.t === 'objcomp') {
        const inner = orderBody(t.body, scope);
        for (const h of t.t === 'objcomp' ? [t.key, t.value] : [t.term]) headUse(h, inner);
        return;
      }
      forChildren(t, visit, () => {});
    };
    for (const t of literalTerms(l)) visit(t);
    if (l.l === 'every') {
      const inner = new Set(scope);
      inner.add(l.value);
      if (l.key !== undefined) inner.add(l.key);
      orderBody(l.body, inner);
    }
  };

  /** A term evaluated with `scope` bound (a rule head, a comprehension's head). */
  const headUse = (t: Term, scope: ReadonlySet<string>): void => {
    const used = new Set<string>();
    usedVars(t, used, isGlobal);
    for (const v of used)
      if (!scope.has(v)) throw unsafe(v, findVar({ l: 'expr', negated: false, term: t, pos: t.pos }, v));
    const visit = (x: Term): void => {
      if (x.t === 'arraycomp' || x.t === 'setcomp' || x.t === 'objcomp') {
        const inner = orderBody(x.body, scope);
        for (const h of x.t === 'objcomp' ? [x.key, x.value] : [x.term]) headUse(h, inner);
        return;
      }
      forChildren(x, visit, () => {});
    };
    visit(t);
  };

  const args = new Set<string>();
  for (const a of r.args ?? []) {
    for (const v of patternVars(a)) args.add(v);
    refOutputs(a, args);
  }
  const check = (lits: Literal[], value: Term): void => {
    const scope = orderBody(lits, args);
    if (r.key) headUse(r.key, scope);
    headUse(value, scope);
  };
  check(r.body, r.value);
  for (const e of r.elses) check(e.body, e.value);
}

function checkRecursion(mod: Module): void {
  const defs = new Map<string, RuleDef[]>();
  for (const r of mod.rules) defs.set(r.name, [...(defs.get(r.name) ?? []), r]);
  const deps = new Map<string, Set<string>>();
  for (const [name, rs] of defs) {
    const out = new Set<string>();
    for (const r of rs) {
      const locals = localNames(r);
      const visitTerm = (t: Term): void => {
        if (t.t === 'var' && defs.has(t.name) && !locals.has(t.name)) out.add(t.name);
        if (t.t === 'call') {
          const local = t.name.startsWith('data.') ? stripPackage(t.name, mod.pkg) : t.name;
          if (local !== undefined && defs.has(local)) out.add(local);
        }
        if (t.t === 'ref' && t.head.t === 'var' && t.head.name === 'data') {
          const k = mod.pkg.length;
          const segs = t.path;
          const prefixOk = mod.pkg.every((p, i) => segs[i]?.t === 'scalar' && segs[i].v === p);
          const seg = segs[k];
          if (prefixOk && seg?.t === 'scalar' && typeof seg.v === 'string' && defs.has(seg.v)) out.add(seg.v);
        }
        forChildren(t, visitTerm, visitBody);
      };
      const visitBody = (lits: Literal[]): void => {
        for (const l of lits) {
          for (const t of literalTerms(l)) visitTerm(t);
          if (l.l === 'every') visitBody(l.body);
        }
      };
      if (r.key) visitTerm(r.key);
      visitTerm(r.value);
      visitBody(r.body);
      for (const e of r.elses) {
        visitTerm(e.value);
        visitBody(e.body);
      }
    }
    deps.set(name, out);
  }
  const state = new Map<string, 'active' | 'done'>();
  const stack: string[] = [];
  const dfs = (n: string): void => {
    const s = state.get(n);
    if (s === 'done') return;
    if (s === 'active') {
      const cycle = [...stack.slice(stack.indexOf(n)), n];
      throw new RegoSyntaxError(
        `rego_recursion_error: rule ${n} is recursive: ${cycle.join(' -> ')}`,
        defs.get(n)![0]!.pos,
      );
    }
    state.set(n, 'active');
    stack.push(n);
    for (const d of deps.get(n) ?? []) dfs(d);
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of defs.keys()) dfs(n);
}

function literalTerms(l: Literal): Term[] {
  switch (l.l) {
    case 'expr':
      return [l.term];
    case 'assign':
      return [l.left, l.right];
    case 'somein':
      return [...(l.key ? [l.key] : []), l.value, l.coll];
    case 'every':
      return [l.coll];
    case 'some':
      return [];
  }
}

/** Names a rule declares locally (arguments, `:=`, `some`, `some … in`, `every`), which shadow rules. */
function localNames(r: RuleDef): Set<string> {
  const out = new Set<string>(r.args?.flatMap(patternVars) ?? []);
  const visitBody = (lits: Literal[]): void => {
    for (const l of lits) {
      if (l.l === 'assign' && l.op === ':=') for (const v of patternVars(l.left)) out.add(v);
      if (l.l === 'some') for (const v of l.vars) out.add(v);
      if (l.l === 'somein') {
        if (l.key) for (const v of patternVars(l.key)) out.add(v);
        for (const v of patternVars(l.value)) out.add(v);
      }
      if (l.l === 'every') {
        out.add(l.value);
        if (l.key !== undefined) out.add(l.key);
      }
      for (const b of nestedBodies(l)) visitBody(b);
    }
  };
  visitBody(r.body);
  for (const e of r.elses) visitBody(e.body);
  return out;
}
