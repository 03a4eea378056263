// Writes a package inventory as a CycloneDX 1.6 JSON BOM whose metadata.component is the image, using
// @cyclonedx/cyclonedx-library's model and JSON serializer (CycloneDX 1.6 specification, JSON format).

import { randomUUID } from 'node:crypto';
import { ComponentType, HashAlgorithm } from '@cyclonedx/cyclonedx-library/Enums';
import {
  Bom,
  Component,
  LicenseExpression,
  NamedLicense,
  Property,
  SpdxLicense,
} from '@cyclonedx/cyclonedx-library/Models';
import { JSON as CdxJson, JsonSerializer } from '@cyclonedx/cyclonedx-library/Serialize';
import { isSupportedSpdxId } from '@cyclonedx/cyclonedx-library/SPDX';
import { Spec1dot6 } from '@cyclonedx/cyclonedx-library/Spec';
import { formatPurl } from './purl.js';
import { isSpdxExpression } from './spdx.js';
import { type SbomSubject, sealVersion } from './tool.js';
import type { Package } from './types.js';

export interface CycloneDxOptions {
  created?: Date;
  /** urn:uuid serial number (random unless given). */
  serialNumber?: string;
}

function licensesOf(component: Component, licenses: string[] | undefined): void {
  if (!licenses || licenses.length === 0) return;
  // the schema allows either one expression or a list of single licences, never both
  if (licenses.length === 1 && /\s(AND|OR|WITH)\s/.test(licenses[0]!) && isSpdxExpression(licenses[0]!)) {
    component.licenses.add(new LicenseExpression(licenses[0]!));
    return;
  }
  for (const l of licenses)
    component.licenses.add(isSupportedSpdxId(l) ? new SpdxLicense(l) : new NamedLicense(l));
}

/** The image as a purl (`pkg:oci/<name>@<digest>`), per PURL-TYPES "oci". */
function imagePurl(subject: SbomSubject): string {
  const last =
    subject.name
      .replace(/[@:][^/]*$/, '')
      .split('/')
      .pop() ?? 'image';
  return formatPurl({ type: 'oci', name: last.toLowerCase(), version: subject.digest });
}

export function toCycloneDxJson(
  packages: Package[],
  subject: SbomSubject,
  options: CycloneDxOptions = {},
): object {
  const bom = new Bom({ serialNumber: options.serialNumber ?? `urn:uuid:${randomUUID()}` });
  bom.metadata.timestamp = options.created ?? new Date();
  bom.metadata.tools.components.add(
    new Component(ComponentType.Application, 'seal', { version: sealVersion() }),
  );
  const image = new Component(ComponentType.Container, subject.name, {
    bomRef: subject.digest,
    version: subject.digest,
    purl: imagePurl(subject),
  });
  const [alg, hex] = subject.digest.split(':');
  if (alg === 'sha256' && hex) image.hashes.set(HashAlgorithm['SHA-256'], hex);
  bom.metadata.component = image;
  const refs = new Set<string>();
  packages.forEach((p, i) => {
    let ref = p.purl;
    if (refs.has(ref)) ref = `${p.purl}#${i}`;
    refs.add(ref);
    const c = new Component(ComponentType.Library, p.name, { bomRef: ref, version: p.version, purl: p.purl });
    licensesOf(c, p.licenses);
    c.properties.add(new Property('seal:cataloger', p.cataloger));
    c.properties.add(new Property('seal:layerDigest', p.layerDigest));
    for (const loc of p.locations) c.properties.add(new Property('seal:location', loc));
    bom.components.add(c);
    image.dependencies.add(c.bomRef);
  });
  const serializer = new JsonSerializer(new CdxJson.Normalize.Factory(Spec1dot6));
  return JSON.parse(serializer.serialize(bom, { sortLists: true })) as object;
}
