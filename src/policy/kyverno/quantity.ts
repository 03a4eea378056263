// Kubernetes resource quantities (`500m`, `1.5Gi`, `2e3`) as Kyverno's arithmetic functions and numeric
// condition operators read and print them: exact to the nano unit, printed in canonical form.
// Implements docs/policy.md ("Kyverno JMESPath functions").

export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

export interface Quantity {
  /** The value in units of 10^-9 (rounded up, as Kubernetes does below nano precision). */
  nano: bigint;
  format: QuantityFormat;
  /** Decimal places the value was written with (inf.Dec scale), for division. */
  scale: number;
}

const NANO = 1_000_000_000n;
const BINARY: Record<string, number> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

function ceilDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a > 0n === b > 0n ? q + 1n : q;
}

/** Kubernetes `resource.ParseQuantity`; undefined when the text is no quantity. */
export function parseQuantity(text: string): Quantity | undefined {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/.exec(text);
  if (!m) return undefined;
  const [, sign, whole = '', frac = '', suffix = ''] = m;
  if (whole === '' && frac === '') return undefined;
  const digits = BigInt(`${whole}${frac}` || '0');
  let format: QuantityFormat = 'DecimalSI';
  let exp10 = -frac.length;
  let mult = 1n;
  if (suffix in BINARY) {
    format = 'BinarySI';
    mult = 1024n ** BigInt(BINARY[suffix]!);
  } else if (/^[eE]/.test(suffix)) {
    format = 'DecimalExponent';
    const e = Number(suffix.slice(1));
    if (!Number.isSafeInteger(e) || Math.abs(e) > 1000) return undefined;
    exp10 += e;
  } else exp10 += DECIMAL[suffix]!;
  const scale = Math.max(0, -exp10);
  // value = digits * mult * 10^exp10; in nano units: * 10^(exp10 + 9).
  const shift = exp10 + 9;
  let nano =
    shift >= 0 ? digits * mult * 10n ** BigInt(shift) : ceilDiv(digits * mult, 10n ** BigInt(-shift));
  if (sign === '-') nano = -nano;
  return { nano, format, scale };
}

function decimalCanonical(nano: bigint, exponentStyle: boolean): string {
  if (nano === 0n) return '0';
  const neg = nano < 0n;
  let mant = neg ? -nano : nano;
  let exp = -9;
  while (exp < 18 && mant % 1000n === 0n) {
    mant /= 1000n;
    exp += 3;
  }
  const suffix = exponentStyle
    ? exp === 0
      ? ''
      : `e${exp}`
    : Object.entries(DECIMAL).find(([, e]) => e === exp)![0];
  return `${neg ? '-' : ''}${mant}${suffix}`;
}

/** Kubernetes `Quantity.String()` (canonical form). */
export function formatQuantity(q: Quantity): string {
  if (q.format === 'BinarySI' && q.nano % NANO === 0n) {
    let v = q.nano / NANO;
    const neg = v < 0n;
    if (neg) v = -v;
    if (v >= 1024n) {
      let k = 0;
      while (k < 6 && v % 1024n === 0n) {
        v /= 1024n;
        k++;
      }
      const suffix = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'][k]!;
      return `${neg ? '-' : ''}${v}${suffix}`;
    }
  }
  return decimalCanonical(q.nano, q.format === 'DecimalExponent');
}

export function compareQuantity(a: Quantity, b: Quantity): number {
  return a.nano < b.nano ? -1 : a.nano > b.nano ? 1 : 0;
}

export function quantityToNumber(q: Quantity): number {
  return Number(q.nano) / 1e9;
}

/** A float printed as Go's `%v` would, then read as a quantity (Kyverno's scalar-to-quantity step). */
export function quantityFromNumber(n: number): Quantity {
  const q = parseQuantity(String(n).replace('e+', 'e'));
  if (!q) throw new Error(`cannot read ${n} as a quantity`);
  return q;
}

export function addQuantities(a: Quantity, b: Quantity, negateB = false): Quantity {
  return {
    nano: a.nano + (negateB ? -b.nano : b.nano),
    format: a.nano === 0n ? b.format : a.format,
    scale: Math.max(a.scale, b.scale),
  };
}

export function multiplyQuantity(a: Quantity, n: number): Quantity {
  const b = quantityFromNumber(n);
  return { nano: ceilDiv(a.nano * b.nano, NANO), format: a.format, scale: a.scale + b.scale };
}

/** Quantity / scalar, rounded down at the larger of the two scales (inf.Dec QuoRound, RoundDown). */
export function divideQuantity(a: Quantity, n: number): Quantity {
  const b = quantityFromNumber(n);
  const scale = Math.min(9, Math.max(a.scale, b.scale));
  const unit = 10n ** BigInt(9 - scale);
  const q = (a.nano * NANO) / b.nano; // truncated toward zero, in nano units
  return { nano: (q / unit) * unit, format: a.format, scale };
}
