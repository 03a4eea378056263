// Shared pieces of the property/fuzz tests: the run budget, the "only SealErrors escape" assertion, and
// generators for hostile JSON (structure-aware mutation of valid documents) and raw byte mutation.

import fc from 'fast-check';
import { expect } from 'vitest';
import { isSealError } from '../../src/errors.js';

/**
 * Runs per property: `base` in `npm test` (the whole fuzz set stays a few seconds on 2 cores), or
 * SEAL_FUZZ_RUNS when set (a longer local run: `SEAL_FUZZ_RUNS=20000 npx vitest run test/…/x.fuzz.test.ts`).
 * A failure prints fast-check's seed and path; replay with `fc.assert(…, { seed, path })`.
 */
export function fuzzRuns(base: number): number {
  const env = Number(process.env.SEAL_FUZZ_RUNS);
  return Number.isInteger(env) && env > 0 ? Math.max(env, 1) : base;
}

/** fc.assert with the run budget; the seed is fast-check's default (random, printed on failure). */
export function check<T>(property: fc.IProperty<T>, base: number): void {
  fc.assert(property, { numRuns: fuzzRuns(base) });
}

export async function checkAsync<T>(property: fc.IAsyncProperty<T>, base: number): Promise<void> {
  await fc.assert(property, { numRuns: fuzzRuns(base) });
}

function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}\n${err.stack ?? ''}`;
  return String(err);
}

/** Call `fn`; anything it throws must be a SealError (with one of `codes` when given). Returns the result. */
export function onlySealErrors<T>(fn: () => T, codes?: readonly string[]): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (!isSealError(err)) expect.fail(`a non-SealError escaped: ${describeError(err)}`);
    if (codes && !codes.includes(err.code)) expect.fail(`unexpected code ${err.code}: ${err.message}`);
    return undefined;
  }
}

export async function onlySealErrorsAsync<T>(
  fn: () => Promise<T>,
  codes?: readonly string[],
): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (!isSealError(err)) expect.fail(`a non-SealError escaped: ${describeError(err)}`);
    if (codes && !codes.includes(err.code)) expect.fail(`unexpected code ${err.code}: ${err.message}`);
    return undefined;
  }
}

// ---- hostile values ----

/** Keys that hit prototype members or look like them. */
export const HOSTILE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '',
  '\u0000',
  'é',
  '\u{1F600}',
];

const hostileKey = fc.oneof(fc.constantFrom(...HOSTILE_KEYS), fc.string({ maxLength: 8 }));

/** Own enumerable property, also for "__proto__" (as JSON.parse makes it). */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A JSON object whose keys include prototype names, built the way JSON.parse would build it. */
export const hostileObject: fc.Arbitrary<Record<string, unknown>> = fc
  .array(fc.tuple(hostileKey, fc.jsonValue({ maxDepth: 1 })), { maxLength: 4 })
  .map((pairs) => {
    const o: Record<string, unknown> = {};
    for (const [k, v] of pairs) setOwn(o, k, v);
    return o;
  });

/**
 * Arrays and objects nested `depth` deep (stack depth of recursive walkers). Values in the generators stay
 * shallow enough for fast-check to print; deeper documents are made as text with `deepJsonText`.
 */
export function deepNesting(depth: number, leaf: unknown = 1): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { a: v };
  return v;
}

/** One JSON value of the kind that breaks parsers: swapped types, huge numbers, unicode, deep nesting. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -1,
    -0,
    0.5,
    1e308,
    -1e308,
    Number.MAX_SAFE_INTEGER + 2,
    2 ** 64,
    Number.POSITIVE_INFINITY,
    '',
    ' ',
    '0',
    '-1',
    '9'.repeat(40),
    '1e999',
    '__proto__',
    'constructor',
    '\u0000',
    '\uFFFD',
    '\uD800',
    '\u{1F600}',
    'a'.repeat(5000),
    '====',
    'sha256:',
    [],
    {},
    [null],
  ),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.jsonValue({ maxDepth: 2 }),
  hostileObject,
  fc.constantFrom(20, 200).map((d) => deepNesting(d)),
);

/** `[{"a":[{"a":…1…}]}]` nested `depth` deep, as JSON text (JSON.parse builds it without recursion). */
export function deepJsonText(depth: number): string {
  let head = '';
  let tail = '';
  for (let i = 0; i < depth; i++) {
    head += i % 2 === 0 ? '[' : '{"a":';
    tail = (i % 2 === 0 ? ']' : '}') + tail;
  }
  return `${head}1${tail}`;
}

// ---- structure-aware mutation of a JSON document ----

type Path = (string | number)[];

/** Paths of the nodes a mutation can pick: breadth-first, at most 30 deep and 2000 nodes (deep nesting is a value). */
function paths(value: unknown): Path[] {
  const out: Path[] = [];
  const queue: [unknown, Path][] = [[value, []]];
  for (let i = 0; i < queue.length && out.length < 2000; i++) {
    const [v, at] = queue[i]!;
    out.push(at);
    if (at.length >= 30) continue;
    if (Array.isArray(v)) {
      for (let j = 0; j < v.length; j++) queue.push([v[j], [...at, j]]);
    } else if (typeof v === 'object' && v !== null)
      for (const k of Object.keys(v)) queue.push([(v as Record<string, unknown>)[k], [...at, k]]);
  }
  return out;
}

function cloneJson<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

export type JsonMutation =
  | { op: 'replace'; pick: number; value: unknown }
  | { op: 'delete'; pick: number }
  | { op: 'add'; pick: number; key: string; value: unknown }
  | { op: 'wrap'; pick: number }
  | { op: 'stringify'; pick: number }
  | { op: 'duplicate'; pick: number };

export const jsonMutation: fc.Arbitrary<JsonMutation> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('replace' as const), pick: fc.nat(), value: hostileValue }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('add' as const),
      pick: fc.nat(),
      key: hostileKey,
      value: hostileValue,
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('wrap' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('stringify' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('duplicate' as const), pick: fc.nat() }) },
);

function applyOne(doc: unknown, m: JsonMutation): unknown {
  const all = paths(doc);
  const path = all[m.pick % all.length]!;
  const get = (p: Path): unknown =>
    p.reduce<unknown>((cur, k) => (cur as Record<string | number, unknown>)[k], doc);
  const set = (p: Path, v: unknown): unknown => {
    if (p.length === 0) return v;
    const parent = get(p.slice(0, -1)) as Record<string | number, unknown>;
    const key = p[p.length - 1]!;
    if (Array.isArray(parent)) parent[key as number] = v;
    else setOwn(parent, String(key), v);
    return doc;
  };
  const target = get(path);
  switch (m.op) {
    case 'replace':
      return set(path, m.value);
    case 'delete': {
      if (path.length === 0) return undefined;
      const parent = get(path.slice(0, -1)) as Record<string | number, unknown>;
      const key = path[path.length - 1]!;
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      return doc;
    }
    case 'add':
      if (Array.isArray(target)) target.push(m.value);
      else if (typeof target === 'object' && target !== null)
        setOwn(target as Record<string, unknown>, m.key, m.value);
      else return set(path, m.value);
      return doc;
    case 'wrap':
      return set(path, [target]);
    case 'stringify':
      return set(path, typeof target === 'string' ? target : JSON.stringify(target));
    case 'duplicate':
      if (Array.isArray(target)) target.push(...cloneJson(target));
      else if (typeof target === 'string') return set(path, target + target);
      return doc;
  }
}

/** Apply mutations to a deep copy of `doc` (the original is untouched). */
export function mutateJson(doc: unknown, mutations: readonly JsonMutation[]): unknown {
  let out: unknown = cloneJson(doc);
  for (const m of mutations) {
    if (out === undefined) break;
    out = applyOne(out, m);
  }
  return out;
}

/** 1–3 structure-aware mutations of `doc`. */
export function mutatedJson(doc: unknown): fc.Arbitrary<unknown> {
  return fc.array(jsonMutation, { minLength: 1, maxLength: 3 }).map((ms) => mutateJson(doc, ms));
}

// ---- raw byte mutation ----

export type ByteMutation =
  | { op: 'flip'; pos: number; bit: number }
  | { op: 'set'; pos: number; byte: number }
  | { op: 'truncate'; pos: number }
  | { op: 'delete'; pos: number; len: number }
  | { op: 'insert'; pos: number; bytes: Uint8Array }
  | { op: 'repeat'; pos: number; len: number };

export const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), pos: fc.nat(), bit: fc.nat(7) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('set' as const), pos: fc.nat(), byte: fc.nat(255) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), pos: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('delete' as const),
      pos: fc.nat(),
      len: fc.integer({ min: 1, max: 64 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('insert' as const),
      pos: fc.nat(),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('repeat' as const),
      pos: fc.nat(),
      len: fc.integer({ min: 1, max: 512 }),
    }),
  },
);

const cat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

export function mutateBytes(input: Uint8Array, mutations: readonly ByteMutation[]): Uint8Array {
  let b: Uint8Array = Uint8Array.from(input);
  for (const m of mutations) {
    const n = b.length;
    const at = n === 0 ? 0 : m.pos % (n + (m.op === 'insert' ? 1 : 0));
    switch (m.op) {
      case 'flip':
        if (n > 0) b[at] = b[at]! ^ (1 << m.bit);
        break;
      case 'set':
        if (n > 0) b[at] = m.byte;
        break;
      case 'truncate':
        b = b.slice(0, at);
        break;
      case 'delete':
        b = cat(b.subarray(0, at), b.subarray(at + m.len));
        break;
      case 'insert':
        b = cat(b.subarray(0, at), m.bytes, b.subarray(at));
        break;
      case 'repeat': {
        const chunk = b.subarray(at, at + m.len);
        b = cat(b.subarray(0, at + chunk.length), chunk, b.subarray(at + chunk.length));
        break;
      }
    }
  }
  return b;
}

/** 1–4 byte mutations of `input`; never the identical bytes. */
export function mutatedBytes(input: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc
    .array(byteMutation, { minLength: 1, maxLength: 4 })
    .map((ms) => mutateBytes(input, ms))
    .filter((b) => !Buffer.from(b).equals(Buffer.from(input)));
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
