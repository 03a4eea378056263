// The CUE standard-library members seal's CUE evaluator provides (cuelang.org/go/pkg/time and pkg/strings,
// as their documentation defines them); any other package member is refused when the policy is compiled.

import type { Scalar } from './parser.js';
import { atomOf, bottom, type Value } from './value.js';

export interface Builtin {
  /** A constant (time.RFC3339) or a function of concrete scalar arguments. */
  constant?: Scalar;
  params?: ('string' | 'int')[];
  fn?: (args: Scalar[]) => Value;
}

const str = (v: string): Scalar => ({ k: 'string', v });

// Go reference-time layouts, as pkg/time declares them.
const TIME_LAYOUTS: Record<string, string> = {
  ANSIC: 'Mon Jan _2 15:04:05 2006',
  UnixDate: 'Mon Jan _2 15:04:05 MST 2006',
  RubyDate: 'Mon Jan 02 15:04:05 -0700 2006',
  RFC822: '02 Jan 06 15:04 MST',
  RFC822Z: '02 Jan 06 15:04 -0700',
  RFC850: 'Monday, 02-Jan-06 15:04:05 MST',
  RFC1123: 'Mon, 02 Jan 2006 15:04:05 MST',
  RFC1123Z: 'Mon, 02 Jan 2006 15:04:05 -0700',
  RFC3339: '2006-01-02T15:04:05Z07:00',
  RFC3339Nano: '2006-01-02T15:04:05.999999999Z07:00',
  RFC3339Date: '2006-01-02',
  Kitchen: '3:04PM',
  Kitchen24: '15:04',
  Stamp: 'Jan _2 15:04:05',
  StampMilli: 'Jan _2 15:04:05.000',
  StampMicro: 'Jan _2 15:04:05.000000',
  StampNano: 'Jan _2 15:04:05.000000000',
};

const RFC3339_LAYOUTS = new Set([TIME_LAYOUTS.RFC3339, TIME_LAYOUTS.RFC3339Nano]);

interface Instant {
  /** Milliseconds since the epoch (UTC), whole seconds only. */
  seconds: number;
  nanos: number;
  /** The zone offset the text was written in (seconds east of UTC); Go's Format keeps it. */
  offset?: number;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/**
 * Go's time.Parse for the RFC 3339 layouts (fractional seconds are accepted after the seconds even when the
 * layout has none, as Go does) and for RFC3339Date.
 */
function parseTime(layout: string, value: string): Instant | string {
  if (layout === TIME_LAYOUTS.RFC3339Date) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
    if (!m) return `parsing time ${JSON.stringify(value)} as ${JSON.stringify(layout)}: cannot parse`;
    return civil(+m[1]!, +m[2]!, +m[3]!, 0, 0, 0, 0, 0, value, layout);
  }
  if (!RFC3339_LAYOUTS.has(layout)) return `layout ${JSON.stringify(layout)}`;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(value);
  if (!m) return `parsing time ${JSON.stringify(value)} as ${JSON.stringify(layout)}: cannot parse`;
  const frac = (m[7] ?? '').slice(0, 9).padEnd(9, '0');
  let offset = 0;
  if (m[8] !== 'Z') {
    const sign = m[8]![0] === '-' ? -1 : 1;
    const oh = +m[8]!.slice(1, 3);
    const om = +m[8]!.slice(4, 6);
    if (oh > 24 || om > 59) return `parsing time ${JSON.stringify(value)}: time zone offset out of range`;
    offset = sign * (oh * 3600 + om * 60);
  }
  return civil(+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!, Number(frac), offset, value, layout);
}

function civil(
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number,
  nanos: number,
  offset: number,
  value: string,
  layout: string,
): Instant | string {
  const bad = (what: string) => `parsing time ${JSON.stringify(value)}: ${what} out of range`;
  if (mo < 1 || mo > 12) return bad('month');
  const dim = mo === 2 && isLeap(y) ? 29 : DAYS_IN_MONTH[mo - 1]!;
  if (d < 1 || d > dim) return bad('day');
  if (h > 23) return bad('hour');
  if (mi > 59) return bad('minute');
  if (s > 59) return bad('second');
  void layout;
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  // Date.UTC maps years 0–99 to 1900–1999.
  const fixed = y < 100 ? new Date(ms).setUTCFullYear(y) : ms;
  return { seconds: fixed / 1000 - offset, nanos, offset };
}

/** Go's `t.UTC().Format(time.RFC3339Nano)`: trailing zeros of the fraction dropped, `Z` for UTC. */
function formatRfc3339Nano(t: Instant): string {
  const offset = t.offset ?? 0;
  const date = new Date((t.seconds + offset) * 1000);
  const y = date.getUTCFullYear();
  const p2 = (n: number) => String(n).padStart(2, '0');
  const base = `${String(y).padStart(4, '0')}-${p2(date.getUTCMonth() + 1)}-${p2(date.getUTCDate())}T${p2(date.getUTCHours())}:${p2(date.getUTCMinutes())}:${p2(date.getUTCSeconds())}`;
  const frac = t.nanos ? `.${String(t.nanos).padStart(9, '0').replace(/0+$/, '')}` : '';
  if (offset === 0) return `${base}${frac}Z`;
  const a = Math.abs(offset);
  return `${base}${frac}${offset < 0 ? '-' : '+'}${p2(Math.floor(a / 3600))}:${p2(Math.floor((a % 3600) / 60))}`;
}

function formatRfc3339(t: Instant): string {
  return formatRfc3339Nano({ ...t, nanos: 0 });
}

export const PACKAGES: Record<string, Record<string, Builtin>> = {
  time: {
    ...Object.fromEntries(Object.entries(TIME_LAYOUTS).map(([k, v]) => [k, { constant: str(v) }])),
    Nanosecond: { constant: { k: 'int', v: 1n } },
    Microsecond: { constant: { k: 'int', v: 1000n } },
    Millisecond: { constant: { k: 'int', v: 1000000n } },
    Second: { constant: { k: 'int', v: 1000000000n } },
    Minute: { constant: { k: 'int', v: 60000000000n } },
    Hour: { constant: { k: 'int', v: 3600000000000n } },
    // Parse returns the instant as CUE represents times: a string, t.UTC().Format(time.RFC3339Nano).
    Parse: {
      params: ['string', 'string'],
      fn: ([layout, value]) => {
        const t = parseTime((layout as { v: string }).v, (value as { v: string }).v);
        if (typeof t === 'string') {
          return t.startsWith('layout')
            ? bottom(
                `error in call to time.Parse: ${t} is not supported by seal (RFC3339, RFC3339Nano, RFC3339Date are)`,
              )
            : bottom(`error in call to time.Parse: ${t}`);
        }
        return atomOf(str(formatRfc3339Nano({ seconds: t.seconds, nanos: t.nanos })));
      },
    },
    // FormatString(layout, value): value is an RFC3339Nano time, formatted in its own zone offset (Go's
    // t.Format(layout), no conversion to UTC).
    FormatString: {
      params: ['string', 'string'],
      fn: ([layout, value]) => {
        const l = (layout as { v: string }).v;
        const t = parseTime(TIME_LAYOUTS.RFC3339Nano!, (value as { v: string }).v);
        if (typeof t === 'string') return bottom(`error in call to time.FormatString: ${t}`);
        if (l === TIME_LAYOUTS.RFC3339Nano) return atomOf(str(formatRfc3339Nano(t)));
        if (l === TIME_LAYOUTS.RFC3339) return atomOf(str(formatRfc3339(t)));
        if (l === TIME_LAYOUTS.RFC3339Date) return atomOf(str(formatRfc3339(t).slice(0, 10)));
        return bottom(
          `error in call to time.FormatString: layout ${JSON.stringify(l)} is not supported by seal (RFC3339, RFC3339Nano, RFC3339Date are)`,
        );
      },
    },
  },
  strings: {
    HasPrefix: {
      params: ['string', 'string'],
      fn: ([s, p]) => atomOf({ k: 'bool', v: (s as { v: string }).v.startsWith((p as { v: string }).v) }),
    },
    HasSuffix: {
      params: ['string', 'string'],
      fn: ([s, p]) => atomOf({ k: 'bool', v: (s as { v: string }).v.endsWith((p as { v: string }).v) }),
    },
    Contains: {
      params: ['string', 'string'],
      fn: ([s, p]) => atomOf({ k: 'bool', v: (s as { v: string }).v.includes((p as { v: string }).v) }),
    },
    ToLower: { params: ['string'], fn: ([s]) => atomOf(str((s as { v: string }).v.toLowerCase())) },
    ToUpper: { params: ['string'], fn: ([s]) => atomOf(str((s as { v: string }).v.toUpperCase())) },
    TrimSpace: { params: ['string'], fn: ([s]) => atomOf(str((s as { v: string }).v.trim())) },
  },
};
