// JSON.stringify(value, null, 2) as a sequence of pieces, so a large document (an SBOM of tens of
// thousands of packages) is written without building the whole text as one string (ECMA-404 text;
// byte-equal to JSON.stringify with a two-space indent, checked property-wise in test/sbom/stanzas.test.ts).

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return (
    (proto === Object.prototype || proto === null) && typeof (v as { toJSON?: unknown }).toJSON !== 'function'
  );
}

/** What JSON.stringify leaves out of an object (and writes as null in an array). */
const omitted = (v: unknown): boolean => v === undefined || typeof v === 'function' || typeof v === 'symbol';

/**
 * The text of JSON.stringify(value, null, 2) in pieces: containers down to `depth` levels are walked here,
 * anything deeper is one JSON.stringify call (re-indented), so pieces stay small while calls stay few.
 */
export function* jsonChunks(value: unknown, depth = 3, indent = ''): Generator<string> {
  if (depth <= 0 || !(Array.isArray(value) || isPlainObject(value))) {
    const text = JSON.stringify(value, null, 2);
    // Raw line feeds appear in JSON text only between tokens (strings escape theirs).
    yield indent && text !== undefined ? text.replaceAll('\n', `\n${indent}`) : (text ?? 'null');
    return;
  }
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) {
      yield '[]';
      return;
    }
    yield '[';
    for (let i = 0; i < value.length; i++) {
      yield `${i === 0 ? '' : ','}\n${inner}`;
      const item = value[i];
      if (omitted(item)) yield 'null';
      else yield* jsonChunks(item, depth - 1, inner);
    }
    yield `\n${indent}]`;
    return;
  }
  const keys = Object.keys(value).filter((k) => !omitted(value[k]));
  if (keys.length === 0) {
    yield '{}';
    return;
  }
  yield '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    yield `${i === 0 ? '' : ','}\n${inner}${JSON.stringify(k)}: `;
    yield* jsonChunks(value[k], depth - 1, inner);
  }
  yield `\n${indent}}`;
}
