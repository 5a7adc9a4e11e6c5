import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { emitProgram } from '../../tensor/program/emit.ts';
import { VplError } from '../../diagnostics/error.ts';
import { cudaAvailability, cudaInstallHelp, loadProgram, loadProgramDir, MAPPED_WEIGHTS_BYTES, ortSessionOptions } from '../../runtime/session.ts';
import { seeded, smallProgram } from '../tensor/program/fixtures.ts';
import { BATCH, IN, OUT, toyProgram } from './train/toy.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-session-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function rejection(p: Promise<unknown>): Promise<VplError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VplError);
  return error as VplError;
}

const toyFeeds = () => ({ x: seeded(BATCH * IN, 1), y: seeded(BATCH * OUT, 2), w: seeded(IN * OUT, 3), b: seeded(OUT, 4) });

describe('program sessions', () => {
  it('loads an emitted program folder and an in-memory Program to the same results', async () => {
    const dir = path.join(tmp, 'toy');
    emitProgram(toyProgram(), dir);
    const fromDir = await loadProgramDir(dir);
    const inMemory = await loadProgram(toyProgram());
    expect([...fromDir.graphs.keys()].sort()).toEqual(['apply_step', 'micro_step']);
    const a = await fromDir.graph('micro_step').run(toyFeeds());
    const b = await inMemory.graph('micro_step').run(toyFeeds());
    expect(Object.keys(a)).toHaveLength(3);
    expect(a).toEqual(b);
    expect(() => fromDir.graph('sample_step')).toThrow(/has no graph 'sample_step'.*/);
    await fromDir.release();
    await inMemory.release();
  });

  it('resolves external weights (weights.bin) from a folder and for an in-memory Program', async () => {
    const src = path.join(tmp, 'src');
    const dir = path.join(tmp, 'external');
    const json = emitProgram(smallProgram(src), dir, { externalThreshold: 8 * 1024 });
    expect(json.externalData).not.toBeNull();
    const sessions = await loadProgramDir(dir);
    const x = seeded(4 * 64, 5);
    const out = await sessions.graph('sample_step').run({ x });
    await sessions.release();
    // in memory, with weights over the threshold: emitted to the cache, sessions from the paths
    const cacheRoot = path.join(tmp, 'cache');
    const inMemory = await loadProgram(smallProgram(src), { cacheRoot, externalThreshold: 8 * 1024 });
    const again = await inMemory.graph('sample_step').run({ x: { data: x, shape: [4, 64] } });
    await inMemory.release();
    expect(again).toEqual(out);
    const [cached] = fs.readdirSync(cacheRoot);
    expect(fs.existsSync(path.join(cacheRoot, cached!, 'weights.bin'))).toBe(true);
    fs.rmSync(path.join(dir, 'weights.bin'));
    const missing = await rejection(loadProgramDir(dir));
    expect(missing.code).toBe('VPL7101');
    expect(missing.message).toMatch(/external weights file 'weights.bin' is missing/);
  });

  it('checks feeds: a missing or unknown input, a wrong shape or dtype name the graph, input, expected and actual', async () => {
    const sessions = await loadProgram(toyProgram());
    const g = sessions.graph('micro_step');
    const { y: _y, ...noY } = toyFeeds();
    const missing = await rejection(g.run(noY));
    expect(missing.code).toBe('VPL7102');
    expect(missing.message).toBe(`graph 'micro_step': no feed for input 'y' float32[${BATCH}, ${OUT}]`);
    const extra = await rejection(g.run({ ...toyFeeds(), z: new Float32Array(1) }));
    expect(extra.message).toBe("graph 'micro_step' has no input 'z'");
    const shape = await rejection(g.run({ ...toyFeeds(), x: { data: new Float32Array(BATCH * 5), shape: [BATCH, 5] } }));
    expect(shape.code).toBe('VPL7103');
    expect(shape.message).toBe(`graph 'micro_step', input 'x': expected shape [${BATCH}, ${IN}] (${BATCH * IN} elements), got [${BATCH}, 5]`);
    const length = await rejection(g.run({ ...toyFeeds(), w: new Float32Array(IN * OUT - 1) }));
    expect(length.message).toBe(`graph 'micro_step', input 'w': expected shape [${IN}, ${OUT}] (${IN * OUT} elements), got ${IN * OUT - 1} elements`);
    const dtype = await rejection(g.run({ ...toyFeeds(), b: new Float64Array(OUT) }));
    expect(dtype.message).toBe(`graph 'micro_step', input 'b': expected float32[${OUT}], got float64 data`);
    const int = await rejection(sessions.graph('apply_step').run({ opt_step: Int32Array.of(0) }));
    expect(int.code).toBe('VPL7102'); // missing inputs are reported before types
    await sessions.release();
  });

  it('reports a folder that is not a compiled program', async () => {
    const error = await rejection(loadProgramDir(path.join(tmp, 'nowhere')));
    expect(error.code).toBe('VPL7101');
    expect(error.message).toMatch(/program.json is missing/);
    fs.mkdirSync(path.join(tmp, 'broken'));
    fs.writeFileSync(path.join(tmp, 'broken', 'program.json'), '{"graphs": {"g": {"file": "g.onnx", "inputs": [], "outputs": []}}}');
    fs.writeFileSync(path.join(tmp, 'broken', 'g.onnx'), 'not a model');
    const bad = await rejection(loadProgramDir(path.join(tmp, 'broken')));
    expect(bad.message).toMatch(/onnxruntime could not load graph 'g'/);
  });

  it('uses every core for intra-op work, one inter-op thread, full graph optimisation and the memory arena', () => {
    const o = ortSessionOptions();
    expect(o).toMatchObject({ intraOpNumThreads: os.availableParallelism(), interOpNumThreads: 1, graphOptimizationLevel: 'all', enableCpuMemArena: true, enableMemPattern: true });
    expect(o.executionProviders).toEqual(['cpu']);
    expect(ortSessionOptions({ device: 'cuda' }).executionProviders).toEqual([{ name: 'cuda' }, 'cpu']);
  });

  it('keeps weights mapped from disk where they are: no prepacked copies, no NCHWc reordering, unless the level is asked for', () => {
    expect(ortSessionOptions({ mappedWeights: true })).toMatchObject({ graphOptimizationLevel: 'extended', extra: { session: { disable_prepacking: '1' } } });
    expect(ortSessionOptions({ mappedWeights: true, optimization: 'all' }).graphOptimizationLevel).toBe('all');
    expect(ortSessionOptions().extra).toBeUndefined();
  });

  it('maps the weights of a program folder that points into a large checkpoint, and not those of a small one', async () => {
    const dir = path.join(tmp, 'mapped');
    emitProgram(smallProgram(path.join(tmp, 'src-mapped')), dir, { externalThreshold: 8 * 1024 });
    const small = await loadProgramDir(dir);
    await small.release();
    expect(small.mappedWeights).toBe(false);
    // a (sparse) linked checkpoint beside the models counts, as the runtime's cache links one
    const checkpoint = path.join(dir, 'source-0.ckpt');
    fs.writeFileSync(checkpoint, '');
    fs.truncateSync(checkpoint, MAPPED_WEIGHTS_BYTES);
    const large = await loadProgramDir(dir);
    await large.release();
    expect(large.mappedWeights).toBe(true);
  });

  it('--device cuda without the CUDA provider: a VplError that says so and how to install it', async () => {
    const empty = fs.mkdtempSync(path.join(tmp, 'ort-bin-'));
    const none = cudaAvailability(empty);
    expect(none.available).toBe(false);
    expect(none.reason).toMatch(/the CUDA execution provider is not installed.*libonnxruntime_providers_shared.so and libonnxruntime_providers_cuda.so are missing/);
    for (const f of ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so']) fs.writeFileSync(path.join(empty, f), '');
    expect(cudaAvailability(empty).available).toBe(process.platform === 'linux');
    expect(cudaInstallHelp).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci/);

    // this machine's onnxruntime-node: without the CUDA libraries (the npm package and our
    // .npmrc), loading must fail with our error; with them, the session must come up.
    if (!cudaAvailability().available) {
      const error = await rejection(loadProgram(toyProgram(), { device: 'cuda' }));
      expect(error.code).toBe('VPL7100');
      expect(error.message).toMatch(/^--device cuda: the CUDA execution provider is not installed/);
      expect(error.help).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci/);
    } else {
      const sessions = await loadProgram(toyProgram(), { device: 'cuda' }).catch((e: unknown) => e);
      // installed libraries but no GPU or driver: still our error, never onnxruntime's raw one
      if (sessions instanceof Error) expect((sessions as VplError).code).toBe('VPL7100');
      else await (sessions as Awaited<ReturnType<typeof loadProgram>>).release();
    }
  });
});
