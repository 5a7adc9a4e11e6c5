import { describe, expect, it } from 'vitest';
import type { Assignment, Block } from '../../grammar/ast.ts';
import { parse } from '../../grammar/index.ts';
import { at, summarize } from './helpers.ts';

describe('syntax errors', () => {
  it('reports all four problems of a broken file, each at its place, and keeps parsing', () => {
    const text = [
      'pipeline broken', //                         1
      'model videocrafter2 {', //                   2  never closed
      '  weights = "checkpoints/model.ckpt', //     3  unterminated string
      '  frames = 12', //                           4
      '', //                                        5
      'lora {', //                                  6
      '  rank = 16', //                             7
      '  alpha = }', //                             8  no value
      'train {', //                                 9
      '  steps = 450 500', //                       10 stray number
      '  seed = 42', //                             11
      '}', //                                       12
    ].join('\n');
    const { ast, diagnostics } = parse(text, 'broken.vpl');
    expect(summarize(diagnostics)).toEqual(['VPL1011 2:21', 'VPL1002 3:13', 'VPL1012 8:11', 'VPL1010 10:15']);
    const [missingBrace, unterminated, missingValue, stray] = diagnostics;
    expect(missingBrace!.message).toBe("missing '}' to close the block 'model' opened here; found 'lora'");
    expect(unterminated!.help).toContain('add the closing `"`');
    expect(missingValue!.message).toBe("expected a value after '=' but found '}'");
    expect(stray!.message).toBe("unexpected number '500' after the end of the statement");
    expect(diagnostics.every((d) => d.span.file === 'broken.vpl' && d.severity === 'error')).toBe(true);

    // recovery: everything after the errors is still in the tree
    expect(ast.body.map((s) => (s.kind === 'Block' ? s.keyword.name : s.kind))).toEqual(['PipelineDeclaration', 'model', 'lora', 'train']);
    const model = ast.body[1] as Block;
    expect(model.body.map((s) => (s as Assignment).target.parts[0]!.name)).toEqual(['weights', 'frames']);
    expect((model.body[0] as Assignment).value).toMatchObject({ kind: 'String', value: 'checkpoints/model.ckpt' });
    const lora = ast.body[2] as Block;
    expect((lora.body[1] as Assignment).value.kind).toBe('ErrorExpression');
    const train = ast.body[3] as Block;
    expect(train.body.map((s) => (s as Assignment).target.parts[0]!.name)).toEqual(['steps', 'seed']);
  });

  it('points a missing brace at the brace that was opened', () => {
    const { diagnostics } = parse('train {\n  a = 1\n', 'x.vpl');
    expect(summarize(diagnostics)).toEqual(['VPL1011 1:7']);
    expect(diagnostics[0]!.message).toContain('found the end of the file');
    expect(at(diagnostics[0]!.related![0]!.span)).toBe('3:1');
  });

  it('reports unclosed lists, calls and parentheses (VPL1011)', () => {
    const { diagnostics } = parse('a = [1, 2\nb = f(1\nc = (1 + 2\nd = 4', 'x.vpl');
    expect(summarize(diagnostics)).toEqual(['VPL1011 1:5', 'VPL1011 2:6', 'VPL1011 3:5']);
  });

  it('reports a missing value at the end of the file and after operators', () => {
    expect(summarize(parse('a =', 'x.vpl').diagnostics)).toEqual(['VPL1012 1:4']);
    const { diagnostics } = parse('a = 1 +\nb = 2 * )\nc = -', 'x.vpl');
    expect(diagnostics.map((d) => `${d.code} ${at(d.span)} ${d.message}`)).toEqual([
      "VPL1010 2:1 expected a value after '+' but found 'b'",
      "VPL1010 2:9 expected a value after '*' but found ')'",
      "VPL1010 3:6 expected a value after '-' but found the end of the file",
    ]);
  });

  it('explains stray text in human words', () => {
    const cases: [string, string][] = [
      ['}', "unexpected '}': there is no open block to close"],
      ['foo bar', "expected '=' or '{' after 'foo' but found 'bar'"],
      ['pipeline 5', "expected a pipeline name after 'pipeline' but found number '5'"],
      ['extends base', "expected a file path string after 'extends' but found 'base'"],
      ['{ a = 1 }', "unexpected '{': a block needs a name before its brace"],
      ['42', "expected a statement but found number '42'"],
      ['a.b 1', "expected '=' after 'a.b' but found number '1'"],
      ['a. = 1', "expected a name after '.' but found '='"],
      ['x = [1 2]', "expected ',' or ']' but found number '2'"],
      ['x = f(, 1)', "expected an argument before ','"],
      ['t { log every steps }', "expected a number after 'every' but found 'steps'"],
    ];
    for (const [text, message] of cases) {
      const { diagnostics } = parse(text, 'x.vpl');
      expect(diagnostics.map((d) => d.message), text).toEqual([message]);
    }
  });

  it('recovers at the next statement after stray text on the same line', () => {
    const { ast, diagnostics } = parse('x = 1 2 y = 3\nz = 4', 'x.vpl');
    expect(summarize(diagnostics)).toEqual(['VPL1010 1:7']);
    expect(ast.body.map((s) => (s as Assignment).target.parts[0]!.name)).toEqual(['x', 'y', 'z']);
  });

  it('reports nesting deeper than the limit once (VPL1013)', () => {
    const { diagnostics } = parse(`x = ${'['.repeat(100)}1${']'.repeat(100)}`, 'x.vpl');
    expect(summarize(diagnostics)).toEqual(['VPL1013 1:69']);
    const shallow = parse(`x = ${'['.repeat(60)}1${']'.repeat(60)}`, 'x.vpl');
    expect(shallow.diagnostics).toEqual([]);
  });
});
