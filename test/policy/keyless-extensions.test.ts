// ImagePolicy `keyless.extensions`: Fulcio CI claims an authority's certificates must carry (by the names of
// formats/fulcio-claims.ts), loaded into the identity the verifier checks; an unknown name or an empty value
// is a policy error naming its path.

import { describe, expect, it } from 'vitest';
import { loadPolicyTexts } from '../../src/policy/load.js';

const policy = (extensions: string) => `apiVersion: seal.dev/v1alpha1
kind: ImagePolicy
metadata: {name: gl}
spec:
  images: ["registry.gitlab.example/grp/**"]
  authorities:
    - name: pipeline
      keyless:
        issuer: https://gitlab.example
        subjectRegExp: "^https://gitlab.example/grp/proj//.gitlab-ci.yml@refs/tags/"
        extensions: ${extensions}
`;

describe('ImagePolicy keyless.extensions', () => {
  it('pins GitLab claims on the authority identity', () => {
    const set = loadPolicyTexts(
      [
        {
          name: 'p.yaml',
          text: policy(
            '{sourceRepositoryUri: "https://gitlab.example/grp/proj", sourceRepositoryRef: refs/tags/v1.0.0, buildTrigger: push}',
          ),
        },
      ],
      {},
    );
    const json = JSON.stringify(set.policies[0]);
    expect(json).toContain(
      '"extensions":{"sourceRepositoryUri":"https://gitlab.example/grp/proj","sourceRepositoryRef":"refs/tags/v1.0.0","buildTrigger":"push"}',
    );
  });

  it('refuses an unknown claim name and an empty value', () => {
    expect(() => loadPolicyTexts([{ name: 'p.yaml', text: policy('{projectPath: grp/proj}') }], {})).toThrow(
      /spec\.authorities\[0\]\.keyless\.extensions.*projectPath|projectPath.*unknown/,
    );
    expect(() => loadPolicyTexts([{ name: 'p.yaml', text: policy('{buildTrigger: ""}') }], {})).toThrow(
      /buildTrigger/,
    );
  });
});
