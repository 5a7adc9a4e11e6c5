// The full-size CLIP rewards read frames through their reference's own preprocessing
// (./preprocess.ts): PickScore's short-side bicubic resize and centre crop, the aesthetic and
// HPS square resize, as constant matrices; no square bilinear Resize of the tiny world.
import { describe, expect, it } from 'vitest';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph } from '../../../tensor/ir/graph.ts';
import { ParameterStore } from '../../../stdlib/nn/parameters.ts';
import { networkRewardBuilders } from '../../../stdlib/rewards/networks/index.ts';

function rewardGraph(name: 'pickscore' | 'hps' | 'aesthetic', frames: [number, number]) {
  const graph = new Graph(name);
  const b = new Builder(graph);
  const params = new ParameterStore({ seed: 1, trainable: false, lazyFrozen: true });
  const input = b.input('frames', [2, 3, ...frames]);
  const text = b.input('text', [1, name === 'aesthetic' ? 768 : 1024]);
  const score = networkRewardBuilders({ b, params })[name]!(b, { frames: input, framesPerVideo: 2, own: { [name]: { text } } }, {});
  return { graph, score };
}

const resizeMatrices = (graph: Graph) =>
  [...graph.initializers.keys()].filter((v) => /resize_(rows|cols)/.test(v.name)).map((v) => `${v.name.replace(/.*\./, '').replace(/_\d+$/, '')} ${v.shape.join('x')}`).sort();

describe('full-size CLIP rewards', () => {
  it("pickscore at 320x512: the short side to 224 (224x358), the centre 224x224, as two matrices", () => {
    const { graph, score } = rewardGraph('pickscore', [320, 512]);
    expect(score.shape).toEqual([2]);
    expect(resizeMatrices(graph)).toEqual(['resize_cols 512x224', 'resize_rows 224x320']);
    expect(graph.nodes.some((n) => n.op === 'Resize')).toBe(false);
  });

  it('aesthetic and hps: the frame squashed to 224x224', () => {
    for (const name of ['aesthetic', 'hps'] as const) {
      const { graph } = rewardGraph(name, [320, 512]);
      expect(resizeMatrices(graph), name).toEqual(['resize_cols 512x224', 'resize_rows 224x320']);
    }
  });
});
