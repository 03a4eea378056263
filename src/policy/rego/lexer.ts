// Tokens of the Rego subset seal evaluates (OPA policy language reference, "Grammar"): identifiers,
// strings (quoted with JSON escapes, or raw in backquotes), numbers, operators; newlines are kept because
// they separate a body's expressions as `;` does.

import { RegoSyntaxError } from './errors.js';

export type TokenKind = 'ident' | 'string' | 'number' | 'op' | 'newline' | 'eof';

export interface Token {
  kind: TokenKind;
  /** The identifier, operator, or the decoded string; a number's source text. */
  text: string;
  line: number;
  col: number;
}

const OPERATORS = [':=', '==', '!=', '<=', '>=', '<', '>', '=', '+', '-', '*', '/', '%', '|', '&'];
const PUNCT = '.,;:[](){}';

export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const at = () => ({ line, col: i - lineStart + 1 });
  while (i < src.length) {
    const c = src[i]!;
    if (c === '\n') {
      out.push({ kind: 'newline', text: '\n', ...at() });
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    const pos = at();
    if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < src.length && /[A-Za-z0-9_]/.test(src[j]!)) j++;
      out.push({ kind: 'ident', text: src.slice(i, j), ...pos });
      i = j;
      continue;
    }
    if (/[0-9]/.test(c)) {
      const m = /^(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(src.slice(i));
      if (!m) throw new RegoSyntaxError('malformed number', pos);
      out.push({ kind: 'number', text: m[0], ...pos });
      i += m[0].length;
      if (i < src.length && /[A-Za-z0-9_]/.test(src[i]!)) throw new RegoSyntaxError('malformed number', pos);
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\n') throw new RegoSyntaxError('unterminated string', pos);
        j += src[j] === '\\' ? 2 : 1;
      }
      if (j >= src.length) throw new RegoSyntaxError('unterminated string', pos);
      let text: string;
      try {
        text = JSON.parse(src.slice(i, j + 1)) as string;
      } catch {
        throw new RegoSyntaxError('malformed string escape', pos);
      }
      out.push({ kind: 'string', text, ...pos });
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) throw new RegoSyntaxError('unterminated raw string', pos);
      const text = src.slice(i + 1, j);
      out.push({ kind: 'string', text, ...pos });
      for (const ch of text) {
        if (ch === '\n') line++;
      }
      if (text.includes('\n')) lineStart = i + 1 + text.lastIndexOf('\n') + 1;
      i = j + 1;
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (op) {
      out.push({ kind: 'op', text: op, ...pos });
      i += op.length;
      continue;
    }
    if (PUNCT.includes(c)) {
      out.push({ kind: 'op', text: c, ...pos });
      i++;
      continue;
    }
    throw new RegoSyntaxError(`unexpected character ${JSON.stringify(c)}`, pos);
  }
  out.push({ kind: 'eof', text: '', ...at() });
  return out;
}
