// Text conditioning shared by the method engines: the `text_encode` graph run once per distinct
// prompt (cached), batches of prompt embeddings with the empty prompt as the unconditional
// context, what the learned rewards read of each prompt (their own text towers' embeddings, the
// class a prompt names), and feeding graph inputs by name.
import type { Feed, GraphSession, ProgramSessions } from '../../session.ts';
import { type PromptTokenizer, tinyPromptTokenizer } from './tokenizer.ts';
import type { TensorState } from '../../train/index.ts';

/** What decode_all returns for a batch of latents, in every method. */
export interface DecodedBatch {
  /** [B T, 3, H, W] in [-1, 1], video-major. */
  frames: Float32Array;
  /** Mean value of each reward over the batch's frames. */
  rewards: Record<string, number>;
  loss: number;
}

export interface Embedding {
  context: Float32Array;
  textEmbed: Float32Array;
  /** Per learned text reward: its own text tower's embedding (`text_embed.<name>`). */
  own: Record<string, Float32Array>;
}

/**
 * What the learned rewards need to read a prompt (runtime/methods/common/reward-networks.ts): a
 * text reward's own tokenizer (feeds `tokens.<name>` of text_encode), a classifier's class of a
 * prompt (feeds `label.<name>`; it throws a VplError for a prompt that names no class).
 */
export interface RewardPromptReaders {
  tokenizers: Readonly<Record<string, PromptTokenizer>>;
  classOf: Readonly<Record<string, (prompt: string) => number>>;
}

const noReaders: RewardPromptReaders = { tokenizers: {}, classOf: {} };

export interface Conditioning {
  /** [B, L, D] */
  context: Float32Array;
  /** The empty prompt's context, B times. */
  uncond: Float32Array;
  /** [B, E] */
  textEmbed: Float32Array;
  /** The learned rewards' prompt inputs by graph input name: `text_embed.<name>` [B, E_r], `label.<name>` [B]. */
  own: Record<string, Float32Array | BigInt64Array>;
}

export class TextConditioner {
  /** Words of the prompts the tokenizer does not know (reported once by the trainer). */
  readonly unknown = new Set<string>();
  private readonly cache = new Map<string, Embedding>();
  private readonly contextLength: number;
  private readonly contextSize: number;
  private readonly embedSize: number;

  constructor(
    private readonly text: GraphSession,
    readonly batch: number,
    /** The run's tokenizer (common/tokenizer.ts); the tiny world's when not given. */
    private readonly tokenizer: PromptTokenizer = tinyPromptTokenizer,
    private readonly readers: RewardPromptReaders = noReaders,
  ) {
    this.contextLength = text.inputs.find((i) => i.name === 'tokens')!.shape[1]!;
    // a tokenizer of another model would feed ids the text tower was not trained on
    if (tokenizer.contextLength !== this.contextLength) {
      throw new Error(`internal: the text_encode graph takes ${this.contextLength} tokens per prompt, ${tokenizer.description} gives ${tokenizer.contextLength}`);
    }
    this.contextSize = text.outputs.find((o) => o.name === 'context')!.shape.slice(1).reduce((a, b) => a * b, 1);
    // absent for a text tower without a pooled projection (no reward reads it then)
    this.embedSize = text.outputs.find((o) => o.name === 'text_embed')?.shape[1] ?? 0;
  }

  /** The embedding of one prompt (computed once; the graph's batch is filled with copies). */
  async embed(prompt: string): Promise<Embedding> {
    const hit = this.cache.get(prompt);
    if (hit) return hit;
    for (const w of this.tokenizer.unknown(prompt)) this.unknown.add(w);
    const copies = Array.from({ length: this.batch }, () => prompt);
    const feeds: Record<string, BigInt64Array> = { tokens: this.tokenizer.encode(copies) };
    for (const input of this.text.inputs) {
      if (!input.name.startsWith('tokens.')) continue;
      const reward = input.name.slice(7);
      const tokenizer = this.readers.tokenizers[reward];
      if (!tokenizer) throw new Error(`internal: no tokenizer for reward '${reward}' (text_encode input ${input.name})`);
      feeds[input.name] = tokenizer.encode(copies);
    }
    const out = await this.text.run(feeds);
    // one prompt's row of an output [B, ...] the graph filled with copies
    const row = (name: string) => {
      const all = out[name] as Float32Array;
      return all.slice(0, all.length / this.batch);
    };
    const own: Record<string, Float32Array> = {};
    for (const name of Object.keys(out)) if (name.startsWith('text_embed.')) own[name] = row(name);
    const e = { context: (out.context as Float32Array).slice(0, this.contextSize), textEmbed: out.text_embed ? (out.text_embed as Float32Array).slice(0, this.embedSize) : new Float32Array(0), own };
    this.cache.set(prompt, e);
    return e;
  }

  /** Context and text_embed of B prompts, and the empty prompt's context as uncond. */
  async conditioning(prompts: readonly string[]): Promise<Conditioning> {
    const context = new Float32Array(this.batch * this.contextSize);
    const uncond = new Float32Array(this.batch * this.contextSize);
    const textEmbed = new Float32Array(this.batch * this.embedSize);
    const empty = await this.embed('');
    const own: Record<string, Float32Array | BigInt64Array> = {};
    for (let i = 0; i < this.batch; i++) {
      const e = await this.embed(prompts[i]!);
      context.set(e.context, i * this.contextSize);
      textEmbed.set(e.textEmbed, i * this.embedSize);
      uncond.set(empty.context, i * this.contextSize);
      for (const [name, v] of Object.entries(e.own)) ((own[name] ??= new Float32Array(this.batch * v.length)) as Float32Array).set(v, i * v.length);
    }
    for (const [reward, classOf] of Object.entries(this.readers.classOf)) own[`label.${reward}`] = BigInt64Array.from(prompts.slice(0, this.batch), (p) => BigInt(classOf(p)));
    return { context, uncond, textEmbed, own };
  }
}

/** A graph's feeds by input name, from `available` first, then from the training state. */
export function feedsFor(graph: GraphSession, available: Record<string, Feed | undefined>, state?: Readonly<TensorState>): Record<string, Feed> {
  const feeds: Record<string, Feed> = {};
  for (const spec of graph.inputs) {
    const v = available[spec.name] ?? state?.[spec.name]?.data;
    if (v === undefined) throw new Error(`internal: no value for input '${spec.name}' of graph '${graph.name}'`);
    feeds[spec.name] = v;
  }
  return feeds;
}

/**
 * The prompt side of both method engines (reward/engine.ts: VADER, consistency/engine.ts: T2V-Turbo):
 * cached `text_encode` embeddings, the words the tokenizer does not know, feeds by name.
 */
export class ConditionedEngine {
  /** Prompt embeddings (text_encode, cached per prompt). */
  readonly text: TextConditioner;

  constructor(sessions: ProgramSessions, batch: number, tokenizer?: PromptTokenizer, readers?: RewardPromptReaders) {
    this.text = new TextConditioner(sessions.graph('text_encode'), batch, tokenizer, readers);
  }

  /** Words of the prompts the tokenizer does not know. */
  get unknown(): ReadonlySet<string> {
    return this.text.unknown;
  }

  embed(prompt: string): Promise<Embedding> {
    return this.text.embed(prompt);
  }

  conditioning(prompts: readonly string[]): Promise<Conditioning> {
    return this.text.conditioning(prompts);
  }

  feedsFor(graph: GraphSession, available: Record<string, Feed | undefined>, state?: Readonly<TensorState>): Record<string, Feed> {
    return feedsFor(graph, available, state);
  }
}
