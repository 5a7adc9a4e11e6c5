// Nested remat segments ("S/C": a part of S recomputed on its own, right before its own gradient)
// and eagerly summed gradient contributions, on a graph shaped like chunked attention: a block S
// computes a shared u, then n chunks each expand their rows of a to a wide tensor E_i =
// exp(a_i^T u) (the "scores") and reduce it, and S concatenates the results.
import { describe, expect, it } from 'vitest';
import { accumulateEagerly, differentiate } from '../../../tensor/autodiff/grad.ts';
import { evaluate } from '../../../tensor/emit/evaluate.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph } from '../../../tensor/ir/graph.ts';
import { eliminateDeadCode } from '../../../tensor/passes/dce.ts';
import { peakMemory } from '../../../tensor/passes/liveness.ts';
import { nestedSegment, rematerialize } from '../../../tensor/passes/remat.ts';
import { validate } from '../../../tensor/passes/validate.ts';

const CHUNKS = 8;
const ROWS = 8; // rows of a per chunk
const WIDTH = 512; // E_i is [ROWS, WIDTH]

function seeded(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s / 2 ** 32 - 0.5) * 0.5;
  });
}

/** nested: chunk segments inside 'S'; otherwise every node is in 'S'. eager: sum u's gradient as it comes. */
function build(options: { nested: boolean; eager: boolean; remat: boolean }) {
  const b = new Builder(new Graph('chunks'));
  const a = b.input('a', [CHUNKS * ROWS, 1]);
  const w = b.input('w', [1, WIDTH]);
  const y = b.inSegment('S', () => {
    const u = b.tanh(w); // [1, WIDTH], read by every chunk
    if (options.eager) accumulateEagerly(u);
    const parts = b.split(b.sin(a), 0, Array(CHUNKS).fill(ROWS));
    const outs = parts.map((p, i) => {
      const chunk = () => b.reduceSum(b.exp(b.matmul(p, u)), [1], true); // E_i [ROWS, WIDTH] -> [ROWS, 1]
      return options.nested ? b.inSegment(nestedSegment(b.segment, `chunk${i}`), chunk) : chunk();
    });
    return b.concat(outs, 0);
  });
  const loss = b.reduceSum(b.mul(y, y), undefined, false);
  const forwardNodes = b.graph.nodes.length;
  const { grads } = differentiate(b.graph, loss, [a, w]);
  b.graph.markOutput(loss);
  const ga = grads.get(a)!;
  const gw = grads.get(w)!;
  b.graph.markOutput(ga);
  b.graph.markOutput(gw);
  if (options.remat) rematerialize(b.graph, { forwardNodes });
  eliminateDeadCode(b.graph);
  validate(b.graph);
  return { graph: b.graph, outputs: [loss.name, ga.name, gw.name] };
}

const feeds = { a: seeded(CHUNKS * ROWS, 3), w: seeded(WIDTH, 5) };
const bytesE = ROWS * WIDTH * 4;

async function results(built: ReturnType<typeof build>) {
  const out = await evaluate(built.graph, feeds, { graphOptimizationLevel: 'disabled' });
  return built.outputs.map((name) => Array.from(out[name] as Float32Array));
}

describe('nested remat segments', () => {
  it('recompute each chunk on its own, right before its gradient: bit-identical results, one chunk alive', async () => {
    const reference = build({ nested: false, eager: true, remat: false });
    const flat = build({ nested: false, eager: true, remat: true });
    const nested = build({ nested: true, eager: true, remat: true });
    const expected = await results(reference);
    expect(await results(flat)).toEqual(expected);
    expect(await results(nested)).toEqual(expected);

    // the chunks' clones: one segment each, every one emitted after the previous chunk's gradient
    const segments = nested.graph.nodes.map((n) => n.segment ?? '');
    const clones = [...new Set(segments.filter((s) => s.startsWith('S/') && s.endsWith('#remat')))];
    expect(clones).toEqual([7, 6, 5, 4, 3, 2, 1, 0].map((i) => `S/chunk${i}#remat`));
    // S's own recomputation (u, the split) comes before the first chunk's
    expect(segments.indexOf('S#remat')).toBeLessThan(segments.indexOf('S/chunk7#remat'));

    // a flat segment recomputes every chunk's E_i at once and keeps them until their gradients;
    // nested, one chunk's E_i, its cotangent and their product are alive at a time
    const peakFlat = peakMemory(flat.graph).peakBytes;
    const peakNested = peakMemory(nested.graph).peakBytes;
    expect(peakFlat).toBeGreaterThan(CHUNKS * bytesE);
    expect(peakNested).toBeLessThan(4 * bytesE);
  });

  it('sum the gradient contributions of a shared value as they arrive, with the same result', async () => {
    const atOnce = build({ nested: true, eager: false, remat: true });
    const eager = build({ nested: true, eager: true, remat: true });
    expect(await results(eager)).toEqual(await results(atOnce));
    // where the sums of u's contributions ([1, WIDTH] Adds) sit among the chunks' recomputations
    const layout = (g: Graph) => {
      const starts = [7, 6, 5, 4, 3, 2, 1, 0].map((i) => g.nodes.findIndex((n) => n.segment === `S/chunk${i}#remat`));
      const adds = g.nodes.flatMap((n, i) => (n.op === 'Add' && n.outputs[0].shape.join() === `1,${WIDTH}` ? [i] : []));
      return { starts, adds };
    };
    // eager: the k-th sum right after chunk k's gradient, before the next chunk is recomputed
    const e = layout(eager.graph);
    expect(e.adds).toHaveLength(CHUNKS - 1);
    e.adds.forEach((at, k) => {
      expect(at).toBeGreaterThan(e.starts[k + 1]);
      if (k + 2 < CHUNKS) expect(at).toBeLessThan(e.starts[k + 2]);
    });
    // at once: every sum after the last chunk, so one contribution per chunk is alive until then
    const o = layout(atOnce.graph);
    expect(o.adds).toHaveLength(CHUNKS - 1);
    expect(Math.min(...o.adds)).toBeGreaterThan(o.starts[CHUNKS - 1]);
  });
});

describe('nestedSegment', () => {
  it('names a part of its parent, or a top-level segment without one', () => {
    expect(nestedSegment('S', 'c0')).toBe('S/c0');
    expect(nestedSegment(undefined, 'c0')).toBe('c0');
  });
});
