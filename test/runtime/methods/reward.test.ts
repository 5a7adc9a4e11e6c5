// The reward method driver in-process: what is trained and what is frozen, every backprop and
// decode mode for one step, a dpm_solver pipeline (the x0 history carried by the engine into
// train_step; one step of training), and one-step --tiny smoke runs of every shipped pipeline
// whose model family is built (full-size models run as small random networks of their family).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { checkFile } from '../../../compiler/check/index.ts';
import { VplError } from '../../../diagnostics/error.ts';
import { readMetrics } from '../../../runtime/metrics/jsonl.ts';
import { RewardEngine } from '../../../runtime/methods/reward/engine.ts';
import { cutoffGate, runReward } from '../../../runtime/methods/reward/run.ts';
import { setupReward } from '../../../runtime/methods/reward/setup.ts';
import { runtimeMethodFor } from '../../../runtime/methods/registry.ts';
import { Rng } from '../../../runtime/random.ts';
import { loadProgram } from '../../../runtime/session.ts';
import { promptSet } from '../../../stdlib/prompts/index.ts';
import { initialRewardState } from '../../../runtime/methods/common/state.ts';
import { randomFrames } from '../../../runtime/methods/common/videos.ts';
import { validationPrompts } from '../../../runtime/methods/common/prompts.ts';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-methods-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const pipeline = (name: string) => path.join(repoRoot, 'pipelines', `${name}.vpl`);
/** The demo at its smallest: 4 frames, 2 sampler steps, 1 video. */
const SMALL = ['model.frames=4', 'sampler.steps=2', 'train.batch=1', 'objective.reward=1.0 * brightness'];

function planOf(file: string, overrides: string[] = []) {
  const r = checkFile(file, { overrides });
  if (!r.plan) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.plan;
}

async function oneStep(name: string, file: string, overrides: string[]) {
  const setup = await setupReward(planOf(file, overrides), { tiny: true });
  let log = '';
  const runDir = path.join(tmp, name);
  const result = await runReward({ setup, runDir, steps: 1, fresh: true, handleSignals: false, stderr: { write: (t: string) => ((log += t), true) }, cacheRoot: path.join(tmp, 'cache') });
  return { setup, result, log, runDir };
}

describe('the lowered program of a run', () => {
  it('feeds only LoRA factors and optimizer state as state; every base weight is a frozen initializer', async () => {
    const setup = await setupReward(planOf(pipeline('demo'), SMALL), { tiny: true });
    const trainStep = setup.lowered.program.graphs.train_step!;
    const state = initialRewardState(setup.lowered);
    const names = Object.keys(state);
    expect(names.every((n) => /\.lora_[AB]\.weight$/.test(n) || n.startsWith('adam.'))).toBe(true);
    expect(names.filter((n) => n.endsWith('lora_B.weight')).every((n) => (state[n]!.data as Float32Array).every((v) => v === 0))).toBe(true);
    const outputs = new Set(trainStep.outputs.map((o) => o.name));
    for (const n of names) expect(outputs.has(`${n}_out`), n).toBe(true);
    // no base weight is an input (it could not be updated) or has a next value
    const baseInputs = trainStep.inputs.filter((v) => /^(unet|vae|clip)\./.test(v.name) && !v.name.includes('.lora_'));
    expect(baseInputs).toEqual([]);
    expect([...outputs].filter((o) => o.endsWith('_out') && !o.includes('.lora_') && !o.startsWith('adam.'))).toEqual([]);
    expect(Object.keys(setup.lowered.program.graphs).sort()).toEqual(['decode_all', 'sample_step', 'text_encode', 'train_step', 'watch']);
  });

  it('draws distinct decode frames and the same validation prompts for a seed', () => {
    const s = new Rng(3).stream('decode');
    for (let i = 0; i < 20; i++) {
      const f = [...randomFrames(s, 8, 3)].map(Number);
      expect(new Set(f).size).toBe(3);
      expect(f.every((x) => x >= 0 && x < 8)).toBe(true);
    }
    const gates = Array.from({ length: 200 }, () => [...cutoffGate(s, 4)]);
    for (const g of gates) expect(g.join('')).toMatch(/^0*1+$/); // 1 from the cutoff on, never empty
    expect(new Set(gates.map((g) => g.join(''))).size).toBe(4); // every cutoff 0..3 drawn
    const a = validationPrompts(promptSet('tiny_shapes'), 4, 0);
    expect(validationPrompts(promptSet('tiny_shapes'), 4, 0)).toEqual(a);
    expect(new Set(a).size).toBe(4);
  });
});

describe('every backprop and decode mode trains one step', () => {
  const modes: [string, string[]][] = [
    ['backprop all + frame(3)', ['objective.backprop=all', 'objective.decode=frame(3)']],
    ['last(1) + every(2)', ['objective.backprop=last(1)', 'objective.decode=every(2)']],
    ['last(2) + all', ['objective.backprop=last(2)', 'objective.decode=all']],
    ['random + random(2)', ['objective.backprop=random', 'objective.decode=random(2)']],
  ];
  for (const [label, overrides] of modes) {
    it(label, async () => {
      const { result, setup, log, runDir } = await oneStep(label.replace(/\W+/g, '-'), pipeline('demo'), [...SMALL, 'train.remat=off', ...overrides]);
      expect(result.status).toBe('completed');
      const backprop = overrides[0]!.split('=')[1]!;
      expect(setup.lowered.backpropSteps).toBe(backprop === 'all' || backprop === 'random' ? 2 : Number(/last\((\d)\)/.exec(backprop)![1]));
      expect(setup.lowered.gradGate === true).toBe(backprop === 'random');
      expect(setup.lowered.decodedFrames).toBe({ 'frame(3)': 1, 'every(2)': 2, all: 4, 'random(2)': 2 }[overrides[1]!.split('=')[1]!]);
      expect(log).toMatch(/train 1\/1/);
      const rec = readMetrics(path.join(runDir, 'metrics.jsonl')).records.find((r) => r.step === 1 && r.values.loss !== undefined)!;
      expect(Number.isFinite(rec.values.loss)).toBe(true);
      expect(rec.values.grad_norm).toBeGreaterThan(0);
    }, 120_000);
  }
});

describe('decode_og (VADER on ModelScope): sampling stops at the cutoff, its x0 estimate is decoded', () => {
  it('last(2) of 3 steps: one sample_step, then train_step on step 1 (its numbers), one step trained', async () => {
    const { result, setup, log } = await oneStep('decode-og', pipeline('demo'), [...SMALL.filter((o) => !o.startsWith('sampler.steps')), 'sampler.steps=3', 'train.remat=off', 'objective.backprop=last(2)', 'objective.decode_og=true', 'objective.decode=all']);
    expect(result.status).toBe('completed');
    expect(setup.lowered.backpropSteps).toBe(1);
    expect(setup.lowered.trainFrom).toBe(1);
    expect(setup.lowered.trainScalars!.timesteps).toEqual([setup.lowered.sampler[1]!.t]);
    expect(log).toMatch(/stops at step 1, its x0 estimate decoded with gradient \(decode_og\)/);
    expect(log).toMatch(/train 1\/1/);
  }, 120_000);

  it('with backprop = random it is refused with the fix', async () => {
    const outcome = await setupReward(planOf(pipeline('demo'), [...SMALL, 'objective.backprop=random', 'objective.decode_og=true']), { tiny: true }).catch((e: unknown) => e);
    expect(outcome).toBeInstanceOf(VplError);
    expect((outcome as VplError).message).toMatch(/decode_og with backprop = random is not lowered yet/);
    expect((outcome as VplError).help).toMatch(/backprop = last\(1\)|backprop = all/);
  });
});

describe('a dpm_solver pipeline (DPM-Solver++ of order 3 over 5 steps, orders 1 2 3 2 1)', () => {
  const file = path.join(repoRoot, 'test', 'compiler', 'lower', 'fixtures', 'dpm_demo.vpl');
  const DPM = ['model.frames=2', 'train.batch=1', 'objective.reward=1.0 * brightness', 'objective.decode=all', 'train.remat=off'];

  it('the engine carries the x0 history: train_step after sample steps 0..1 = all 5 steps sampled, then decoded', async () => {
    const setup = await setupReward(planOf(file, [...DPM, 'objective.backprop=last(3)']), { tiny: true });
    const { lowered } = setup;
    expect(lowered.history).toEqual(['x0_hist1', 'x0_hist2']);
    const sessions = await loadProgram(lowered.program, { device: 'cpu', cacheRoot: path.join(tmp, 'cache') });
    try {
      const engine = new RewardEngine(setup.plan, lowered, sessions);
      const state = initialRewardState(lowered);
      const cond = await engine.conditioning(['a red circle moving left']);
      const rng = new Rng(3).stream('noise');
      const x = rng.fillNormal(new Float32Array(engine.latentSize));
      const full = await engine.sampleSteps(x, 0, 5, cond, state, rng);
      const decoded = await engine.decodeAll(full.latents, cond.textEmbed);
      const cut = await engine.sampleSteps(x, 0, 2, cond, state, rng);
      expect(Object.keys(cut.history)).toEqual(['x0_hist1', 'x0_hist2']);
      expect(cut.history.x0_hist2!.some((v) => v !== 0)).toBe(true); // step 0's estimate
      // going on from the carry is the same as sampling straight through
      const rest = await engine.sampleSteps(cut.latents, 2, 5, cond, state, rng, cut.history);
      expect(Math.max(...rest.latents.map((v, i) => Math.abs(v - full.latents[i]!)))).toBeLessThan(1e-6);
      const trainStep = sessions.graph('train_step');
      const scalars = Object.fromEntries(Object.entries(lowered.trainScalars!).map(([n, v]) => [n, Float32Array.from(v)]));
      const available = { latents: cut.latents, ...scalars, context: cond.context, uncond_context: cond.uncond, frame_indices: BigInt64Array.of(0n, 1n), lr: Float32Array.of(0) };
      const out = await trainStep.run(engine.feedsFor(trainStep, { ...available, ...cut.history }, state));
      const loss = (out.loss as Float32Array)[0]!;
      expect(Math.abs(loss - decoded.loss)).toBeLessThan(1e-5 * (1 + Math.abs(decoded.loss)));
      // without the history the train step computes something else
      const zeros = new Float32Array(engine.latentSize);
      const blind = await trainStep.run(engine.feedsFor(trainStep, { ...available, x0_hist1: zeros, x0_hist2: zeros }, state));
      expect(Math.abs((blind.loss as Float32Array)[0]! - decoded.loss)).toBeGreaterThan(1e-4);
    } finally {
      await sessions.release();
    }
  }, 180_000);

  it('a sampler the reward objective is not lowered for is refused with VPL7132, pointing at the sampler, with a fix', async () => {
    const other = path.join(repoRoot, 'test', 'compiler', 'lower', 'fixtures', 'consistency_sampler.vpl');
    const error = await setupReward(planOf(other), { tiny: true }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(VplError);
    const e = error as VplError;
    expect(`${e.code} ${e.message}`).toMatch(/^VPL7132 vplc run cannot compile this pipeline: .*ddim and dpm_solver samplers only \(got sampler 'consistency'\)/);
    expect(e.help).toMatch(/sampler ddim \{ \.\.\. \}.*sampler dpm_solver \{ \.\.\. \}/);
    expect(e.file).toMatch(/consistency_sampler\.vpl:6:9$/); // the `sampler consistency` block
  });

  for (const backprop of ['last(3)', 'random']) {
    it(`trains one step with backprop = ${backprop}`, async () => {
      const { result, setup, log, runDir } = await oneStep(`dpm-${backprop.replace(/\W+/g, '')}`, file, [...DPM, `objective.backprop=${backprop}`]);
      expect(result.status).toBe('completed');
      expect(setup.lowered.backpropSteps).toBe(backprop === 'random' ? 5 : 3);
      expect(log).toMatch(/sampler +dpm_solver, 5 steps/);
      expect(log).toMatch(/model evaluations +10\b/); // 5 steps x 2 (CFG)
      const rec = readMetrics(path.join(runDir, 'metrics.jsonl')).records.find((r) => r.step === 1 && r.values.loss !== undefined)!;
      expect(Number.isFinite(rec.values.loss)).toBe(true);
      expect(rec.values.grad_norm).toBeGreaterThan(0);
    }, 180_000);
  }
});

describe('--tiny smoke runs of the shipped pipelines (1 step each)', () => {
  // two full runs (an image-text reward; a video reward with every frame decoded): loading a
  // program costs ~20-50 s on a busy 2-core machine; the other pipelines are lowered below
  const smoked = ['pickscore', 'actpred'];
  for (const name of smoked) {
    it(`${name}.vpl runs on small random networks of its family`, async () => {
      const { result, setup, log } = await oneStep(name, pipeline(name), []);
      expect(result.status).toBe('completed');
      expect(setup.notes.join('\n')).toMatch(/random-initialised tiny networks of its family/);
      expect(setup.plan.model.size).toEqual({ height: 32, width: 32 });
      expect(log).toMatch(/train 1\/1/);
    }, 180_000);
  }

  it('every shipped pipeline prepares through its method with --tiny, or is refused with a code and a fix', async () => {
    // the outcome of each shipped pipeline, stated: 'prepares' or the refusal (code and message)
    const expected: Record<string, 'prepares' | RegExp> = {
      actpred: 'prepares',
      aesthetic: 'prepares',
      demo: 'prepares',
      hps_aesthetic: 'prepares',
      modelscope_aesthetic: 'prepares',
      opensora_hps: /^VPL7132 vplc run cannot build this model yet: model 'opensora_1_2'/,
      pickscore: 'prepares',
      svd_aesthetic: /^VPL7132 vplc run cannot build this model yet: model 'svd'/,
      t2v_turbo_ms: 'prepares',
      t2v_turbo_vc2: 'prepares',
      turbo_demo: 'prepares',
      vader_base: 'prepares',
    };
    const shipped = fs.readdirSync(path.join(repoRoot, 'pipelines')).filter((f) => f.endsWith('.vpl')).map((f) => f.slice(0, -4)).sort();
    expect(shipped).toEqual(Object.keys(expected).sort());
    for (const name of shipped.filter((n) => !smoked.includes(n))) {
      const plan = planOf(pipeline(name));
      const outcome = await runtimeMethodFor(plan, 'vplc run').prepare(plan, { tiny: true }).then(
        (prepared) => prepared,
        (e: unknown) => e,
      );
      const want = expected[name]!;
      if (want === 'prepares') {
        expect(outcome, name).not.toBeInstanceOf(Error);
        expect((outcome as { plan: { model: { size: unknown } } }).plan.model.size, name).toEqual({ height: 32, width: 32 });
      } else {
        expect(outcome, name).toBeInstanceOf(VplError);
        expect(`${(outcome as VplError).code} ${(outcome as VplError).message}`, name).toMatch(want);
        expect((outcome as VplError).help, name).toMatch(/\w+ \w+/);
      }
    }
  }, 300_000);
});
