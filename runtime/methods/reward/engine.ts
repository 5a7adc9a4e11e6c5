// Drives the reward objective's compiled graphs (compiler/methods/reward/lower.ts documents their
// interfaces) with `decode_all`: prompt embeddings with a per-prompt cache, the
// no-gradient sampler steps, the training step, and full sampling with every frame decoded.
// Used by the VADER trainer (reward.ts) and by `vplc sample` (sample.ts).
import type { TypedArray } from '../../../tensor/ir/dtype.ts';
import type { LoweredProgram } from '../../../compiler/lower/index.ts';
import type { Plan } from '../../../compiler/plan.ts';
import type { RngStream } from '../../random.ts';
import type { Feed, GraphSession, Outputs, ProgramSessions } from '../../session.ts';
import type { TensorState } from '../../train/index.ts';
import type { PromptTokenizer } from '../common/tokenizer.ts';
import { ConditionedEngine, type DecodedBatch, type RewardPromptReaders } from '../common/conditioning.ts';

export type { DecodedBatch } from '../common/conditioning.ts';

export type { Conditioning, Embedding } from '../common/conditioning.ts';

/** Where the no-gradient sampler steps left off. */
export interface SamplerCarry {
  latents: Float32Array;
  /** The x0 history by input name (`lowered.history`; empty for samplers without one). */
  history: Record<string, Float32Array>;
}

const f32 = (x: number) => Float32Array.of(x);

export class RewardEngine extends ConditionedEngine {
  readonly batch: number;
  readonly latentSize: number;
  readonly latentShape: number[];
  private readonly sample: GraphSession;
  private readonly decode: GraphSession;

  constructor(
    readonly plan: Plan,
    readonly lowered: LoweredProgram,
    readonly sessions: ProgramSessions,
    tokenizer?: PromptTokenizer,
    readers?: RewardPromptReaders,
  ) {
    super(sessions, plan.train.batch, tokenizer, readers);
    this.sample = sessions.graph('sample_step');
    this.decode = sessions.graph('decode_all');
    this.batch = plan.train.batch;
    const [C, T, h, w] = plan.derived.latent_shape;
    this.latentShape = [this.batch, C, T, h, w];
    this.latentSize = this.batch * C * T * h * w;
  }

  /**
   * Sampler steps [from, to) without gradient, from `latents` (and the x0 history at `from`,
   * zeros when left out); noise for eta > 0 from `noise`. Each step's scalars are its
   * `lowered.sampler[i].feeds`; the x0 history (dpm_solver, `lowered.history`, most recent first)
   * moves along: after each step its `x0` output goes in front. Returns the latents and the
   * history after step to-1: what the next sample_step or the train_step takes.
   */
  async sampleSteps(
    latents: Float32Array,
    from: number,
    to: number,
    cond: { context: Float32Array; uncond: Float32Array },
    state: Readonly<TensorState>,
    noise: RngStream,
    history?: Readonly<Record<string, Float32Array>>,
  ): Promise<SamplerCarry> {
    let x = latents;
    const names = this.lowered.history ?? [];
    let hist = names.map((n) => history?.[n] ?? new Float32Array(this.latentSize));
    const needsNoise = this.sample.inputs.some((i) => i.name === 'noise');
    for (let i = from; i < to; i++) {
      const s = this.lowered.sampler[i]!;
      if (!s.feeds) throw new Error(`internal: sampler step ${i} has no feeds`);
      const scalars: Record<string, Float32Array> = {};
      for (const [name, v] of Object.entries(s.feeds)) scalars[name] = f32(v);
      const out: Outputs = await this.sample.run(
        this.feedsFor(
          this.sample,
          {
            latents: x,
            ...scalars,
            ...Object.fromEntries(names.map((n, j) => [n, hist[j]])),
            noise: needsNoise ? noise.fillNormal(new Float32Array(this.latentSize)) : undefined,
            context: cond.context,
            uncond_context: cond.uncond,
          },
          state,
        ),
      );
      x = out.latents_out as Float32Array;
      if (names.length > 0) hist = [out.x0 as Float32Array, ...hist].slice(0, names.length);
    }
    return { latents: x, history: Object.fromEntries(names.map((n, j) => [n, hist[j]!])) };
  }

  /** Decodes every frame of B videos and scores them. */
  async decodeAll(latents: Float32Array, textEmbed: Float32Array, own: Readonly<Record<string, Feed>> = {}): Promise<DecodedBatch> {
    const out = await this.decode.run(this.feedsFor(this.decode, { latents, text_embed: textEmbed, ...own }));
    const rewards: Record<string, number> = {};
    for (const [name, v] of Object.entries(out)) if (name.startsWith('reward.')) rewards[name.slice(7)] = (v as Float32Array)[0]!;
    return { frames: out.frames as Float32Array, rewards, loss: (out.loss as Float32Array)[0]! };
  }

  /** Full no-gradient sampling of B prompts with the LoRA in `state`, every frame decoded. */
  async generate(prompts: readonly string[], state: Readonly<TensorState>, rng: RngStream): Promise<DecodedBatch> {
    const cond = await this.conditioning(prompts);
    const x = rng.fillNormal(new Float32Array(this.latentSize));
    const final = await this.sampleSteps(x, 0, this.lowered.sampler.length, cond, state, rng);
    return this.decodeAll(final.latents, cond.textEmbed, cond.own);
  }
}

/** Split decoded frames [B T, 3, H, W] into B videos. */
export type { TypedArray };
