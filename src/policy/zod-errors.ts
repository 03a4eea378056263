// Turns zod issues into one E_POLICY_INVALID message that names the offending field path, so a policy
// author sees `spec.authorities[0].kms: unsupported field` rather than a stack. docs/policy.md ("Errors").

import type { z } from 'zod';
import { SealError } from '../errors.js';

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

/** Describe zod issues, unknown fields first (the common mistake), each with its full path. */
export function describeIssues(
  issues: ReadonlyArray<z.core.$ZodIssue>,
  prefix: ReadonlyArray<PropertyKey> = [],
): string {
  const lines: string[] = [];
  const sorted = [...issues].sort(
    (a, b) => Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys'),
  );
  for (const issue of sorted) {
    const base = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) lines.push(`${formatPath([...base, key])}: unknown or unsupported field`);
    } else {
      lines.push(`${formatPath(base) || '(document)'}: ${issue.message}`);
    }
  }
  return lines.join('; ');
}

export function policyError(
  origin: string,
  issues: ReadonlyArray<z.core.$ZodIssue>,
  prefix: PropertyKey[] = [],
): SealError {
  return new SealError('E_POLICY_INVALID', `${origin}: ${describeIssues(issues, prefix)}`, {
    details: {
      issues: issues.map((i) => ({ path: formatPath([...prefix, ...i.path]), message: i.message })),
    },
  });
}

/** Parse with a zod schema or throw E_POLICY_INVALID naming the path. */
export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, origin: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw policyError(origin, r.error.issues);
  return r.data;
}
