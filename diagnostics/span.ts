// Where a piece of source text is. Defined here, not in grammar/, so diagnostics depends on
// nothing else in the repo (grammar/ast.ts re-exports these for the syntax tree).

export interface Position {
  /** 0-based character offset into the source text. */
  offset: number;
  /** 1-based line. */
  line: number;
  /** 1-based column, counted in UTF-16 code units. */
  column: number;
}

export interface Span {
  file: string;
  start: Position;
  /** Exclusive end. */
  end: Position;
}
