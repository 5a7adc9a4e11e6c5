// The reward objective lowered with the dpm_solver sampler (DPM-Solver++ multistep, order 3 over
// 5 steps: orders 1, 2, 3, 2, 1) on the tiny model: the graphs' interfaces (the x0 history and
// the per-step coefficients), and train_step of last(3) against an independent composition: 5
// sample_steps with the history carried by hand, then decode_all of the final latents.
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkFile } from '../../../compiler/check/index.ts';
import { emitModel } from '../../../tensor/emit/onnx.ts';
import type { Graph } from '../../../tensor/ir/graph.ts';
import { type LoweredProgram, LoweringError, lowerReward } from '../../../compiler/lower/index.ts';
import type { Plan } from '../../../compiler/plan.ts';
import { Rng } from '../../../stdlib/nn/index.ts';
import { dpmSolverSchedule } from '../../../stdlib/samplers/index.ts';

const fixture = fileURLToPath(new URL('./fixtures/dpm_demo.vpl', import.meta.url));

function plan(overrides: string[], file = fixture): Plan {
  const r = checkFile(file, { overrides: ['model.frames=2', 'train.batch=1', 'objective.reward=1.0 * brightness', 'objective.decode=all', 'lora.dropout=0', ...overrides] });
  if (!r.plan) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.plan;
}

type Feeds = Record<string, ort.Tensor>;
const prod = (s: readonly number[]) => s.reduce((a, d) => a * d, 1);
const f32 = (data: ArrayLike<number>, dims: readonly number[]) => new ort.Tensor('float32', Float32Array.from(data), [...dims]);
const normal = (n: number, rng: Rng, std = 1) => Float32Array.from({ length: n }, () => rng.normal(0, std));
const names = (g: Graph) => g.inputs.map((v) => v.name).filter((n) => !n.includes('.lora_') && !n.startsWith('adam.'));

async function session(graph: Graph): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(emitModel(graph), { intraOpNumThreads: 2, graphOptimizationLevel: 'basic' });
}

describe('reward lowering with dpm_solver: interfaces', () => {
  it('sample_step takes the coefficients and a history of two; train_step the history it needs at the cutoff', () => {
    const low = lowerReward(plan(['objective.backprop=last(3)']), { tiny: true });
    const sched = dpmSolverSchedule(5, { order: 3 });
    expect(sched.map((s) => s.order)).toEqual([1, 2, 3, 2, 1]);
    expect(names(low.program.graphs.sample_step)).toEqual(['latents', 'x0_hist1', 'x0_hist2', 'timestep', 'alpha_t', 'coef_x', 'coef_x0', 'coef_hist1', 'coef_hist2', 'context', 'uncond_context']);
    const train = names(low.program.graphs.train_step);
    expect(train).toEqual(expect.arrayContaining(['latents', 'x0_hist1', 'x0_hist2', 'timesteps', 'alphas_t', 'coefs_x', 'coefs_x0', 'coefs_hist1', 'coefs_hist2']));
    // no DDIM inputs: DPM-Solver is deterministic and has no alpha_prev / use_scale
    for (const n of ['alphas_prev', 'noise', 'scales_t']) expect(train).not.toContain(n);
    expect(low.program.graphs.train_step.outputs.map((o) => o.name)).toContain('frames');
    expect(low.program.graphs.sample_step.outputs.map((o) => o.name)).toEqual(['latents_out', 'x0']);
    expect(low.history).toEqual(['x0_hist1', 'x0_hist2']);
    // the runtime feeds these as they are
    expect(low.sampler.map((s) => s.feeds)).toEqual(sched.map((s) => ({ timestep: s.t, alpha_t: s.alphaT, coef_x: s.cx, coef_x0: s.c0, coef_hist1: s.c1, coef_hist2: s.c2 })));
    const tail = sched.slice(2);
    expect(low.trainScalars).toEqual({ timesteps: tail.map((s) => s.t), alphas_t: tail.map((s) => s.alphaT), coefs_x: tail.map((s) => s.cx), coefs_x0: tail.map((s) => s.c0), coefs_hist1: tail.map((s) => s.c1), coefs_hist2: tail.map((s) => s.c2) });
    for (const g of ['sample_step', 'train_step']) expect(low.interfaces[g]!.inputs.filter((i) => i.doc.length === 0).map((i) => i.name), g).toEqual([]);
    const trainEntry = low.program.schedule.find((e) => e.graph === 'train_step')!;
    expect(trainEntry.feeds?.x0_hist2).toMatch(/sample_step\/x0 of step 0/);
    expect(trainEntry.feeds?.coefs_x).toBe('sampler:dpm_solver[2..4].cx');
  });

  it('lower orders need less: last(1) takes no history, order 1 none at all; other samplers are refused', () => {
    const last1 = lowerReward(plan(['objective.backprop=last(1)']), { tiny: true });
    expect(names(last1.program.graphs.train_step).filter((n) => /hist/.test(n))).toEqual([]);
    expect(last1.trainScalars).toEqual({ timesteps: [200], alphas_t: [expect.any(Number)], coefs_x: [0], coefs_x0: [expect.closeTo(1, 12)] });
    const o1 = lowerReward(plan(['sampler.order=1']), { tiny: true });
    expect(names(o1.program.graphs.sample_step).filter((n) => /hist/.test(n))).toEqual([]);
    expect(o1.history).toBeUndefined();
    const refused = plan([], fileURLToPath(new URL('./fixtures/consistency_sampler.vpl', import.meta.url)));
    expect(refused.sampler.name).toBe('consistency');
    expect(() => lowerReward(refused, { tiny: true })).toThrow(LoweringError);
    expect(() => lowerReward(refused, { tiny: true })).toThrow(/ddim and dpm_solver samplers only \(got sampler 'consistency'\)/);
  });
});

describe('reward lowering with dpm_solver: train_step = the sampler steps it replaces', () => {
  let low: LoweredProgram;
  let s: { sample: ort.InferenceSession; train: ort.InferenceSession; decode: ort.InferenceSession };
  beforeAll(async () => {
    const p = plan(['objective.backprop=last(3)']);
    low = lowerReward(p, { tiny: true });
    s = { sample: await session(low.program.graphs.sample_step), train: await session(low.program.graphs.train_step), decode: await session(low.program.graphs.decode_all!) };
  }, 180_000);

  it('train_step over the last 3 steps from the history at the cutoff = 5 sample_steps + decode_all', async () => {
    const train = low.program.graphs.train_step;
    const shapes = Object.fromEntries(train.inputs.map((v) => [v.name, [...v.shape]]));
    const latentShape = shapes.latents!;
    const n = prod(latentShape);
    const rng = new Rng(5);
    const lora: Feeds = {};
    for (const t of low.trainable) {
      const init = low.params.initialValue(t.name) as Float32Array;
      lora[t.name] = f32(t.name.endsWith('lora_B.weight') ? normal(init.length, rng, 0.05) : init, t.shape);
    }
    const cond: Feeds = { context: f32(normal(prod(shapes.context!), rng), shapes.context!), uncond_context: f32(normal(prod(shapes.uncond_context!), rng), shapes.uncond_context!) };
    const noise = normal(n, rng);

    // by hand: every step from sample_step, the x0 history shifted after each
    const run = async (carry: boolean) => {
      let x = noise;
      let hist = [new Float32Array(n), new Float32Array(n)];
      const states: { x: Float32Array; hist: Float32Array[] }[] = [];
      for (const step of low.sampler) {
        states.push({ x, hist });
        const feeds: Feeds = { latents: f32(x, latentShape), x0_hist1: f32(hist[0]!, latentShape), x0_hist2: f32(hist[1]!, latentShape), ...cond, ...lora };
        for (const [name, v] of Object.entries(step.feeds!)) feeds[name] = f32([v], []);
        const out = await s.sample.run(feeds);
        x = Float32Array.from(out.latents_out!.data as Float32Array);
        if (carry) hist = [Float32Array.from(out.x0!.data as Float32Array), hist[0]!];
      }
      return { final: x, states };
    };
    const ref = await run(true);
    const decoded = await s.decode.run({ latents: f32(ref.final, latentShape) });
    const refFrames = decoded.frames!.data as Float32Array;
    const refLoss = (decoded.loss!.data as Float32Array)[0]!;

    const adam: Feeds = { 'adam.step': new ort.Tensor('int64', BigInt64Array.of(0n), []) };
    for (const t of low.trainable) for (const pre of ['adam.m.', 'adam.v.']) adam[`${pre}${t.name}`] = f32(new Float32Array(prod(t.shape)), t.shape);
    const scalars: Feeds = {};
    for (const [name, v] of Object.entries(low.trainScalars!)) scalars[name] = f32(v, [v.length]);
    const atCutoff = ref.states[2]!;
    const trainRun = (hist: Float32Array[]) =>
      s.train.run({
        latents: f32(atCutoff.x, latentShape),
        x0_hist1: f32(hist[0]!, latentShape),
        x0_hist2: f32(hist[1]!, latentShape),
        ...scalars,
        ...cond,
        frame_indices: new ort.Tensor('int64', BigInt64Array.of(0n, 1n), [2]),
        lr: f32([1e-3], []),
        ...adam,
        ...lora,
      });
    const out = await trainRun(atCutoff.hist);
    const frames = out.frames!.data as Float32Array;
    expect(frames.length).toBe(refFrames.length);
    let maxErr = 0;
    for (let i = 0; i < frames.length; i++) maxErr = Math.max(maxErr, Math.abs(frames[i]! - refFrames[i]!));
    expect(maxErr).toBeLessThan(1e-4);
    const loss = (out.loss!.data as Float32Array)[0]!;
    expect(Math.abs(loss - refLoss)).toBeLessThan(1e-5 * (1 + Math.abs(refLoss)));
    expect((out.grad_norm!.data as Float32Array)[0]).toBeGreaterThan(0);

    // the history is really used: zeros at the cutoff, or no carrying in the sample steps, change the result
    const zeros = await trainRun([new Float32Array(n), new Float32Array(n)]);
    expect(Math.abs((zeros.loss!.data as Float32Array)[0]! - refLoss)).toBeGreaterThan(1e-4);
    const uncarried = await run(false);
    expect(Math.max(...uncarried.final.map((v, i) => Math.abs(v - ref.final[i]!)))).toBeGreaterThan(1e-3);
  }, 180_000);
});
