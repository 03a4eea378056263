import { describe, expect, test } from 'vitest';
import { CUE_LIMITS, CueCompileError, compileCue } from '../../src/policy/cue/index.js';
import { formatValue } from '../../src/policy/cue/value.js';
import { compileCipPolicy } from '../../src/policy/sigstore/policy-eval.js';

const show = (src: string, data?: unknown) => formatValue(compileCue(src).value(data), -10);
const run = (src: string, data: unknown, concrete = false) => compileCue(src).evaluate(data, { concrete });

// The attestation policy of policy-controller's e2e cip-requires-two-signatures-and-two-attestations.yaml.
const VULN = `import "time"
before: time.Parse(time.RFC3339, "2022-04-15T17:10:27Z")
after: time.Parse(time.RFC3339, "2022-03-09T17:10:27Z")
predicateType: "https://cosign.sigstore.dev/attestation/vuln/v1"
predicate: {
  invocation: {
    uri: "invocation.example.com/cosign-testing"
  }
  scanner: {
    uri: "fakescanner.example.com/cosign-testing"
  }
  metadata: {
    scanStartedOn: <before
    scanStartedOn: >after
    scanFinishedOn: <before
    scanFinishedOn: >after
  }
}
`;

const vulnStatement = (started: string, finished: string) => ({
  _type: 'https://in-toto.io/Statement/v0.1',
  predicateType: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  subject: [{ name: 'registry.local/app', digest: { sha256: 'ab'.repeat(32) } }],
  predicate: {
    invocation: { uri: 'invocation.example.com/cosign-testing', parameters: null },
    scanner: { uri: 'fakescanner.example.com/cosign-testing', version: '', result: null },
    metadata: { scanStartedOn: started, scanFinishedOn: finished },
  },
});

describe('CUE evaluator: unification', () => {
  test('a policy unified with matching data validates; extra data fields are allowed (structs are open)', () => {
    const src =
      'predicateType: "https://cosign.sigstore.dev/attestation/v1"\npredicate: Data: "foobar e2e test"';
    expect(
      run(src, {
        predicateType: 'https://cosign.sigstore.dev/attestation/v1',
        subject: [],
        predicate: { Data: 'foobar e2e test', Timestamp: '2024-01-01T00:00:00Z' },
      }),
    ).toEqual({ ok: true });
  });

  test('a conflicting scalar fails naming the path as CUE does', () => {
    const r = run('predicate: Data: "foobar e2e test"', { predicate: { Data: 'other' } });
    expect(r).toEqual({
      ok: false,
      message: 'predicate.Data: conflicting values "foobar e2e test" and "other"',
    });
  });

  test('quoted labels are kept in paths quoted', () => {
    const r = run('config: "linux/amd64": config: User: "65532"', {
      config: { 'linux/amd64': { config: { User: '0' } } },
    });
    expect(r).toEqual({
      ok: false,
      message: 'config."linux/amd64".config.User: conflicting values "65532" and "0"',
    });
  });

  test('a field the data does not give stays incomplete: Validate() accepts it, Concrete(true) does not', () => {
    const src = 'predicate: Data: string\npredicate: Other: "x"';
    expect(run(src, { predicate: { Other: 'x' } })).toEqual({ ok: true });
    expect(run(src, { predicate: { Other: 'x' } }, true)).toEqual({
      ok: false,
      message: 'predicate.Data: incomplete value string',
    });
  });

  test('type mismatches name both kinds; int and float are different kinds', () => {
    expect(run('a: int', { a: 'x' })).toEqual({
      ok: false,
      message: 'a: conflicting values int and "x" (mismatched types int and string)',
    });
    expect(run('a: int', { a: 1.5 }).ok).toBe(false);
    expect(run('a: number', { a: 1.5 })).toEqual({ ok: true });
    expect(run('a: float', { a: 1.5 })).toEqual({ ok: true });
    expect(run('a: 1', { a: 1 })).toEqual({ ok: true });
  });

  test('a struct where a scalar is required, and the reverse, conflict', () => {
    expect(run('a: "x"', { a: { b: 1 } }).ok).toBe(false);
    expect(run('a: b: 1', { a: 'x' }).ok).toBe(false);
  });

  test('every error is reported; the message counts the others', () => {
    const r = run('a: 1\nb: 2', { a: 3, b: 4 });
    expect(r).toEqual({ ok: false, message: 'a: conflicting values 1 and 3 (and 1 more errors)' });
  });

  test('field shorthand and repeated fields unify', () => {
    expect(show('a: b: c: 1\na: b: d: 2\na: e: "x"')).toBe('{a: {b: {c: 1, d: 2}, e: "x"}}');
  });

  test('_ is top and _|_ is bottom', () => {
    expect(run('a: _', { a: [1, { b: 2 }] })).toEqual({ ok: true });
    expect(run('a: _|_', {}).ok).toBe(false);
  });

  test('null and bool literals', () => {
    expect(run('a: null\nb: true', { a: null, b: true })).toEqual({ ok: true });
    expect(run('b: true', { b: false })).toEqual({
      ok: false,
      message: 'b: conflicting values true and false',
    });
  });
});

describe('CUE evaluator: bounds', () => {
  test('string bounds compare strings bytewise (RFC 3339 timestamps order as times)', () => {
    expect(run('t: <"2049-10-09T17:10:27Z"', { t: '2023-01-01T00:00:00Z' })).toEqual({ ok: true });
    expect(run('t: <"2049-10-09T17:10:27Z"', { t: '2050-01-01T00:00:00Z' })).toEqual({
      ok: false,
      message: 't: invalid value "2050-01-01T00:00:00Z" (out of bound <"2049-10-09T17:10:27Z")',
    });
    // Go orders strings by UTF-8 bytes: U+FF61 (EF BD A1) sorts before U+1F600 (F0 9F 98 80), though
    // its UTF-16 code unit 0xFF61 sorts after the surrogate 0xD83D.
    expect(run('t: <"\u{1F600}"', { t: '\uFF61' })).toEqual({ ok: true });
  });

  test('a numeric bound refuses a string and a string bound a number', () => {
    expect(run('n: >5', { n: '6' })).toEqual({
      ok: false,
      message: 'n: conflicting values >5 and "6" (mismatched types number and string)',
    });
    expect(run('s: >"a"', { s: 6 }).ok).toBe(false);
  });

  test('numeric bounds compare ints and floats by value', () => {
    expect(run('n: >5 & <=6.5', { n: 6 })).toEqual({ ok: true });
    expect(run('n: >5 & <=6.5', { n: 6.5 })).toEqual({ ok: true });
    expect(run('n: >5 & <=6.5', { n: 7 })).toEqual({
      ok: false,
      message: 'n: invalid value 7 (out of bound <=6.5)',
    });
    expect(run('n: int & >=0', { n: -1 }).ok).toBe(false);
  });

  test('an empty numeric range is an error even without data', () => {
    expect(run('n: >5 & <3', {}).ok).toBe(false);
    expect(run('n: >=3 & <=3', {})).toEqual({ ok: true });
  });

  test('!= applies to any kind', () => {
    expect(run('a: !=null', { a: { b: 1 } })).toEqual({ ok: true });
    expect(run('a: !=null', { a: null })).toEqual({
      ok: false,
      message: 'a: invalid value null (out of bound !=null)',
    });
    expect(run('a: !="x"', { a: 'y' })).toEqual({ ok: true });
  });

  test('regular expression bounds', () => {
    expect(run('a: =~"^sha256:[0-9a-f]{64}$"', { a: `sha256:${'0'.repeat(64)}` })).toEqual({ ok: true });
    expect(run('a: =~"^sha256:"', { a: 'md5:x' }).ok).toBe(false);
    expect(run('a: !~"latest"', { a: 'v1' })).toEqual({ ok: true });
    expect(run('a: !~"latest"', { a: 'latest' }).ok).toBe(false);
  });

  test('bounds that reference other fields', () => {
    const src = 'lo: 3\nhi: 10\nv: >lo & <hi';
    expect(run(src, { v: 5 })).toEqual({ ok: true });
    expect(run(src, { v: 11 })).toEqual({ ok: false, message: 'v: invalid value 11 (out of bound <10)' });
  });
});

describe('CUE evaluator: time and strings packages', () => {
  test('time.Parse gives the instant as an RFC3339Nano UTC string, as CUE represents times', () => {
    const v = (s: string) => show(`import "time"\nt: time.Parse(time.RFC3339, "${s}")`);
    expect(v('2049-10-09T17:10:27Z')).toBe('{t: "2049-10-09T17:10:27Z"}');
    expect(v('2022-03-09T17:10:27.500+01:00')).toBe('{t: "2022-03-09T16:10:27.5Z"}');
    expect(v('2022-03-09T00:10:27.000000001-01:30')).toBe('{t: "2022-03-09T01:40:27.000000001Z"}');
    expect(show('import "time"\nt: time.Parse(time.RFC3339Date, "2024-02-29")')).toBe(
      '{t: "2024-02-29T00:00:00Z"}',
    );
  });

  test('time.Parse of a malformed or impossible time is an error', () => {
    expect(run('import "time"\nt: time.Parse(time.RFC3339, "2023-02-29T00:00:00Z")', {}).ok).toBe(false);
    expect(run('import "time"\nt: time.Parse(time.RFC3339, "yesterday")', {}).ok).toBe(false);
  });

  test('the vulnerability-scan policy: a scan inside the window passes, outside it fails', () => {
    expect(run(VULN, vulnStatement('2022-04-01T17:10:27Z', '2022-04-01T17:12:00Z'))).toEqual({ ok: true });
    const r = run(VULN, vulnStatement('2022-04-01T17:10:27Z', '2022-05-01T00:00:00Z'));
    expect(r).toEqual({
      ok: false,
      message:
        'predicate.metadata.scanFinishedOn: invalid value "2022-05-01T00:00:00Z" (out of bound <"2022-04-15T17:10:27Z")',
    });
  });

  test('strings functions', () => {
    const src = 'import "strings"\nok: strings.HasPrefix("registry.local/app", "registry.local/")\nok: true';
    expect(run(src, {})).toEqual({ ok: true });
    expect(run('import "strings"\nok: strings.Contains("abc", "x")\nok: true', {}).ok).toBe(false);
    expect(show('import "strings"\nu: strings.ToUpper("abc")')).toBe('{u: "ABC"}');
  });
});

describe('CUE evaluator: disjunctions and defaults', () => {
  test('a value outside a disjunction fails, naming each failed alternative', () => {
    expect(run('b: "x" | "y"', { b: 'y' })).toEqual({ ok: true });
    expect(run('b: "x" | "y"', { b: 'z' })).toEqual({
      ok: false,
      message:
        'b: 2 errors in empty disjunction: conflicting values "z" and "x"; conflicting values "z" and "y"',
    });
  });

  test('defaults: the marked value when nothing else is given, any allowed value otherwise', () => {
    expect(show('a: *1 | int')).toBe('{a: *1 | int}');
    expect(run('a: *1 | int', {}, true)).toEqual({ ok: true });
    expect(run('a: *1 | int', { a: 5 }, true)).toEqual({ ok: true });
    expect(run('a: *1 | 2', { a: 3 }).ok).toBe(false);
    // A bound on a field with a default uses the default.
    expect(run('lim: *10 | int\nv: <lim', { v: 9 })).toEqual({ ok: true });
    expect(run('lim: *10 | int\nv: <lim', { v: 11 }).ok).toBe(false);
  });

  test('disjunctions of structs keep the alternatives the data matches', () => {
    const src = 'a: {kind: "x", x: int} | {kind: "y", y: string}';
    expect(run(src, { a: { kind: 'y', y: 's' } })).toEqual({ ok: true });
    expect(run(src, { a: { kind: 'y', y: 1 } }).ok).toBe(false);
  });

  test('an ambiguous disjunction is incomplete, not an error', () => {
    expect(run('a: int | string', {})).toEqual({ ok: true });
    expect(run('a: int | string', {}, true).ok).toBe(false);
  });
});

describe('CUE evaluator: lists, optional fields, references', () => {
  test('closed lists need the same length; [...T] constrains every element', () => {
    expect(run('l: [1, 2]', { l: [1, 2] })).toEqual({ ok: true });
    expect(run('l: [1, 2]', { l: [1, 2, 3] }).ok).toBe(false);
    expect(run('l: [...string]', { l: ['a', 'b'] })).toEqual({ ok: true });
    expect(run('l: [...string]', { l: ['a', 1] })).toEqual({
      ok: false,
      message: 'l.1: conflicting values 1 and string (mismatched types int and string)',
    });
    expect(run('l: [{name: string}, ...]', { l: [{ name: 'a' }, 7] })).toEqual({ ok: true });
  });

  test('optional fields constrain only when present', () => {
    expect(run('a?: int', {})).toEqual({ ok: true });
    expect(run('a?: int', { a: 1 })).toEqual({ ok: true });
    expect(run('a?: int', { a: 'x' }).ok).toBe(false);
  });

  test('references are lexically scoped and see the data', () => {
    // `b` refers to the unified field, so the data's value flows into `c`.
    expect(run('b: string\nc: b', { b: 'x', c: 'x' })).toEqual({ ok: true });
    expect(run('b: string\nc: b', { b: 'x', c: 'y' })).toEqual({
      ok: false,
      message: 'c: conflicting values "x" and "y"',
    });
    // The inner `v` shadows the outer one.
    expect(show('v: 1\ns: {v: 2, w: v}\nt: v')).toBe('{v: 1, s: {v: 2, w: 2}, t: 1}');
  });

  test('a referenced struct is re-evaluated where it is used (references inside it rebind)', () => {
    expect(show('a: {b: int, c: b}\nx: a & {b: 2}')).toBe('{a: {b: int, c: int}, x: {b: 2, c: 2}}');
  });

  test('a structural cycle is an error; a self-reference is top', () => {
    expect(run('a: {b: a}', {}).ok).toBe(false);
    expect(run('a: a', { a: 1 })).toEqual({ ok: true });
  });

  test('multi-line strings drop the closing quotes’ indentation', () => {
    expect(show('t: """\n    hello\n      world\n    """')).toBe('{t: "hello\\n  world"}');
  });

  test('numbers: multipliers, hex and underscores are ints', () => {
    expect(show('a: 1Ki\nb: 0x10\nc: 1_000\nd: 1.5\ne: -2')).toBe('{a: 1024, b: 16, c: 1000, d: 1.5, e: -2}');
  });
});

describe('CUE evaluator: what it refuses', () => {
  const refused = (src: string) => {
    try {
      compileCue(src);
    } catch (err) {
      expect(err).toBeInstanceOf(CueCompileError);
      return (err as Error).message;
    }
    throw new Error('compiled');
  };

  test('constructs outside the subset name themselves and their position', () => {
    expect(refused('a: 1\nb: [ for x in [1] { x } ]')).toBe(
      'CUE comprehensions (line 2:6) are not supported by seal',
    );
    expect(refused('#Def: {a: int}')).toBe('CUE definitions (#…) (line 1:1) are not supported by seal');
    expect(refused('a: "\\(b)"\nb: 1')).toBe(
      'CUE string interpolations (line 1:5) are not supported by seal',
    );
    expect(refused('let x = 1\na: x')).toBe('CUE let clauses (line 1:1) are not supported by seal');
    expect(refused('a: 1 + 2')).toBe('CUE arithmetic (+) (line 1:6) are not supported by seal');
    expect(refused('[string]: int')).toBe(
      'CUE pattern constraints ([…]: …) (line 1:1) are not supported by seal',
    );
    expect(refused('import "regexp"\na: regexp.Match("a", "b")')).toMatch(
      /^CUE packages other than time, strings/,
    );
    expect(refused('import "time"\na: time.Time')).toMatch(/\(time\.Time\) \(line 2:4\)/);
    expect(refused('a: len([1])')).toBe('CUE builtin functions (len) (line 1:4) are not supported by seal');
    expect(refused('import "time"\na: time.Parse(time.Kitchen, "3:04PM")')).toBe(
      'time layouts other than RFC3339, RFC3339Nano and RFC3339Date ("3:04PM") (line 2:15) are not supported by seal',
    );
  });

  test('CUE compile errors: unknown references and unused imports', () => {
    expect(refused('a: b')).toBe('reference "b" not found (line 1:4)');
    expect(refused('import "time"\na: 1')).toBe('imported and not used: "time" (line 1:8)');
    // Quoted labels cannot be referenced.
    expect(refused('"b": 1\na: b')).toBe('reference "b" not found (line 2:4)');
    expect(refused('a: {')).toMatch(/expected "}", found end of input/);
  });

  test('bounds the source size, nesting and evaluation work', () => {
    expect(refused(`a: "${'x'.repeat(CUE_LIMITS.maxSourceBytes)}"`)).toMatch(/larger than 65536 bytes/);
    expect(refused(`a: ${'['.repeat(100)}${']'.repeat(100)}`)).toMatch(/nesting deeper than 64 levels/);
    // A disjunction blow-up stops at the step or alternative bound instead of running away.
    const wide = Array.from({ length: 12 }, (_, i) => `f${i}: (1 | 2 | 3 | 4) & (1 | 2 | 3 | 4)`).join('\n');
    expect(run(wide, {})).toEqual({ ok: true });
    const deep = (n: number): unknown => (n === 0 ? 1 : { a: deep(n - 1) });
    expect(run('a: _', deep(CUE_LIMITS.maxDataDepth + 5))).toEqual({
      ok: false,
      message: `data nested deeper than ${CUE_LIMITS.maxDataDepth} levels`,
    });
  });
});

describe('compileCipPolicy', () => {
  test('compiles cue and evaluates a JSON document', () => {
    const p = compileCipPolicy('cue', 'predicate: Data: "x"', 'p: spec.policy.data');
    expect(p.type).toBe('cue');
    expect(p.evaluate({ predicate: { Data: 'x' } })).toEqual({ ok: true });
    expect(p.evaluate({ predicate: { Data: 'y' } })).toEqual({
      ok: false,
      message: 'predicate.Data: conflicting values "x" and "y"',
    });
  });

  test('a refused construct is E_POLICY_INVALID naming the policy path', () => {
    expect(() =>
      compileCipPolicy(
        'cue',
        'a: 1\nb: [ for x in [1] { x } ]',
        'cip.yaml: spec.authorities[0].attestations[0].policy.data',
      ),
    ).toThrow(
      'cip.yaml: spec.authorities[0].attestations[0].policy.data: CUE comprehensions (line 2:6) are not supported by seal',
    );
    expect(() => compileCipPolicy('yaml', 'a: 1', 'x')).toThrow(
      'x: policy type "yaml" is not one of cue, rego',
    );
  });
});

describe('CUE evaluator: large data', () => {
  test('data the policy does not constrain costs no evaluation steps (an SBOM predicate of 60 000 values)', () => {
    const packages = Array.from({ length: 10_000 }, (_, i) => ({
      SPDXID: `SPDXRef-Package-${i}`,
      name: `pkg-${i}`,
      versionInfo: '1.0.0',
      licenseConcluded: 'MIT',
      checksums: [{ algorithm: 'SHA256', checksumValue: 'ab'.repeat(32) }],
    }));
    const statement = {
      _type: 'https://in-toto.io/Statement/v0.1',
      predicateType: 'https://spdx.dev/Document',
      subject: [],
      predicate: { spdxVersion: 'SPDX-2.3', packages },
    };
    // The policy of policy-controller's examples/policies/custom-key-attestation-sbom-spdxjson.yaml.
    const policy = 'predicateType: "https://spdx.dev/Document"\n';
    expect(run(policy, statement)).toEqual({ ok: true });
    expect(run(policy, { ...statement, predicateType: 'https://cyclonedx.org/bom' }).ok).toBe(false);
    expect(
      run('predicate: spdxVersion: "SPDX-2.3"\npredicate: packages: [...{name: string}]', statement),
    ).toEqual({
      ok: true,
    });
  });
});
