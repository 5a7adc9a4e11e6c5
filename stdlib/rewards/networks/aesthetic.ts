// The LAION aesthetic predictor (christophschuhmann/improved-aesthetic-predictor): an MLP
// 768-1024-128-64-16-1 on the L2-normalised image embedding of OpenAI CLIP ViT-L/14, as VADER's
// aesthetic_loss_fn builds it (mihirp1998/VADER VADER-VideoCrafter/scripts/main/train_t2v_lora.py,
// AestheticScorerDiff: CLIPModel.from_pretrained("openai/clip-vit-large-patch14") and the head's
// state dict sac+logos+ava1-l14-linearMSE.pth). The head is an nn.Sequential whose Linear layers
// are layers.{0,2,4,6,7}; the Dropouts between have no weights and do nothing at inference.
import { clipL14Config, type ClipConfig } from '../../models/clip/config.ts';
import { clipPositionIdBuffers, clipVisionTransformersBlocks } from '../../models/clip/keymaps.ts';
import { underPrefixes } from '../../models/keymap.ts';
import { linear } from '../../nn/index.ts';
import { REWARD_PREPROCESS } from '../preprocess.ts';
import { clipImageFeatures, reducedClip } from './clip-towers.ts';
import type { RewardNetwork } from './network.ts';

/** The head's Linear layers: index in the nn.Sequential and output width (input: the 768-d embedding). */
export const AESTHETIC_HEAD: readonly { index: number; out: number }[] = [
  { index: 0, out: 1024 },
  { index: 2, out: 128 },
  { index: 4, out: 64 },
  { index: 6, out: 16 },
  { index: 7, out: 1 },
];

export const AESTHETIC_HEAD_FILE = 'sac+logos+ava1-l14-linearMSE.pth';

export const aesthetic: RewardNetwork<ClipConfig> = {
  reward: 'aesthetic',
  config: clipL14Config,
  // the head's input stays 768: only the tower shrinks
  reduced: reducedClip(clipL14Config, 768),
  files: [
    {
      part: 'clip/',
      names: ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json'],
      what: 'the CLIP ViT-L/14 weights (openai/clip-vit-large-patch14 on Hugging Face: CLIPModel or CLIPVisionModelWithProjection)',
    },
    { part: 'head/', names: [AESTHETIC_HEAD_FILE], what: 'the aesthetic MLP head (christophschuhmann/improved-aesthetic-predictor)' },
  ],
  keyMap: (config) => ({
    layout: 'transformers CLIP + aesthetic MLP',
    blocks: [...underPrefixes(clipVisionTransformersBlocks(config), '', 'clip/'), { target: 'mlp.', source: 'head/' }],
    ignore: [
      { keys: ['clip/text_model.*', 'clip/text_projection.weight', 'clip/logit_scale'], why: 'the text tower of CLIPModel: the aesthetic score reads the image embedding only' },
      { keys: clipPositionIdBuffers.map((k) => `clip/${k}`), why: 'an index buffer (arange) older transformers versions saved, not a weight' },
    ],
  }),
  componentOf: (key) => (key.startsWith('head/') ? 'head' : key.startsWith('clip/text') || key === 'clip/logit_scale' ? 'text' : 'visual'),
  embedImages: (nn, config, frames) => clipImageFeatures(nn, config, frames, REWARD_PREPROCESS.aesthetic),
  score: (nn, config, { frames }) => {
    const image = clipImageFeatures(nn, config, frames, REWARD_PREPROCESS.aesthetic);
    if (image.shape[1] !== 768) throw new Error(`aesthetic: the head takes a 768-d embedding, the tower gives ${image.shape[1]}`);
    const score = nn.b.within('mlp', () => AESTHETIC_HEAD.reduce((h, layer) => linear(nn, `layers.${layer.index}`, h, { out: layer.out }), image));
    return nn.b.reshape(score, [image.shape[0]]);
  },
};
