// The model block's `tokenizer = "..."`: a path like `weights`, stored relative to the
// pipeline's folder, absent from the Plan when not written; the editor and the docs read it
// from the catalogue.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkSource } from '../../compiler/check/index.ts';
import { planHash } from '../../compiler/plan.ts';
import { completionsAt, hoverAt } from '../../editor/server/analysis.ts';
import { languageDocPath } from '../../stdlib/catalogue/docgen.ts';

const vc2 = (model: string) => `pipeline t\nmodel videocrafter2 { ${model} }\nprompts = animals\nobjective reward { reward = 1.0 * pickscore }\n`;

describe('model.tokenizer', () => {
  it('is a path relative to the pipeline\'s folder, absolute paths kept', () => {
    const rel = checkSource(vc2('tokenizer = "../tok/tokenizer.json"'), '/work/p/sub/a.vpl');
    expect(rel.diagnostics).toEqual([]);
    expect(rel.plan!.model.tokenizer).toBe('../tok/tokenizer.json');
    expect(rel.plan!.dir).toBe('/work/p/sub');
    const abs = checkSource(vc2('tokenizer = "/opt/clip/bpe_simple_vocab_16e6.txt.gz"'), '/work/p/a.vpl');
    expect(abs.plan!.model.tokenizer).toBe('/opt/clip/bpe_simple_vocab_16e6.txt.gz');
  });

  it('is left out of the Plan (and its hash) when not written', () => {
    const plain = checkSource(vc2(''), '/work/p/a.vpl').plan!;
    expect('tokenizer' in plain.model).toBe(false);
    const given = checkSource(vc2('tokenizer = "tok"'), '/work/p/a.vpl').plan!;
    expect(planHash(given)).not.toBe(planHash(plain));
  });

  it('takes a command-line override relative to the current folder, unquoted like a shell user writes it', () => {
    const result = checkSource(vc2(''), `${process.cwd()}/pipelines/x.vpl`, { overrides: ['model.tokenizer=ckpt/tokenizer'] });
    expect(result.diagnostics).toEqual([]);
    expect(result.plan!.model.tokenizer).toBe('../ckpt/tokenizer');
  });

  it('rejects a value that is not a string, and an empty path', () => {
    for (const bad of ['tokenizer = 3', 'tokenizer = [1]', 'tokenizer = true']) {
      const result = checkSource(vc2(bad), '/work/p/a.vpl');
      expect(result.plan, bad).toBeUndefined();
      expect(result.diagnostics.map((d) => d.code), bad).toEqual(['VPL2005']);
    }
    const bare = checkSource(vc2('tokenizer = tok'), '/work/p/a.vpl');
    expect(bare.diagnostics.map((d) => [d.code, d.help])).toEqual([['VPL2005', expect.stringContaining('"tok"')]]);
    expect(checkSource(vc2('tokenizer = ""'), '/work/p/a.vpl').diagnostics.map((d) => d.code)).toEqual(['VPL2005']);
  });

  it('is offered, explained and documented from the catalogue', () => {
    const text = 'model videocrafter2 {\n  tokenizer = "tok"\n}';
    expect(completionsAt('model videocrafter2 {\n  \n}', 24).map((c) => c.label)).toContain('tokenizer');
    expect(hoverAt(text, text.indexOf('tokenizer') + 3)!.markdown).toContain('CLIP tokenizer');
    expect(readFileSync(languageDocPath(), 'utf8')).toMatch(/\| `tokenizer` \| path \|/);
  });
});
