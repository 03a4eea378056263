// `seal coverage REG/REPO… -p POLICY…`: how much of a registry the policies would admit. Lists the tags of
// each repository (or the catalog for `REG/*`), resolves them to digests (each digest counted once), and
// evaluates every image as admission would; also reports which images carry verified SLSA provenance and an
// SBOM (attestation by a matching policy's authority, or an attached `.sbom`). Output: table, json, or
// Prometheus textfile-collector text.

import { SealError } from '../errors.js';
import { PREDICATE_TYPE_SHORTCUTS } from '../formats/intoto.js';
import type { Decision, ImageVerifier, LoadedPolicy, PolicySet } from '../policy/types.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import type { CliIO } from './io.js';
import { noteUnusedAttachmentFlags, registryOptionSpecs, registryOptionsFrom } from './common.js';

const options = {
  policy: {
    type: 'strings',
    short: 'p',
    description: 'policy file or directory (repeatable)',
    placeholder: 'PATH',
  },
  output: {
    type: 'string',
    short: 'o',
    default: 'table',
    description: 'table, json or prometheus (textfile-collector format)',
    placeholder: 'FORMAT',
  },
  'max-tags': {
    type: 'string',
    default: '1000',
    description: 'tags read per repository (and repositories read from a catalog)',
    placeholder: 'N',
  },
  concurrency: { type: 'string', default: '8', description: 'images evaluated at once', placeholder: 'N' },
  namespace: {
    type: 'string',
    short: 'n',
    default: 'default',
    description: 'namespace the images are evaluated for (policy namespace match)',
  },
  'trusted-root': {
    type: 'string',
    description: 'TrustedRoot JSON for keyless and log checks',
    placeholder: 'FILE',
  },
  ...registryOptionSpecs,
} as const;

/** Predicate types counted as SLSA provenance and as an SBOM. */
export const PROVENANCE_TYPES = [
  'https://slsa.dev/provenance/v0.1',
  PREDICATE_TYPE_SHORTCUTS.slsaprovenance02!,
  PREDICATE_TYPE_SHORTCUTS.slsaprovenance1!,
];
export const SBOM_TYPES = [
  PREDICATE_TYPE_SHORTCUTS.spdxjson!,
  'https://spdx.dev/Document/v2.3',
  PREDICATE_TYPE_SHORTCUTS.cyclonedx!,
];

/** Metric names written by `-o prometheus` (the deploy/ alert rules read them). */
export const COVERAGE_METRICS = [
  'seal_coverage_images_total',
  'seal_coverage_verified_ratio',
  'seal_coverage_provenance_ratio',
  'seal_coverage_sbom_ratio',
  'seal_coverage_failures_total',
] as const;

export interface ImageCoverage {
  image: string;
  tags: string[];
  verified: boolean;
  provenance: boolean;
  sbom: boolean;
  /** Why it is not verified: the admission decision's reason. */
  reason?: string;
  /** Short failure class: an error code of a failed policy, `no-match`, `unavailable` or `resolve`. */
  failure?: string;
}

export interface RepositoryCoverage {
  repository: string;
  images: number;
  verified: number;
  provenance: number;
  sbom: number;
  /** More tags than --max-tags: only the first were read. */
  truncated: boolean;
  failures: ImageCoverage[];
  /** Tags that could not be resolved to a digest. */
  unresolved: { tag: string; reason: string }[];
}

export interface CoverageReport {
  repositories: RepositoryCoverage[];
  total: { images: number; verified: number; provenance: number; sbom: number };
  failuresByReason: Record<string, number>;
}

function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new SealError('E_INVALID_ARGUMENT', `--${name} must be a positive integer, got "${value}"`);
  return n;
}

function failureClass(d: Decision): string {
  if (d.noMatch) return 'no-match';
  if (d.unavailable) return 'unavailable';
  return d.outcomes.find((o) => !o.ok)?.code ?? 'denied';
}

export interface CoverageDeps {
  verifier: ImageVerifier;
  policies: PolicySet;
  namespace: string;
  concurrency: number;
  signal: AbortSignal;
  /** Does `REPO:sha256-HEX.sbom` exist (an attached SBOM)? */
  hasAttachedSbom(repository: string, digest: string): Promise<boolean>;
  onProgress?(done: number, total: number): void;
}

/** Evaluate one repository's images (digest → tags). */
export async function coverRepository(
  repository: string,
  byDigest: Map<string, string[]>,
  deps: CoverageDeps,
): Promise<ImageCoverage[]> {
  const { evaluate, Evaluator, matchPolicies } = await import('../policy/evaluate.js');
  const { mapBounded } = await import('../oci/repository-images.js');
  const ns = { name: deps.namespace, labels: {} };
  const ctx = { signal: deps.signal };
  const entries = [...byDigest];
  let done = 0;
  return mapBounded(entries, deps.concurrency, async ([digest, tags]) => {
    const image = `${repository}@${digest}`;
    const workload = {
      image,
      container: 'coverage',
      list: 'containers',
      path: '/spec/containers/0/image',
      workloadKind: 'Pod',
    };
    const [d] = await evaluate([workload], ns, deps.policies, deps.verifier, ctx);
    const verified = d!.result === 'allow' && !d!.noMatch;
    const evaluator = new Evaluator(deps.verifier, ctx);
    const rules = matchPolicies(workload, ns, deps.policies.policies, image);
    const attested = async (types: string[]): Promise<boolean> => {
      for (const { policy, rule } of rules)
        for (const set of rule.authoritySets)
          for (const authority of set.entries)
            for (const predicateType of types) {
              const c = await evaluator.verifyAttestationBy(
                image,
                { name: predicateType, predicateType, conditions: [], root: 'statement', attestors: [] },
                authority,
                policy as LoadedPolicy,
              );
              if (c.ok) return true;
            }
      return false;
    };
    const provenance = await attested(PROVENANCE_TYPES);
    const sbom = (await attested(SBOM_TYPES)) || (await deps.hasAttachedSbom(repository, digest));
    deps.onProgress?.(++done, entries.length);
    return {
      image,
      tags: tags.sort(),
      verified,
      provenance,
      sbom,
      ...(verified ? {} : { reason: d!.reason, failure: failureClass(d!) }),
    };
  });
}

function pct(n: number, of: number): string {
  return of === 0 ? '-' : `${((100 * n) / of).toFixed(1)}%`;
}

function ratio(n: number, of: number): number {
  return of === 0 ? 0 : n / of;
}

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** The report as Prometheus text (node_exporter textfile collector). */
export function prometheusText(r: CoverageReport): string {
  const lines: string[] = [];
  const family = (name: string, type: string, help: string) =>
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  const series = (
    name: string,
    f: (x: { images: number; verified: number; provenance: number; sbom: number }) => number,
  ) => {
    for (const repo of r.repositories) lines.push(`${name}{repository="${esc(repo.repository)}"} ${f(repo)}`);
    lines.push(`${name}{repository=""} ${f(r.total)}`);
  };
  family('seal_coverage_images_total', 'gauge', 'Distinct image digests evaluated (repository="" is all).');
  series('seal_coverage_images_total', (x) => x.images);
  family('seal_coverage_verified_ratio', 'gauge', 'Share of images the policies admit.');
  series('seal_coverage_verified_ratio', (x) => ratio(x.verified, x.images));
  family('seal_coverage_provenance_ratio', 'gauge', 'Share of images with verified SLSA provenance.');
  series('seal_coverage_provenance_ratio', (x) => ratio(x.provenance, x.images));
  family('seal_coverage_sbom_ratio', 'gauge', 'Share of images with a verified or attached SBOM.');
  series('seal_coverage_sbom_ratio', (x) => ratio(x.sbom, x.images));
  family('seal_coverage_failures_total', 'gauge', 'Images the policies do not admit, by reason.');
  for (const [reason, n] of Object.entries(r.failuresByReason).sort())
    lines.push(`seal_coverage_failures_total{reason="${esc(reason)}"} ${n}`);
  return `${lines.join('\n')}\n`;
}

function tableText(r: CoverageReport): string {
  const rows = [
    ['REPOSITORY', 'IMAGES', 'VERIFIED', 'PROVENANCE', 'SBOM'],
    ...r.repositories.map((x) => [
      x.repository + (x.truncated ? ' (truncated)' : ''),
      String(x.images),
      pct(x.verified, x.images),
      pct(x.provenance, x.images),
      pct(x.sbom, x.images),
    ]),
    [
      'TOTAL',
      String(r.total.images),
      pct(r.total.verified, r.total.images),
      pct(r.total.provenance, r.total.images),
      pct(r.total.sbom, r.total.images),
    ],
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  let out = rows
    .map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
  const failures = r.repositories.flatMap((x) => x.failures);
  if (failures.length > 0) {
    out += '\n\nFAILURES\n';
    out += failures.map((f) => `${f.image} [${f.failure}] ${f.reason}`).join('\n');
  }
  const unresolved = r.repositories.flatMap((x) =>
    x.unresolved.map((u) => `${x.repository}:${u.tag}: ${u.reason}`),
  );
  if (unresolved.length > 0) out += `\n\nUNRESOLVED TAGS\n${unresolved.join('\n')}`;
  return `${out}\n`;
}

export const command: CommandModule = {
  usage: 'seal coverage -p POLICY... [flags] REGISTRY/REPOSITORY... | REGISTRY/*',
  summary:
    'Report how many images of registry repositories the policies verify (signatures, provenance, SBOM)',
  options,
  async run(argv, io: CliIO) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (o.policy.length === 0) throw new SealError('E_INVALID_ARGUMENT', 'give at least one policy with -p');
    if (positionals.length === 0)
      throw new SealError('E_INVALID_ARGUMENT', 'give at least one REGISTRY/REPOSITORY (or REGISTRY/*)');
    const output = o.output ?? 'table';
    if (!['table', 'json', 'prometheus'].includes(output))
      throw new SealError('E_INVALID_ARGUMENT', `-o must be table, json or prometheus, got "${output}"`);
    const maxTags = positiveInt('max-tags', o['max-tags'] ?? '1000');
    const concurrency = positiveInt('concurrency', o.concurrency ?? '8');

    const { loadPolicyFiles } = await import('../policy/load.js');
    const policies = await loadPolicyFiles(o.policy, { env: io.env });
    for (const w of policies.warnings ?? []) io.stderr(`warning: ${w}\n`);
    const verifierMod = await import('../admission/verifier.js');
    await verifierMod.checkPolicyTrust(policies);
    const trust = await (await import('./tuf-cache.js')).trustedRootFor(o['trusted-root'], io.env);
    let registry: ReturnType<typeof registryOptionsFrom>;
    try {
      noteUnusedAttachmentFlags(
        o,
        'coverage',
        io,
        'policies read signatures at the legacy tags and referrers',
      );
      registry = registryOptionsFrom(o, { io });
    } catch (err) {
      throw new SealError('E_INVALID_ARGUMENT', (err as Error).message);
    }
    const verifier = verifierMod.storeVerifier({ registry, trust });
    const { RegistryStore } = await import('../oci/registry.js');
    const { parseReference } = await import('../oci/ref.js');
    const { listRepositoryImages } = await import('../oci/repository-images.js');
    const store = new RegistryStore(registry);
    const signal = new AbortController().signal;

    // Repositories: as given, or the catalog of REG/*.
    const repositories: string[] = [];
    for (const arg of positionals) {
      const star = /^([^/]+)\/\*$/.exec(arg);
      if (star) {
        const names = await store.catalog(star[1]!, { max: maxTags });
        repositories.push(...names.map((n) => `${star[1]}/${n}`));
      } else {
        const ref = /[:@]/.test(arg.slice(arg.lastIndexOf('/') + 1)) ? undefined : parseReference(arg);
        if (ref?.kind !== 'registry')
          throw new SealError('E_INVALID_ARGUMENT', `"${arg}" is no REGISTRY/REPOSITORY (no tag, no digest)`);
        repositories.push(`${ref.registry}/${ref.repository}`);
      }
    }

    const progress =
      io.isTTY && output !== 'prometheus'
        ? (repo: string, done: number, total: number) => io.stderr(`\r\x1b[K${repo}: ${done}/${total} images`)
        : undefined;
    const deps: CoverageDeps = {
      verifier,
      policies,
      namespace: o.namespace ?? 'default',
      concurrency,
      signal,
      hasAttachedSbom: async (repository, digest) => {
        try {
          await store.resolve(parseReference(`${repository}:${digest.replace(':', '-')}.sbom`), { signal });
          return true;
        } catch {
          return false;
        }
      },
    };

    const report: CoverageReport = {
      repositories: [],
      total: { images: 0, verified: 0, provenance: 0, sbom: 0 },
      failuresByReason: {},
    };
    for (const repository of repositories) {
      const { byDigest, truncated, unresolved } = await listRepositoryImages(store, repository, {
        maxTags,
        concurrency,
        signal,
      });
      if (progress) deps.onProgress = (done, total) => progress(repository, done, total);
      const images = await coverRepository(repository, byDigest, deps);
      const r: RepositoryCoverage = {
        repository,
        images: images.length,
        verified: images.filter((i) => i.verified).length,
        provenance: images.filter((i) => i.provenance).length,
        sbom: images.filter((i) => i.sbom).length,
        truncated,
        failures: images.filter((i) => !i.verified),
        unresolved,
      };
      report.repositories.push(r);
      for (const k of ['images', 'verified', 'provenance', 'sbom'] as const) report.total[k] += r[k];
      for (const f of r.failures)
        report.failuresByReason[f.failure!] = (report.failuresByReason[f.failure!] ?? 0) + 1;
      if (truncated)
        io.stderr(`warning: ${repository} has more than ${maxTags} tags; read the first ${maxTags}\n`);
    }
    if (progress) io.stderr('\r\x1b[K');

    if (output === 'json') io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    else if (output === 'prometheus') io.stdout(prometheusText(report));
    else io.stdout(tableText(report));
    // A report, not a gate: unverified images are counted, not an error.
    return 0;
  },
};
