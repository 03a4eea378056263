// Errors of the Rego subset: a syntax or unsupported construct (found when the policy loads, with its
// line:column) and an evaluation error (a conflict, a cycle, a bound exceeded) while it runs.

export interface SourcePos {
  line: number;
  col: number;
}

export class RegoSyntaxError extends Error {
  constructor(
    readonly detail: string,
    readonly pos: SourcePos,
  ) {
    super(`${pos.line}:${pos.col}: ${detail}`);
    this.name = 'RegoSyntaxError';
  }
}

export class RegoEvalError extends Error {
  constructor(
    readonly detail: string,
    readonly pos?: SourcePos,
  ) {
    super(pos ? `${pos.line}:${pos.col}: ${detail}` : detail);
    this.name = 'RegoEvalError';
  }
}
