import { describe, expect, test } from 'vitest';
import { SealError } from '../../src/errors.js';
import { CueCompileError, compileCue } from '../../src/policy/cue/index.js';
import { JsonNumber, JsonReadError, readJson, rememberJsonText } from '../../src/policy/cue/json.js';
import { compileCipPolicy } from '../../src/policy/sigstore/policy-eval.js';

describe('CUE: names of Object.prototype are not predeclared identifiers', () => {
  for (const name of ['constructor', 'toString', 'valueOf', 'hasOwnProperty']) {
    test(`a: ${name} is an unresolved reference`, () => {
      expect(() => compileCue(`a: ${name}`)).toThrow(`reference "${name}" not found`);
    });
  }
  test('a package member named after Object.prototype is refused', () => {
    expect(() => compileCue('import "time"\na: time.constructor')).toThrow(CueCompileError);
    expect(() => compileCue('import "constructor"\na: 1')).toThrow(CueCompileError);
  });
  test('the same names as field labels still work', () => {
    expect(compileCue('constructor: int\na: constructor').evaluate({ a: 1 })).toEqual({ ok: true });
    expect(compileCue('constructor: int\na: constructor').evaluate({ a: 'x' }).ok).toBe(false);
  });
});

describe('CUE: long operator chains are refused, not a stack overflow', () => {
  const cases: [string, string][] = [
    ['&', `a: ${Array(5000).fill('1').join(' & ')}`],
    ['|', `a: ${Array(5000).fill('int').join(' | ')}`],
    ['nested', `a: ${Array(900).fill('1').join(' & ')} & (${Array(200).fill('1').join(' & ')})`],
  ];
  for (const [name, src] of cases) {
    test(name, () => {
      expect(() => compileCue(src)).toThrow(/expression too deep/);
      let err: unknown;
      try {
        compileCipPolicy('cue', src, 'spec.policy.data');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SealError);
      expect((err as SealError).code).toBe('E_POLICY_INVALID');
    });
  }
  test('a chain of a few hundred alternatives still compiles and evaluates', () => {
    const alts = Array.from({ length: 300 }, (_, i) => `"v${i}"`).join(' | ');
    const c = compileCue(`a: ${alts}`);
    expect(c.evaluate({ a: 'v299' })).toEqual({ ok: true });
    expect(c.evaluate({ a: 'v300' }).ok).toBe(false);
  });
  test('a long chain of references fails closed at evaluation', () => {
    const n = 1000;
    const lines = Array.from({ length: n }, (_, i) => `f${i}: ${i + 1 < n ? `f${i + 1}` : 'int'}`);
    const policy = compileCipPolicy('cue', lines.join('\n'), 'spec.policy.data');
    const r = policy.evaluate({ f0: 1 });
    // Either evaluated or refused; never an exception out of the policy.
    expect(typeof r.ok).toBe('boolean');
    const bad = policy.evaluate({ f0: 'x' });
    expect(bad.ok).toBe(false);
  });
});

describe('CUE: =~ and !~ are Go RE2', () => {
  const cases: [string, unknown, boolean][] = [
    ['a: =~"^a\\\\z"', { a: 'a' }, true],
    ['a: =~"(?i)^ab$"', { a: 'AB' }, true],
    ['a: =~"^\\\\pL$"', { a: 'x' }, true],
    ['a: =~"^[[:alpha:]]+$"', { a: 'abc' }, true],
    ['a: =~"^[[:alpha:]]+$"', { a: 'ab1' }, false],
    ['a: =~"^a.b$"', { a: 'a\rb' }, true],
    ['a: =~"^a.b$"', { a: 'a\nb' }, false],
    ['a: =~"^a$"', { a: 'a\n' }, false],
    ['a: =~"^\\\\d+$"', { a: '٣' }, false],
    ['a: !~"^\\\\w+$"', { a: 'é' }, true],
  ];
  for (const [src, data, ok] of cases) {
    test(`${src} on ${JSON.stringify(data)}`, () => {
      expect(compileCue(src).evaluate(data).ok).toBe(ok);
    });
  }
  test('what RE2 refuses fails the policy with a message naming the pattern', () => {
    for (const src of ['a: =~"a(?=b)"', 'a: =~"(a)\\\\1"', 'a: =~"a*+"']) {
      const r = compileCue(src).evaluate({ a: 'ab' });
      expect(r.ok).toBe(false);
      expect(r.ok ? '' : r.message).toMatch(/invalid RE2 regular expression/);
    }
  });
});

describe('CUE: time.FormatString keeps the zone offset (Go t.Format)', () => {
  const cases: [string, string, string][] = [
    ['time.RFC3339', '2020-01-01T01:00:00+01:00', '2020-01-01T01:00:00+01:00'],
    ['time.RFC3339Nano', '2020-01-01T01:00:00.500+01:00', '2020-01-01T01:00:00.5+01:00'],
    ['time.RFC3339Date', '2020-01-01T00:30:00+01:00', '2020-01-01'],
    ['time.RFC3339', '2020-01-01T00:00:00-05:30', '2020-01-01T00:00:00-05:30'],
    ['time.RFC3339', '2020-01-01T00:00:00+00:00', '2020-01-01T00:00:00Z'],
  ];
  for (const [layout, value, want] of cases) {
    test(`${layout} of ${value}`, () => {
      const c = compileCue(`import "time"\na: time.FormatString(${layout}, "${value}")`);
      expect(c.evaluate({ a: want })).toEqual({ ok: true });
      expect(c.evaluate({ a: `${want}x` }).ok).toBe(false);
    });
  }
  test('time.Parse still gives UTC', () => {
    const c = compileCue('import "time"\na: time.Parse(time.RFC3339, "2020-01-01T01:00:00+01:00")');
    expect(c.evaluate({ a: '2020-01-01T00:00:00Z' })).toEqual({ ok: true });
  });
});

describe('CUE: a verified statement is read from its JSON text (numbers as written)', () => {
  const evalText = (policy: string, text: string) => {
    const p = compileCipPolicy('cue', policy, 'spec.policy.data');
    const parsed = JSON.parse(text) as unknown;
    rememberJsonText(parsed, text);
    return p.evaluate(parsed);
  };
  test('7.0 is a float, 1.0 not an int', () => {
    expect(evalText('predicate: score: float', '{"predicate":{"score":7.0}}')).toEqual({ ok: true });
    expect(evalText('predicate: v: int', '{"predicate":{"v":1.0}}').ok).toBe(false);
    expect(evalText('predicate: v: int', '{"predicate":{"v":1}}')).toEqual({ ok: true });
    expect(evalText('predicate: v: float', '{"predicate":{"v":1e3}}')).toEqual({ ok: true });
    expect(evalText('predicate: v: number & >0', '{"predicate":{"v":0.5}}')).toEqual({ ok: true });
  });
  test('integers above 2^53 are exact', () => {
    expect(evalText('v: 9007199254740993', '{"v":9007199254740993}')).toEqual({ ok: true });
    expect(evalText('v: 9007199254740993', '{"v":9007199254740992}').ok).toBe(false);
    expect(evalText('v: <9007199254740993', '{"v":9007199254740993}').ok).toBe(false);
  });
  test('keys named after Object.prototype are data', () => {
    expect(evalText('"__proto__": x: 1', '{"__proto__":{"x":2}}').ok).toBe(false);
    expect(evalText('"__proto__": x: 1', '{"__proto__":{"x":1}}')).toEqual({ ok: true });
  });
  test('without a remembered text the parsed value is used', () => {
    expect(compileCipPolicy('cue', 'v: int', 'p').evaluate({ v: 1 })).toEqual({ ok: true });
  });
  test('a duplicate key fails the policy with a message', () => {
    const r = evalText('v: int', '{"v":1,"v":2}');
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.message).toContain('duplicate key "v"');
  });
});

describe('readJson', () => {
  test('strict JSON only', () => {
    for (const bad of [
      '{a:1}',
      '[1,]',
      '{"a":1,}',
      '01',
      '1.',
      '.5',
      '+1',
      'NaN',
      '"\t"',
      '[1] x',
      "'a'",
      '',
      'tru',
    ]) {
      expect(() => readJson(bad), bad).toThrow(JsonReadError);
    }
  });
  test('values', () => {
    const v = readJson(' {"a": [1, -2.50, 3e-2, true, false, null, "x\\u00e9\\n"]} ') as { a: unknown[] };
    expect(v.a.map((x) => (x instanceof JsonNumber ? `n:${x.text}` : x))).toEqual([
      'n:1',
      'n:-2.50',
      'n:3e-2',
      true,
      false,
      null,
      'xé\n',
    ]);
  });
  test('depth is bounded', () => {
    expect(() => readJson(`${'['.repeat(200)}${']'.repeat(200)}`)).toThrow(/nested deeper/);
    expect(readJson(`${'['.repeat(100)}${']'.repeat(100)}`)).toBeInstanceOf(Array);
  });
});

describe('CUE: the step budget grows with the data', () => {
  test('[...{b: string}] over 120k elements is evaluated, not denied for the budget', () => {
    const n = 120_000;
    const data = { a: Array.from({ length: n }, (_, i) => ({ b: `x${i}`, c: i })) };
    const c = compileCue('a: [...{b: string}]');
    expect(c.evaluate(data)).toEqual({ ok: true });
    data.a[n - 1] = { b: 1 as unknown as string, c: 0 };
    const r = c.evaluate(data);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.message).toContain(`a.${n - 1}.b: conflicting values 1 and string`);
  });
  test('work is still bounded: a policy that multiplies its work is stopped', () => {
    const lines = Array.from({ length: 1000 }, (_, i) => `f${i}: ${i + 1 < 1000 ? `f${i + 1}` : 'int'}`);
    const r = compileCue(lines.join('\n')).evaluate({ f0: 1 });
    expect(r).toEqual({ ok: false, message: expect.stringContaining('exceeded') });
  });
});
