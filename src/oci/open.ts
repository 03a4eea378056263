// Which ImageStore serves a reference: the shared LayoutStore for `oci-layout:` references, a
// RegistryStore for registry ones (the one place that picks a backend; ARCHITECTURE.md "One interface, several backends").

import { LayoutStore } from './layout.js';
import { type Reference, parseReference } from './ref.js';
import { type RegistryOptions, RegistryStore } from './registry.js';
import type { ImageStore } from './store.js';

let sharedLayoutStore: LayoutStore | undefined;

/** The process-wide LayoutStore (it holds no per-directory state; locking is on disk). */
export function layoutStore(): LayoutStore {
  sharedLayoutStore ??= new LayoutStore();
  return sharedLayoutStore;
}

/** The store for a reference: the shared LayoutStore for layouts, a new RegistryStore(options) for registries. */
export function storeFor(ref: Reference, options?: RegistryOptions): ImageStore {
  return ref.kind === 'layout' ? layoutStore() : new RegistryStore(options);
}

/** Parse a reference and open its store in one step (what CLI commands do). */
export function openReference(
  input: string,
  options: { registry?: RegistryOptions; cwd?: string } = {},
): { ref: Reference; store: ImageStore } {
  const ref = parseReference(input, options.cwd !== undefined ? { cwd: options.cwd } : {});
  return { ref, store: storeFor(ref, options.registry) };
}
