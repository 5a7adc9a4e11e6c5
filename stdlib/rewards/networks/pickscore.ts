// PickScore_v1 (arXiv 2305.01569; yuvalkirstain/PickScore): a CLIP ViT-H/14 fine-tuned on
// Pick-a-Pic preferences, published as a transformers CLIPModel folder (yuvalkirstain/PickScore_v1:
// config.json + model.safetensors or pytorch_model.bin). Score = logit_scale.exp() *
// cos(image, text) with its own text tower; the tokenizer is the processor's of
// laion/CLIP-ViT-H-14-laion2B-s32B-b79K (padding="max_length", 77), as VADER's pick_score_loss_fn
// (mihirp1998/VADER VADER-VideoCrafter/scripts/main/train_t2v_lora.py) calls it.
import { type ClipConfig, openClipHConfig } from '../../models/clip/config.ts';
import { clipModelTransformersBlocks, clipPositionIdBuffers } from '../../models/clip/keymaps.ts';
import { init, parameter } from '../../nn/index.ts';
import { REWARD_PREPROCESS } from '../preprocess.ts';
import { clipComponentOf, clipImageFeatures, clipTextFeatures, cosinePerFrame, reducedClip } from './clip-towers.ts';
import type { RewardNetwork } from './network.ts';

/** transformers CLIPConfig of PickScore_v1: ViT-H/14, gelu, text 1024 x 24, vision 1280 x 32, embedding 1024. */
export const pickscoreConfig: ClipConfig = { ...openClipHConfig, name: 'pickscore_v1', text: { ...openClipHConfig.text, contextLayer: 'last' }, checkpointPrefix: '' };

export const pickscore: RewardNetwork<ClipConfig> = {
  reward: 'pickscore',
  config: pickscoreConfig,
  reduced: reducedClip(pickscoreConfig),
  files: [{ part: '', names: ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json'], what: 'the PickScore_v1 CLIPModel weights (yuvalkirstain/PickScore_v1 on Hugging Face)' }],
  keyMap: (config) => ({
    layout: 'transformers CLIPModel',
    blocks: clipModelTransformersBlocks(config),
    ignore: [{ keys: clipPositionIdBuffers, why: 'an index buffer (arange) older transformers versions saved, not a weight' }],
  }),
  componentOf: clipComponentOf,
  prompt: { kind: 'text', tokenizer: { kind: 'clip-bpe', pad: 'from-files' }, contextLength: 77, vocabSize: 49408, eotToken: 49407 },
  encodeText: (nn, config, tokens) => clipTextFeatures(nn, config, tokens),
  textEmbedDim: (config) => config.embedDim,
  embedImages: (nn, config, frames) => clipImageFeatures(nn, config, frames, REWARD_PREPROCESS.pickscore),
  score: (nn, config, { frames, framesPerVideo, text }) => {
    if (!text) throw new Error('pickscore needs its text embedding');
    const cos = cosinePerFrame(nn.b, clipImageFeatures(nn, config, frames, REWARD_PREPROCESS.pickscore), text, framesPerVideo);
    // CLIPModel keeps the log of the scale (ln 100 once trained)
    const logScale = parameter(nn, 'logit_scale', [], { init: init.constant(Math.log(100)), dtype: cos.dtype });
    return nn.b.mul(cos, nn.b.exp(logScale));
  },
};
