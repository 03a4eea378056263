// Writes a package inventory as an SPDX 2.3 JSON document describing the image.
// Implements SPDX 2.3 clauses 6 (document creation), 7 (package), 11 (relationships), Annex F (purl refs).

import { randomUUID } from 'node:crypto';
import { isSupportedSpdxId } from '@cyclonedx/cyclonedx-library/SPDX';
import { type SbomSubject, sealVersion } from './tool.js';
import type { Package } from './types.js';

export interface SpdxExternalRef {
  referenceCategory: 'PACKAGE-MANAGER' | 'SECURITY' | 'PERSISTENT-ID' | 'OTHER';
  referenceType: string;
  referenceLocator: string;
}

export interface SpdxPackage {
  SPDXID: string;
  name: string;
  versionInfo?: string;
  downloadLocation: string;
  filesAnalyzed: boolean;
  licenseConcluded?: string;
  licenseDeclared?: string;
  licenseComments?: string;
  copyrightText?: string;
  sourceInfo?: string;
  primaryPackagePurpose?: string;
  checksums?: Array<{ algorithm: string; checksumValue: string }>;
  externalRefs?: SpdxExternalRef[];
}

export interface SpdxDocument {
  spdxVersion: 'SPDX-2.3';
  dataLicense: 'CC0-1.0';
  SPDXID: 'SPDXRef-DOCUMENT';
  name: string;
  documentNamespace: string;
  creationInfo: { created: string; creators: string[] };
  packages: SpdxPackage[];
  relationships: Array<{ spdxElementId: string; relationshipType: string; relatedSpdxElement: string }>;
}

export interface SpdxOptions {
  created?: Date;
  /** Unique part of the documentNamespace (a random UUID unless given, for reproducible tests). */
  namespaceId?: string;
}

const IMAGE_ID = 'SPDXRef-Image';

/** Is `expr` a license expression SPDX accepts (listed ids, `+`, WITH, AND, OR, parentheses, LicenseRef-)? */
export function isSpdxExpression(expr: string): boolean {
  const tokens = expr.replace(/[()]/g, ' $& ').trim().split(/\s+/);
  let depth = 0;
  let expectOperand = true;
  let afterWith = false;
  for (const t of tokens) {
    if (t === '(') {
      if (!expectOperand) return false;
      depth++;
    } else if (t === ')') {
      if (expectOperand || --depth < 0) return false;
    } else if (t === 'AND' || t === 'OR' || t === 'WITH') {
      if (expectOperand) return false;
      expectOperand = true;
      afterWith = t === 'WITH';
    } else {
      if (!expectOperand) return false;
      const id = t.endsWith('+') ? t.slice(0, -1) : t;
      const ok = afterWith
        ? /^[A-Za-z0-9.-]+$/.test(t)
        : isSupportedSpdxId(id) || /^(DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]+$/.test(t);
      if (!ok) return false;
      expectOperand = false;
      afterWith = false;
    }
  }
  return depth === 0 && !expectOperand;
}

/** Declared licences as one SPDX expression (joined with AND), or undefined when one is not SPDX. */
export function spdxLicenseExpression(licenses: string[] | undefined): string | undefined {
  if (!licenses || licenses.length === 0) return undefined;
  if (!licenses.every(isSpdxExpression)) return undefined;
  return licenses.length === 1
    ? licenses[0]
    : licenses.map((l) => (/\s/.test(l) ? `(${l})` : l)).join(' AND ');
}

function spdxIdPart(value: string): string {
  return value.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '') || 'x';
}

export function toSpdxJson(
  packages: Package[],
  subject: SbomSubject,
  options: SpdxOptions = {},
): SpdxDocument {
  const created = (options.created ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const [algorithm, hex] = subject.digest.split(':') as [string, string];
  const imagePackage: SpdxPackage = {
    SPDXID: IMAGE_ID,
    name: subject.name,
    versionInfo: subject.digest,
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: 'NOASSERTION',
    copyrightText: 'NOASSERTION',
    primaryPackagePurpose: 'CONTAINER',
    checksums: [{ algorithm: algorithm.toUpperCase(), checksumValue: hex }],
  };
  const doc: SpdxDocument = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: subject.name,
    documentNamespace: `https://seal.dev/spdxdocs/${encodeURIComponent(subject.name)}-${options.namespaceId ?? randomUUID()}`,
    creationInfo: { created, creators: [`Tool: seal-${sealVersion()}`] },
    packages: [imagePackage],
    relationships: [
      { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: IMAGE_ID },
    ],
  };
  packages.forEach((p, i) => {
    const id = `SPDXRef-Package-${p.type}-${spdxIdPart(p.name)}-${i + 1}`;
    const declared = spdxLicenseExpression(p.licenses);
    const pkg: SpdxPackage = {
      SPDXID: id,
      name: p.name,
      versionInfo: p.version,
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: declared ?? 'NOASSERTION',
      copyrightText: 'NOASSERTION',
      sourceInfo: `${p.cataloger} cataloger: ${p.locations.join(', ')} in layer ${p.layerDigest}`,
      primaryPackagePurpose:
        p.type === 'deb' || p.type === 'apk' || p.type === 'rpm' ? 'OPERATING-SYSTEM' : 'LIBRARY',
      externalRefs: [
        { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: p.purl },
      ],
    };
    if (!declared && p.licenses?.length)
      pkg.licenseComments = `declared licences (not SPDX identifiers): ${p.licenses.join('; ')}`;
    doc.packages.push(pkg);
    doc.relationships.push({ spdxElementId: IMAGE_ID, relationshipType: 'CONTAINS', relatedSpdxElement: id });
  });
  return doc;
}
