// The SLSA provenance v1 predicate: types, the zod schema it is parsed with at the edge, and the build
// types seal emits. Implements SLSA v1.0 "Provenance" (slsa.dev/spec/v1.0/provenance, predicate schema).

import * as z from 'zod';

export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';

/** GitHub's workflow build type (slsa-framework/github-actions-buildtypes workflow/v1). */
export const GITHUB_WORKFLOW_BUILD_TYPE =
  'https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1';
/** GitLab runner provenance build type (gitlab-runner PROVENANCE.md), versioned by runner. */
export const GITLAB_BUILD_TYPE_PREFIX = 'https://gitlab.com/gitlab-org/gitlab-runner/-/blob/';
/** A build on a developer machine: nothing but the person running it vouches for the environment. */
export const LOCAL_BUILD_TYPE = 'https://seal.dev/provenance/local-build/v1';
export const LOCAL_BUILDER_ID = 'https://seal.dev/local-builder@v1';

export const ResourceDescriptorSchema = z.looseObject({
  uri: z.string().optional(),
  digest: z.record(z.string(), z.string()).optional(),
  name: z.string().optional(),
  downloadLocation: z.string().optional(),
  mediaType: z.string().optional(),
  annotations: z.record(z.string(), z.unknown()).optional(),
});

export const SlsaProvenanceV1Schema = z.looseObject({
  buildDefinition: z.looseObject({
    buildType: z.string().min(1),
    externalParameters: z.record(z.string(), z.unknown()),
    internalParameters: z.record(z.string(), z.unknown()).optional(),
    resolvedDependencies: z.array(ResourceDescriptorSchema).optional(),
  }),
  runDetails: z.looseObject({
    builder: z.looseObject({
      id: z.string().min(1),
      version: z.record(z.string(), z.string()).optional(),
      builderDependencies: z.array(ResourceDescriptorSchema).optional(),
    }),
    metadata: z
      .looseObject({
        invocationId: z.string().optional(),
        startedOn: z.string().optional(),
        finishedOn: z.string().optional(),
      })
      .optional(),
    byproducts: z.array(ResourceDescriptorSchema).optional(),
  }),
});

export type ResourceDescriptorV1 = z.infer<typeof ResourceDescriptorSchema>;

export interface SlsaProvenanceV1 {
  buildDefinition: {
    buildType: string;
    externalParameters: Record<string, unknown>;
    internalParameters?: Record<string, unknown>;
    resolvedDependencies?: ResourceDescriptorV1[];
  };
  runDetails: {
    builder: { id: string; version?: Record<string, string> };
    metadata?: { invocationId?: string; startedOn?: string; finishedOn?: string };
  };
}
