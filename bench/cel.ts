// The two CEL evaluators considered for Kyverno ImageValidatingPolicy (issue #14): spec conformance on the
// cel-spec conformance suite (@bufbuild/cel-spec's copy of google/cel-spec testdata; the tests both can run:
// no protobuf messages, containers or type environments), the expressions Kyverno image policies are written
// with, and the speed of a compiled validation over a Pod. `npm run bench -- cel`. Prints a markdown section.
//
// Which library is imported is decided here only: the one that lost is removed from package.json, and this
// bench then measures the one that stays (set CEL_BENCH_BOTH=1 with both installed to compare again).

import { Environment } from '@marcbachmann/cel-js';

interface SpecTest {
  original: {
    name: string;
    expr: string;
    value?: Record<string, unknown>;
    evalError?: unknown;
    bindings?: unknown;
    container?: string;
    typeEnv?: unknown;
    checkOnly?: boolean;
    disableMacros?: boolean;
  };
}
interface SpecSuite {
  name: string;
  suites?: SpecSuite[];
  tests?: SpecTest[];
}

type Expected = { error: true } | { value: unknown };

/** A conformance test both evaluators can be given: a scalar result or an error, and no bindings or types. */
function expectedOf(t: SpecTest): Expected | undefined {
  const o = t.original;
  if (o.bindings || o.container || o.typeEnv || o.checkOnly || o.disableMacros) return undefined;
  // Protobuf message literals (`google.protobuf.Int32Value{…}`): Kubernetes CEL binds JSON, never messages.
  if (/google\.protobuf\.|TestAllTypes|NestedTestAllTypes/.test(o.expr)) return undefined;
  if (o.evalError) return { error: true };
  const v = o.value;
  if (!v) return undefined;
  if ('boolValue' in v) return { value: v.boolValue === true };
  if ('int64Value' in v) return { value: BigInt(String(v.int64Value)) };
  if ('stringValue' in v) return { value: v.stringValue };
  if ('doubleValue' in v) return { value: Number(v.doubleValue) };
  if ('nullValue' in v) return { value: null };
  // An empty google.protobuf.Value is false in the proto JSON form of these files.
  if (Object.keys(v).length === 0) return { value: false };
  return undefined;
}

function same(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Object.is(a, b) || a === b;
  return a === b;
}

type Runner = (expr: string) => unknown;

function conformance(suites: SpecSuite, run: Runner, only?: (suite: string) => boolean) {
  let pass = 0;
  let total = 0;
  const walk = (s: SpecSuite, top: string) => {
    for (const t of s.tests ?? []) {
      if (only && !only(top)) continue;
      const want = expectedOf(t);
      if (!want) continue;
      total++;
      let got: { error: true } | { value: unknown };
      try {
        got = { value: run(t.original.expr) };
      } catch {
        got = { error: true };
      }
      if ('error' in want ? 'error' in got : 'value' in got && same(got.value, want.value)) pass++;
    }
    for (const c of s.suites ?? []) walk(c, top || c.name);
  };
  walk(suites, '');
  return { pass, total };
}

const POD = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'prod', labels: { app: 'web', tier: 'frontend' } },
  spec: {
    containers: [
      { name: 'web', image: 'ghcr.io/acme/web@sha256:'.padEnd(87, 'a') },
      { name: 'sidecar', image: 'ghcr.io/acme/proxy:1.2' },
    ],
    initContainers: [{ name: 'init', image: 'ghcr.io/acme/init:1' }],
  },
};

/** Expressions as Kyverno ImageValidatingPolicies write them; each must evaluate to true. */
const KYVERNO_EXPRESSIONS = [
  'has(object.spec.initContainers)',
  '!has(object.spec.ephemeralContainers)',
  'object.spec.containers.map(c, c.image).size() == 2',
  'object.spec.containers.all(c, c.image.startsWith("ghcr.io/"))',
  'object.spec.containers.exists(c, c.name == "sidecar")',
  'object.spec.containers.exists_one(c, c.name == "web")',
  'object.spec.containers.filter(c, c.image.contains("@sha256:")).size() == 1',
  'object.?spec.?ephemeralContainers.orValue([]).size() == 0',
  'object.?spec.?containers.orValue([]).size() == 2',
  'object.metadata.labels["app"] == "web" && "tier" in object.metadata.labels',
  'object.metadata.?annotations.?foo.orValue("none") == "none"',
  'images.containers.map(i, count(i)).all(e, e > 0)',
  'images.containers.map(i, count(i)).all(e, e == 1)',
  'size(images.initContainers) == 1',
  'images.containers.all(i, i.matches("^ghcr[.]io/acme/"))',
  'object.metadata.name.endsWith("eb") && object.metadata.namespace != "kube-system"',
  'request.operation in ["CREATE", "UPDATE"]',
  'object.spec.containers[0].image.split("@")[0] == "ghcr.io/acme/web"',
  'object.metadata.name.lowerAscii() == "web"',
  '"ghcr.io/acme/proxy:1.2".replace(":1.2", "") == "ghcr.io/acme/proxy"',
  'int("3") + 2 == 5 && string(5) == "5"',
  'payload.predicate.buildDefinition.buildType.startsWith("https://")',
  'payload.predicate.runDetails.builder.id == "https://github.com/acme/builder"',
  '[1, 2, 3].map(x, x * 2).filter(x, x > 2) == [4, 6]',
  'dyn(payload).predicateType == "https://slsa.dev/provenance/v1"',
];

const KYVERNO_CONTEXT = {
  object: POD,
  request: { operation: 'CREATE' },
  images: {
    containers: POD.spec.containers.map((c) => c.image),
    initContainers: ['ghcr.io/acme/init:1'],
    ephemeralContainers: [],
  },
  payload: {
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: {
      buildDefinition: { buildType: 'https://actions.github.io/buildtypes/workflow/v1' },
      runDetails: { builder: { id: 'https://github.com/acme/builder' } },
    },
  },
};

/** What a typical validation costs on the cached path: extract images, call a (cached) verify per image. */
const VALIDATION =
  '(has(object.spec.containers) ? object.spec.containers : []).map(c, c.image).map(i, count(i)).all(e, e > 0) && has(object.metadata.labels)';

interface Candidate {
  name: string;
  version: string;
  compile(expr: string): (ctx: Record<string, unknown>) => unknown;
  plain(expr: string): unknown;
}

function celJsCandidate(): Candidate {
  const env = new Environment({
    unlistedVariablesAreDyn: true,
    enableOptionalTypes: true,
    homogeneousAggregateLiterals: false,
  }).registerFunction('count(string): int', () => 1n);
  const plainEnv = new Environment({ enableOptionalTypes: true, homogeneousAggregateLiterals: false });
  return {
    name: '@marcbachmann/cel-js',
    version: '8.0.0',
    compile: (expr) => env.parse(expr) as (ctx: Record<string, unknown>) => unknown,
    plain: (expr) => plainEnv.evaluate(expr),
  };
}

async function bufCandidate(): Promise<Candidate | undefined> {
  if (process.env.CEL_BENCH_BOTH !== '1') return undefined;
  // Loaded by a computed name: the package is not a dependency once the measurement has chosen.
  const name = '@bufbuild/cel';
  const buf = (await import(name)) as {
    run(expr: string, binding: unknown, opts?: unknown): unknown;
    plan(env: unknown, parsed: unknown): (binding: unknown) => unknown;
    parse(expr: string): unknown;
    celEnv(opts: unknown): unknown;
    celFunc(name: string, params: unknown[], result: unknown, impl: (...a: unknown[]) => unknown): unknown;
    isCelError(v: unknown): boolean;
    CelScalar: { STRING: unknown; INT: unknown };
  };
  const ext = (await import(`${name}/ext`)) as { strings: unknown[] };
  const env = buf.celEnv({
    funcs: [...ext.strings, buf.celFunc('count', [buf.CelScalar.STRING], buf.CelScalar.INT, () => 1n)],
  });
  const throwing = (v: unknown) => {
    if (buf.isCelError(v)) throw v as Error;
    return v;
  };
  const plainEnv = buf.celEnv({ funcs: ext.strings });
  return {
    name: '@bufbuild/cel',
    version: '0.6.1',
    compile: (expr) => {
      const p = buf.plan(env, buf.parse(expr));
      // Plain objects are no CEL maps here: every binding is converted (what the webhook would pay).
      return (ctx) =>
        throwing(p(Object.fromEntries(Object.entries(ctx).map(([k, v]) => [k, toBufInput(v)]))));
    },
    plain: (expr) => throwing(buf.plan(plainEnv, buf.parse(expr))({})),
  };
}

/** @bufbuild/cel reads maps from Map instances only: a Kubernetes object is converted recursively. */
function toBufInput(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toBufInput);
  if (v && typeof v === 'object' && !(v instanceof Uint8Array)) {
    return new Map(Object.entries(v).map(([k, x]) => [k, toBufInput(x)]));
  }
  return v;
}

function kyvernoSet(c: Candidate): { pass: number; total: number; failed: string[] } {
  let pass = 0;
  const failed: string[] = [];
  for (const e of KYVERNO_EXPRESSIONS) {
    try {
      // A parse error counts as a failure too (compile inside the try).
      if (c.compile(e)(KYVERNO_CONTEXT) === true) pass++;
      else failed.push(e);
    } catch {
      failed.push(e);
    }
  }
  return { pass, total: KYVERNO_EXPRESSIONS.length, failed };
}

function opsPerSecond(fn: () => unknown, ms = 1500): number {
  for (let i = 0; i < 2000; i++) fn();
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 500; i++) fn();
    n += 500;
    now = performance.now();
  }
  return (n / (now - start)) * 1000;
}

async function main(): Promise<void> {
  // The cel-spec test data comes with @bufbuild/cel (not a dependency of seal): without it, no conformance.
  const specName = '@bufbuild/cel-spec/testdata/conformance.js';
  const tests = await import(specName).then(
    (m: { tests: SpecSuite }) => m.tests,
    () => ({ name: 'none' }) as SpecSuite,
  );
  const candidates = [celJsCandidate(), await bufCandidate()].filter((c): c is Candidate => !!c);
  const rows: string[] = [];
  for (const c of candidates) {
    const core = conformance(tests, c.plain, (s) => !s.endsWith('_ext') && s !== 'optionals');
    const optionals = conformance(tests, c.plain, (s) => s === 'optionals');
    const strExt = conformance(tests, c.plain, (s) => s === 'string_ext');
    const ky = kyvernoSet(c);
    const compiled = c.compile(VALIDATION);
    const ops = opsPerSecond(() => compiled(KYVERNO_CONTEXT));
    const compileOps = opsPerSecond(() => c.compile(VALIDATION), 500);
    rows.push(
      `| ${c.name} ${c.version} | ${core.pass}/${core.total} | ${optionals.pass}/${optionals.total} | ${strExt.pass}/${strExt.total} | ${ky.pass}/${ky.total} | ${Math.round(ops).toLocaleString('en')} | ${Math.round(compileOps).toLocaleString('en')} |`,
    );
    if (ky.failed.length > 0)
      console.error(`${c.name}: Kyverno expressions that failed:\n  ${ky.failed.join('\n  ')}`);
  }
  console.log('## CEL evaluator (`bench/cel.ts`, issue #14)\n');
  console.log(
    'cel-spec conformance: the tests without protobuf messages, containers, type environments or bindings, whose result is a scalar or an error (core = every suite but the extensions and optionals). Kyverno: expressions as image policies write them (optional fields, macros, string functions), each must be true. Speed: one compiled validation over a Pod (image extraction with has(), map, all, a host function; no `.?`, which only one of them parses), single core.\n',
  );
  console.log(
    '| library | conformance core | optionals | string ext | Kyverno set | validations/s | compiles/s |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

await main();
