// Go RE2 regular expressions (https://github.com/google/re2/wiki/Syntax, Go regexp/syntax) as JavaScript
// RegExps with the same meaning. Policies written for policy-controller, Kyverno and OPA are matched by Go's
// regexp package; JavaScript's engine spells several RE2 constructs differently and gives others another
// meaning, so a pattern is translated token by token rather than handed to RegExp:
// - refused as RE2 refuses them: lookahead/lookbehind, backreferences, atomic groups, possessive and nested
//   repetition operators, repeat counts above 1000, unknown escapes;
// - spelled differently: flag groups `(?i)`, `(?s)`, `(?m)`, `(?U)` (leading, mid-pattern, `(?i:…)`,
//   `(?-i)`), `\A`, `\z`, POSIX classes `[[:alpha:]]`, `\pL`, `\p{Greek}`, `\Q…\E`, `\x{…}`, octal escapes,
//   `(?P<name>…)`;
// - meaning differently: `.` excludes only `\n` (JavaScript's also excludes `\r`, U+2028, U+2029), `^`/`$`
//   under (?m) break lines at `\n` only, and `\s` `\d` `\w` `\b` are ASCII-only.
// The RegExp always has the `u` flag. Case-insensitivity over the whole pattern uses the `i` flag (both
// engines fold by Unicode simple case folding); a case-insensitive part of a pattern is expanded to classes.
// One difference remains under a whole-pattern (?i): JavaScript's `\b` then also treats U+017F and U+212A
// as word characters (they fold to s and k), Go's does not.

/** A pattern Go's regexp package would refuse, or one seal cannot translate exactly. */
export class Re2SyntaxError extends Error {
  constructor(
    readonly pattern: string,
    why: string,
  ) {
    super(
      `invalid RE2 regular expression ${JSON.stringify(pattern.length > 200 ? `${pattern.slice(0, 200)}…` : pattern)}: ${why}`,
    );
  }
}

/** Longest pattern accepted (characters). */
export const RE2_MAX_PATTERN = 64 * 1024;

interface Flags {
  i: boolean;
  m: boolean;
  s: boolean;
  U: boolean;
}

type Range = [number, number];

const MAX_CP = 0x10ffff;
const WORD: Range[] = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
];
const DIGIT: Range[] = [[0x30, 0x39]];
// RE2's \s is [\t\n\f\r ] (no \v).
const SPACE: Range[] = [
  [0x09, 0x0a],
  [0x0c, 0x0d],
  [0x20, 0x20],
];
const r = (a: string, b = a): Range => [a.codePointAt(0)!, b.codePointAt(0)!];
const POSIX: Record<string, Range[]> = {
  alnum: [r('0', '9'), r('A', 'Z'), r('a', 'z')],
  alpha: [r('A', 'Z'), r('a', 'z')],
  ascii: [[0, 0x7f]],
  blank: [r('\t'), r(' ')],
  cntrl: [
    [0, 0x1f],
    [0x7f, 0x7f],
  ],
  digit: [r('0', '9')],
  graph: [r('!', '~')],
  lower: [r('a', 'z')],
  print: [r(' ', '~')],
  punct: [r('!', '/'), r(':', '@'), r('[', '`'), r('{', '~')],
  space: [r('\t', '\r'), r(' ')],
  upper: [r('A', 'Z')],
  word: WORD,
  xdigit: [r('0', '9'), r('A', 'F'), r('a', 'f')],
};
const PERL: Record<string, Range[]> = { d: DIGIT, s: SPACE, w: WORD };

const WORD_CLASS = '[0-9A-Z_a-z]';
const ASSERT = {
  textStart: '(?:(?<![\\s\\S]))',
  textEnd: '(?:(?![\\s\\S]))',
  lineStart: '(?:(?<![^\\n]))',
  lineEnd: '(?:(?![^\\n]))',
  wordBoundary: `(?:(?<=${WORD_CLASS})(?!${WORD_CLASS})|(?<!${WORD_CLASS})(?=${WORD_CLASS}))`,
  notWordBoundary: `(?:(?<=${WORD_CLASS})(?=${WORD_CLASS})|(?<!${WORD_CLASS})(?!${WORD_CLASS}))`,
};

// Code points whose case-fold orbit is not reached by toLowerCase/toUpperCase from the other members.
const FOLD_EXTRA = [
  0xb5, 0x17f, 0x1c5, 0x1c8, 0x1cb, 0x1f2, 0x345, 0x390, 0x3b0, 0x3c2, 0x3d0, 0x3d1, 0x3d5, 0x3d6, 0x3f0,
  0x3f1, 0x3f4, 0x3f5, 0x1e9b, 0x1e9e, 0x1fbe, 0x1fd3, 0x1fe3, 0x2126, 0x212a, 0x212b,
];

const hex = (cp: number) => `\\u{${cp.toString(16)}}`;

/** The code points equal to `cp` under simple case folding (as both Go and JavaScript's `ui` fold). */
function foldOrbit(cp: number): number[] {
  const s = String.fromCodePoint(cp);
  const cands = new Set<number>([cp]);
  for (const t of [
    s.toLowerCase(),
    s.toUpperCase(),
    s.toLowerCase().toUpperCase(),
    s.toUpperCase().toLowerCase(),
  ]) {
    const cps = [...t];
    if (cps.length === 1) cands.add(cps[0]!.codePointAt(0)!);
  }
  for (const x of FOLD_EXTRA) cands.add(x);
  const re = new RegExp(`^${hex(cp)}$`, 'ui');
  return [...cands].filter((x) => x === cp || re.test(String.fromCodePoint(x)));
}

function normalize(ranges: Range[]): Range[] {
  const sorted = ranges.map((x) => [x[0], x[1]] as Range).sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  for (const x of sorted) {
    const last = out[out.length - 1];
    if (last && x[0] <= last[1] + 1) last[1] = Math.max(last[1], x[1]);
    else out.push(x);
  }
  return out;
}

function complement(ranges: Range[]): Range[] {
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of normalize(ranges)) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CP) out.push([next, MAX_CP]);
  return out;
}

function rangesSource(ranges: Range[]): string {
  return normalize(ranges)
    .map(([lo, hi]) => (lo === hi ? hex(lo) : `${hex(lo)}-${hex(hi)}`))
    .join('');
}

const isAlnum = (c: string) => /^[0-9A-Za-z]$/.test(c);

class Translator {
  private i = 0;
  private readonly cps: string[];
  private out = '';
  private groupDepth = 0;
  /** Case-insensitivity handled by the RegExp's `i` flag (the whole pattern is (?i)). */
  private readonly globalI: boolean;

  constructor(private readonly pattern: string) {
    this.cps = [...pattern];
    const lead = /^\(\?([imsU]+)\)/.exec(pattern);
    // A flag group after the leading one that mentions i may switch case-sensitivity back on for a part.
    this.globalI =
      lead !== null &&
      lead[1]!.includes('i') &&
      !/\(\?[imsU-]*[-][imsU]*i|\(\?[imsU-]*i[imsU-]*[):]/.test(pattern.slice(lead[0].length));
  }

  private fail(why: string): never {
    throw new Re2SyntaxError(this.pattern, why);
  }

  private get c(): string | undefined {
    return this.cps[this.i];
  }

  translate(): { source: string; flags: string } {
    if (this.pattern.length > RE2_MAX_PATTERN) this.fail(`longer than ${RE2_MAX_PATTERN} characters`);
    for (const ch of this.cps) {
      const cp = ch.codePointAt(0)!;
      if (cp >= 0xd800 && cp <= 0xdfff) this.fail('not valid UTF-8 (a lone surrogate)');
    }
    this.sequence({ i: false, m: false, s: false, U: false }, true);
    if (this.i < this.cps.length) this.fail('unexpected )');
    return { source: this.out, flags: this.globalI ? 'ui' : 'u' };
  }

  /** A sequence of alternatives up to `)` (not consumed) or the end. */
  private sequence(start: Flags, top: boolean): void {
    let flags = { ...start };
    // Whether the previous item can take a repetition operator, and whether it already has one.
    let canRepeat = false;
    let repeated = false;
    while (this.i < this.cps.length) {
      const c = this.c!;
      if (c === ')') {
        if (top) this.fail('unexpected )');
        return;
      }
      if (c === '|') {
        this.i++;
        this.out += '|';
        canRepeat = false;
        repeated = false;
        continue;
      }
      if (c === '*' || c === '+' || c === '?' || (c === '{' && this.repeatAhead())) {
        if (repeated) this.fail(`invalid nested repetition operator: ${this.quantText()}`);
        if (!canRepeat) this.fail(`missing argument to repetition operator: ${this.quantText()}`);
        this.quantifier(flags);
        repeated = true;
        continue;
      }
      repeated = false;
      canRepeat = true;
      if (c === '(') {
        const next = this.groupOpen(flags);
        if (next) {
          // `(?flags)`: applies to the rest of the enclosing group.
          flags = next;
          canRepeat = false;
        }
        continue;
      }
      if (c === '[') {
        this.i++;
        this.out += this.charClass(flags);
        continue;
      }
      if (c === '\\') {
        this.escape(flags);
        continue;
      }
      this.i++;
      if (c === '.') this.out += flags.s ? '[\\s\\S]' : '[^\\n]';
      else if (c === '^') this.out += flags.m ? ASSERT.lineStart : ASSERT.textStart;
      else if (c === '$') this.out += flags.m ? ASSERT.lineEnd : ASSERT.textEnd;
      else this.literal(c.codePointAt(0)!, flags);
    }
  }

  private quantText(): string {
    return this.cps.slice(Math.max(0, this.i - 1), this.i + 2).join('');
  }

  /** `{n}`, `{n,}`, `{n,m}` at the cursor (otherwise `{` is a literal, as in Go). */
  private repeatAhead(): boolean {
    return /^\{\d+(,\d*)?\}/.test(this.cps.slice(this.i, this.i + 24).join(''));
  }

  private quantifier(flags: Flags): void {
    const c = this.c!;
    let q: string;
    if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.cps.slice(this.i, this.i + 24).join(''))!;
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : m[3] === '' ? undefined : Number(m[3]);
      if (min > 1000 || (max !== undefined && (max > 1000 || max < min)))
        this.fail(`invalid repeat count: ${m[0]}`);
      q = m[0];
      this.i += m[0].length;
    } else {
      q = c;
      this.i++;
    }
    let lazy = false;
    if (this.c === '?') {
      lazy = true;
      this.i++;
    }
    if (this.c === '+' || this.c === '*' || (this.c === '?' && lazy))
      this.fail(`invalid nested repetition operator: ${q}${lazy ? '?' : ''}${this.c}`);
    if (flags.U) lazy = !lazy;
    this.out += lazy ? `${q}?` : q;
  }

  /** A group at `(`; returns the new flags for `(?flags)`, otherwise undefined after the whole group. */
  private groupOpen(flags: Flags): Flags | undefined {
    this.i++;
    let inner = flags;
    if (this.c === '?') {
      const rest = this.cps.slice(this.i, this.i + 300).join('');
      if (/^\?(=|!|<=|<!)/.test(rest))
        this.fail('lookahead and lookbehind assertions are not supported by RE2');
      if (rest.startsWith('?>')) this.fail('atomic groups are not supported by RE2');
      const named = /^\?P?<([^>]*)>/.exec(rest);
      if (named) {
        const name = named[1]!;
        if (!/^\w+$/.test(name)) this.fail(`invalid named capture: ${JSON.stringify(name)}`);
        this.i += named[0].length;
        this.out += /^[A-Za-z_]\w*$/.test(name) ? `(?<${name}>` : '(';
      } else {
        const fm = /^\?([imsU]*)(?:-([imsU]*))?([:)])/.exec(rest);
        if (!fm || (fm[1] === '' && (fm[2] === undefined || fm[2] === '') && fm[3] === ')') || fm[2] === '')
          this.fail(`invalid or unsupported Perl syntax: ${JSON.stringify(`(${rest.slice(0, 4)}`)}`);
        const next = { ...flags };
        for (const f of fm[1]!) next[f as keyof Flags] = true;
        for (const f of fm[2] ?? '') next[f as keyof Flags] = false;
        this.i += fm[0].length;
        if (fm[3] === ')') return next;
        this.out += '(?:';
        inner = next;
      }
    } else this.out += '(';
    if (++this.groupDepth > 1000) this.fail('expression nests too deeply');
    this.sequence(inner, false);
    if (this.c !== ')') this.fail('missing closing )');
    this.i++;
    this.groupDepth--;
    this.out += ')';
    return undefined;
  }

  private foldLocally(flags: Flags): boolean {
    return flags.i && !this.globalI;
  }

  private literal(cp: number, flags: Flags): void {
    if (this.foldLocally(flags)) {
      const orbit = foldOrbit(cp);
      this.out += orbit.length > 1 ? `[${rangesSource(orbit.map((x) => [x, x]))}]` : hex(cp);
      return;
    }
    const ch = String.fromCodePoint(cp);
    this.out += isAlnum(ch) ? ch : hex(cp);
  }

  /** Ranges folded under case-insensitivity (bounded: a part of a pattern only). */
  private fold(ranges: Range[]): Range[] {
    let size = 0;
    for (const [lo, hi] of ranges) size += hi - lo + 1;
    if (size > 0x3000)
      this.fail(
        'a case-insensitive class this large is only supported when (?i) applies to the whole pattern',
      );
    const out: Range[] = [];
    for (const [lo, hi] of ranges)
      for (let cp = lo; cp <= hi; cp++) for (const x of foldOrbit(cp)) out.push([x, x]);
    return normalize(out);
  }

  /** Reads an escape at `\`; outside a class it is emitted, inside one its ranges/properties returned. */
  private escape(flags: Flags): void {
    const item = this.escapeItem(flags, false);
    if (item.kind === 'lit') this.literal(item.cp, flags);
    else if (item.kind === 'src') this.out += item.src;
    else if (item.kind === 'ranges') this.out += `[${rangesSource(item.ranges)}]`;
    else this.out += item.src;
  }

  private escapeItem(
    flags: Flags,
    inClass: boolean,
  ):
    | { kind: 'lit'; cp: number }
    | { kind: 'src'; src: string }
    | { kind: 'ranges'; ranges: Range[] }
    | { kind: 'prop'; src: string } {
    this.i++; // the backslash
    const c = this.c;
    if (c === undefined) this.fail('trailing backslash at end of expression');
    this.i++;
    if (!inClass) {
      if (c === 'A') return { kind: 'src', src: ASSERT.textStart };
      if (c === 'z') return { kind: 'src', src: ASSERT.textEnd };
      if (c === 'b') return { kind: 'src', src: ASSERT.wordBoundary };
      if (c === 'B') return { kind: 'src', src: ASSERT.notWordBoundary };
      if (c === 'Q') {
        let src = '';
        while (this.i < this.cps.length) {
          if (this.c === '\\' && this.cps[this.i + 1] === 'E') {
            this.i += 2;
            break;
          }
          const saved = this.out;
          this.out = '';
          this.literal(this.c!.codePointAt(0)!, flags);
          src += this.out;
          this.out = saved;
          this.i++;
        }
        return { kind: 'src', src: src === '' ? '(?:)' : `(?:${src})` };
      }
    }
    if ('dswDSW'.includes(c)) {
      const lower = c.toLowerCase();
      let ranges = PERL[lower]!;
      if (this.foldLocally(flags)) ranges = this.fold(ranges);
      return { kind: 'ranges', ranges: c === lower ? ranges : complement(ranges) };
    }
    if (c === 'p' || c === 'P') return { kind: 'prop', src: this.unicodeClass(c === 'P', flags) };
    if (c >= '1' && c <= '9') {
      const d2 = this.c;
      if (c <= '7' && d2 !== undefined && d2 >= '0' && d2 <= '7') return { kind: 'lit', cp: this.octal(c) };
      this.fail(`backreferences are not supported by RE2: \\${c}`);
    }
    if (c === '0') return { kind: 'lit', cp: this.octal(c) };
    if (c === 'x') return { kind: 'lit', cp: this.hexEscape() };
    const simple: Record<string, number> = { a: 7, f: 12, t: 9, n: 10, r: 13, v: 11 };
    if (Object.hasOwn(simple, c)) return { kind: 'lit', cp: simple[c]! };
    const cp = c.codePointAt(0)!;
    if (cp < 0x80 && !isAlnum(c)) return { kind: 'lit', cp };
    this.fail(`invalid escape sequence: \\${c}`);
  }

  private octal(first: string): number {
    let digits = first;
    while (digits.length < 3 && this.c !== undefined && this.c >= '0' && this.c <= '7')
      digits += this.cps[this.i++];
    return Number.parseInt(digits, 8);
  }

  private hexEscape(): number {
    let digits = '';
    if (this.c === '{') {
      this.i++;
      while (this.cps[this.i] !== undefined && this.cps[this.i] !== '}') digits += this.cps[this.i++];
      if (this.cps[this.i] !== '}') this.fail('invalid escape sequence: \\x{ without }');
      this.i++;
    } else {
      digits = this.cps.slice(this.i, this.i + 2).join('');
      this.i += 2;
      if (digits.length !== 2) this.fail('invalid escape sequence: \\x needs two hex digits');
    }
    if (!/^[0-9A-Fa-f]{1,8}$/.test(digits)) this.fail(`invalid escape sequence: \\x${digits}`);
    const cp = Number.parseInt(digits, 16);
    if (cp > MAX_CP) this.fail(`invalid escape sequence: \\x{${digits}}`);
    return cp;
  }

  /** `\pL`, `\p{Greek}`, `\p{^Lu}`, `\PL` → a JavaScript property escape. */
  private unicodeClass(negated: boolean, flags: Flags): string {
    let name: string;
    if (this.c === '{') {
      const end = this.cps.indexOf('}', this.i);
      if (end < 0) this.fail('invalid character class range: \\p{ without }');
      name = this.cps.slice(this.i + 1, end).join('');
      this.i = end + 1;
    } else {
      if (this.c === undefined) this.fail('invalid character class range: \\p at end');
      name = this.cps[this.i++]!;
    }
    if (name.startsWith('^')) {
      negated = !negated;
      name = name.slice(1);
    }
    if (this.foldLocally(flags))
      this.fail('a case-insensitive Unicode class is only supported when (?i) applies to the whole pattern');
    if (name === 'Any') return negated ? '[^\\u{0}-\\u{10ffff}]' : '[\\u{0}-\\u{10ffff}]';
    if (!/^[A-Za-z_]+$/.test(name)) this.fail(`invalid character class range: \\p{${name}}`);
    // Go's names are general categories (L, Lu, …) and scripts (Greek, Latin, …).
    const src = /^[A-Z][a-z]?$/.test(name) ? `{${name}}` : `{Script=${name}}`;
    try {
      new RegExp(`\\p${src}`, 'u');
    } catch {
      this.fail(`invalid character class range: unknown Unicode class ${name}`);
    }
    return `\\${negated ? 'P' : 'p'}${src}`;
  }

  /** A class after `[`, up to and including `]`. */
  private charClass(flags: Flags): string {
    let negated = false;
    if (this.c === '^') {
      negated = true;
      this.i++;
    }
    let ranges: Range[] = [];
    const props: string[] = [];
    let first = true;
    const single = (): number | undefined => {
      // One character of a range bound: a literal or an escape that is a single character.
      const c = this.c;
      if (c === undefined) this.fail('missing closing ]');
      if (c === '\\') {
        const save = this.i;
        const item = this.escapeItem(flags, true);
        if (item.kind === 'lit') return item.cp;
        this.i = save;
        return undefined;
      }
      this.i++;
      return c.codePointAt(0)!;
    };
    while (true) {
      const c = this.c;
      if (c === undefined) this.fail('missing closing ]');
      if (c === ']' && !first) {
        this.i++;
        break;
      }
      if (c === '-' && !first && this.cps[this.i + 1] !== ']')
        this.fail('invalid character class range: a - inside a class must be part of a range');
      first = false;
      if (c === '[' && this.cps[this.i + 1] === ':') {
        const m = /^\[:(\^?)([a-z]+):\]/.exec(this.cps.slice(this.i, this.i + 16).join(''));
        if (m) {
          if (!Object.hasOwn(POSIX, m[2]!)) this.fail(`invalid character class range: ${m[0]}`);
          let rs = POSIX[m[2]!]!;
          if (this.foldLocally(flags)) rs = this.fold(rs);
          ranges.push(...(m[1] ? complement(rs) : rs));
          this.i += m[0].length;
          continue;
        }
      }
      if (c === '\\') {
        const save = this.i;
        const item = this.escapeItem(flags, true);
        if (item.kind === 'ranges') {
          ranges.push(...item.ranges);
          continue;
        }
        if (item.kind === 'prop') {
          props.push(item.src);
          continue;
        }
        this.i = save;
      }
      const lo = single();
      if (lo === undefined) this.fail('invalid character class');
      if (this.c === '-' && this.cps[this.i + 1] !== undefined && this.cps[this.i + 1] !== ']') {
        this.i++;
        const hi = single();
        if (hi === undefined || hi < lo)
          this.fail(`invalid character class range: ${String.fromCodePoint(lo)}-…`);
        ranges.push([lo, hi]);
      } else ranges.push([lo, lo]);
    }
    if (this.foldLocally(flags) && ranges.length > 0) {
      // Only the letters need folding; class members without case are kept as they are.
      ranges = normalize(ranges);
      const folded: Range[] = [...ranges];
      for (const [lo, hi] of ranges) {
        if (hi - lo > 0x3000) continue; // wide ranges: folds of their members are checked below
        for (let cp = lo; cp <= hi; cp++) for (const x of foldOrbit(cp)) folded.push([x, x]);
      }
      for (const [lo, hi] of ranges)
        if (hi - lo > 0x3000 && !(lo === 0 && hi === MAX_CP))
          this.fail(
            'a case-insensitive class this large is only supported when (?i) applies to the whole pattern',
          );
      ranges = normalize(folded);
    }
    const body = rangesSource(ranges) + props.join('');
    if (body === '') return negated ? '[\\u{0}-\\u{10ffff}]' : '[]';
    return `[${negated ? '^' : ''}${body}]`;
  }
}

/** The JavaScript source and flags with the meaning of a Go RE2 pattern; Re2SyntaxError if RE2 refuses it. */
export function translateRe2(pattern: string): { source: string; flags: string } {
  return new Translator(pattern).translate();
}

const cache = new Map<string, RegExp>();

/**
 * A Go RE2 pattern as a JavaScript RegExp (unanchored, as Go's MatchString). `extraFlags` may add `g`
 * or `y` (never `i`, `m`, `s`: RE2 spells those inside the pattern). Throws Re2SyntaxError.
 */
export function compileRe2(pattern: string, extraFlags = ''): RegExp {
  if (/[^gyd]/.test(extraFlags))
    throw new Re2SyntaxError(pattern, `flags ${JSON.stringify(extraFlags)} are not RE2's`);
  const key = `${extraFlags}/${pattern}`;
  const hit = cache.get(key);
  if (hit) {
    hit.lastIndex = 0;
    return extraFlags === '' ? hit : new RegExp(hit.source, hit.flags);
  }
  const { source, flags } = translateRe2(pattern);
  const re = new RegExp(source, flags + extraFlags);
  if (cache.size >= 256) cache.delete(cache.keys().next().value!);
  cache.set(key, re);
  return extraFlags === '' ? re : new RegExp(re.source, re.flags);
}

/** Go regexp.MatchString. */
export function re2Test(pattern: string, text: string): boolean {
  return compileRe2(pattern).test(text);
}
