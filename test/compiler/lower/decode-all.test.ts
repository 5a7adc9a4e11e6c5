// decode_all decodes every frame for validation and sampling. Large videos go through the VAE a
// chunk of frames at a time (the decoder's full-resolution activations for all frames at once
// would outweigh the training step); the result is the same as decoding them in one call.
import { describe, expect, it } from 'vitest';
import { checkFile } from '../../../compiler/check/index.ts';
import { loweringBasis } from '../../../compiler/lower/contract.ts';
import { buildDecodeAllGraph } from '../../../compiler/lower/decode-all.ts';
import { VAE_CHUNK_PIXELS } from '../../../stdlib/models/vae/index.ts';
import { evaluate } from '../../../tensor/emit/evaluate.ts';
import type { Graph } from '../../../tensor/ir/graph.ts';
import { Rng } from '../../../stdlib/nn/index.ts';

function tinyBasis() {
  const r = checkFile('pipelines/demo.vpl', { overrides: ['model.frames=4', 'train.batch=2'] });
  if (!r.plan) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return { plan: r.plan, ...loweringBasis(r.plan, { tiny: true }) };
}

/** VAE decoder calls in a graph: one conv_in per call. */
const decoderCalls = (graph: Graph) => graph.nodes.filter((n) => n.op === 'Conv' && n.inputs[1]?.name.endsWith('decoder.conv_in.weight')).length;

describe('decode_all', () => {
  it('decodes small videos (the tiny world) in one call', () => {
    const { plan, params, build } = tinyBasis();
    expect(decoderCalls(buildDecodeAllGraph(plan, params, build, []))).toBe(1);
  });

  it('decodes frames of two 320x512 frames\' pixels at most per call, in order, to the frames of a single call', async () => {
    const { plan, params, build } = tinyBasis();
    const [, , h, w] = plan.derived.latent_shape;
    const stride = 2 ** (build.vae.chMult.length - 1);
    const framePixels = h * w * stride ** 2;
    const whole = buildDecodeAllGraph(plan, params, build, []);
    const chunked = buildDecodeAllGraph(plan, params, build, [], { chunkPixels: 3 * framePixels }); // 8 frames: 3 + 3 + 2
    expect(decoderCalls(chunked)).toBe(3);
    // the same weights: no parameter is created twice
    const weights = new Set(params.list().map((p) => p.name));
    const weightsOf = (g: Graph) => [...g.initializers.keys()].map((v) => v.name).filter((n) => weights.has(n));
    expect(weightsOf(chunked).length).toBeGreaterThan(20);
    expect(weightsOf(chunked).sort()).toEqual(weightsOf(whole).sort());
    expect(new Set(weightsOf(chunked)).size).toBe(weightsOf(chunked).length);
    const shape = whole.inputs[0]!.shape;
    const rng = new Rng(5);
    const latents = Float32Array.from({ length: shape.reduce((a, d) => a * d, 1) }, () => rng.normal(0, 1));
    const [a, b] = await Promise.all([whole, chunked].map((g) => evaluate(g, { latents })));
    const [x, y] = [a!.frames as Float32Array, b!.frames as Float32Array];
    expect(y.length).toBe(x.length);
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
    expect(worst).toBeLessThan(1e-5);
    expect(VAE_CHUNK_PIXELS).toBe(2 * 320 * 512);
  });
});
