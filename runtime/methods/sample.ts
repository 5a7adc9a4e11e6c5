// Sampling a reward pipeline's model (`vplc sample`): the pipeline's sampler with every step,
// every frame decoded, the LoRA fed as graph inputs (the sampling graph takes the factors as
// inputs, so no merge is needed), one video per prompt and format.
//
// A LoRA is read from any of: a PEFT adapter folder (adapter_model.safetensors, as
// <runDir>/lora/), a trainer checkpoint folder (lora.safetensors), a run folder (its lora/, else
// its newest checkpoint) or a .safetensors file keyed by parameter name or PEFT key.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LoweredProgram } from '../../compiler/lower/index.ts';
import { VplError } from '../errors.ts';
import { validationVideoName } from '../media/video.ts';
import { Rng } from '../random.ts';
import { loadProgram, type Device } from '../session.ts';
import type { TensorState } from '../train/index.ts';
import { adapterWeightsFile, readPeftAdapter } from '../weights/lora-peft.ts';
import { readSafetensors } from '../weights/safetensors.ts';
import { RewardEngine } from './engine.ts';
import { totalReward, writeBatchVideos } from './reward.ts';
import type { RewardSetup } from './setup.ts';

/** The LoRA factors of a lowering at their initial values (B = 0: the base model). */
export function baseLoraState(lowered: LoweredProgram): TensorState {
  const state: TensorState = {};
  for (const p of lowered.trainable) state[p.name] = { dtype: 'float32', shape: [...p.shape], data: Float32Array.from(lowered.params.initialValue(p.name) as Float32Array) };
  return state;
}

function loraError(file: string, message: string): VplError {
  return new VplError('VPL7133', message, {
    file,
    help: 'pass a LoRA written by `vplc run` for this pipeline: runs/<name>/lora/, a checkpoint folder runs/<name>/checkpoints/step-N/, or the run folder',
  });
}

/** Where the LoRA tensors are, for a path given to --lora (checked before any heavy work). */
export function locateLora(given: string): { kind: 'peft'; dir: string } | { kind: 'file'; file: string } {
  if (!fs.existsSync(given)) throw loraError(given, 'the LoRA path does not exist');
  if (fs.statSync(given).isFile()) return { kind: 'file', file: given };
  if (fs.existsSync(path.join(given, adapterWeightsFile))) return { kind: 'peft', dir: given };
  if (fs.existsSync(path.join(given, 'lora.safetensors'))) return { kind: 'file', file: path.join(given, 'lora.safetensors') };
  if (fs.existsSync(path.join(given, 'lora', adapterWeightsFile))) return { kind: 'peft', dir: path.join(given, 'lora') };
  const ckpts = path.join(given, 'checkpoints');
  if (fs.existsSync(ckpts)) {
    const steps = fs.readdirSync(ckpts).filter((d) => /^step-\d+$/.test(d) && fs.existsSync(path.join(ckpts, d, 'lora.safetensors'))).sort();
    if (steps.length > 0) return { kind: 'file', file: path.join(ckpts, steps[steps.length - 1]!, 'lora.safetensors') };
  }
  throw loraError(given, 'this folder holds no LoRA (no adapter_model.safetensors, lora.safetensors, lora/ or checkpoints/)');
}

/** Reads a LoRA into the lowering's factor names, checking every factor and shape. */
export async function readLoraState(given: string, lowered: LoweredProgram): Promise<TensorState> {
  const where = locateLora(given);
  const state = baseLoraState(lowered);
  const values = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  const shown = where.kind === 'peft' ? where.dir : where.file;
  if (where.kind === 'peft') {
    const adapter = await readPeftAdapter(where.dir);
    for (const m of lowered.lora) {
      const mod = adapter.modules.get(m.path);
      if (!mod) continue;
      const kernel = mod.kernel ?? [];
      values.set(m.a, { shape: [mod.rank, mod.inFeatures, ...kernel], data: mod.a });
      values.set(m.b, { shape: [mod.outFeatures, mod.rank, ...kernel.map(() => 1)], data: mod.b });
    }
  } else {
    const { tensors } = await readSafetensors(where.file);
    for (const [name, t] of tensors) {
      if (t.dtype !== 'F32') continue;
      const key = name.startsWith('base_model.model.') ? name.slice('base_model.model.'.length) : name;
      values.set(key, { shape: t.shape, data: t.data as Float32Array });
    }
  }
  const missing = Object.keys(state).filter((n) => !values.has(n));
  if (missing.length === Object.keys(state).length) throw loraError(shown, `none of the pipeline's ${missing.length} LoRA factors is in it (another model or LoRA targets?)`);
  if (missing.length > 0) throw loraError(shown, `${missing.length} of the pipeline's LoRA factors are missing, e.g. '${missing[0]}'`);
  for (const [name, t] of Object.entries(state)) {
    const v = values.get(name)!;
    if (v.data.length !== t.data.length) throw loraError(shown, `'${name}' is [${v.shape.join(', ')}], the pipeline's LoRA wants [${t.shape.join(', ')}] (another rank?)`);
    t.data = Float32Array.from(v.data);
  }
  return state;
}

export interface SampleOptions {
  setup: RewardSetup;
  prompts: string[];
  outDir: string;
  seed: number;
  lora?: string;
  device?: Device;
  cacheRoot?: string;
  say?: (line: string) => void;
}

export interface SampleResult {
  files: string[];
  rewards: { prompt: string; reward: number }[];
}

export async function sampleVideos(options: SampleOptions): Promise<SampleResult> {
  const { setup } = options;
  const { plan, lowered } = setup;
  const say = options.say ?? ((line: string) => process.stderr.write(`${line}\n`));
  const state = options.lora ? await readLoraState(options.lora, lowered) : baseLoraState(lowered);
  const sessions = await loadProgram(lowered.program, { device: options.device ?? 'cpu', ...(options.cacheRoot ? { cacheRoot: options.cacheRoot } : {}) });
  try {
    const engine = new RewardEngine(plan, lowered, sessions);
    const B = engine.batch;
    const files: string[] = [];
    const rewards: SampleResult['rewards'] = [];
    fs.mkdirSync(options.outDir, { recursive: true });
    for (let i = 0; i < options.prompts.length; i++) {
      // one fixed stream per prompt index: the same video for the same seed, whatever comes before
      const rng = new Rng(options.seed).fixed(`sample:${i}`);
      const prompt = options.prompts[i]!;
      const decoded = await engine.generate(Array.from({ length: B }, () => prompt), state, rng);
      const name = path.join(options.outDir, path.basename(validationVideoName(0, i, prompt)));
      const written = await writeBatchVideos(plan, decoded.frames, B, [name], say);
      files.push(...written);
      const reward = totalReward(setup.terms, decoded.rewards);
      rewards.push({ prompt, reward });
      say(`${written.map((f) => path.relative(process.cwd(), f) || f).join(', ')}  (reward ${reward.toPrecision(4)})`);
    }
    if (engine.unknown.size > 0) say(`warning: the tiny tokenizer does not know ${[...engine.unknown].slice(0, 8).map((w) => `'${w}'`).join(', ')}: those words read as [UNK]`);
    return { files, rewards };
  } finally {
    await sessions.release();
  }
}
