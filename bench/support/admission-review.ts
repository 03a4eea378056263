// The AdmissionReview a ReplicaSet controller sends for one Pod with one container, as the admission benches send it.

export function review(uid: number, image: string): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `00000000-0000-4000-8000-${String(uid).padStart(12, '0')}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'prod',
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        groups: ['system:serviceaccounts'],
      },
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { generateName: 'web-7d9c6b5f4-', namespace: 'prod', labels: { app: 'web' } },
        spec: {
          containers: [
            {
              name: 'web',
              image,
              imagePullPolicy: 'IfNotPresent',
              terminationMessagePath: '/dev/termination-log',
            },
          ],
          restartPolicy: 'Always',
          dnsPolicy: 'ClusterFirst',
          serviceAccountName: 'web',
        },
      },
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  });
}

/** The bench's requirement as a seal ImagePolicy: images under REG/acme signed by ./release.pub. */
export function imagePolicyYaml(reg: string): string {
  return `apiVersion: seal.dev/v1alpha1\nkind: ImagePolicy\nmetadata: {name: acme}\nspec:\n  images: ["${reg}/acme/**"]\n  authorities: [{name: release, key: ./release.pub, ignoreTlog: true}]\n`;
}

/** The same requirement as a Kyverno ImageValidatingPolicy (CEL validations over the object). */
export function imageValidatingPolicyYaml(reg: string, publicKeyPem: string): string {
  const pem = publicKeyPem
    .trim()
    .split('\n')
    .map((l) => `            ${l}`)
    .join('\n');
  return `apiVersion: policies.kyverno.io/v1
kind: ImageValidatingPolicy
metadata: {name: acme}
spec:
  matchConstraints:
    resourceRules:
      - {apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["pods"]}
  matchImageReferences:
    - glob: "${reg}/acme/*"
  attestors:
    - name: release
      cosign:
        key:
          data: |
${pem}
        ctlog: {insecureIgnoreTlog: true}
  validations:
    - expression: images.containers.map(image, verifyImageSignatures(image, [attestors.release])).all(e, e > 0)
      message: not signed by the release key
`;
}
