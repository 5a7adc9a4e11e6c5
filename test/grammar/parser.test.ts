import { describe, expect, it } from 'vitest';
import type { Assignment, Block, Clause, Expression, SourceFile, Statement } from '../../grammar/ast.ts';
import { parse } from '../../grammar/index.ts';
import { stripSpans } from '../../grammar/printer.ts';
import { at } from './helpers.ts';

function parseClean(text: string): SourceFile {
  const { ast, diagnostics } = parse(text, 'p.vpl');
  expect(diagnostics.map((d) => d.message)).toEqual([]);
  return ast;
}

function valueOf(text: string): Expression {
  const statement = parseClean(`x = ${text}`).body[0] as Assignment;
  return statement.value;
}

/** A compact rendering of an expression's tree, to check structure and precedence. */
function shape(e: Expression): string {
  switch (e.kind) {
    case 'Binary':
      return `(${shape(e.left)} ${e.operator} ${shape(e.right)})`;
    case 'Unary':
      return `(-${shape(e.operand)})`;
    case 'Parenthesized':
      return `[${shape(e.expression)}]`;
    case 'Number':
      return e.raw + (e.unit ?? '');
    case 'Path':
      return e.parts.map((p) => p.name).join('.');
    default:
      return e.kind;
  }
}

describe('parser: statements', () => {
  it('parses pipeline, extends, blocks, assignments and clauses with exact spans', () => {
    const text = 'pipeline pick\nextends "base.vpl"\nmodel vc2 {\n  size = 320x512\n}\ntrain { validate every 80 steps with 4 prompts }\n';
    const ast = parseClean(text);
    expect(ast.body.map((s) => s.kind)).toEqual(['PipelineDeclaration', 'ExtendsDeclaration', 'Block', 'Block']);
    expect(ast.span).toEqual({ file: 'p.vpl', start: { offset: 0, line: 1, column: 1 }, end: { offset: text.length, line: 7, column: 1 } });

    const [pipeline, extend, model, train] = ast.body as [Statement, Statement, Block, Block];
    expect(pipeline).toMatchObject({ name: { name: 'pick' } });
    expect(pipeline.span.start).toEqual({ offset: 0, line: 1, column: 1 });
    expect(pipeline.span.end).toEqual({ offset: 13, line: 1, column: 14 });
    expect(extend).toMatchObject({ path: { kind: 'String', value: 'base.vpl' } });

    expect(model.keyword.name).toBe('model');
    expect(model.variant?.name).toBe('vc2');
    expect(model.span.start).toEqual({ offset: 33, line: 3, column: 1 });
    expect(model.span.end).toEqual({ offset: 63, line: 5, column: 2 });
    const size = model.body[0] as Assignment;
    expect(size.value).toEqual({
      kind: 'Size',
      dims: [320, 512],
      span: { file: 'p.vpl', start: { offset: 54, line: 4, column: 10 }, end: { offset: 61, line: 4, column: 17 } },
    });
    expect(size.target.span.start.column).toBe(3);

    const clause = train.body[0] as Clause;
    expect(clause.kind).toBe('Clause');
    expect(clause.keyword.name).toBe('validate');
    expect(clause.parts.map((p) => [p.word.name, p.value.value, p.unit?.name])).toEqual([
      ['every', 80, 'steps'],
      ['with', 4, 'prompts'],
    ]);
    expect(at(clause.parts[1]!.span)).toBe('6:33');
    expect(clause.parts[1]!.span.end.column).toBe(47);
  });

  it('does not take the next statement as a clause unit', () => {
    const ast = parseClean('train {\n  checkpoint every 8 steps keep 5\n  seed = 42\n  log every 10\n  validate with 2\n}');
    const body = (ast.body[0] as Block).body;
    expect(body.map((s) => s.kind)).toEqual(['Clause', 'Assignment', 'Clause', 'Clause']);
    expect((body[0] as Clause).parts[1]!.unit).toBeUndefined();
  });

  it('accepts several statements on one line and optional semicolons', () => {
    const ast = parseClean('lora { rank = 16  alpha = 16 }; a = 1; b = 2');
    expect(ast.body.length).toBe(3);
    expect((ast.body[0] as Block).body.length).toBe(2);
  });

  it('lets keywords serve as names', () => {
    const ast = parseClean('pipeline every\nevery = keep\nwith.keep = every(2)\npipeline { true = false }');
    expect(ast.body.map((s) => s.kind)).toEqual(['PipelineDeclaration', 'Assignment', 'Assignment', 'Block']);
    const inner = (ast.body[3] as Block).body[0] as Assignment;
    expect(inner.target.parts[0]!.name).toBe('true');
    expect(inner.value).toMatchObject({ kind: 'Boolean', value: false });
    expect((ast.body[2] as Assignment).value).toMatchObject({ kind: 'Call', callee: { name: 'every' } });
  });
});

describe('parser: expressions', () => {
  it('gives * and / precedence over + and -, left to right', () => {
    expect(shape(valueOf('1 + 2 * 3 - 4 / 5'))).toBe('((1 + (2 * 3)) - (4 / 5))');
    expect(shape(valueOf('a - b - c'))).toBe('((a - b) - c)');
    expect(shape(valueOf('-a * - -b'))).toBe('((-a) * (-(-b)))');
    expect(shape(valueOf('(1 + 2) * 3'))).toBe('([(1 + 2)] * 3)');
  });

  it('parses literals', () => {
    expect(valueOf('2e-4')).toMatchObject({ kind: 'Number', value: 2e-4, raw: '2e-4' });
    expect(valueOf('24fps')).toMatchObject({ kind: 'Number', value: 24, raw: '24', unit: 'fps' });
    expect(valueOf('.5')).toMatchObject({ value: 0.5, raw: '.5' });
    expect(valueOf('16x320x512')).toMatchObject({ kind: 'Size', dims: [16, 320, 512] });
    expect(valueOf('"a\\tb"')).toMatchObject({ kind: 'String', value: 'a\tb' });
    expect(valueOf('true')).toMatchObject({ kind: 'Boolean', value: true });
    expect(valueOf('attn.q')).toMatchObject({ kind: 'Path', parts: [{ name: 'attn' }, { name: 'q' }] });
  });

  it('parses lists, calls with named arguments and objects', () => {
    const list = valueOf('[attn.q, 1, [],]');
    expect(list).toMatchObject({ kind: 'List', items: [{ kind: 'Path' }, { kind: 'Number' }, { kind: 'List', items: [] }] });
    const call = valueOf('huber(0.5, c = 0.001)');
    expect(stripSpans(call)).toEqual({
      kind: 'Call',
      callee: { kind: 'Identifier', name: 'huber' },
      args: [
        { kind: 'Argument', value: { kind: 'Number', value: 0.5, raw: '0.5' } },
        { kind: 'Argument', name: { kind: 'Identifier', name: 'c' }, value: { kind: 'Number', value: 0.001, raw: '0.001' } },
      ],
    });
    expect(call.span.start.column).toBe(5);
    expect(call.span.end.column).toBe(26);
    const object = valueOf('adamw { lr = 2e-4  weight_decay = 0.01 }');
    expect(object).toMatchObject({ kind: 'Object', name: { name: 'adamw' }, body: [{ kind: 'Assignment' }, { kind: 'Assignment' }] });
    expect(object.span.end.column).toBe(45);
  });

  it('lets lists and calls span lines', () => {
    expect(valueOf('[\n  a,\n  b\n]')).toMatchObject({ kind: 'List', items: [{}, {}] });
    expect(valueOf('f(\n  1,\n  k = 2\n)')).toMatchObject({ kind: 'Call', args: [{}, { name: { name: 'k' } }] });
  });
});

describe('parser: comments', () => {
  it('attaches leading, trailing and dangling comments', () => {
    const ast = parseClean('# head\npipeline p # tail\n\n# lead\nmodel m { # inside\n  a = 1 # a\n  # end of model\n} # after\n# last\n');
    const [pipeline, model] = ast.body as [Statement, Block];
    expect(pipeline.trivia.leading.map((c) => c.text)).toEqual(['# head']);
    expect(pipeline.trivia.trailing?.text).toBe('# tail');
    expect(model.trivia.leading.map((c) => c.text)).toEqual(['# lead']);
    expect(model.trivia.leading[0]!.blankLineBefore).toBe(true);
    expect(model.trivia.trailing?.text).toBe('# after');
    expect(model.body[0]!.trivia.leading.map((c) => c.text)).toEqual(['# inside']);
    expect(model.body[0]!.trivia.trailing?.text).toBe('# a');
    expect(model.danglingComments.map((c) => c.text)).toEqual(['# end of model']);
    expect(ast.danglingComments.map((c) => c.text)).toEqual(['# last']);
    expect(at(ast.danglingComments[0]!.span)).toBe('9:1');
  });

  it('gives comments inside an object value to the object', () => {
    const ast = parseClean('opt = adamw {\n  # why\n  lr = 1\n}');
    const value = (ast.body[0] as Assignment).value;
    expect(value.kind === 'Object' && value.body[0]!.trivia.leading[0]!.text).toBe('# why');
    expect(ast.body[0]!.trivia.leading).toEqual([]);
  });
});
