// `has()` over a field of any expression (CEL spec, "Macros": `has(e.f)`), for a CEL library that accepts
// `has()` only over a select chain rooted at a variable: `has(X.f)` is rewritten to `cel.bind(v, X, has(v.f))`.

/**
 * The rewrite is exact: `cel.bind` evaluates X once, as `has(X.f)` evaluates X (an absent field on the way is
 * the same no-such-key error), and `has(v.f)` is then the library's own `has` on that value (map key present,
 * message field set). Only `has()` calls the library refuses are rewritten: an argument that ends in `.field`
 * but whose chain does not start at a variable. Arguments with an optional select (`.?`) are left alone (the
 * library's `has` reads them in an optional context that a bound value would not keep), and so is anything the
 * tokenizer does not recognise; those still fail to parse as before. Strings (quoted, triple-quoted, raw,
 * bytes) and `//` comments are tokens of their own, so nothing inside them is read or changed.
 */

interface Token {
  kind: 'ident' | 'punct' | 'string' | 'number' | 'quoted';
  text: string;
  start: number;
  end: number;
}

const IDENT = /[_a-zA-Z][_a-zA-Z0-9]*/y;
const NUMBER = /0[xX][0-9a-fA-F]+[uU]?|[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?[uU]?/y;
const STRING_PREFIX = /(?:[rR][bB]?|[bB][rR]?)?(?="|')/y;

/** The expression's tokens (whitespace and comments dropped), or undefined when it does not tokenize. */
function tokenize(src: string): Token[] | undefined {
  const out: Token[] = [];
  let i = 0;
  const at = (re: RegExp): string | undefined => {
    re.lastIndex = i;
    return re.exec(src)?.[0];
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') {
      i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      const nl = src.indexOf('\n', i);
      i = nl < 0 ? src.length : nl + 1;
      continue;
    }
    const prefix = at(STRING_PREFIX);
    if (prefix !== undefined) {
      const end = stringEnd(src, i + prefix.length, /[rR]/.test(prefix));
      if (end === undefined) return undefined;
      out.push({ kind: 'string', text: src.slice(i, end), start: i, end });
      i = end;
      continue;
    }
    if (c === '`') {
      const end = src.indexOf('`', i + 1);
      if (end < 0) return undefined;
      out.push({ kind: 'quoted', text: src.slice(i, end + 1), start: i, end: end + 1 });
      i = end + 1;
      continue;
    }
    const ident = at(IDENT);
    if (ident) {
      out.push({ kind: 'ident', text: ident, start: i, end: i + ident.length });
      i += ident.length;
      continue;
    }
    const number = at(NUMBER);
    if (number) {
      out.push({ kind: 'number', text: number, start: i, end: i + number.length });
      i += number.length;
      continue;
    }
    out.push({ kind: 'punct', text: c, start: i, end: i + 1 });
    i++;
  }
  return out;
}

/** The offset after the string literal whose quote starts at `q`, or undefined when it is not closed. */
function stringEnd(src: string, q: number, raw: boolean): number | undefined {
  const quote = src[q]!;
  const triple = src.startsWith(quote.repeat(3), q);
  const close = triple ? quote.repeat(3) : quote;
  let i = q + close.length;
  while (i < src.length) {
    if (!raw && src[i] === '\\') {
      i += 2;
      continue;
    }
    if (!triple && src[i] === '\n') return undefined;
    if (src.startsWith(close, i)) return i + close.length;
    i++;
  }
  return undefined;
}

const OPEN = new Set(['(', '[', '{']);
const CLOSE = new Set([')', ']', '}']);

/** The index of the token closing the bracket opened at `open`, or undefined. */
function closing(tokens: Token[], open: number): number | undefined {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'punct') continue;
    if (OPEN.has(t.text)) depth++;
    else if (CLOSE.has(t.text) && --depth === 0) return i;
  }
  return undefined;
}

/** `ident(.ident)*`: a chain the library's `has` accepts as it is. */
function isVariableChain(tokens: Token[]): boolean {
  if (tokens.length === 0 || tokens.length % 2 === 0) return false;
  return tokens.every((t, i) => (i % 2 === 0 ? t.kind === 'ident' : t.kind === 'punct' && t.text === '.'));
}

/**
 * Whether the tokens are one member expression (CEL grammar `member`): a primary — a name, a call, a message
 * construction, a parenthesised expression, a list or map literal, a literal — followed by selects, method
 * calls and indexes. Anything with an operator outside brackets is not (`a + f().b` selects on `f()` only).
 */
function isMemberExpression(tokens: Token[]): boolean {
  const group = (i: number): number | undefined => {
    const t = tokens[i];
    if (t?.kind !== 'punct' || !OPEN.has(t.text)) return undefined;
    const end = closing(tokens, i);
    return end === undefined ? undefined : end + 1;
  };
  let i = 0;
  const first = tokens[0];
  if (!first) return false;
  if (first.kind === 'ident') {
    i = 1;
    const next = tokens[1];
    if (next?.kind === 'punct' && (next.text === '(' || next.text === '{')) {
      const after = group(1);
      if (after === undefined) return false;
      i = after;
    }
  } else if (first.kind === 'string' || first.kind === 'number') i = 1;
  else if (first.kind === 'punct' && OPEN.has(first.text)) {
    const after = group(0);
    if (after === undefined) return false;
    i = after;
  } else return false;
  while (i < tokens.length) {
    const t = tokens[i]!;
    if (t.kind === 'punct' && t.text === '.' && tokens[i + 1]?.kind === 'ident') {
      i += 2;
      if (tokens[i]?.kind === 'punct' && tokens[i]!.text === '(') {
        const after = group(i);
        if (after === undefined) return false;
        i = after;
      }
      continue;
    }
    if (t.kind === 'punct' && t.text === '[') {
      const after = group(i);
      if (after === undefined) return false;
      i = after;
      continue;
    }
    return false;
  }
  return true;
}

/**
 * `expression` with every `has(X.f)` whose X is not a variable chain rewritten as
 * `cel.bind(v, X, has(v.f))` (v a name the expression does not use); unchanged when there is none.
 */
export function rewriteHasOverExpressions(expression: string): string {
  if (!/\bhas\b/.test(expression)) return expression;
  let n = 0;
  const fresh = (): string => {
    let name: string;
    do name = `__has_${n++}`;
    while (expression.includes(name));
    return name;
  };
  return rewrite(expression, fresh);
}

function rewrite(src: string, fresh: () => string): string {
  const tokens = tokenize(src);
  if (!tokens) return src;
  const edits: { start: number; end: number; text: string }[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'ident' || t.text !== 'has' || tokens[i + 1]?.text !== '(') continue;
    if (i > 0 && tokens[i - 1]!.kind === 'punct' && tokens[i - 1]!.text === '.') continue; // x.has(…)
    const close = closing(tokens, i + 1);
    if (close === undefined) return src;
    const arg = tokens.slice(i + 2, close);
    const field = arg[arg.length - 1];
    const dot = arg[arg.length - 2];
    const prefix = arg.slice(0, -2);
    if (
      field?.kind !== 'ident' ||
      dot?.kind !== 'punct' ||
      dot.text !== '.' ||
      isVariableChain(prefix) ||
      !isMemberExpression(prefix) ||
      prefix.some((a, k) => a.text === '.' && prefix[k + 1]?.text === '?')
    )
      continue;
    const inner = rewrite(src.slice(prefix[0]!.start, prefix[prefix.length - 1]!.end), fresh);
    const v = fresh();
    edits.push({
      start: t.start,
      end: tokens[close]!.end,
      text: `cel.bind(${v}, ${inner}, has(${v}.${field.text}))`,
    });
    i = close;
  }
  let out = src;
  for (const e of edits.reverse()) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}
