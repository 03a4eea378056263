/** True when dist/ is missing or older than a build input under root. */
export function buildIsStale(root: string): boolean;
