// The .vpl syntax tree. Every node carries the span of source text it came from, so the
// checker, the formatter and the language server can point at the exact place.
import type { Span } from '../diagnostics/span.ts';

// Spans live in diagnostics/ (grammar depends on diagnostics, never the reverse).
export type { Position, Span } from '../diagnostics/span.ts';

/** A `# ...` comment, kept so the formatter never drops what a user wrote. */
export interface Comment {
  text: string; // including the leading '#'
  span: Span;
  /** A blank line separates this comment from the text before it (layout kept by the formatter). */
  blankLineBefore?: boolean;
}

interface NodeBase {
  span: Span;
}

/** Comments attached to a statement: the lines above it and the one at the end of its line. */
export interface Trivia {
  leading: Comment[];
  trailing?: Comment;
  /** A blank line comes right before the statement itself (after its leading comments). */
  blankLineBefore?: boolean;
}

export interface Identifier extends NodeBase {
  kind: 'Identifier';
  name: string;
}

// ---------------------------------------------------------------- expressions

export interface NumberLiteral extends NodeBase {
  kind: 'Number';
  value: number;
  /** The digits as written (`2e-4`, `1.0`), so formatting keeps the user's spelling. */
  raw: string;
  /** A unit written right after the digits: `2s`, `24fps`, `500ms`. */
  unit?: string;
}

/** `320x512` (height x width) or `16x320x512` (frames x height x width). */
export interface SizeLiteral extends NodeBase {
  kind: 'Size';
  dims: number[];
}

export interface StringLiteral extends NodeBase {
  kind: 'String';
  /** The decoded value (escapes resolved). */
  value: string;
}

export interface BooleanLiteral extends NodeBase {
  kind: 'Boolean';
  value: boolean;
}

/** `animals`, `attn.q`, `videocrafter2`: a name, possibly dotted. */
export interface PathExpression extends NodeBase {
  kind: 'Path';
  parts: Identifier[];
}

export interface ListExpression extends NodeBase {
  kind: 'List';
  items: Expression[];
}

export interface Argument extends NodeBase {
  kind: 'Argument';
  /** Present for named arguments: `huber(c = 0.001)`. */
  name?: Identifier;
  value: Expression;
}

/** `random(1)`, `last(1)`, `uniform(5, 15)`, `huber(0.001)`. */
export interface CallExpression extends NodeBase {
  kind: 'Call';
  callee: Identifier;
  args: Argument[];
}

/** A named configuration value: `adamw { lr = 2e-4  weight_decay = 0.01 }`. */
export interface ObjectExpression extends NodeBase {
  kind: 'Object';
  name: Identifier;
  body: Statement[];
  /** Comments after the last statement, before the closing brace. */
  danglingComments: Comment[];
}

export interface BinaryExpression extends NodeBase {
  kind: 'Binary';
  operator: '+' | '-' | '*' | '/';
  left: Expression;
  right: Expression;
}

export interface UnaryExpression extends NodeBase {
  kind: 'Unary';
  operator: '-';
  operand: Expression;
}

/** `(expr)`: kept so the printer can reproduce grouping the user wrote. */
export interface ParenthesizedExpression extends NodeBase {
  kind: 'Parenthesized';
  expression: Expression;
}

/** Stands where the parser recovered from a syntax error; the checker skips it silently. */
export interface ErrorExpression extends NodeBase {
  kind: 'ErrorExpression';
}

export type Expression =
  | NumberLiteral
  | SizeLiteral
  | StringLiteral
  | BooleanLiteral
  | PathExpression
  | ListExpression
  | CallExpression
  | ObjectExpression
  | BinaryExpression
  | UnaryExpression
  | ParenthesizedExpression
  | ErrorExpression;

// ----------------------------------------------------------------- statements

/** `pipeline pickscore` */
export interface PipelineDeclaration extends NodeBase {
  kind: 'PipelineDeclaration';
  name: Identifier;
  trivia: Trivia;
}

/** `extends "base.vpl"`: inherit another pipeline and override its fields. */
export interface ExtendsDeclaration extends NodeBase {
  kind: 'ExtendsDeclaration';
  path: StringLiteral;
  trivia: Trivia;
}

/** `model videocrafter2 { ... }`, `lora { ... }`, `objective reward { ... }`. */
export interface Block extends NodeBase {
  kind: 'Block';
  keyword: Identifier;
  /** The component chosen for this block: `videocrafter2`, `ddim`, `reward`. */
  variant?: Identifier;
  body: Statement[];
  danglingComments: Comment[];
  trivia: Trivia;
}

/** `rank = 16`, `prompts = animals`, `lora.rank = 8`. */
export interface Assignment extends NodeBase {
  kind: 'Assignment';
  target: PathExpression;
  value: Expression;
  trivia: Trivia;
}

export interface ClausePart extends NodeBase {
  kind: 'ClausePart';
  /** `every`, `with`, `keep`. */
  word: Identifier;
  value: NumberLiteral;
  /** The counted thing written after the number: `steps`, `prompts`. */
  unit?: Identifier;
}

/** `validate every 80 steps with 4 prompts`, `checkpoint every 8 steps keep 5`. */
export interface Clause extends NodeBase {
  kind: 'Clause';
  keyword: Identifier;
  parts: ClausePart[];
  trivia: Trivia;
}

export type Statement = PipelineDeclaration | ExtendsDeclaration | Block | Assignment | Clause;

export interface SourceFile extends NodeBase {
  kind: 'SourceFile';
  body: Statement[];
  /** Comments after the last statement. */
  danglingComments: Comment[];
}

export type Node = SourceFile | Statement | Expression | Identifier | Argument | ClausePart;
