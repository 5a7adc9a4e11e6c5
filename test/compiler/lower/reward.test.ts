// Lowering of the reward objective on demo.vpl-like plans with the tiny model (--tiny: random
// init): the graphs run in onnxruntime, the LoRA gradient is non-zero, base weights are frozen
// initializers, and a few optimizer steps on the brightness reward raise it. decode_og decodes the
// one-step x0 estimate.
import { readdirSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkFile } from '../../../compiler/check/index.ts';
import { emitModel } from '../../../tensor/emit/onnx.ts';
import type { Graph } from '../../../tensor/ir/graph.ts';
import { decodeFrames, type LoweredProgram, lower, LoweringError, lowerReward } from '../../../compiler/lower/index.ts';
import { needsTinyStandIn, tinyStandIn } from '../../../compiler/tiny/stand-in.ts';
import type { Plan } from '../../../compiler/plan.ts';
import { tinyTokenizer } from '../../../stdlib/models/index.ts';
import { modelBuild, ModelNotBuiltError } from '../../../stdlib/models/registry.ts';
import { Rng } from '../../../stdlib/nn/index.ts';

function plan(overrides: string[]): Plan {
  const r = checkFile('pipelines/demo.vpl', { overrides: ['model.frames=4', 'train.batch=1', 'sampler.steps=4', ...overrides] });
  if (!r.plan) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.plan;
}

type Feeds = Record<string, ort.Tensor>;
const f32 = (data: ArrayLike<number>, dims: readonly number[]) => new ort.Tensor('float32', Float32Array.from(data), [...dims]);
const scalar = (x: number) => f32([x], []);
const normal = (n: number, rng: Rng) => Float32Array.from({ length: n }, () => rng.normal(0, 1));
const prod = (s: readonly number[]) => s.reduce((a, d) => a * d, 1);

async function session(graph: Graph): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(emitModel(graph), { intraOpNumThreads: 2, graphOptimizationLevel: 'basic' });
}

describe('reward objective lowering (tiny, brightness)', () => {
  let low: LoweredProgram;
  let p: Plan;
  let sessions: Record<string, ort.InferenceSession>;
  beforeAll(async () => {
    p = plan(['objective.reward=1.0 * brightness', 'lora.dropout=0', 'train.optimizer.lr=0.01']);
    low = lowerReward(p, { tiny: true });
    sessions = {};
    for (const name of ['text_encode', 'sample_step', 'train_step']) sessions[name] = await session(low.program.graphs[name]);
  }, 120_000);

  it('documents every graph interface; base weights are initializers, LoRA factors inputs', () => {
    const train = low.program.graphs.train_step;
    const inputs = train.inputs.map((v) => v.name);
    const loraNames = low.trainable.map((t) => t.name);
    expect(loraNames.length).toBe(2 * low.lora.length);
    expect(low.lora.every((m) => /attn[12]\.to_[qkv]$/.test(m.path) && /\.1\.transformer_blocks/.test(m.path))).toBe(true);
    for (const name of inputs) {
      const known = loraNames.includes(name) || name.startsWith('adam.') || ['latents', 'timesteps', 'alphas_t', 'alphas_prev', 'noise', 'context', 'uncond_context', 'frame_indices', 'lr'].includes(name);
      expect(known, name).toBe(true);
    }
    const inits = [...train.initializers.keys()].map((v) => v.name);
    expect(inits).toContain('unet.input_blocks.3.1.transformer_blocks.0.attn1.to_q.weight');
    expect(inits.some((n) => n.startsWith('vae.'))).toBe(true);
    expect(inits.some((n) => n.includes('lora_'))).toBe(false);
    const outs = low.interfaces.train_step.outputs.map((o) => o.name);
    expect(outs).toEqual(expect.arrayContaining(['loss', 'reward.brightness', 'grad_norm', 'frames', 'adam.step_out', `${loraNames[0]}_out`, `adam.m.${loraNames[0]}_out`]));
    expect(low.interfaces.train_step.inputs.every((i) => i.doc.length > 0)).toBe(true);
    expect(low.program.schedule.map((e) => e.graph)).toEqual(['text_encode', 'text_encode', 'sample_step', 'train_step']);
    expect(low.program.schedule[2].repeat).toBe(2);
    expect(low.backpropSteps).toBe(2);
    expect(decodeFrames(p)).toEqual({ count: 2 });
  });

  it('runs, has a non-zero LoRA gradient, and raises brightness over a few steps', async () => {
    const L = 16;
    const [C, T, h, w] = p.derived.latent_shape;
    const latentShape = [1, C, T, h, w];
    const n = prod(latentShape);
    const tok = (s: string) => new ort.Tensor('int64', tinyTokenizer.tokenizeBatch([s], L), [1, L]);
    const cond = await sessions.text_encode.run({ tokens: tok('a red circle moving left') });
    const uncond = await sessions.text_encode.run({ tokens: tok('') });
    const k = low.backpropSteps;
    const sched = low.sampler;
    const state: Record<string, Float32Array> = {};
    for (const t of low.trainable) {
      state[t.name] = Float32Array.from(low.params.initialValue(t.name) as Float32Array);
      state[`adam.m.${t.name}`] = new Float32Array(prod(t.shape));
      state[`adam.v.${t.name}`] = new Float32Array(prod(t.shape));
    }
    const shapes = Object.fromEntries(low.program.graphs.train_step.inputs.map((v) => [v.name, v.shape]));
    let step = 0n;
    const history: number[] = [];
    for (let it = 0; it < 4; it++) {
      const rng = new Rng(7); // same latents, noise and frames every step: the reward is a function of the LoRA only
      const lora: Feeds = Object.fromEntries(low.trainable.map((t) => [t.name, f32(state[t.name], t.shape)]));
      let latents = normal(n, rng);
      for (let i = 0; i < sched.length - k; i++) {
        const out = await sessions.sample_step.run({
          latents: f32(latents, latentShape),
          timestep: scalar(sched[i].t),
          alpha_t: scalar(sched[i].alphaT),
          alpha_prev: scalar(sched[i].alphaPrev),
          noise: f32(normal(n, rng), latentShape),
          context: cond.context,
          uncond_context: uncond.context,
          ...lora,
        });
        latents = Float32Array.from(out.latents_out.data as Float32Array);
      }
      const last = sched.slice(sched.length - k);
      const noise = new Float32Array(k * n);
      for (let i = 0; i < k; i++) noise.set(normal(n, rng), i * n);
      const feeds: Feeds = {
        latents: f32(latents, latentShape),
        timesteps: f32(last.map((s) => s.t), [k]),
        alphas_t: f32(last.map((s) => s.alphaT), [k]),
        alphas_prev: f32(last.map((s) => s.alphaPrev), [k]),
        noise: f32(noise, [k, ...latentShape]),
        context: cond.context,
        uncond_context: uncond.context,
        frame_indices: new ort.Tensor('int64', BigInt64Array.of(0n, 3n), [2]),
        lr: scalar(p.train.optimizer.lr),
        'adam.step': new ort.Tensor('int64', BigInt64Array.of(step), []),
        ...lora,
      };
      for (const t of low.trainable) {
        feeds[`adam.m.${t.name}`] = f32(state[`adam.m.${t.name}`], shapes[t.name]);
        feeds[`adam.v.${t.name}`] = f32(state[`adam.v.${t.name}`], shapes[t.name]);
      }
      const out = await sessions.train_step.run(feeds);
      const loss = (out.loss.data as Float32Array)[0];
      const reward = (out['reward.brightness'].data as Float32Array)[0];
      expect(Number.isFinite(loss)).toBe(true);
      expect(loss).toBeCloseTo(-reward, 6);
      expect((out.frames.dims as number[])).toEqual([2, 3, 32, 32]);
      if (it === 0) {
        expect((out.grad_norm.data as Float32Array)[0]).toBeGreaterThan(0);
        // B starts at zero, so the first gradient reaches B only; the update moves B
        const bName = low.trainable.find((t) => t.name.endsWith('lora_B.weight'))!.name;
        expect((out[`${bName}_out`].data as Float32Array).some((v) => v !== 0)).toBe(true);
      }
      history.push(reward);
      for (const t of low.trainable) {
        state[t.name] = out[`${t.name}_out`].data as Float32Array;
        state[`adam.m.${t.name}`] = out[`adam.m.${t.name}_out`].data as Float32Array;
        state[`adam.v.${t.name}`] = out[`adam.v.${t.name}_out`].data as Float32Array;
      }
      step = (out['adam.step_out'].data as BigInt64Array)[0];
    }
    expect(step).toBe(4n);
    // the reward is measured before each update: history[i + 1] reflects i + 1 updates
    for (let i = 1; i < history.length; i++) expect(history[i]).toBeGreaterThan(history[i - 1]);
    expect(history[3] - history[0]).toBeGreaterThan(1e-3);
  }, 120_000);
});

describe('reward objective lowering (tiny, demo mix, dropout, accumulation, remat)', () => {
  it('lowers the demo mix and runs one micro-step', async () => {
    const p = plan(['train.accumulate=2', 'train.remat=true', 'sampler.eta=0', 'lora.dropout=0.01', 'objective.reward=1.0 * tiny_text_align + 0.2 * brightness']);
    expect(p.lora.dropout).toBeGreaterThan(0);
    const low = lowerReward(p, { tiny: true });
    const train = low.program.graphs.train_step;
    const names = train.inputs.map((v) => v.name);
    expect(names).toEqual(expect.arrayContaining(['text_embed', 'apply', 'seed', 'dropout_step', `acc.${low.trainable[0].name}`]));
    expect(names).not.toContain('noise'); // eta 0
    expect(train.nodes.some((n) => n.segment?.endsWith('#remat'))).toBe(true);
    const s = await ort.InferenceSession.create(emitModel(train), { intraOpNumThreads: 2, graphOptimizationLevel: 'basic' });
    const rng = new Rng(3);
    const feeds: Feeds = {};
    for (const v of train.inputs) {
      const size = prod(v.shape);
      if (v.dtype === 'int64') feeds[v.name] = new ort.Tensor('int64', BigInt64Array.from({ length: size }, (_, i) => BigInt(v.name === 'frame_indices' ? i : 1)), [...v.shape]);
      else if (v.dtype === 'bool') feeds[v.name] = new ort.Tensor('bool', Uint8Array.of(0), []);
      else if (low.trainable.some((t) => t.name === v.name)) feeds[v.name] = f32(low.params.initialValue(v.name) as Float32Array, v.shape);
      else if (v.name.startsWith('adam.') || v.name.startsWith('acc.')) feeds[v.name] = f32(new Float32Array(size), v.shape);
      else if (v.name === 'alphas_t') feeds[v.name] = f32(low.sampler.slice(-2).map((x) => x.alphaT), v.shape);
      else if (v.name === 'alphas_prev') feeds[v.name] = f32(low.sampler.slice(-2).map((x) => x.alphaPrev), v.shape);
      else if (v.name === 'timesteps') feeds[v.name] = f32(low.sampler.slice(-2).map((x) => x.t), v.shape);
      else feeds[v.name] = f32(normal(size, rng), v.shape);
    }
    const out = await s.run(feeds);
    const get = (n: string) => (out[n].data as Float32Array)[0];
    const cos = get('reward.tiny_text_align');
    expect(Math.abs(cos)).toBeLessThanOrEqual(1);
    expect(get('loss.tiny_text_align')).toBeCloseTo(1 - cos, 5);
    expect(get('loss')).toBeCloseTo(1.0 * (1 - cos) + 0.2 * -get('reward.brightness'), 5);
    expect(get('grad_norm')).toBeGreaterThan(0);
    // apply = false: parameters and step unchanged, the accumulator holds the gradient
    const a = low.trainable.find((t) => t.name.endsWith('lora_B.weight'))!.name;
    expect(Array.from(out[`${a}_out`].data as Float32Array)).toEqual(Array.from(feeds[a].data as Float32Array));
    expect((out['adam.step_out'].data as BigInt64Array)[0]).toBe(1n);
    expect((out[`acc.${a}_out`].data as Float32Array).some((v) => v !== 0)).toBe(true);
    await s.release();
  }, 120_000);
});

describe('reward objective lowering: decode_og (VADER) decodes the one-step x0 estimate', () => {
  it("train_step's frames are the VAE decode of sample_step's x0 for the same step, not of its next latents", async () => {
    const p = plan(['objective.decode_og=true', 'objective.decode=all', 'sampler.eta=0', 'objective.reward=1.0 * brightness', 'lora.dropout=0']);
    const low = lowerReward(p, { tiny: true });
    expect(low.backpropSteps).toBe(1);
    const [train, sample, decode] = await Promise.all([session(low.program.graphs.train_step), session(low.program.graphs.sample_step), session(low.program.graphs.decode_all!)]);
    const shapes = Object.fromEntries(low.program.graphs.train_step.inputs.map((v) => [v.name, [...v.shape]]));
    const latentShape = shapes.latents;
    const rng = new Rng(13);
    const lora: Feeds = {};
    for (const t of low.trainable) {
      const init = low.params.initialValue(t.name) as Float32Array;
      lora[t.name] = f32(t.name.endsWith('lora_B.weight') ? normal(init.length, rng).map((v) => 0.05 * v) : init, t.shape);
    }
    const latents = f32(normal(prod(latentShape), rng), latentShape);
    const cond: Feeds = { context: f32(normal(prod(shapes.context), rng), shapes.context), uncond_context: f32(normal(prod(shapes.uncond_context), rng), shapes.uncond_context) };
    const last = low.sampler[low.sampler.length - 1];
    const adam: Feeds = { 'adam.step': new ort.Tensor('int64', BigInt64Array.of(0n), []) };
    for (const t of low.trainable) for (const pre of ['adam.m.', 'adam.v.']) adam[`${pre}${t.name}`] = f32(new Float32Array(prod(t.shape)), t.shape);
    const out = await train.run({
      latents,
      timesteps: f32([last.t], [1]),
      alphas_t: f32([last.alphaT], [1]),
      alphas_prev: f32([last.alphaPrev], [1]),
      ...cond,
      frame_indices: new ort.Tensor('int64', BigInt64Array.of(0n, 1n, 2n, 3n), [4]),
      lr: scalar(1e-3),
      ...adam,
      ...lora,
    });
    const step = await sample.run({ latents, timestep: scalar(last.t), alpha_t: scalar(last.alphaT), alpha_prev: scalar(last.alphaPrev), ...cond, ...lora });
    const decodeOf = async (v: ort.Tensor) => (await decode.run({ latents: f32(v.data as Float32Array, latentShape) })).frames.data as Float32Array;
    const fromX0 = await decodeOf(step.x0);
    const fromNext = await decodeOf(step.latents_out);
    const frames = out.frames.data as Float32Array;
    const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
    expect(frames.length).toBe(fromX0.length);
    expect(maxDiff(frames, fromX0)).toBeLessThan(1e-4);
    // the next latents are something else (the last DDIM step goes to alphas_cumprod[0], not to x0)
    expect(maxDiff(frames, fromNext)).toBeGreaterThan(1e-2);
    expect((out.grad_norm.data as Float32Array)[0]).toBeGreaterThan(0);
    await Promise.all([train.release(), sample.release(), decode.release()]);
  }, 120_000);
});

describe('every shipped pipeline lowers at --tiny size or is refused with its reason', () => {
  // pipelines/NAME.vpl -> 'lowers', or the refusal it must give (a ModelNotBuiltError for a model
  // family with no builder, a LoweringError for what the lowering does not handle). A change of
  // outcome fails: a refused pipeline that starts lowering, one that stops, a reworded refusal.
  const expected: Record<string, 'lowers' | RegExp> = {
    actpred: 'lowers',
    aesthetic: 'lowers',
    demo: 'lowers',
    hps_aesthetic: 'lowers',
    modelscope_aesthetic: 'lowers',
    opensora_hps: /^model 'opensora_1_2': Open-Sora 1\.2 \(STDiT3 transformer, T5-XXL, temporal VAE\) has no builder yet$/,
    pickscore: 'lowers',
    svd_aesthetic: /^model 'svd': Stable Video Diffusion \(.*\) has no builder yet$/,
    t2v_turbo_ms: 'lowers',
    t2v_turbo_vc2: 'lowers',
    turbo_demo: 'lowers',
    vader_base: 'lowers',
  };

  it('the table names every pipeline in pipelines/', () => {
    const shipped = readdirSync('pipelines').filter((f) => f.endsWith('.vpl')).map((f) => f.slice(0, -'.vpl'.length));
    expect(Object.keys(expected).sort()).toEqual(shipped.sort());
  });

  /** The pipeline's plan and build as `--tiny` lowers them: full-size models shrunk to their family's small networks. */
  function lowerTiny(name: string): LoweredProgram {
    const r = checkFile(`pipelines/${name}.vpl`);
    if (!r.plan) throw new Error(`${name}.vpl does not check: ${r.diagnostics.map((d) => d.message).join('; ')}`);
    const base = modelBuild(r.plan.model.name);
    const { plan, build } = needsTinyStandIn(r.plan) ? tinyStandIn(r.plan, base) : { plan: r.plan, build: base };
    return lower(plan, { tiny: true, build });
  }

  for (const [name, outcome] of Object.entries(expected)) {
    if (outcome === 'lowers') {
      it(`${name}.vpl lowers, with a train_step graph`, () => {
        expect(lowerTiny(name).program.graphs.train_step, name).toBeDefined();
      }, 60_000);
    } else {
      it(`${name}.vpl is refused: ${outcome.source}`, () => {
        let error: unknown;
        try {
          lowerTiny(name);
        } catch (e) {
          error = e;
        }
        expect(error instanceof ModelNotBuiltError || error instanceof LoweringError, `${name}: ${String(error)}`).toBe(true);
        expect((error as Error).message).toMatch(outcome);
      });
    }
  }
});
