// Policy texts shared by the policy and admission tests.

/** The example of issue #7: the ClusterPolicy users copy from the Kyverno docs. */
export function issueExamplePolicy(publicKeyPem: string): string {
  const pem = publicKeyPem
    .trim()
    .split('\n')
    .map((l) => `                ${l}`)
    .join('\n');
  return `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: check-image
spec:
  validationFailureAction: enforce
  background: false
  rules:
    - name: check-image
      match:
        any:
        - resources:
            kinds:
              - Pod
      verifyImages:
      - imageReferences:
        - "ghcr.io/myorg/*"
        attestors:
        - count: 1
          entries:
          - keys:
              publicKeys: |-
${pem}
`;
}
