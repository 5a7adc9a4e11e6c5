// fp16 lowering before remat: the casts lowerPrecision inserts join the remat segment of what they
// cast, so a lowered segment is still recomputed as a whole instead of its casts (and everything
// they read) being kept alive from the forward pass to the backward pass.
import { describe, expect, it } from 'vitest';
import { gradients } from '../../../tensor/autodiff/grad.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph } from '../../../tensor/ir/graph.ts';
import { lowerPrecision } from '../../../tensor/optim/precision.ts';
import { eliminateDeadCode } from '../../../tensor/passes/dce.ts';
import { peakMemory } from '../../../tensor/passes/liveness.ts';
import { rematerialize } from '../../../tensor/passes/remat.ts';
import { validate } from '../../../tensor/passes/validate.ts';

/** Four segments of softmax(h W) (MatMul in fp16, Softmax in float32: a cast on each side). */
function chain(options: { remat: boolean }) {
  const b = new Builder(new Graph('chain'));
  const x = b.input('x', [256, 64]);
  const weights = [0, 1, 2, 3].map((s) => b.input(`w${s}`, [64, 64]));
  let h = x;
  weights.forEach((w, s) => {
    h = b.inSegment(`block${s}`, () => b.within(`block${s}`, () => b.softmax(b.matmul(b.tanh(h), w), -1)));
  });
  const loss = b.reduceMean(b.mul(h, h), undefined, false);
  lowerPrecision(b.graph, 'float16');
  const forwardNodes = b.graph.nodes.length;
  const grads = gradients(b.graph, loss, weights);
  b.graph.markOutput(loss);
  for (const w of weights) b.graph.markOutput(grads.get(w)!);
  if (options.remat) rematerialize(b.graph, { forwardNodes });
  eliminateDeadCode(b.graph);
  validate(b.graph);
  return { graph: b.graph, weights, forwardNodes };
}

describe('precision casts and remat segments', () => {
  it('a cast is in the segment of the activation it casts, or of the first user of a weight', () => {
    const { graph, forwardNodes } = chain({ remat: false });
    const casts = graph.nodes.slice(0, forwardNodes).filter((n) => n.op === 'Cast' && n.scope === 'precision');
    expect(casts.length).toBeGreaterThan(8);
    for (const cast of casts) {
      const source = cast.inputs[0]!;
      const user = graph.nodes.find((n) => n.inputs.includes(cast.outputs[0]))!;
      expect(cast.segment, cast.name).toBe(source.producer ? source.producer.segment : user.segment);
    }
    // the graph input x is first read in block0, the weights each in their block
    expect(casts.filter((c) => !c.inputs[0]!.producer).map((c) => [c.inputs[0]!.name, c.segment])).toEqual([['x', 'block0'], ...[0, 1, 2, 3].map((s) => [`w${s}`, `block${s}`])]);
  });

  it('remat of the fp16-lowered chain recomputes the casts and lowers the peak (casts outside the segments: no gain)', () => {
    const plain = chain({ remat: false });
    const remat = chain({ remat: true });
    expect(remat.graph.nodes.some((n) => n.op === 'Cast' && n.segment?.endsWith('#remat'))).toBe(true);
    const peak = (g: ReturnType<typeof chain>) => peakMemory(g.graph, { params: g.weights }).peakBytes;
    expect(peak(remat)).toBeLessThan(peak(plain) * 0.7);
  });
});
