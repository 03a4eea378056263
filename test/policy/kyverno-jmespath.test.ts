// Kyverno's JMESPath functions with Kyverno's semantics (expected values from Kyverno's documentation and
// its pkg/engine/jmespath tests), load-time refusal of unknown functions, and the kyverno/policies
// require-vulnerability-scan policy end to end: a fresh scan passes, a stale one fails "condition failed".

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { evaluateConditions } from '../../src/policy/conditions.js';
import { evaluate } from '../../src/policy/evaluate.js';
import { formatGoDuration, parseGoDuration } from '../../src/policy/kyverno/gotime.js';
import { KNOWN_FUNCTIONS, kyvernoSearch } from '../../src/policy/kyverno/jmespath.js';
import { formatQuantity, parseQuantity } from '../../src/policy/kyverno/quantity.js';
import { loadPolicyTexts } from '../../src/policy/load.js';
import type { ConditionBlock, NamespaceInfo } from '../../src/policy/types.js';
import { createInMemoryWorld, type World } from '../admission/support/world.js';

const FIX = join(import.meta.dirname, '../fixtures/kyverno');
const q = (expr: string, data: unknown = {}) => kyvernoSearch(data, expr);

describe('Kyverno JMESPath: strings', () => {
  it('compare, equal_fold, replace, replace_all, case, trim, split, truncate', () => {
    expect(q("compare('a', 'b')")).toBe(-1);
    expect(q("compare('b', 'a')")).toBe(1);
    expect(q("compare('a', 'a')")).toBe(0);
    expect(q("equal_fold('Go', 'GO')")).toBe(true);
    expect(q("replace('Lorem ipsum dolor sit amet', 'ipsum', 'muspi', `-1`)")).toBe(
      'Lorem muspi dolor sit amet',
    );
    expect(q("replace('aaaa', 'a', 'b', `2`)")).toBe('bbaa');
    expect(q("replace_all('Lorem ipsum dolor sit amet', 'Lorem', 'muspi')")).toBe(
      'muspi ipsum dolor sit amet',
    );
    expect(q("to_upper('abc')")).toBe('ABC');
    expect(q("to_lower('ABC')")).toBe('abc');
    expect(q("trim('¡¡¡Hello, Gophers!!!', '!¡')")).toBe('Hello, Gophers');
    expect(q("trim_prefix('¡¡¡Hello, Gophers!!!', '¡¡¡Hello, ')")).toBe('Gophers!!!');
    expect(q("split('Hello, Gophers', ', ')")).toEqual(['Hello', 'Gophers']);
    expect(q("truncate('Lorem ipsum dolor sit amet', `5`)")).toBe('Lorem');
    expect(q("truncate('Lorem ipsum', `2.6`)")).toBe('Lo');
    expect(q("truncate('Lorem ipsum', `-1`)")).toBe('');
    expect(q("base64_encode('hello')")).toBe('aGVsbG8=');
    expect(q("base64_decode('aGVsbG8=')")).toBe('hello');
    expect(() => q("base64_decode('***')")).toThrow(/base64/);
    expect(q("to_boolean('TrUe')")).toBe(true);
    expect(() => q("to_boolean('yes')")).toThrow(/'true' or 'false'/);
    expect(q("path_canonicalize('/var/run///containerd////')")).toBe('/var/run/containerd');
    expect(q("path_canonicalize('/run/../etc')")).toBe('/etc');
    expect(q("path_canonicalize('/../../')")).toBe('/');
    expect(q("sha256('hello')")).toBe('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
    expect(q("image_normalize('nginx')")).toBe('docker.io/nginx:latest');
    expect(q("image_normalize('ghcr.io/nginx:1.2')")).toBe('ghcr.io/nginx:1.2');
    expect(q("is_external_url('http://10.0.0.1/x')")).toBe(false);
    expect(q("is_external_url('https://8.8.8.8/')")).toBe(true);
  });

  it('regex_match, regex_replace_all (Go templates), regex_replace_all_literal, pattern_match', () => {
    expect(q("regex_match('^[0-9]+$', '1234')")).toBe(true);
    expect(q("regex_match('^[0-9]+$', `1234`)")).toBe(true);
    expect(q("regex_match('(?i)^abc$', 'ABC')")).toBe(true);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a Go replacement template, not JavaScript
    expect(q("regex_replace_all('([Hh]e|G)l', 'Hello, Gophers', '${1}G')")).toBe('HeGlo, Gophers');
    expect(
      q("regex_replace_all('(?P<first>\\\\w+) (?P<second>\\\\w+)', 'hello world', '$second $first')"),
    ).toBe('world hello');
    expect(q("regex_replace_all_literal('[Hh]el?', 'Hello, Gophers', 'G')")).toBe('Glo, GopGrs');
    expect(q("regex_replace_all_literal('l', 'hello', '$1')")).toBe('he$1$1o');
    expect(q("pattern_match('prefix-*', 'prefix-suffix')")).toBe(true);
    expect(q("pattern_match('a?c', 'abc')")).toBe(true);
    expect(q("pattern_match('a?c', 'abbc')")).toBe(false);
  });

  it('objects: label_match, lookup, items, object_from_lists, parse_json, parse_yaml', () => {
    const data = { labels: { app: 'web', tier: 'fe' }, want: { app: 'web' } };
    expect(q('label_match(want, labels)', data)).toBe(true);
    expect(q("label_match({app: 'db'}, labels)", data)).toBe(false);
    expect(q("lookup(labels, 'tier')", data)).toBe('fe');
    expect(q('lookup(`[1,2,3]`, `1`)')).toBe(2);
    expect(q('lookup(`[1,2,3]`, `9`)')).toBeNull();
    expect(q("items(labels, 'key', 'value')", data)).toEqual([
      { key: 'app', value: 'web' },
      { key: 'tier', value: 'fe' },
    ]);
    expect(q('items(`["a","b"]`, \'i\', \'v\')')).toEqual([
      { i: 0, v: 'a' },
      { i: 1, v: 'b' },
    ]);
    expect(q('object_from_lists(`["a","b"]`, `[1]`)')).toEqual({ a: 1, b: null });
    expect(q('parse_json(\'{"a": [1, true]}\')')).toEqual({ a: [1, true] });
    expect(q("parse_yaml('a: [1, x]')")).toEqual({ a: [1, 'x'] });
  });
});

describe('Kyverno JMESPath: arithmetic with numbers, quantities and durations', () => {
  it("follows Kyverno's type table", () => {
    expect(q('add(`12`, `13`)')).toBe(25);
    expect(q("add('12Ki', '13Ki')")).toBe('25Ki');
    expect(q("add('12Ki', '13')")).toBe('12301');
    expect(q("add('12s', '13s')")).toBe('25s');
    expect(() => q("add('12s', `13`)")).toThrow(/types mismatch/);
    expect(() => q("add(`12`, '13Ki')")).toThrow(/types mismatch/);
    expect(q("sum(['12Ki', '13Ki', '1Ki', '4Ki'])")).toBe('30Ki');
    expect(q("sum(['12s', '13s'])")).toBe('25s');
    expect(() => q('sum(`[]`)')).toThrow(/at least one element/);
    // '30m' reads as a quantity (30 milli) first, as in Kyverno: a duration needs another spelling.
    expect(() => q("subtract('1h', '30m')")).toThrow(/types mismatch/);
    expect(q("subtract('1h', '30m0s')")).toBe('30m0s');
    expect(q("subtract('1Gi', '512Mi')")).toBe('512Mi');
    expect(q("multiply('250m', `4`)")).toBe('1');
    expect(q("multiply(`3`, '1h')")).toBe('3h0m0s');
    expect(q("divide('1Gi', '256Mi')")).toBe(4);
    expect(q("divide('1h', '30m0s')")).toBe(2);
    expect(q("divide('1h', `4`)")).toBe('15m0s');
    expect(() => q('divide(`1`, `0`)')).toThrow(/Zero divisor/);
    expect(q('modulo(`7`, `3`)')).toBe(1);
    expect(q("modulo('1h', '25m0s')")).toBe('10m0s');
    expect(() => q('modulo(`7.5`, `3`)')).toThrow(/Non-integer/);
    expect(q('round(`3.14159`, `2`)')).toBe(3.14);
    expect(q('round(`2.5`, `0`)')).toBe(3);
  });

  it('reads and prints quantities and durations as Kubernetes and Go do', () => {
    for (const [text, canonical] of [
      ['1500', '1500'],
      ['2000', '2k'],
      ['0.5', '500m'],
      ['1.5', '1500m'],
      ['1536Mi', '1536Mi'],
      ['1024Ki', '1Mi'],
      ['1e3', '1e3'],
      ['100m', '100m'],
    ] as const) {
      expect(formatQuantity(parseQuantity(text)!)).toBe(canonical);
    }
    expect(parseQuantity('168h')).toBeUndefined();
    for (const [text, canonical] of [
      ['1h30m', '1h30m0s'],
      ['90s', '1m30s'],
      ['1.5s', '1.5s'],
      ['1500ms', '1.5s'],
      ['300ms', '300ms'],
      ['1.5us', '1.5µs'],
      ['-2h', '-2h0m0s'],
      ['0', '0s'],
    ] as const) {
      expect(formatGoDuration(parseGoDuration(text)!)).toBe(canonical);
    }
    expect(parseGoDuration('1d')).toBeUndefined();
  });
});

describe('Kyverno JMESPath: time', () => {
  it('parses, adds, compares and prints times as Go does', () => {
    expect(q("time_since('', '2021-01-02T15:04:05-07:00', '2021-01-10T03:14:05-07:00')")).toBe('180h10m0s');
    expect(
      q(
        "time_since('Mon Jan _2 15:04:05 MST 2006', 'Mon Jan 02 15:04:05 MST 2021', 'Mon Jan 10 03:14:16 MST 2021')",
      ),
    ).toBe('180h10m11s');
    expect(q("time_to_cron('2023-02-02T15:04:05Z')")).toBe('4 15 2 2 4');
    expect(q("time_to_cron(time_utc('2023-02-02T15:04:05-07:00'))")).toBe('4 22 2 2 4');
    expect(q("time_add('2021-01-02T15:04:05-07:00', '3h')")).toBe('2021-01-02T18:04:05-07:00');
    expect(
      q(
        "time_add(time_parse('Mon Jan 02 15:04:05 -0700 2006', 'Sat Jan 02 15:04:05 -0700 2021'), '5h30m40s')",
      ),
    ).toBe('2021-01-02T20:34:45-07:00');
    expect(q("time_parse('1702691171', '1702691171')")).toBe('2023-12-16T01:46:11Z');
    expect(q("time_utc('2023-02-02T15:04:05-07:00')")).toBe('2023-02-02T22:04:05Z');
    expect(q("time_diff('2021-01-02T15:04:05-07:00', '2021-01-10T03:14:05-07:00')")).toBe('180h10m0s');
    expect(q("time_before('2023-01-12T14:07:55Z', '2023-01-12T15:07:55Z')")).toBe(true);
    expect(q("time_after('2023-01-12T14:07:55Z', '2023-01-12T15:07:55Z')")).toBe(false);
    expect(q("time_between('2023-01-12T14:07:55Z', '2023-01-12T14:00:00Z', '2023-01-12T15:00:00Z')")).toBe(
      true,
    );
    expect(q("time_truncate('2023-01-12T17:37:00Z', '1h')")).toBe('2023-01-12T17:00:00Z');
    expect(q("time_since('', '2023-01-12T17:37:00.123Z', '2023-01-12T17:37:01Z')")).toBe('877ms');
    expect(q('time_now_utc()')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(() => q("time_add('2021-01-02', '3h')")).toThrow(/time_add/);
  });
});

describe('Kyverno JMESPath: semver and random', () => {
  it('semver_compare follows blang/semver ranges', () => {
    expect(q("semver_compare('4.1.3','>=4.1.x')")).toBe(true);
    expect(q("semver_compare('4.1.3','!4.x.x')")).toBe(false);
    expect(q("semver_compare('1.8.6','>1.0.0 <2.0.0')")).toBe(true);
    expect(q("semver_compare('2.1.5','<2.0.0 || >=3.0.0')")).toBe(false);
    expect(q("semver_compare('1.0.0-alpha','<1.0.0')")).toBe(true);
  });

  it('random generates a string matching its pattern', () => {
    for (let i = 0; i < 20; i++) {
      expect(q("random('[0-9a-z]{5}')")).toMatch(/^[0-9a-z]{5}$/);
      expect(q("random('(ab|cd)-\\\\d{2,3}')")).toMatch(/^(ab|cd)-\d{2,3}$/);
    }
  });
});

describe('Kyverno conditions: numeric operators on durations, quantities and versions', () => {
  const one = (key: unknown, operator: string, value: unknown): boolean =>
    evaluateConditions([{ all: [{ key, operator, value } as never], any: [] } as ConditionBlock], {}).ok;
  it('compares as Kyverno does', () => {
    expect(one('100h', 'LessThanOrEquals', '168h')).toBe(true);
    expect(one('200h', 'LessThanOrEquals', '168h')).toBe(false);
    expect(one(3600, 'GreaterThanOrEquals', '1h')).toBe(true);
    expect(one('1Gi', 'GreaterThan', '1000Mi')).toBe(true);
    expect(one('500m', 'LessThan', '1')).toBe(true);
    expect(one('1.10.0', 'GreaterThan', '1.9.3')).toBe(true);
    expect(one('abc', 'GreaterThan', '1')).toBe(false);
    expect(one('2h', 'DurationGreaterThan', '90m')).toBe(true);
    expect(one('30m', 'DurationGreaterThanOrEquals', '1h')).toBe(false);
  });
});

describe('Kyverno policies: load-time checks of JMESPath', () => {
  const policy = (key: string) => `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: p}
spec:
  rules:
    - name: r
      match: {any: [{resources: {kinds: [Pod]}}]}
      verifyImages:
        - imageReferences: ["ghcr.io/acme/*"]
          attestations:
            - type: https://example.com/scan
              attestors:
                - entries:
                    - keyless: {subject: "s", issuer: "i", rekor: {url: "https://rekor.sigstore.dev"}}
              conditions:
                - all:
                    - key: "${key}"
                      operator: Equals
                      value: "x"
`;
  it('refuses an unknown function, naming the path and the function', () => {
    expect(() =>
      loadPolicyTexts([{ name: 'p.yaml', text: policy("{{ time_sincex('', scanned, '') }}") }]),
    ).toThrow(
      /spec\.rules\[0\]\.verifyImages\[0\]\.attestations\[0\]\.conditions\[0\].*key.*time_sincex\(\)/,
    );
  });

  it('accepts every function Kyverno documents', () => {
    for (const f of [
      'time_since',
      'x509_decode',
      'semver_compare',
      'items',
      'lookup',
      'sha256',
      'regex_match',
    ]) {
      expect(KNOWN_FUNCTIONS.has(f)).toBe(true);
    }
    expect(() =>
      loadPolicyTexts([{ name: 'p.yaml', text: policy("{{ to_upper(trim_prefix(name, 'a')) }}") }]),
    ).not.toThrow();
  });
});

describe('kyverno/policies require-vulnerability-scan', () => {
  const NS: NamespaceInfo = { name: 'default', labels: {} };
  const CI = {
    subject: 'https://github.com/myorg/myrepo/.github/workflows/scan.yml@refs/heads/main',
    issuer: 'https://token.actions.githubusercontent.com',
  };
  let world: World;
  beforeEach(async () => {
    world = await createInMemoryWorld();
  });

  async function run(scanFinishedOn: string) {
    const text = await readFile(join(FIX, 'policies-require-vulnerability-scan.yaml'), 'utf8');
    const set = loadPolicyTexts([{ name: 'require-vulnerability-scan.yaml', text }]);
    const tag = `ghcr.io/myorg/myrepo:${Math.random().toString(36).slice(2, 8)}`;
    const digest = await world.publish(tag);
    await world.attest(
      `ghcr.io/myorg/myrepo@${digest}`,
      { identity: CI },
      // The policy names the type without a scheme; Kyverno compares predicate types exactly.
      'cosign.sigstore.dev/attestation/vuln/v1',
      {
        scanner: { uri: 'pkg:github/aquasecurity/trivy' },
        metadata: { scanStartedOn: scanFinishedOn, scanFinishedOn },
      },
    );
    const [d] = await evaluate(
      [
        {
          image: tag,
          container: 'app',
          list: 'containers',
          path: '/spec/containers/0/image',
          workloadKind: 'Pod',
        },
      ],
      NS,
      set,
      world.verifier,
      { signal: AbortSignal.timeout(5000) },
    );
    return d!;
  }

  it('passes an image scanned a day ago', async () => {
    const d = await run(new Date(Date.now() - 24 * 3600_000).toISOString());
    expect(d.outcomes[0]!.ok).toBe(true);
  });

  it('fails an image scanned eight days ago with "condition failed", not an authority count', async () => {
    const d = await run(new Date(Date.now() - 8 * 24 * 3600_000).toISOString());
    const o = d.outcomes[0]!;
    expect(o.ok).toBe(false);
    expect(o.code).toBe('E_CONDITION_FAILED');
    expect(o.failedCheck).toContain('condition failed');
    expect(o.failedCheck).not.toMatch(/authorities verified/);
    expect(d.reason).toContain('168h');
  });
});
