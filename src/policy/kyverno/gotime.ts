// Go's time formats as Kyverno's JMESPath functions expose them: durations (`time.ParseDuration`,
// `Duration.String`), layouts by reference time (`2006-01-02T15:04:05Z07:00`) and RFC 3339 output.
// Implements docs/policy.md ("Kyverno JMESPath functions").

const UNIT_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n,
  μs: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const MAX_DURATION = (1n << 63n) - 1n;

/** Go `time.ParseDuration`: `1h30m`, `-1.5s`, `300ms`, `0`; nanoseconds, or undefined when it does not parse. */
export function parseGoDuration(text: string): bigint | undefined {
  let s = text;
  let neg = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') return undefined;
  let total = 0n;
  const re = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/;
  while (s.length > 0) {
    const m = re.exec(s);
    if (!m || (m[1] === '' && (m[2] === undefined || m[2] === ''))) return undefined;
    const unit = UNIT_NS[m[3]!]!;
    const whole = BigInt(m[1] || '0') * unit;
    let frac = 0n;
    if (m[2]) {
      // The fraction, truncated to whole nanoseconds of the unit (as Go does).
      const digits = m[2].slice(0, 30);
      frac = (BigInt(digits) * unit) / 10n ** BigInt(digits.length);
    }
    total += whole + frac;
    if (total > MAX_DURATION) return undefined;
    s = s.slice(m[0].length);
  }
  return neg ? -total : total;
}

function fracString(value: bigint, digits: number): string {
  // value < 10^digits; printed without trailing zeros, '' when zero.
  if (value === 0n) return '';
  return `.${value.toString().padStart(digits, '0').replace(/0+$/, '')}`;
}

/** Go `Duration.String`: `72h3m0.5s`, `1.5µs`, `0s`. */
export function formatGoDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  const neg = ns < 0n;
  const u = neg ? -ns : ns;
  let out: string;
  if (u < 1_000_000_000n) {
    if (u < 1_000n) out = `${u}ns`;
    else if (u < 1_000_000n) out = `${u / 1_000n}${fracString(u % 1_000n, 3)}µs`;
    else out = `${u / 1_000_000n}${fracString(u % 1_000_000n, 6)}ms`;
  } else {
    const h = u / 3_600_000_000_000n;
    const m = (u / 60_000_000_000n) % 60n;
    const secNs = u % 60_000_000_000n;
    const sec = `${secNs / 1_000_000_000n}${fracString(secNs % 1_000_000_000n, 9)}s`;
    out = h > 0n ? `${h}h${m}m${sec}` : m > 0n ? `${m}m${sec}` : sec;
  }
  return neg ? `-${out}` : out;
}

/** An instant with the zone offset it was written in (Go keeps the offset for formatting). */
export interface GoTime {
  /** Nanoseconds since the Unix epoch (UTC). */
  ns: bigint;
  /** Offset from UTC in seconds (east positive). */
  offset: number;
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** Layout elements of Go's reference time, longest first where prefixes overlap. */
const LAYOUT_TOKENS = [
  'January',
  'Monday',
  '-07:00:00',
  'Z07:00:00',
  '-07:00',
  'Z07:00',
  '-0700',
  'Z0700',
  '2006',
  '-07',
  'Z07',
  'Jan',
  'Mon',
  'MST',
  '002',
  '__2',
  '_2',
  '01',
  '02',
  '03',
  '04',
  '05',
  '06',
  '15',
  'PM',
  'pm',
  '1',
  '2',
  '3',
  '4',
  '5',
] as const;

export const RFC3339_LAYOUT = '2006-01-02T15:04:05Z07:00';

function parseError(value: string, layout: string, why: string): Error {
  return new Error(`parsing time "${value}" as "${layout}": ${why}`);
}

/** Go `time.Parse(layout, value)` for the layout elements above (no zone abbreviations other than UTC). */
export function parseGoTime(layout: string, value: string): GoTime {
  let year = 1;
  let month = 1;
  let day = 1;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let nanos = 0n;
  let pm: boolean | undefined;
  let offset = 0;
  let yday = -1;
  let l = 0;
  let v = 0;
  const num = (min: number, max: number, what: string): number => {
    const m = new RegExp(`^\\d{${min},${max}}`).exec(value.slice(v));
    if (!m) throw parseError(value, layout, `cannot parse "${value.slice(v)}" as "${what}"`);
    v += m[0].length;
    return Number(m[0]);
  };
  const word = (names: string[], len: number | undefined, what: string): number => {
    const rest = value.slice(v).toLowerCase();
    for (let i = 0; i < names.length; i++) {
      const n = (len ? names[i]!.slice(0, len) : names[i]!).toLowerCase();
      if (rest.startsWith(n)) {
        v += n.length;
        return i;
      }
    }
    throw parseError(value, layout, `cannot parse "${value.slice(v)}" as "${what}"`);
  };
  const fraction = (): void => {
    // Go accepts a fractional second right after the seconds even when the layout has none.
    const m = /^[.,](\d+)/.exec(value.slice(v));
    if (m && !/^[.,][09]/.test(layout.slice(l))) {
      nanos = BigInt(m[1]!.slice(0, 9).padEnd(9, '0'));
      v += m[0].length;
    }
  };
  while (l < layout.length) {
    const tok = LAYOUT_TOKENS.find((t) => layout.startsWith(t, l));
    const fracLayout = /^[.,](0+|9+)/.exec(layout.slice(l));
    if (fracLayout && /^\d/.test(layout.slice(l - 1, l)) && l > 0) {
      l += fracLayout[0].length;
      const m = /^[.,](\d+)/.exec(value.slice(v));
      if (!m) {
        if (fracLayout[1]![0] === '9') continue;
        throw parseError(value, layout, 'missing fractional seconds');
      }
      nanos = BigInt(m[1]!.slice(0, 9).padEnd(9, '0'));
      v += m[0].length;
      continue;
    }
    if (!tok) {
      if (value[v] !== layout[l])
        throw parseError(value, layout, `cannot parse "${value.slice(v)}" as "${layout.slice(l)}"`);
      l++;
      v++;
      continue;
    }
    l += tok.length;
    switch (tok) {
      case '2006':
        year = num(4, 4, '2006');
        break;
      case '06': {
        const y = num(2, 2, '06');
        year = y >= 69 ? 1900 + y : 2000 + y;
        break;
      }
      case 'January':
        month = word(MONTHS, undefined, 'January') + 1;
        break;
      case 'Jan':
        month = word(MONTHS, 3, 'Jan') + 1;
        break;
      case '01':
        month = num(2, 2, '01');
        break;
      case '1':
        month = num(1, 2, '1');
        break;
      case 'Monday':
        word(DAYS, undefined, 'Monday');
        break;
      case 'Mon':
        word(DAYS, 3, 'Mon');
        break;
      case '02':
        day = num(2, 2, '02');
        break;
      case '_2':
        if (value[v] === ' ') v++;
        day = num(1, 2, '_2');
        break;
      case '2':
        day = num(1, 2, '2');
        break;
      case '002':
        yday = num(3, 3, '002');
        break;
      case '__2':
        while (value[v] === ' ') v++;
        yday = num(1, 3, '__2');
        break;
      case '15':
        hour = num(1, 2, '15');
        break;
      case '03':
        hour = num(2, 2, '03');
        break;
      case '3':
        hour = num(1, 2, '3');
        break;
      case '04':
        minute = num(2, 2, '04');
        break;
      case '4':
        minute = num(1, 2, '4');
        break;
      case '05':
        second = num(2, 2, '05');
        fraction();
        break;
      case '5':
        second = num(1, 2, '5');
        fraction();
        break;
      case 'PM':
      case 'pm': {
        const ap = value.slice(v, v + 2).toUpperCase();
        if (ap !== 'AM' && ap !== 'PM')
          throw parseError(value, layout, `cannot parse "${value.slice(v)}" as "PM"`);
        pm = ap === 'PM';
        v += 2;
        break;
      }
      case 'MST': {
        // Go: an abbreviation it does not know is a fabricated zone with a zero offset.
        const m = /^(?:[A-Z]{3,5}|[+-]\d{2,4})/.exec(value.slice(v));
        if (!m) throw parseError(value, layout, `cannot parse "${value.slice(v)}" as "MST"`);
        v += m[0].length;
        break;
      }
      default: {
        // Zone offsets: Z… accept "Z" for UTC.
        if (tok.startsWith('Z') && value[v] === 'Z') {
          v++;
          offset = 0;
          break;
        }
        const colon = tok.includes(':');
        const parts = tok.replace(/^[Z-]/, '').split(':').length;
        const pat =
          tok === '-07' || tok === 'Z07'
            ? /^([+-])(\d{2})/
            : colon
              ? parts === 3
                ? /^([+-])(\d{2}):(\d{2}):(\d{2})/
                : /^([+-])(\d{2}):(\d{2})/
              : /^([+-])(\d{2})(\d{2})/;
        const m = pat.exec(value.slice(v));
        if (!m) throw parseError(value, layout, `cannot parse "${value.slice(v)}" as "${tok}"`);
        v += m[0].length;
        const secs = Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
        offset = m[1] === '-' ? -secs : secs;
      }
    }
  }
  if (v !== value.length) throw parseError(value, layout, `extra text: "${value.slice(v)}"`);
  if (pm !== undefined) {
    if (hour > 12) throw parseError(value, layout, 'hour out of range');
    if (pm && hour < 12) hour += 12;
    if (!pm && hour === 12) hour = 0;
  }
  if (yday >= 0) {
    const d = new Date(Date.UTC(year, 0, yday));
    month = d.getUTCMonth() + 1;
    day = d.getUTCDate();
  }
  if (month < 1 || month > 12) throw parseError(value, layout, 'month out of range');
  if (hour > 23 || minute > 59 || second > 59) throw parseError(value, layout, 'time out of range');
  const daysIn = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > daysIn) throw parseError(value, layout, 'day out of range');
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  const ms = BigInt(d.getTime()) - BigInt(offset) * 1000n;
  return { ns: ms * 1_000_000n + nanos, offset };
}

/** RFC 3339 as Go's `time.RFC3339` parses it (fractional seconds allowed). */
export function parseRfc3339(value: string): GoTime {
  return parseGoTime(RFC3339_LAYOUT, value);
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/** The wall-clock fields of `t` in its own offset. */
export function fields(t: GoTime): {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
} {
  const ms = Number(floorDiv(t.ns, 1_000_000n)) + t.offset * 1000;
  const d = new Date(ms);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    weekday: d.getUTCDay(),
  };
}

const p2 = (n: number) => String(n).padStart(2, '0');

/** Go `t.Format(time.RFC3339)`: seconds precision, `Z` for a zero offset. */
export function formatRfc3339(t: GoTime): string {
  const f = fields(t);
  const year = f.year < 0 ? `-${String(-f.year).padStart(4, '0')}` : String(f.year).padStart(4, '0');
  let zone = 'Z';
  if (t.offset !== 0) {
    const a = Math.abs(t.offset);
    zone = `${t.offset < 0 ? '-' : '+'}${p2(Math.floor(a / 3600))}:${p2(Math.floor((a % 3600) / 60))}`;
  }
  return `${year}-${p2(f.month)}-${p2(f.day)}T${p2(f.hour)}:${p2(f.minute)}:${p2(f.second)}${zone}`;
}

/** Seconds from Go's zero time (0001-01-01 UTC) to the Unix epoch: Truncate counts from there. */
const ZERO_TO_UNIX_NS = 62_135_596_800n * 1_000_000_000n;

/** Go `t.Truncate(d)`: rounds down to a multiple of d since the zero time (d ≤ 0: unchanged). */
export function truncateGoTime(t: GoTime, d: bigint): GoTime {
  if (d <= 0n) return t;
  const abs = t.ns + ZERO_TO_UNIX_NS;
  return { ns: t.ns - (((abs % d) + d) % d), offset: t.offset };
}

/** Now, in the process's local offset (Go `time.Now()`), or UTC. */
export function nowGoTime(utc: boolean, now: number = Date.now()): GoTime {
  const offset = utc ? 0 : -new Date(now).getTimezoneOffset() * 60;
  return { ns: BigInt(now) * 1_000_000n, offset };
}
