// The full-size CLIP reward networks, as graphs over the parameter store: PickScore and HPSv2
// (CLIP ViT-H/14 image tower; score = similarity to the prompt's text embedding) and the LAION
// aesthetic predictor (CLIP ViT-L/14 image embedding -> MLP 768-1024-128-64-16-1).
//   PickScore_v1 (arXiv 2305.01569; yuvalkirstain/PickScore): logit_scale * cos(image, text)
//   HPSv2 (arXiv 2306.09341; tgxs002/HPSv2): open_clip ViT-H-14, cos(image, text)
//   LAION aesthetic predictor (christophschuhmann/improved-aesthetic-predictor): MLP on the
//     L2-normalised ViT-L/14 image embedding
// Each network's parameters live under `reward.<name>.` in the store. What these graphs do not
// do yet (the reward networks' own issue): their checkpoints are not loaded (a run without them
// stops before lowering), and the text embedding is the one the lowering passes in (the
// conditioning text tower's), not each reward's own text tower. So today they are right in
// shape, size, cost and preprocessing (./preprocess.ts, each reference's own steps) — what
// `vplc compile`/`explain --graph` report for a full-size pipeline — not in value.
import { Builder } from '../../tensor/ir/builder.ts';
import type { Value } from '../../tensor/ir/graph.ts';
import { buildClipImageEncoder, type ClipConfig, clipL14Config, openClipHConfig } from '../models/clip/index.ts';
import { init, linear, type NN, parameter } from '../nn/index.ts';
import type { RewardBuilder } from './mix.ts';
import { REWARD_PREPROCESS, referencePreprocess } from './preprocess.ts';
import { l2normalize } from './tiny.ts';

/** Hidden widths of the LAION aesthetic MLP after the 768-d embedding. */
const AESTHETIC_MLP = [1024, 128, 64, 16, 1] as const;

/** Per-frame text rows [N, E] from per-video text [videos, E]. */
function textPerFrame(b: Builder, text: Value, framesPerVideo: number): Value {
  const videos = text.shape[0];
  const e = text.shape[1];
  return b.reshape(b.expand(b.unsqueeze(text, [1]), [videos, framesPerVideo, e]), [videos * framesPerVideo, e]);
}

/**
 * The full-size learned rewards as reward-mix builders. Parameters are named from the root
 * scope (`reward.<name>.visual...`), like the tiny rewards' (./tiny.ts).
 */
export function clipScoreBuilders(nn: NN): Record<string, RewardBuilder> {
  const rooted = (bb: Builder): NN => ({ ...nn, b: new Builder(bb.graph) });
  const imageEmbedding = (bb: Builder, name: 'pickscore' | 'hps' | 'aesthetic', config: ClipConfig, frames: Value): Value => {
    const root = rooted(bb);
    const spec = REWARD_PREPROCESS[name];
    if (spec.size !== config.vision.imageSize) throw new Error(`${name}: preprocessing makes ${spec.size}x${spec.size} images, the image tower takes ${config.vision.imageSize}`);
    return root.b.within(`reward.${name}`, () => l2normalize(root.b, buildClipImageEncoder(root, config, referencePreprocess(root.b, frames, spec)).pooled));
  };
  const similarity = (bb: Builder, name: 'pickscore' | 'hps', frames: Value, framesPerVideo: number, text: Value | undefined): Value => {
    if (!text) throw new Error(`${name} needs the prompt's text embedding (train_step input text_embed)`);
    const image = imageEmbedding(bb, name, openClipHConfig, frames);
    const t = l2normalize(bb, bb.cast(text, image.dtype));
    if (t.shape[1] !== image.shape[1]) throw new Error(`${name}: text embedding width ${t.shape[1]} is not the image embedding's ${image.shape[1]}`);
    return bb.reduceSum(bb.mul(image, textPerFrame(bb, t, framesPerVideo)), [-1], false);
  };
  return {
    pickscore: (bb, { frames, framesPerVideo, text }) => {
      const cos = similarity(bb, 'pickscore', frames, framesPerVideo, text);
      const root = rooted(bb);
      // CLIPModel keeps the log of the scale (initialised to log(1/0.07) = ln(100) at the end of training)
      const logScale = root.b.within('reward.pickscore', () => parameter(root, 'logit_scale', [], { init: init.constant(Math.log(100)), dtype: cos.dtype }));
      return bb.mul(cos, bb.exp(logScale));
    },
    hps: (bb, { frames, framesPerVideo, text }) => similarity(bb, 'hps', frames, framesPerVideo, text),
    aesthetic: (bb, { frames }) => {
      const image = imageEmbedding(bb, 'aesthetic', clipL14Config, frames);
      const root = rooted(bb);
      const score = root.b.within('reward.aesthetic.mlp', () => {
        // layers.{0,2,4,6,7}: Linear, with Dropout between the first ones (none at inference)
        const names = ['layers.0', 'layers.2', 'layers.4', 'layers.6', 'layers.7'];
        let h = image;
        AESTHETIC_MLP.forEach((out, i) => {
          h = linear(root, names[i]!, h, { out });
        });
        return h;
      });
      return bb.reshape(score, [image.shape[0]]);
    },
  };
}
