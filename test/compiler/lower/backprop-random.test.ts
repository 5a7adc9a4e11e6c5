// backprop = random (VADER's `rand`): train_step holds every sampler step and gates each step's
// UNet output with grad_gate. With the gate at cutoff c the LoRA gradient equals the one of a
// program lowered with last(steps - c) (its sample_step runs the c steps before the cutoff); an
// all-zero gate gives no gradient at all. Gradients are read from the accumulators
// (accumulate = 2, apply = false: acc' = 0 + g).
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkFile } from '../../../compiler/check/index.ts';
import { emitModel } from '../../../tensor/emit/onnx.ts';
import type { Graph } from '../../../tensor/ir/graph.ts';
import { type LoweredProgram, lowerReward, type SamplerStep } from '../../../compiler/lower/index.ts';
import type { Plan } from '../../../compiler/plan.ts';
import { Rng } from '../../../stdlib/nn/index.ts';

const STEPS = 3;

function plan(backprop: string): Plan {
  const overrides = [
    'model.frames=2',
    'train.batch=1',
    `sampler.steps=${STEPS}`,
    'objective.reward=1.0 * brightness',
    'objective.decode=all',
    `objective.backprop=${backprop}`,
    'lora.dropout=0',
    'train.accumulate=2',
  ];
  const r = checkFile('pipelines/demo.vpl', { overrides });
  if (!r.plan) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.plan;
}

type Feeds = Record<string, ort.Tensor>;
const prod = (s: readonly number[]) => s.reduce((a, d) => a * d, 1);
const f32 = (data: ArrayLike<number>, dims: readonly number[]) => new ort.Tensor('float32', Float32Array.from(data), [...dims]);
const normal = (n: number, rng: Rng, std = 1) => Float32Array.from({ length: n }, () => rng.normal(0, std));

async function session(graph: Graph): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(emitModel(graph), { intraOpNumThreads: 2, graphOptimizationLevel: 'basic' });
}

/** Per-step sampler inputs of train_step for schedule entries `entries` (stacked). */
function stepFeeds(entries: readonly SamplerStep[]): Feeds {
  const k = entries.length;
  return {
    timesteps: f32(entries.map((s) => s.t), [k]),
    alphas_t: f32(entries.map((s) => s.alphaT), [k]),
    alphas_prev: f32(entries.map((s) => s.alphaPrev), [k]),
  };
}

describe('reward lowering: backprop = random', () => {
  let gated: LoweredProgram;
  let last: LoweredProgram;
  let s: { gated: ort.InferenceSession; sample: ort.InferenceSession; last: ort.InferenceSession };
  beforeAll(async () => {
    gated = lowerReward(plan('random'), { tiny: true });
    last = lowerReward(plan(`last(${STEPS - 1})`), { tiny: true });
    s = {
      gated: await session(gated.program.graphs.train_step),
      sample: await session(last.program.graphs.sample_step),
      last: await session(last.program.graphs.train_step),
    };
  }, 120_000);

  it('holds every step in train_step and documents grad_gate', () => {
    const train = gated.program.graphs.train_step;
    const gate = train.inputs.find((v) => v.name === 'grad_gate');
    expect(gate && { shape: gate.shape, dtype: gate.dtype }).toEqual({ shape: [STEPS], dtype: 'float32' });
    expect(train.inputs.find((v) => v.name === 'timesteps')?.shape).toEqual([STEPS]);
    expect(gated.backpropSteps).toBe(STEPS);
    expect(gated.gradGate).toBe(true);
    expect(last.gradGate).toBeUndefined();
    expect(last.program.graphs.train_step.inputs.some((v) => v.name === 'grad_gate')).toBe(false);
    expect(gated.interfaces.train_step.inputs.find((i) => i.name === 'grad_gate')?.doc).toMatch(/cutoff/);
    expect(gated.program.schedule.map((e) => e.graph)).toEqual(['text_encode', 'text_encode', 'train_step']);
    expect(gated.program.schedule[2].feeds?.grad_gate).toMatch(/cutoff/);
    // same LoRA factors, same names, in the same order
    expect(gated.trainable.map((t) => t.name)).toEqual(last.trainable.map((t) => t.name));
  });

  it('gate at cutoff c = gradient of last(steps - c); a zero gate = no gradient', async () => {
    const cutoff = 1;
    const train = gated.program.graphs.train_step;
    const shapes = Object.fromEntries(train.inputs.map((v) => [v.name, [...v.shape]]));
    const latentShape = shapes.latents;
    const n = prod(latentShape);
    const rng = new Rng(11);
    // non-zero B so that A gets a gradient too
    const lora: Feeds = {};
    for (const t of gated.trainable) {
      const init = gated.params.initialValue(t.name) as Float32Array;
      lora[t.name] = f32(t.name.endsWith('lora_B.weight') ? normal(init.length, rng, 0.05) : init, t.shape);
    }
    const state: Feeds = { 'adam.step': new ort.Tensor('int64', BigInt64Array.of(0n), []), apply: new ort.Tensor('bool', Uint8Array.of(0), []) };
    for (const t of gated.trainable) for (const p of ['adam.m.', 'adam.v.', 'acc.']) state[`${p}${t.name}`] = f32(new Float32Array(prod(t.shape)), t.shape);
    const shared: Feeds = {
      context: f32(normal(prod(shapes.context), rng), shapes.context),
      uncond_context: f32(normal(prod(shapes.uncond_context), rng), shapes.uncond_context),
      frame_indices: new ort.Tensor('int64', BigInt64Array.from({ length: shapes.frame_indices[0] }, (_, i) => BigInt(i)), shapes.frame_indices),
      lr: f32([1e-3], []),
    };
    const latents = normal(n, rng);
    const noise = normal(STEPS * n, rng);
    const sched = gated.sampler;
    expect(last.sampler).toEqual(sched);

    const runGated = (gate: number[]) =>
      s.gated.run({ latents: f32(latents, latentShape), ...stepFeeds(sched), noise: f32(noise, [STEPS, ...latentShape]), grad_gate: f32(gate, [STEPS]), ...shared, ...state, ...lora });
    const out = await runGated(sched.map((_, i) => (i >= cutoff ? 1 : 0)));

    // reference: c no-gradient sample_steps, then train_step of last(steps - c)
    let x = latents;
    for (let i = 0; i < cutoff; i++) {
      const o = await s.sample.run({
        latents: f32(x, latentShape),
        timestep: f32([sched[i].t], []),
        alpha_t: f32([sched[i].alphaT], []),
        alpha_prev: f32([sched[i].alphaPrev], []),
        noise: f32(noise.subarray(i * n, (i + 1) * n), latentShape),
        context: shared.context,
        uncond_context: shared.uncond_context,
        ...lora,
      });
      x = Float32Array.from(o.latents_out.data as Float32Array);
    }
    const k = STEPS - cutoff;
    const ref = await s.last.run({ latents: f32(x, latentShape), ...stepFeeds(sched.slice(cutoff)), noise: f32(noise.subarray(cutoff * n), [k, ...latentShape]), ...shared, ...state, ...lora });

    const scalarOf = (o: ort.InferenceSession.OnnxValueMapType, name: string) => (o[name].data as Float32Array)[0];
    expect(scalarOf(out, 'loss')).toBeCloseTo(scalarOf(ref, 'loss'), 5);
    const norm = scalarOf(ref, 'grad_norm');
    expect(norm).toBeGreaterThan(0);
    expect(Math.abs(scalarOf(out, 'grad_norm') - norm)).toBeLessThan(1e-4 * norm);
    let maxErr = 0;
    let maxRef = 0;
    let nonZeroA = false;
    for (const t of gated.trainable) {
      const g = out[`acc.${t.name}_out`].data as Float32Array;
      const r = ref[`acc.${t.name}_out`].data as Float32Array;
      expect(g.length).toBe(r.length);
      for (let i = 0; i < g.length; i++) {
        maxErr = Math.max(maxErr, Math.abs(g[i] - r[i]));
        maxRef = Math.max(maxRef, Math.abs(r[i]));
        if (t.name.endsWith('lora_A.weight') && r[i] !== 0) nonZeroA = true;
      }
    }
    expect(nonZeroA).toBe(true);
    expect(maxErr).toBeLessThanOrEqual(1e-4 * maxRef);

    // the full gradient (cutoff 0) differs: the gate really truncates
    const full = await runGated(sched.map(() => 1));
    expect(Math.abs(scalarOf(full, 'grad_norm') - norm)).toBeGreaterThan(1e-3 * norm);

    // a zero gate: same forward, no gradient anywhere
    const none = await runGated(sched.map(() => 0));
    expect(scalarOf(none, 'loss')).toBe(scalarOf(out, 'loss'));
    expect(scalarOf(none, 'grad_norm')).toBe(0);
    for (const t of gated.trainable) expect((none[`acc.${t.name}_out`].data as Float32Array).every((v) => v === 0)).toBe(true);
  }, 120_000);
});
