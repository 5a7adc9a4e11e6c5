import { describe, expect, it } from 'vitest';
import { lex, splitNumber } from '../../grammar/lexer.ts';
import { LineMap } from '../../grammar/positions.ts';
import { decodeString, encodeString } from '../../grammar/strings.ts';
import { summarize } from './helpers.ts';

function tokens(text: string): string[] {
  return lex(text, new LineMap(text, 't.vpl')).tokens.map((token) => `${token.tokenType.name}:${token.image}`);
}

function diagnostics(text: string) {
  return lex(text, new LineMap(text, 't.vpl')).diagnostics;
}

describe('lexer', () => {
  it('reads numbers, units, exponents and sizes', () => {
    expect(tokens('2e-4 1E+3 .5 16 1.0 2s 500ms 24fps 90% 2k 320x512 16x320x512')).toEqual([
      'NumberLiteral:2e-4',
      'NumberLiteral:1E+3',
      'NumberLiteral:.5',
      'NumberLiteral:16',
      'NumberLiteral:1.0',
      'NumberLiteral:2s',
      'NumberLiteral:500ms',
      'NumberLiteral:24fps',
      'NumberLiteral:90%',
      'NumberLiteral:2k',
      'Size:320x512',
      'Size:16x320x512',
    ]);
  });

  it('splits a number into digits and unit; an exponent is not a unit', () => {
    expect(splitNumber('2e-4')).toEqual({ raw: '2e-4' });
    expect(splitNumber('24fps')).toEqual({ raw: '24', unit: 'fps' });
    expect(splitNumber('1.5e3ms')).toEqual({ raw: '1.5e3', unit: 'ms' });
    expect(splitNumber('90%')).toEqual({ raw: '90', unit: '%' });
  });

  it('makes keywords of whole words only', () => {
    expect(tokens('every everything keep keeper with pipeline extends true false_')).toEqual([
      'Every:every',
      'Identifier:everything',
      'Keep:keep',
      'Identifier:keeper',
      'With:with',
      'Pipeline:pipeline',
      'Extends:extends',
      'True:true',
      'Identifier:false_',
    ]);
  });

  it('reads punctuation, strings, and keeps comments aside', () => {
    const text = 'a.b = [f(1), -2] ; { } * / + "s \\" t" # note  \n';
    expect(tokens(text)).toEqual([
      'Identifier:a', 'Dot:.', 'Identifier:b', 'Equals:=', 'LBracket:[', 'Identifier:f', 'LParen:(',
      'NumberLiteral:1', 'RParen:)', 'Comma:,', 'Minus:-', 'NumberLiteral:2', 'RBracket:]', 'Semicolon:;',
      'LCurly:{', 'RCurly:}', 'Star:*', 'Slash:/', 'Plus:+', 'StringLiteral:"s \\" t"',
    ]);
    const { comments } = lex(text, new LineMap(text, 't.vpl'));
    expect(comments.map((c) => c.text)).toEqual(['# note']);
    expect(comments[0]!.span.start).toEqual({ offset: 38, line: 1, column: 39 });
  });

  it('reports unexpected characters as VPL1001, one per run', () => {
    const found = diagnostics("a = 1\nb = $$ 'x'");
    expect(summarize(found)).toEqual(['VPL1001 2:5', 'VPL1001 2:8', 'VPL1001 2:10']);
    expect(found[0]!.message).toBe("unexpected characters '$$'");
    expect(found[1]!.help).toContain('double quotes');
    expect(found[0]!.span.end.column).toBe(7);
  });

  it('reports an unterminated string at its opening quote (VPL1002)', () => {
    const found = diagnostics('a = 1\nb = "abc\nc = 2');
    expect(summarize(found)).toEqual(['VPL1002 2:5']);
    expect(found[0]!.span.end.column).toBe(6);
    expect(found[0]!.help).toContain('closing `"`');
    // the rest of the file still lexes normally
    expect(tokens('b = "abc\nc = 2').slice(-3)).toEqual(['Identifier:c', 'Equals:=', 'NumberLiteral:2']);
  });

  it('reports invalid escapes (VPL1003) at the backslash', () => {
    const found = diagnostics('s = "ok \\n bad \\q and \\u{110000}"');
    expect(summarize(found)).toEqual(['VPL1003 1:16', 'VPL1003 1:23']);
    expect(found[0]!.message).toBe("invalid escape '\\q' in string");
  });

  it('reports malformed numbers (VPL1004): exponent, unit, size, overflow', () => {
    expect(diagnostics('a = 2e-').map((d) => d.message)).toEqual(["malformed number '2e-': expected digits after 'e-'"]);
    expect(diagnostics('a = 12abc')[0]!.message).toBe("unknown unit 'abc' in '12abc'");
    expect(diagnostics('a = 1x2x3x4')[0]!.message).toContain('2 or 3 dimensions, found 4');
    expect(diagnostics('a = 1e999')[0]!.message).toBe("number '1e999' is too large");
    expect(diagnostics('a = 2e-4 b = 2s c = 1x2').length).toBe(0);
  });

  it('reports text that is not UTF-8 once (VPL1014)', () => {
    const found = diagnostics('a = 1 \ufffd\ufffd\nb = \ufffd');
    expect(summarize(found)).toEqual(['VPL1014 1:7']);
  });

  it('tracks lines after \\r\\n, \\r and \\n alike', () => {
    const text = 'a\r\nb\rc\nd';
    const lines = new LineMap(text, 't.vpl');
    expect([1, 3, 5, 7].map((offset) => lines.position(offset).line)).toEqual([1, 2, 3, 4]);
  });
});

describe('string escapes', () => {
  it('decodes and re-encodes every escape', () => {
    const { value, problems } = decodeString('"q\\" b\\\\ n\\n t\\t e\\u{1F600}"');
    expect(problems).toEqual([]);
    expect(value).toBe('q" b\\ n\n t\t e😀');
    expect(decodeString(encodeString(value)).value).toBe(value);
    expect(encodeString('a\u0001\r')).toBe('"a\\u{1}\\u{D}"');
  });
});
