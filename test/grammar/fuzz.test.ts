// Fuzzing the grammar: whatever the input, `parse` returns (never throws, never hangs), and
// every span it reports lies inside the text. Mutations are seeded, so failures reproduce.
import { describe, expect, it } from 'vitest';
import type { Comment, Span } from '../../grammar/ast.ts';
import { parse, print, stripSpans } from '../../grammar/index.ts';
import { LineMap } from '../../grammar/positions.ts';
import { expectValidSpan } from './helpers.ts';
import { mutate, seededRandom } from './mutate.ts';
import { inlineSamples } from './samples.ts';

/** Every span in a tree, walked without recursion (trees may be deep). */
function spansOf(root: unknown): Span[] {
  const spans: Span[] = [];
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) stack.push(...value);
    else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        if (key === 'span') spans.push(child as Span);
        else stack.push(child);
      }
    }
  }
  return spans;
}

function checkParse(text: string, label: string, timeLimitMs: number) {
  const file = 'fuzz.vpl';
  const started = performance.now();
  const result = parse(text, file);
  const elapsed = performance.now() - started;
  expect(elapsed, `${label}: took ${elapsed.toFixed(0)} ms`).toBeLessThan(timeLimitMs);
  const lines = new LineMap(text, file);
  for (const d of result.diagnostics) {
    expectValidSpan(d.span, text, lines, file);
    expect(d.code, label).toMatch(/^VPL10\d\d$/);
    expect(d.message.length, label).toBeGreaterThan(0);
  }
  for (const span of spansOf(result.ast)) expectValidSpan(span, text, lines, file);
  return result;
}

describe('grammar fuzz', () => {
  it('survives 2,400 seeded mutations of the sample pipelines', () => {
    const seeds = Object.values(inlineSamples).filter((text) => text.length > 0);
    let clean = 0;
    for (let seed = 1; seed <= 2400; seed++) {
      const random = seededRandom(seed);
      const text = mutate(seeds[seed % seeds.length]!, random);
      const label = `seed ${seed}: ${JSON.stringify(text.slice(0, 80))}`;
      const { ast, diagnostics } = checkParse(text, label, 2000);
      if (diagnostics.length === 0) {
        // a mutation that still parses must round-trip through the printer too
        clean++;
        const printed = print(ast);
        const reparsed = parse(printed, 'fuzz.vpl');
        expect(reparsed.diagnostics.map((d) => d.message), label).toEqual([]);
        expect(stripSpans(reparsed.ast), label).toEqual(stripSpans(ast));
      }
    }
    expect(clean).toBeGreaterThan(100); // the round-trip check above really ran
  }, 60_000);

  const pathological: [string, () => string][] = [
    ['empty file', () => ''],
    ['only whitespace', () => ' \n\t\r\n '.repeat(1000)],
    ['binary bytes with NUL', () => Array.from({ length: 65536 }, (_, i) => String.fromCharCode((i * 7919) % 256)).join('')],
    ['invalid UTF-8 decoded as text', () => new TextDecoder().decode(new Uint8Array([0x61, 0x20, 0x3d, 0x20, 0xff, 0xfe, 0xc3, 0x28, 0x0a, 0x80]))],
    ['10,000 nested {', () => '{'.repeat(10_000)],
    ['10,000 nested [', () => `x = ${'['.repeat(10_000)}`],
    ['10,000 nested (', () => `x = ${'('.repeat(10_000)}1${')'.repeat(10_000)}`],
    ['10,000 nested blocks', () => 'a {\n'.repeat(10_000) + '}\n'.repeat(10_000)],
    ['10,000 nested objects', () => `x = ${'a { y = '.repeat(10_000)}`],
    ['100,000 unary minuses', () => `x = ${'-'.repeat(100_000)}1`],
    ['a 1 MB string line', () => `x = "${'a'.repeat(1_000_000)}"`],
    ['a 1 MB line of junk', () => '@'.repeat(1_000_000)],
    ['a 1 MB unterminated string', () => `x = "${'b'.repeat(1_000_000)}`],
    ['a long operator chain', () => `x = 1${' + 1'.repeat(20_000)}`],
    ['100,000 statements', () => `train {\n${'a = 1\n'.repeat(100_000)}}\n`],
    ['100,000 comments', () => '# c\n'.repeat(100_000)],
  ];
  for (const [name, make] of pathological) {
    it(`returns promptly on ${name}`, () => {
      const text = make();
      const { ast } = checkParse(text, name, 8000);
      expect(() => print(ast)).not.toThrow();
    }, 30_000);
  }

  it('reports deep nesting once, not once per level', () => {
    const { diagnostics } = parse('{'.repeat(10_000), 'x.vpl');
    expect(diagnostics.filter((d) => d.code === 'VPL1013').length).toBe(1);
  });

  it('keeps comment text intact through mutations', () => {
    const comments: Comment[] = parse('# a\nx = 1 # b\n# c', 'x.vpl').ast.danglingComments;
    expect(comments.map((c) => c.text)).toEqual(['# c']);
  });
});
