// Attention in query chunks (each a remat segment nested in its block's) and through onnxruntime's
// fused com.microsoft MultiHeadAttention, against attention built as one block: the same outputs
// and gradients (onnxruntime), the chunk layout, and the liveness peak of a training graph.
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { checkFile } from '../../compiler/check/index.ts';
import { lowerReward } from '../../compiler/lower/index.ts';
import { attention, type AttentionLowering, DEFAULT_ATTENTION_CHUNK_BYTES, queryChunks } from '../../stdlib/nn/attention.ts';
import { Rng } from '../../stdlib/nn/index.ts';
import { emitModel } from '../../tensor/emit/onnx.ts';
import type { Graph } from '../../tensor/ir/graph.ts';
import { peakMemory } from '../../tensor/passes/liveness.ts';
import { type LayerGraph, layerGraph, relativeError, runLayerGraph } from '../helpers/layer-graph.ts';

const { onnx } = onnxProto;

interface Case {
  batch: number;
  lq: number;
  channels: number;
  heads: number;
  dimHead: number;
  /** Cross-attention over a context of this many tokens (width 6). */
  lk?: number;
  /** A bool [B, Lq, Lk] mask (every query sees at least one key). */
  mask?: boolean;
}

type Built = LayerGraph;

/** One attention layer in its block; with `train`, its gradients into x, the context and every weight. */
function build(c: Case, lowering: AttentionLowering, train: boolean): Built {
  return layerGraph('attention', lowering, train, ({ nn, input }) => {
    const x = input('x', [c.batch, c.lq, c.channels]);
    const lk = c.lk ?? c.lq;
    const context = c.lk ? input('context', [c.batch, c.lk, 6]) : undefined;
    const rng = new Rng(5, 'mask');
    // key j visible to query i with probability 0.7, and always key i % lk
    const visible = (size: number) => Uint8Array.from({ length: size }, (_, n) => (rng.uniform() < 0.7 || n % lk === Math.floor(n / lk) % c.lq % lk ? 1 : 0));
    const mask = c.mask ? input('mask', [c.batch, c.lq, lk], { dtype: 'bool', data: visible }) : undefined;
    const y = attention(nn, 'attn', x, { heads: c.heads, dimHead: c.dimHead, context, mask });
    return { y, wrt: [x, ...(context ? [context] : [])] };
  });
}

const run = runLayerGraph;

const ops = (g: Graph, op: string) => g.nodes.filter((n) => n.op === op);
/** A budget under which each chunk holds exactly `rows` query rows. */
const budgetFor = (c: Case, rows: number) => c.batch * c.heads * (c.lk ?? c.lq) * 4 * rows;

describe('query chunks', () => {
  it('takes the most rows that fit the budget, the last chunk the rest; one chunk when all fit', () => {
    const scores = { batch: 2, heads: 3, lq: 10, lk: 7, elementBytes: 4 };
    const row = 2 * 3 * 7 * 4;
    expect(queryChunks(scores, 10 * row)).toEqual([10]);
    expect(queryChunks(scores, 4 * row + 1)).toEqual([4, 4, 2]);
    expect(queryChunks(scores, 5 * row)).toEqual([5, 5]);
    expect(queryChunks(scores, 1)).toEqual(Array(10).fill(1)); // never fewer than one row
    expect(() => queryChunks(scores, 0)).toThrow(/positive number of bytes/);
  });

  it('leaves attention under the budget as one block: the same graph as with no limit at all', () => {
    const c: Case = { batch: 2, lq: 16, channels: 8, heads: 2, dimHead: 4, mask: true };
    expect(2 * 2 * 16 * 16 * 4).toBeLessThan(DEFAULT_ATTENTION_CHUNK_BYTES);
    const plain = build(c, {}, true);
    const unlimited = build(c, { chunkBytes: Infinity }, true);
    expect(ops(plain.graph, 'Softmax').filter((n) => n.segment === 'block')).toHaveLength(1);
    expect(ops(plain.graph, 'Split')).toHaveLength(0);
    expect(Buffer.from(emitModel(plain.graph)).equals(Buffer.from(emitModel(unlimited.graph)))).toBe(true);
  });

  it('builds one nested remat segment per chunk, ragged last chunk included', () => {
    const c: Case = { batch: 2, lq: 13, channels: 8, heads: 2, dimHead: 4 };
    const { graph } = build(c, { chunkBytes: budgetFor(c, 4) }, false);
    const [split] = ops(graph, 'Split');
    expect(split.attributes.split).toEqual([4, 4, 4, 1]);
    expect(split.segment).toBe('block');
    expect(ops(graph, 'Softmax').map((n) => n.segment)).toEqual([0, 1, 2, 3].map((i) => `block/block.attn.chunk${i}`));
    expect(ops(graph, 'Concat').map((n) => n.segment)).toEqual(['block']);
  });

  const cases: [string, Case][] = [
    ['self-attention with a bool mask', { batch: 2, lq: 13, channels: 8, heads: 2, dimHead: 4, mask: true }],
    ['cross-attention', { batch: 2, lq: 11, channels: 8, heads: 2, dimHead: 3, lk: 5 }],
  ];
  for (const [what, c] of cases) {
    it(`${what}: chunked = one block, outputs and gradients (recomputed chunk by chunk)`, async () => {
      const whole = build(c, { chunkBytes: Infinity }, true);
      const chunked = build(c, { chunkBytes: budgetFor(c, 4) }, true); // 4 + 4 + ... + ragged rest
      const sizes = ops(chunked.graph, 'Split')[0].attributes.split as number[];
      expect(sizes).toEqual(c.lq === 13 ? [4, 4, 4, 1] : [4, 4, 3]);
      // each chunk's scores are recomputed for its gradient by the chunk's own segment
      const recomputed = new Set(chunked.graph.nodes.filter((n) => n.op === 'Softmax' && n.segment?.startsWith('block/') && n.segment.endsWith('#remat')).map((n) => n.segment));
      expect([...recomputed]).toEqual(sizes.map((_, i) => `block/block.attn.chunk${i}#remat`).reverse());
      const [a, b] = await Promise.all([run(chunked), run(whole)]);
      expect(relativeError(a[chunked.y.name], b[whole.y.name])).toBeLessThan(1e-5);
      const names = Object.keys(whole.gradNames);
      expect(names.length).toBeGreaterThan(5);
      for (const name of names) {
        const err = relativeError(a[chunked.gradNames[name]], b[whole.gradNames[name]]);
        expect(err, `gradient of ${name}`).toBeLessThan(1e-5);
      }
    });
  }

  it('a training graph of chunked attention peaks at well under a third of the one-block graph', () => {
    // scores [2, 2, 256, 256] floats = 1 MiB dominate; 16 chunks of 16 rows (64 KiB each)
    const c: Case = { batch: 2, lq: 256, channels: 16, heads: 2, dimHead: 8 };
    const whole = build(c, { chunkBytes: Infinity }, true);
    const chunked = build(c, { chunkBytes: 64 * 1024 }, true);
    expect(ops(chunked.graph, 'Split')[0].attributes.split).toEqual(Array(16).fill(16));
    const peakWhole = peakMemory(whole.graph, { params: whole.params }).peakBytes;
    const peakChunked = peakMemory(chunked.graph, { params: chunked.params }).peakBytes;
    expect(peakWhole).toBeGreaterThan(3 * 2 ** 20); // the scores, their softmax and its gradient
    expect(peakChunked).toBeLessThan(peakWhole / 3);
  });
});

describe('attention memory in the reward lowering', () => {
  it('fp16 + remat: segments are recomputed in the backward pass only (precision casts count as forward nodes)', () => {
    const checked = checkFile('pipelines/demo.vpl', { overrides: ['model.frames=4', 'train.batch=1', 'sampler.steps=4', 'train.remat=on', 'train.precision=fp16'] });
    if (!checked.plan) throw new Error(checked.diagnostics.map((d) => d.message).join('\n'));
    const train = lowerReward(checked.plan, { tiny: true, precision: 'fp16' }).program.graphs.train_step;
    const firstBackward = train.nodes.findIndex((n) => n.scope.startsWith('grad'));
    const clones = train.nodes.flatMap((n, i) => (n.segment?.endsWith('#remat') ? [i] : []));
    expect(clones.length).toBeGreaterThan(0);
    expect(Math.min(...clones)).toBeGreaterThan(firstBackward);
  }, 60_000);
});

describe('fused attention (com.microsoft MultiHeadAttention)', () => {
  const decode = (g: Graph) => onnx.ModelProto.decode(emitModel(g));

  it('emits the contrib node in its domain and imports the com.microsoft opset', () => {
    const fused = build({ batch: 2, lq: 8, channels: 8, heads: 2, dimHead: 4 }, { fused: true }, false);
    const model = decode(fused.graph);
    const mha = model.graph!.node!.filter((n) => n.opType === 'MultiHeadAttention');
    expect(mha).toHaveLength(1);
    expect(mha[0].domain).toBe('com.microsoft');
    expect(Number(mha[0].attribute!.find((a) => a.name === 'num_heads')!.i)).toBe(2);
    expect(model.opsetImport!.map((o) => [o.domain, Number(o.version)])).toEqual([['', 17], ['com.microsoft', 1]]);
    const plain = decode(build({ batch: 2, lq: 8, channels: 8, heads: 2, dimHead: 4 }, {}, false).graph);
    expect(plain.opsetImport!.map((o) => o.domain)).toEqual(['']);
  });

  // onnxruntime's CPU build implements MultiHeadAttention too, so the fused graph runs here
  const cases: [string, Case][] = [
    ['self-attention', { batch: 2, lq: 9, channels: 8, heads: 2, dimHead: 4 }],
    ['self-attention with a bool mask', { batch: 2, lq: 9, channels: 8, heads: 2, dimHead: 4, mask: true }],
    ['cross-attention', { batch: 2, lq: 9, channels: 8, heads: 2, dimHead: 3, lk: 5 }],
  ];
  for (const [what, c] of cases) {
    it(`${what}: fused = plain ops on the CPU`, async () => {
      const fused = build(c, { fused: true }, false);
      const plain = build(c, {}, false);
      expect(ops(fused.graph, 'MultiHeadAttention')).toHaveLength(1);
      expect(ops(fused.graph, 'Softmax')).toHaveLength(0);
      const [a, b] = await Promise.all([run(fused), run(plain)]);
      expect(relativeError(a[fused.y.name], b[plain.y.name])).toBeLessThan(1e-5);
    });
  }

  it('has no gradient: differentiating through it is refused', () => {
    expect(() => build({ batch: 1, lq: 4, channels: 8, heads: 2, dimHead: 4 }, { fused: true }, true)).toThrow(/no VJP rule for op 'MultiHeadAttention'/);
  });

  it('a reward lowering with fusedAttention fuses sample_step only, never the train_step', () => {
    const checked = checkFile('pipelines/demo.vpl', { overrides: ['model.frames=4', 'train.batch=1', 'sampler.steps=4'] });
    if (!checked.plan) throw new Error(checked.diagnostics.map((d) => d.message).join('\n'));
    const low = lowerReward(checked.plan, { tiny: true, fusedAttention: true });
    const { sample_step: sample, train_step: train } = low.program.graphs;
    expect(ops(sample, 'MultiHeadAttention').length).toBeGreaterThan(0);
    expect(ops(sample, 'Softmax')).toHaveLength(0);
    expect(ops(train, 'MultiHeadAttention')).toHaveLength(0);
    const plainSample = lowerReward(checked.plan, { tiny: true }).program.graphs.sample_step;
    expect(ops(plainSample, 'MultiHeadAttention')).toHaveLength(0);
    expect(ops(plainSample, 'Softmax')).toHaveLength(ops(sample, 'MultiHeadAttention').length);
  }, 60_000);
});
