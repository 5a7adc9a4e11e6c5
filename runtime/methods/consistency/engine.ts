// Drives the consistency objective's graphs (compiler/methods/consistency/lower.ts documents them, with
// `decode_all`): prompt embeddings cached per prompt, the frozen VAE
// encoder on batches of videos, the multistep consistency sampler (stream of `consistency_step`
// calls, no CFG: w is embedded) and decoding with the rewards. Used by the T2V-Turbo trainer
// (consistency.ts), `vplc sample` and bench/turbo.ts.
import type { ConsistencyLoweredProgram } from '../../../compiler/lower/index.ts';
import type { Plan } from '../../../compiler/plan.ts';
import type { RngStream } from '../../random.ts';
import type { Feed, ProgramSessions } from '../../session.ts';
import type { TensorState } from '../../train/index.ts';
import type { PromptTokenizer } from '../common/tokenizer.ts';
import { ConditionedEngine, type Conditioning, type RewardPromptReaders } from '../common/conditioning.ts';
import type { DecodedBatch } from '../common/conditioning.ts';

const f32 = (x: number) => Float32Array.of(x);

export type { Conditioning } from '../common/conditioning.ts';

export class ConsistencyEngine extends ConditionedEngine {
  readonly batch: number;
  /** Floats of one video's latents [C, T, h, w]. */
  readonly latentSize: number;
  /** Floats of one video [3, F, H, W]. */
  readonly videoSize: number;

  constructor(
    readonly plan: Plan,
    readonly lowered: ConsistencyLoweredProgram,
    readonly sessions: ProgramSessions,
    tokenizer?: PromptTokenizer,
    readers?: RewardPromptReaders,
  ) {
    super(sessions, plan.train.batch, tokenizer, readers);
    this.batch = plan.train.batch;
    const [C, T, h, w] = plan.derived.latent_shape;
    this.latentSize = C * T * h * w;
    this.videoSize = 3 * plan.model.frames * plan.model.size.height * plan.model.size.width;
  }

  /**
   * Posterior means (zero noise) x scale factor of up to B videos, each [3, F, H, W] in [-1, 1];
   * a short batch is padded with copies of its first video.
   */
  async encode(videos: readonly Float32Array[]): Promise<Float32Array[]> {
    if (videos.length === 0 || videos.length > this.batch) throw new Error(`internal: encode takes 1..${this.batch} videos`);
    const session = this.sessions.graph('encode_video');
    const video = new Float32Array(this.batch * this.videoSize);
    for (let i = 0; i < this.batch; i++) video.set(videos[i] ?? videos[0]!, i * this.videoSize);
    const out = await session.run({ video, noise: new Float32Array(this.batch * this.latentSize) });
    const z = out.z0 as Float32Array;
    return videos.map((_, i) => z.slice(i * this.latentSize, (i + 1) * this.latentSize));
  }

  /** The multistep consistency sampler from `latents` ([B, C, T, h, w] N(0,1)) with guidance w. */
  async sample(latents: Float32Array, cond: Conditioning, state: Readonly<TensorState>, noise: RngStream, guidance: number): Promise<Float32Array> {
    const step = this.sessions.graph('consistency_step');
    let x = latents;
    let denoised = x;
    const w = new Float32Array(this.batch).fill(guidance);
    for (const s of this.lowered.consistencySampler) {
      const out = await step.run(
        this.feedsFor(
          step,
          {
            latents: x,
            timestep: f32(s.t),
            alpha_t: f32(s.alphaT),
            c_skip: f32(s.cSkip),
            c_out: f32(s.cOut),
            alpha_next: f32(s.alphaNext),
            noise: noise.fillNormal(new Float32Array(this.batch * this.latentSize)),
            context: cond.context,
            guidance: w,
          },
          state,
        ),
      );
      x = out.latents_out as Float32Array;
      denoised = out.denoised as Float32Array;
    }
    return denoised;
  }

  async decodeAll(latents: Float32Array, textEmbed: Float32Array, own: Readonly<Record<string, Feed>> = {}): Promise<DecodedBatch> {
    const decode = this.sessions.graph('decode_all');
    const out = await decode.run(this.feedsFor(decode, { latents, text_embed: textEmbed, ...own }));
    const rewards: Record<string, number> = {};
    for (const [name, v] of Object.entries(out)) if (name.startsWith('reward.')) rewards[name.slice(7)] = (v as Float32Array)[0]!;
    return { frames: out.frames as Float32Array, rewards, loss: out.loss ? (out.loss as Float32Array)[0]! : 0 };
  }

  /** B prompts -> N(0,1) latents from `rng` -> the consistency sampler -> decoded and scored. */
  async generate(prompts: readonly string[], state: Readonly<TensorState>, rng: RngStream, guidance: number): Promise<DecodedBatch> {
    const cond = await this.conditioning(prompts);
    const x = rng.fillNormal(new Float32Array(this.batch * this.latentSize));
    const z = await this.sample(x, cond, state, rng, guidance);
    return this.decodeAll(z, cond.textEmbed, cond.own);
  }
}
