// Samplers (how videos are generated) and solvers (the teacher's step in consistency
// distillation). Defaults here are generic; each model's entry overrides them with its recipe.
import type { ComponentEntry, ParamSpec } from './types.ts';

export interface SamplerEntry extends ComponentEntry {
  kind: 'sampler';
  /** Model predictions the sampler can integrate. */
  predictions: readonly ('epsilon' | 'flow' | 'edm_v')[];
}

const steps = (def: number): ParamSpec => ({ name: 'steps', doc: 'Denoising steps.', type: { kind: 'int' }, unit: 'steps', default: def, min: 1, max: 1000 });
const guidance = (def: number): ParamSpec => ({ name: 'guidance', doc: 'Classifier-free guidance scale (1: no guidance).', type: { kind: 'float' }, default: def, min: 0, max: 50 });

export const samplers: readonly SamplerEntry[] = [
  {
    kind: 'sampler', name: 'ddim', doc: 'DDIM over a uniform timestep stride, with classifier-free guidance.', predictions: ['epsilon'],
    params: [
      steps(25),
      { name: 'eta', doc: 'Stochasticity (0: deterministic DDIM, 1: DDPM-like).', type: { kind: 'float' }, default: 1.0, min: 0, max: 1 },
      guidance(12.0),
      { name: 'use_scale', doc: 'VideoCrafter2 x0 rescaling (1 to 0.7 over t < 400).', type: { kind: 'bool' }, default: false },
    ],
  },
  {
    kind: 'sampler', name: 'dpm_solver',
    doc: "DPM-Solver++ multistep on the data prediction (deterministic, with classifier-free guidance), as VADER samples ModelScope (diffusers' DPMSolverMultistepScheduler defaults): diffusers' linspace grid (999, 959, ..., 40 for 25 steps), lower orders on the first steps and, under 15 steps, on the last two; the last step lands on sigma = 0, i.e. on its x0 estimate.",
    predictions: ['epsilon'],
    params: [
      { ...steps(25), max: 999 }, // the linspace grid of 1000 training steps has 999 distinct points after 0
      { name: 'order', doc: 'Solver order: 1 is deterministic DDIM, 2 DPM-Solver++(2M) (VADER\'s), 3 the third-order multistep (Taylor form).', type: { kind: 'int' }, default: 2, min: 1, max: 3 },
      guidance(9.0),
    ],
  },
  {
    kind: 'sampler', name: 'rf_euler', doc: 'Euler steps along a rectified-flow velocity (Open-Sora).', predictions: ['flow'],
    params: [
      steps(30), guidance(7.0),
      { name: 'shift', doc: 'Resolution/length timestep shift t\' = r t / (1 + (r - 1) t).', type: { kind: 'bool' }, default: true },
    ],
  },
  {
    kind: 'sampler', name: 'edm_euler', doc: 'Euler over Karras sigmas with per-frame linear guidance (SVD).', predictions: ['edm_v'],
    params: [
      steps(25),
      { name: 'sigma_min', doc: 'Smallest noise level.', type: { kind: 'float' }, default: 0.002, greaterThan: 0, max: 1000 },
      { name: 'sigma_max', doc: 'Largest noise level.', type: { kind: 'float' }, default: 700, greaterThan: 0, max: 10000 },
      { name: 'rho', doc: 'Karras schedule exponent.', type: { kind: 'float' }, default: 7, greaterThan: 0, max: 100 },
      { name: 'guidance_min', doc: 'Guidance scale on the first frame.', type: { kind: 'float' }, default: 1.0, min: 0, max: 50 },
      { name: 'guidance_max', doc: 'Guidance scale on the last frame.', type: { kind: 'float' }, default: 2.5, min: 0, max: 50 },
    ],
  },
  {
    kind: 'sampler', name: 'consistency', doc: 'Few-step consistency sampling (T2V-Turbo): guidance embedded, no CFG pass.', predictions: ['epsilon'],
    params: [
      { ...steps(4), max: 50 },
      { name: 'guidance', doc: 'Guidance scale fed to the guidance embedding.', type: { kind: 'float' }, default: 7.5, min: 0, max: 50 },
    ],
  },
];

export interface SolverEntry extends ComponentEntry {
  kind: 'solver';
}

export const solvers: readonly SolverEntry[] = [
  {
    kind: 'solver', name: 'ddim', doc: 'Deterministic DDIM over a grid of `steps` timesteps, jumping `skip` training steps.',
    params: [
      { name: 'steps', doc: 'Points in the solver grid.', type: { kind: 'int' }, unit: 'steps', default: 50, min: 2, max: 1000 },
      { name: 'skip', doc: 'Training timesteps between t_s and t_e.', type: { kind: 'int' }, default: 20, min: 1, max: 1000 },
      { name: 'eta', doc: 'Stochasticity of the teacher step.', type: { kind: 'float' }, default: 0, min: 0, max: 1 },
    ],
  },
];
