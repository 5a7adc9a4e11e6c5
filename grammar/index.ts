// The public API of the .vpl grammar.
export type * from './ast.ts';
export { parse, type ParseResult } from './parser.ts';
export { print, stripSpans } from './printer.ts';
export { format, type FormatResult } from './format.ts';
export { lex, numberUnits } from './lexer.ts';
export { LineMap } from './positions.ts';
export { maxNestingDepth } from './nesting.ts';
