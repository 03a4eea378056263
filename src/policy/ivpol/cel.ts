// The CEL environment of Kyverno ImageValidatingPolicies (wave2-facts §4.2): the variables a policy sees and
// Kyverno's image-verification functions, declared once; expressions are compiled (parsed and type-checked)
// at load, so a typo or an unknown function is a load-time E_POLICY_INVALID naming the field path.

import { Environment, type ParseResult } from '@marcbachmann/cel-js';
import { SealError } from '../../errors.js';
import { parseReference, type RegistryReference } from '../../oci/ref.js';
import { rewriteHasOverExpressions } from './cel-has.js';

/**
 * What the image-verification functions do for one evaluation (bound per request by ivpol/evaluate.ts).
 * Synchronous: a result not known yet is recorded by the evaluation and answered with a placeholder, the
 * verifications run, and the expressions are evaluated again (ivpol/evaluate.ts), so an evaluation never
 * waits inside CEL and the handlers can read the request's functions from one place.
 */
export interface ImageFunctions {
  verifyImageSignatures(image: string, attestors: unknown[]): bigint;
  verifyAttestationSignatures(image: string, attestation: string, attestors: unknown[]): bigint;
  extractPayload(image: string, attestation: string): unknown;
  getImageData(image: string): unknown;
  /** Kyverno's `resource.Get(apiVersion, resource, namespace, name)`: the object, or an error when it is absent. */
  getResource(apiVersion: string, resource: string, namespace: string, name: string): unknown;
  /**
   * Kyverno's `image.GetMetadata(ref)` (image-data library): the registry metadata of any image reference,
   * matched by the policy or not — the same shape as getImageData.
   */
  getMetadata(image: string): unknown;
  /**
   * Kyverno's `globalContext.Get(entry, projection)`: a GlobalContextEntry's data (projection "") or one of
   * its projections; null for an entry that is not there (as Kyverno), an error for a projection that is not.
   */
  getGlobalContext(entry: string, projection: string): unknown;
}

/** The `resource` variable of Kyverno's resource library (its functions read the bound evaluation's objects). */
export class ResourceContext {}

/** The one `resource` value every evaluation gives CEL. */
export const RESOURCE_CONTEXT = Object.freeze(new ResourceContext());

/** The `image` variable of Kyverno's image-data library (its functions read the registry through the evaluation). */
export class ImageDataContext {}

/** The one `image` value every evaluation gives CEL. */
export const IMAGE_DATA_CONTEXT = Object.freeze(new ImageDataContext());

/** The `globalContext` variable of Kyverno's global-context library. */
export class GlobalContextRef {}

/** The one `globalContext` value an evaluation gives CEL (policies that name it only). */
export const GLOBAL_CONTEXT = Object.freeze(new GlobalContextRef());

/** The evaluation's functions: the CEL handlers read them from here (one environment for every request). */
let current: ImageFunctions | undefined;

function bound(): ImageFunctions {
  if (!current) throw new Error('image verification functions are not available here');
  return current;
}

/** Run `fn` (synchronous) with `fns` as the image functions. */
export function withImageFunctions<T>(fns: ImageFunctions, fn: () => T): T {
  const before = current;
  current = fns;
  try {
    return fn();
  } finally {
    current = before;
  }
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** Kubernetes' strings library `replace` (cel-js has no strings extension): every occurrence, or the first n. */
function replace(s: string, from: string, to: string, n?: bigint): string {
  if (n === undefined || n < 0n) return s.split(from).join(to);
  let out = s;
  let at = 0;
  for (let i = 0n; i < n; i++) {
    const j = out.indexOf(from, at);
    if (j < 0) break;
    out = out.slice(0, j) + to + out.slice(j + from.length);
    at = j + to.length;
  }
  return out;
}

/**
 * Kyverno's image library (kyverno/sdk extensions/cel/libs/image): a parsed reference with go-containerregistry's
 * reading — `nginx` is registry `index.docker.io`, repository `library/nginx`, tag `latest`.
 */
export class ImageReference {
  constructor(
    readonly ref: RegistryReference,
    readonly text: string,
  ) {}
}

function imageReference(text: string): ImageReference {
  const ref = parseReference(text, { layouts: false });
  if (ref.kind !== 'registry') throw new Error(`${text} is not a registry reference`);
  return new ImageReference(ref, text);
}

function isImage(text: string): boolean {
  try {
    imageReference(text);
    return true;
  } catch {
    return false;
  }
}

const environment = new Environment({
  unlistedVariablesAreDyn: true,
  enableOptionalTypes: true,
  homogeneousAggregateLiterals: false,
  limits: { maxAstNodes: 10_000, maxDepth: 100 },
})
  .registerFunction('verifyImageSignatures(string, list): int', (image: string, attestors: unknown) =>
    bound().verifyImageSignatures(image, list(attestors)),
  )
  .registerFunction(
    'verifyAttestationSignatures(string, string, list): int',
    (image: string, attestation: string, attestors: unknown) =>
      bound().verifyAttestationSignatures(image, attestation, list(attestors)),
  )
  .registerFunction('extractPayload(string, string): dyn', (image: string, attestation: string) =>
    bound().extractPayload(image, attestation),
  )
  .registerFunction('getImageData(string): dyn', (image: string) => bound().getImageData(image))
  .registerType('ResourceContext', ResourceContext)
  .registerVariable('resource', 'ResourceContext')
  // Kyverno declares both spellings (pkg/cel/libs/resource): Get and get.
  .registerFunction(
    'ResourceContext.Get(string, string, string, string): dyn',
    (_r: ResourceContext, v: string, res: string, ns: string, name: string) =>
      bound().getResource(v, res, ns, name),
  )
  .registerFunction(
    'ResourceContext.get(string, string, string, string): dyn',
    (_r: ResourceContext, v: string, res: string, ns: string, name: string) =>
      bound().getResource(v, res, ns, name),
  )
  .registerType('ImageDataContext', ImageDataContext)
  .registerVariable('image', 'ImageDataContext')
  // Kyverno declares GetMetadata, and getMetadata from its 1.18 library version on (kyverno/sdk imagedata).
  .registerFunction('ImageDataContext.GetMetadata(string): dyn', (_c: ImageDataContext, ref: string) =>
    bound().getMetadata(ref),
  )
  .registerFunction('ImageDataContext.getMetadata(string): dyn', (_c: ImageDataContext, ref: string) =>
    bound().getMetadata(ref),
  )
  .registerType('GlobalContextRef', GlobalContextRef)
  .registerVariable('globalContext', 'GlobalContextRef')
  // Kyverno declares both spellings (pkg/cel/libs/globalcontext): Get and get.
  .registerFunction(
    'GlobalContextRef.Get(string, string): dyn',
    (_g: GlobalContextRef, entry: string, projection: string) => bound().getGlobalContext(entry, projection),
  )
  .registerFunction(
    'GlobalContextRef.get(string, string): dyn',
    (_g: GlobalContextRef, entry: string, projection: string) => bound().getGlobalContext(entry, projection),
  )
  .registerFunction('string.replace(string, string): string', (s: string, a: string, b: string) =>
    replace(s, a, b),
  )
  .registerFunction('string.replace(string, string, int): string', replace)
  .registerType('Image', ImageReference)
  .registerFunction('parseImageReference(string): Image', imageReference)
  // Kyverno keeps `image()` as a deprecated spelling of parseImageReference.
  .registerFunction('image(string): Image', imageReference)
  .registerFunction('isImage(string): bool', isImage)
  .registerFunction('Image.registry(): string', (i: ImageReference) => i.ref.registry)
  .registerFunction('Image.repository(): string', (i: ImageReference) => i.ref.repository)
  .registerFunction('Image.tag(): string', (i: ImageReference) => i.ref.tag ?? '')
  .registerFunction('Image.digest(): string', (i: ImageReference) => i.ref.digest?.toString() ?? '')
  .registerFunction('Image.containsDigest(): bool', (i: ImageReference) => i.ref.digest !== undefined)
  .registerFunction('Image.identifier(): string', (i: ImageReference) => {
    const digest = i.ref.digest?.toString();
    if (!digest) return i.ref.tag ?? 'latest';
    return i.ref.tag ? `${i.ref.tag}@${digest}` : digest;
  });

export type CompiledExpression = ParseResult;

/** Parse and type-check one expression; E_POLICY_INVALID naming `where` when it does not compile. */
export function compileCel(expression: string, where: string): CompiledExpression {
  let parsed: ParseResult;
  try {
    // `has(f(x).y)`: the library parses has() over a variable's fields only; rewritten exactly (cel-has.ts).
    parsed = environment.parse(rewriteHasOverExpressions(expression));
  } catch (err) {
    throw new SealError('E_POLICY_INVALID', `${where}: CEL does not parse: ${firstLine(err)}`, {
      cause: err,
    });
  }
  const checked = parsed.check();
  if (!checked.valid) {
    const why = firstLine(checked.error);
    const unknown = /no matching overload for '([A-Za-z_][\w.]*)\(/.exec(why);
    throw new SealError(
      'E_POLICY_INVALID',
      unknown
        ? `${where}: CEL function ${unknown[1]}() is not available in seal (${why})`
        : `${where}: CEL does not compile: ${why}`,
      { cause: checked.error },
    );
  }
  return parsed;
}

function firstLine(err: unknown): string {
  return String((err as Error | undefined)?.message ?? err)
    .split('\n')[0]!
    .trim();
}
