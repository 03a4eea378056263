// Tokenizer for the CUE subset seal evaluates (CUE language specification, "Lexical elements":
// comments, automatic comma insertion, identifiers, number and string literals).

export class CueSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${message} (line ${line}:${column})`);
  }
}

/** A construct CUE has but seal's evaluator does not (reported with its position). */
export class CueUnsupportedError extends Error {
  constructor(
    readonly construct: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${construct} (line ${line}:${column}) are not supported by seal`);
  }
}

export type TokenKind =
  | 'ident'
  | 'string'
  | 'int'
  | 'float'
  | 'punct'
  | 'comma' // explicit or inserted
  | 'eof';

export interface Token {
  kind: TokenKind;
  /** ident name, punctuation text, decoded string value, or the number's source text. */
  text: string;
  line: number;
  column: number;
}

export interface Pos {
  line: number;
  column: number;
}

// Longest first so `<=` wins over `<`.
const PUNCTUATION = [
  '...',
  '_|_',
  '<=',
  '>=',
  '!=',
  '=~',
  '!~',
  '==',
  '&&',
  '||',
  '{',
  '}',
  '[',
  ']',
  '(',
  ')',
  ':',
  ',',
  '.',
  '?',
  '!',
  '=',
  '&',
  '|',
  '*',
  '<',
  '>',
  '+',
  '-',
  '/',
  '@',
  '#',
  "'",
  '`',
];

const IDENT_START = /[A-Za-z_$]/;
const IDENT_PART = /[A-Za-z0-9_$]/;

/** Tokens after which a newline ends the declaration (spec: "Commas"). */
function insertsComma(t: Token | undefined): boolean {
  if (!t) return false;
  if (t.kind === 'ident' || t.kind === 'string' || t.kind === 'int' || t.kind === 'float') return true;
  return t.kind === 'punct' && [')', ']', '}', '?', '...', '_|_'].includes(t.text);
}

export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const col = () => i - lineStart + 1;
  const push = (kind: TokenKind, text: string, l: number, c: number) =>
    out.push({ kind, text, line: l, column: c });
  const newline = () => {
    if (insertsComma(out[out.length - 1])) push('comma', '\n', line, col());
    line++;
    lineStart = i + 1;
  };
  while (i < src.length) {
    const ch = src[i]!;
    if (ch === '\n') {
      newline();
      i++;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r') {
      i++;
      continue;
    }
    if (ch === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    const l = line;
    const c = col();
    if (ch === '#' && (src[i + 1] === '"' || src[i + 1] === '#')) {
      throw new CueUnsupportedError('CUE raw strings (#"…"#)', l, c);
    }
    if (ch === '"') {
      const { value, end, lines, lastLineStart } = readString(src, i, l, c);
      push('string', value, l, c);
      if (lines > 0) {
        line += lines;
        lineStart = lastLineStart;
      }
      i = end;
      continue;
    }
    if (ch === "'") throw new CueUnsupportedError('CUE byte literals', l, c);
    if (/[0-9]/.test(ch) || (ch === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const m =
        /^(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?(?:[eE][+-]?[0-9_]+)?)([KMGTP]i?)?/.exec(
          src.slice(i),
        );
      const text = m?.[0] ?? '';
      if (!text || /[A-Za-z0-9_]/.test(src[i + text.length] ?? '')) {
        throw new CueSyntaxError(`malformed number "${src.slice(i, i + text.length + 1)}"`, l, c);
      }
      const isFloat = !m![2] && !/^0[xXoObB]/.test(text) && /[.eE]/.test(text);
      push(isFloat ? 'float' : 'int', text, l, c);
      i += text.length;
      continue;
    }
    if (IDENT_START.test(ch) || (ch === '#' && IDENT_START.test(src[i + 1] ?? ''))) {
      // `_|_` is bottom, not an identifier `_` followed by `|`.
      if (src.startsWith('_|_', i)) {
        push('punct', '_|_', l, c);
        i += 3;
        continue;
      }
      let j = i + 1;
      while (j < src.length && IDENT_PART.test(src[j]!)) j++;
      push('ident', src.slice(i, j), l, c);
      i = j;
      continue;
    }
    const p = PUNCTUATION.find((q) => src.startsWith(q, i));
    if (!p) throw new CueSyntaxError(`unexpected character ${JSON.stringify(ch)}`, l, c);
    if (p === '@') throw new CueUnsupportedError('CUE attributes (@…)', l, c);
    if (p === '`') throw new CueSyntaxError('unexpected character "`"', l, c);
    push(p === ',' ? 'comma' : 'punct', p, l, c);
    i += p.length;
  }
  if (insertsComma(out[out.length - 1])) push('comma', '\n', line, col());
  push('eof', '', line, col());
  return out;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '/': '/',
  '\\': '\\',
  '"': '"',
};

/** One escape sequence starting at src[i] === '\\'; returns the decoded text and the index after it. */
function readEscape(src: string, i: number, pos: () => Pos): { text: string; next: number } {
  const e = src[i + 1];
  if (e === undefined) throw new CueSyntaxError('unterminated escape', pos().line, pos().column);
  if (e === '(') throw new CueUnsupportedError('CUE string interpolations', pos().line, pos().column);
  if (e in SIMPLE_ESCAPES) return { text: SIMPLE_ESCAPES[e]!, next: i + 2 };
  if (e === 'u' || e === 'U') {
    const n = e === 'u' ? 4 : 8;
    const hex = src.slice(i + 2, i + 2 + n);
    if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex))
      throw new CueSyntaxError(`malformed \\${e} escape`, pos().line, pos().column);
    const cp = Number.parseInt(hex, 16);
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      throw new CueSyntaxError(`escape \\${e}${hex} is not a Unicode scalar value`, pos().line, pos().column);
    return { text: String.fromCodePoint(cp), next: i + 2 + n };
  }
  if (e === 'x' || /[0-7]/.test(e)) {
    throw new CueUnsupportedError('byte escapes (\\x, octal) in CUE strings', pos().line, pos().column);
  }
  throw new CueSyntaxError(`unknown escape sequence \\${e}`, pos().line, pos().column);
}

function readString(
  src: string,
  start: number,
  line: number,
  column: number,
): { value: string; end: number; lines: number; lastLineStart: number } {
  if (src.startsWith('"""', start)) return readMultiline(src, start, line, column);
  let i = start + 1;
  let value = '';
  const pos = () => ({ line, column: column + (i - start) });
  while (true) {
    const ch = src[i];
    if (ch === undefined || ch === '\n')
      throw new CueSyntaxError('string literal not terminated', line, column);
    if (ch === '"') return { value, end: i + 1, lines: 0, lastLineStart: 0 };
    if (ch === '\\') {
      const e = readEscape(src, i, pos);
      value += e.text;
      i = e.next;
      continue;
    }
    value += ch;
    i++;
  }
}

/**
 * `"""` strings (spec "String and byte sequence literals"): the opening quotes end their line, the closing
 * quotes start their own, and every line carries the closing line's indentation, which is removed.
 */
function readMultiline(
  src: string,
  start: number,
  line: number,
  column: number,
): { value: string; end: number; lines: number; lastLineStart: number } {
  let i = start + 3;
  while (src[i] === ' ' || src[i] === '\t' || src[i] === '\r') i++;
  if (src[i] !== '\n') throw new CueSyntaxError('a """ string must start with a newline', line, column);
  const close = src.indexOf('"""', i);
  // Find the real close: `"""` not preceded by an escaping backslash.
  let end = close;
  while (end !== -1 && src[end - 1] === '\\') end = src.indexOf('"""', end + 3);
  if (end === -1) throw new CueSyntaxError('multi-line string literal not terminated', line, column);
  const body = src.slice(i + 1, end);
  const nl = body.lastIndexOf('\n');
  const indent = nl === -1 ? body : body.slice(nl + 1);
  if (!/^[ \t]*$/.test(indent))
    throw new CueSyntaxError('the closing """ must be on its own line', line, column);
  const rawLines = nl === -1 ? [] : body.slice(0, nl).split('\n');
  const lines = rawLines.map((l, k) => {
    const stripped = l.replace(/\r$/, '');
    if (stripped.trim() === '') return '';
    if (!stripped.startsWith(indent)) {
      throw new CueSyntaxError(
        'invalid whitespace in multi-line string: indentation of the closing """ expected',
        line + k + 1,
        1,
      );
    }
    return stripped.slice(indent.length);
  });
  const raw = lines.join('\n');
  let value = '';
  let k = 0;
  while (k < raw.length) {
    if (raw[k] === '\\') {
      const e = readEscape(raw, k, () => ({ line, column }));
      value += e.text;
      k = e.next;
    } else value += raw[k++];
  }
  const consumed = src.slice(start, end + 3);
  const newlines = consumed.split('\n').length - 1;
  return { value, end: end + 3, lines: newlines, lastLineStart: start + consumed.lastIndexOf('\n') + 1 };
}
