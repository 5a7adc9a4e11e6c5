// The VS Code TextMate grammar, run by the same engine VS Code uses (vscode-textmate on the
// oniguruma WebAssembly build), over every shipped pipeline.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as nodePath from 'node:path';
import oniguruma from 'vscode-oniguruma';
import textmate, { type IGrammar } from 'vscode-textmate';
import { beforeAll, describe, expect, it } from 'vitest';
import { blockKeywords } from '../../stdlib/catalogue/index.ts';
import { repoRoot } from '../cli/run-vplc.ts';

const require = createRequire(import.meta.url);
const grammarPath = nodePath.join(repoRoot, 'editor/vscode/syntaxes/vpl.tmLanguage.json');
const pipelinesDir = nodePath.join(repoRoot, 'pipelines');
let grammar: IGrammar;

interface Token {
  text: string;
  scopes: string[];
}

function tokenize(text: string): Token[][] {
  let state = textmate.INITIAL;
  return text.split('\n').map((line) => {
    const result = grammar.tokenizeLine(line, state);
    state = result.ruleStack;
    return result.tokens.map((t) => ({ text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes }));
  });
}

/** The innermost scope of the first token whose text is `text` (on the line containing `line`). */
function scopeOf(lines: Token[][], source: string, line: string, text: string): string | undefined {
  const index = source.split('\n').findIndex((l) => l.includes(line));
  expect(index, `line containing ${line}`).toBeGreaterThanOrEqual(0);
  const token = lines[index]!.find((t) => t.text.trim() === text);
  return token?.scopes[token.scopes.length - 1];
}

beforeAll(async () => {
  const wasm = readFileSync(nodePath.join(nodePath.dirname(require.resolve('vscode-oniguruma')), 'onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({ createOnigScanner: (p: string[]) => new oniguruma.OnigScanner(p), createOnigString: (s: string) => new oniguruma.OnigString(s) }),
    loadGrammar: async (scopeName) => (scopeName === 'source.vpl' ? textmate.parseRawGrammar(readFileSync(grammarPath, 'utf8'), grammarPath) : null),
  });
  grammar = (await registry.loadGrammar('source.vpl'))!;
});

describe('vpl.tmLanguage.json', () => {
  const files = readdirSync(pipelinesDir).filter((f) => f.endsWith('.vpl'));

  it.each(files)('tokenises %s: comments, keywords, block names, numbers, no illegal tokens', (file) => {
    const source = readFileSync(nodePath.join(pipelinesDir, file), 'utf8');
    const lines = tokenize(source);
    source.split('\n').forEach((line, i) => {
      const tokens = lines[i]!;
      for (const t of tokens) expect(t.scopes.join(' '), `${file}:${i + 1} '${t.text}'`).not.toContain('invalid');
      if (line.trimStart().startsWith('#')) expect(tokens.every((t) => t.scopes.some((s) => s.startsWith('comment.line.number-sign')))).toBe(true);
      const header = /^(\w+)\b/.exec(line);
      if (header && blockKeywords().includes(header[1]!)) expect(tokens[0]!.scopes).toContain('keyword.other.block.vpl');
      if (header?.[1] === 'pipeline') expect(tokens[0]!.scopes).toContain('keyword.control.pipeline.vpl');
      // every number (not in a comment or string) is scoped as one
      for (const t of tokens) {
        if (/^\d+(\.\d+)?(e-?\d+)?$/.test(t.text) && !t.scopes.some((s) => s.startsWith('comment') || s.startsWith('string'))) {
          expect(t.scopes.some((s) => s.startsWith('constant.numeric')), `${file}:${i + 1} '${t.text}'`).toBe(true);
        }
      }
    });
  });

  it('scopes specific tokens of the shipped pipelines', () => {
    const vader = readFileSync(nodePath.join(pipelinesDir, 'vader_base.vpl'), 'utf8');
    const v = tokenize(vader);
    expect(scopeOf(v, vader, 'model videocrafter2', 'model')).toBe('keyword.other.block.vpl');
    expect(scopeOf(v, vader, 'model videocrafter2', 'videocrafter2')).toBe('entity.name.type.variant.vpl');
    expect(scopeOf(v, vader, 'size = 320x512', '320x512')).toBe('constant.numeric.size.vpl');
    expect(scopeOf(v, vader, 'size = 320x512', 'height x width')).toBe('comment.line.number-sign.vpl');
    expect(scopeOf(v, vader, 'size = 320x512', 'size')).toBe('variable.other.property.vpl');
    expect(scopeOf(v, vader, 'lr = 2e-4', '2e-4')).toBe('constant.numeric.vpl');
    expect(scopeOf(v, vader, 'lr = 2e-4', 'adamw')).toBe('entity.name.type.variant.vpl');
    expect(scopeOf(v, vader, 'decode = random(1)', 'random')).toBe('entity.name.function.vpl');
    expect(scopeOf(v, vader, 'remat = on', 'on')).toBe('constant.language.boolean.vpl');
    expect(scopeOf(v, vader, 'validate every', 'validate')).toBe('keyword.other.clause.vpl');
    expect(scopeOf(v, vader, 'validate every', 'prompts')).toBe('keyword.other.clause.vpl');

    const mix = readFileSync(nodePath.join(pipelinesDir, 'hps_aesthetic.vpl'), 'utf8');
    const m = tokenize(mix);
    expect(scopeOf(m, mix, 'extends', 'extends')).toBe('keyword.control.extends.vpl');
    expect(scopeOf(m, mix, 'extends', '"')).toBe('punctuation.definition.string.begin.vpl');
    expect(scopeOf(m, mix, 'extends', 'vader_base.vpl')).toBe('string.quoted.double.vpl');
    expect(scopeOf(m, mix, '0.75 * aesthetic', '0.75')).toBe('constant.numeric.vpl');
    expect(scopeOf(m, mix, '0.75 * aesthetic', '*')).toBe('keyword.operator.arithmetic.vpl');
    expect(scopeOf(m, mix, '0.75 * aesthetic', '+')).toBe('keyword.operator.arithmetic.vpl');
    expect(scopeOf(m, mix, '0.75 * aesthetic', 'hps')).toBe('entity.name.function.vpl');
    expect(scopeOf(m, mix, '0.75 * aesthetic', 'aesthetic')).toBe('variable.other.name.vpl');
  });

  it('scopes numbers with units, sizes with frames and string escapes', () => {
    const source = 'model opensora_1_2 { frames = 2s  size = 16x320x512 }\ntrain { steps = 10k  weights = "a\\"b\\u{1F600}" }';
    const [first, second] = tokenize(source);
    const unit = first!.find((t) => t.text === 's')!;
    expect(unit.scopes).toContain('keyword.other.unit.vpl');
    expect(first!.find((t) => t.text === '2')!.scopes).toContain('constant.numeric.vpl');
    expect(first!.find((t) => t.text === '16x320x512')!.scopes).toContain('constant.numeric.size.vpl');
    expect(second!.find((t) => t.text === 'k')!.scopes).toContain('keyword.other.unit.vpl');
    const escapes = second!.filter((t) => t.scopes.includes('constant.character.escape.vpl')).map((t) => t.text);
    expect(escapes).toEqual(['\\"', '\\u{1F600}']);
  });
});
