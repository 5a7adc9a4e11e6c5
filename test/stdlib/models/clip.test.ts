// CLIP-style encoders and the tiny world's tokenizer.
import { describe, expect, it } from 'vitest';
import { allCaptions } from '../../../stdlib/data/shapes.ts';
import { textEncoders } from '../../../stdlib/catalogue/encoders.ts';
import { buildClipImageEncoder, buildClipTextEncoder, openClipHConfig, tinyClipConfig } from '../../../stdlib/models/clip/index.ts';
import { detokenize, EOT_ID, PAD_ID, SOT_ID, tokenize, tokenizeBatch, TINY_VOCAB_SIZE, UNK_ID, unknownWords } from '../../../stdlib/models/clip/tiny-tokenizer.ts';
import { allFinite, harness, initializerBytes, maxDiff } from './helpers.ts';

describe('tiny tokenizer', () => {
  it('knows every word of every tiny-world caption', () => {
    const captions = allCaptions();
    expect(captions.length).toBeGreaterThan(1000);
    const unknown = new Set(captions.flatMap(unknownWords));
    expect([...unknown]).toEqual([]);
  });

  it('writes [SOT] words [EOT] [PAD]... and reads it back', () => {
    const ids = tokenize('An orange star moving up on a black and grey background', 16);
    expect(ids.length).toBe(16);
    expect(Number(ids[0])).toBe(SOT_ID);
    expect(Number(ids[12])).toBe(EOT_ID);
    expect(Array.from(ids.slice(13), Number)).toEqual([PAD_ID, PAD_ID, PAD_ID]);
    expect(detokenize(ids)).toBe('an orange star moving up on a black and grey background');
    expect(EOT_ID).toBe(TINY_VOCAB_SIZE - 1); // the largest id, as in OpenCLIP
  });

  it('maps unknown words to [UNK], truncates keeping [EOT], and encodes the empty prompt', () => {
    expect(Number(tokenize('a zebra', 8)[2])).toBe(UNK_ID);
    const long = tokenize('a red circle moving left on a dark blue and dark green background', 6);
    expect(detokenize(long)).toBe('a red circle moving');
    expect(Number(long[5])).toBe(EOT_ID);
    expect(Array.from(tokenize('', 4), Number)).toEqual([SOT_ID, EOT_ID, PAD_ID, PAD_ID]);
    expect(tokenizeBatch(['a', 'b c'], 4).length).toBe(8);
  });
});

describe('tiny CLIP', () => {
  it('encodes tokens to [B,16,64] states and [B,64] pooled embeddings; causal and EOT-pooled', async () => {
    const h = harness({ seed: 4 });
    const tokens = h.inputData('tokens', [2, 16], tokenizeBatch(['a red circle moving left', 'a red circle moving right'], 16), 'int64');
    const out = buildClipTextEncoder(h.nn, tinyClipConfig, tokens);
    expect(out.tokens.shape).toEqual([2, 16, 64]);
    expect(out.pooled!.shape).toEqual([2, 64]);
    const [states, pooled] = await h.run([out.tokens, out.pooled!]);
    expect(allFinite(states) && allFinite(pooled)).toBe(true);
    // The prompts differ from token 5 on: causal attention keeps tokens 0..4 equal.
    const row = 16 * 64;
    expect(maxDiff(states.slice(0, 5 * 64), states.slice(row, row + 5 * 64))).toBeLessThan(1e-5);
    expect(maxDiff(states.slice(5 * 64, 6 * 64), states.slice(row + 5 * 64, row + 6 * 64))).toBeGreaterThan(1e-4);
    expect(maxDiff(pooled.slice(0, 64), pooled.slice(64))).toBeGreaterThan(1e-4);
  });

  it('encodes [N,3,32,32] images to [N,64] embeddings, deterministically by seed', async () => {
    const run = async (seed: number) => {
      const h = harness({ seed });
      const out = buildClipImageEncoder(h.nn, tinyClipConfig, h.input('images', [2, 3, 32, 32], 9));
      expect(out.pooled.shape).toEqual([2, 64]);
      expect(out.tokens.shape).toEqual([2, 17, 64]);
      return (await h.run([out.pooled]))[0];
    };
    const a = await run(1);
    expect(allFinite(a)).toBe(true);
    expect(maxDiff(a, await run(1))).toBe(0);
    expect(maxDiff(a, await run(2))).toBeGreaterThan(1e-4);
  });

  it('agrees with the catalogue text encoders', () => {
    for (const config of [tinyClipConfig, openClipHConfig]) {
      const entry = textEncoders.find((e) => e.name === config.name)!;
      expect(config.text.width).toBe(entry.contextDim);
      expect(config.text.contextLength).toBe(entry.maxTokens);
    }
    expect(tinyClipConfig.text.vocabSize).toBe(TINY_VOCAB_SIZE);
  });
});

describe('OpenCLIP ViT-H/14 (shapes only)', () => {
  it('builds both towers with OpenCLIP key names and sizes (354,032,640 text + 632,076,800 image)', () => {
    const h = harness({ trainable: true });
    const { b, params } = h.nn;
    const text = buildClipTextEncoder(h.nn, openClipHConfig, b.input('tokens', [1, 77], 'int64'));
    expect(text.tokens.shape).toEqual([1, 77, 1024]);
    const textCount = params.count().total;
    const image = buildClipImageEncoder(h.nn, openClipHConfig, b.input('images', [1, 3, 224, 224]));
    expect(image.pooled.shape).toEqual([1, 1024]);
    expect(textCount).toBe(354_032_640);
    expect(params.count().total - textCount).toBe(632_076_800);
    expect(initializerBytes(b.graph)).toBeLessThan(1 << 16);
    // open_clip's CLIP: TextTransformer attributes and nn.MultiheadAttention's packed projection.
    const shapes = new Map(params.list().map((p) => [p.name, p.shape]));
    const expected: Record<string, number[]> = {
      'token_embedding.weight': [49408, 1024],
      positional_embedding: [77, 1024],
      'transformer.resblocks.0.attn.in_proj_weight': [3072, 1024],
      'transformer.resblocks.23.mlp.c_fc.weight': [4096, 1024],
      'ln_final.weight': [1024],
      text_projection: [1024, 1024],
      'visual.conv1.weight': [1280, 3, 14, 14],
      'visual.class_embedding': [1280],
      'visual.positional_embedding': [257, 1280],
      'visual.transformer.resblocks.31.attn.out_proj.weight': [1280, 1280],
      'visual.proj': [1280, 1024],
    };
    for (const [key, shape] of Object.entries(expected)) expect(shapes.get(key), key).toEqual(shape);
  });
});
