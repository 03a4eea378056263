// Parser of the Rego subset (OPA policy language reference, "Grammar"; v0 syntax, as cosign and
// policy-controller evaluate with ast.RegoV0, plus the `if`/`in`/`contains`/`every` keywords that
// `import rego.v1` or `import future.keywords…` bring). What is outside the subset is a RegoSyntaxError
// naming the construct and its line:column.

import type { ElseClause, Literal, Module, RuleDef, Term } from './ast.js';
import { RegoSyntaxError, type SourcePos } from './errors.js';
import { type Token, tokenize } from './lexer.js';

const FUTURE_KEYWORDS = ['if', 'in', 'contains', 'every'] as const;
const RESERVED = new Set(['package', 'import', 'default', 'not', 'some', 'with', 'as', 'else']);
const COMPARE = new Set(['==', '!=', '<', '<=', '>', '>=']);
/** Nesting of expressions (brackets, parentheses, operators, unary minus, bodies) a policy may use. */
export const MAX_REGO_NESTING = 64;

export function parseModule(src: string): Module {
  return new Parser(tokenize(src)).module();
}

class Parser {
  private i = 0;
  /** >0 inside brackets/parens/object literals, where newlines do not end an expression. */
  private nest = 0;
  private keywords = new Set<string>();
  private v1 = false;
  private wildcard = 0;
  /** Current nesting of terms and bodies being parsed (bounded by MAX_REGO_NESTING). */
  private depth = 0;

  constructor(private readonly toks: Token[]) {}

  private raw(): Token {
    return this.toks[this.i]!;
  }

  private skipNewlines(): void {
    while (this.raw().kind === 'newline') this.i++;
  }

  private peek(): Token {
    if (this.nest > 0) this.skipNewlines();
    return this.raw();
  }

  private peekAt(n: number): Token {
    let j = this.i;
    let seen = 0;
    for (;;) {
      const t = this.toks[j]!;
      if (t.kind === 'newline' && this.nest > 0) {
        j++;
        continue;
      }
      if (seen === n || t.kind === 'eof') return t;
      seen++;
      j++;
    }
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.i++;
    return t;
  }

  private isOp(text: string): boolean {
    const t = this.peek();
    return t.kind === 'op' && t.text === text;
  }

  private isKw(text: string): boolean {
    const t = this.peek();
    return (
      t.kind === 'ident' &&
      t.text === text &&
      (!FUTURE_KEYWORDS.includes(text as 'if') || this.keywords.has(text))
    );
  }

  private expectOp(text: string): Token {
    const t = this.next();
    if (t.kind !== 'op' || t.text !== text) throw this.err(`expected "${text}", found ${describe(t)}`, t);
    return t;
  }

  private err(msg: string, t: Token | SourcePos = this.peek()): RegoSyntaxError {
    return new RegoSyntaxError(msg, { line: t.line, col: t.col });
  }

  private ident(): Token {
    const t = this.next();
    if (t.kind !== 'ident') throw this.err(`expected a name, found ${describe(t)}`, t);
    return t;
  }

  private endStatement(): void {
    const t = this.raw();
    if (t.kind === 'newline' || t.kind === 'eof') return;
    if (t.kind === 'op' && t.text === ';') {
      this.i++;
      return;
    }
    throw this.err(`unexpected ${describe(t)}`, t);
  }

  module(): Module {
    this.skipNewlines();
    const pkgTok = this.peek();
    if (!(pkgTok.kind === 'ident' && pkgTok.text === 'package'))
      throw this.err('a module starts with "package"');
    this.next();
    const pkg = this.dottedName();
    if (pkg[0] === 'data') pkg.shift();
    this.endStatement();
    const aliases = new Map<string, Term>();
    const rules: RuleDef[] = [];
    for (;;) {
      this.skipNewlines();
      const t = this.peek();
      if (t.kind === 'eof') break;
      if (t.kind === 'ident' && t.text === 'import') {
        this.next();
        this.importDecl(aliases, t);
        continue;
      }
      if (t.kind === 'ident' && t.text === 'package') throw this.err('a module has one "package"', t);
      rules.push(...this.rule());
      this.endStatement();
    }
    return { pkg, aliases, rules };
  }

  private dottedName(): string[] {
    const parts = [this.ident().text];
    while (this.raw().kind === 'op' && this.raw().text === '.') {
      this.i++;
      parts.push(this.ident().text);
    }
    return parts;
  }

  private importDecl(aliases: Map<string, Term>, at: Token): void {
    const start = this.peek();
    const path = this.dottedName();
    const joined = path.join('.');
    if (joined === 'rego.v1') {
      for (const k of FUTURE_KEYWORDS) this.keywords.add(k);
      this.v1 = true;
      this.endStatement();
      return;
    }
    if (path[0] === 'future' && path[1] === 'keywords') {
      if (path.length === 2) for (const k of FUTURE_KEYWORDS) this.keywords.add(k);
      else if (path.length === 3 && FUTURE_KEYWORDS.includes(path[2] as 'if')) this.keywords.add(path[2]!);
      else throw this.err(`import ${joined}: unknown future keyword`, start);
      this.endStatement();
      return;
    }
    if (path[0] !== 'input' && path[0] !== 'data')
      throw this.err(
        `import ${joined}: only input, data, rego.v1 and future.keywords can be imported`,
        start,
      );
    let alias = path[path.length - 1]!;
    if (this.raw().kind === 'ident' && this.raw().text === 'as') {
      this.i++;
      alias = this.ident().text;
    }
    const pos = { line: at.line, col: at.col };
    const ref: Term =
      path.length === 1
        ? { t: 'var', name: path[0]!, pos }
        : {
            t: 'ref',
            head: { t: 'var', name: path[0]!, pos },
            path: path.slice(1).map((p) => ({ t: 'scalar' as const, v: p, pos })),
            pos,
          };
    if (alias !== path[0]) aliases.set(alias, ref);
    this.endStatement();
  }

  private rule(): RuleDef[] {
    const start = this.peek();
    const pos = { line: start.line, col: start.col };
    if (start.kind === 'ident' && start.text === 'default') {
      this.next();
      const name = this.ruleName();
      if (this.isOp('(')) throw this.err('default functions are not supported by seal', this.peek());
      const op = this.next();
      if (op.kind !== 'op' || (op.text !== '=' && op.text !== ':='))
        throw this.err(`default ${name}: expected "=" or ":="`, op);
      const value = this.term();
      this.endStatement();
      return [{ name, kind: 'complete', isDefault: true, value, body: [], elses: [], pos }];
    }
    const name = this.ruleName();
    let kind: RuleDef['kind'] = 'complete';
    let key: Term | undefined;
    let args: Term[] | undefined;
    let value: Term | undefined;
    const t = this.peek();
    if (t.kind === 'op' && t.text === '.')
      throw this.err(`rule ${name}: multi-level rule heads are not supported by seal`, t);
    if (this.isKw('contains')) {
      this.next();
      kind = 'set';
      key = this.term();
    } else if (t.kind === 'op' && t.text === '[') {
      this.next();
      this.nest++;
      key = this.term();
      this.nest--;
      this.expectOp(']');
      kind = 'set';
    } else if (t.kind === 'op' && t.text === '(') {
      this.next();
      this.nest++;
      args = [];
      if (!this.isOp(')')) {
        args.push(this.term());
        while (this.isOp(',')) {
          this.next();
          args.push(this.term());
        }
      }
      this.nest--;
      this.expectOp(')');
      kind = 'function';
    }
    if (this.isOp('=') || this.isOp(':=')) {
      this.next();
      value = this.term();
      if (kind === 'set') kind = 'object';
    }
    if (this.isOp('[')) throw this.err(`rule ${name}: multi-level rule heads are not supported by seal`);
    const bodies = this.ruleBodies(name);
    const defs: RuleDef[] = [];
    const pTrue: Term = { t: 'scalar', v: true, pos };
    const first = bodies[0];
    if (!first) {
      // A rule without a body: `x := 1`, `x contains "a"`, `f(x) := y`.
      if (value === undefined && kind === 'complete')
        throw this.err(`rule ${name}: expected a body or a value`, start);
      defs.push({
        name,
        kind,
        isDefault: false,
        ...(key ? { key } : {}),
        ...(args ? { args } : {}),
        value: value ?? pTrue,
        body: [],
        elses: [],
        pos,
      });
    } else {
      for (const b of bodies) {
        defs.push({
          name,
          kind,
          isDefault: false,
          ...(key ? { key } : {}),
          ...(args ? { args } : {}),
          value: value ?? pTrue,
          body: b.body,
          elses: b.elses.map((e) => ({ ...e, value: e.value ?? value ?? pTrue })),
          pos,
        });
      }
    }
    if (defs.some((d) => d.elses.length > 0) && kind !== 'complete' && kind !== 'function')
      throw this.err(`rule ${name}: else is only for complete rules and functions`, start);
    return defs;
  }

  private ruleName(): string {
    const t = this.ident();
    if (RESERVED.has(t.text) || (FUTURE_KEYWORDS.includes(t.text as 'if') && this.keywords.has(t.text)))
      throw this.err(`"${t.text}" cannot name a rule`, t);
    return t.text;
  }

  /** `{…}`, `if {…}`, `if expr`, several `{…}{…}` in v0, each followed by its else chain. */
  private ruleBodies(
    name: string,
  ): { body: Literal[]; elses: (Omit<ElseClause, 'value'> & { value?: Term })[] }[] {
    const out: { body: Literal[]; elses: (Omit<ElseClause, 'value'> & { value?: Term })[] }[] = [];
    for (;;) {
      let body: Literal[] | undefined;
      if (this.isKw('if')) {
        this.next();
        body = this.isOp('{') ? this.braceBody() : [this.literal()];
      } else if (this.isOp('{')) {
        if (this.v1) throw this.err(`rule ${name}: with rego.v1 a rule body needs "if"`);
        body = this.braceBody();
      }
      if (!body) return out;
      const elses: (Omit<ElseClause, 'value'> & { value?: Term })[] = [];
      for (;;) {
        const save = this.i;
        this.skipNewlines();
        const e = this.peek();
        if (!(e.kind === 'ident' && e.text === 'else')) {
          this.i = save;
          break;
        }
        this.next();
        let value: Term | undefined;
        if (this.isOp('=') || this.isOp(':=')) {
          this.next();
          value = this.term();
        }
        let eb: Literal[] = [];
        if (this.isKw('if')) {
          this.next();
          eb = this.isOp('{') ? this.braceBody() : [this.literal()];
        } else if (this.isOp('{')) eb = this.braceBody();
        elses.push({ ...(value ? { value } : {}), body: eb, pos: { line: e.line, col: e.col } });
      }
      out.push({ body, elses });
      if (this.v1 || !this.isOp('{')) return out;
    }
  }

  private braceBody(): Literal[] {
    const open = this.expectOp('{');
    const saved = this.nest;
    this.nest = 0;
    this.enter(open);
    const body = this.literals('}');
    this.depth--;
    this.nest = saved;
    this.expectOp('}');
    if (body.length === 0) throw this.err('a rule body is empty', open);
    return body;
  }

  /** One more level of nesting; beyond MAX_REGO_NESTING the policy is refused (evaluation recurses per level). */
  private enter(at: Token): void {
    if (++this.depth > MAX_REGO_NESTING)
      throw this.err(`expressions nest deeper than ${MAX_REGO_NESTING} levels`, at);
  }

  /** Literals separated by `;` or newlines, up to the closing `close` (not consumed). */
  private literals(close: string): Literal[] {
    const out: Literal[] = [];
    for (;;) {
      this.skipNewlines();
      if (this.isOp(close)) return out;
      out.push(this.literal());
      const t = this.raw();
      if (t.kind === 'op' && t.text === ';') this.i++;
      else if (t.kind === 'newline') continue;
      else if (!(t.kind === 'op' && t.text === close)) throw this.err(`unexpected ${describe(t)}`, t);
    }
  }

  private literal(): Literal {
    const t = this.peek();
    const pos = { line: t.line, col: t.col };
    if (t.kind === 'ident' && t.text === 'some') {
      this.next();
      const first = this.term(PREC_IN + 1);
      let second: Term | undefined;
      if (this.isOp(',')) {
        this.next();
        second = this.term(PREC_IN + 1);
      }
      if (this.isKw('in')) {
        this.next();
        const coll = this.term(PREC_IN + 1);
        return second
          ? { l: 'somein', key: first, value: second, coll, pos }
          : { l: 'somein', value: first, coll, pos };
      }
      const vars = [first, ...(second ? [second] : [])];
      while (this.isOp(',')) {
        this.next();
        vars.push(this.term());
      }
      return {
        l: 'some',
        vars: vars.map((v) => {
          if (v.t !== 'var') throw this.err('some declares variables', v.pos);
          return v.name;
        }),
        pos,
      };
    }
    if (this.isKw('every')) {
      this.next();
      const a = this.ident().text;
      let key: string | undefined;
      let value = a;
      if (this.isOp(',')) {
        this.next();
        key = a;
        value = this.ident().text;
      }
      if (!this.isKw('in')) throw this.err('every: expected "in"');
      this.next();
      const coll = this.term(PREC_IN + 1);
      const body = this.braceBody();
      return { l: 'every', ...(key !== undefined ? { key } : {}), value, coll, body, pos };
    }
    let negated = false;
    if (t.kind === 'ident' && t.text === 'not') {
      this.next();
      negated = true;
    }
    const left = this.term();
    let lit: Literal;
    if (this.isOp(':=') || this.isOp('=')) {
      const op = this.next().text as ':=' | '=';
      const right = this.term();
      lit = { l: 'assign', op, negated, left, right, pos };
    } else {
      lit = { l: 'expr', negated, term: left, pos };
    }
    const w = this.peek();
    if (w.kind === 'ident' && w.text === 'with') throw this.err('"with" is not supported by seal', w);
    return lit;
  }

  term(minPrec = 0): Term {
    const saved = this.depth;
    this.enter(this.peek());
    try {
      return this.binary(minPrec);
    } finally {
      this.depth = saved;
    }
  }

  private binary(minPrec: number): Term {
    let left = this.unary();
    for (;;) {
      const t = this.peek();
      let op: string | undefined;
      if (t.kind === 'op' && BINARY_PREC[t.text] !== undefined) op = t.text;
      else if (t.kind === 'ident' && t.text === 'in' && this.keywords.has('in')) op = 'in';
      if (!op) return left;
      const prec = op === 'in' ? PREC_IN : BINARY_PREC[op]!;
      if (prec < minPrec) return left;
      this.next();
      // Each operator of a chain nests the tree one level deeper (a + b + c is (a + b) + c); term() resets.
      this.enter(t);
      const right = this.term(prec + 1);
      const pos = { line: t.line, col: t.col };
      left =
        op === 'in' ? { t: 'member', value: left, coll: right, pos } : { t: 'binop', op, left, right, pos };
    }
  }

  private unary(): Term {
    const t = this.peek();
    if (t.kind === 'op' && t.text === '-') {
      this.next();
      this.enter(t);
      let operand: Term;
      try {
        operand = this.unary();
      } finally {
        this.depth--;
      }
      const pos = { line: t.line, col: t.col };
      if (operand.t === 'scalar' && typeof operand.v === 'number') return { t: 'scalar', v: -operand.v, pos };
      return { t: 'binop', op: '-', left: { t: 'scalar', v: 0, pos }, right: operand, pos };
    }
    return this.postfix(this.primary());
  }

  private postfix(head: Term): Term {
    let term = head;
    for (;;) {
      const t = this.raw();
      if (t.kind === 'op' && t.text === '.') {
        this.i++;
        const name = this.ident();
        const seg: Term = { t: 'scalar', v: name.text, pos: { line: name.line, col: name.col } };
        term = appendRef(term, seg);
        continue;
      }
      if (t.kind === 'op' && t.text === '[') {
        this.i++;
        this.nest++;
        const idx = this.term();
        this.nest--;
        this.expectOp(']');
        term = appendRef(term, idx);
        continue;
      }
      if (t.kind === 'op' && t.text === '(') {
        const name = callName(term);
        if (!name) throw this.err('only named functions can be called', t);
        this.i++;
        this.nest++;
        const args: Term[] = [];
        if (!this.isOp(')')) {
          args.push(this.term());
          while (this.isOp(',')) {
            this.next();
            args.push(this.term());
          }
        }
        this.nest--;
        this.expectOp(')');
        term = { t: 'call', name, args, pos: term.pos };
        continue;
      }
      return term;
    }
  }

  private primary(): Term {
    const t = this.next();
    const pos = { line: t.line, col: t.col };
    if (t.kind === 'number') return { t: 'scalar', v: Number(t.text), pos };
    if (t.kind === 'string') return { t: 'scalar', v: t.text, pos };
    if (t.kind === 'ident') {
      if (t.text === 'true' || t.text === 'false') return { t: 'scalar', v: t.text === 'true', pos };
      if (t.text === 'null') return { t: 'scalar', v: null, pos };
      if (t.text === '_') return { t: 'var', name: `$_${this.wildcard++}`, pos };
      if (
        t.text === 'set' &&
        this.raw().kind === 'op' &&
        this.raw().text === '(' &&
        this.peekAt(1).text === ')'
      ) {
        this.i += 2;
        return { t: 'set', items: [], pos };
      }
      if (
        RESERVED.has(t.text) ||
        ((t.text === 'every' || t.text === 'if' || t.text === 'in') && this.keywords.has(t.text))
      )
        throw this.err(`unexpected keyword "${t.text}"`, t);
      return { t: 'var', name: t.text, pos };
    }
    if (t.kind === 'op' && t.text === '(') {
      this.nest++;
      const inner = this.term();
      this.nest--;
      this.expectOp(')');
      return inner;
    }
    if (t.kind === 'op' && t.text === '[') {
      this.nest++;
      if (this.isOp(']')) {
        this.nest--;
        this.next();
        return { t: 'array', items: [], pos };
      }
      const first = this.term(PREC_UNION + 1);
      if (this.isOp('|')) {
        this.next();
        const body = this.comprehensionBody(']');
        this.nest--;
        this.expectOp(']');
        return { t: 'arraycomp', term: first, body, pos };
      }
      const items = [first];
      while (this.isOp(',')) {
        this.next();
        if (this.isOp(']')) break;
        items.push(this.term());
      }
      this.nest--;
      this.expectOp(']');
      return { t: 'array', items, pos };
    }
    if (t.kind === 'op' && t.text === '{') {
      this.nest++;
      if (this.isOp('}')) {
        this.nest--;
        this.next();
        return { t: 'object', entries: [], pos };
      }
      const first = this.term(PREC_UNION + 1);
      if (this.isOp(':')) {
        this.next();
        const v = this.term(PREC_UNION + 1);
        if (this.isOp('|')) {
          this.next();
          const body = this.comprehensionBody('}');
          this.nest--;
          this.expectOp('}');
          return { t: 'objcomp', key: first, value: v, body, pos };
        }
        const entries: [Term, Term][] = [[first, v]];
        while (this.isOp(',')) {
          this.next();
          if (this.isOp('}')) break;
          const k = this.term();
          this.expectOp(':');
          entries.push([k, this.term()]);
        }
        this.nest--;
        this.expectOp('}');
        return { t: 'object', entries, pos };
      }
      if (this.isOp('|')) {
        this.next();
        const body = this.comprehensionBody('}');
        this.nest--;
        this.expectOp('}');
        return { t: 'setcomp', term: first, body, pos };
      }
      const items = [first];
      while (this.isOp(',')) {
        this.next();
        if (this.isOp('}')) break;
        items.push(this.term());
      }
      this.nest--;
      this.expectOp('}');
      return { t: 'set', items, pos };
    }
    throw this.err(`unexpected ${describe(t)}`, t);
  }

  private comprehensionBody(close: string): Literal[] {
    const saved = this.nest;
    this.nest = 0;
    const body = this.literals(close);
    this.nest = saved;
    if (body.length === 0) throw this.err('a comprehension body is empty');
    return body;
  }
}

const PREC_IN = 1;
const PREC_UNION = 3;
const BINARY_PREC: Record<string, number> = {
  '==': 2,
  '!=': 2,
  '<': 2,
  '<=': 2,
  '>': 2,
  '>=': 2,
  '|': PREC_UNION,
  '&': 4,
  '+': 5,
  '-': 5,
  '*': 6,
  '/': 6,
  '%': 6,
};
export const COMPARISON_OPS = COMPARE;

function appendRef(term: Term, seg: Term): Term {
  if (term.t === 'ref') return { ...term, path: [...term.path, seg] };
  return { t: 'ref', head: term, path: [seg], pos: term.pos };
}

/** `count`, `regex.match`, `time.now_ns`: a var or a ref of constant string segments. */
function callName(term: Term): string | undefined {
  if (term.t === 'var') return term.name;
  if (term.t !== 'ref' || term.head.t !== 'var') return undefined;
  const parts = [term.head.name];
  for (const p of term.path) {
    if (p.t !== 'scalar' || typeof p.v !== 'string') return undefined;
    parts.push(p.v);
  }
  return parts.join('.');
}

function describe(t: Token): string {
  if (t.kind === 'eof') return 'end of policy';
  if (t.kind === 'newline') return 'end of line';
  if (t.kind === 'string') return `string ${JSON.stringify(t.text)}`;
  return `"${t.text}"`;
}
