// Kyverno's JMESPath: the standard functions plus every custom function Kyverno documents
// (pkg/engine/jmespath), with Kyverno's argument types and results, on an interpreter of its own so that
// seal's `expr` conditions keep plain JMESPath. Load-time checks name unknown functions and the field.
// Implements docs/policy.md ("Kyverno JMESPath functions").

import { createHash, X509Certificate } from 'node:crypto';
import { posix } from 'node:path';
import {
  compile,
  type JSONValue,
  TreeInterpreter,
  TYPE_ANY,
  TYPE_ARRAY,
  TYPE_NUMBER,
  TYPE_OBJECT,
  TYPE_STRING,
} from '@jmespath-community/jmespath';
import { parse as parseYaml } from 'yaml';
import {
  fields,
  formatGoDuration,
  formatRfc3339,
  nowGoTime,
  parseGoDuration,
  parseGoTime,
  parseRfc3339,
  RFC3339_LAYOUT,
  truncateGoTime,
} from './gotime.js';
import {
  addQuantities,
  divideQuantity,
  formatQuantity,
  multiplyQuantity,
  parseQuantity,
  type Quantity,
  quantityToNumber,
} from './quantity.js';
import { semverSatisfies } from './semver.js';

type Interpreter = typeof TreeInterpreter;
type Fn = (args: JSONValue[]) => JSONValue;
type Sig = { types: number[]; optional?: boolean; variadic?: boolean }[];

/** The JMESPath specification's functions (Kyverno's go-jmespath has these and no others built in). */
export const STANDARD_FUNCTIONS = [
  'abs',
  'avg',
  'ceil',
  'contains',
  'ends_with',
  'floor',
  'join',
  'keys',
  'length',
  'map',
  'max',
  'max_by',
  'merge',
  'min',
  'min_by',
  'not_null',
  'reverse',
  'sort',
  'sort_by',
  'starts_with',
  'sum',
  'to_array',
  'to_number',
  'to_string',
  'type',
  'values',
] as const;

function fail(name: string, why: string): never {
  throw new Error(`JMESPath function '${name}': ${why}`);
}

/** Kyverno's ifaceToString: numbers and booleans become text (numbers as Go prints a float32). */
function toText(name: string, v: JSONValue, arg: number): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(Math.fround(v) === v ? v : Number(Math.fround(v).toPrecision(7)));
  if (typeof v === 'boolean') return String(v);
  return fail(name, `argument #${arg} is not of type String or Real`);
}

/** Go RE2 syntax that JavaScript spells differently: `(?P<name>`, leading `(?i)`-style flags. */
export function goRegExp(pattern: string, extraFlags = ''): RegExp {
  let src = pattern.replace(/\(\?P</g, '(?<');
  let flags = extraFlags;
  const lead = /^\(\?([imsU]+)\)/.exec(src);
  if (lead) {
    src = src.slice(lead[0].length);
    for (const f of lead[1]!) if (f !== 'U' && !flags.includes(f)) flags += f;
  }
  return new RegExp(src, `${flags}u`);
}

/** Go `Regexp.Expand` template: `$1`, `${1}`, `$name`, `${name}`, `$$`. */
function expandTemplate(template: string, m: RegExpExecArray): string {
  return template.replace(/\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g, (_all, d, braced, bare) => {
    if (d === '$') return '$';
    const name = (braced ?? bare) as string;
    if (/^\d+$/.test(name)) return m[Number(name)] ?? '';
    return m.groups?.[name] ?? '';
  });
}

function regexReplace(name: string, args: JSONValue[], literal: boolean): string {
  let re: RegExp;
  try {
    re = goRegExp(String(args[0]), 'g');
  } catch (err) {
    return fail(name, (err as Error).message);
  }
  const src = toText(name, args[1]!, 2);
  const repl = toText(name, args[2]!, 3);
  let out = '';
  let last = 0;
  for (const m of src.matchAll(re)) {
    out += src.slice(last, m.index) + (literal ? repl : expandTemplate(repl, m as RegExpExecArray));
    last = m.index + m[0].length;
  }
  return out + src.slice(last);
}

/** Kyverno wildcard (`*` any run, `?` one character), whole string. */
export function wildcardMatch(pattern: string, value: string): boolean {
  const src = [...pattern]
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${src}$`, 's').test(value);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return (
    ka.length === kb.length &&
    ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
}

// --- arithmetic: scalars (numbers), quantities and durations, with Kyverno's type rules -------------

type Operand =
  | { kind: 'scalar'; n: number }
  | { kind: 'quantity'; q: Quantity }
  | { kind: 'duration'; ns: bigint };

function operand(name: string, v: JSONValue): Operand {
  if (typeof v === 'number') return { kind: 'scalar', n: v };
  if (typeof v === 'string') {
    const q = parseQuantity(v);
    if (q) return { kind: 'quantity', q };
    const d = parseGoDuration(v);
    if (d !== undefined) return { kind: 'duration', ns: d };
  }
  return fail(name, 'invalid operand');
}

const mismatch = (name: string): never => fail(name, 'types mismatch');
const zeroDiv = (name: string): never => fail(name, 'Zero divisor passed');

function durationTimes(ns: bigint, factor: number): string {
  const seconds = (Number(ns) / 1e9) * factor;
  return formatGoDuration(BigInt(Math.trunc(seconds * 1e9)));
}

function arith(name: string, op: '+' | '-' | '*' | '/' | '%', x: JSONValue, y: JSONValue): JSONValue {
  const a = operand(name, x);
  const b = operand(name, y);
  switch (op) {
    case '+':
    case '-': {
      if (a.kind === 'scalar' && b.kind === 'scalar') return op === '+' ? a.n + b.n : a.n - b.n;
      if (a.kind === 'quantity' && b.kind === 'quantity')
        return formatQuantity(addQuantities(a.q, b.q, op === '-'));
      if (a.kind === 'duration' && b.kind === 'duration')
        return formatGoDuration(op === '+' ? a.ns + b.ns : a.ns - b.ns);
      return mismatch(name);
    }
    case '*': {
      if (a.kind === 'scalar' && b.kind === 'scalar') return a.n * b.n;
      const [s, o] = a.kind === 'scalar' ? [a, b] : b.kind === 'scalar' ? [b, a] : [undefined, undefined];
      if (!s || !o || s.kind !== 'scalar') return mismatch(name);
      if (o.kind === 'quantity') return formatQuantity(multiplyQuantity(o.q, s.n));
      if (o.kind === 'duration') return durationTimes(o.ns, s.n);
      return mismatch(name);
    }
    case '/': {
      if (a.kind === 'scalar') {
        if (b.kind !== 'scalar') return mismatch(name);
        return b.n === 0 ? zeroDiv(name) : a.n / b.n;
      }
      if (a.kind === 'quantity') {
        if (b.kind === 'quantity') {
          const d = quantityToNumber(b.q);
          return d === 0 ? zeroDiv(name) : quantityToNumber(a.q) / d;
        }
        if (b.kind === 'scalar') return b.n === 0 ? zeroDiv(name) : formatQuantity(divideQuantity(a.q, b.n));
        return mismatch(name);
      }
      if (b.kind === 'duration') return b.ns === 0n ? zeroDiv(name) : Number(a.ns) / Number(b.ns);
      if (b.kind === 'scalar') return b.n === 0 ? zeroDiv(name) : durationTimes(a.ns, 1 / b.n);
      return mismatch(name);
    }
    default: {
      if (a.kind !== b.kind) return mismatch(name);
      if (a.kind === 'duration' && b.kind === 'duration') {
        return b.ns === 0n ? zeroDiv(name) : formatGoDuration(a.ns % b.ns);
      }
      const [p, q] =
        a.kind === 'scalar' && b.kind === 'scalar'
          ? [a.n, b.n]
          : [quantityToNumber((a as { q: Quantity }).q), quantityToNumber((b as { q: Quantity }).q)];
      if (!Number.isInteger(p) || !Number.isInteger(q))
        return fail(name, 'Non-integer argument(s) passed for modulo');
      if (q === 0) return zeroDiv(name);
      const r = p % q;
      return a.kind === 'scalar'
        ? r
        : formatQuantity({ ...(a as { q: Quantity }).q, nano: BigInt(r) * 1_000_000_000n });
    }
  }
}

// --- random: a string matching a regular expression (goregen's subset) ------------------------------

function randomInt(n: number): number {
  return n <= 0 ? 0 : Math.floor(Math.random() * n);
}

function randomFromPattern(pattern: string): string {
  let i = 0;
  const classChars = (body: string): string[] => {
    const out: string[] = [];
    const expand = (c: string) => {
      if (c === 'd') return '0123456789'.split('');
      if (c === 'w') return 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_'.split('');
      if (c === 's') return [' '];
      return [c];
    };
    for (let j = 0; j < body.length; j++) {
      if (body[j] === '\\') {
        out.push(...expand(body[++j]!));
      } else if (body[j + 1] === '-' && j + 2 < body.length) {
        for (let c = body.charCodeAt(j); c <= body.charCodeAt(j + 2); c++) out.push(String.fromCharCode(c));
        j += 2;
      } else out.push(body[j]!);
    }
    return out;
  };
  const alternation = (): string[][] => {
    const branches: string[][] = [[]];
    while (i < pattern.length && pattern[i] !== ')') {
      if (pattern[i] === '|') {
        i++;
        branches.push([]);
        continue;
      }
      let atom: () => string;
      const c = pattern[i]!;
      if (c === '(') {
        i++;
        if (pattern.startsWith('?:', i)) i += 2;
        const inner = alternation();
        i++; // ')'
        atom = () => inner[randomInt(inner.length)]!.map((g) => g).join('');
        const gen = inner;
        atom = () => gen[randomInt(gen.length)]!.join('');
      } else if (c === '[') {
        const end = pattern.indexOf(']', i + 2);
        const chars = classChars(pattern.slice(i + 1, end));
        i = end + 1;
        atom = () => chars[randomInt(chars.length)]!;
      } else if (c === '\\') {
        const chars = classChars(pattern.slice(i, i + 2));
        i += 2;
        atom = () => chars[randomInt(chars.length)]!;
      } else if (c === '.') {
        i++;
        atom = () => String.fromCharCode(33 + randomInt(94));
      } else if (c === '^' || c === '$') {
        i++;
        continue;
      } else {
        i++;
        atom = () => c;
      }
      let min = 1;
      let max = 1;
      const q = pattern[i];
      if (q === '?') [min, max] = [0, 1];
      else if (q === '*') [min, max] = [0, 10];
      else if (q === '+') [min, max] = [1, 10];
      else if (q === '{') {
        const m = /^\{(\d+)(?:,(\d*))?\}/.exec(pattern.slice(i));
        if (m) {
          min = Number(m[1]);
          max = m[2] === undefined ? min : m[2] === '' ? min + 10 : Number(m[2]);
          i += m[0].length - 1;
        }
      }
      if (q === '?' || q === '*' || q === '+' || (q === '{' && min !== undefined)) i++;
      const n = min + randomInt(max - min + 1);
      let s = '';
      for (let k = 0; k < n; k++) s += atom();
      branches[branches.length - 1]!.push(s);
    }
    return branches;
  };
  const top = alternation();
  return top[randomInt(top.length)]!.join('');
}

// --- x509_decode -------------------------------------------------------------------------------------

const NAME_FIELDS: [string, string][] = [
  ['C', 'Country'],
  ['O', 'Organization'],
  ['OU', 'OrganizationalUnit'],
  ['L', 'Locality'],
  ['ST', 'Province'],
  ['street', 'StreetAddress'],
  ['postalCode', 'PostalCode'],
];

function pkixName(text: string): Record<string, JSONValue> {
  const lines = text.split('\n').filter(Boolean);
  const get = (k: string) => lines.filter((l) => l.startsWith(`${k}=`)).map((l) => l.slice(k.length + 1));
  const out: Record<string, JSONValue> = {};
  for (const [k, f] of NAME_FIELDS) {
    const v = get(k);
    out[f] = v.length > 0 ? v : null;
  }
  out.SerialNumber = get('serialNumber')[0] ?? '';
  out.CommonName = get('CN')[0] ?? '';
  return out;
}

function b64urlToDecimal(b64url: string): string {
  return BigInt(`0x${Buffer.from(b64url, 'base64url').toString('hex') || '0'}`).toString();
}

function x509Decode(pem: string): JSONValue {
  const block = /-----BEGIN ([A-Z ]+)-----/.exec(pem);
  if (!block) return fail('x509_decode', 'failed to decode PEM block');
  if (block[1] !== 'CERTIFICATE') {
    return fail(
      'x509_decode',
      block[1] === 'CERTIFICATE REQUEST'
        ? 'certificate requests are not decoded by seal'
        : 'PEM block neither contains a CERTIFICATE or CERTIFICATE REQUEST',
    );
  }
  const cert = new X509Certificate(pem);
  if (cert.publicKey.asymmetricKeyType !== 'rsa')
    return fail('x509_decode', 'certificate should use rsa algorithm');
  const jwk = cert.publicKey.export({ format: 'jwk' }) as { n: string; e: string };
  const sans = (cert.subjectAltName ?? '').split(', ').filter(Boolean);
  const san = (p: string) => {
    const v = sans.filter((s) => s.startsWith(`${p}:`)).map((s) => s.slice(p.length + 1));
    return v.length > 0 ? v : null;
  };
  const time = (s: string) => formatRfc3339({ ns: BigInt(Date.parse(s)) * 1_000_000n, offset: 0 });
  return {
    Raw: cert.raw.toString('base64'),
    Version: 3,
    SerialNumber: Number(BigInt(`0x${cert.serialNumber}`)),
    Issuer: pkixName(cert.issuer),
    Subject: pkixName(cert.subject),
    NotBefore: time(cert.validFrom),
    NotAfter: time(cert.validTo),
    PublicKeyAlgorithm: 1,
    PublicKey: {
      N: b64urlToDecimal(jwk.n),
      E: Number(BigInt(`0x${Buffer.from(jwk.e, 'base64url').toString('hex')}`)),
    },
    IsCA: cert.ca,
    BasicConstraintsValid: cert.ca,
    DNSNames: san('DNS'),
    EmailAddresses: san('email'),
    URIs: san('URI'),
  };
}

// --- image_normalize / is_external_url ---------------------------------------------------------------

function imageNormalize(image: string): string {
  if (image === '') return fail('image_normalize', 'bad image: empty');
  let rest = image;
  let digest = '';
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at);
    rest = rest.slice(0, at);
  }
  let tag = '';
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const first = rest.split('/')[0]!;
  const hasRegistry = rest.includes('/') && (/[.:]/.test(first) || first === 'localhost');
  const name = hasRegistry ? rest : `docker.io/${rest}`;
  if (!/^[a-z0-9]/.test(name.split('/').slice(1).join('/')))
    return fail('image_normalize', `bad image: ${image}`);
  return `${name}${tag ? `:${tag}` : digest ? '' : ':latest'}${digest}`;
}

function isPrivateOrLoopback(host: string): boolean | undefined {
  const h = host.replace(/^\[|\]$/g, '');
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(h);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
  }
  if (h.includes(':')) {
    const l = h.toLowerCase();
    return l === '::1' || l.startsWith('fc') || l.startsWith('fd');
  }
  return undefined;
}

// --- the function table --------------------------------------------------------------------------------

const S = [TYPE_STRING];
const N = [TYPE_NUMBER];
const SN = [TYPE_STRING, TYPE_NUMBER];
const ANY = [TYPE_ANY];

function timeArg(name: string, v: JSONValue): ReturnType<typeof parseRfc3339> {
  try {
    return parseRfc3339(String(v));
  } catch (err) {
    return fail(name, (err as Error).message);
  }
}

function durationArg(name: string, v: JSONValue): bigint {
  const d = parseGoDuration(String(v));
  if (d === undefined) return fail(name, `time: invalid duration "${String(v)}"`);
  return d;
}

function timeWithLayout(name: string, layout: string, value: string) {
  try {
    return parseGoTime(layout === '' ? RFC3339_LAYOUT : layout, value);
  } catch (err) {
    return fail(name, (err as Error).message);
  }
}

const hash = (alg: string) => (a: JSONValue[]) => createHash(alg).update(String(a[0])).digest('hex');

/** Kyverno's custom functions: name → [implementation, signature]. */
export const KYVERNO_FUNCTIONS: Record<string, [Fn, Sig]> = {
  compare: [
    ([a, b]) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0),
    [{ types: S }, { types: S }],
  ],
  equal_fold: [
    ([a, b]) => String(a).toUpperCase().toLowerCase() === String(b).toUpperCase().toLowerCase(),
    [{ types: S }, { types: S }],
  ],
  replace: [
    ([s, o, n, count]) => {
      const str = String(s);
      const old = String(o);
      let k = Math.trunc(Number(count));
      if (k < 0) return str.split(old).join(String(n));
      if (old === '') {
        // Go inserts the replacement before each character (and at the end), k times.
        const chars = [...str];
        let out = '';
        for (let i = 0; i <= chars.length; i++) {
          if (k > 0) {
            out += String(n);
            k--;
          }
          out += chars[i] ?? '';
        }
        return out;
      }
      let out = str;
      let from = 0;
      while (k-- > 0) {
        const at = out.indexOf(old, from);
        if (at < 0) break;
        out = out.slice(0, at) + String(n) + out.slice(at + old.length);
        from = at + String(n).length;
      }
      return out;
    },
    [{ types: S }, { types: S }, { types: S }, { types: N }],
  ],
  replace_all: [
    ([s, o, n]) => String(s).split(String(o)).join(String(n)),
    [{ types: S }, { types: S }, { types: S }],
  ],
  to_upper: [([s]) => String(s).toUpperCase(), [{ types: S }]],
  to_lower: [([s]) => String(s).toLowerCase(), [{ types: S }]],
  trim: [
    ([s, cut]) => {
      const set = new Set([...String(cut)]);
      const chars = [...String(s)];
      let a = 0;
      let b = chars.length;
      while (a < b && set.has(chars[a]!)) a++;
      while (b > a && set.has(chars[b - 1]!)) b--;
      return chars.slice(a, b).join('');
    },
    [{ types: S }, { types: S }],
  ],
  trim_prefix: [
    ([s, p]) => (String(s).startsWith(String(p)) ? String(s).slice(String(p).length) : String(s)),
    [{ types: S }, { types: S }],
  ],
  split: [
    ([s, sep]) => (String(sep) === '' ? [...String(s)] : String(s).split(String(sep))),
    [{ types: S }, { types: S }],
  ],
  regex_replace_all: [
    (a) => regexReplace('regex_replace_all', a, false),
    [{ types: S }, { types: SN }, { types: SN }],
  ],
  regex_replace_all_literal: [
    (a) => regexReplace('regex_replace_all_literal', a, true),
    [{ types: S }, { types: SN }, { types: SN }],
  ],
  regex_match: [
    ([re, v]) => {
      try {
        return goRegExp(String(re)).test(toText('regex_match', v!, 2));
      } catch (err) {
        return fail('regex_match', (err as Error).message);
      }
    },
    [{ types: S }, { types: SN }],
  ],
  pattern_match: [
    ([p, v]) => wildcardMatch(String(p), toText('pattern_match', v!, 2)),
    [{ types: S }, { types: SN }],
  ],
  label_match: [
    ([labels, match]) => {
      const want = labels as Record<string, JSONValue>;
      const have = match as Record<string, JSONValue>;
      return Object.entries(want).every(([k, v]) => k in have && deepEqual(have[k], v));
    },
    [{ types: [TYPE_OBJECT] }, { types: [TYPE_OBJECT] }],
  ],
  to_boolean: [
    ([s]) => {
      const l = String(s).toLowerCase();
      if (l === 'true') return true;
      if (l === 'false') return false;
      return fail('to_boolean', `lowercase argument must be 'true' or 'false' (provided: '${String(s)}')`);
    },
    [{ types: S }],
  ],
  add: [([a, b]) => arith('add', '+', a!, b!), [{ types: ANY }, { types: ANY }]],
  subtract: [([a, b]) => arith('subtract', '-', a!, b!), [{ types: ANY }, { types: ANY }]],
  multiply: [([a, b]) => arith('multiply', '*', a!, b!), [{ types: ANY }, { types: ANY }]],
  divide: [([a, b]) => arith('divide', '/', a!, b!), [{ types: ANY }, { types: ANY }]],
  modulo: [([a, b]) => arith('modulo', '%', a!, b!), [{ types: ANY }, { types: ANY }]],
  sum: [
    ([items]) => {
      const list = items as JSONValue[];
      if (list.length === 0) return fail('sum', 'at least one element in the array is required');
      return list.slice(1).reduce<JSONValue>((acc, v) => arith('sum', '+', acc, v), list[0]!);
    },
    [{ types: [TYPE_ARRAY] }],
  ],
  round: [
    ([v, len]) => {
      const digits = Number(len);
      if (!Number.isInteger(digits)) return fail('round', 'Non-integer argument(s) passed for round off');
      if (digits < 0) return fail('round', 'Argument out of bounds');
      const shift = 10 ** digits;
      const x = Number(v) * shift;
      // Go math.Round: half away from zero.
      return (Math.sign(x) * Math.round(Math.abs(x))) / shift;
    },
    [{ types: N }, { types: N }],
  ],
  base64_decode: [
    ([s]) => {
      const t = String(s);
      if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(t))
        return fail('base64_decode', 'illegal base64 data');
      return Buffer.from(t, 'base64').toString('utf8');
    },
    [{ types: S }],
  ],
  base64_encode: [([s]) => Buffer.from(String(s), 'utf8').toString('base64'), [{ types: S }]],
  time_since: [
    ([layout, a, b]) => {
      const t1 = timeWithLayout('time_since', String(layout), String(a));
      const t2 = String(b) === '' ? nowGoTime(true) : timeWithLayout('time_since', String(layout), String(b));
      return formatGoDuration(t2.ns - t1.ns);
    },
    [{ types: S }, { types: S }, { types: S }],
  ],
  time_now: [() => formatRfc3339(nowGoTime(false)), []],
  time_now_utc: [() => formatRfc3339(nowGoTime(true)), []],
  time_to_cron: [
    ([t]) => {
      const f = fields(timeArg('time_to_cron', t!));
      return `${f.minute} ${f.hour} ${f.day} ${f.month} ${f.weekday}`;
    },
    [{ types: S }],
  ],
  time_add: [
    ([t, d]) => {
      const time = timeArg('time_add', t!);
      return formatRfc3339({ ns: time.ns + durationArg('time_add', d!), offset: time.offset });
    },
    [{ types: S }, { types: S }],
  ],
  time_parse: [
    ([layout, ts]) => {
      if (/^[+-]?\d+$/.test(String(layout))) {
        if (!/^[+-]?\d+$/.test(String(ts))) return fail('time_parse', `invalid epoch "${String(ts)}"`);
        return formatRfc3339({ ns: BigInt(String(ts)) * 1_000_000_000n, offset: 0 });
      }
      return formatRfc3339(timeWithLayout('time_parse', String(layout), String(ts)));
    },
    [{ types: S }, { types: S }],
  ],
  time_utc: [([t]) => formatRfc3339({ ns: timeArg('time_utc', t!).ns, offset: 0 }), [{ types: S }]],
  time_diff: [
    ([a, b]) => formatGoDuration(timeArg('time_diff', b!).ns - timeArg('time_diff', a!).ns),
    [{ types: S }, { types: S }],
  ],
  time_before: [
    ([a, b]) => timeArg('time_before', a!).ns < timeArg('time_before', b!).ns,
    [{ types: S }, { types: S }],
  ],
  time_after: [
    ([a, b]) => timeArg('time_after', a!).ns > timeArg('time_after', b!).ns,
    [{ types: S }, { types: S }],
  ],
  time_between: [
    ([t, s, e]) => {
      const x = timeArg('time_between', t!).ns;
      return x > timeArg('time_between', s!).ns && x < timeArg('time_between', e!).ns;
    },
    [{ types: S }, { types: S }, { types: S }],
  ],
  time_truncate: [
    ([t, d]) => formatRfc3339(truncateGoTime(timeArg('time_truncate', t!), durationArg('time_truncate', d!))),
    [{ types: S }, { types: S }],
  ],
  path_canonicalize: [
    ([p]) => {
      const s = String(p);
      return s === '' ? '' : posix.normalize(s).replace(/(.)\/$/, '$1');
    },
    [{ types: S }],
  ],
  truncate: [
    ([s, n]) => [...String(s)].slice(0, Math.max(0, Math.trunc(Number(n)))).join(''),
    [{ types: S }, { types: N }],
  ],
  semver_compare: [([v, r]) => semverSatisfies(String(v), String(r)), [{ types: S }, { types: S }]],
  parse_json: [
    ([s]) => {
      try {
        return JSON.parse(String(s)) as JSONValue;
      } catch (err) {
        return fail('parse_json', (err as Error).message);
      }
    },
    [{ types: S }],
  ],
  parse_yaml: [
    ([s]) => {
      try {
        return (parseYaml(String(s), { maxAliasCount: 100 }) ?? null) as JSONValue;
      } catch (err) {
        return fail('parse_yaml', (err as Error).message);
      }
    },
    [{ types: S }],
  ],
  lookup: [
    ([input, key]) => {
      if (Array.isArray(input)) {
        if (typeof key !== 'number') return fail('lookup', 'argument #2 is not of type Number');
        if (!Number.isInteger(key)) return fail('lookup', 'argument #2: expected an integer number');
        return key < 0 || key >= input.length ? null : (input[key] ?? null);
      }
      if (typeof key !== 'string') return fail('lookup', 'argument #2 is not of type String');
      return (input as Record<string, JSONValue>)[key] ?? null;
    },
    [{ types: [TYPE_OBJECT, TYPE_ARRAY] }, { types: SN }],
  ],
  items: [
    ([input, k, v]) => {
      const kn = String(k);
      const vn = String(v);
      if (Array.isArray(input)) return input.map((val, i) => ({ [kn]: i, [vn]: val }));
      const obj = input as Record<string, JSONValue>;
      return Object.keys(obj)
        .sort()
        .map((key) => ({ [kn]: key, [vn]: obj[key]! }));
    },
    [{ types: [TYPE_OBJECT, TYPE_ARRAY] }, { types: S }, { types: S }],
  ],
  object_from_lists: [
    ([keys, values]) => {
      const out: Record<string, JSONValue> = {};
      (keys as JSONValue[]).forEach((k, i) => {
        out[toText('object_from_lists', k, 1)] = (values as JSONValue[])[i] ?? null;
      });
      return out;
    },
    [{ types: [TYPE_ARRAY] }, { types: [TYPE_ARRAY] }],
  ],
  random: [
    ([p]) => (String(p) === '' ? fail('random', 'no pattern provided') : randomFromPattern(String(p))),
    [{ types: S }],
  ],
  x509_decode: [
    ([s]) => {
      try {
        return x509Decode(String(s));
      } catch (err) {
        if ((err as Error).message.startsWith('JMESPath')) throw err;
        return fail('x509_decode', (err as Error).message);
      }
    },
    [{ types: S }],
  ],
  image_normalize: [([s]) => imageNormalize(String(s)), [{ types: S }]],
  is_external_url: [
    ([s]) => {
      let url: URL;
      try {
        url = new URL(String(s));
      } catch (err) {
        return fail('is_external_url', (err as Error).message);
      }
      const ip = isPrivateOrLoopback(url.hostname);
      if (ip !== undefined) return !ip;
      // Names are not resolved (a JMESPath function cannot wait): only localhost counts as internal.
      return !(url.hostname === 'localhost' || url.hostname.endsWith('.localhost'));
    },
    [{ types: S }],
  ],
  sha256: [hash('sha256'), [{ types: S }]],
  sha1: [hash('sha1'), [{ types: S }]],
  md5: [hash('md5'), [{ types: S }]],
};

/** Every function a Kyverno policy may call. */
export const KNOWN_FUNCTIONS: ReadonlySet<string> = new Set([
  ...STANDARD_FUNCTIONS,
  ...Object.keys(KYVERNO_FUNCTIONS),
]);

let interpreter: Interpreter | undefined;

/** The interpreter with Kyverno's functions (its own function table; the shared one is untouched). */
function kyvernoInterpreter(): Interpreter {
  if (interpreter) return interpreter;
  const it = new (TreeInterpreter.constructor as new () => Interpreter)();
  for (const [name, [fn, sig]] of Object.entries(KYVERNO_FUNCTIONS)) {
    it.runtime.registerFunction(name, (args) => fn(args as JSONValue[]), sig, { override: true });
  }
  interpreter = it;
  return it;
}

/** Evaluate a JMESPath expression with Kyverno's functions. */
export function kyvernoSearch(data: unknown, expression: string): JSONValue {
  return kyvernoInterpreter().search(compile(expression), data as JSONValue);
}

/** The names of the functions an expression calls (parse errors propagate). */
export function functionsCalled(expression: string): string[] {
  const names: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const n of node) walk(n);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    const n = node as { type?: string; name?: unknown };
    if (n.type === 'Function' && typeof n.name === 'string') names.push(n.name);
    for (const v of Object.values(node)) if (typeof v === 'object') walk(v);
  };
  walk(compile(expression));
  return names;
}

/** Throws naming the first function Kyverno does not have; returns the expression's functions. */
export function checkKyvernoExpression(expression: string): void {
  for (const name of functionsCalled(expression)) {
    if (!KNOWN_FUNCTIONS.has(name))
      throw new Error(`unknown function ${name}() (Kyverno has no such JMESPath function)`);
  }
}
