// deploy/ manifests validated without a cluster: every document against the Kubernetes OpenAPI schemas
// (kubernetes-models ships them compiled with ajv), plus a strict zod model of the webhook configuration
// fields seal relies on (the OpenAPI schemas do not reject unknown fields; kubeconform's -strict would).

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import { ValidatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { loadPolicyTexts } from '../../src/policy/load.js';

const DEPLOY = join(import.meta.dirname, '../../deploy');

type Validatable = { validate(): void };
const MODELS: Record<string, new (data: never) => Validatable> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration': ValidatingWebhookConfiguration,
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': MutatingWebhookConfiguration,
};

interface Doc {
  file: string;
  value: { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown };
}

function documents(): Doc[] {
  const out: Doc[] = [];
  for (const file of readdirSync(DEPLOY).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')) {
    for (const d of parseAllDocuments(readFileSync(join(DEPLOY, file), 'utf8'))) {
      expect(d.errors).toEqual([]);
      const value = d.toJS() as Doc['value'] | null;
      if (value) out.push({ file, value });
    }
  }
  return out;
}

const selectorReq = z.strictObject({
  key: z.string(),
  operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
  values: z.array(z.string()).optional(),
});
const webhookSchema = (mutating: boolean) =>
  z.strictObject({
    name: z.string().regex(/^[a-z0-9-]+(\.[a-z0-9-]+){2,}$/),
    admissionReviewVersions: z.tuple([z.literal('v1')]),
    sideEffects: z.literal('None'),
    timeoutSeconds: z.number().int().min(1).max(30),
    failurePolicy: z.enum(['Fail', 'Ignore']),
    matchPolicy: z.enum(['Equivalent', 'Exact']),
    ...(mutating ? { reinvocationPolicy: z.enum(['Never', 'IfNeeded']) } : {}),
    clientConfig: z.strictObject({
      service: z.strictObject({
        namespace: z.string(),
        name: z.string(),
        path: z.enum(['/validate', '/mutate']),
        port: z.number(),
      }),
      caBundle: z.base64(),
    }),
    namespaceSelector: z.strictObject({ matchExpressions: z.array(selectorReq) }),
    rules: z.array(
      z.strictObject({
        apiGroups: z.array(z.string()),
        apiVersions: z.array(z.string()),
        operations: z.array(z.enum(['CREATE', 'UPDATE'])),
        resources: z.array(z.string()),
        scope: z.literal('Namespaced'),
      }),
    ),
  });

describe('deploy/ manifests', () => {
  const docs = documents();

  it('every document validates against its Kubernetes OpenAPI schema', () => {
    expect(docs.length).toBeGreaterThanOrEqual(10);
    for (const { file, value } of docs) {
      const Model = MODELS[`${value.apiVersion}/${value.kind}`];
      expect(Model, `${file}: no schema for ${value.apiVersion}/${value.kind}`).toBeDefined();
      expect(
        () => new Model!(value as never).validate(),
        `${file} ${value.kind}/${value.metadata.name}`,
      ).not.toThrow();
    }
  });

  it('the schemas do catch mistakes (a bad failurePolicy, a missing container image type)', () => {
    const hook = docs.find((d) => d.value.kind === 'ValidatingWebhookConfiguration')!.value;
    const broken = structuredClone(hook) as unknown as { webhooks: { failurePolicy: string }[] };
    broken.webhooks[0]!.failurePolicy = 'Sometimes';
    expect(() => new ValidatingWebhookConfiguration(broken as never).validate()).toThrow(/failurePolicy/);
    const dep = structuredClone(docs.find((d) => d.value.kind === 'Deployment')!.value) as unknown as {
      spec: { replicas: unknown };
    };
    dep.spec.replicas = 'two';
    expect(() => new Deployment(dep as never).validate()).toThrow(/replicas/);
  });

  it('webhook configurations: sideEffects None, v1 reviews, timeout above the webhook deadline, system namespaces excluded', () => {
    const deployment = docs.find((d) => d.value.kind === 'Deployment')!.value as unknown as {
      spec: { template: { spec: { containers: { args: string[] }[] } } };
    };
    const args = deployment.spec.template.spec.containers[0]!.args;
    const deadline = Number(/^--deadline=(\d+)s$/.exec(args.find((a) => a.startsWith('--deadline='))!)![1]);
    for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration'] as const) {
      const cfg = docs.find((d) => d.value.kind === kind)!.value as unknown as { webhooks: unknown[] };
      for (const raw of cfg.webhooks) {
        const hook = webhookSchema(kind === 'MutatingWebhookConfiguration').parse(raw);
        expect(hook.timeoutSeconds).toBeGreaterThan(deadline);
        const excluded = hook.namespaceSelector.matchExpressions.find(
          (e) => e.key === 'kubernetes.io/metadata.name',
        );
        expect(excluded?.operator).toBe('NotIn');
        expect(excluded?.values).toEqual(expect.arrayContaining(['seal-system', 'kube-system']));
        const resources = hook.rules.flatMap((r) => r.resources);
        for (const r of [
          'pods',
          'pods/ephemeralcontainers',
          'deployments',
          'statefulsets',
          'daemonsets',
          'replicasets',
          'jobs',
          'cronjobs',
        ]) {
          expect(resources).toContain(r);
        }
        expect(hook.clientConfig.service.path).toBe(
          kind === 'MutatingWebhookConfiguration' ? '/mutate' : '/validate',
        );
      }
    }
  });

  it('the policies ConfigMap holds policies seal loads', () => {
    const cm = docs.find((d) => d.value.kind === 'ConfigMap' && d.value.metadata.name === 'seal-policies')!
      .value as unknown as { data: Record<string, string> };
    const set = loadPolicyTexts(Object.entries(cm.data).map(([name, text]) => ({ name, text })));
    expect(set.policies.map((p) => [p.name, p.mode])).toEqual([['release-signed', 'audit']]);
  });
});
