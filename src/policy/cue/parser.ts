// Parser for the CUE subset seal evaluates (CUE language specification, "Structs", "Lists", "Operators",
// "Import declarations"); constructs outside the subset are refused with their position.

import { CueSyntaxError, CueUnsupportedError, type Pos, type Token, tokenize } from './lexer.js';

export type Scalar =
  | { k: 'null' }
  | { k: 'bool'; v: boolean }
  | { k: 'string'; v: string }
  | { k: 'int'; v: bigint }
  | { k: 'float'; v: number };

export type BoundOp = '<' | '<=' | '>' | '>=' | '!=' | '=~' | '!~';

export type Expr =
  | { k: 'lit'; v: Scalar; pos: Pos }
  | { k: 'top'; pos: Pos }
  | { k: 'bottom'; pos: Pos }
  | { k: 'ident'; name: string; pos: Pos }
  | { k: 'select'; x: Expr; sel: string; pos: Pos }
  | { k: 'call'; fn: Expr; args: Expr[]; pos: Pos }
  | { k: 'bound'; op: BoundOp; x: Expr; pos: Pos }
  | { k: 'default'; x: Expr; pos: Pos }
  | { k: 'neg'; x: Expr; pos: Pos }
  | { k: 'binary'; op: '&' | '|'; a: Expr; b: Expr; pos: Pos }
  | { k: 'struct'; decls: Decl[]; pos: Pos }
  | { k: 'list'; elems: Expr[]; tail: Expr | null; pos: Pos };

export type Decl =
  | { k: 'field'; label: string; ident: boolean; opt: '' | '?' | '!'; value: Expr; pos: Pos }
  | { k: 'embed'; x: Expr; pos: Pos }
  | { k: 'ellipsis'; pos: Pos };

export interface CueFile {
  /** Local name → package path. */
  imports: Map<string, { path: string; pos: Pos }>;
  body: Extract<Expr, { k: 'struct' }>;
}

export interface ParseLimits {
  maxDepth: number;
}

const BOUND_OPS = new Set(['<', '<=', '>', '>=', '!=', '=~', '!~']);
const REFUSED_BINARY: Record<string, string> = {
  '==': 'CUE comparison operators (==)',
  '!=': 'CUE comparison operators (!=)',
  '<': 'CUE comparison operators (<)',
  '<=': 'CUE comparison operators (<=)',
  '>': 'CUE comparison operators (>)',
  '>=': 'CUE comparison operators (>=)',
  '=~': 'CUE comparison operators (=~)',
  '!~': 'CUE comparison operators (!~)',
  '&&': 'CUE boolean operators (&&)',
  '||': 'CUE boolean operators (||)',
  '+': 'CUE arithmetic (+)',
  '-': 'CUE arithmetic (-)',
  '*': 'CUE arithmetic (*)',
  '/': 'CUE arithmetic (/)',
};
/** Depth of the expression tree: nesting plus operator chains. */
export const MAX_TREE_DEPTH = 1000;
const KEYWORDS = new Set(['for', 'if', 'let', 'in', 'import', 'package']);

export function parseCue(src: string, limits: ParseLimits): CueFile {
  return new Parser(tokenize(src), limits).file();
}

class Parser {
  private i = 0;
  private depth = 0;
  private treeDepth = 0;
  constructor(
    private readonly toks: Token[],
    private readonly limits: ParseLimits,
  ) {}

  private get t(): Token {
    return this.toks[this.i]!;
  }
  /** The current token's kind (a method, so TypeScript does not narrow it across calls that advance). */
  private kind(): Token['kind'] {
    return this.toks[this.i]!.kind;
  }
  private peek(n = 1): Token {
    return this.toks[Math.min(this.i + n, this.toks.length - 1)]!;
  }
  private next(): Token {
    const t = this.t;
    if (t.kind !== 'eof') this.i++;
    return t;
  }
  private isPunct(text: string, t: Token = this.t): boolean {
    return t.kind === 'punct' && t.text === text;
  }
  private expectPunct(text: string): Token {
    if (!this.isPunct(text)) this.fail(`expected "${text}", found ${this.describe(this.t)}`);
    return this.next();
  }
  private describe(t: Token): string {
    if (t.kind === 'eof') return 'end of input';
    if (t.kind === 'comma') return t.text === '\n' ? 'newline' : '","';
    if (t.kind === 'string') return `string ${JSON.stringify(t.text)}`;
    return `"${t.text}"`;
  }
  private fail(message: string, t: Token = this.t): never {
    throw new CueSyntaxError(message, t.line, t.column);
  }
  private unsupported(what: string, t: Token = this.t): never {
    throw new CueUnsupportedError(what, t.line, t.column);
  }
  private enter(t: Token): void {
    if (++this.depth > this.limits.maxDepth)
      this.fail(`nesting deeper than ${this.limits.maxDepth} levels`, t);
    this.grow(t, 1);
  }
  private leave(): void {
    this.depth--;
    this.treeDepth--;
  }
  /**
   * A chain `a & b & c …` is a left-nested tree as deep as it is long, and everything that walks the tree
   * recurses: the depth of the tree (nesting plus chain lengths) is bounded as well.
   */
  private grow(t: Token, n: number): void {
    this.treeDepth += n;
    if (this.treeDepth > MAX_TREE_DEPTH)
      this.fail(`expression too deep (more than ${MAX_TREE_DEPTH} nested operands and operators)`, t);
  }
  private skipCommas(): void {
    while (this.kind() === 'comma') this.next();
  }

  file(): CueFile {
    const imports = new Map<string, { path: string; pos: Pos }>();
    this.skipCommas();
    if (this.kind() === 'ident' && this.t.text === 'package') {
      this.next();
      if (this.kind() !== 'ident') this.fail('expected a package name');
      this.next();
      this.endDecl();
    }
    while (this.kind() === 'ident' && this.t.text === 'import') {
      this.next();
      const one = () => {
        const at = this.t;
        let local: string | undefined;
        if (this.kind() === 'ident') local = this.next().text;
        if (this.kind() !== 'string') this.fail('expected an import path string');
        const path = this.next().text;
        const name = local ?? path.split('/').pop()!.split(':')[0]!;
        if (imports.has(name)) this.fail(`"${name}" imported twice`, at);
        imports.set(name, { path, pos: { line: at.line, column: at.column } });
      };
      if (this.isPunct('(')) {
        this.next();
        this.skipCommas();
        while (!this.isPunct(')')) {
          one();
          if (!this.isPunct(')')) {
            if (this.kind() !== 'comma') this.fail(`expected newline or "," in import list`);
            this.skipCommas();
          }
        }
        this.next();
      } else one();
      this.endDecl();
    }
    const start = this.t;
    const decls = this.decls('eof');
    return { imports, body: { k: 'struct', decls, pos: { line: start.line, column: start.column } } };
  }

  private endDecl(): void {
    if (this.kind() === 'eof') return;
    if (this.kind() !== 'comma') this.fail(`expected newline or ",", found ${this.describe(this.t)}`);
    this.skipCommas();
  }

  /** Declarations up to `}` (not consumed) or end of input. */
  private decls(end: '}' | 'eof'): Decl[] {
    const out: Decl[] = [];
    this.skipCommas();
    while (!(end === 'eof' ? this.kind() === 'eof' : this.isPunct('}'))) {
      if (this.kind() === 'eof') this.fail('expected "}", found end of input');
      out.push(this.decl());
      if (end === 'eof' ? this.kind() === 'eof' : this.isPunct('}')) break;
      if (this.kind() !== 'comma') this.fail(`expected newline or ",", found ${this.describe(this.t)}`);
      this.skipCommas();
    }
    return out;
  }

  private decl(): Decl {
    const t = this.t;
    const pos = { line: t.line, column: t.column };
    if (this.isPunct('...')) {
      this.next();
      if (this.kind() !== 'comma' && !this.isPunct('}') && this.kind() !== 'eof')
        this.unsupported('CUE typed struct ellipses (...T)');
      return { k: 'ellipsis', pos };
    }
    if (t.kind === 'ident' && (t.text === 'for' || t.text === 'if') && !this.isLabelAhead())
      this.unsupported('CUE comprehensions');
    if (t.kind === 'ident' && t.text === 'let' && this.peek().kind === 'ident')
      this.unsupported('CUE let clauses');
    if (t.kind === 'ident' && (t.text === 'import' || t.text === 'package') && !this.isLabelAhead())
      this.fail(`"${t.text}" must come at the start of the file`);
    if (this.isPunct('[')) {
      // `[pattern]: value` is a pattern constraint; `[a, b]` an embedded list.
      if (this.isPatternConstraint()) this.unsupported('CUE pattern constraints ([…]: …)');
    }
    if (this.isPunct('(') && this.isLabelAhead()) this.unsupported('CUE dynamic field labels ((…): …)');
    if (this.isLabelAhead()) return this.field();
    const x = this.expr();
    if (this.isPunct(':')) this.fail('expected a field label before ":"', t);
    if (this.isPunct('=')) this.unsupported('CUE aliases', this.t);
    return { k: 'embed', x, pos };
  }

  /** Is the current token the label of a field (`label:`, `label?:`, `label!:`)? */
  private isLabelAhead(): boolean {
    const t = this.t;
    if (t.kind !== 'ident' && t.kind !== 'string') return false;
    let n = 1;
    if (this.peek().kind === 'punct' && (this.peek().text === '?' || this.peek().text === '!')) n = 2;
    if (this.peek(1).kind === 'punct' && this.peek(1).text === '=' && t.kind === 'ident') return true; // alias
    return this.isPunct(':', this.peek(n));
  }

  private isPatternConstraint(): boolean {
    let level = 0;
    for (let j = this.i; j < this.toks.length; j++) {
      const t = this.toks[j]!;
      if (t.kind === 'punct' && t.text === '[') level++;
      else if (t.kind === 'punct' && t.text === ']') {
        level--;
        if (level === 0) {
          const after = this.toks[j + 1];
          return !!after && after.kind === 'punct' && after.text === ':';
        }
      } else if (t.kind === 'eof') return false;
    }
    return false;
  }

  private field(): Decl {
    const t = this.t;
    const pos = { line: t.line, column: t.column };
    if (t.kind === 'ident' && this.isPunct('=', this.peek())) this.unsupported('CUE aliases');
    const label = this.next();
    const name = label.text;
    if (label.kind === 'ident') {
      if (name.startsWith('#')) this.unsupported('CUE definitions (#…)', label);
      if (name.startsWith('_') && name !== '_') this.unsupported('CUE hidden fields (_…)', label);
      if (name === '_') this.fail('"_" cannot be a field label', label);
      if (KEYWORDS.has(name) && name !== 'in') {
        // Keywords are valid labels in CUE (`if: 1`), but not the ones that start a clause in this position.
      }
    }
    let opt: '' | '?' | '!' = '';
    if (this.isPunct('?') || this.isPunct('!')) opt = this.next().text as '?' | '!';
    this.expectPunct(':');
    let value: Expr;
    const vt = this.t;
    if (this.isLabelAhead()) {
      // `a: b: c` is `a: {b: c}`.
      this.enter(vt);
      const inner = this.field();
      this.leave();
      value = { k: 'struct', decls: [inner], pos: { line: vt.line, column: vt.column } };
    } else {
      value = this.expr();
      if (this.isPunct('=')) this.unsupported('CUE aliases');
    }
    if (this.isPunct('@')) this.unsupported('CUE attributes (@…)');
    return { k: 'field', label: name, ident: label.kind === 'ident', opt, value, pos };
  }

  private expr(minPrec = 1): Expr {
    let a = this.unary();
    let chain = 0;
    try {
      while (true) {
        const t = this.t;
        if (t.kind !== 'punct') return a;
        const prec = t.text === '|' ? 1 : t.text === '&' ? 2 : REFUSED_BINARY[t.text] ? 3 : 0;
        if (prec === 0 || prec < minPrec) return a;
        if (prec === 3) this.unsupported(REFUSED_BINARY[t.text]!, t);
        this.next();
        this.enter(t);
        const b = this.expr(prec + 1);
        this.leave();
        a = { k: 'binary', op: t.text as '&' | '|', a, b, pos: { line: t.line, column: t.column } };
        // The tree grows one level deeper with each operator of the chain.
        chain++;
        this.grow(t, 1);
      }
    } finally {
      this.treeDepth -= chain;
    }
  }

  private unary(): Expr {
    const t = this.t;
    const pos = { line: t.line, column: t.column };
    if (t.kind === 'punct') {
      if (BOUND_OPS.has(t.text)) {
        this.next();
        this.enter(t);
        const x = this.unary();
        this.leave();
        return { k: 'bound', op: t.text as BoundOp, x, pos };
      }
      if (t.text === '*') {
        this.next();
        this.enter(t);
        const x = this.unary();
        this.leave();
        return { k: 'default', x, pos };
      }
      if (t.text === '-' || t.text === '+') {
        this.next();
        const x = this.unary();
        if (x.k !== 'lit' || (x.v.k !== 'int' && x.v.k !== 'float'))
          this.unsupported(`CUE arithmetic (unary ${t.text} on a non-literal)`, t);
        if (t.text === '+') return x;
        return { k: 'lit', v: x.v.k === 'int' ? { k: 'int', v: -x.v.v } : { k: 'float', v: -x.v.v }, pos };
      }
      if (t.text === '!') this.unsupported('CUE boolean operators (!)', t);
    }
    return this.primary();
  }

  private primary(): Expr {
    let x = this.operand();
    while (true) {
      const t = this.t;
      const pos = { line: t.line, column: t.column };
      if (this.isPunct('.')) {
        this.next();
        const sel = this.t;
        if (sel.kind === 'string') this.unsupported('CUE quoted selectors (x."a")', sel);
        if (sel.kind !== 'ident') this.fail('expected a field name after "."', sel);
        if (sel.text.startsWith('#')) this.unsupported('CUE definitions (#…)', sel);
        this.next();
        x = { k: 'select', x, sel: sel.text, pos };
      } else if (this.isPunct('(')) {
        this.next();
        this.enter(t);
        const args: Expr[] = [];
        this.skipCommas();
        while (!this.isPunct(')')) {
          args.push(this.expr());
          if (this.isPunct(')')) break;
          if (this.kind() !== 'comma') this.fail(`expected "," or ")", found ${this.describe(this.t)}`);
          this.skipCommas();
        }
        this.next();
        this.leave();
        x = { k: 'call', fn: x, args, pos };
      } else if (this.isPunct('[')) {
        this.unsupported('CUE index and slice expressions (x[…])', t);
      } else return x;
    }
  }

  private operand(): Expr {
    const t = this.t;
    const pos = { line: t.line, column: t.column };
    switch (t.kind) {
      case 'string':
        this.next();
        return { k: 'lit', v: { k: 'string', v: t.text }, pos };
      case 'int':
        this.next();
        return { k: 'lit', v: { k: 'int', v: parseIntLiteral(t.text, t) }, pos };
      case 'float': {
        this.next();
        const v = Number(t.text.replaceAll('_', ''));
        if (!Number.isFinite(v)) this.fail(`number ${t.text} is out of range`, t);
        return { k: 'lit', v: { k: 'float', v }, pos };
      }
      case 'ident': {
        if (t.text === 'for' || t.text === 'if') this.unsupported('CUE comprehensions', t);
        if (t.text === 'let') this.unsupported('CUE let clauses', t);
        if (t.text.startsWith('#')) this.unsupported('CUE definitions (#…)', t);
        if (t.text.startsWith('_') && t.text !== '_') this.unsupported('CUE hidden fields (_…)', t);
        this.next();
        if (t.text === 'null') return { k: 'lit', v: { k: 'null' }, pos };
        if (t.text === 'true' || t.text === 'false')
          return { k: 'lit', v: { k: 'bool', v: t.text === 'true' }, pos };
        if (t.text === '_') return { k: 'top', pos };
        return { k: 'ident', name: t.text, pos };
      }
      case 'punct':
        break;
      default:
        this.fail(`expected an expression, found ${this.describe(t)}`);
    }
    if (t.text === '_|_') {
      this.next();
      return { k: 'bottom', pos };
    }
    if (t.text === '(') {
      this.next();
      this.enter(t);
      const x = this.expr();
      this.leave();
      this.expectPunct(')');
      return x;
    }
    if (t.text === '{') {
      this.next();
      this.enter(t);
      const decls = this.decls('}');
      this.leave();
      this.expectPunct('}');
      return { k: 'struct', decls, pos };
    }
    if (t.text === '[') return this.list();
    if (t.text === '#') this.unsupported('CUE raw strings and definitions (#…)', t);
    this.fail(`expected an expression, found ${this.describe(t)}`);
  }

  private list(): Expr {
    const t = this.next();
    const pos = { line: t.line, column: t.column };
    this.enter(t);
    const elems: Expr[] = [];
    let tail: Expr | null = null;
    this.skipCommas();
    while (!this.isPunct(']')) {
      if (this.isPunct('...')) {
        const e = this.next();
        tail =
          this.isPunct(']') || this.kind() === 'comma'
            ? { k: 'top', pos: { line: e.line, column: e.column } }
            : this.expr();
        this.skipCommas();
        if (!this.isPunct(']')) this.fail('"..." must be the last element of a list');
        break;
      }
      const et = this.t;
      if (et.kind === 'ident' && (et.text === 'for' || et.text === 'if'))
        this.unsupported('CUE comprehensions', et);
      elems.push(this.expr());
      if (this.isPunct(']')) break;
      if (this.kind() !== 'comma') this.fail(`expected "," or "]", found ${this.describe(this.t)}`);
      this.skipCommas();
    }
    this.next();
    this.leave();
    return { k: 'list', elems, tail, pos };
  }
}

const MULTIPLIERS: Record<string, bigint> = {
  K: 1000n,
  M: 1000n ** 2n,
  G: 1000n ** 3n,
  T: 1000n ** 4n,
  P: 1000n ** 5n,
  Ki: 1024n,
  Mi: 1024n ** 2n,
  Gi: 1024n ** 3n,
  Ti: 1024n ** 4n,
  Pi: 1024n ** 5n,
};

function parseIntLiteral(text: string, t: Token): bigint {
  const m = /^(.*?)([KMGTP]i?)?$/.exec(text.replaceAll('_', ''))!;
  const digits = m[1]!;
  const mult = m[2] ? MULTIPLIERS[m[2]]! : 1n;
  if (/^0[oO]/.test(digits)) return BigInt(`0o${digits.slice(2)}`) * mult;
  if (/^0[xXbB]/.test(digits)) return BigInt(digits) * mult;
  if (/[.eE]/.test(digits)) {
    // `1.5K` is an integer in CUE (the multiplier must make it whole).
    const v = Number(digits) * Number(mult);
    if (!Number.isInteger(v)) throw new CueSyntaxError(`${text} is not an integer`, t.line, t.column);
    return BigInt(v);
  }
  if (/^0[0-9]/.test(digits))
    throw new CueSyntaxError(`legacy octal literal ${text} is not allowed`, t.line, t.column);
  return BigInt(digits) * mult;
}
