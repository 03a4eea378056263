// Kubernetes label selectors (matchLabels + matchExpressions) and policy match blocks over a workload's
// namespace, kind and name. Implements the meta/v1 LabelSelector semantics used by docs/policy.md.

import { nameWildcardMatches } from './glob.js';
import type { LabelSelector, NamespaceInfo, PolicyMatch } from './types.js';

/** An empty selector matches everything, as in Kubernetes. */
export function selectorMatches(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const req of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, req.key);
    const value = labels[req.key];
    switch (req.operator) {
      case 'In':
        if (!has || !(req.values ?? []).includes(value!)) return false;
        break;
      case 'NotIn':
        if (has && (req.values ?? []).includes(value!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** Does one match block apply to this namespace / workload? */
export function matchApplies(
  match: PolicyMatch,
  ns: NamespaceInfo,
  workload: { kind: string; name?: string; labels?: Record<string, string> },
): boolean {
  if (match.kinds && !match.kinds.some((k) => k === '*' || k === workload.kind)) return false;
  if (match.namespaces && !match.namespaces.some((p) => nameWildcardMatches(p, ns.name))) return false;
  if (match.namespaceSelector && !selectorMatches(match.namespaceSelector, ns.labels)) return false;
  if (match.names && !match.names.some((p) => nameWildcardMatches(p, workload.name ?? ''))) return false;
  if (match.objectSelector && !selectorMatches(match.objectSelector, workload.labels ?? {})) return false;
  return true;
}
