// The VAE over many frames goes a chunk of frames at a time (stdlib/models/vae inFrameChunks):
// the same weights, and the same numbers as one call.
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../../tensor/emit/evaluate.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph } from '../../../tensor/ir/graph.ts';
import { ParameterStore, Rng } from '../../../stdlib/nn/index.ts';
import { encodeVideo, tinyVaeConfig } from '../../../stdlib/models/vae/index.ts';

function encoderGraph(chunkPixels: number | undefined) {
  const graph = new Graph('encode');
  const b = new Builder(graph);
  const params = new ParameterStore({ seed: 3 });
  const video = b.input('video', [2, 3, 3, 16, 16]); // 2 videos x 3 frames of 16x16
  const { mean, logvar } = b.within('vae', () => encodeVideo({ b, params }, tinyVaeConfig, video, chunkPixels === undefined ? {} : { chunkPixels }));
  graph.outputs.push(mean, logvar);
  return graph;
}

describe('VAE in frame chunks', () => {
  it('encodes 6 frames in chunks of 4 and 2 to what one call gives, with the weights once', async () => {
    const whole = encoderGraph(undefined);
    const chunked = encoderGraph(4 * 16 * 16);
    const calls = (g: Graph) => g.nodes.filter((n) => n.op === 'Conv' && n.inputs[1]?.name === 'vae.encoder.conv_in.weight').length;
    expect([calls(whole), calls(chunked)]).toEqual([1, 2]);
    const rng = new Rng(9);
    const video = Float32Array.from({ length: 2 * 3 * 3 * 16 * 16 }, () => rng.uniformIn(-1, 1));
    const [a, c] = await Promise.all([whole, chunked].map((g) => evaluate(g, { video })));
    for (const [i, name] of whole.outputs.map((v) => v.name).entries()) {
      const x = a![name] as Float32Array;
      const y = c![chunked.outputs[i]!.name] as Float32Array;
      expect(y.length).toBe(x.length);
      expect(Math.max(...x.map((v, k) => Math.abs(v - y[k]!)))).toBeLessThan(1e-5);
    }
  });
});
