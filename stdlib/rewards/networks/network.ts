// What a learned reward's network is to vplc: the files users download for it, the key map that
// reads them, what it takes from the prompt (its own text tower and tokenizer, or the class the
// prompt names), and the graph that scores decoded frames. One file per reward in this folder,
// one line in ./registry.ts. Pure: runtime/methods/common/reward-networks.ts finds and opens the
// files; the lowerings build the graphs.
//
// Every parameter lives under `reward.<name>.`; the names a network asks for are relative to that
// scope (`visual.conv1.weight`), and so are the key map's targets. Source keys are
// `<file part><key in that file>`.
import type { Value } from '../../../tensor/ir/graph.ts';
import type { KeyMap } from '../../models/keymap.ts';
import type { TextTokenizerSpec } from '../../models/clip/config.ts';
import type { NN } from '../../nn/index.ts';
import type { RewardParamValue } from '../../catalogue/rewards.ts';

/** One file (or sharded file) of a reward's folder. */
export interface RewardFile {
  /** Prefix of its keys in the key map (`clip/`, `head/`; '' when the reward has one file). */
  part: string;
  /**
   * Names accepted in the folder, preferred first. A name ending in `.index.json` is a shard
   * index (transformers' `weight_map`): its shards are read under the same part.
   */
  names: readonly string[];
  /** What it is, as its publisher names it, for messages (`PickScore_v1 (yuvalkirstain/PickScore_v1)`). */
  what: string;
  /** A reward parameter that picks other names (HPS `version = "v2"` -> HPS_v2_compressed.pt). */
  byParam?: { param: string; names: Readonly<Record<string, readonly string[]>> };
}

/** The prompt side of a reward: its own text tower, or the class the prompt names. */
export type RewardPrompt =
  | {
      kind: 'text';
      /** How its tokenizer pads (the reference's way, whatever files it is read from). */
      tokenizer: TextTokenizerSpec;
      /** Ids per prompt its text tower takes. */
      contextLength: number;
      /** The tokenizer's vocabulary size and end token, to refuse another tokenizer's files. */
      vocabSize: number;
      eotToken: number;
    }
  | {
      kind: 'class';
      /** The folder's file that maps class ids to names (config.json's id2label). */
      labels: string;
    };

/** What a network's graphs receive, besides the frames. */
export interface NetworkInputs {
  /** Decoded frames [N, 3, H, W] in [-1, 1], video-major. */
  frames: Value;
  framesPerVideo: number;
  /** Its own text tower's embedding of each video's prompt [videos, E] (prompt kind 'text'). */
  text?: Value;
  /** The class each video's prompt names [videos] int64 (prompt kind 'class'). */
  label?: Value;
}

export interface RewardNetwork<C = unknown> {
  /** The catalogue's reward name (stdlib/catalogue/rewards.ts). */
  reward: string;
  /** The published network's sizes. */
  config: C;
  /** The same key names at small widths, for tests and CI (tools/checkpoints writes such files). */
  reduced: C;
  files: readonly RewardFile[];
  /** The map from parameter names (relative to `reward.<name>.`) to `<part><key>`. */
  keyMap(config: C): KeyMap;
  /** The report's component of a source key (`visual`, `text`, `head`). */
  componentOf(key: string): string;
  prompt?: RewardPrompt;
  /** Prompt kind 'text': tokens [B, contextLength] int64 -> the text embedding [B, E]. */
  encodeText?(nn: NN, config: C, tokens: Value): Value;
  /** Prompt kind 'text': E, the width of that embedding. */
  textEmbedDim?(config: C): number;
  /**
   * The reward per frame [N] or per video [videos]: what the loss form reads. `params`: the
   * term's parameters (the catalogue's, defaults filled; absent when listing parameters).
   */
  score(nn: NN, config: C, inputs: NetworkInputs, params?: Readonly<Record<string, RewardParamValue>>): Value;
  /** L2-normalised image embeddings of the frames [N, E] (the reward-hacking watch's diversity). */
  embedImages?(nn: NN, config: C, frames: Value): Value;
}

/** A network with its config type erased (the registry's entries). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRewardNetwork = RewardNetwork<any>;

/** The scope every parameter of `reward`'s network lives in. */
export const rewardScope = (reward: string): string => `reward.${reward}`;
