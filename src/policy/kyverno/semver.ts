// Semantic versions and ranges as Kyverno's `semver_compare` and numeric operators read them (the
// blang/semver rules: strict MAJOR.MINOR.PATCH, ranges `>=1.0.0 <2.0.0 || 3.x`, `!1.2.3`).

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  pre: (string | number)[];
}

const NUM = '(0|[1-9]\\d*)';
const IDENT = '[0-9A-Za-z-]+';
const VERSION_RE = new RegExp(
  `^${NUM}\\.${NUM}\\.${NUM}(?:-(${IDENT}(?:\\.${IDENT})*))?(?:\\+(${IDENT}(?:\\.${IDENT})*))?$`,
);

/** Strict semver parse; undefined when the text is no version. */
export function parseSemver(text: string): SemVer | undefined {
  const m = VERSION_RE.exec(text);
  if (!m) return undefined;
  const pre = (m[4] ? m[4].split('.') : []).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  if (pre.some((p) => typeof p === 'string' && /^0\d/.test(p))) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre };
}

export function compareSemver(a: SemVer, b: SemVer): number {
  for (const k of ['major', 'minor', 'patch'] as const) if (a[k] !== b[k]) return a[k] < b[k] ? -1 : 1;
  if (a.pre.length === 0 || b.pre.length === 0)
    return b.pre.length - a.pre.length === 0 ? 0 : a.pre.length === 0 ? 1 : -1;
  for (let i = 0; i < Math.min(a.pre.length, b.pre.length); i++) {
    const x = a.pre[i]!;
    const y = b.pre[i]!;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x < y ? -1 : 1;
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
  return a.pre.length === b.pre.length ? 0 : a.pre.length < b.pre.length ? -1 : 1;
}

type Comparator = (v: SemVer) => boolean;

function comparator(text: string): Comparator {
  const m = /^(>=|<=|!=|==|>|<|=|!)?\s*(.+)$/.exec(text);
  if (!m) throw new Error(`Could not parse Range "${text}"`);
  let op = m[1] ?? '';
  const ver = m[2]!;
  // Wildcards: 1.x, 1.2.x (and *), expanded as blang/semver does.
  const wild = /^(\d+)(?:\.(\d+|x|X|\*))?(?:\.(x|X|\*))?$/.exec(ver);
  if (wild && (wild[2] === undefined || /[xX*]/.test(wild[2] ?? '') || wild[3] !== undefined)) {
    const major = Number(wild[1]);
    const minorWild = wild[2] === undefined || /[xX*]/.test(wild[2]);
    const minor = minorWild ? 0 : Number(wild[2]);
    const lo = `${major}.${minor}.0`;
    const hi = minorWild ? `${major + 1}.0.0` : `${major}.${minor + 1}.0`;
    if (op === '' || op === '=' || op === '==') return and([comparator(`>=${lo}`), comparator(`<${hi}`)]);
    if (op === '>') return comparator(`>=${hi}`);
    if (op === '>=') return comparator(`>=${lo}`);
    if (op === '<') return comparator(`<${lo}`);
    if (op === '<=') return comparator(`<${hi}`);
    return (v) => !and([comparator(`>=${lo}`), comparator(`<${hi}`)])(v);
  }
  const want = parseSemver(ver);
  if (!want) throw new Error(`Could not parse Range "${text}": invalid version "${ver}"`);
  if (op === '==') op = '=';
  if (op === '!=') op = '!';
  return (v) => {
    const c = compareSemver(v, want);
    switch (op) {
      case '>':
        return c > 0;
      case '>=':
        return c >= 0;
      case '<':
        return c < 0;
      case '<=':
        return c <= 0;
      case '!':
        return c !== 0;
      default:
        return c === 0;
    }
  };
}

function and(cs: Comparator[]): Comparator {
  return (v) => cs.every((c) => c(v));
}

/** blang/semver ParseRange; throws on a malformed range. */
export function parseSemverRange(range: string): Comparator {
  const alternatives = range.split('||').map((alt) => {
    // `>= 1.2.3` (operator, space, version) is joined before splitting on spaces.
    const parts = alt
      .trim()
      .replace(/(>=|<=|!=|==|>|<|=|!)\s+/g, '$1')
      .split(/\s+/)
      .filter(Boolean);
    if (parts.length === 0) throw new Error(`Could not parse Range "${range}"`);
    return and(parts.map(comparator));
  });
  return (v) => alternatives.some((a) => a(v));
}

/** Kyverno `semver_compare(version, range)`: an unparsable version counts as 0.0.0. */
export function semverSatisfies(version: string, range: string): boolean {
  const v = parseSemver(version) ?? { major: 0, minor: 0, patch: 0, pre: [] };
  return parseSemverRange(range)(v);
}
