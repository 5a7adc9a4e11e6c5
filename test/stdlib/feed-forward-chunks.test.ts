// The feed-forward in token chunks (each a remat segment nested in its block's) against the
// feed-forward built as one block: the chunk layout, the same outputs and gradients
// (onnxruntime), and the liveness peak of a training graph.
import { describe, expect, it } from 'vitest';
import { type AttentionLowering, DEFAULT_ATTENTION_CHUNK_BYTES } from '../../stdlib/nn/attention.ts';
import { feedForward, type FeedForwardOptions, tokenChunks } from '../../stdlib/nn/feedforward.ts';
import { emitModel } from '../../tensor/emit/onnx.ts';
import type { Graph } from '../../tensor/ir/graph.ts';
import { peakMemory } from '../../tensor/passes/liveness.ts';
import { type LayerGraph, layerGraph, relativeError, runLayerGraph } from '../helpers/layer-graph.ts';

interface Case {
  /** x's shape [..., dim]. */
  shape: number[];
  ff: FeedForwardOptions;
}

type Built = LayerGraph;

/** One feed-forward in its block; with `train`, its gradients into x and every weight. */
function build(c: Case, lowering: AttentionLowering, train: boolean): Built {
  return layerGraph('feed_forward', lowering, train, ({ nn, input }) => {
    const x = input('x', c.shape);
    return { y: feedForward(nn, 'ff', x, c.ff), wrt: [x] };
  });
}

const run = runLayerGraph;

const ops = (g: Graph, op: string) => g.nodes.filter((n) => n.op === op);
/** The hidden activation's width per token: the input projection's output. */
const widthOf = (c: Case) => {
  const dim = c.shape[c.shape.length - 1];
  const inner = c.ff.inner ?? dim * (c.ff.mult ?? 4);
  return (c.ff.activation ?? 'geglu') === 'geglu' ? 2 * inner : inner;
};
/** A budget under which each chunk holds exactly `tokens` tokens (float32). */
const budgetFor = (c: Case, tokens: number) => tokens * widthOf(c) * 4;
/** The Split that cuts the tokens (GEGLU's value/gate Splits cut the last axis). */
const tokenSplit = (g: Graph) => ops(g, 'Split').find((n) => n.attributes.axis === 0);
/** The segments of the chunks' input projections (one MatMul per chunk reads the tokens). */
const chunkSegments = (g: Graph) => [...new Set(g.nodes.filter((n) => n.segment?.startsWith('block/')).map((n) => n.segment!))];

describe('feed-forward token chunks', () => {
  it('takes the most tokens whose hidden activation fits the budget, the last chunk the rest', () => {
    const hidden = { tokens: 10, width: 6, elementBytes: 4 };
    expect(tokenChunks(hidden, 10 * 24)).toEqual([10]);
    expect(tokenChunks(hidden, 4 * 24 + 1)).toEqual([4, 4, 2]);
    expect(tokenChunks(hidden, 5 * 24)).toEqual([5, 5]);
    expect(tokenChunks(hidden, 1)).toEqual(Array(10).fill(1));
    expect(() => tokenChunks(hidden, 0)).toThrow(/positive number of bytes/);
  });

  it('leaves a feed-forward under the budget as one block: the same graph as with no limit at all', () => {
    const c: Case = { shape: [2, 16, 8], ff: { activation: 'geglu' } };
    expect(2 * 16 * widthOf(c) * 4).toBeLessThan(DEFAULT_ATTENTION_CHUNK_BYTES);
    const plain = build(c, {}, true);
    const unlimited = build(c, { chunkBytes: Infinity }, true);
    expect(tokenSplit(plain.graph)).toBeUndefined();
    expect(chunkSegments(plain.graph)).toEqual([]);
    expect(Buffer.from(emitModel(plain.graph)).equals(Buffer.from(emitModel(unlimited.graph)))).toBe(true);
  });

  it('builds one nested remat segment per chunk of tokens (all leading axes), ragged last chunk included', () => {
    const c: Case = { shape: [3, 5, 8], ff: { activation: 'geglu' } }; // 15 tokens
    const { graph, y } = build(c, { chunkBytes: budgetFor(c, 4) }, false);
    const split = tokenSplit(graph)!;
    expect(split.attributes.split).toEqual([4, 4, 4, 3]);
    expect(split.segment).toBe('block');
    expect(split.inputs[0]!.shape).toEqual([15, 8]);
    const erf = ops(graph, 'Erf');
    expect(erf.map((n) => n.segment)).toEqual([0, 1, 2, 3].map((i) => `block/block.ff.chunk${i}`));
    expect(erf.map((n) => n.outputs[0].shape)).toEqual([4, 4, 4, 3].map((t) => [t, 32]));
    expect(ops(graph, 'Concat').map((n) => n.segment)).toEqual(['block']);
    expect(y.shape).toEqual([3, 5, 8]);
    // the chunks share the weights: one parameter each, not one per chunk
    expect(graph.inputs.map((v) => v.name).filter((n) => n !== 'x').sort()).toEqual(['block.ff.net.0.proj.bias', 'block.ff.net.0.proj.weight', 'block.ff.net.2.bias', 'block.ff.net.2.weight']);
  });

  const cases: [string, Case][] = [
    ['GEGLU on [B, L, C]', { shape: [2, 7, 8], ff: { activation: 'geglu' } }],
    ['GELU (tanh) on [L, C] with another output width', { shape: [11, 6], ff: { activation: 'gelu-tanh', inner: 10, out: 5 } }],
  ];
  for (const [what, c] of cases) {
    it(`${what}: chunked = one block, outputs and gradients (recomputed chunk by chunk)`, async () => {
      const whole = build(c, { chunkBytes: Infinity }, true);
      const chunked = build(c, { chunkBytes: budgetFor(c, 4) }, true); // 4 + 4 + ... + ragged rest
      const sizes = tokenSplit(chunked.graph)!.attributes.split as number[];
      expect(sizes).toEqual(c.shape.length === 3 ? [4, 4, 4, 2] : [4, 4, 3]);
      // each chunk's hidden activation is recomputed for its gradient by the chunk's own segment
      const gates = chunked.graph.nodes.filter((n) => (n.op === 'Erf' || n.op === 'Tanh') && n.segment?.endsWith('#remat'));
      expect(gates.map((n) => n.segment)).toEqual(sizes.map((_, i) => `block/block.ff.chunk${i}#remat`).reverse());
      const [a, b] = await Promise.all([run(chunked), run(whole)]);
      expect(relativeError(a[chunked.y.name], b[whole.y.name])).toBeLessThan(1e-5);
      const names = Object.keys(whole.gradNames);
      expect(names).toHaveLength(5); // x, two weights, two biases
      for (const name of names) {
        const err = relativeError(a[chunked.gradNames[name]], b[whole.gradNames[name]]);
        expect(err, `gradient of ${name}`).toBeLessThan(1e-5);
      }
    });
  }

  it('a training graph of a chunked feed-forward peaks at well under a third of the one-block graph', () => {
    // 2048 tokens x GEGLU hidden 2 x 128 floats = 2 MiB dominate; 16 chunks of 128 tokens (128 KiB each)
    const c: Case = { shape: [4, 512, 32], ff: { activation: 'geglu' } };
    const whole = build(c, { chunkBytes: Infinity }, true);
    const chunked = build(c, { chunkBytes: 128 * 1024 }, true);
    expect(tokenSplit(chunked.graph)!.attributes.split).toEqual(Array(16).fill(128));
    const peakWhole = peakMemory(whole.graph, { params: whole.params }).peakBytes;
    const peakChunked = peakMemory(chunked.graph, { params: chunked.params }).peakBytes;
    expect(peakWhole).toBeGreaterThan(4 * 2 ** 20); // the hidden activation, its halves, gelu and their gradients
    expect(peakChunked).toBeLessThan(peakWhole / 3);
  });
});
