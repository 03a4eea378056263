// Attestation conditions: Kyverno's `{key, operator, value}` (keys/values may hold `{{ jmespath }}`) and
// seal's `{expr}` boolean JMESPath form. Implements docs/policy.md ("Expression language").

import { compile, type JSONValue, registerFunction, search, TYPE_STRING } from '@jmespath-community/jmespath';
import { SealError } from '../errors.js';
import { checkKyvernoExpression, kyvernoSearch } from './kyverno/jmespath.js';
import { parseGoDuration } from './kyverno/gotime.js';
import { compareQuantity, parseQuantity } from './kyverno/quantity.js';
import { compareSemver, parseSemver } from './kyverno/semver.js';
import type { Condition, ConditionBlock, ConditionOperator } from './types.js';

export const CONDITION_OPERATORS: readonly ConditionOperator[] = [
  'Equals',
  'NotEquals',
  'In',
  'AnyIn',
  'AllIn',
  'NotIn',
  'AnyNotIn',
  'AllNotIn',
  'GreaterThan',
  'GreaterThanOrEquals',
  'LessThan',
  'LessThanOrEquals',
  'DurationGreaterThan',
  'DurationGreaterThanOrEquals',
  'DurationLessThan',
  'DurationLessThanOrEquals',
];

/** Kyverno accepts old spellings; map them to the canonical operator (case-insensitive). */
export function parseOperator(op: string, where: string): ConditionOperator {
  const aliases: Record<string, ConditionOperator> = { equal: 'Equals', notequal: 'NotEquals' };
  const lower = op.toLowerCase();
  const found = CONDITION_OPERATORS.find((o) => o.toLowerCase() === lower) ?? aliases[lower];
  if (!found) {
    throw new SealError(
      'E_POLICY_INVALID',
      `${where}: unsupported condition operator "${op}" (supported: ${CONDITION_OPERATORS.join(', ')})`,
    );
  }
  return found;
}

/** An innermost `{{ expr }}`: one that contains no other template. Kyverno substitutes inside out. */
const INNERMOST = /\{\{((?:(?!\{\{|\}\}).)*)\}\}/s;

let kyvernoFunctionsRegistered = false;

/** Kyverno's JMESPath extensions that attestation policies use (pkg/engine/jmespath). */
function registerKyvernoFunctions(): void {
  if (kyvernoFunctionsRegistered) return;
  kyvernoFunctionsRegistered = true;
  registerFunction('regex_match', ([pattern, value]) => new RegExp(String(pattern)).test(String(value)), [
    { types: [TYPE_STRING] },
    { types: [TYPE_STRING] },
  ]);
}

/** Check every JMESPath expression in a condition compiles; E_POLICY_INVALID naming `where` if not. */
export function validateCondition(c: Condition, where: string): void {
  registerKyvernoFunctions();
  const check = (expr: string, field: string, kyverno = true) => {
    try {
      compile(expr.trim());
    } catch (err) {
      throw new SealError(
        'E_POLICY_INVALID',
        `${where}.${field}: JMESPath expression "${expr.trim()}" does not parse: ${(err as Error).message}`,
      );
    }
    if (!kyverno) return;
    try {
      checkKyvernoExpression(expr.trim());
    } catch (err) {
      throw new SealError(
        'E_POLICY_INVALID',
        `${where}.${field}: "${expr.trim()}": ${(err as Error).message}`,
      );
    }
  };
  if ('expr' in c) {
    check(c.expr, 'expr', false);
    return;
  }
  for (const [field, v] of [
    ['key', c.key],
    ['value', c.value],
  ] as const) {
    if (typeof v !== 'string') continue;
    let text = v;
    for (let m = INNERMOST.exec(text); m; m = INNERMOST.exec(text)) {
      check(m[1]!, field);
      text = text.slice(0, m.index) + 'seal_placeholder' + text.slice(m.index + m[0].length);
    }
  }
}

/**
 * Substitute `{{ expr }}` inside out (Kyverno's variable substitution): a template that is the whole
 * string yields the JSON value; one embedded in text (or in an outer expression) is inserted as text.
 */
export function substitute(value: unknown, data: JSONValue): unknown {
  if (typeof value === 'string') {
    let text = value;
    for (let m = INNERMOST.exec(text); m; m = INNERMOST.exec(text)) {
      const v = kyvernoSearch(data, m[1]!.trim());
      if (m.index === 0 && m[0].length === text.length) return v;
      if (text.trim() === m[0]) return v;
      text =
        text.slice(0, m.index) +
        (typeof v === 'string' ? v : JSON.stringify(v)) +
        text.slice(m.index + m[0].length);
    }
    return text;
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, data));
  return value;
}

function wildcardEquals(pattern: string, value: string): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern === value;
  const src = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${src}$`, 's').test(value);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'string') return b.trim() !== '' && Number(b) === a;
  if (typeof a === 'string' && typeof b === 'number') return a.trim() !== '' && Number(a) === b;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => deepEqual(v, bb[i]));
  }
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return (
    ka.length === kb.length &&
    ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
}

/** Kyverno Equals: strings compare with the value as a wildcard pattern; everything else deep-equal. */
function equals(key: unknown, value: unknown): boolean {
  if (typeof key === 'string' && typeof value === 'string') return wildcardEquals(value, key);
  if (typeof key === 'boolean' && typeof value === 'string') return String(key) === value;
  return deepEqual(key, value);
}

function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [v];
}

function inSet(item: unknown, set: unknown): boolean {
  return asList(set).some((s) => equals(item, s));
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

function byOperator(op: ConditionOperator, c: number): boolean {
  switch (op) {
    case 'GreaterThan':
    case 'DurationGreaterThan':
      return c > 0;
    case 'GreaterThanOrEquals':
    case 'DurationGreaterThanOrEquals':
      return c >= 0;
    case 'LessThan':
    case 'DurationLessThan':
      return c < 0;
    default:
      return c <= 0;
  }
}

const sign = (a: number | bigint, b: number | bigint) => (a < b ? -1 : a > b ? 1 : 0);

/** A duration string (not "0") in nanoseconds. */
function durationOf(v: unknown): bigint | undefined {
  if (typeof v !== 'string' || v === '0') return undefined;
  return parseGoDuration(v);
}

/** Kyverno: when either side is a duration string, a number on the other side counts as seconds. */
function durationPair(key: unknown, value: unknown): [bigint, bigint] | undefined {
  const k = durationOf(key);
  const v = durationOf(value);
  if (k === undefined && v === undefined) return undefined;
  const other = (x: unknown, d: bigint | undefined) =>
    d !== undefined ? d : typeof x === 'number' ? BigInt(Math.trunc(x * 1e9)) : undefined;
  const a = other(key, k);
  const b = other(value, v);
  return a === undefined || b === undefined ? undefined : [a, b];
}

/**
 * Kyverno's numeric operators: durations (`168h`, a number beside one = seconds), then resource
 * quantities (`500m`, `1Gi`), then numbers, then semantic versions; anything else is false.
 */
function compare(op: ConditionOperator, key: unknown, value: unknown): boolean {
  if (op.startsWith('Duration')) {
    const d = (x: unknown) =>
      typeof x === 'number'
        ? BigInt(Math.trunc(x * 1e9))
        : typeof x === 'string'
          ? parseGoDuration(x)
          : undefined;
    const a = d(key);
    const b = d(value);
    return a !== undefined && b !== undefined && byOperator(op, sign(a, b));
  }
  const dp = durationPair(key, value);
  if (dp) return byOperator(op, sign(dp[0], dp[1]));
  if (typeof key === 'string' && typeof value === 'string') {
    const qa = parseQuantity(key);
    const qb = parseQuantity(value);
    if (qa && qb) return byOperator(op, compareQuantity(qa, qb));
  }
  const a = toNumber(key);
  const b = toNumber(value);
  if (a !== undefined && b !== undefined) return byOperator(op, sign(a, b));
  if (typeof key === 'string' && typeof value === 'string') {
    const va = parseSemver(key);
    const vb = parseSemver(value);
    if (va && vb) return byOperator(op, compareSemver(va, vb));
  }
  return false;
}

function applyOperator(op: ConditionOperator, key: unknown, value: unknown): boolean {
  const keys = asList(key);
  switch (op) {
    case 'Equals':
      return equals(key, value);
    case 'NotEquals':
      return !equals(key, value);
    case 'In':
    case 'AllIn':
      return keys.length > 0 && keys.every((k) => inSet(k, value));
    case 'AnyIn':
      return keys.some((k) => inSet(k, value));
    case 'NotIn':
    case 'AllNotIn':
      return keys.every((k) => !inSet(k, value));
    case 'AnyNotIn':
      return keys.some((k) => !inSet(k, value));
    default:
      return compare(op, key, value);
  }
}

export interface ConditionResult {
  ok: boolean;
  /** The first failing condition, described for a deny message. */
  failed?: string;
}

function describe(c: Condition): string {
  if ('expr' in c) return c.message ?? `expr ${c.expr}`;
  return `${c.key} ${c.operator} ${JSON.stringify(c.value)}`;
}

function evaluateOne(c: Condition, data: JSONValue): { ok: boolean; error?: string } {
  try {
    if ('expr' in c) return { ok: search(data, c.expr) === true };
    return { ok: applyOperator(c.operator, substitute(c.key, data), substitute(c.value, data)) };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** Evaluate condition blocks over `data`: every block's `all` must hold and, if present, one of its `any`. */
export function evaluateConditions(blocks: ConditionBlock[], data: unknown): ConditionResult {
  registerKyvernoFunctions();
  const json = data as JSONValue;
  for (const block of blocks) {
    for (const c of block.all) {
      const r = evaluateOne(c, json);
      if (!r.ok) return { ok: false, failed: `${describe(c)}${r.error ? ` (${r.error})` : ''}` };
    }
    if (block.any.length > 0) {
      const results = block.any.map((c) => evaluateOne(c, json));
      if (!results.some((r) => r.ok)) {
        return { ok: false, failed: `none of: ${block.any.map(describe).join('; ')}` };
      }
    }
  }
  return { ok: true };
}

/**
 * Kyverno deny conditions (pkg/engine/variables/evaluate.go evaluateAnyAllConditions): `deny` when every
 * `all` condition and, if present, one `any` condition hold; `message` joins the messages of the conditions
 * that decided. A condition that cannot be evaluated is an `error`, never a silent "no deny".
 */
export function evaluateDenyConditions(
  block: ConditionBlock,
  data: unknown,
  messages: { all: (string | undefined)[]; any: (string | undefined)[] },
): { deny: boolean; message: string; error?: string } {
  registerKyvernoFunctions();
  const json = data as JSONValue;
  const decided: (string | undefined)[] = [];
  const failed: (string | undefined)[] = [];
  let anyHolds = true;
  if (block.any.length > 0) {
    anyHolds = false;
    for (const [i, c] of block.any.entries()) {
      const r = evaluateOne(c, json);
      if (r.error) return { deny: false, message: '', error: `${describe(c)}: ${r.error}` };
      if (r.ok) {
        anyHolds = true;
        decided.push(messages.any[i]);
        break;
      }
      failed.push(messages.any[i]);
    }
  }
  let allHold = true;
  for (const [i, c] of block.all.entries()) {
    const r = evaluateOne(c, json);
    if (r.error) return { deny: false, message: '', error: `${describe(c)}: ${r.error}` };
    if (!r.ok) {
      allHold = false;
      failed.push(messages.all[i]);
      break;
    }
    decided.push(messages.all[i]);
  }
  const join = (l: (string | undefined)[]) => l.filter((m) => m !== undefined && m !== '').join('; ');
  return anyHolds && allHold
    ? { deny: true, message: join(decided) }
    : { deny: false, message: join(failed) };
}
