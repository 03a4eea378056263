// has() over a field of any expression (ivpol/cel-has.ts): rewritten to cel.bind only where the CEL library
// refuses it, never inside strings or comments, and evaluated with CEL's has() semantics.

import { describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import { compileCel, withImageFunctions, type ImageFunctions } from '../../src/policy/ivpol/cel.js';
import { rewriteHasOverExpressions } from '../../src/policy/ivpol/cel-has.js';

describe('has() over an expression: the rewrite', () => {
  it('rewrites has(call(…).a.b) to a binding of call(…).a and has() of its field', () => {
    expect(
      rewriteHasOverExpressions(
        'images.containers.map(image, has(extractPayload(image, attestations.slsa).predicate.buildDefinition)).all(e, e)',
      ),
    ).toBe(
      'images.containers.map(image, cel.bind(__has_0, extractPayload(image, attestations.slsa).predicate, has(__has_0.buildDefinition))).all(e, e)',
    );
    expect(rewriteHasOverExpressions('has(x[0].f)')).toBe('cel.bind(__has_0, x[0], has(__has_0.f))');
    expect(rewriteHasOverExpressions("has({'a': 1}.a)")).toBe("cel.bind(__has_0, {'a': 1}, has(__has_0.a))");
    expect(rewriteHasOverExpressions('has(f(has(g().y)).z)')).toBe(
      'cel.bind(__has_1, f(cel.bind(__has_0, g(), has(__has_0.y))), has(__has_1.z))',
    );
  });

  it('picks a variable name the expression does not use', () => {
    expect(rewriteHasOverExpressions('has(f().y) || __has_0 == 1')).toBe(
      'cel.bind(__has_1, f(), has(__has_1.y)) || __has_0 == 1',
    );
  });

  it('leaves alone what the library accepts, what is not a select, optional selects, and x.has(…)', () => {
    for (const e of [
      'has(object.metadata.labels)',
      'has(a + f().b)',
      'has(-f().b)',
      'has(f().?b)',
      'x.has(f().y)',
      'has(f())',
      'has(f().y, 1)',
      'size(f().y) > 0',
    ])
      expect(rewriteHasOverExpressions(e)).toBe(e);
  });

  it('rewrites nothing inside strings (quoted, triple-quoted, raw, bytes) or comments', () => {
    const e = [
      `"has(f().a)" + 'has(f().b)' + """has(f().c)""" + r'has(f().d)' + b"has(f().e)"`,
      `// has(f().g)`,
      `+ 'it\\'s has(f().h)' + has(f(')').i)`,
    ].join('\n');
    expect(rewriteHasOverExpressions(e)).toBe(
      e.replace(`has(f(')').i)`, `cel.bind(__has_0, f(')'), has(__has_0.i))`),
    );
  });
});

describe('has() over an expression: evaluation', () => {
  const payload = { predicate: { buildDefinition: { buildType: 't' }, empty: null } };
  const fns = {
    extractPayload: () => payload,
  } as unknown as ImageFunctions;
  const ev = (expression: string) => {
    const compiled = compileCel(expression, 'spec.validations[0].expression');
    return withImageFunctions(fns, () => compiled({}));
  };

  it('is true for a present key (a null value too), false for an absent one', () => {
    expect(ev("has(extractPayload('i', 'a').predicate.buildDefinition)")).toBe(true);
    expect(ev("has(extractPayload('i', 'a').predicate.empty)")).toBe(true);
    expect(ev("has(extractPayload('i', 'a').predicate.nope)")).toBe(false);
    expect(ev("has({'a': 1}.a) && !has({'a': 1}.b)")).toBe(true);
  });

  it('is an error when a field before the tested one is absent, as has() on a variable', () => {
    expect(() => ev("has(extractPayload('i', 'a').nope.x)")).toThrow(/No such key: nope/);
  });

  it('a has() the rewrite leaves alone still fails to compile, naming the field', () => {
    try {
      compileCel("has(1 + {'b': 1}.b)", 'spec.validations[0].expression');
      throw new Error('compiled');
    } catch (err) {
      expect(isSealError(err, 'E_POLICY_INVALID')).toBe(true);
      expect((err as Error).message).toContain(
        'spec.validations[0].expression: CEL does not compile: has() invalid argument',
      );
    }
  });
});
