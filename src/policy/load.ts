// Loading policy files: multi-document YAML/JSON, dispatched by apiVersion/kind to the seal model or the
// Kyverno / sigstore importers, into one PolicySet. Implements docs/policy.md ("Loading").

import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Lexer, parseAllDocuments } from 'yaml';
import { printable, SealError } from '../errors.js';
import { IVPOL_API_VERSIONS, IVPOL_KINDS, loadImageValidatingPolicy } from './ivpol/load.js';
import { KYVERNO_API_VERSIONS, loadKyvernoPolicy } from './kyverno.js';
import {
  addApiObject,
  addValuesDocument,
  emptyValues,
  type KyvernoValues,
  kyvernoContextPaths,
} from './kyverno/context.js';
import {
  type LoadContext,
  loadImagePolicy,
  loadPolicySettings,
  noMatchRulesFrom,
  type PolicySettingsDocument,
  SEAL_API_VERSION,
} from './model.js';
import { loadClusterImagePolicy, SIGSTORE_API_VERSIONS, sigstoreSecretPaths } from './sigstore.js';
import { resolveRemotePolicies } from './sigstore/spec-policy.js';
import {
  loadTrustRoot,
  type SigstoreTrustRoot,
  TRUSTROOT_API_VERSIONS,
  trustRootTufSource,
} from './sigstore/trustroot.js';
import { fetchTufTrustedRoot } from './sigstore/tuf-source.js';

function isTrustRoot(doc: unknown): boolean {
  const d = doc as { apiVersion?: unknown; kind?: unknown } | null;
  return (
    typeof d === 'object' &&
    d !== null &&
    d.kind === 'TrustRoot' &&
    (TRUSTROOT_API_VERSIONS as readonly unknown[]).includes(d.apiVersion)
  );
}
import type { LoadedPolicy, PolicySet } from './types.js';

/**
 * Deepest nesting a policy text may reach: flow brackets open, plus block indentation and the `-`/`?`/`:`
 * indicators on a line (an over-estimate of block depth). Real policies stay under 40; the YAML composer
 * recurses per level, and near the stack limit V8 can abort the process instead of throwing.
 */
export const MAX_YAML_NESTING = 256;

/** Refuse texts nested deeper than MAX_YAML_NESTING, from the lexer's tokens (iterative, linear). */
function checkYamlNesting(text: string, origin: string): void {
  let flow = 0;
  let line = 0;
  let atLineStart = true;
  for (const token of new Lexer().lex(text)) {
    switch (token) {
      case '[':
      case '{':
        flow++;
        break;
      case ']':
      case '}':
        if (flow > 0) flow--;
        break;
      case '\n':
      case '\r\n':
        line = 0;
        atLineStart = true;
        continue;
      case '-':
      case '?':
      case ':':
        line++;
        break;
      default:
        if (atLineStart && /^ +$/.test(token)) line += token.length;
    }
    atLineStart = false;
    if (flow + line > MAX_YAML_NESTING) {
      throw new SealError(
        'E_POLICY_INVALID',
        `${origin}: YAML nested deeper than ${MAX_YAML_NESTING} levels (brackets, indentation and indicators)`,
      );
    }
  }
}

/** Parse a multi-document YAML (or JSON) text; E_POLICY_INVALID on syntax errors. Empty documents are dropped. */
export function parseYamlDocuments(text: string, origin: string): unknown[] {
  checkYamlNesting(text, origin);
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  const out: unknown[] = [];
  for (const [i, doc] of docs.entries()) {
    if (doc.errors.length > 0) {
      throw new SealError(
        'E_POLICY_INVALID',
        `${origin}#${i + 1}: YAML does not parse: ${doc.errors[0]!.message}`,
      );
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (cause) {
      // The yaml library throws a ReferenceError for an alias bomb (more than maxAliasCount expansions).
      throw new SealError(
        'E_POLICY_INVALID',
        `${origin}#${i + 1}: YAML does not resolve: ${(cause as Error).message}`,
        { cause },
      );
    }
    if (value === null || value === undefined) continue;
    out.push(value);
  }
  return out;
}

interface Accumulator {
  policies: LoadedPolicy[];
  settings?: PolicySettingsDocument['spec'];
}

function loadDocument(doc: unknown, ctx: LoadContext, acc: Accumulator): void {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new SealError('E_POLICY_INVALID', `${ctx.origin}: a policy document must be a mapping`);
  }
  const { apiVersion, kind } = doc as { apiVersion?: unknown; kind?: unknown };
  if (kind === 'List' && Array.isArray((doc as { items?: unknown }).items)) {
    for (const [i, item] of (doc as { items: unknown[] }).items.entries()) {
      loadDocument(item, { ...ctx, origin: `${ctx.origin}.items[${i}]` }, acc);
    }
    return;
  }
  if (apiVersion === SEAL_API_VERSION && kind === 'ImagePolicy') acc.policies.push(loadImagePolicy(doc, ctx));
  else if (apiVersion === SEAL_API_VERSION && kind === 'PolicySettings') {
    if (acc.settings)
      throw new SealError('E_POLICY_INVALID', `${ctx.origin}: a second PolicySettings document`);
    acc.settings = loadPolicySettings(doc, ctx);
  } else if (
    (KYVERNO_API_VERSIONS as readonly unknown[]).includes(apiVersion) &&
    (kind === 'ClusterPolicy' || kind === 'Policy')
  ) {
    acc.policies.push(...loadKyvernoPolicy(doc, ctx));
  } else if (
    (IVPOL_API_VERSIONS as readonly unknown[]).includes(apiVersion) &&
    (IVPOL_KINDS as readonly unknown[]).includes(kind)
  ) {
    acc.policies.push(...loadImageValidatingPolicy(doc, ctx));
  } else if (
    (SIGSTORE_API_VERSIONS as readonly unknown[]).includes(apiVersion) &&
    kind === 'ClusterImagePolicy'
  ) {
    acc.policies.push(loadClusterImagePolicy(doc, ctx));
  } else {
    throw new SealError(
      'E_POLICY_INVALID',
      `${ctx.origin}: unsupported policy kind ${printable(apiVersion)}/${printable(kind)} (seal reads ${SEAL_API_VERSION} ImagePolicy/PolicySettings, kyverno.io ClusterPolicy/Policy, policies.kyverno.io (Namespaced)ImageValidatingPolicy, policy.sigstore.dev ClusterImagePolicy)`,
    );
  }
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Kyverno context offline (--values / --context files). */
  kyvernoValues?: KyvernoValues;
  /**
   * Read what Kyverno context entries name from the cluster (ConfigMaps, GET apiCalls) before loading:
   * the webhook's Kubernetes API GET; undefined = not found.
   */
  kyvernoClusterGet?: (path: string) => Promise<unknown | undefined>;
  /**
   * The trusted roots policy-controller TrustRoots' `remote`/`repository` sources yielded, by source key
   * (loadPolicyFiles reads them through TUF first: resolveTrustRootSources).
   */
  trustRootTuf?: ReadonlyMap<string, unknown>;
  /**
   * Also load Kyverno policies that apply only in background scans (ImageValidatingPolicy
   * `evaluation.admission.enabled: false`): `policy test` evaluates them, as `kyverno apply` does; the
   * webhook does not load them (a warning says so).
   */
  backgroundPolicies?: boolean;
  /**
   * policy-controller `policy.remote` bodies by URL + digest (loadPolicyFiles fetches them first:
   * resolveRemotePolicies).
   */
  remotePolicies?: ReadonlyMap<string, string>;
  /** How remote policies are fetched (tests: a loopback server is reached with the global fetch too). */
  fetch?: typeof fetch;
}

/**
 * Read the trusted root of every TrustRoot with a `remote` or `repository` source among `docs` through TUF
 * (bounded, cached: tuf-source.ts). A malformed source is E_POLICY_INVALID naming the field.
 */
export async function resolveTrustRootSources(
  files: { name: string; docs: unknown[] }[],
  env?: NodeJS.ProcessEnv,
): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  for (const { name, docs } of files) {
    for (const [i, doc] of docs.entries()) {
      if (!isTrustRoot(doc)) continue;
      const origin = docs.length > 1 ? `${name}#${i + 1}` : name;
      const source = trustRootTufSource(doc, origin);
      if (!source || out.has(source.key)) continue;
      out.set(source.key, await fetchTufTrustedRoot(source, `${origin}: spec`, env ? { env } : {}));
    }
  }
  return out;
}

/** Load policies from texts already read (name → content). Throws E_POLICY_INVALID naming file#doc and field. */
export function loadPolicyTexts(
  files: { name: string; text: string; baseDir?: string }[],
  opts: LoadOptions = {},
): PolicySet {
  const acc: Accumulator = { policies: [] };
  const warnings: string[] = [];
  const parsed = files.map((file) => ({ file, docs: parseYamlDocuments(file.text, file.name) }));
  // policy-controller TrustRoots first: a ClusterImagePolicy names them (trustRootRef) wherever they are.
  const trustRoots = new Map<string, SigstoreTrustRoot>();
  for (const { file, docs } of parsed) {
    docs.forEach((doc, i) => {
      if (!isTrustRoot(doc)) return;
      const origin = docs.length > 1 ? `${file.name}#${i + 1}` : file.name;
      const tr = loadTrustRoot(doc, origin, opts.trustRootTuf);
      const prev = trustRoots.get(tr.name);
      if (prev)
        throw new SealError(
          'E_POLICY_INVALID',
          `${origin}: TrustRoot "${tr.name}" is also defined in ${prev.origin}`,
        );
      trustRoots.set(tr.name, tr);
    });
  }
  for (const { file, docs } of parsed) {
    docs.forEach((doc, i) => {
      if (isTrustRoot(doc)) return;
      const ctx: LoadContext = { origin: docs.length > 1 ? `${file.name}#${i + 1}` : file.name };
      if (file.baseDir) ctx.baseDir = file.baseDir;
      if (opts.env) ctx.env = opts.env;
      if (opts.kyvernoValues) ctx.kyvernoValues = opts.kyvernoValues;
      if (opts.backgroundPolicies) ctx.backgroundPolicies = true;
      ctx.sigstoreTrustRoots = trustRoots;
      ctx.warnings = warnings;
      if (opts.remotePolicies) ctx.remotePolicies = opts.remotePolicies;
      loadDocument(doc, ctx, acc);
    });
  }
  const seen = new Map<string, string>();
  for (const p of acc.policies) {
    const id = `${p.source}/${p.namespace ?? ''}/${p.name}/${p.rules[0]?.name ?? ''}`;
    const prev = seen.get(id);
    if (prev && prev !== p.origin) {
      throw new SealError('E_POLICY_INVALID', `${p.origin}: policy "${p.name}" is also defined in ${prev}`);
    }
    seen.set(id, p.origin);
  }
  const set: PolicySet = {
    policies: acc.policies,
    noMatch: noMatchRulesFrom(
      acc.settings,
      acc.policies.some((p) => p.source === 'sigstore'),
    ),
  };
  if (warnings.length > 0) set.warnings = warnings;
  return set;
}

/** Load policy files and directories (every *.yaml, *.yml, *.json in a directory, sorted, not recursive). */
export async function loadPolicyFiles(paths: string[], opts: LoadOptions = {}): Promise<PolicySet> {
  const files: { name: string; text: string; baseDir: string }[] = [];
  for (const path of paths) {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(path);
    } catch (err) {
      throw new SealError('E_IO', `cannot read policy ${path}: ${(err as Error).message}`, { cause: err });
    }
    const names = info.isDirectory()
      ? (await readdir(path))
          .filter((n) => /\.(ya?ml|json)$/i.test(n) && !n.startsWith('.'))
          .sort()
          .map((n) => join(path, n))
      : [path];
    for (const name of names) {
      files.push({ name, text: await readFile(name, 'utf8'), baseDir: dirname(name) });
    }
  }
  const parsed = files.map((f) => {
    try {
      return { name: f.name, docs: parseYamlDocuments(f.text, f.name) };
    } catch {
      return { name: f.name, docs: [] }; // reported by loadPolicyTexts below
    }
  });
  if (parsed.some((f) => f.docs.some(isTrustRoot))) {
    const tuf = await resolveTrustRootSources(parsed, opts.env);
    if (tuf.size > 0) opts = { ...opts, trustRootTuf: tuf };
  }
  const remote = await resolveRemotePolicies(parsed, opts.fetch);
  if (remote.size > 0) opts = { ...opts, remotePolicies: remote };
  if (opts.kyvernoClusterGet) {
    const docs = parsed.flatMap((f) => f.docs);
    const paths = [...kyvernoContextPaths(docs), ...sigstoreSecretPaths(docs, opts.env)];
    if (paths.length > 0) {
      const values = opts.kyvernoValues ?? emptyValues();
      for (const p of paths) {
        const body = await opts.kyvernoClusterGet(p);
        if (body !== undefined) addApiObject(values, body);
      }
      return loadPolicyTexts(files, { ...opts, kyvernoValues: values });
    }
  }
  return loadPolicyTexts(files, opts);
}

/** Read `kyverno apply --values` / `kyverno test --context` files (or plain Kubernetes objects) into one set. */
export async function loadKyvernoValuesFiles(paths: string[]): Promise<KyvernoValues> {
  const values = emptyValues();
  for (const path of paths) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new SealError('E_IO', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
    }
    for (const doc of parseYamlDocuments(text, path)) addValuesDocument(values, doc, path);
  }
  return values;
}
