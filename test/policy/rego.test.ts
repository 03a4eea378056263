// seal's Rego evaluator: OPA's semantics on the subset policy-controller users write (undefined, default,
// several definitions, iteration, negation, some/every, comprehensions, partial rules, functions, else),
// the constructs refused when a policy loads (with line:column), the bounds, and policy-controller's
// `data.sigstore.isCompliant` verdicts and messages.

import { describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import { compileRego, MAX_REGO_POLICY_BYTES } from '../../src/policy/rego/compile.js';
import { MAX_EVAL_MS, MAX_EVAL_STEPS } from '../../src/policy/rego/evaluate.js';
import { MAX_REGO_NESTING } from '../../src/policy/rego/parser.js';
import { compileSigstoreRego, regoOutcomeFailure } from '../../src/policy/rego/sigstore.js';
import { MAX_INPUT_DEPTH, toJson } from '../../src/policy/rego/values.js';
import { compileCipPolicy } from '../../src/policy/sigstore/policy-eval.js';

function q(src: string, rule: string, input: unknown = {}, maxMs?: number): unknown {
  const v = compileRego(src, 'p.yaml').query(rule, input, maxMs === undefined ? {} : { maxMs });
  return v === undefined ? undefined : toJson(v);
}

function refused(src: string): string {
  try {
    compileRego(src, 'cip.yaml: spec.policy');
  } catch (err) {
    expect(isSealError(err, 'E_POLICY_INVALID')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('the policy loaded');
}

const IMAGE = {
  containers: [
    { name: 'app', image: 'ghcr.io/acme/app@sha256:aa', ports: [80, 443] },
    { name: 'side', image: 'docker.io/library/busybox:1', ports: [] },
  ],
  labels: { team: 'a', tier: 'web' },
};

describe('Rego evaluation (OPA semantics)', () => {
  it('a path that does not exist is undefined: the body fails, so does its negation of a comparison over it', () => {
    const src = `package t
a { input.missing.deeper == 1 }
b { input.missing.deeper != 1 }
c { not input.missing.deeper == 1 }
d { input.labels.team }
e { input.labels.team == "a" }`;
    expect(q(src, 'a', IMAGE)).toBeUndefined();
    // != over an undefined operand is undefined too, not true
    expect(q(src, 'b', IMAGE)).toBeUndefined();
    // not of an undefined expression succeeds
    expect(q(src, 'c', IMAGE)).toBe(true);
    expect(q(src, 'd', IMAGE)).toBe(true);
    expect(q(src, 'e', IMAGE)).toBe(true);
    expect(q(src, 'e', undefined)).toBeUndefined();
  });

  it('default applies only when no definition is defined; definitions of one name are OR-ed', () => {
    const src = `package t
default allow = false
allow { input.labels.team == "b" }
allow { input.labels.tier == "web" }
default level := "low"
level := "high" if { input.labels.team == "x" }`;
    const v1 = src.replace('package t', 'package t\nimport future.keywords.if');
    expect(q(v1, 'allow', IMAGE)).toBe(true);
    expect(q(v1, 'allow', { labels: {} })).toBe(false);
    expect(q(v1, 'level', IMAGE)).toBe('low');
    expect(q(v1, 'level', { labels: { team: 'x' } })).toBe('high');
    // Without the keyword import, "if" does not start a body (Rego v0, as policy-controller compiles).
    expect(() => compileRego(src, 'p')).toThrow(/6:17: unexpected "if"/);
  });

  it('complete rules that produce two different values are an evaluation error (OPA eval_conflict_error)', () => {
    const src = `package t
x = 1 { input.labels.team }
x = 2 { input.labels.tier }`;
    expect(() => q(src, 'x', IMAGE)).toThrow(/complete rules must not produce multiple outputs/);
    expect(q(src, 'x', { labels: { team: 'a' } })).toBe(1);
  });

  it('iteration: unbound vars and _ in brackets, some i, some x in, some k, v in', () => {
    const src = `package t
import future.keywords.in
import future.keywords.if
ghcr { startswith(input.containers[_].image, "ghcr.io/") }
all_ghcr { not non_ghcr }
non_ghcr { not startswith(input.containers[_].image, "ghcr.io/") }
names := [n | some c in input.containers; n := c.name]
keys := {k | some k, _ in input.labels}
port_443 if { some c in input.containers; 443 in c.ports }
pairs := [[i, p] | p := input.containers[0].ports[i]]`;
    expect(q(src, 'ghcr', IMAGE)).toBe(true);
    // `_` in a negation: "no image starts with ghcr.io/" is false here, so all_ghcr holds
    expect(q(src, 'all_ghcr', IMAGE)).toBe(true);
    // OPA refuses a named var bound only inside a negation, when the policy loads
    expect(
      refused('package t\nnon_ghcr { some i; not startswith(input.containers[i].image, "ghcr.io/") }'),
    ).toBe('cip.yaml: spec.policy: rego 2:52: rule non_ghcr: var i is unsafe (it is never bound)');
    const wild = 'package t\nnone_busybox { not contains(input.containers[_].image, "busybox") }';
    expect(q(wild, 'none_busybox', IMAGE)).toBeUndefined();
    expect(q(wild, 'none_busybox', { containers: [IMAGE.containers[0]] })).toBe(true);
    expect(q(src, 'names', IMAGE)).toEqual(['app', 'side']);
    expect(q(src, 'keys', IMAGE)).toEqual(['team', 'tier']);
    expect(q(src, 'port_443', IMAGE)).toBe(true);
    expect(q(src, 'pairs', IMAGE)).toEqual([
      [0, 80],
      [1, 443],
    ]);
  });

  it('every: true over an empty collection, false when one element fails, undefined over a missing one', () => {
    const src = `package t
import rego.v1
pinned if {
  every c in input.containers { contains(c.image, "@sha256:") }
}`;
    expect(q(src, 'pinned', IMAGE)).toBeUndefined();
    expect(q(src, 'pinned', { containers: [IMAGE.containers[0]] })).toBe(true);
    expect(q(src, 'pinned', { containers: [] })).toBe(true);
    expect(q(src, 'pinned', {})).toBeUndefined();
  });

  it('partial sets and objects collect every solution; empty when none', () => {
    const src = `package t
import rego.v1
deny contains msg if {
  some c in input.containers
  not contains(c.image, "@")
  msg := sprintf("container %s: image %q is not pinned", [c.name, c.image])
}
ports[name] := n if { some c in input.containers; name := c.name; n := count(c.ports) }`;
    expect(q(src, 'deny', IMAGE)).toEqual([
      'container side: image "docker.io/library/busybox:1" is not pinned',
    ]);
    expect(q(src, 'deny', { containers: [] })).toEqual([]);
    expect(q(src.replace('import rego.v1', 'import future.keywords'), 'ports', IMAGE)).toEqual({
      app: 2,
      side: 0,
    });
    expect(q('package t\nlegacy[x] { x := input.labels[_] }', 'legacy', IMAGE)).toEqual(['a', 'web']);
    expect(() => compileRego(`${src}\nlegacy[x] { x := 1 }`, 'p')).toThrow(
      /legacy: with rego\.v1 a rule body needs "if"/,
    );
  });

  it('functions, else chains, := and = unification, arithmetic, sets, data refs, import aliases', () => {
    const src = `package sigstore
import input.labels as l
import data.sigstore.double
double(x) = y { y := x * 2 }
tier = "gold" { l.tier == "db" } else = "silver" { l.tier == "web" } else = "bronze"
total := sum([p | p := input.containers[_].ports[_]])
[a, b] = [input.labels.team, input.labels.tier]
x := double(21) + 1
viaData := data.sigstore.x
mod := 7 % 3
div0 { 1 / 0 }
sets := {1, 2, 3} - {2} | {9}
notinfix { not 1 in {1, 2} }`.replace('[a, b] = [input.labels.team, input.labels.tier]\n', '');
    const full = `${src.replace('package sigstore', 'package sigstore\nimport future.keywords.in')}
pair2 := [a, b] { [a, b] = [input.labels.team, input.labels.tier] }`;
    expect(q(full, 'tier', IMAGE)).toBe('silver');
    expect(q(full, 'tier', { labels: {} })).toBe('bronze');
    expect(q(full, 'total', IMAGE)).toBe(523);
    expect(q(full, 'x', IMAGE)).toBe(43);
    expect(q(full, 'viaData', IMAGE)).toBe(43);
    expect(q(full, 'mod', IMAGE)).toBe(1);
    expect(q(full, 'div0', IMAGE)).toBeUndefined();
    expect(q(full, 'sets', IMAGE)).toEqual([1, 3, 9]);
    expect(q(full, 'notinfix', IMAGE)).toBeUndefined();
    expect(q(full, 'pair2', IMAGE)).toEqual(['a', 'web']);
  });

  it('built-ins: wrong types make the expression undefined (OPA non-strict), time and regex', () => {
    const src = `package t
bad { count(5) >= 0 }
re { regex.match("^ghcr\\\\.io/acme/", input.containers[0].image) }
re_i { regex.match("(?i)^GHCR", input.containers[0].image) }
before { time.parse_rfc3339_ns("2022-04-15T17:10:27Z") < time.parse_rfc3339_ns("2022-04-15T19:10:27+01:00") }
ns := time.parse_rfc3339_ns("1970-01-01T00:00:01.5Z")
future { time.now_ns() < time.parse_rfc3339_ns("2049-10-09T17:10:27Z") }
badtime { time.parse_rfc3339_ns("yesterday") }
og := object.get(input, ["labels", "team"], "none")
og2 := object.get(input.labels, "nope", "none")
s := sprintf("%v|%s|%d|%.2f|%v|%v|%x", ["a", "b", 3, 1.5, [1, "x"], {"k": true}, 255])`;
    expect(q(src, 'bad', IMAGE)).toBeUndefined();
    expect(q(src, 're', IMAGE)).toBe(true);
    expect(q(src, 're_i', IMAGE)).toBe(true);
    expect(q(src, 'before', IMAGE)).toBe(true);
    expect(q(src, 'ns', IMAGE)).toBe(1_500_000_000);
    expect(q(src, 'future', IMAGE)).toBe(true);
    expect(q(src, 'badtime', IMAGE)).toBeUndefined();
    expect(q(src, 'og', IMAGE)).toBe('a');
    expect(q(src, 'og2', IMAGE)).toBe('none');
    expect(q(src, 's', IMAGE)).toBe('a|b|3|1.50|[1, "x"]|{"k": true}|ff');
  });

  it('regex.match is Go RE2: \\z and \\A, ASCII \\s, flag groups; what RE2 refuses (lookahead) is undefined', () => {
    const src = `package t
z { regex.match("a\\\\z", "a") }
ci { regex.match("(?i)ab", "AB") }
look { regex.match("a(?=b)", "ab") }
nbsp { regex.match("^\\\\s$", "\\u00a0") }
tab { re_match("^\\\\s$", "\\t") }`;
    expect(q(src, 'z')).toBe(true);
    expect(q(src, 'ci')).toBe(true);
    expect(q(src, 'look')).toBeUndefined();
    expect(q(src, 'nbsp')).toBeUndefined();
    expect(q(src, 'tab')).toBe(true);
  });

  it("Go's meaning for round, indexof, replace, split and string order; unification of two patterns", () => {
    const src = `package t
r := [round(-2.5), round(2.5), round(-0.4), round(1.4)]
i := indexof("\\ud835\\udcb3a", "a")
rep := replace("a\\ud835\\udcb3", "", "-")
sp := split("a\\ud835\\udcb3", "")
lt { "\\uffff" < "\\ud835\\udcb3" }
srt := sort(["\\ud835\\udcb3", "\\uffff", "a"])
pair { [x, 2] = [1, y]; x == 1; y == 2 }
nested = [x, y] { [[x], 2] = [[1], y] }
num := [to_number("+1.5"), to_number("-2")]
spaced { to_number(" 1") }`;
    expect(q(src, 'r')).toEqual([-3, 3, 0, 1]);
    expect(q(src, 'i')).toBe(1);
    expect(q(src, 'rep')).toBe('-a-\u{1d4b3}-');
    expect(q(src, 'sp')).toEqual(['a', '\u{1d4b3}']);
    expect(q(src, 'lt')).toBe(true);
    expect(q(src, 'srt')).toEqual(['a', '\uffff', '\u{1d4b3}']);
    expect(q(src, 'pair')).toBe(true);
    expect(q(src, 'nested')).toEqual([1, 2]);
    expect(q(src, 'num')).toEqual([1.5, -2]);
    expect(q(src, 'spaced')).toBeUndefined();
  });

  it('constructs outside the subset are refused when the policy loads, naming the construct and line:column', () => {
    expect(refused('package t\nallow { input.x with input as {} }')).toMatch(
      /^cip\.yaml: spec\.policy: rego 2:17: "with" is not supported by seal/,
    );
    expect(refused('package t\n\nallow { http.send({"url": "x"}) }')).toMatch(
      /rego 3:9: function http\.send is not supported by seal/,
    );
    expect(refused('package t\nallow { count(1, 2) }')).toMatch(/2:9: count takes 1 argument, given 2/);
    expect(refused('package t\na.b.c := 1')).toMatch(/2:2: rule a: multi-level rule heads are not supported/);
    expect(refused('package t\nallow { input.x == }')).toMatch(/2:20: unexpected "}"/);
    expect(refused('allow { true }')).toMatch(/a module starts with "package"/);
    expect(refused('package t\nimport data.other as o\nimport http')).toMatch(
      /3:8: import http: only input, data/,
    );
    expect(refused('package t\nx = 1\nx[y] { y := 1 }')).toMatch(
      /rule x is defined as both complete and set/,
    );
    expect(refused(`package t\n# ${'x'.repeat(MAX_REGO_POLICY_BYTES)}`)).toMatch(/over the 65536-byte bound/);
  });

  it("OPA's compile-time checks refuse at load, on every rule (reached or not), naming the rule and line:column", () => {
    // := declares a var once per body
    expect(refused('package t\nunused { x := 1; x := 2 }\nallow = true')).toBe(
      'cip.yaml: spec.policy: rego 2:18: rule unused: var x assigned above',
    );
    expect(refused('package t\nf(x) = y { x := 1; y := x }')).toMatch(/2:12: rule f: var x assigned above/);
    // safety: a var only compared, negated or in a head, never bound
    expect(refused('package t\nfoo { x == 1 }\nallow = true')).toBe(
      'cip.yaml: spec.policy: rego 2:7: rule foo: var x is unsafe (it is never bound)',
    );
    expect(refused('package t\nfoo { not x == 1 }')).toMatch(/2:11: rule foo: var x is unsafe/);
    expect(refused('package t\ns[x] { input.a == 1 }')).toMatch(/2:3: rule s: var x is unsafe/);
    expect(refused('package t\nv = y { true }')).toMatch(/2:5: rule v: var y is unsafe/);
    expect(refused('package t\nc := [y | x := 1]')).toMatch(/2:7: rule c: var y is unsafe/);
    expect(refused('package t\nfoo { some x; x > 1 }')).toMatch(/2:15: rule foo: var x is unsafe/);
    // recursion, direct or through rules, functions and data refs
    expect(refused('package t\na { b }\nb { a }\nallow = true')).toBe(
      'cip.yaml: spec.policy: rego 2:1: rego_recursion_error: rule a is recursive: a -> b -> a',
    );
    expect(refused('package t\nf(x) = y { y := f(x) }')).toMatch(/rule f is recursive: f -> f/);
    expect(refused('package t\na { data.t.b }\nb { count([1 | a]) > 0 }')).toMatch(
      /rule a is recursive: a -> b -> a/,
    );
    // built-in arity
    expect(refused('package t\nallow { startswith("a") }')).toMatch(
      /2:9: startswith takes 2 arguments, given 1/,
    );
    // what OPA accepts loads: bindings in any order, closures over outer vars, args, else, shadowing a rule
    const ok = `package t
import future.keywords.in
b = 1
f([a, _]) = a + 1
r = v { v > 1; v := input.n } else = w { w := f([input.n, 0]) }
s[name] { some c in input.containers; name := c.name; not startswith(name, "x") }
m = {k: v | v := input.o[k]; v > 0}
neg { not input.o[_] == 5 }
shadow { b := 2; b == 2 }
pair { [x, 2] = [1, y]; x == 1; y == 2 }`;
    const input = { n: 1, containers: [{ name: 'a' }, { name: 'xb' }], o: { p: 1, q: 0 } };
    expect(q(ok, 'r', input)).toBe(2);
    expect(q(ok, 's', input)).toEqual(['a']);
    expect(q(ok, 'm', input)).toEqual({ p: 1 });
    expect(q(ok, 'neg', input)).toBe(true);
    expect(q(ok, 'shadow', input)).toBe(true);
  });

  it('nesting is bounded when the policy loads: deep brackets, parentheses, minus chains and operator chains are refused', () => {
    const deep = 20_000;
    const nest = `expressions nest deeper than ${MAX_REGO_NESTING} levels`;
    expect(refused(`package t\nx := ${'('.repeat(deep)}1${')'.repeat(deep)}`)).toBe(
      `cip.yaml: spec.policy: rego 2:70: ${nest}`,
    );
    expect(refused(`package t\nx := ${'['.repeat(deep)}1${']'.repeat(deep)}`)).toMatch(
      new RegExp(`^cip\\.yaml: spec\\.policy: rego 2:\\d+: ${nest}$`),
    );
    expect(refused(`package t\nx := ${'-'.repeat(deep)}1`)).toMatch(new RegExp(`rego 2:\\d+: ${nest}$`));
    expect(refused(`package t\nx := input.a${' + 1'.repeat(10_000)}`)).toMatch(
      new RegExp(`rego 2:\\d+: ${nest}$`),
    );
    expect(refused(`package t\nx := ${'{"a": '.repeat(5000)}1${'}'.repeat(5000)}`)).toMatch(new RegExp(nest));
    expect(refused(`package t\nx := ${'[y | y := '.repeat(3000)}1${']'.repeat(3000)}`)).toMatch(
      new RegExp(nest),
    );
    // ordinary nesting loads and evaluates
    expect(q(`package t\nx := ${'('.repeat(20)}1${' + 1'.repeat(20)}${')'.repeat(20)}`, 'x')).toBe(21);
    expect(q(`package t\nx := ${'-'.repeat(10)}1`, 'x')).toBe(1);
  });

  it('evaluation is bounded in steps and recursion is an error', () => {
    const src = `package t
n := count([1 | input.a[_]; input.a[_]; input.a[_]])`;
    const a = Array.from({ length: 200 }, (_, i) => i);
    // (time bound lifted: the step bound is what this checks)
    expect(() => q(src, 'n', { a }, 600_000)).toThrow(new RegExp(`exceeded ${MAX_EVAL_STEPS} steps`));
    // A quadratic comparison of whole objects: under the step bound, far over the time bound.
    const big = Object.fromEntries(Array.from({ length: 100 }, (_, k) => [`k${k}`, 'x'.repeat(10)]));
    const objs = Array.from({ length: 1000 }, (_, i) => ({ ...big, id: i }));
    const dup = 'package t\ndup { some i, j; input.a[i] == input.a[j]; i != j }';
    expect(() => q(dup, 'dup', { a: objs })).toThrow(
      new RegExp(`^2:\\d+: evaluation exceeded ${MAX_EVAL_MS} ms$`),
    );
    const p = compileSigstoreRego(
      dup.replace('package t', 'package sigstore').replace('dup {', 'isCompliant {'),
      'p',
    );
    expect(regoOutcomeFailure(p.evaluate({ a: objs }, 'att'))).toMatch(
      new RegExp(
        `^failed evaluating rego policy for type att: 2:\\d+: evaluation exceeded ${MAX_EVAL_MS} ms$`,
      ),
    );
  });
});

describe("policy-controller's isCompliant", () => {
  const attestation = {
    predicateType: 'https://cosign.sigstore.dev/attestation/v1',
    predicate: { Data: 'foobar e2e test' },
  };

  it("true passes; false, undefined and other values fail with cosign's message", () => {
    const p = compileSigstoreRego(
      `package sigstore
default isCompliant = false
isCompliant {
  input.predicateType == "https://cosign.sigstore.dev/attestation/v1"
  input.predicate.Data == "foobar e2e test"
}`,
      'cip.yaml',
    );
    expect(p.evaluate(attestation, 'custom-match-predicate')).toEqual({});
    const fail = p.evaluate({ ...attestation, predicate: { Data: 'other' } }, 'custom-match-predicate');
    expect(regoOutcomeFailure(fail)).toBe(
      "failed evaluating rego policy for type custom-match-predicate: policy is not compliant for query 'isCompliant = data.sigstore.isCompliant'",
    );
    // Another package: the query is undefined.
    const other = compileSigstoreRego('package policy\nisCompliant = true', 'cip.yaml');
    expect(regoOutcomeFailure(other.evaluate({}, 'ClusterImagePolicy'))).toMatch(
      /is not compliant for query/,
    );
    const str = compileSigstoreRego('package sigstore\nisCompliant = "yes"', 'cip.yaml');
    expect(regoOutcomeFailure(str.evaluate({}, 'x'))).toMatch(/not compliant/);
  });

  it('a result object: result true passes (with a warning still fails, as policy-controller rejects warnings); errors are reported', () => {
    const src = (r: string) => `package sigstore
isCompliant[response] {
  ${r}
}`;
    const ok = compileSigstoreRego(src('response := {"result": true, "error": "", "warning": ""}'), 'p');
    expect(ok.evaluate({}, 'a')).toEqual({});
    const warn = compileSigstoreRego(src('response := {"result": true, "warning": "old scanner"}'), 'p');
    expect(warn.evaluate({}, 'a')).toEqual({ warning: 'warning: old scanner' });
    expect(regoOutcomeFailure(warn.evaluate({}, 'a'))).toBe('warning: old scanner');
    const bad = compileSigstoreRego(
      src(
        'response := {"result": false, "error": sprintf("%d critical CVEs", [count(input.vulns)]), "warning": "w"}',
      ),
      'p',
    );
    expect(bad.evaluate({ vulns: [1, 2] }, 'vuln')).toEqual({
      warning: 'w',
      error:
        "failed evaluating rego policy for type vuln: policy is not compliant for query 'isCompliant = data.sigstore.isCompliant' with errors: 2 critical CVEs",
    });
    const typed = compileSigstoreRego(src('response := {"result": "true"}'), 'p');
    expect(regoOutcomeFailure(typed.evaluate({}, 'a'))).toMatch(
      /due to parsing errors: json: cannot unmarshal string into Go struct field CosignRuleResult\.result of type bool/,
    );
    const scalar = compileSigstoreRego(src('response := 1'), 'p');
    expect(regoOutcomeFailure(scalar.evaluate({}, 'a'))).toMatch(/unexpected result type json\.Number/);
    const none = compileSigstoreRego(src('response := {"result": true}; false'), 'p');
    expect(regoOutcomeFailure(none.evaluate({}, 'a'))).toBe(
      'failed evaluating rego policy for type a: policy is not compliant for query "isCompliant = data.sigstore.isCompliant"',
    );
  });

  it('an evaluation error fails the policy, naming it', () => {
    const p = compileSigstoreRego(
      'package sigstore\nisCompliant = true { input.a }\nisCompliant = false { input.b }',
      'p',
    );
    expect(regoOutcomeFailure(p.evaluate({ a: 1, b: 1 }, 'ClusterImagePolicy'))).toMatch(
      /^failed evaluating rego policy for type ClusterImagePolicy: 3:1: complete rules must not produce multiple outputs/,
    );
  });

  it('an input nested deeper than 128 levels fails the policy with a message, never throws out of the decision', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 20_000; i++) deep = i % 2 === 0 ? [deep] : { a: deep };
    const p = compileSigstoreRego('package sigstore\nisCompliant = true', 'p');
    expect(regoOutcomeFailure(p.evaluate({ x: deep }, 'att'))).toBe(
      `failed evaluating rego policy for type att: input nested deeper than ${MAX_INPUT_DEPTH} levels`,
    );
    // 128 levels (the document itself and 127 below it) still evaluate
    let ok: unknown = 1;
    for (let i = 0; i < MAX_INPUT_DEPTH - 1; i++) ok = [ok];
    expect(regoOutcomeFailure(p.evaluate(ok, 'att'))).toBeUndefined();
    const cip = compileCipPolicy(
      'rego',
      'package sigstore\nisCompliant = true',
      'cip.yaml: spec.policy',
      'att',
    );
    expect(cip.evaluate({ x: deep })).toEqual({
      ok: false,
      message: `failed evaluating rego policy for type att: input nested deeper than ${MAX_INPUT_DEPTH} levels`,
    });
  });

  it('any failure of the evaluator itself fails that policy in the dispatcher, with its message', () => {
    const cip = compileCipPolicy(
      'rego',
      'package sigstore\nisCompliant { input.a == 1 }',
      'cip.yaml: spec.policy',
    );
    // A getter that throws stands in for any fault inside the evaluator: the decision still gets a result.
    const hostile = Object.defineProperty({}, 'a', {
      enumerable: true,
      get() {
        throw new RangeError('Maximum call stack size exceeded');
      },
    });
    expect(cip.evaluate(hostile)).toEqual({
      ok: false,
      message: 'Rego evaluation failed: Maximum call stack size exceeded',
    });
  });
});
