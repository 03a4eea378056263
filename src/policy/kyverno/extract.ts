// Kyverno `imageExtractors`: images in custom resources (Tekton Tasks and Pipelines, Flux objects …)
// found by a JSON-pointer path with `*` over arrays and maps, the image under `value`, named by `key`,
// optionally turned into the image by a JMESPath. Implements docs/policy.md ("Kyverno rule features").

import type { ImageExtractor, ImageInWorkload, LoadedPolicy } from '../types.js';
import { kyvernoSearch } from './jmespath.js';

function escapePointer(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Per loaded policy list: kind → extractors (computed once; the webhook asks on every review). */
const byKind = new WeakMap<LoadedPolicy[], Map<string, ImageExtractor[]>>();

/** The extractors the policies declare for `kind` (merged across policies), or undefined when none. */
export function extractorsFor(policies: LoadedPolicy[], kind: string): ImageExtractor[] | undefined {
  let index = byKind.get(policies);
  if (!index) {
    index = new Map();
    for (const p of policies) {
      for (const [k, list] of Object.entries(p.imageExtractors ?? {})) {
        const out = index.get(k) ?? [];
        for (const x of list) if (!out.some((y) => JSON.stringify(y) === JSON.stringify(x))) out.push(x);
        index.set(k, out);
      }
    }
    byKind.set(policies, index);
  }
  return index.get(kind);
}

/** The images `extractors` find in `object`, each with the JSON pointer of the field to patch. */
export function extractImages(
  object: unknown,
  extractors: ImageExtractor[],
  kind: string,
  workloadName?: string,
): ImageInWorkload[] {
  const out: ImageInWorkload[] = [];
  for (const x of extractors) {
    const segments = x.path.split('/').slice(1).map(unescapePointer);
    const walk = (node: unknown, i: number, pointer: string, lastKey: string): void => {
      if (node === null || node === undefined) return;
      if (i === segments.length) {
        const holder = node;
        let value: unknown = x.value !== undefined ? (holder as Record<string, unknown>)[x.value] : holder;
        const valuePointer = x.value !== undefined ? `${pointer}/${escapePointer(x.value)}` : pointer;
        if (x.jmesPath && value !== undefined) value = kyvernoSearch(value, x.jmesPath);
        if (typeof value !== 'string' || value === '') return;
        const name =
          x.key !== undefined && typeof (holder as Record<string, unknown>)[x.key] === 'string'
            ? String((holder as Record<string, unknown>)[x.key])
            : lastKey;
        const img: ImageInWorkload = {
          image: value,
          container: name,
          list: x.name ?? 'customresource',
          path: valuePointer,
          workloadKind: kind,
        };
        if (workloadName !== undefined) img.workloadName = workloadName;
        out.push(img);
        return;
      }
      const seg = segments[i]!;
      if (seg === '*') {
        if (Array.isArray(node)) {
          for (const [k, c] of node.entries()) walk(c, i + 1, `${pointer}/${k}`, String(k));
        } else if (typeof node === 'object')
          for (const [k, c] of Object.entries(node)) walk(c, i + 1, `${pointer}/${escapePointer(k)}`, k);
        return;
      }
      if (typeof node !== 'object') return;
      walk((node as Record<string, unknown>)[seg], i + 1, `${pointer}/${escapePointer(seg)}`, seg);
    };
    walk(object, 0, '', '');
  }
  return out;
}
