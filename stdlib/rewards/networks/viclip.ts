// ViCLIP (arXiv 2307.06942; OpenGVLab/ViCLIP on Hugging Face), T2V-Turbo's video-text reward
// (arXiv 2405.18750): Ji4chenLi/t2v-turbo reward_fn/reward_fn.py get_vi_clip_score_fn scores
// cos(video, text) with ViCLIP's own towers (viclip/, size 'l'), the text through its
// SimpleTokenizer at context 32 (zero padded: CLIP_TEXT.tokenize) and bpe_simple_vocab_16e6.txt.gz;
// train_t2v_turbo_vc2.py trains on -mean(score) (video_rm_loss).
//
// Frames: the training script decodes `video_rm_batch_size` (8) frames strided evenly through
// the T generated ones: skip = T // 8, idx = arange(start, T, skip)[:8] with start drawn from
// [0, skip) at every step. A graph's indices are constants, so start is 0 here. The frames go
// through ResizeCropMinSize (short side to 224, bicubic, antialiased, then a RandomCrop(224): built
// here as the centre crop, see ../preprocess.ts) and ImageNet mean/std.
import { VplError } from '../../../diagnostics/error.ts';
import type { Builder } from '../../../tensor/ir/builder.ts';
import { formatShape, type Value } from '../../../tensor/ir/graph.ts';
import type { RewardParamValue } from '../../catalogue/rewards.ts';
import { buildViClipTextEncoder, buildViClipVideoEncoder, type ViClipConfig, viclipComponentOf, viclipKeyMap, viclipL14Config, viclipReducedConfig } from '../../models/viclip/index.ts';
import type { NN } from '../../nn/index.ts';
import { REWARD_PREPROCESS, referencePreprocess } from '../preprocess.ts';
import { l2normalize } from '../tiny.ts';
import type { RewardNetwork } from './network.ts';

export const VICLIP_FILE = 'ViClip-InternVid-10M-FLT.pth';

/**
 * The decoded frames train_t2v_turbo_vc2.py gives ViCLIP out of `decoded` per video (start 0):
 * every (decoded // count)-th, the first `count` of them. Fewer decoded frames than `count` is
 * VPL3002. (The reference asserts decoded > count; decoded = count takes them all.)
 */
export function viclipFrameIndices(decoded: number, count: number): number[] {
  if (decoded < count) {
    throw new VplError('VPL3002', `reward viclip scores ${count} frames strided evenly through each video, and only ${decoded} are decoded per video`, {
      help: `decode at least ${count} frames per video (ViCLIP-L takes ${count})`,
    });
  }
  const skip = Math.floor(decoded / count);
  return Array.from({ length: count }, (_, i) => i * skip);
}

/** The term's `frames` (default the temporal embedding's length), which the network must take. */
function framesOf(config: ViClipConfig, params: Readonly<Record<string, RewardParamValue>>): number {
  const frames = params.frames ?? config.frames;
  if (frames !== config.frames) {
    throw new VplError('VPL2007', `viclip(frames = ${String(frames)}): ViCLIP's temporal positional embedding has ${config.frames} positions, so it scores clips of exactly ${config.frames} frames`, {
      help: `set frames = ${config.frames} (T2V-Turbo asserts 8 as well)`,
    });
  }
  return frames;
}

/** Frames [videos * decoded, ...] -> the strided ones [videos * count, ...], video-major, without a Gather. */
function strided(b: Builder, frames: Value, decoded: number, count: number): Value {
  const indices = viclipFrameIndices(decoded, count);
  if (indices.length === decoded) return frames;
  const skip = Math.floor(decoded / count);
  const [n, ...item] = frames.shape;
  const videos = n / decoded;
  const size = item.reduce((p, d) => p * d, 1);
  // indices = 0, skip, .., (count - 1) skip: the first of every group of skip among the first count * skip
  const grouped = b.reshape(b.slice(b.reshape(frames, [videos, decoded, size]), 1, 0, count * skip), [videos, count, skip, size]);
  return b.reshape(b.slice(grouped, 2, 0, 1), [videos * count, ...item]);
}

/** L2-normalised video embeddings [videos, E] of decoded frames [videos * decoded, 3, H, W] in [-1, 1]. */
export function viclipVideoFeatures(nn: NN, config: ViClipConfig, frames: Value, decoded: number, count = config.frames): Value {
  const { b } = nn;
  if (frames.rank !== 4 || frames.shape[0] % decoded !== 0) throw new Error(`viclip: frames ${formatShape(frames.shape)} are not videos of ${decoded} frames [N, 3, H, W]`);
  const videos = frames.shape[0] / decoded;
  const spec = REWARD_PREPROCESS.viclip;
  const pixels = referencePreprocess(b, strided(b, frames, decoded, count), spec);
  const video = b.reshape(pixels, [videos, count, 3, spec.size, spec.size]);
  return l2normalize(b, buildViClipVideoEncoder(nn, config, video).pooled);
}

export const viclip: RewardNetwork<ViClipConfig> = {
  reward: 'viclip',
  config: viclipL14Config,
  reduced: viclipReducedConfig,
  files: [{ part: '', names: [VICLIP_FILE], what: 'the ViCLIP-L/14 weights (OpenGVLab/ViCLIP on Hugging Face)' }],
  keyMap: viclipKeyMap,
  componentOf: viclipComponentOf,
  prompt: { kind: 'text', tokenizer: { kind: 'clip-bpe', pad: 'zero' }, contextLength: viclipL14Config.text.contextLength, vocabSize: 49408, eotToken: 49407 },
  encodeText: (nn, config, tokens) => buildViClipTextEncoder(nn, config, tokens),
  textEmbedDim: (config) => config.embedDim,
  // Each frame as a one-frame clip, as ViCLIP.encode_vision embeds an image (the mean of the
  // temporal embedding): the per-frame embedding of the same vision tower.
  embedImages: (nn, config, frames) => {
    const spec = REWARD_PREPROCESS.viclip;
    const pixels = referencePreprocess(nn.b, frames, spec);
    const clips = nn.b.reshape(pixels, [frames.shape[0], 1, 3, spec.size, spec.size]);
    return l2normalize(nn.b, buildViClipVideoEncoder(nn, config, clips).pooled);
  },
  score: (nn, config, { frames, framesPerVideo, text }, params = {}) => {
    if (!text) throw new Error('viclip needs its text embedding');
    const video = viclipVideoFeatures(nn, config, frames, framesPerVideo, framesOf(config, params));
    if (text.shape[0] !== video.shape[0] || text.shape[1] !== video.shape[1]) {
      throw new Error(`viclip: text embedding ${formatShape(text.shape)} does not pair with the video embedding ${formatShape(video.shape)}`);
    }
    const b = nn.b;
    return b.reduceSum(b.mul(video, l2normalize(b, b.cast(text, video.dtype))), [-1], false);
  },
};
