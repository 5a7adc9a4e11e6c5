// The token types of .vpl. Order in `allTokens` matters: chevrotain tries patterns in order
// and takes the first that matches, so longer or more specific forms come first.
import { createToken, Lexer, type TokenType } from './chevrotain.ts';

// ---- categories (never matched directly)
/** Anything usable where a name is expected: identifiers and every keyword. */
export const Name = createToken({ name: 'Name', pattern: Lexer.NA });
/** `every`, `with`, `keep`: the words that start the parts of a clause. */
export const ClauseWord = createToken({ name: 'ClauseWord', pattern: Lexer.NA });
export const NumberLike = createToken({ name: 'NumberLike', pattern: Lexer.NA });
export const StringLike = createToken({ name: 'StringLike', pattern: Lexer.NA });
/** Every real token; lets error recovery skip "any token". */
export const AnyToken = createToken({ name: 'AnyToken', pattern: Lexer.NA });

// ---- trivia
export const WhiteSpace = createToken({
  name: 'WhiteSpace',
  pattern: /[ \t\r\n\f\v\u00a0\ufeff\u2028\u2029]+/,
  group: Lexer.SKIPPED,
  line_breaks: true,
});
export const Comment = createToken({ name: 'Comment', pattern: /#[^\r\n]*/, group: 'comments' });
/**
 * A run of characters that start no token. Matching them as one token (kept out of the
 * parser's way in their own group) is much faster than chevrotain's per-character error
 * recovery on, say, a binary file; the lexer reports each run as VPL1001.
 */
export const Unexpected = createToken({
  name: 'Unexpected',
  pattern: /[^ \t\r\n\f\v\u00a0\ufeff\u2028\u2029#"0-9.A-Za-z_{}[\](),=+\-*\/;]+/,
  group: 'unexpected',
});

// ---- literals
export const StringLiteral = createToken({
  name: 'StringLiteral',
  pattern: /"(?:[^"\\\r\n]|\\[^\r\n])*"/,
  categories: [StringLike, AnyToken],
});
/** A string that reaches the end of its line: reported, then parsed as if it were closed. */
export const UnterminatedString = createToken({
  name: 'UnterminatedString',
  pattern: /"(?:[^"\\\r\n]|\\[^\r\n])*\\?/,
  categories: [StringLike, AnyToken],
});
export const Size = createToken({ name: 'Size', pattern: /[0-9]+(?:x[0-9]+)+/, categories: [AnyToken] });
/** `2e-` with no exponent digits: reported, then parsed as the number before the `e`. */
export const BadExponent = createToken({
  name: 'BadExponent',
  pattern: /(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)[eE][+-](?![0-9])/,
  categories: [NumberLike, AnyToken],
});
/** Digits, an optional exponent, then an optional unit glued on (`2s`, `24fps`, `90%`). */
export const NumberLiteral = createToken({
  name: 'NumberLiteral',
  pattern: /(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?(?:%|[A-Za-z_][A-Za-z0-9_]*)?/,
  categories: [NumberLike, AnyToken],
});

// ---- names
export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_]*/, categories: [Name, AnyToken] });

function keyword(word: string, ...categories: TokenType[]): TokenType {
  return createToken({
    name: word[0]!.toUpperCase() + word.slice(1),
    pattern: new RegExp(word),
    longer_alt: Identifier,
    categories: [Name, AnyToken, ...categories],
  });
}
export const Pipeline = keyword('pipeline');
export const Extends = keyword('extends');
export const True = keyword('true');
export const False = keyword('false');
export const Every = keyword('every', ClauseWord);
export const With = keyword('with', ClauseWord);
export const Keep = keyword('keep', ClauseWord);

// ---- punctuation
function punctuation(name: string, text: string): TokenType {
  return createToken({ name, pattern: text, categories: [AnyToken], label: `'${text}'` });
}
export const LCurly = punctuation('LCurly', '{');
export const RCurly = punctuation('RCurly', '}');
export const LBracket = punctuation('LBracket', '[');
export const RBracket = punctuation('RBracket', ']');
export const LParen = punctuation('LParen', '(');
export const RParen = punctuation('RParen', ')');
export const Comma = punctuation('Comma', ',');
export const Dot = punctuation('Dot', '.');
export const Equals = punctuation('Equals', '=');
export const Plus = punctuation('Plus', '+');
export const Minus = punctuation('Minus', '-');
export const Star = punctuation('Star', '*');
export const Slash = punctuation('Slash', '/');
export const Semicolon = punctuation('Semicolon', ';');

export const allTokens: TokenType[] = [
  WhiteSpace,
  Comment,
  StringLiteral,
  UnterminatedString,
  Size,
  BadExponent,
  NumberLiteral,
  Pipeline,
  Extends,
  True,
  False,
  Every,
  With,
  Keep,
  Identifier,
  LCurly,
  RCurly,
  LBracket,
  RBracket,
  LParen,
  RParen,
  Comma,
  Dot,
  Equals,
  Plus,
  Minus,
  Star,
  Slash,
  Semicolon,
  Unexpected,
  // categories last: the parser needs to know them, the lexer never matches them
  Name,
  ClauseWord,
  NumberLike,
  StringLike,
  AnyToken,
];
