// seal's own Rego evaluator, for the policies sigstore policy-controller users write in ClusterImagePolicies.
// Why: no Rego evaluator runs in JavaScript without OPA's `opa` binary (@open-policy-agent/opa-wasm runs only
// what `opa build` compiled to Wasm; regorus is not published to npm), so seal parses and evaluates Rego itself.
// The subset (OPA policy language reference; cosign/policy-controller compile modules as Rego v0):
//   package; import input/data (with `as`), rego.v1, future.keywords[.if|in|contains|every];
//   default rules; complete rules (`x { … }`, `x = v { … }`, `x := v if { … }`, `x if expr`, else chains);
//   several definitions of a name (OR); partial sets (`s[x] { … }`, `s contains x if …`) and objects
//   (`o[k] = v { … }`); functions (`f(x) = y { … }`); in bodies: refs into input/data with dot and bracket,
//   iteration over unbound vars (`coll[i]`, `_`), `some x`, `some x in c`, `some k, v in c`, `x in c`,
//   `every`, `not`, `:=`, `=` (unification of vars, arrays, objects), comparisons, arithmetic, set `| & -`,
//   array/set/object literals and comprehensions, and the built-ins in builtins.ts.
// Not in the subset (refused when the policy loads, with line:column): `with`, multi-level rule heads,
// default functions, unknown functions, imports of other documents. Undefined propagates as in OPA: an
// expression over a missing path is undefined and fails its body; a built-in given wrong types is undefined.
// Bounds: 64 KiB of policy text; per evaluation 1,000,000 steps and 1 s of wall-clock time (evaluate.ts
// MAX_EVAL_MS: a step may compare whole values), 64 nested rule/function evaluations; input nested at most
// 128 levels; expressions and bodies nested at most 64 levels (refused at load).

import { SealError } from '../../errors.js';
import type { Literal, Module, RuleDef, Term } from './ast.js';
import { builtin } from './builtins.js';
import { checkModule, forChildren } from './checks.js';
import { RegoEvalError, RegoSyntaxError, type SourcePos } from './errors.js';
import { Evaluation, MAX_EVAL_MS, stripPackage } from './evaluate.js';
import { parseModule } from './parser.js';
import { fromJson, InputDepthError, type Value } from './values.js';

export const MAX_REGO_POLICY_BYTES = 64 * 1024;

export interface CompiledRego {
  readonly pkg: string[];
  /** The value of `data.<package>.<rule>` for this input (undefined when undefined); throws RegoEvalError. */
  query(rule: string, input: unknown, opts?: { nowNs?: number; maxMs?: number }): Value | undefined;
}

/** Parse and check a module; a construct outside the subset is E_POLICY_INVALID naming `where` and line:column. */
export function compileRego(src: string, where: string): CompiledRego {
  const size = Buffer.byteLength(src, 'utf8');
  if (size > MAX_REGO_POLICY_BYTES)
    throw new SealError(
      'E_POLICY_INVALID',
      `${where}: rego policy is ${size} bytes, over the ${MAX_REGO_POLICY_BYTES}-byte bound`,
    );
  let mod: Module;
  try {
    mod = parseModule(src);
    check(mod);
    checkModule(mod);
  } catch (err) {
    if (err instanceof RegoSyntaxError)
      throw new SealError('E_POLICY_INVALID', `${where}: rego ${err.message}`);
    throw err;
  }
  return {
    pkg: mod.pkg,
    query(rule, input, opts) {
      let doc: Value | undefined;
      try {
        doc = input === undefined ? undefined : fromJson(input);
      } catch (err) {
        if (err instanceof InputDepthError) throw new RegoEvalError(err.message);
        throw err;
      }
      const ev = new Evaluation(
        mod,
        doc,
        { nowNs: opts?.nowNs ?? Date.now() * 1e6 },
        opts?.maxMs ?? MAX_EVAL_MS,
      );
      return ev.rule(rule);
    },
  };
}

export { RegoEvalError };

function check(mod: Module): void {
  const byName = new Map<string, RuleDef[]>();
  for (const r of mod.rules) {
    const list = byName.get(r.name) ?? [];
    list.push(r);
    byName.set(r.name, list);
  }
  for (const [name, defs] of byName) {
    const kinds = new Set(defs.map((d) => d.kind));
    if (kinds.size > 1)
      throw new RegoSyntaxError(`rule ${name} is defined as both ${[...kinds].join(' and ')}`, defs[1]!.pos);
    const defaults = defs.filter((d) => d.isDefault);
    if (defaults.length > 1) throw new RegoSyntaxError(`multiple default rules ${name}`, defaults[1]!.pos);
    if (defs[0]!.kind === 'function') {
      const arity = defs[0]!.args!.length;
      const bad = defs.find((d) => d.args!.length !== arity);
      if (bad)
        throw new RegoSyntaxError(`function ${name} is defined with different numbers of arguments`, bad.pos);
      if (builtin(name)) throw new RegoSyntaxError(`function ${name} redefines a built-in`, defs[0]!.pos);
    }
  }
  const functionArity = (name: string): number | undefined => {
    const local = name.startsWith('data.') ? stripPackage(name, mod.pkg) : name;
    const defs = local === undefined ? undefined : byName.get(local);
    return defs?.[0]?.kind === 'function' ? defs[0].args!.length : undefined;
  };
  const term = (t: Term): void => {
    switch (t.t) {
      case 'call': {
        const arity = functionArity(t.name) ?? builtin(t.name)?.arity;
        if (arity === undefined)
          throw new RegoSyntaxError(`function ${t.name} is not supported by seal`, t.pos);
        if (arity !== t.args.length)
          throw new RegoSyntaxError(
            `${t.name} takes ${arity} argument${arity === 1 ? '' : 's'}, given ${t.args.length}`,
            t.pos,
          );
        t.args.forEach(term);
        return;
      }
      case 'var':
        if (byName.get(t.name)?.[0]?.kind === 'function')
          throw new RegoSyntaxError(`function ${t.name} is referred to without arguments`, t.pos);
        return;
      default:
        forChildren(t, term, body);
        return;
    }
  };
  const body = (lits: Literal[]): void => {
    for (const l of lits) {
      switch (l.l) {
        case 'expr':
          term(l.term);
          break;
        case 'assign':
          term(l.left);
          term(l.right);
          break;
        case 'somein':
          if (l.key) term(l.key);
          term(l.value);
          term(l.coll);
          break;
        case 'every':
          term(l.coll);
          body(l.body);
          break;
        case 'some':
          break;
      }
    }
  };
  for (const r of mod.rules) {
    if (r.key) term(r.key);
    r.args?.forEach(term);
    term(r.value);
    body(r.body);
    for (const e of r.elses) {
      term(e.value);
      body(e.body);
    }
  }
  for (const alias of mod.aliases.values()) term(alias);
}

export type { SourcePos };
