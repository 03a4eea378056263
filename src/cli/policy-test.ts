// `seal policy test -p POLICY… MANIFEST…`: evaluate Kubernetes manifests against policies before they
// reach a cluster and print one line per image (decision and reason); exit 16 if any image is denied.

import { readFile } from 'node:fs/promises';
import { exitCodeFor, SealError } from '../errors.js';
import { parseArgs } from './args.js';
import type { CommandModule } from './command.js';
import { noteUnusedAttachmentFlags, registryOptionSpecs, registryOptionsFrom } from './common.js';

const options = {
  policy: {
    type: 'strings',
    short: 'p',
    description: 'policy file or directory (repeatable)',
    placeholder: 'PATH',
  },
  namespace: {
    type: 'string',
    short: 'n',
    default: 'default',
    description: 'namespace for objects that name none',
  },
  'namespace-labels': {
    type: 'string',
    description: 'YAML {namespace: {label: value}} for namespace selectors',
    placeholder: 'FILE',
  },
  values: {
    type: 'strings',
    description: 'Kyverno values file (kyverno apply --values): variables for rule context (repeatable)',
    placeholder: 'FILE',
  },
  context: {
    type: 'strings',
    description:
      'Kyverno context file or Kubernetes objects (ConfigMaps…) that rule context reads (repeatable)',
    placeholder: 'FILE',
  },
  offline: {
    type: 'boolean',
    description: 'do not contact registries: print which policies match and what they would require',
  },
  'trusted-root': {
    type: 'string',
    description: 'TrustedRoot JSON for keyless and log checks',
    placeholder: 'FILE',
  },
  output: { type: 'string', short: 'o', default: 'text', description: 'text or json', placeholder: 'FORMAT' },
  ...registryOptionSpecs,
} as const;

export const command: CommandModule = {
  usage: 'seal policy test -p POLICY... [flags] MANIFEST...',
  summary: 'Evaluate Kubernetes manifests against image policies offline (like kyverno apply)',
  options,
  async run(argv, io) {
    const { options: o, positionals } = parseArgs(argv, options);
    if (o.policy.length === 0) throw new SealError('E_INVALID_ARGUMENT', 'give at least one policy with -p');
    if (positionals.length === 0)
      throw new SealError('E_INVALID_ARGUMENT', 'give at least one manifest file');
    const { loadPolicyFiles, loadKyvernoValuesFiles } = await import('../policy/load.js');
    const { workloadsFromYaml, evaluateManifests, describeManifests } = await import(
      '../admission/manifests.js'
    );
    const { namespacesFromFile } = await import('../admission/namespaces.js');
    const valueFiles = [...o.values, ...o.context];
    const values = valueFiles.length > 0 ? await loadKyvernoValuesFiles(valueFiles) : undefined;
    const policies = await loadPolicyFiles(o.policy, {
      env: io.env,
      // Background-only Kyverno policies are evaluated here, as kyverno apply evaluates them.
      backgroundPolicies: true,
      ...(values ? { kyvernoValues: values } : {}),
    });
    for (const w of policies.warnings ?? []) io.stderr(`warning: ${w}\n`);
    await (await import('../admission/verifier.js')).checkPolicyTrust(policies);
    const workloads = [];
    for (const file of positionals) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        throw new SealError('E_IO', `cannot read ${file}: ${(err as Error).message}`);
      }
      workloads.push(...workloadsFromYaml(text, file, o.namespace, policies.policies));
    }
    const namespaces = o['namespace-labels'] ? namespacesFromFile(o['namespace-labels']) : undefined;
    const json = o.output === 'json';

    if (o.offline) {
      const reqs = await describeManifests(workloads, policies, namespaces ? { namespaces } : {});
      if (json)
        io.stdout(
          `${JSON.stringify(
            reqs.map((r) => ({
              workload: `${r.workload.kind}/${r.workload.namespace}/${r.workload.name}`,
              image: r.image.image,
              path: r.image.path,
              requires: r.requirements,
              noMatch: r.noMatch,
              ...(r.invalidReference !== undefined ? { invalidReference: r.invalidReference } : {}),
            })),
            null,
            2,
          )}\n`,
        );
      let denied = false;
      for (const r of reqs) {
        const where = `${r.workload.kind}/${r.workload.namespace}/${r.workload.name} ${r.image.list}/${r.image.container}`;
        if (r.invalidReference !== undefined) {
          denied = true;
          if (!json) io.stdout(`DENY    ${where} ${r.image.image}: ${r.invalidReference}\n`);
        } else if (r.requirements.length === 0) {
          denied ||= r.noMatch === 'deny';
          if (!json)
            io.stdout(
              `${(r.noMatch ?? 'allow').toUpperCase().padEnd(7)} ${where} ${r.image.image}: no policy matches (no-match ${r.noMatch})\n`,
            );
        } else if (!json) {
          for (const line of r.requirements) io.stdout(`REQUIRE ${where} ${r.image.image}: ${line}\n`);
        }
      }
      return denied ? exitCodeFor('E_POLICY_DENIED') : 0;
    }

    const { storeVerifier } = await import('../admission/verifier.js');
    const trust = await (await import('./tuf-cache.js')).trustedRootFor(o['trusted-root'], io.env);
    let registry: ReturnType<typeof registryOptionsFrom>;
    try {
      noteUnusedAttachmentFlags(
        o,
        'policy test',
        io,
        'policies read legacy signatures at the sha256-<hex>.sig/.att tags and referrers, as policy-controller and Kyverno do',
      );
      registry = registryOptionsFrom(o, { io });
    } catch (err) {
      throw new SealError('E_INVALID_ARGUMENT', (err as Error).message);
    }
    const verifier = storeVerifier({ registry, trust });
    // The Secrets policies name for their registry reads come from the --context/--values objects.
    const { secretsFromObjects } = await import('../policy/credentials.js');
    const results = await evaluateManifests(workloads, policies, verifier, {
      ...(namespaces ? { namespaces } : {}),
      secrets: secretsFromObjects(values?.resources ?? []),
    });
    if (json) {
      io.stdout(
        `${JSON.stringify(
          results.map((r) => ({
            workload: `${r.workload.kind}/${r.workload.namespace}/${r.workload.name}`,
            ...r.decision,
          })),
          null,
          2,
        )}\n`,
      );
    } else {
      for (const { workload: w, decision: d } of results) {
        io.stdout(
          `${d.result.toUpperCase().padEnd(5)} ${w.kind}/${w.namespace}/${w.name} ${d.container} ${d.image}${d.digest ? ` (${d.digest})` : ''}: ${d.reason}\n`,
        );
      }
    }
    const denied = results.filter((r) => r.decision.result === 'deny').length;
    if (!json)
      io.stderr(
        `${results.length} image(s): ${denied} denied, ${results.filter((r) => r.decision.result === 'warn').length} warned\n`,
      );
    return denied > 0 ? exitCodeFor('E_POLICY_DENIED') : 0;
  },
};
