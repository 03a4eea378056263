// Kyverno deny conditions (pkg/engine/variables/evaluate.go): which conditions decide, their messages, and
// an evaluation error surfaced rather than read as "no deny".

import { describe, expect, it } from 'vitest';
import { evaluateDenyConditions } from '../../src/policy/conditions.js';
import type { ConditionBlock } from '../../src/policy/types.js';

const data = {
  sbom: { bomFormat: 'CycloneDX', metadata: { timestamp: '2024-06-01T00:00:00Z' } },
  scan: { descriptor: { timestamp: '2024-06-02T00:00:00Z' } },
};

describe('evaluateDenyConditions', () => {
  const any: ConditionBlock = {
    all: [],
    any: [
      { key: '{{ sbom.bomFormat }}', operator: 'NotEquals', value: 'CycloneDX' },
      {
        key: "{{ time_after('{{ sbom.metadata.timestamp }}', '{{ scan.descriptor.timestamp }}' ) }}",
        operator: 'Equals',
        value: false,
      },
    ],
  };
  const messages = { all: [], any: ['test1', 'test2'] };

  it('denies when an any condition holds, with that condition message (nested templates substituted inside out)', () => {
    expect(evaluateDenyConditions(any, data, messages)).toEqual({ deny: true, message: 'test2' });
  });

  it('does not deny when no any condition holds, reporting the messages of those that did not', () => {
    const later = { ...data, sbom: { ...data.sbom, metadata: { timestamp: '2024-06-03T00:00:00Z' } } };
    expect(evaluateDenyConditions(any, later, messages)).toEqual({ deny: false, message: 'test1; test2' });
  });

  it('all: every condition must hold to deny', () => {
    const all: ConditionBlock = {
      all: [
        { key: '{{ sbom.bomFormat }}', operator: 'Equals', value: 'CycloneDX' },
        { key: '{{ scan.descriptor.timestamp }}', operator: 'Equals', value: 'never' },
      ],
      any: [],
    };
    expect(evaluateDenyConditions(all, data, { all: ['a', 'b'], any: [] })).toEqual({
      deny: false,
      message: 'b',
    });
  });

  it('an expression that fails to evaluate is an error, never a silent pass', () => {
    const bad: ConditionBlock = {
      all: [
        {
          key: "{{ time_after('not a time', '{{ scan.descriptor.timestamp }}') }}",
          operator: 'Equals',
          value: true,
        },
      ],
      any: [],
    };
    const r = evaluateDenyConditions(bad, data, { all: [undefined], any: [] });
    expect(r.deny).toBe(false);
    expect(r.error).toMatch(/time_after/);
  });
});
