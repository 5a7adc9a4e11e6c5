// Lowering of the consistency objective (T2V-Turbo) with the tiny model (--tiny: random init):
// the per-step numbers against the paper's formulas (arXiv 2405.18750), the guidance embedding as an exact no-op at
// init, the train_step in onnxruntime (finite loss, LoRA and W_proj gradients, the reward mix),
// its CD loss against a JS recomputation from separate student/teacher UNet runs, AdamW steps
// lowering the CD loss, the Huber/L2 distance against JS, and the 4-step sampler graph.
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkSource } from '../../../compiler/check/index.ts';
import { emitModel } from '../../../tensor/emit/onnx.ts';
import { evaluate } from '../../../tensor/emit/evaluate.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph } from '../../../tensor/ir/graph.ts';
import {
  cdStepNumbers,
  type ConsistencyLoweredProgram,
  consistencyDistance,
  consistencyDistanceReference,
  distillationGrid,
  GUIDANCE_PROJECTION,
  lower,
  lowerConsistency,
  stridedFrames,
} from '../../../compiler/lower/index.ts';
import type { Plan } from '../../../compiler/plan.ts';
import { tinyTokenizer } from '../../../stdlib/models/index.ts';
import { modelBuild } from '../../../stdlib/models/registry.ts';
import { buildUNet3D, type UNet3DConfig } from '../../../stdlib/models/unet3d/index.ts';
import { Rng } from '../../../stdlib/nn/index.ts';
import { alphasCumprod, scaledLinearBetas } from '../../../stdlib/samplers/index.ts';

function plan(body: string, train = ''): Plan {
  const src = `pipeline tiny_turbo
model tiny_vc { frames = 4  size = 16x16  fps = 8 }
lora { rank = 2  dropout = 0  targets = [attn.q, attn.k, attn.v] }
data tiny_shapes { count = 4 }
sampler consistency { steps = 4  guidance = 7.5 }
objective consistency {
  teacher_solver = ddim { steps = 50  skip = 20 }
  guidance = uniform(5, 15)
  ${body}
}
train { optimizer = adamw { lr = 0.01  weight_decay = 0 }  steps = 10  batch = 1  seed = 0  ${train} }
`;
  const r = checkSource(src, `${process.cwd()}/pipelines/tiny_turbo.vpl`);
  if (!r.plan || r.diagnostics.some((d) => d.severity === 'error')) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.plan;
}

type Feeds = Record<string, ort.Tensor>;
const f32 = (data: ArrayLike<number>, dims: readonly number[]) => new ort.Tensor('float32', Float32Array.from(data), [...dims]);
const normal = (n: number, rng: Rng) => Float32Array.from({ length: n }, () => rng.normal(0, 1));
const prod = (s: readonly number[]) => s.reduce((a, d) => a * d, 1);
const session = (g: Graph) => ort.InferenceSession.create(emitModel(g), { intraOpNumThreads: 2, graphOptimizationLevel: 'basic' });
const cSkipOf = (t: number) => 0.25 / ((10 * t) ** 2 + 0.25);
const cOutOf = (t: number) => (10 * t) / Math.sqrt((10 * t) ** 2 + 0.25);

describe('consistency numbers', () => {
  it('grid, t_e, alpha-bar and c_skip/c_out follow T2V-Turbo (arXiv 2405.18750)', () => {
    const solver = { steps: 50, skip: 20 };
    const grid = distillationGrid(solver);
    expect(grid.slice(0, 3)).toEqual([19, 39, 59]);
    expect(grid[49]).toBe(999);
    const alphas = alphasCumprod(scaledLinearBetas());
    for (const n of [0, 1, 13, 25, 49]) {
      const x = cdStepNumbers(solver, n);
      expect(x.tS).toBe((n + 1) * 20 - 1);
      expect(x.tE).toBe(Math.max(x.tS - 20, 0));
      expect(x.alphaS).toBeCloseTo(alphas[x.tS], 12);
      expect(x.alphaE).toBeCloseTo(alphas[x.tE], 12);
      expect(x.cSkipS).toBeCloseTo(cSkipOf(x.tS), 12);
      expect(x.cOutS).toBeCloseTo(cOutOf(x.tS), 12);
      expect(x.cSkipE).toBeCloseTo(cSkipOf(x.tE), 12);
      expect(x.cOutE).toBeCloseTo(cOutOf(x.tE), 12);
    }
    // the boundary condition: f(x, 0) = x
    expect(cdStepNumbers(solver, 0).tE).toBe(0);
    expect(cdStepNumbers(solver, 0).cSkipE).toBe(1);
    expect(cdStepNumbers(solver, 0).cOutE).toBe(0);
    expect(stridedFrames(16, 8)).toEqual([0, 2, 4, 6, 8, 10, 12, 14]);
    expect(stridedFrames(4, 8)).toEqual([0, 1, 2, 3]);
  });

  it('huber and l2 distances match JS', async () => {
    const g = new Graph('distance');
    const b = new Builder(g);
    const p = b.input('p', [2, 3]);
    const t = b.input('t', [2, 3]);
    g.markOutput(consistencyDistance(b, p, t, { mode: 'huber', c: 0.001 }));
    g.markOutput(consistencyDistance(b, p, t, { mode: 'l2' }));
    const pred = Float32Array.of(0.5, -0.2, 0.0005, 1.5, -3, 0.01);
    const target = Float32Array.of(0.4, -0.2, 0, 1.0, 2, -0.01);
    const out = await evaluate(g, { p: pred, t: target });
    const [huber, l2] = g.outputs.map((v) => (out[v.name] as Float32Array)[0]);
    let h = 0;
    for (let i = 0; i < 6; i++) h += Math.sqrt((pred[i] - target[i]) ** 2 + 1e-6) - 1e-3;
    expect(huber).toBeCloseTo(h / 6, 6);
    expect(huber).toBeCloseTo(consistencyDistanceReference(pred, target, { mode: 'huber', c: 0.001 }), 6);
    expect(l2).toBeCloseTo(consistencyDistanceReference(pred, target, { mode: 'l2' }), 6);
  });
});

describe('consistency lowering (tiny)', () => {
  let p: Plan;
  let low: ConsistencyLoweredProgram;
  let s: Record<string, ort.InferenceSession>;
  let base: ort.InferenceSession;
  let cond: ort.Tensor;
  let uncond: ort.Tensor;
  let textEmbed: ort.Tensor;
  const state: Record<string, Float32Array> = {};
  beforeAll(async () => {
    p = plan('distance = huber(0.001)\n  reward = 1.0 * tiny_text_align + 2.0 * temporal_smoothness\n  decode = random(2)', 'remat = false');
    low = lower(p, { tiny: true }) as ConsistencyLoweredProgram;
    s = {};
    for (const name of ['text_encode', 'train_step', 'consistency_step']) s[name] = await session(low.program.graphs[name]);
    // the frozen base UNet (no LoRA, no guidance embedding), built on the same parameter store
    const g = new Graph('base');
    const b = new Builder(g);
    const [C, T, h, w] = p.derived.latent_shape;
    const x = b.input('x', [1, C, T, h, w]);
    const t = b.input('t', [1]);
    const context = b.input('context', [1, 16, 64]);
    const build = modelBuild('tiny_vc');
    g.markOutput(b.within('unet', () => buildUNet3D({ b, params: low.params }, { ...(build.denoiser as UNet3DConfig), zeroInit: false }, { x, timesteps: t, context, fps: 8 })));
    base = await session(g);
    const tok = (text: string) => new ort.Tensor('int64', tinyTokenizer.tokenizeBatch([text], 16), [1, 16]);
    const c = await s.text_encode.run({ tokens: tok('a red circle moving left') });
    cond = c.context;
    textEmbed = c.text_embed;
    uncond = (await s.text_encode.run({ tokens: tok('') })).context;
    for (const t of low.trainable) {
      state[t.name] = Float32Array.from(low.params.initialValue(t.name) as Float32Array);
      state[`adam.m.${t.name}`] = new Float32Array(prod(t.shape));
      state[`adam.v.${t.name}`] = new Float32Array(prod(t.shape));
    }
  }, 120_000);

  const latentShape = () => [1, ...p.derived.latent_shape];
  const stateFeeds = (prefix = ''): Feeds => Object.fromEntries(low.trainable.map((t) => [`${prefix}${t.name}`, f32(state[`${prefix}${t.name}`], t.shape)]));
  /** Student eps from consistency_step (x at timestep t, guidance w) with the current state. */
  const studentEps = async (x: Float32Array, t: number, w: number): Promise<Float32Array> => {
    const out = await s.consistency_step.run({
      latents: f32(x, latentShape()), timestep: f32([t], []), alpha_t: f32([0.5], []), c_skip: f32([0], []), c_out: f32([1], []),
      alpha_next: f32([1], []), noise: f32(new Float32Array(x.length), latentShape()), context: cond, guidance: f32([w], [1]), ...stateFeeds(),
    });
    return out.eps.data as Float32Array;
  };
  const baseEps = async (x: Float32Array, t: number, context: ort.Tensor): Promise<Float32Array> =>
    (await base.run({ x: f32(x, latentShape()), t: f32([t], [1]), context }))[base.outputNames[0]].data as Float32Array;

  it('documents the interfaces; W_proj is a zero-initialised trainable input [modelChannels, 256]', () => {
    const train = low.interfaces.train_step;
    const names = train.inputs.map((i) => i.name);
    expect(names).toEqual(expect.arrayContaining(['z0', 'eps', 't_s', 't_e', 'alpha_s', 'alpha_e', 'c_skip_s', 'c_out_s', 'c_skip_e', 'c_out_e', 'guidance', 'context', 'uncond_context', 'text_embed', 'frame_indices', 'lr', 'adam.step', GUIDANCE_PROJECTION]));
    expect(train.inputs.every((i) => i.doc.length > 0)).toBe(true);
    expect(train.outputs.every((i) => i.doc.length > 0)).toBe(true);
    expect(low.interfaces.consistency_step.inputs.every((i) => i.doc.length > 0)).toBe(true);
    expect(train.outputs.map((o) => o.name)).toEqual(expect.arrayContaining(['loss', 'loss.cd', 'reward.tiny_text_align', 'reward.temporal_smoothness', 'grad_norm', 'frames', `${GUIDANCE_PROJECTION}_out`, 'adam.step_out']));
    const wp = low.trainable.find((t) => t.name === GUIDANCE_PROJECTION)!;
    expect(wp.shape).toEqual([32, 256]);
    expect(Array.from(low.params.initialValue(wp.name) as Float32Array).every((v) => v === 0)).toBe(true);
    const inits = [...low.program.graphs.train_step.initializers.keys()].map((v) => v.name);
    expect(inits.some((n) => n.startsWith('unet.') && !n.includes('lora_'))).toBe(true);
    expect(inits.some((n) => n.includes('lora_') || n.startsWith('guidance_embedding'))).toBe(false);
    expect(low.videoFrames).toEqual({ temporal_smoothness: [0, 1, 2, 3] });
    expect(low.program.schedule.map((e) => e.graph)).toEqual(['text_encode', 'text_encode', 'encode_video', 'train_step', 'consistency_step']);
    const enc = low.interfaces.encode_video;
    expect(enc.inputs.map((i) => [i.name, i.shape])).toEqual([['video', [1, 3, 4, 16, 16]], ['noise', [1, 4, 4, 4, 4]]]);
    expect(enc.outputs.map((o) => [o.name, o.shape])).toEqual([['z0', [1, 4, 4, 4, 4]]]);
  });

  it('ema > 0: the target network reads ema.<p>, and ema.<p>_out = r ema.<p> + (1 - r) <p>_out', async () => {
    const r = 0.75;
    const pe = plan(`ema = ${r}\n  distance = huber(0.001)\n  reward = 1.0 * tiny_text_align + 2.0 * temporal_smoothness\n  decode = random(2)`, 'remat = false');
    const le = lower(pe, { tiny: true }) as ConsistencyLoweredProgram;
    const train = le.interfaces.train_step;
    const inputs = train.inputs.map((i) => i.name);
    const outputs = train.outputs.map((o) => o.name);
    for (const t of le.trainable) {
      expect(inputs).toContain(`ema.${t.name}`);
      expect(outputs).toContain(`ema.${t.name}_out`);
      expect(train.inputs.find((i) => i.name === `ema.${t.name}`)!.doc).toMatch(/EMA target copy/);
    }
    // the lowering without ema has none of them, and the same trainables
    expect(low.interfaces.train_step.inputs.some((i) => i.name.startsWith('ema.'))).toBe(false);
    expect(le.trainable.map((t) => t.name)).toEqual(low.trainable.map((t) => t.name));
    const se = await session(le.program.graphs.train_step);
    const shape = latentShape();
    const rng = new Rng(11);
    const num = cdStepNumbers({ steps: 50, skip: 20 }, 20);
    const student: Record<string, Float32Array> = {};
    for (const t of le.trainable) student[t.name] = Float32Array.from(le.params.initialValue(t.name) as Float32Array).map((v) => v + 0.05 * rng.normal(0, 1));
    const feeds = (ema: Record<string, Float32Array>, lr: number): Feeds => ({
      z0: f32(normal(prod(shape), new Rng(1)), shape), eps: f32(normal(prod(shape), new Rng(2)), shape),
      t_s: f32([num.tS], [1]), t_e: f32([num.tE], [1]), alpha_s: f32([num.alphaS], [1]), alpha_e: f32([num.alphaE], [1]),
      c_skip_s: f32([num.cSkipS], [1]), c_out_s: f32([num.cOutS], [1]), c_skip_e: f32([num.cSkipE], [1]), c_out_e: f32([num.cOutE], [1]),
      guidance: f32([7], [1]), context: cond, uncond_context: uncond, text_embed: textEmbed,
      frame_indices: new ort.Tensor('int64', BigInt64Array.of(0n, 3n), [2]), lr: f32([lr], []), 'adam.step': new ort.Tensor('int64', BigInt64Array.of(0n), []),
      ...Object.fromEntries(le.trainable.flatMap((t) => [
        [t.name, f32(student[t.name], t.shape)], [`ema.${t.name}`, f32(ema[t.name], t.shape)],
        [`adam.m.${t.name}`, f32(new Float32Array(prod(t.shape)), t.shape)], [`adam.v.${t.name}`, f32(new Float32Array(prod(t.shape)), t.shape)],
      ])),
    });
    // an EMA copy equal to the student gives the ema = 0 program's CD loss
    const same = await se.run(feeds(student, 0));
    const selfTarget = await s.train_step.run(Object.fromEntries(Object.entries(feeds(student, 0)).filter(([n]) => !n.startsWith('ema.'))));
    expect((same['loss.cd'].data as Float32Array)[0]).toBeCloseTo((selfTarget['loss.cd'].data as Float32Array)[0], 6);
    // another EMA copy moves the target, not the prediction: a different CD loss, the same rewards
    const initial = Object.fromEntries(le.trainable.map((t) => [t.name, Float32Array.from(le.params.initialValue(t.name) as Float32Array)]));
    const out = await se.run(feeds(initial, 0.01));
    expect(Math.abs((out['loss.cd'].data as Float32Array)[0] - (same['loss.cd'].data as Float32Array)[0])).toBeGreaterThan(1e-6);
    expect((out['reward.tiny_text_align'].data as Float32Array)[0]).toBeCloseTo((same['reward.tiny_text_align'].data as Float32Array)[0], 6);
    // the update after AdamW
    let moved = 0;
    for (const t of le.trainable) {
      const next = out[`${t.name}_out`].data as Float32Array;
      const ema = out[`ema.${t.name}_out`].data as Float32Array;
      for (let i = 0; i < next.length; i++) {
        expect(Math.abs(ema[i] - (r * initial[t.name][i] + (1 - r) * next[i]))).toBeLessThan(1e-6);
        if (next[i] !== student[t.name][i]) moved++;
      }
    }
    expect(moved).toBeGreaterThan(0); // AdamW did update, so the check above saw new weights
  }, 120_000);

  it('the guidance embedding starts as an exact no-op', async () => {
    const rng = new Rng(3);
    const x = normal(prod(latentShape()), rng);
    const want = await baseEps(x, 519, cond);
    for (const w of [5, 12.5]) {
      const got = await studentEps(x, 519, w);
      let maxDiff = 0;
      for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
      expect(maxDiff).toBeLessThan(1e-6);
    }
    // and it is wired: a non-zero W_proj changes the output
    const saved = state[GUIDANCE_PROJECTION];
    state[GUIDANCE_PROJECTION] = normal(saved.length, rng).map((v) => 0.1 * v);
    const moved = await studentEps(x, 519, 7.5);
    state[GUIDANCE_PROJECTION] = saved;
    expect(moved.some((v, i) => Math.abs(v - want[i]) > 1e-4)).toBe(true);
  });

  it('train_step: finite loss, reward mix, LoRA and W_proj gradients; AdamW steps lower the CD loss; CD loss = JS recomputation', async () => {
    const rng = new Rng(7);
    const shape = latentShape();
    const z0 = normal(prod(shape), rng).map((v) => 0.8 * v);
    const eps = normal(prod(shape), rng);
    const num = cdStepNumbers(p.objective.name === 'consistency' ? p.objective.teacher_solver : { steps: 50, skip: 20 }, 30);
    const w = 8.5;
    const fixed: Feeds = {
      z0: f32(z0, shape), eps: f32(eps, shape),
      t_s: f32([num.tS], [1]), t_e: f32([num.tE], [1]), alpha_s: f32([num.alphaS], [1]), alpha_e: f32([num.alphaE], [1]),
      c_skip_s: f32([num.cSkipS], [1]), c_out_s: f32([num.cOutS], [1]), c_skip_e: f32([num.cSkipE], [1]), c_out_e: f32([num.cOutE], [1]),
      guidance: f32([w], [1]), context: cond, uncond_context: uncond, text_embed: textEmbed,
      frame_indices: new ort.Tensor('int64', BigInt64Array.of(0n, 3n), [2]), lr: f32([0.01], []),
    };
    const cd: number[] = [];
    for (let step = 0; step < 4; step++) {
      const out = await s.train_step.run({ ...fixed, 'adam.step': new ort.Tensor('int64', BigInt64Array.of(BigInt(step)), []), ...stateFeeds(), ...stateFeeds('adam.m.'), ...stateFeeds('adam.v.') });
      const get = (n: string) => (out[n].data as Float32Array)[0];
      expect(Number.isFinite(get('loss'))).toBe(true);
      // L = L_cd + 1.0 (1 - R_text) + 2.0 (-R_smooth): L_cd - sum beta_i R_i up to a constant
      expect(get('loss')).toBeCloseTo(get('loss.cd') + 1.0 * (1 - get('reward.tiny_text_align')) + 2.0 * -get('reward.temporal_smoothness'), 5);
      expect((out.frames.dims as number[])).toEqual([2, 3, 16, 16]);
      if (step === 0) {
        expect(get('grad_norm')).toBeGreaterThan(0);
        // first moment = (1 - beta1) g: W_proj gets a gradient although it is zero (so is every LoRA B)
        const m = (name: string) => out[`adam.m.${name}_out`].data as Float32Array;
        expect(m(GUIDANCE_PROJECTION).some((v) => v !== 0)).toBe(true);
        const bName = low.trainable.find((t) => t.name.endsWith('lora_B.weight'))!.name;
        expect(m(bName).some((v) => v !== 0)).toBe(true);
      }
      cd.push(get('loss.cd'));
      for (const t of low.trainable) {
        state[t.name] = out[`${t.name}_out`].data as Float32Array;
        state[`adam.m.${t.name}`] = out[`adam.m.${t.name}_out`].data as Float32Array;
        state[`adam.v.${t.name}`] = out[`adam.v.${t.name}_out`].data as Float32Array;
      }
    }
    // (the reward terms pull too, so the CD loss need not fall at every step)
    expect(cd[3]).toBeLessThan(0.9 * cd[0]);
    expect(Math.min(...cd.slice(1))).toBeLessThan(cd[0]);

    // recompute the CD loss of the current state in JS from separate UNet runs (student: consistency_step's eps)
    const out = await s.train_step.run({ ...fixed, 'adam.step': new ort.Tensor('int64', BigInt64Array.of(4n), []), ...stateFeeds(), ...stateFeeds('adam.m.'), ...stateFeeds('adam.v.') });
    const n = z0.length;
    const { alphaS: aS, alphaE: aE } = num;
    const zS = Float32Array.from({ length: n }, (_, i) => Math.sqrt(aS) * z0[i] + Math.sqrt(1 - aS) * eps[i]);
    const x0 = (x: ArrayLike<number>, e: ArrayLike<number>, a: number) => Array.from({ length: n }, (_, i) => (x[i] - Math.sqrt(1 - a) * e[i]) / Math.sqrt(a));
    const epsHat = await studentEps(zS, num.tS, w);
    const x0Hat = x0(zS, epsHat, aS);
    const pred = zS.map((z, i) => num.cSkipS * z + num.cOutS * x0Hat[i]);
    const ec = await baseEps(zS, num.tS, cond);
    const eu = await baseEps(zS, num.tS, uncond);
    const x0c = x0(zS, ec, aS);
    const x0u = x0(zS, eu, aS);
    const xPrev = Float32Array.from({ length: n }, (_, i) => {
      const gx0 = x0c[i] + w * (x0c[i] - x0u[i]);
      const ge = ec[i] + w * (ec[i] - eu[i]);
      return Math.sqrt(aE) * gx0 + Math.sqrt(1 - aE) * ge;
    });
    const epsT = await studentEps(xPrev, num.tE, w);
    const x0T = x0(xPrev, epsT, aE);
    const target = Array.from(xPrev, (x, i) => num.cSkipE * x + num.cOutE * x0T[i]);
    const want = consistencyDistanceReference(pred, target, { mode: 'huber', c: 0.001 });
    const got = (out['loss.cd'].data as Float32Array)[0];
    expect(Math.abs(got - want) / want).toBeLessThan(1e-3);
  }, 120_000);

  it('the 4-step sampler graph runs with the trained student', async () => {
    const rng = new Rng(9);
    let x: Float32Array = normal(prod(latentShape()), rng);
    expect(low.consistencySampler.map((st) => st.t)).toEqual([999, 759, 519, 279]);
    for (const st of low.consistencySampler) {
      const out = await s.consistency_step.run({
        latents: f32(x, latentShape()), timestep: f32([st.t], []), alpha_t: f32([st.alphaT], []), c_skip: f32([st.cSkip], []), c_out: f32([st.cOut], []),
        alpha_next: f32([st.alphaNext], []), noise: f32(normal(x.length, rng), latentShape()), context: cond, guidance: f32([7.5], [1]), ...stateFeeds(),
      });
      x = out.latents_out.data as Float32Array;
      expect(x.every(Number.isFinite)).toBe(true);
    }
  }, 60_000);
});
