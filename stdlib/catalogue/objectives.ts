// Training objectives: what the loss is. `reward` is VADER, `consistency` is T2V-Turbo,
// `denoise` is plain supervised fine-tuning (SVD's training stages).
import type { CallForm, ComponentEntry, ParamSpec } from './types.ts';

export interface ObjectiveEntry extends ComponentEntry {
  kind: 'objective';
  /** Needs a `data` block of captioned videos (it learns from real latents). */
  needsData: boolean;
  /** Generates videos with the sampler during training. */
  samples: boolean;
}

const int = (name: string, doc: string, min: number): ParamSpec => ({ name, doc, type: { kind: 'int' }, min, max: 1024 });
const float = (name: string, doc: string): ParamSpec => ({ name, doc, type: { kind: 'float' } });

export const decodeForms: readonly CallForm[] = [
  { name: 'random', doc: 'k frames drawn at random each step.', args: [{ ...int('k', 'Frames decoded.', 1), unit: 'frames' }] },
  { name: 'frame', doc: 'One fixed frame (0-based).', args: [{ ...int('i', 'Frame index.', 0), unit: 'frames' }] },
  { name: 'every', doc: 'Every n-th frame, starting at 0.', args: [int('n', 'Stride.', 1)] },
  { name: 'all', doc: 'Every frame.', args: [] },
];

export const backpropForms: readonly CallForm[] = [
  { name: 'last', doc: 'Gradient through the last k sampler steps (last(1) is DRaFT-1).', args: [{ ...int('k', 'Steps with gradient.', 1), unit: 'steps' }] },
  { name: 'random', doc: 'Cutoff step drawn uniformly once per video.', args: [] },
  { name: 'all', doc: 'Gradient through every sampler step.', args: [] },
];

/**
 * The reward-hacking watch of the objectives that score rewards at validation (what it does:
 * runtime/methods/common/watch.ts). Reward hacking, a mix satisfied by what it does not mean,
 * is reported by VADER's users (arXiv 2407.08737).
 */
const watchParams: readonly ParamSpec[] = [
  {
    name: 'watch', optional: true, type: { kind: 'component', of: 'reward' },
    doc: 'A held-out reward, scored at every validation and never trained on (not a term of the mix): if it falls while the training reward rises, the run is hacking its reward.',
  },
  {
    name: 'on_hacking', type: { kind: 'enum', values: ['warn', 'stop'] }, default: 'warn',
    doc: 'What the watch does when a validation shows reward hacking: warn, or stop (after that validation, as an interrupted run: checkpoint saved, the same command resumes; exit code 3).',
  },
  {
    name: 'diversity_drop', type: { kind: 'float' }, unit: 'fraction', default: 0.25, min: 0, max: 1,
    doc: 'Warn when the diversity of the validation videos falls below (1 - drop) x its first value (judged with 4 or more validation prompts; 1: never).',
  },
];

const decode: ParamSpec = { name: 'decode', doc: 'Frames decoded for image rewards: random(k), frame(i), every(n), all.', type: { kind: 'call', forms: decodeForms }, default: { mode: 'random', k: 1 } };

export const objectives: readonly ObjectiveEntry[] = [
  {
    kind: 'objective', name: 'reward', doc: 'Sample, decode, score, backpropagate -reward through the last sampler steps (VADER).',
    needsData: false, samples: true,
    params: [
      { name: 'reward', doc: 'Weighted reward mix: 1.0 * hps + 0.5 * aesthetic.', type: { kind: 'reward_mix' } },
      decode,
      { name: 'backprop', doc: 'Truncated backprop: last(k), random, all.', type: { kind: 'call', forms: backpropForms }, default: { mode: 'last', k: 1 } },
      { name: 'decode_og', doc: 'Stop at the cutoff and score the one-step x0 estimate (VADER on ModelScope).', type: { kind: 'bool' }, default: false },
      ...watchParams,
    ],
  },
  {
    kind: 'objective', name: 'consistency', doc: 'Consistency distillation from the frozen teacher with mixed reward feedback (T2V-Turbo).',
    needsData: true, samples: false,
    params: [
      { name: 'teacher_solver', doc: 'The teacher\'s ODE solver over the distillation grid.', type: { kind: 'component', of: 'solver' }, default: { name: 'ddim', steps: 50, skip: 20, eta: 0 } },
      {
        name: 'guidance', doc: 'Guidance scale w for the teacher and the guidance embedding.',
        type: { kind: 'call', number: 'constant', forms: [
          { name: 'uniform', doc: 'w drawn uniformly from [min, max] each step.', args: [float('min', 'Lower bound.'), float('max', 'Upper bound.')] },
          { name: 'constant', doc: 'A fixed w.', args: [float('value', 'Guidance scale.')] },
        ] },
        default: { mode: 'uniform', min: 5, max: 15 },
      },
      {
        name: 'distance', doc: 'Distance between student and target: huber(c) or l2.',
        type: { kind: 'call', forms: [
          { name: 'huber', doc: 'sqrt(d^2 + c^2) - c.', args: [{ ...float('c', 'Huber constant.'), greaterThan: 0, max: 1 }] },
          { name: 'l2', doc: 'Mean squared error.', args: [] },
        ] },
        default: { mode: 'huber', c: 0.001 },
      },
      { name: 'reward', doc: 'Reward feedback on the one-step prediction (optional).', type: { kind: 'reward_mix' }, default: [] },
      { ...decode, doc: 'Frames decoded for image rewards.', default: { mode: 'random', k: 5 } },
      { name: 'ema', doc: 'EMA rate of a target network (0: the student is its own target).', type: { kind: 'float' }, default: 0, min: 0, max: 1 },
      { name: 'guidance_embedding', doc: 'Add a trainable, zero-initialised guidance-scale embedding to the student.', type: { kind: 'bool' }, default: true },
      ...watchParams,
    ],
  },
  {
    kind: 'objective', name: 'denoise', doc: 'Supervised denoising loss on real videos (fine-tuning).',
    needsData: true, samples: false,
    params: [
      {
        name: 'noise', doc: 'Training noise levels: uniform timesteps, or edm(p_mean, p_std) for EDM models (their default: edm(-1.2, 1.2)).',
        type: { kind: 'call', forms: [
          { name: 'edm', doc: 'log sigma ~ N(p_mean, p_std).', args: [float('p_mean', 'Mean of log sigma.'), { ...float('p_std', 'Std of log sigma.'), greaterThan: 0 }] },
          { name: 'uniform', doc: 'Timesteps uniform over the training schedule.', args: [] },
        ] },
        default: { mode: 'uniform' },
      },
      {
        name: 'distance', doc: 'Loss between prediction and target.',
        type: { kind: 'call', forms: [
          { name: 'l2', doc: 'Mean squared error.', args: [] },
          { name: 'huber', doc: 'sqrt(d^2 + c^2) - c.', args: [{ ...float('c', 'Huber constant.'), greaterThan: 0, max: 1 }] },
        ] },
        default: { mode: 'l2' },
      },
    ],
  },
];
