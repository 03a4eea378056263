// A strict zod schema for SPDX 2.3 JSON documents, hand-written from the SPDX 2.3 specification
// (clauses 6 document creation, 7 package, 11 relationships; Annex F external refs) because no npm
// package available here ships the official spdx-schema.json. Unknown keys are errors.

import { z } from 'zod';

const SpdxId = z.string().regex(/^SPDXRef-[A-Za-z0-9.-]+$/);
const NoAssertion = z.union([z.literal('NOASSERTION'), z.literal('NONE')]);
const LicenseField = z.union([
  NoAssertion,
  z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9.+:() -]+$/),
]);
const DateTime = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);

const Checksum = z.strictObject({
  algorithm: z.enum([
    'SHA1',
    'SHA224',
    'SHA256',
    'SHA384',
    'SHA512',
    'SHA3-256',
    'SHA3-384',
    'SHA3-512',
    'BLAKE2b-256',
    'BLAKE2b-384',
    'BLAKE2b-512',
    'BLAKE3',
    'MD2',
    'MD4',
    'MD5',
    'MD6',
    'ADLER32',
  ]),
  checksumValue: z.string().regex(/^[0-9a-f]+$/),
});

const ExternalRef = z.strictObject({
  referenceCategory: z.enum(['SECURITY', 'PACKAGE-MANAGER', 'PERSISTENT-ID', 'OTHER']),
  referenceType: z.string().min(1),
  referenceLocator: z.string().min(1).regex(/^\S+$/),
  comment: z.string().optional(),
});

const Package = z.strictObject({
  SPDXID: SpdxId,
  name: z.string().min(1),
  versionInfo: z.string().optional(),
  packageFileName: z.string().optional(),
  supplier: z.string().optional(),
  originator: z.string().optional(),
  downloadLocation: z.union([NoAssertion, z.string().min(1)]),
  filesAnalyzed: z.boolean().optional(),
  checksums: z.array(Checksum).optional(),
  homepage: z.string().optional(),
  sourceInfo: z.string().optional(),
  licenseConcluded: LicenseField.optional(),
  licenseInfoFromFiles: z.array(LicenseField).optional(),
  licenseDeclared: LicenseField.optional(),
  licenseComments: z.string().optional(),
  copyrightText: z.string().optional(),
  summary: z.string().optional(),
  description: z.string().optional(),
  comment: z.string().optional(),
  externalRefs: z.array(ExternalRef).optional(),
  attributionTexts: z.array(z.string()).optional(),
  primaryPackagePurpose: z
    .enum([
      'APPLICATION',
      'FRAMEWORK',
      'LIBRARY',
      'CONTAINER',
      'OPERATING-SYSTEM',
      'DEVICE',
      'FIRMWARE',
      'SOURCE',
      'ARCHIVE',
      'FILE',
      'INSTALL',
      'OTHER',
    ])
    .optional(),
  releaseDate: DateTime.optional(),
  builtDate: DateTime.optional(),
  validUntilDate: DateTime.optional(),
});

const Relationship = z.strictObject({
  spdxElementId: z.union([SpdxId, z.literal('SPDXRef-DOCUMENT')]),
  relationshipType: z.enum([
    'DESCRIBES',
    'DESCRIBED_BY',
    'CONTAINS',
    'CONTAINED_BY',
    'DEPENDS_ON',
    'DEPENDENCY_OF',
    'GENERATES',
    'GENERATED_FROM',
    'ANCESTOR_OF',
    'DESCENDANT_OF',
    'VARIANT_OF',
    'DISTRIBUTION_ARTIFACT',
    'PATCH_FOR',
    'PATCH_APPLIED',
    'COPY_OF',
    'FILE_ADDED',
    'FILE_DELETED',
    'FILE_MODIFIED',
    'EXPANDED_FROM_ARCHIVE',
    'DYNAMIC_LINK',
    'STATIC_LINK',
    'DATA_FILE_OF',
    'TEST_CASE_OF',
    'BUILD_TOOL_OF',
    'DEV_TOOL_OF',
    'TEST_OF',
    'TEST_TOOL_OF',
    'DOCUMENTATION_OF',
    'OPTIONAL_COMPONENT_OF',
    'METAFILE_OF',
    'PACKAGE_OF',
    'AMENDS',
    'PREREQUISITE_FOR',
    'HAS_PREREQUISITE',
    'REQUIREMENT_DESCRIPTION_FOR',
    'SPECIFICATION_FOR',
    'OTHER',
  ]),
  relatedSpdxElement: z.union([SpdxId, NoAssertion]),
  comment: z.string().optional(),
});

export const SpdxDocument23 = z
  .strictObject({
    spdxVersion: z.literal('SPDX-2.3'),
    dataLicense: z.literal('CC0-1.0'),
    SPDXID: z.literal('SPDXRef-DOCUMENT'),
    name: z.string().min(1),
    documentNamespace: z.url().refine((u) => !u.includes('#'), 'documentNamespace must not contain #'),
    creationInfo: z.strictObject({
      created: DateTime,
      creators: z.array(z.string().regex(/^(Tool|Organization|Person): .+/)).min(1),
      licenseListVersion: z.string().optional(),
      comment: z.string().optional(),
    }),
    comment: z.string().optional(),
    documentDescribes: z.array(SpdxId).optional(),
    packages: z.array(Package),
    relationships: z.array(Relationship),
  })
  .superRefine((doc, ctx) => {
    const ids = new Set<string>();
    for (const p of doc.packages) {
      if (ids.has(p.SPDXID)) ctx.addIssue({ code: 'custom', message: `duplicate SPDXID ${p.SPDXID}` });
      ids.add(p.SPDXID);
    }
    for (const r of doc.relationships) {
      for (const id of [r.spdxElementId, r.relatedSpdxElement]) {
        if (id !== 'SPDXRef-DOCUMENT' && id !== 'NOASSERTION' && id !== 'NONE' && !ids.has(id)) {
          ctx.addIssue({ code: 'custom', message: `relationship names unknown element ${id}` });
        }
      }
    }
    if (
      !doc.relationships.some(
        (r) => r.spdxElementId === 'SPDXRef-DOCUMENT' && r.relationshipType === 'DESCRIBES',
      )
    ) {
      ctx.addIssue({ code: 'custom', message: 'the document DESCRIBES nothing' });
    }
  });
