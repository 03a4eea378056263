// The syntax tree of the Rego subset (OPA policy language reference, "Grammar"): terms, body literals,
// rules. Positions are kept so that errors name the line:column of the construct.

import type { SourcePos } from './errors.js';

export type Scalar = null | boolean | number | string;

export type Term =
  | { t: 'scalar'; v: Scalar; pos: SourcePos }
  | { t: 'var'; name: string; pos: SourcePos }
  | { t: 'ref'; head: Term; path: Term[]; pos: SourcePos }
  | { t: 'array'; items: Term[]; pos: SourcePos }
  | { t: 'object'; entries: [Term, Term][]; pos: SourcePos }
  | { t: 'set'; items: Term[]; pos: SourcePos }
  | { t: 'arraycomp' | 'setcomp'; term: Term; body: Literal[]; pos: SourcePos }
  | { t: 'objcomp'; key: Term; value: Term; body: Literal[]; pos: SourcePos }
  | { t: 'call'; name: string; args: Term[]; pos: SourcePos }
  | { t: 'binop'; op: string; left: Term; right: Term; pos: SourcePos }
  | { t: 'member'; key?: Term; value: Term; coll: Term; pos: SourcePos };

export type Literal =
  | { l: 'expr'; negated: boolean; term: Term; pos: SourcePos }
  | { l: 'assign'; op: ':=' | '='; negated: boolean; left: Term; right: Term; pos: SourcePos }
  | { l: 'some'; vars: string[]; pos: SourcePos }
  | { l: 'somein'; key?: Term; value: Term; coll: Term; pos: SourcePos }
  | { l: 'every'; key?: string; value: string; coll: Term; body: Literal[]; pos: SourcePos };

export type RuleKind = 'complete' | 'set' | 'object' | 'function';

export interface ElseClause {
  value: Term;
  body: Literal[];
  pos: SourcePos;
}

/** One rule statement; statements of the same name are the rule's definitions (OR). */
export interface RuleDef {
  name: string;
  kind: RuleKind;
  isDefault: boolean;
  /** Partial set: the member; partial object: the key. */
  key?: Term;
  args?: Term[];
  value: Term;
  body: Literal[];
  elses: ElseClause[];
  pos: SourcePos;
}

export interface Module {
  pkg: string[];
  /** Import aliases: name → the ref it stands for (`input.x`, `data.a.b`). */
  aliases: Map<string, Term>;
  rules: RuleDef[];
}
