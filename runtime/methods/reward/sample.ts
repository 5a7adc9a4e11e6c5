// Sampling a reward pipeline's model (`vplc sample`): the pipeline's sampler with every step,
// every frame decoded, the LoRA fed as graph inputs (the sampling graph takes the factors as
// inputs, so no merge is needed), one video per prompt and format.
//
// A LoRA is read from any of: a PEFT adapter folder (adapter_model.safetensors, as
// <runDir>/lora/), a trainer checkpoint folder (lora.safetensors), a run folder (its lora/, else
// its newest checkpoint) or a .safetensors file keyed by parameter name or PEFT key.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { validationVideoName } from '../../media/video.ts';
import { Rng } from '../../random.ts';
import { loadProgram, type Device } from '../../session.ts';
import { RewardEngine } from './engine.ts';
import { baseLoraState, readLoraState } from '../common/state.ts';
import type { RewardSetup } from './setup.ts';
import { totalReward, writeBatchVideos } from '../common/videos.ts';

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
    const engine = new RewardEngine(plan, lowered, sessions, setup.tokenizer, setup.readers);
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
