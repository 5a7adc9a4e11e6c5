import { afterEach, describe, expect, it } from 'vitest';
import { gradients } from '../../../tensor/autodiff/grad.ts';
import { evaluate } from '../../../tensor/emit/evaluate.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph, type Value } from '../../../tensor/ir/graph.ts';
import { eliminateCommonSubexpressions } from '../../../tensor/passes/cse.ts';
import { eliminateDeadCode } from '../../../tensor/passes/dce.ts';
import { foldConstants } from '../../../tensor/passes/fold.ts';
import { runPasses, type Pass } from '../../../tensor/passes/index.ts';
import { peakMemory } from '../../../tensor/passes/liveness.ts';
import { rematerialize } from '../../../tensor/passes/remat.ts';
import { scheduleForMemory } from '../../../tensor/passes/schedule.ts';
import { ValidationError, validate, validationProblems } from '../../../tensor/passes/validate.ts';

function seeded(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * scale;
  });
}

const outputsByName = async (g: Graph, feeds: Record<string, Float32Array>) => {
  const out = await evaluate(g, feeds);
  return Object.fromEntries(g.outputs.map((v) => [v.name, [...out[v.name]]]));
};

describe('validator', () => {
  it('accepts a well-formed graph and reports each kind of breakage', () => {
    const b = new Builder(new Graph('g'));
    const x = b.input('x', [2, 3]);
    const y = b.tanh(b.add(x, b.scalar(1)));
    b.graph.markOutput(y);
    expect(validationProblems(b.graph)).toEqual([]);

    // use before definition
    const [add, tanh] = b.graph.nodes;
    b.graph.nodes = [tanh, add];
    expect(validationProblems(b.graph).join('\n')).toMatch(/used before it is produced/);
    b.graph.nodes = [add, tanh];
    // a recorded type that the op table disagrees with
    (y.type as unknown as { shape: number[] }).shape = [3, 2];
    expect(validationProblems(b.graph).join('\n')).toMatch(/recorded as float32\[3, 2\] but infers as float32\[2, 3\]/);
    (y.type as unknown as { shape: number[] }).shape = [2, 3];
    // duplicate names, missing output
    y.name = x.name;
    const ghost = new Graph('other').addInput('ghost', { dtype: 'float32', shape: [1] });
    b.graph.outputs.push(ghost);
    const problems = validationProblems(b.graph).join('\n');
    expect(problems).toMatch(/two values are named 'x'/);
    expect(problems).toMatch(/output 'ghost' is not produced/);
    expect(() => validate(b.graph, 'test')).toThrow(ValidationError);
  });

  it('runPasses validates after every pass when VPL_DEBUG is set and names the pass that broke the graph', async () => {
    const b = new Builder(new Graph('g'));
    const x = b.input('x', [4]);
    b.graph.markOutput(b.exp(b.neg(x)));
    const breaker: Pass = { name: 'reverse-nodes', run: (g) => ((g.nodes = [...g.nodes].reverse()), g) };
    process.env.VPL_DEBUG = '1';
    await expect(runPasses(b.graph, [{ name: 'dce', run: eliminateDeadCode }, breaker])).rejects.toThrow(/after pass 'reverse-nodes'/);
    delete process.env.VPL_DEBUG;
    // without VPL_DEBUG nothing checks
    await expect(runPasses(b.graph, [breaker])).resolves.toBe(b.graph);
  });
  afterEach(() => {
    delete process.env.VPL_DEBUG;
  });
});

describe('simplification passes', () => {
  it('DCE drops nodes and initializers no output needs', async () => {
    const b = new Builder(new Graph('g'));
    const x = b.input('x', [3]);
    const live = b.mul(x, b.scalar(2));
    b.exp(b.add(x, b.scalar(5))); // dead
    b.graph.markOutput(live);
    const before = await outputsByName(b.graph, { x: Float32Array.of(1, 2, 3) });
    eliminateDeadCode(b.graph);
    validate(b.graph);
    expect(b.graph.nodes.map((n) => n.op)).toEqual(['Mul']);
    expect(b.graph.initializers.size).toBe(1);
    expect(await outputsByName(b.graph, { x: Float32Array.of(1, 2, 3) })).toEqual(before);
  });

  it('CSE merges equal nodes and equal small constants, keeping output names', async () => {
    const b = new Builder(new Graph('g'));
    const x = b.input('x', [2, 2]);
    const a1 = b.mul(b.tanh(x), b.scalar(0.5));
    const a2 = b.mul(b.tanh(x), b.scalar(0.5)); // same op, same input, a different but equal scalar
    const s = b.add(a1, a2);
    b.graph.markOutput(s);
    b.graph.markOutput(a2);
    const names = b.graph.outputs.map((v) => v.name);
    const feeds = { x: Float32Array.of(0.1, -0.2, 0.3, 2) };
    const before = await outputsByName(b.graph, feeds);
    eliminateCommonSubexpressions(b.graph);
    validate(b.graph);
    expect(b.graph.nodes.map((n) => n.op)).toEqual(['Tanh', 'Mul', 'Add']);
    expect(b.graph.initializers.size).toBe(1);
    expect(b.graph.outputs.map((v) => v.name)).toEqual(names);
    expect(await outputsByName(b.graph, feeds)).toEqual(before);
  });

  it('constant folding evaluates small constant subgraphs (in JS and through onnxruntime) and keeps large ones', async () => {
    const b = new Builder(new Graph('g'));
    const x = b.input('x', [3]);
    const c = b.constant(Float32Array.of(0.1, 0.2, 0.3), [3]);
    const k = b.exp(b.sqrt(b.add(b.mul(c, b.scalar(3)), b.scalar(1)))); // Mul, Add, Sqrt in JS; Exp through ORT
    const big = b.expand(b.scalar(1), [512, 512]); // folding would create a 1 MB constant
    const y = b.add(b.mul(x, k), b.reduceSum(big, undefined, false));
    b.graph.markOutput(y);
    const feeds = { x: Float32Array.of(1, -1, 2) };
    const before = await outputsByName(b.graph, feeds);
    await foldConstants(b.graph, { maxOutputElements: 1 << 16 });
    validate(b.graph);
    expect(b.graph.nodes.map((n) => n.op)).toEqual(['Expand', 'Mul', 'ReduceSum', 'Add']);
    expect(await outputsByName(b.graph, feeds)).toEqual(before); // bit-identical
  });

  it('folds int64 shape arithmetic and casts exactly', async () => {
    const b = new Builder(new Graph('g'));
    const i = b.constantOf([7, -7, 9], [3], 'int64');
    const q = b.op('Div', [i, b.scalar(2, 'int64')]); // truncates towards zero
    const f = b.cast(q, 'float32');
    b.graph.markOutput(f);
    const before = await outputsByName(b.graph, {});
    const name = f.name;
    await foldConstants(b.graph);
    expect(b.graph.nodes.map((n) => n.op)).toEqual(['Identity']); // the output keeps its name
    expect(await outputsByName(b.graph, {})).toEqual(before);
    expect(before[name]).toEqual([3, -3, 4]);
  });
});

describe('scheduling and liveness', () => {
  it('reports the exact peak of a chain and counts params separately', () => {
    const b = new Builder(new Graph('g'));
    const x = b.input('x', [256]); // 1 KiB
    const w = b.constant(new Float32Array(256), [256]);
    const h1 = b.mul(x, w); // x dies here
    const h2 = b.tanh(h1); // h1 dies here
    const y = b.reduceSum(h2, undefined, false);
    b.graph.markOutput(y);
    const r = peakMemory(b.graph);
    expect(r.paramBytes).toBe(1024);
    expect(r.peakBytes).toBe(2048); // two 1 KiB tensors at once, never three
    expect(r.inputBytes).toBe(1024);
    expect(r.outputBytes).toBe(4);
  });

  it('greedy order lowers the peak of a graph built in a bad order, with the same results', async () => {
    // four branches each computing a big tensor and reducing it; built "all big tensors first"
    const b = new Builder(new Graph('g'));
    const x = b.input('x', [64, 64]);
    const bigs = [1, 2, 3, 4].map((k) => b.exp(b.mul(x, b.scalar(k / 10))));
    const sums = bigs.map((t) => b.reduceSum(t, undefined, false));
    b.graph.markOutput(sums.reduce((acc, s) => b.add(acc, s)));
    const feeds = { x: seeded(64 * 64, 1) };
    const before = await outputsByName(b.graph, feeds);
    const peakBefore = peakMemory(b.graph).peakBytes;
    scheduleForMemory(b.graph);
    validate(b.graph);
    const peakAfter = peakMemory(b.graph).peakBytes;
    expect(peakBefore).toBeGreaterThanOrEqual(4 * 16384 + 16384);
    expect(peakAfter).toBeLessThanOrEqual(3 * 16384 + 64);
    expect(await outputsByName(b.graph, feeds)).toEqual(before);
  });
});

describe('rematerialisation', () => {
  // a chain of segments, each three tanh(x W) layers; loss = mean(y^2)
  function chain(segments: number, width: number, batch: number) {
    const b = new Builder(new Graph('chain'));
    const x = b.input('x', [batch, width]);
    const weights: Value[] = [];
    let h = x;
    for (let s = 0; s < segments; s++) {
      b.inSegment(`block${s}`, () =>
        b.within(`block${s}`, () => {
          for (let l = 0; l < 3; l++) {
            const w = b.input(`w${l}`, [width, width]);
            weights.push(w);
            h = b.tanh(b.matmul(h, w));
          }
        }),
      );
    }
    const loss = b.reduceMean(b.mul(h, h), undefined, false);
    const forwardNodes = b.graph.nodes.length;
    const grads = gradients(b.graph, loss, weights);
    b.graph.markOutput(loss);
    for (const w of weights) b.graph.markOutput(grads.get(w)!);
    const feeds: Record<string, Float32Array> = { x: seeded(batch * width, 7) };
    weights.forEach((w, i) => (feeds[w.name] = seeded(width * width, 100 + i, 2 / Math.sqrt(width))));
    return { graph: b.graph, forwardNodes, feeds, weights };
  }

  it('recomputes segment internals in the backward pass: same loss and gradients, lower peak', async () => {
    const { graph, forwardNodes, feeds, weights } = chain(4, 32, 512); // activations dominate (64 KiB vs 4 KiB weights)
    const before = await outputsByName(graph, feeds);
    const peakBefore = peakMemory(graph, { params: weights }).peakBytes;
    const report = rematerialize(graph, { forwardNodes });
    validate(graph);
    expect([...report.recomputed.keys()].sort()).toEqual(['block0', 'block1', 'block2', 'block3']);
    expect(graph.nodes.some((n) => n.segment === 'block2#remat')).toBe(true);
    // CSE must not merge the clones back into the forward originals
    eliminateCommonSubexpressions(graph);
    const peakAfter = peakMemory(graph, { params: weights }).peakBytes;
    if (process.env.DEBUG_REMAT) console.log(peakBefore, peakAfter, peakMemory(graph, { params: weights }), graph.nodes.map((n) => `${n.op}:${n.segment ?? n.scope}`).join(' '));
    expect(await outputsByName(graph, feeds)).toEqual(before); // recomputation is bit-identical
    expect(peakAfter).toBeLessThan(peakBefore * 0.7);
  });
});
