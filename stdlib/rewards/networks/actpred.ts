// VADER's action-recognition reward (mihirp1998/VADER Core/actpred_scorer.py ActPredScorer and
// VADER-VideoCrafter/scripts/main/train_t2v_lora.py actpred_loss_fn): VideoMAE-base fine-tuned
// on Kinetics-400 (Hugging Face MCG-NJU/videomae-base-finetuned-kinetics, a transformers
// VideoMAEForVideoClassification folder) scores every decoded frame of a video at once, and the
// loss is the cross-entropy of its logits to the class the prompt names (outputs.loss with
// labels = [class]). The score is its negative, per video, which the catalogue's loss form `neg`
// turns back into mean cross-entropy.
//
// As VADER does it: each frame [3, H, W] in [-1, 1] through x / 2 + 0.5 clamped, a square
// antialiased bilinear resize to 224 and ImageNet's mean/std (stdlib/rewards/preprocess.ts), the
// frames of a video stacked into pixel_values [1, T, 3, 224, 224]; from_pretrained(...,
// num_frames = T) sizes the position table for T frames, so every decoded frame is read.
//
// No embedImages: the network embeds a whole video (the fc_norm'ed mean of all its tubelet
// tokens), not a frame, and embedImages receives frames without the number per video. A video's
// embedding is `actpredForward(...).pooled`, for a watch that can ask per video.
import type { Builder } from '../../../tensor/ir/builder.ts';
import { formatShape, type Value } from '../../../tensor/ir/graph.ts';
import { ShapeError } from '../../../tensor/ir/ops.ts';
import { buildVideoMaeClassifier, reducedVideoMae, type VideoMaeConfig, videoMaeBaseKinetics, videoMaeClassifierKeyMap, videoMaeComponentOf, type VideoMaeOutput } from '../../models/videomae/index.ts';
import type { NN } from '../../nn/index.ts';
import { RewardMixError } from '../mix.ts';
import { REWARD_PREPROCESS, referencePreprocess } from '../preprocess.ts';
import type { RewardNetwork } from './network.ts';

/** The folder's config.json: the class names (id2label) come from it. */
export const ACTPRED_LABELS_FILE = 'config.json';

/**
 * The classifier on decoded frames [videos * T, 3, H, W] in [-1, 1], video-major: logits
 * [videos, classes] and each video's pooled embedding [videos, width]. A frame count the
 * tubelet does not divide is a pipeline problem (RewardMixError: the lowerings report it).
 */
export function actpredForward(nn: NN, config: VideoMaeConfig, frames: Value, framesPerVideo: number): VideoMaeOutput {
  const { b } = nn;
  if (frames.rank !== 4 || frames.shape[1] !== 3) throw new ShapeError(`in ${b.scope}: actpred expects frames [N, 3, H, W], got ${formatShape(frames.shape)}`);
  if (!Number.isInteger(framesPerVideo) || framesPerVideo < 1 || frames.shape[0] % framesPerVideo !== 0) {
    throw new ShapeError(`in ${b.scope}: ${frames.shape[0]} frames do not make videos of ${framesPerVideo} frames`);
  }
  if (framesPerVideo % config.tubeletSize !== 0) {
    throw new RewardMixError(
      `reward 'actpred': VideoMAE reads a video in tubelets of ${config.tubeletSize} frames, and ${framesPerVideo} decoded frames per video is not a multiple of ${config.tubeletSize}; decode an even number of frames`,
    );
  }
  const spec = REWARD_PREPROCESS.actpred;
  if (spec.size !== config.imageSize) throw new Error(`${config.name}: preprocessing makes ${spec.size}x${spec.size} frames, VideoMAE takes ${config.imageSize}`);
  const pixels = referencePreprocess(b, frames, spec); // [N, 3, 224, 224]
  const videos = frames.shape[0] / framesPerVideo;
  return buildVideoMaeClassifier(nn, config, b.reshape(pixels, [videos, framesPerVideo, 3, spec.size, spec.size]));
}

/** -cross_entropy(logits [B, C], labels [B] int64) per row [B]: the log-softmax at each label. */
export function negCrossEntropy(b: Builder, logits: Value, labels: Value): Value {
  const [rows, classes] = logits.shape;
  if (logits.rank !== 2 || labels.rank !== 1 || labels.shape[0] !== rows || (labels.dtype !== 'int64' && labels.dtype !== 'int32')) {
    throw new ShapeError(`in ${b.scope}: cross-entropy takes logits [B, C] and int64 labels [B], got ${formatShape(logits.shape)} and ${labels.dtype} ${formatShape(labels.shape)}`);
  }
  const logProbs = b.op('LogSoftmax', [logits], { axis: 1 });
  const ids = b.constantOf(Array.from({ length: classes }, (_, i) => i), [1, classes], labels.dtype, 'class_ids');
  const oneHot = b.cast(b.op('Equal', [b.unsqueeze(labels, [1]), ids]), logits.dtype); // [B, C]
  return b.reduceSum(b.mul(logProbs, oneHot), [1], false);
}

export const actpred: RewardNetwork<VideoMaeConfig> = {
  reward: 'actpred',
  config: videoMaeBaseKinetics,
  reduced: reducedVideoMae(videoMaeBaseKinetics),
  files: [
    {
      part: '',
      names: ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json'],
      what: 'the VideoMAE Kinetics-400 classifier weights (MCG-NJU/videomae-base-finetuned-kinetics on Hugging Face, with its config.json)',
    },
  ],
  keyMap: () => videoMaeClassifierKeyMap(),
  componentOf: videoMaeComponentOf,
  prompt: { kind: 'class', labels: ACTPRED_LABELS_FILE },
  score: (nn, config, { frames, framesPerVideo, label }) => {
    if (!label) throw new Error('actpred needs the class of each video');
    const { logits } = actpredForward(nn, config, frames, framesPerVideo);
    return negCrossEntropy(nn.b, logits, label);
  },
};
