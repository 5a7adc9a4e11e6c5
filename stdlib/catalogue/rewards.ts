// Rewards a pipeline can mix: learned (image-text, video-text, image-only), analytic ones that
// work on any model, and the tiny world's learned scorers.
//
// Each entry is the one place for the facts about its reward: what it scores (`modality`, and
// so whether it reads the prompt's text: `rewardNeedsText`), the loss form the reward mix
// builds (`lossForm`, with the hand-written `loss` text beside it; test/stdlib/rewards/
// catalogue.test.ts keeps the two in agreement), the pixel preprocessing its network expects
// (`preprocess`) and the tiny reward a `--tiny` smoke run substitutes (`tinyStandIn`).
//
// Loss forms and preprocessing are those of the reference code: mihirp1998/VADER
// (VADER-VideoCrafter/scripts/main/train_t2v_lora.py, Core/compression_scorer.py) and, for
// ViCLIP, Ji4chenLi/t2v-turbo (reward_fn/reward_fn.py).
import type { ComponentEntry } from './types.ts';

export type RewardModality = 'image_text' | 'video_text' | 'image' | 'video';

/** A reward parameter's value as a plan holds it (the same union as the Plan's PlanScalar). */
export type RewardParamValue = number | string | boolean;

/** One weighted term of a reward mix, every parameter filled (defaults included). */
export interface RewardTerm {
  reward: string;
  weight: number;
  /** The reward's parameters, every one filled (defaults included). */
  params: Record<string, RewardParamValue>;
}

/**
 * The loss a reward's per-item values r ([N] per frame or [B] per video) become. `C` is how a
 * constant is given: the catalogue may name one of the reward's parameters (`{ param }`, its
 * default when a term leaves it out); the reward mix resolves them to numbers (`LossForm`).
 */
export type LossFormOf<C> =
  /** scale * mean(|r - target|) */
  | { kind: 'abs_to_target'; scale: number; target: C }
  /** mean(1 - r) */
  | { kind: 'one_minus' }
  /** mean(|1 - r / divisor|) */
  | { kind: 'abs_one_minus_scaled'; divisor: number }
  /** -mean(r) */
  | { kind: 'neg' };

/** A constant of a loss form: a number, or the value of one of the reward's parameters. */
export type LossConstant = number | { param: string };
/** A loss form as the catalogue writes it. */
export type LossFormSpec = LossFormOf<LossConstant>;
/** A loss form with every constant resolved: what the graph builder reads. */
export type LossForm = LossFormOf<number>;

/** The pixel normalisations reward networks use, applied after [-1, 1] -> [0, 1]. */
export type PixelNorm = 'clip' | 'imagenet';
export const PIXEL_NORMS: Readonly<Record<PixelNorm, { mean: readonly [number, number, number]; std: readonly [number, number, number] }>> = {
  /** OpenAI CLIP's (used by LAION-aesthetic, HPS, PickScore and the compression scorer). */
  clip: { mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711] },
  /** ImageNet's (ViCLIP, VideoMAE, YOLOS). */
  imagenet: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
};

/**
 * How decoded frames are resized to a network's input:
 *   square                  to size x size (aspect not kept)
 *   short_side_centre_crop  short side to size (aspect kept), then the centre size x size
 *   short_side_random_crop  short side to size (aspect kept), then a random size x size crop
 *   height                  height to size, width scaled to keep the aspect, no crop
 */
export type ResizeMode = 'square' | 'short_side_centre_crop' | 'short_side_random_crop' | 'height';

/**
 * The preprocessing a reward's network expects of decoded frames [N, 3, H, W] in [-1, 1]. Every
 * kind but `tiny_clip` first maps pixels to [0, 1] (x / 2 + 0.5, clamped).
 *   none       analytic rewards: nothing more
 *   clip       resize, then CLIP mean/std (PIXEL_NORMS.clip)
 *   imagenet   resize, then ImageNet mean/std (PIXEL_NORMS.imagenet)
 *   tiny_clip  the tiny world: frames as decoded, in [-1, 1], bilinear resize to the tiny CLIP's
 *              image size when it differs, no normalisation (stdlib/rewards/tiny.ts)
 */
export type RewardPreprocess =
  | { kind: 'none' }
  | { kind: 'tiny_clip' }
  | { kind: PixelNorm; size: number; resize: ResizeMode; interpolation: 'bilinear' | 'bicubic' };

export interface RewardEntry extends ComponentEntry {
  kind: 'reward';
  /** What it scores; whether it reads the prompt's text follows from it (`rewardNeedsText`). */
  modality: RewardModality;
  /** The fewest decoded frames it can score (video rewards need several). */
  minFrames: number;
  /** The loss the reward mix builds when this reward is used alone, as in the reference code. */
  lossForm: LossFormSpec;
  /** What its builder returns per frame or per video (r, the value the loss form reads). */
  score: string;
  /** `lossForm` as text, for `explain` and docs/language.md (tested to agree with it). */
  loss: string;
  /** The pixel preprocessing its network expects (what its graph builder applies). */
  preprocess: RewardPreprocess;
  /** The network it runs, for `explain`. */
  network: string;
  /**
   * The files a learned reward's network loads, as their public sources name them, and where
   * they come from (the message of a run that cannot find them lists these).
   */
  checkpoint?: { files: readonly string[]; source: string };
  /** The tiny-world reward a `--tiny` smoke run scores with instead, when this one's network is not built. */
  tinyStandIn?: string;
  /** Why that stand-in is the same kind of reward (shown with the smoke run's notes). */
  tinyStandInReason?: string;
}

/** Whether rewards of a modality read the prompt's text embedding. */
export function modalityNeedsText(modality: RewardModality): boolean {
  return modality === 'image_text' || modality === 'video_text';
}

/** Whether rewards of a modality score whole videos (frames in order) rather than single frames. */
export function modalityScoresVideo(modality: RewardModality): boolean {
  return modality === 'video_text' || modality === 'video';
}

const clip224 = { kind: 'clip', size: 224, resize: 'square', interpolation: 'bilinear' } as const;
const tiny = { kind: 'tiny_clip' } as const;
const analytic = { kind: 'none' } as const;
const neg = { kind: 'neg' } as const;

/** Every learned reward's folder, when not the default `<weights root>/rewards/<name>/`. */
const filesParam = {
  name: 'files', doc: 'Folder holding the reward network\'s files, relative to the pipeline (default: rewards/<name>/ under the weights root).',
  type: { kind: 'string' }, default: '',
} as const;

export const rewards: readonly RewardEntry[] = [
  {
    kind: 'reward', name: 'aesthetic', doc: 'LAION aesthetic predictor on CLIP ViT-L/14 image embeddings.',
    modality: 'image', minFrames: 1, network: 'CLIP ViT-L/14 + MLP 768-1024-128-64-16-1',
    lossForm: { kind: 'abs_to_target', scale: 0.1, target: { param: 'target' } }, score: 'aesthetic score', loss: '0.1 * mean(abs(r - target))',
    preprocess: clip224,
    checkpoint: { files: ['config.json with model.safetensors (or pytorch_model.bin)', 'sac+logos+ava1-l14-linearMSE.pth'], source: 'openai/clip-vit-large-patch14 on Hugging Face and the MLP head of christophschuhmann/improved-aesthetic-predictor' },
    tinyStandIn: 'tiny_aesthetic', tinyStandInReason: 'an MLP head on CLIP image embeddings, as the tiny aesthetic head on the tiny CLIP',
    params: [{ name: 'target', doc: 'Score the loss pulls towards.', type: { kind: 'float' }, default: 10, min: 0, max: 10 }, filesParam],
  },
  {
    kind: 'reward', name: 'hps', doc: 'Human Preference Score: CLIP ViT-H/14 fine-tuned on human preference pairs.',
    modality: 'image_text', minFrames: 1, network: 'OpenCLIP ViT-H/14',
    lossForm: { kind: 'one_minus' }, score: 'cos(image, text)', loss: 'mean(1 - cos(image, text))',
    preprocess: clip224,
    checkpoint: { files: ['HPS_v2.1_compressed.pt (or HPS_v2_compressed.pt for version v2)', 'bpe_simple_vocab_16e6.txt.gz'], source: 'xswu/HPSv2 on Hugging Face (tgxs002/HPSv2) and the tokenizer file of the open_clip_torch package' },
    tinyStandIn: 'tiny_text_align', tinyStandInReason: 'a CLIP image-text cosine, as the tiny CLIP\'s',
    params: [{ name: 'version', doc: 'HPS release (which state dict is read).', type: { kind: 'enum', values: ['v2', 'v2.1'] }, default: 'v2.1' }, filesParam],
  },
  {
    kind: 'reward', name: 'pickscore', doc: 'PickScore_v1: CLIP ViT-H/14 preference scorer.',
    modality: 'image_text', minFrames: 1, network: 'CLIP ViT-H/14',
    lossForm: { kind: 'abs_one_minus_scaled', divisor: 100 }, score: 'logit_scale * cos', loss: 'mean(abs(1 - score / 100)), score = logit_scale * cos',
    preprocess: { kind: 'clip', size: 224, resize: 'short_side_centre_crop', interpolation: 'bicubic' },
    checkpoint: { files: ['model.safetensors (or pytorch_model.bin) with config.json', 'tokenizer.json (or vocab.json + merges.txt) with tokenizer_config.json'], source: 'yuvalkirstain/PickScore_v1 and the processor of laion/CLIP-ViT-H-14-laion2B-s32B-b79K on Hugging Face' },
    tinyStandIn: 'tiny_text_align', tinyStandInReason: 'a CLIP image-text similarity, as the tiny CLIP\'s cosine',
    params: [filesParam],
  },
  {
    kind: 'reward', name: 'viclip', doc: 'ViCLIP video-text similarity over evenly strided frames.',
    modality: 'video_text', minFrames: 8, network: 'ViCLIP ViT-L/14, joint space-time attention',
    lossForm: neg, score: 'cos(video, text)', loss: '-cos(video, text)',
    preprocess: { kind: 'imagenet', size: 224, resize: 'short_side_random_crop', interpolation: 'bicubic' },
    checkpoint: { files: ['ViClip-InternVid-10M-FLT.pth', 'bpe_simple_vocab_16e6.txt.gz'], source: 'OpenGVLab/ViCLIP on Hugging Face (OpenGVLab/InternVideo, Data/InternVid)' },
    tinyStandIn: 'tiny_text_align', tinyStandInReason: 'a video-text similarity; the tiny world has no video encoder, so the tiny CLIP\'s per-frame image-text cosine',
    // the temporal position embedding of ViViT-style ViCLIP has 8 rows (T2V-Turbo asserts 8 too)
    params: [{ name: 'frames', doc: 'Frames sampled (evenly strided) from the decoded ones: ViCLIP takes 8.', type: { kind: 'int' }, unit: 'frames', default: 8, min: 8, max: 8 }, filesParam],
  },
  {
    kind: 'reward', name: 'actpred', doc: 'Action recognition: VideoMAE (Kinetics-400) confidence in the action the prompt names, over every decoded frame.',
    modality: 'video_text', minFrames: 8, network: 'VideoMAE-base, Kinetics-400',
    lossForm: neg, score: '-cross_entropy(logits, class named by the prompt)', loss: 'cross_entropy(logits, class named by the prompt)',
    preprocess: { kind: 'imagenet', size: 224, resize: 'square', interpolation: 'bilinear' },
    checkpoint: { files: ['model.safetensors (or pytorch_model.bin) with config.json'], source: 'MCG-NJU/videomae-base-finetuned-kinetics on Hugging Face' },
    tinyStandIn: 'tiny_text_align', tinyStandInReason: 'agreement with what the prompt names; the tiny world has no action classifier, so the tiny CLIP\'s image-text cosine',
    params: [filesParam],
  },
  {
    kind: 'reward', name: 'object_detection', doc: 'Mean detector confidence that a target object is present.',
    modality: 'image', minFrames: 1, network: 'YOLOS',
    lossForm: neg, score: 'mean(confidence(object))', loss: '-mean(confidence(object))',
    preprocess: { kind: 'imagenet', size: 512, resize: 'height', interpolation: 'bilinear' },
    checkpoint: { files: ['model.safetensors (or pytorch_model.bin) with config.json'], source: 'hustvl/yolos-base on Hugging Face' },
    tinyStandIn: 'tiny_aesthetic', tinyStandInReason: 'a learned image-only score; the tiny world has no detector, so the tiny aesthetic head',
    params: [{ name: 'object', doc: 'Object class to detect.', type: { kind: 'string' }, default: 'dog' }],
  },
  {
    kind: 'reward', name: 'compression', doc: 'Predicted JPEG size (CLIP-L + MLP): rewards compressible frames.',
    modality: 'image', minFrames: 1, network: 'CLIP ViT-L/14 + MLP',
    lossForm: neg, score: '-predicted_size', loss: 'predicted_size',
    preprocess: clip224,
    checkpoint: { files: ['compressibility MLP weights', 'ViT-L-14.pt'], source: 'the compression scorer of mihirp1998/VADER (Core/compression_scorer.py) on OpenAI CLIP ViT-L/14' },
    tinyStandIn: 'tiny_aesthetic', tinyStandInReason: 'an MLP head on CLIP image embeddings, as the tiny aesthetic head on the tiny CLIP',
    params: [],
  },
  { kind: 'reward', name: 'brightness', doc: 'Mean pixel luminance (analytic).', modality: 'image', minFrames: 1, lossForm: neg, score: 'mean(luma)', loss: '-mean(luma)', preprocess: analytic, network: 'analytic', params: [] },
  { kind: 'reward', name: 'saturation', doc: 'Mean colour saturation (analytic).', modality: 'image', minFrames: 1, lossForm: neg, score: 'mean(max(rgb) - min(rgb))', loss: '-mean(max(rgb) - min(rgb))', preprocess: analytic, network: 'analytic', params: [] },
  { kind: 'reward', name: 'contrast', doc: 'Standard deviation of luminance (analytic).', modality: 'image', minFrames: 1, lossForm: neg, score: 'std(luma)', loss: '-std(luma)', preprocess: analytic, network: 'analytic', params: [] },
  { kind: 'reward', name: 'colourfulness', doc: 'Hasler-Suesstrunk colourfulness (analytic).', modality: 'image', minFrames: 1, lossForm: neg, score: 'colourfulness(rgb)', loss: '-colourfulness(rgb)', preprocess: analytic, network: 'analytic', params: [] },
  {
    kind: 'reward', name: 'temporal_smoothness', doc: 'Negative mean squared difference between consecutive frames (analytic).',
    modality: 'video', minFrames: 2, lossForm: neg, score: '-mean((x[t+1] - x[t])^2)', loss: 'mean((x[t+1] - x[t])^2)', preprocess: analytic, network: 'analytic', params: [],
  },
  {
    kind: 'reward', name: 'tiny_text_align', doc: 'The tiny world\'s learned text-video alignment score (tiny_clip).',
    modality: 'image_text', minFrames: 1, lossForm: { kind: 'one_minus' }, score: 'cos(image, text)', loss: 'mean(1 - cos(image, text))', preprocess: tiny, network: 'tiny_clip', params: [],
  },
  {
    kind: 'reward', name: 'tiny_aesthetic', doc: 'The tiny world\'s learned aesthetic scorer.',
    modality: 'image', minFrames: 1, lossForm: neg, score: 'score', loss: '-mean(score)', preprocess: tiny, network: 'tiny_clip + MLP', params: [],
  },
];

/** Where a reward's values come from, by its preprocessing: analytic formulas, a full-size learned network, or the tiny world's. */
export type RewardClass = 'analytic' | 'learned' | 'tiny';

export function rewardClassOf(entry: RewardEntry): RewardClass {
  return entry.preprocess.kind === 'none' ? 'analytic' : entry.preprocess.kind === 'tiny_clip' ? 'tiny' : 'learned';
}

function lookupReward(name: string): RewardEntry | undefined {
  return rewards.find((r) => r.name === name);
}

/** Whether the reward reads the prompt's text embedding (from its modality; false for a name the catalogue does not have). */
export function rewardNeedsText(name: string): boolean {
  const entry = lookupReward(name);
  return entry !== undefined && modalityNeedsText(entry.modality);
}

/** Whether the reward scores whole videos (video, video_text) rather than single frames. */
export function rewardScoresVideo(name: string): boolean {
  const entry = lookupReward(name);
  return entry !== undefined && modalityScoresVideo(entry.modality);
}

/** The tiny reward `--tiny` scores with instead of `name` (undefined: `name` is scored as it is). */
export function tinyStandInOf(name: string): string | undefined {
  return lookupReward(name)?.tinyStandIn;
}

/** Every reward with a tiny stand-in -> that stand-in (the map `--tiny` applies). */
export const tinyStandIns: Readonly<Record<string, string>> = Object.fromEntries(rewards.flatMap((r) => (r.tinyStandIn ? [[r.name, r.tinyStandIn]] : [])));

/** A loss form as a formula over `r` (the catalogue's own text of it is `RewardEntry.loss`). */
export function lossFormula(form: LossFormSpec, r = 'r'): string {
  switch (form.kind) {
    case 'abs_to_target':
      return `${form.scale} * mean(abs(${r} - ${typeof form.target === 'number' ? form.target : form.target.param}))`;
    case 'one_minus':
      return `mean(1 - ${r})`;
    case 'abs_one_minus_scaled':
      return `mean(abs(1 - ${r} / ${form.divisor}))`;
    case 'neg':
      return `-mean(${r})`;
  }
}
