// The CI claims Fulcio writes into its certificates as extensions 1.3.6.1.4.1.57264.1.9–.24 (DER UTF8String),
// by the names of Fulcio's docs/oid-info.md: what `--certificate-<name>` verify flags and policies pin.
// sigstore-servers.md §4 (OIDs), wave2-facts.md §6.4 (the GitHub and GitLab mapping).

export interface FulcioClaim {
  /** lowerCamelCase name (ImagePolicy `keyless.extensions`, IdentityExpectation `extensions`). */
  name: FulcioClaimName;
  oid: string;
  /** The verify flag that pins it: `certificate-` + the name in kebab-case. */
  flag: FulcioClaimFlag;
  /** Fulcio's name for it, for messages. */
  label: string;
}

const O = (n: number) => `1.3.6.1.4.1.57264.1.${n}`;

const TABLE = [
  ['buildSignerUri', 9, 'Build Signer URI', 'certificate-build-signer-uri'],
  ['buildSignerDigest', 10, 'Build Signer Digest', 'certificate-build-signer-digest'],
  ['runnerEnvironment', 11, 'Runner Environment', 'certificate-runner-environment'],
  ['sourceRepositoryUri', 12, 'Source Repository URI', 'certificate-source-repository-uri'],
  ['sourceRepositoryDigest', 13, 'Source Repository Digest', 'certificate-source-repository-digest'],
  ['sourceRepositoryRef', 14, 'Source Repository Ref', 'certificate-source-repository-ref'],
  [
    'sourceRepositoryIdentifier',
    15,
    'Source Repository Identifier',
    'certificate-source-repository-identifier',
  ],
  ['sourceRepositoryOwnerUri', 16, 'Source Repository Owner URI', 'certificate-source-repository-owner-uri'],
  [
    'sourceRepositoryOwnerIdentifier',
    17,
    'Source Repository Owner Identifier',
    'certificate-source-repository-owner-identifier',
  ],
  ['buildConfigUri', 18, 'Build Config URI', 'certificate-build-config-uri'],
  ['buildConfigDigest', 19, 'Build Config Digest', 'certificate-build-config-digest'],
  ['buildTrigger', 20, 'Build Trigger', 'certificate-build-trigger'],
  ['runInvocationUri', 21, 'Run Invocation URI', 'certificate-run-invocation-uri'],
  [
    'sourceRepositoryVisibilityAtSigning',
    22,
    'Source Repository Visibility At Signing',
    'certificate-source-repository-visibility-at-signing',
  ],
  ['deploymentEnvironment', 23, 'Deployment Environment', 'certificate-deployment-environment'],
  ['tokenSubject', 24, 'Token Subject', 'certificate-token-subject'],
] as const;

export type FulcioClaimName = (typeof TABLE)[number][0];
export type FulcioClaimFlag = (typeof TABLE)[number][3];

export const FULCIO_CLAIMS: readonly FulcioClaim[] = TABLE.map(([name, n, label, flag]) => ({
  name,
  oid: O(n),
  flag,
  label,
}));

export const FULCIO_CLAIM_NAMES = TABLE.map(([name]) => name) as unknown as readonly [
  FulcioClaimName,
  ...FulcioClaimName[],
];
