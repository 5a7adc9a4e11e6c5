// A cheap guard run before the recursive parser: brackets nested deeper than
// `maxNestingDepth` are cut out of the token stream (and reported once), so a file of
// 10,000 `{` can never exhaust the call stack.
import type { IToken } from './chevrotain.ts';
import { diagnostic, type Diagnostic } from '../diagnostics/diagnostic.ts';
import { endOf, type LineMap } from './positions.ts';
import { LBracket, LCurly, LParen, RBracket, RCurly, RParen } from './tokens.ts';

export const maxNestingDepth = 64;

export function limitNesting(tokens: IToken[], lines: LineMap): { tokens: IToken[]; diagnostic?: Diagnostic } {
  let depth = 0;
  let tooDeepAt: IToken | undefined;
  const kept: IToken[] = [];
  for (const token of tokens) {
    const type = token.tokenType;
    const opens = type === LCurly || type === LBracket || type === LParen;
    const closes = type === RCurly || type === RBracket || type === RParen;
    if (opens) depth++;
    const tooDeep = depth > maxNestingDepth;
    if (tooDeep) tooDeepAt ??= token;
    if (closes && depth > 0) depth--;
    if (!tooDeep) kept.push(token);
  }
  if (!tooDeepAt) return { tokens };
  return {
    tokens: kept,
    diagnostic: diagnostic(
      'VPL1013',
      lines.span(tooDeepAt.startOffset, endOf(tooDeepAt)),
      `nesting too deep: more than ${maxNestingDepth} levels of braces, brackets or parentheses`,
      { help: 'flatten the structure; the text nested deeper than this was skipped' },
    ),
  };
}

/** True when the file opens more braces than it closes: then a missing `}` is likely. */
export function hasUnclosedBraces(tokens: IToken[]): boolean {
  let balance = 0;
  for (const token of tokens) {
    if (token.tokenType === LCurly) balance++;
    else if (token.tokenType === RCurly) balance--;
  }
  return balance > 0;
}
