import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { compileCached } from '../../../tensor/program/cache.ts';
import { evaluate } from '../../../tensor/emit/evaluate.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph } from '../../../tensor/ir/graph.ts';
import { emitProgram, reshapedWeightsAsViews } from '../../../tensor/program/emit.ts';
import { smallProgram, seeded } from './fixtures.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-program-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('program emission', () => {
  it('writes one model per graph, large frozen weights to a shared weights.bin, and program.json; onnxruntime loads them', async () => {
    const program = smallProgram(path.join(tmp, 'src'));
    const out = path.join(tmp, 'out');
    const json = emitProgram(program, out, { externalThreshold: 8 * 1024 });
    expect(fs.readdirSync(out).sort()).toEqual(['program.json', 'sample_step.onnx', 'train_loop.onnx', 'train_step.onnx', 'weights.bin']);
    expect(json.graphs.sample_step.externalInitializers).toBe(2);
    expect(json.externalData?.bytes).toBe(64 * 256 * 4 + 256 * 8 * 4); // 64 KiB + 8 KiB, the second at an aligned offset
    expect(fs.statSync(path.join(out, 'sample_step.onnx')).size).toBeLessThan(4096); // the weights are not inside
    expect(JSON.parse(fs.readFileSync(path.join(out, 'program.json'), 'utf8')).weights[0].source.key).toBe('proj.weight');

    // the external-data model, loaded from its path, computes what the in-memory graph computes
    const x = seeded(4 * 64, 5);
    const session = await ort.InferenceSession.create(path.join(out, 'sample_step.onnx'));
    const fromDisk = (await session.run({ x: new ort.Tensor('float32', x, [4, 64]) }))[json.graphs.sample_step.outputs[0].name].data as Float32Array;
    await session.release();
    const inline = path.join(tmp, 'inline'); // default 1 MiB threshold: every weight inside the model
    const inlineJson = emitProgram(smallProgram(path.join(tmp, 'src')), inline);
    expect(inlineJson.externalData).toBeNull();
    const s1 = await ort.InferenceSession.create(path.join(inline, 'sample_step.onnx'));
    const expected = (await s1.run({ x: new ort.Tensor('float32', x, [4, 64]) }))[json.graphs.sample_step.outputs[0].name].data as Float32Array;
    await s1.release();
    expect([...fromDisk]).toEqual([...expected]);

    // the same model from bytes needs the externalData session option
    const bytes = fs.readFileSync(path.join(out, 'sample_step.onnx'));
    const s2 = await ort.InferenceSession.create(bytes, { externalData: [{ path: 'weights.bin', data: fs.readFileSync(path.join(out, 'weights.bin')) }] });
    const again = (await s2.run({ x: new ort.Tensor('float32', x, [4, 64]) }))[json.graphs.sample_step.outputs[0].name].data as Float32Array;
    await s2.release();
    expect([...again]).toEqual([...expected]);
  });

  it('caches compiled programs by content hash', () => {
    const root = path.join(tmp, 'cache');
    const src = path.join(tmp, 'src3');
    const first = compileCached(smallProgram(src), { root, externalThreshold: 8 * 1024 });
    expect(first.hit).toBe(false);
    expect(fs.existsSync(path.join(first.dir, 'train_step.onnx'))).toBe(true);
    expect(path.basename(first.dir)).toMatch(/^[0-9a-f]{64}$/);
    const second = compileCached(smallProgram(src), { root, externalThreshold: 8 * 1024 });
    expect(second).toMatchObject({ hit: true, hash: first.hash, dir: first.dir });
    const changed = compileCached(smallProgram(src, 2), { root, externalThreshold: 8 * 1024 }); // another frozen weight
    expect(changed.hit).toBe(false);
    expect(changed.hash).not.toBe(first.hash);
    expect(fs.readdirSync(root).filter((d) => d.startsWith('.tmp'))).toEqual([]);
  });
});

describe('weights that are only reshaped', () => {
  /** A 1x1 conv kernel [8, 4, 1, 1] used only as an [8, 4] matrix, and a norm scale used both reshaped and as it is. */
  function graphWithReshapedWeights() {
    const graph = new Graph('g');
    const b = new Builder(graph);
    const x = b.input('x', [3, 4]);
    const kernel = b.constant(seeded(32, 1), [8, 4, 1, 1], 'float32', 'proj.weight');
    const scale = b.constant(seeded(4, 2), [4], 'float32', 'norm.weight');
    const y = b.gemm(b.mul(x, b.reshape(scale, [1, 4])), b.reshape(kernel, [8, 4]), undefined, { transB: true });
    graph.outputs.push(b.add(b.reduceSum(y, [1], false), b.reduceSum(b.mul(x, scale), [1], false)));
    return { graph, kernel, scale };
  }

  it('become initializers over the same bytes: no Reshape of a weight reaches onnxruntime, and a weight used only reshaped is not emitted', () => {
    const { graph, kernel, scale } = graphWithReshapedWeights();
    const { nodes, initializers } = reshapedWeightsAsViews(graph);
    expect(nodes.filter((n) => n.op === 'Reshape')).toEqual([]);
    const views = [...initializers].filter(([v]) => v.producer?.op === 'Reshape');
    expect(views.map(([v]) => v.shape)).toEqual([[1, 4], [8, 4]]);
    expect(views.map(([, init]) => init)).toEqual([graph.initializers.get(scale), graph.initializers.get(kernel)]);
    expect(initializers.has(kernel)).toBe(false); // only ever used reshaped
    expect(initializers.has(scale)).toBe(true); // also used as it is
    expect(graph.nodes.filter((n) => n.op === 'Reshape').length).toBe(2); // the IR graph keeps its nodes
  });

  it('compute the same in onnxruntime as the graph with its Reshapes', async () => {
    const { graph } = graphWithReshapedWeights();
    const x = seeded(12, 3);
    const expected = (await evaluate(graph, { x }))[graph.outputs[0]!.name]!;
    const dir = path.join(tmp, 'views');
    const json = emitProgram({ name: 'views', graphs: { g: graph }, schedule: [], weights: [] }, dir);
    const session = await ort.InferenceSession.create(path.join(dir, json.graphs.g.file));
    const got = (await session.run({ x: new ort.Tensor('float32', x, [3, 4]) }))[graph.outputs[0]!.name]!.data as Float32Array;
    await session.release();
    expect([...got]).toEqual([...expected]);
  });
});
