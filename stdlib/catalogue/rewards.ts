// Rewards a pipeline can mix: learned (image-text, video-text, image-only), analytic ones that
// work on any model, and the tiny world's learned scorers. Loss forms follow METHODS.md.
import type { ComponentEntry } from './types.ts';

export type RewardModality = 'image_text' | 'video_text' | 'image' | 'video';

export interface RewardEntry extends ComponentEntry {
  kind: 'reward';
  modality: RewardModality;
  /** The fewest decoded frames it can score (video rewards need several). */
  minFrames: number;
  /** The loss minimised when this reward is used alone, as in the reference code. */
  loss: string;
  /** The network it runs, for `explain`. */
  network: string;
}

export const rewards: readonly RewardEntry[] = [
  {
    kind: 'reward', name: 'aesthetic', doc: 'LAION aesthetic predictor on CLIP ViT-L/14 image embeddings.',
    modality: 'image', minFrames: 1, loss: '0.1 * mean(abs(r - target))', network: 'CLIP ViT-L/14 + MLP 768-1024-128-64-16-1',
    params: [{ name: 'target', doc: 'Score the loss pulls towards.', type: { kind: 'float' }, default: 10, min: 0, max: 10 }],
  },
  {
    kind: 'reward', name: 'hps', doc: 'Human Preference Score: CLIP ViT-H/14 fine-tuned on human preference pairs.',
    modality: 'image_text', minFrames: 1, loss: 'mean(1 - cos(image, text))', network: 'OpenCLIP ViT-H/14',
    params: [{ name: 'version', doc: 'HPS release.', type: { kind: 'enum', values: ['v2', 'v2.1'] }, default: 'v2.1' }],
  },
  {
    kind: 'reward', name: 'pickscore', doc: 'PickScore_v1: CLIP ViT-H/14 preference scorer.',
    modality: 'image_text', minFrames: 1, loss: 'mean(abs(1 - score / 100)), score = logit_scale * cos', network: 'CLIP ViT-H/14',
    params: [],
  },
  {
    kind: 'reward', name: 'viclip', doc: 'ViCLIP video-text similarity over evenly strided frames.',
    modality: 'video_text', minFrames: 8, loss: '-cos(video, text)', network: 'ViCLIP ViT-L/14, joint space-time attention',
    params: [{ name: 'frames', doc: 'Frames sampled (evenly strided) from the decoded ones.', type: { kind: 'int' }, unit: 'frames', default: 8, min: 1, max: 64 }],
  },
  {
    kind: 'reward', name: 'actpred', doc: 'Action recognition: VideoMAE (Kinetics-400) confidence in the action the prompt names, over every decoded frame.',
    modality: 'video_text', minFrames: 8, loss: 'cross_entropy(logits, class named by the prompt)', network: 'VideoMAE-base, Kinetics-400',
    params: [],
  },
  {
    kind: 'reward', name: 'object_detection', doc: 'Mean detector confidence that a target object is present.',
    modality: 'image', minFrames: 1, loss: '-mean(confidence(object))', network: 'YOLOS',
    params: [{ name: 'object', doc: 'Object class to detect.', type: { kind: 'string' }, default: 'dog' }],
  },
  {
    kind: 'reward', name: 'compression', doc: 'Predicted JPEG size (CLIP-L + MLP): rewards compressible frames.',
    modality: 'image', minFrames: 1, loss: 'predicted_size', network: 'CLIP ViT-L/14 + MLP', params: [],
  },
  { kind: 'reward', name: 'brightness', doc: 'Mean pixel luminance (analytic).', modality: 'image', minFrames: 1, loss: '-mean(luma)', network: 'analytic', params: [] },
  { kind: 'reward', name: 'saturation', doc: 'Mean colour saturation (analytic).', modality: 'image', minFrames: 1, loss: '-mean(max(rgb) - min(rgb))', network: 'analytic', params: [] },
  { kind: 'reward', name: 'contrast', doc: 'Standard deviation of luminance (analytic).', modality: 'image', minFrames: 1, loss: '-std(luma)', network: 'analytic', params: [] },
  { kind: 'reward', name: 'colourfulness', doc: 'Hasler-Suesstrunk colourfulness (analytic).', modality: 'image', minFrames: 1, loss: '-colourfulness(rgb)', network: 'analytic', params: [] },
  {
    kind: 'reward', name: 'temporal_smoothness', doc: 'Negative mean squared difference between consecutive frames (analytic).',
    modality: 'video', minFrames: 2, loss: 'mean((x[t+1] - x[t])^2)', network: 'analytic', params: [],
  },
  {
    kind: 'reward', name: 'tiny_text_align', doc: 'The tiny world\'s learned text-video alignment score (tiny_clip).',
    modality: 'image_text', minFrames: 1, loss: 'mean(1 - cos(image, text))', network: 'tiny_clip', params: [],
  },
  {
    kind: 'reward', name: 'tiny_aesthetic', doc: 'The tiny world\'s learned aesthetic scorer.',
    modality: 'image', minFrames: 1, loss: '-mean(score)', network: 'tiny_clip + MLP', params: [],
  },
];
