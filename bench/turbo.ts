// T2V-Turbo in the tiny world: the 4-step consistency student of pipelines/turbo_demo.vpl vs
// its teacher (the base tiny UNet) sampled with 50-step DDIM + CFG, and the teacher with only
// 4 DDIM steps (+ CFG), on the same prompts and the same initial noise (Rng(seed).fixed
// ('sample:i') per prompt: every method draws its first latents from the same stream).
//
//   npx tsx bench/turbo.ts [--lora runs/turbo_demo] [--steps N] [--prompts K] [--seed S] [--out DIR] [--set path=value ...]
//
// Without --lora the student is trained first (runConsistency, fresh, into runs/bench_turbo,
// N steps; default: the pipeline's). Rewards are the pipeline's (brightness, tiny_text_align),
// scored by the same `decode_all` graph (every frame) for all three methods; wall-clock is the
// whole generation of one prompt's batch (sampling + decode + scoring; text embeddings are
// computed once beforehand), median over the prompts, on the CPU execution provider.
//
// Guidance, like for like: the student learned the teacher's x0_c + w (x0_c - x0_u), which is
// classifier-free guidance eps_u + (1 + w)(eps_c - eps_u); the teacher rows use that scale, 1 + w.
//
// Distance to the teacher: the 50-step DDIM (eta 0) teacher is a deterministic map from the initial
// noise to a video, the map a consistency model learns to take in one step. For the methods that are
// deterministic too (the student and the base model in ONE consistency step, the teacher in 4 DDIM
// steps) the bench prints the mean squared difference of their decoded frames ([-1, 1]) to the
// 50-step teacher's from the same noise; distillation shows as the student's one-step distance
// falling below the base model's. (The 4-step consistency sampler re-noises with fresh noise, so
// its distance is printed too but measures sample diversity as much as error.)
//
// The videos go to <out>/videos/compare/<method>/NN-<prompt-slug>.gif (the first video of each
// prompt's batch; the same file name for every method), with <out>/videos/compare/summary.json
// ({method: {reward, seconds_per_video, ...}}), and <out>/report.html shows them side by side
// (runtime/report/report.ts). Default out: runs/bench_turbo_compare. Writing is not timed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { checkFile } from '../compiler/check/index.ts';
import { lower } from '../compiler/lower/index.ts';
import type { Plan } from '../compiler/plan.ts';
import { ConsistencyEngine } from '../runtime/methods/consistency/engine.ts';
import { setupConsistency } from '../runtime/methods/consistency/setup.ts';
import { type ProbeValues, readConsistencyState, runConsistency, samplingGuidance, validationCaptions } from '../runtime/methods/consistency/run.ts';
import { type DecodedBatch, RewardEngine } from '../runtime/methods/reward/engine.ts';
import { Rng } from '../runtime/random.ts';
import { slugify, writeVideo } from '../runtime/media/video.ts';
import { writeReport } from '../runtime/report/report.ts';
import { loadProgram } from '../runtime/session.ts';
import { shapesItem } from '../stdlib/data/shapes.ts';
import { median } from './common.ts';
import { splitVideos, totalReward } from '../runtime/methods/common/videos.ts';
import { baseLoraState } from '../runtime/methods/common/state.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

interface Row {
  method: string;
  /** The method's folder under videos/compare/. */
  folder: string;
  evals: string;
  rewards: Record<string, number>;
  reward: number;
  seconds: number[];
  /** Decoded frames of every prompt's batch (for the distance to the 50-step teacher). */
  frames: Float32Array[];
  /** Total reward of each prompt's batch (for the paired difference to the teacher). */
  perPrompt: number[];
}

async function main() {
  // --set path=value (repeatable): the CLI's overrides, e.g. --set 'objective.reward=0.0 * brightness'
  const overrides = process.argv.flatMap((a, i) => (a === '--set' && process.argv[i + 1] ? [process.argv[i + 1]!] : []));
  const checked = checkFile(path.join(repoRoot, 'pipelines/turbo_demo.vpl'), { overrides });
  if (!checked.plan) throw new Error(`turbo_demo.vpl does not check:\n${checked.diagnostics.map((d) => d.message).join('\n')}`);
  const setup = await setupConsistency(checked.plan, {});
  for (const n of setup.notes) console.error(`note: ${n}`);
  const { plan } = setup;
  const seed = Number(arg('seed') ?? 1234);
  const K = Number(arg('prompts') ?? 8);
  const cacheRoot = path.join(repoRoot, '.cache', 'vplc');
  const outDir = path.resolve(arg('out') ?? path.join(repoRoot, 'runs', 'bench_turbo_compare'));
  const compareDir = path.join(outDir, 'videos', 'compare');
  fs.rmSync(compareDir, { recursive: true, force: true }); // no rows left over from an earlier run

  let lora = arg('lora');
  let trainSeconds: number | undefined;
  let probe: { batches: number; before: ProbeValues; after: ProbeValues } | undefined;
  if (!lora) {
    const runDir = path.join(repoRoot, 'runs', 'bench_turbo');
    const t0 = performance.now();
    const steps = arg('steps') ? Number(arg('steps')) : undefined;
    const res = await runConsistency({ setup, runDir, fresh: true, handleSignals: false, cacheRoot, ...(steps ? { steps } : {}), probeBatches: 8 });
    trainSeconds = (performance.now() - t0) / 1000;
    if (res.status !== 'completed') throw new Error('training did not complete');
    if (res.probe) probe = { batches: 8, ...res.probe };
    lora = runDir;
  }
  const student = await readConsistencyState(path.resolve(lora), setup.lowered, (l) => console.error(l));

  // the prompts: distinct captions of the tiny world (not the training draws' order)
  const data = plan.data?.name === 'tiny_shapes' ? plan.data : { count: 64, seed: 0 };
  const captions = Array.from({ length: data.count }, (_, i) => shapesItem(data.seed, i, { frames: 2, height: 8, width: 8 }).caption);
  const prompts = validationCaptions(captions, K, seed);

  // student: the consistency program (sampling graphs only)
  const sSetup = await setupConsistency(checked.plan, { samplingOnly: true });
  const sSessions = await loadProgram(sSetup.lowered.program, { cacheRoot });
  const studentEngine = new ConsistencyEngine(plan, sSetup.lowered, sSessions);
  const onePlan: Plan = { ...plan, sampler: { name: 'consistency', steps: 1, guidance: samplingGuidance(plan) } };
  const oneSetup = await setupConsistency(onePlan, { samplingOnly: true });
  const oneSessions = await loadProgram(oneSetup.lowered.program, { cacheRoot });
  const oneStepEngine = new ConsistencyEngine(onePlan, oneSetup.lowered, oneSessions);

  // teacher: the same frozen weights, lowered as a reward-objective program for its DDIM sampler
  const teacherPlan = (steps: number): Plan => ({
    ...plan,
    sampler: { name: 'ddim', steps, eta: 0, guidance: 1 + samplingGuidance(plan), use_scale: false },
    objective: { name: 'reward', reward: setup.terms, decode: { mode: 'all' }, backprop: { mode: 'last', k: 1 }, decode_og: false },
  });
  const teacherEngine = async (steps: number) => {
    const p = teacherPlan(steps);
    const lowered = lower(p, { tiny: setup.mode === 'tiny-random', build: setup.build, ...(setup.weights ? { weights: setup.weights } : {}) });
    delete lowered.program.graphs.train_step;
    const sessions = await loadProgram(lowered.program, { cacheRoot });
    return { engine: new RewardEngine(p, lowered, sessions), state: baseLoraState(lowered), sessions };
  };
  const t50 = await teacherEngine(50);
  const t4 = await teacherEngine(4);

  const B = plan.train.batch;
  const batchOf = (p: string) => Array.from({ length: B }, () => p);
  for (const p of prompts) {
    await studentEngine.conditioning(batchOf(p));
    await t50.engine.conditioning(batchOf(p));
    await t4.engine.conditioning(batchOf(p));
  }
  const videoName = (i: number) => `${String(i).padStart(2, '0')}-${slugify(prompts[i]!)}`;
  const measure = async (method: string, folder: string, evals: string, gen: (prompt: string, rng: ReturnType<Rng['fixed']>) => Promise<DecodedBatch>): Promise<Row> => {
    // one warm-up generation (session first-run costs), not counted
    await gen(prompts[0]!, new Rng(seed).fixed('warmup'));
    const sums: Record<string, number> = {};
    const seconds: number[] = [];
    const frames: Float32Array[] = [];
    const perPrompt: number[] = [];
    for (let i = 0; i < prompts.length; i++) {
      const rng = new Rng(seed).fixed(`sample:${i}`);
      const t0 = performance.now();
      const out = await gen(prompts[i]!, rng);
      seconds.push((performance.now() - t0) / 1000);
      frames.push(out.frames);
      // the batch's first video: drawn from the same noise stream by every method
      await writeVideo(splitVideos(out.frames, B, plan)[0]!, { path: path.join(compareDir, folder, videoName(i)), fps: plan.model.fps, format: 'gif' });
      for (const [n, v] of Object.entries(out.rewards)) sums[n] = (sums[n] ?? 0) + v / prompts.length;
      perPrompt.push(totalReward(setup.terms, out.rewards));
    }
    return { method, folder, evals, rewards: sums, reward: totalReward(setup.terms, sums), seconds, frames, perPrompt };
  };
  const w = samplingGuidance(plan);
  const rows: Row[] = [];
  rows.push(await measure('student, 4 consistency steps', 'student-4-steps', `4 x ${B}`, (p, rng) => studentEngine.generate(batchOf(p), student, rng, w)));
  rows.push(await measure('teacher, 50 DDIM steps + CFG', 'teacher-50-steps-cfg', `50 x ${2 * B}`, (p, rng) => t50.engine.generate(batchOf(p), t50.state, rng)));
  rows.push(await measure('teacher, 4 DDIM steps + CFG', 'teacher-4-steps-cfg', `4 x ${2 * B}`, (p, rng) => t4.engine.generate(batchOf(p), t4.state, rng)));
  rows.push(await measure('base (no LoRA), 4 consistency steps', 'base-no-lora-4-steps', `4 x ${B}`, (p, rng) => studentEngine.generate(batchOf(p), baseLoraState(sSetup.lowered), rng, w)));
  rows.push(await measure('student, 1 consistency step', 'student-1-step', `1 x ${B}`, (p, rng) => oneStepEngine.generate(batchOf(p), student, rng, w)));
  rows.push(await measure('base (no LoRA), 1 consistency step', 'base-no-lora-1-step', `1 x ${B}`, (p, rng) => oneStepEngine.generate(batchOf(p), baseLoraState(oneSetup.lowered), rng, w)));
  await Promise.all([sSessions.release(), oneSessions.release(), t50.sessions.release(), t4.sessions.release()]);

  const names = setup.terms.map((t) => t.reward);
  const teacher = rows[1]!;
  /** Reward minus the 50-step teacher's, paired by prompt and noise: mean and its standard error. */
  const versusTeacher = (r: Row) => {
    const d = r.perPrompt.map((v, i) => v - teacher.perPrompt[i]!);
    const mean = d.reduce((a, b) => a + b, 0) / d.length;
    const sd = Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, d.length - 1));
    return { mean, se: sd / Math.sqrt(d.length) };
  };
  /** Mean squared difference of a method's decoded frames to the 50-step teacher's, same noise. */
  const distance = (r: Row) => {
    let sum = 0;
    let n = 0;
    r.frames.forEach((f, i) => {
      const t = teacher.frames[i]!;
      for (let j = 0; j < f.length; j++) sum += (f[j]! - t[j]!) ** 2;
      n += f.length;
    });
    return sum / n;
  };
  console.log(`\nweights: ${setup.weightsDescription}; ${K} prompts x ${B} videos, seed ${seed}, w = ${w} (teacher CFG scale ${1 + w})${overrides.length > 0 ? `; overrides: ${overrides.join(', ')}` : ''}${trainSeconds ? `; student trained ${trainSeconds.toFixed(0)} s` : `; student ${lora}`}\n`);
  console.log(`| method | UNet evals (steps x batch) | ${names.join(' | ')} | reward | reward - teacher's (paired, +- s.e.) | MSE to 50-step teacher | s / prompt (median) | speed-up vs 50-step |`);
  console.log(`|---|---|${names.map(() => '---|').join('')}---|---|---|---|---|`);
  for (const r of rows) {
    const med = median(r.seconds);
    console.log(`| ${r.method} | ${r.evals} | ${names.map((n) => (r.rewards[n] ?? NaN).toFixed(4)).join(' | ')} | ${r.reward.toFixed(4)} | ${r === teacher ? '' : `${versusTeacher(r).mean >= 0 ? '+' : ''}${versusTeacher(r).mean.toFixed(4)} +- ${versusTeacher(r).se.toFixed(4)}`} | ${r === teacher ? '0' : distance(r).toFixed(4)} | ${med.toFixed(3)} | ${(median(teacher.seconds) / med).toFixed(1)}x |`);
  }
  if (probe) console.log(`\nprobe batches (train_step at lr 0, ${probe.batches} fixed batches): loss.cd ${probe.before['loss.cd'].toFixed(5)} -> ${probe.after['loss.cd'].toFixed(5)}, training reward ${probe.before.reward.toFixed(4)} -> ${probe.after.reward.toFixed(4)}`);

  // the side-by-side page: summary.json's key order is the report's column order
  const summary = Object.fromEntries(rows.map((r) => {
    const med = median(r.seconds);
    return [r.folder, {
      label: r.method,
      unet_evals: r.evals,
      ...Object.fromEntries(names.map((n) => [n, r.rewards[n] ?? null])),
      reward: r.reward,
      mse_to_50_step_teacher: r === teacher ? 0 : distance(r),
      reward_minus_teacher: r === teacher ? 0 : versusTeacher(r).mean,
      reward_minus_teacher_se: r === teacher ? 0 : versusTeacher(r).se,
      seconds_per_prompt: med,
      seconds_per_video: med / B,
      speedup_vs_50_steps: median(teacher.seconds) / med,
    }];
  }));
  fs.writeFileSync(path.join(compareDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  const report = writeReport(outDir);
  for (const warning of report.warnings) console.error(`warning: ${warning}`);
  console.log(`\n${report.videos} videos side by side: ${pathToFileURL(report.path).href}`);
}

await main();
