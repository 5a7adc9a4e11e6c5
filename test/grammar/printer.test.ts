import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SourceFile } from '../../grammar/ast.ts';
import { format, parse, print, stripSpans } from '../../grammar/index.ts';
import { inlineSamples } from './samples.ts';

const root = join(import.meta.dirname, '..', '..');

/** Every .vpl file other engineers have added so far (globbed at test time). */
function pipelineFiles(): string[] {
  const files: string[] = [];
  for (const folder of ['pipelines', 'test/cases']) {
    const dir = join(root, folder);
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
      if (entry.endsWith('.vpl')) files.push(join(folder, entry));
    }
  }
  return files.sort();
}

/** print -> parse gives the same tree, and printing again changes nothing. */
function expectRoundTrip(ast: SourceFile, file: string): void {
  const printed = print(ast);
  const reparsed = parse(printed, file);
  expect(reparsed.diagnostics.map((d) => d.message), printed).toEqual([]);
  expect(stripSpans(reparsed.ast)).toEqual(stripSpans(ast));
  expect(print(reparsed.ast)).toBe(printed);
  expect(printed.endsWith('\n') && !printed.endsWith('\n\n')).toBe(true);
}

describe('printer round-trips', () => {
  for (const [name, text] of Object.entries(inlineSamples)) {
    it(`sample: ${name}`, () => {
      const { ast, diagnostics } = parse(text, `${name}.vpl`);
      expect(diagnostics.map((d) => d.message)).toEqual([]);
      expectRoundTrip(ast, `${name}.vpl`);
    });
  }

  it('every pipeline file without syntax errors', () => {
    for (const file of pipelineFiles()) {
      const { ast, diagnostics } = parse(readFileSync(join(root, file), 'utf8'), file);
      if (diagnostics.some((d) => d.code.startsWith('VPL10'))) continue; // deliberately broken cases
      expectRoundTrip(ast, file);
    }
  });
});

describe('printer layout', () => {
  it('prints the canonical form', () => {
    const text = [
      '# head',
      'pipeline   p',
      'model vc {frames=12   # count',
      '',
      '',
      '',
      'size=320x512}',
      'lora { rank = 16  targets = [ attn.q,attn.k ] }',
      'train { optimizer = adamw {lr=2e-4 weight_decay=.01}',
      '  mix = ((1)) + 2*(3+4) - -x',
      '  s = "a\\"b"',
      '  validate every 80 steps with 4 prompts;',
      '}',
    ].join('\n');
    expect(print(parse(text, 'x.vpl').ast)).toBe(
      [
        '# head',
        'pipeline p',
        '',
        'model vc {',
        '  frames = 12 # count',
        '',
        '  size = 320x512',
        '}',
        '',
        'lora {',
        '  rank = 16',
        '  targets = [attn.q, attn.k]',
        '}',
        '',
        'train {',
        '  optimizer = adamw { lr = 2e-4  weight_decay = .01 }',
        '  mix = ((1)) + 2 * (3 + 4) - -x',
        '  s = "a\\"b"',
        '  validate every 80 steps with 4 prompts',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('breaks objects with comments or more than three fields over lines', () => {
    const printed = print(parse('o = adamw { a = 1  b = 2  c = 3  d = 4 }\np = adamw { a = 1 # why\n}', 'x.vpl').ast);
    expect(printed).toBe('o = adamw {\n  a = 1\n  b = 2\n  c = 3\n  d = 4\n}\np = adamw {\n  a = 1 # why\n}\n');
  });

  it('adds only the parentheses a synthetic tree needs', () => {
    const { ast } = parse('x = a - b', 'x.vpl');
    const assignment = ast.body[0]!;
    if (assignment.kind !== 'Assignment' || assignment.value.kind !== 'Binary') throw new Error('unexpected tree');
    const inner = assignment.value;
    // a - (a - b) and (a - b) * b, built without Parenthesized nodes
    assignment.value = { ...inner, right: { ...inner } };
    expect(print(ast)).toBe('x = a - (a - b)\n');
    assignment.value = { ...inner, operator: '*', left: { ...inner } };
    expect(print(ast)).toBe('x = (a - b) * b\n');
  });

  it('prints an empty file as a single newline', () => {
    expect(print(parse('', 'x.vpl').ast)).toBe('\n');
    expect(print(parse('\n\n# c\n\n', 'x.vpl').ast)).toBe('# c\n');
  });

  it('strips spans and blank-line marks but keeps comments', () => {
    const stripped = JSON.stringify(stripSpans(parse('\n\na = 1 # c', 'x.vpl').ast));
    expect(stripped).not.toContain('span');
    expect(stripped).not.toContain('blankLineBefore');
    expect(stripped).toContain('# c');
  });
});

describe('format', () => {
  it('formats a clean file', () => {
    expect(format('a=1', 'x.vpl')).toEqual({ text: 'a = 1\n', diagnostics: [] });
  });

  it('refuses a file with syntax errors and returns it unchanged', () => {
    const text = 'a = \nb = "open';
    const result = format(text, 'x.vpl');
    expect(result.text).toBe(text);
    expect(result.diagnostics.map((d) => d.code)).toEqual(['VPL1012', 'VPL1002']);
  });
});
