// HPSv2 (arXiv 2306.09341; tgxs002/HPSv2): open_clip ViT-H-14 fine-tuned on human preferences,
// published as one state dict, HPS_v2.1_compressed.pt (or HPS_v2_compressed.pt), that
// hpsv2/img_score.py loads with model.load_state_dict(checkpoint['state_dict']) into the whole
// open_clip model: open_clip's own names (src/open_clip/model.py CLIP), both towers and
// logit_scale. Score = cos(image, text) with its own text tower and open_clip's tokenizer
// (get_tokenizer('ViT-H-14'): zero padded, 77), as VADER's hps_loss_fn
// (mihirp1998/VADER VADER-VideoCrafter/scripts/main/train_t2v_lora.py).
import { type ClipConfig, openClipHConfig } from '../../models/clip/config.ts';
import { REWARD_PREPROCESS } from '../preprocess.ts';
import { clipComponentOf, clipImageFeatures, clipTextFeatures, cosinePerFrame, reducedClip } from './clip-towers.ts';
import type { RewardNetwork } from './network.ts';

export const hpsConfig: ClipConfig = { ...openClipHConfig, name: 'hps_v2', text: { ...openClipHConfig.text, contextLayer: 'last' }, checkpointPrefix: '' };

export const hps: RewardNetwork<ClipConfig> = {
  reward: 'hps',
  config: hpsConfig,
  reduced: reducedClip(hpsConfig),
  files: [{
    part: '',
    names: ['HPS_v2.1_compressed.pt'],
    what: 'the HPSv2 state dict (xswu/HPSv2 on Hugging Face)',
    // the same architecture in both releases: the version picks the file
    byParam: { param: 'version', names: { 'v2.1': ['HPS_v2.1_compressed.pt'], v2: ['HPS_v2_compressed.pt'] } },
  }],
  keyMap: () => ({
    layout: 'open_clip state dict',
    // open_clip's own names: each tower's prefix maps to itself
    blocks: ['visual.', 'transformer.', 'token_embedding.', 'ln_final.', 'positional_embedding', 'text_projection'].map((name) => ({ target: name, source: name })),
    ignore: [{ keys: ['logit_scale'], why: "CLIP's contrastive temperature: HPS scores the plain cosine" }],
  }),
  componentOf: clipComponentOf,
  prompt: { kind: 'text', tokenizer: { kind: 'clip-bpe', pad: 'zero' }, contextLength: 77, vocabSize: 49408, eotToken: 49407 },
  encodeText: (nn, config, tokens) => clipTextFeatures(nn, config, tokens),
  textEmbedDim: (config) => config.embedDim,
  embedImages: (nn, config, frames) => clipImageFeatures(nn, config, frames, REWARD_PREPROCESS.hps),
  score: (nn, config, { frames, framesPerVideo, text }) => {
    if (!text) throw new Error('hps needs its text embedding');
    return cosinePerFrame(nn.b, clipImageFeatures(nn, config, frames, REWARD_PREPROCESS.hps), text, framesPerVideo);
  },
};
