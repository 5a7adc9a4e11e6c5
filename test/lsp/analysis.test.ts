// Hover and completion context, in process (the stdio test covers the protocol).
import { describe, expect, it } from 'vitest';
import { completionsAt, hoverAt } from '../../editor/server/analysis.ts';
import { componentNames } from '../../stdlib/catalogue/index.ts';

/** Text with a `|` marking the cursor. */
function at(marked: string): [string, number] {
  return [marked.replace('|', ''), marked.indexOf('|')];
}
const labels = (marked: string) => completionsAt(...at(marked)).map((c) => c.label);

describe('completion in context', () => {
  it('offers block names at the top level and variants after a block keyword', () => {
    expect(labels('pipeline p\n|')).toEqual(expect.arrayContaining(['model', 'lora', 'sampler', 'objective', 'train', 'extends']));
    expect(labels('model |')).toEqual(componentNames('model'));
    expect(labels('sampler |')).toEqual(componentNames('sampler'));
  });

  it('offers the fields of the enclosing block and variant, and of a configured value', () => {
    const ddim = labels('sampler ddim {\n  |\n}');
    expect(ddim).toEqual(expect.arrayContaining(['steps', 'eta', 'guidance', 'use_scale']));
    expect(labels('sampler rf_euler {\n  |\n}')).not.toContain('eta');
    expect(labels('train {\n  optimizer = adamw { | }\n}')).toEqual(expect.arrayContaining(['lr', 'weight_decay', 'betas']));
    expect(labels('lora {\n  rank = 4\n  |')).toEqual(expect.arrayContaining(['rank', 'alpha', 'targets']));
  });

  it('offers stdlib names and forms for a value', () => {
    expect(labels('prompts = |')).toEqual(componentNames('prompt_set'));
    expect(labels('train {\n  precision = |')).toEqual(['fp32', 'fp16', 'bf16']);
    expect(labels('objective reward {\n  decode = |')).toEqual(expect.arrayContaining(['random', 'frame', 'every', 'all']));
    expect(labels('objective reward {\n  reward = 1.0 * hps + 0.5 * aes|')).toEqual(componentNames('reward'));
    expect(labels('model tiny_vc { }\nlora { targets = [attn.q, |')).toContain('temporal_attn.q');
  });
});

describe('hover', () => {
  it('documents fields with type, range, default and unit; blocks; stdlib names', () => {
    const field = hoverAt(...at('lora {\n  ra|nk = 8\n}'))!;
    expect(field.markdown).toContain('**lora.rank**: `int`');
    expect(field.markdown).toContain('range: 1 to 1024 · default: 16');
    expect(hoverAt(...at('model tiny_vc {\n  fr|ames = 8\n}'))!.markdown).toContain('unit: frames');
    expect(hoverAt(...at('lo|ra { rank = 8 }'))!.markdown).toContain('The trainable low-rank adapter.');
    expect(hoverAt(...at('sampler dd|im { }'))!.markdown).toMatch(/^\*\*ddim\*\*: sampler/);
    expect(hoverAt(...at('objective reward {\n  reward = 1.0 * pick|score\n}'))!.markdown).toContain('PickScore');
    expect(hoverAt(...at('lora.ra|nk = 8'))!.markdown).toContain('**lora.rank**');
  });
});
