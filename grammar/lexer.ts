// Turns .vpl text into tokens, plus the comments (kept aside for the printer) and the
// lexical diagnostics VPL1001-VPL1004 and VPL1014.
import { Lexer, type IToken } from './chevrotain.ts';
import type { Comment } from './ast.ts';
import { diagnostic, type Diagnostic } from '../diagnostics/diagnostic.ts';
import { endOf, LineMap } from './positions.ts';
import { decodeString } from './strings.ts';
import * as t from './tokens.ts';

/** Units a number may carry, glued to its digits (`2s`, `24fps`). */
export const numberUnits: Record<string, string> = {
  s: 'seconds',
  ms: 'milliseconds',
  min: 'minutes',
  h: 'hours',
  fps: 'frames per second',
  '%': 'percent',
  k: 'thousands',
  M: 'millions',
};

/** Beyond this, further lexical errors add noise, not information (think of binary files). */
const maxLexicalDiagnostics = 50;

const lexer = new Lexer(t.allTokens, {
  positionTracking: 'onlyOffset',
  ensureOptimizations: false,
  // Our own messages replace chevrotain's; skip building its strings.
  errorMessageProvider: {
    buildUnexpectedCharactersMessage: () => '',
    buildUnableToPopLexerModeMessage: () => '',
  },
});

export interface LexResult {
  tokens: IToken[];
  comments: Comment[];
  diagnostics: Diagnostic[];
}

/** Splits a number token into its digits and unit: `24fps` -> `24`, `fps`. */
export function splitNumber(image: string): { raw: string; unit?: string } {
  const match = /^((?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)(.*)$/.exec(image);
  if (!match) return { raw: image };
  return match[2] ? { raw: match[1]!, unit: match[2] } : { raw: match[1]! };
}

export function lex(text: string, lines: LineMap): LexResult {
  const result = lexer.tokenize(text);
  const diagnostics: Diagnostic[] = [];
  const report = (d: Diagnostic) => {
    if (diagnostics.length < maxLexicalDiagnostics) diagnostics.push(d);
  };

  let reportedEncoding = false;
  // runs of unknown characters come as `Unexpected` tokens; chevrotain's own errors cannot
  // happen then, but are handled alike should a pattern ever leave a gap
  const unexpected = [
    ...(result.groups['unexpected'] ?? []).map((token) => ({ offset: token.startOffset, length: token.image.length })),
    ...result.errors.map((error) => ({ offset: error.offset, length: error.length })),
  ];
  for (const error of unexpected) {
    const bad = text.slice(error.offset, error.offset + error.length);
    if (bad.includes('\ufffd')) {
      if (reportedEncoding) continue;
      reportedEncoding = true;
      const at = error.offset + bad.indexOf('\ufffd');
      report(
        diagnostic('VPL1014', lines.span(at, at + 1), 'the file is not valid UTF-8 text', {
          help: 'save the file with UTF-8 encoding',
        }),
      );
      continue;
    }
    report(unexpectedCharacters(bad, error.offset, lines));
  }

  for (const token of result.tokens) {
    const type = token.tokenType;
    if (type === t.UnterminatedString) {
      report(
        diagnostic('VPL1002', lines.span(token.startOffset, token.startOffset + 1), 'unterminated string', {
          help: 'add the closing `"` at the end of the string (a string may not span lines)',
          fix: { span: lines.span(endOf(token), endOf(token)), text: '"', title: 'Close the string' },
        }),
      );
    }
    if (type === t.StringLiteral || type === t.UnterminatedString) {
      for (const problem of decodeString(token.image).problems) {
        const start = token.startOffset + problem.offset;
        report(
          diagnostic('VPL1003', lines.span(start, start + problem.length), problem.message, {
            help: 'allowed escapes: \\" \\\\ \\n \\t \\u{1F600}; write \\\\ for a backslash',
          }),
        );
      }
    } else if (type === t.BadExponent) {
      report(
        diagnostic('VPL1004', tokenSpan(token, lines), `malformed number '${token.image}': expected digits after '${token.image.slice(-2)}'`, {
          help: 'write the exponent with digits, like 2e-4',
        }),
      );
    } else if (type === t.NumberLiteral) {
      const { raw, unit } = splitNumber(token.image);
      if (unit !== undefined && !(unit in numberUnits)) {
        report(
          diagnostic('VPL1004', tokenSpan(token, lines), `unknown unit '${unit}' in '${token.image}'`, {
            help: `units are ${Object.keys(numberUnits).join(', ')}; put a space between a number and a name`,
          }),
        );
      } else if (!Number.isFinite(Number(raw))) {
        report(diagnostic('VPL1004', tokenSpan(token, lines), `number '${raw}' is too large`));
      }
    } else if (type === t.Size) {
      const dims = token.image.split('x').length;
      if (dims > 3) {
        report(
          diagnostic('VPL1004', tokenSpan(token, lines), `malformed size '${token.image}': a size has 2 or 3 dimensions, found ${dims}`, {
            help: 'write height x width (320x512) or frames x height x width (16x320x512)',
          }),
        );
      }
    }
  }

  const comments: Comment[] = (result.groups['comments'] ?? []).map((token) => {
    const text = token.image.trimEnd();
    return { text, span: lines.span(token.startOffset, token.startOffset + text.length) };
  });
  return { tokens: result.tokens, comments, diagnostics };
}

export function tokenSpan(token: IToken, lines: LineMap) {
  return lines.span(token.startOffset, endOf(token));
}

/** Why a character might have been typed, keyed by the character. */
const characterHints: Record<string, string> = {
  "'": 'strings use double quotes: "..."',
  ':': "use '=' to give a field its value",
  '/': "comments start with '#'",
  '{': 'a block needs a name before its brace',
};

function unexpectedCharacters(bad: string, offset: number, lines: LineMap): Diagnostic {
  const first = bad[0] ?? '';
  const shown = bad.length > 20 ? `${bad.slice(0, 20)}...` : bad;
  const printable = /^[\x21-\x7e]+$/.test(shown.replace('...', ''));
  const what = printable
    ? `'${shown}'`
    : `U+${(first.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
  const message = bad.length === 1 || !printable ? `unexpected character ${what}` : `unexpected characters ${what}`;
  return diagnostic('VPL1001', lines.span(offset, offset + bad.length), message, {
    help: characterHints[first] ?? 'remove it',
  });
}
