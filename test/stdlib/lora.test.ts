// LoRA: target mapping for the unet3d family, exact no-op at init, the forward formula and the
// merge against JS references, PEFT names, dropout masks.
import { unet3dLoraTargets } from '../../stdlib/models/unet3d/lora-targets.ts';
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../tensor/emit/evaluate.ts';
import { Builder } from '../../tensor/ir/builder.ts';
import { Graph } from '../../tensor/ir/graph.ts';
import { linear, ParameterStore } from '../../stdlib/nn/index.ts';
import { loraMatcher, loraScale, mergeLora, peftKey, withLora } from '../../stdlib/nn/lora.ts';

function data(n: number, seed = 1): Float32Array {
  let s = seed * 7919 + 17;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

describe('LoRA targets (unet3d)', () => {
  const m = loraMatcher(unet3dLoraTargets, ['attn.q', 'attn.v', 'temporal_attn.k', 'ff']);
  it('maps plan targets to spatial / temporal module paths', () => {
    expect(m('unet.input_blocks.1.1.transformer_blocks.0.attn1.to_q')).toBe('attn.q');
    expect(m('unet.middle_block.1.transformer_blocks.0.attn2.to_v')).toBe('attn.v');
    expect(m('unet.output_blocks.5.1.transformer_blocks.0.attn2.to_q')).toBe('attn.q');
    expect(m('unet.input_blocks.1.1.transformer_blocks.0.attn1.to_k')).toBeUndefined();
    expect(m('unet.input_blocks.1.2.transformer_blocks.0.attn1.to_q')).toBeUndefined();
    expect(m('unet.input_blocks.1.2.transformer_blocks.0.attn2.to_k')).toBe('temporal_attn.k');
    expect(m('unet.init_attn.0.transformer_blocks.0.attn1.to_k')).toBe('temporal_attn.k');
    expect(m('unet.input_blocks.1.1.transformer_blocks.0.ff.net.0.proj')).toBe('ff');
    expect(m('unet.input_blocks.1.2.transformer_blocks.0.ff.net.2')).toBe('ff');
    expect(m('unet.time_embed.0')).toBeUndefined();
    expect(loraMatcher(unet3dLoraTargets, ['linear'])('unet.time_embed.0')).toBe('linear');
    expect(() => loraMatcher(unet3dLoraTargets, ['attn.x'])).toThrow(/not a target/);
    expect(loraMatcher(unet3dLoraTargets, ['conv'])('unet.input_blocks.0.0', 'conv')).toBe('conv');
  });
});

describe('LoRA on a linear layer', () => {
  const [N, IN, OUT, R] = [5, 6, 4, 2];
  const path = 'blk.1.transformer_blocks.0.attn1.to_q';

  function build(options: { rank?: number; alpha?: number; dropout?: number; rng?: boolean } = {}) {
    const g = new Graph('lora');
    const b = new Builder(g);
    const params = new ParameterStore({ seed: 3 });
    const x = b.input('x', [N, IN]);
    const rng = options.rng ? { seed: b.input('seed', [], 'int64'), step: b.input('step', [], 'int64') } : undefined;
    // a custom family table is not needed: 'linear' adapts every linear
    const { nn, modules } = withLora({ b, params }, { rank: options.rank ?? R, alpha: options.alpha ?? 4, dropout: options.dropout ?? 0, targets: ['linear'], table: unet3dLoraTargets, dropoutRng: rng });
    const y = b.within('blk.1.transformer_blocks.0.attn1', () => linear(nn, 'to_q', x, { out: OUT }));
    g.markOutput(y);
    return { g, y, params, modules };
  }

  it('starts as an exact no-op; A kaiming-uniform, B zeros; PEFT names', async () => {
    const { g, y, params, modules } = build();
    expect(modules).toEqual([{ path, target: 'linear', in: IN, out: OUT, a: `${path}.lora_A.weight`, b: `${path}.lora_B.weight` }]);
    expect(peftKey(modules[0].a)).toBe(`base_model.model.${path}.lora_A.weight`);
    const trainable = params.trainable().map((p) => [p.name, p.shape]);
    expect(trainable).toEqual([[`${path}.lora_A.weight`, [R, IN]], [`${path}.lora_B.weight`, [OUT, R]]]);
    const a = params.initialValue(`${path}.lora_A.weight`) as Float32Array;
    const bound = Math.sqrt(1 / IN); // kaiming_uniform(a = sqrt 5): gain sqrt(1/3) * sqrt(3 / fan_in)
    expect(a.every((v) => Math.abs(v) <= bound) && a.some((v) => v !== 0)).toBe(true);
    expect((params.initialValue(`${path}.lora_B.weight`) as Float32Array).every((v) => v === 0)).toBe(true);
    const x = data(N * IN, 1);
    const out = await evaluate(g, { x, [`${path}.lora_A.weight`]: a, [`${path}.lora_B.weight`]: new Float32Array(OUT * R) });
    const w = params.initialValue(`${path}.weight`) as Float32Array;
    const bias = params.initialValue(`${path}.bias`) as Float32Array;
    const base = Array.from({ length: N * OUT }, (_, i) => {
      const [n, o] = [Math.floor(i / OUT), i % OUT];
      let s = bias[o];
      for (let k = 0; k < IN; k++) s += x[n * IN + k] * w[o * IN + k];
      return s;
    });
    (out[y.name] as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(base[i], 5));
  });

  it('forward = base + alpha/rank * x A^T B^T, and equals the merged weight', async () => {
    const { g, y, params } = build({ alpha: 8 });
    const scale = loraScale({ rank: R, alpha: 8 });
    expect(scale).toBe(4);
    const x = data(N * IN, 2);
    const a = data(R * IN, 3);
    const bw = data(OUT * R, 4);
    const out = (await evaluate(g, { x, [`${path}.lora_A.weight`]: a, [`${path}.lora_B.weight`]: bw }))[y.name] as Float32Array;
    const w = params.initialValue(`${path}.weight`) as Float32Array;
    const bias = params.initialValue(`${path}.bias`) as Float32Array;
    const merged = mergeLora(w, a, bw, { out: OUT, in: IN, rank: R }, scale);
    for (let n = 0; n < N; n++) {
      for (let o = 0; o < OUT; o++) {
        let viaMerged = bias[o];
        let viaLora = bias[o];
        for (let k = 0; k < IN; k++) {
          viaMerged += x[n * IN + k] * merged[o * IN + k];
          let delta = 0;
          for (let r = 0; r < R; r++) delta += bw[o * R + r] * a[r * IN + k];
          viaLora += x[n * IN + k] * (w[o * IN + k] + scale * delta);
        }
        expect(out[n * OUT + o]).toBeCloseTo(viaLora, 4);
        expect(out[n * OUT + o]).toBeCloseTo(viaMerged, 4);
      }
    }
    expect(() => mergeLora(w, a, bw, { out: OUT, in: IN + 1, rank: R }, 1)).toThrow(/sizes/);
  });

  it('dropout: identity without an rng; a deterministic inverted mask with one', async () => {
    const x = data(N * IN, 5);
    const a = data(R * IN, 6);
    const bw = data(OUT * R, 7);
    const feeds = { x, [`${path}.lora_A.weight`]: a, [`${path}.lora_B.weight`]: bw };
    const plain = build();
    const same = build({ dropout: 0.5 });
    const dropped = build({ dropout: 0.5, rng: true });
    const ref = (await evaluate(plain.g, feeds))[plain.y.name] as Float32Array;
    expect(Array.from((await evaluate(same.g, feeds))[same.y.name] as Float32Array)).toEqual(Array.from(ref));
    const rngFeeds = { ...feeds, seed: BigInt64Array.of(1n), step: BigInt64Array.of(2n) };
    const d1 = (await evaluate(dropped.g, rngFeeds))[dropped.y.name] as Float32Array;
    const d2 = (await evaluate(dropped.g, rngFeeds))[dropped.y.name] as Float32Array;
    expect(Array.from(d1)).toEqual(Array.from(d2));
    expect(Array.from(d1)).not.toEqual(Array.from(ref));
    const d3 = (await evaluate(dropped.g, { ...rngFeeds, step: BigInt64Array.of(3n) }))[dropped.y.name] as Float32Array;
    expect(Array.from(d3)).not.toEqual(Array.from(d1));
  });
});
