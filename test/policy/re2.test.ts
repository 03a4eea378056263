import { describe, expect, test } from 'vitest';
import { compileRe2, Re2SyntaxError, translateRe2 } from '../../src/policy/re2.js';

// [pattern, input, what Go's regexp.MatchString answers]
const MATCHES: [string, string, boolean][] = [
  ['^a+$', 'aaa', true],
  ['^a+$', 'aab', false],
  ['abc', 'xxabcxx', true],
  // Flags, leading and mid-pattern.
  ['(?i)^ab$', 'AB', true],
  ['(?i)^ab$', 'Ab', true],
  ['^(?i)ab$', 'aB', true],
  ['^a(?i)b$', 'aB', true],
  ['^a(?i)b$', 'AB', false],
  ['^(?i:a)b$', 'Ab', true],
  ['^(?i:a)b$', 'AB', false],
  ['(?i)^a(?-i)b$', 'Ab', true],
  ['(?i)^a(?-i)b$', 'AB', false],
  ['^(?i:[a-c]+)x$', 'aBCx', true],
  ['^(?i:[a-c]+)x$', 'aBCX', false],
  ['^(?i:\\w)$', '\u212a', true],
  ['(?i)^k$', '\u212a', true],
  ['^(?i:k)$', '\u212a', true],
  ['^(?i:[[:upper:]])$', 'q', true],
  ['(?s)^a.b$', 'a\nb', true],
  ['^a.b$', 'a\nb', false],
  ['^a(?s:.)b$', 'a\nb', true],
  ['(?m)^b$', 'a\nb\nc', true],
  ['^b$', 'a\nb\nc', false],
  ['(?m)^b$', 'a\rb\rc', false],
  ['^a$', 'a\n', false],
  ['(?U)^a+', 'aaa', true],
  // `.` matches \r, U+2028, U+2029 (JavaScript's does not).
  ['^a.b$', 'a\rb', true],
  ['^a.b$', 'a\u2028b', true],
  ['^a.b$', 'a\u2029b', true],
  ['^.$', '😀', true],
  // \A and \z.
  ['\\Aab\\z', 'ab', true],
  ['\\Aab\\z', 'ab\n', false],
  ['(?m)\\Ab', 'a\nb', false],
  ['^a\\z', 'a', true],
  // ASCII-only Perl classes and word boundary.
  ['^\\d$', '٣', false],
  ['^\\d$', '7', true],
  ['^\\w$', 'é', false],
  ['^\\w+$', 'ab_9', true],
  ['^\\s$', '\u00a0', false],
  ['^\\s$', '\u2028', false],
  ['^\\s$', '\v', false],
  ['^\\s$', '\t', true],
  ['^\\S$', '\u00a0', true],
  ['é\\b', 'éa', true],
  ['é\\b', 'é', false],
  ['\\bé', 'é', false],
  ['a\\b', 'a b', true],
  ['a\\B', 'ab', true],
  // POSIX classes.
  ['^[[:alpha:]]+$', 'abcXYZ', true],
  ['^[[:alpha:]]+$', 'ab1', false],
  ['^[[:^digit:]]+$', 'ab', true],
  ['^[[:^digit:]]+$', 'a1', false],
  ['^[[:xdigit:]]+$', 'DEADbeef09', true],
  ['^[[:space:]]$', '\v', true],
  ['^[[:punct:]]+$', '!/:@[`{~', true],
  // Unicode classes.
  ['^\\pL+$', 'xé', true],
  ['^\\pL$', '1', false],
  ['^\\p{Greek}+$', 'αβγ', true],
  ['^\\p{Greek}$', 'a', false],
  ['^\\PL$', '1', true],
  ['^\\p{^L}$', '1', true],
  ['^\\p{Lu}$', 'A', true],
  ['^[\\p{Lu}\\d]+$', 'A1B2', true],
  ['^\\p{Any}$', '\n', true],
  // \Q…\E literals, escapes.
  ['^\\Qa.b*\\E$', 'a.b*', true],
  ['^\\Qa.b*\\E$', 'axb', false],
  ['^\\Qa.b', 'a.b', true],
  ['^\\x41\\x{1F600}$', 'A😀', true],
  ['^\\101$', 'A', true],
  ['^\\0$', '\0', true],
  ['^\\a\\f\\v$', '\x07\f\v', true],
  ['^\\.\\-\\/$', '.-/', true],
  // Classes.
  ['^[]a]+$', ']a]', true],
  ['^[^]a]$', 'b', true],
  ['^[a-]+$', 'a-', true],
  ['^[^\\n]$', '\r', true],
  ['^[\\d\\s]+$', '1 2', true],
  ['^[\\W]$', 'é', true],
  ['^[^\\W]$', 'a', true],
  // Groups and repetition.
  ['^(?P<x>a)(?<y>b)$', 'ab', true],
  ['^(?:ab){2}$', 'abab', true],
  ['^a{2,}$', 'a', false],
  ['^a{,2}$', 'a{,2}', true],
  ['^a{1000}$', 'a'.repeat(1000), true],
  ['^x*$', '', true],
  ['^*', '', true],
];

// Patterns Go's regexp.Compile refuses.
const REFUSED: [string, RegExp][] = [
  ['a(?=b)', /lookahead/],
  ['a(?!b)', /lookahead/],
  ['(?<=a)b', /lookbehind/],
  ['(?<!a)b', /lookbehind/],
  ['(a)\\1', /backreference/],
  ['(a)\\9', /backreference/],
  ['a*+', /nested repetition/],
  ['a++', /nested repetition/],
  ['a**', /nested repetition/],
  ['a{2}{3}', /nested repetition/],
  ['a??+', /nested repetition/],
  ['(?>a)', /atomic/],
  ['*a', /missing argument/],
  ['a|*', /missing argument/],
  ['a{1001}', /repeat count/],
  ['a{3,2}', /repeat count/],
  ['\\Z', /escape/],
  ['\\e', /escape/],
  ['\\k<x>', /escape/],
  ['\\C', /escape/],
  ['[z-a]', /range/],
  ['[a-b-c]', /range/],
  ['[[:foo:]]', /range/],
  ['\\p{Klingon}', /Unicode class/],
  ['(a', /missing closing \)/],
  ['a)', /unexpected \)/],
  ['[a', /missing closing \]/],
  ['a\\', /trailing backslash/],
  ['(?P<>a)', /named capture/],
  ['(?x)a', /Perl syntax/],
  ['(?i-)a', /Perl syntax/],
];

describe('RE2 → RegExp: matching as Go regexp.MatchString', () => {
  for (const [pattern, input, want] of MATCHES) {
    test(`${JSON.stringify(pattern)} on ${JSON.stringify(input)} → ${want}`, () => {
      expect(compileRe2(pattern).test(input)).toBe(want);
    });
  }
});

describe('RE2 → RegExp: what RE2 refuses is refused', () => {
  for (const [pattern, why] of REFUSED) {
    test(JSON.stringify(pattern), () => {
      let err: unknown;
      try {
        translateRe2(pattern);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(Re2SyntaxError);
      expect((err as Error).message).toMatch(why);
      expect((err as Error).message).toContain(JSON.stringify(pattern));
    });
  }
  test('a pattern with a lone surrogate is refused', () => {
    expect(() => translateRe2('a\ud800')).toThrow(Re2SyntaxError);
  });
  test('extra flags other than g/y/d are refused', () => {
    expect(() => compileRe2('a', 'i')).toThrow(Re2SyntaxError);
  });
  test('a global RegExp is fresh per call (lastIndex does not leak)', () => {
    const a = compileRe2('a', 'g');
    a.exec('aa');
    expect(compileRe2('a', 'g').lastIndex).toBe(0);
  });
});
