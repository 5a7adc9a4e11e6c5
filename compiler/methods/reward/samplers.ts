// The samplers the reward objective is lowered for, one entry each: the per-step numbers
// (stdlib/samplers), the scalar inputs sample_step and train_step declare, and the step
// itself written over those inputs, so lower.ts builds both graphs without knowing which
// sampler it drives.
//
// DDIM (arXiv 2010.02502) takes timestep, alpha_t, alpha_prev [, scale_t, scale_prev] and noise
// [B, C, T, h, w] when eta > 0. DPM-Solver++ (arXiv 2211.01095) writes every step as x_prev =
// c_x x_t + c_x0 x0 + c_hist1 x0_hist1 + c_hist2 x0_hist2 with coefficients from the schedule, so
// one sample_step serves every step: it takes as many history inputs as the schedule's highest
// order needs (order - 1; none when every step is first order, e.g. 2 steps), and the runtime
// carries them: zeros at step 0, then after each call x0_hist2 <- x0_hist1, x0_hist1 <- x0 (HISTORY
// names them, most recent first). train_step takes the history at the cutoff as inputs (only
// the entries its steps use) and carries it in-graph through its k steps, where the x0
// estimates carry gradient. Each step's order is fixed by the schedule, so train_step builds
// only the history terms a step uses. DPM-Solver is deterministic (no eta, noise or use_scale).
import type { Builder } from '../../../tensor/ir/builder.ts';
import type { Shape, Value } from '../../../tensor/ir/graph.ts';
import type { Plan } from '../../plan.ts';
import { LoweringError, type SamplerStep } from '../../lower/contract.ts';
import { ddimSchedule, ddimStep, type DpmSolverStepParams, dpmSolverSchedule, dpmSolverStep } from '../../../stdlib/samplers/index.ts';

/** The x0-history input names of the dpm_solver graphs, most recent first. */
export const HISTORY = ['x0_hist1', 'x0_hist2'];

/** A per-step scalar input: its sample_step name, its stacked train_step name, its schedule field. */
export interface ScalarSpec {
  name: string;
  stacked: string;
  field: string;
}

export interface StepResult {
  prev: Value;
  x0: Value;
}

/** sample_step's sampler inputs, declared in order; `step` advances the latents one step. */
export interface SampleStepInputs {
  timestep: Value;
  step(x: Value, eps: Value): StepResult;
}

/** train_step's sampler inputs over its k steps, declared in order; `step(i, ...)` is step i of them. */
export interface TrainStepInputs {
  timesteps: Value;
  /** x0s: the x0 estimates of train steps 0..i-1 (with gradient). */
  step(i: number, x: Value, eps: Value, x0s: readonly Value[]): StepResult;
}

export interface RewardSamplerLowering {
  name: 'ddim' | 'dpm_solver';
  /** Every step, in sampling order. */
  schedule: SamplerStep[];
  /** Every per-step scalar input the graphs may take (each declares a subset). */
  scalars: ScalarSpec[];
  /** sample_step's x0-history inputs (dpm_solver of order >= 2). */
  history: string[];
  /** Whether the steps draw fresh noise (DDIM with eta > 0). */
  noisy: boolean;
  /** Declared right after `latents` in sample_step. */
  declareSample(b: Builder, latentShape: Shape): SampleStepInputs;
  /** Declared right after `latents` in train_step, for schedule steps from..from+k-1. */
  declareTrain(b: Builder, latentShape: Shape, from: number, k: number): TrainStepInputs;
}

const at = (b: Builder, v: Value, i: number) => b.reshape(b.slice(v, 0, i, i + 1), []);

const COMMON: ScalarSpec[] = [
  { name: 'timestep', stacked: 'timesteps', field: 't' },
  { name: 'alpha_t', stacked: 'alphas_t', field: 'alphaT' },
];

function ddimLowering(sampler: Extract<Plan['sampler'], { name: 'ddim' }>): RewardSamplerLowering {
  const { eta, use_scale: useScale } = sampler;
  return {
    name: 'ddim',
    schedule: ddimSchedule(sampler.steps, { eta, useScale }),
    scalars: [
      ...COMMON,
      { name: 'alpha_prev', stacked: 'alphas_prev', field: 'alphaPrev' },
      { name: 'scale_t', stacked: 'scales_t', field: 'scaleT' },
      { name: 'scale_prev', stacked: 'scales_prev', field: 'scalePrev' },
    ],
    history: [],
    noisy: eta !== 0,
    declareSample(b, latentShape) {
      const timestep = b.input('timestep', []);
      const alphaT = b.input('alpha_t', []);
      const alphaPrev = b.input('alpha_prev', []);
      const scaleT = useScale ? b.input('scale_t', []) : undefined;
      const scalePrev = useScale ? b.input('scale_prev', []) : undefined;
      const noise = eta !== 0 ? b.input('noise', latentShape) : undefined;
      return { timestep, step: (x, eps) => ddimStep(b, { x_t: x, eps, alphaT, alphaPrev, eta, noise, scaleT, scalePrev }) };
    },
    declareTrain(b, latentShape, _from, k) {
      const timesteps = b.input('timesteps', [k]);
      const alphasT = b.input('alphas_t', [k]);
      const alphasPrev = b.input('alphas_prev', [k]);
      const scalesT = useScale ? b.input('scales_t', [k]) : undefined;
      const scalesPrev = useScale ? b.input('scales_prev', [k]) : undefined;
      const noise = eta !== 0 ? b.input('noise', [k, ...latentShape]) : undefined;
      return {
        timesteps,
        step: (i, x, eps) =>
          ddimStep(b, {
            x_t: x,
            eps,
            alphaT: at(b, alphasT, i),
            alphaPrev: at(b, alphasPrev, i),
            eta,
            noise: noise ? b.reshape(b.slice(noise, 0, i, i + 1), [...latentShape]) : undefined,
            scaleT: scalesT ? at(b, scalesT, i) : undefined,
            scalePrev: scalesPrev ? at(b, scalesPrev, i) : undefined,
          }),
      };
    },
  };
}

function dpmLowering(sampler: Extract<Plan['sampler'], { name: 'dpm_solver' }>): RewardSamplerLowering {
  const schedule: DpmSolverStepParams[] = dpmSolverSchedule(sampler.steps, { order: sampler.order });
  const history = HISTORY.slice(0, Math.max(0, ...schedule.map((s) => s.order - 1)));
  return {
    name: 'dpm_solver',
    schedule,
    scalars: [
      ...COMMON,
      { name: 'coef_x', stacked: 'coefs_x', field: 'cx' },
      { name: 'coef_x0', stacked: 'coefs_x0', field: 'c0' },
      { name: 'coef_hist1', stacked: 'coefs_hist1', field: 'c1' },
      { name: 'coef_hist2', stacked: 'coefs_hist2', field: 'c2' },
    ],
    history,
    noisy: false,
    declareSample(b, latentShape) {
      const hist = history.map((name) => b.input(name, latentShape));
      const timestep = b.input('timestep', []);
      const alphaT = b.input('alpha_t', []);
      const cx = b.input('coef_x', []);
      const c0 = b.input('coef_x0', []);
      const ch = history.map((_, j) => b.input(`coef_hist${j + 1}`, []));
      return {
        timestep,
        step: (x, eps) => dpmSolverStep(b, { x_t: x, eps, alphaT, cx, c0, ...(hist[0] ? { hist1: hist[0], c1: ch[0] } : {}), ...(hist[1] ? { hist2: hist[1], c2: ch[1] } : {}) }),
      };
    },
    declareTrain(b, latentShape, from, k) {
      // train step i (sampler step from + i) reads its lag-h estimate (h < order) from the history
      // input x0_hist{h - i} when it comes from before the cutoff, else from train step i - h
      const tail = schedule.slice(from, from + k);
      const histInputs = HISTORY.map((name, j) => (tail.some((s, i) => s.order - 1 >= i + j + 1) ? b.input(name, latentShape) : undefined));
      const maxLag = Math.max(0, ...tail.map((s) => s.order - 1));
      const timesteps = b.input('timesteps', [k]);
      const alphasT = b.input('alphas_t', [k]);
      const coefsX = b.input('coefs_x', [k]);
      const coefsX0 = b.input('coefs_x0', [k]);
      const coefsHist = HISTORY.map((_, j) => (maxLag >= j + 1 ? b.input(`coefs_hist${j + 1}`, [k]) : undefined));
      return {
        timesteps,
        step(i, x, eps, x0s) {
          const order = tail[i]!.order;
          const lagged = (h: number): Value => {
            const v = i - h >= 0 ? x0s[i - h] : histInputs[h - i - 1];
            if (!v) throw new Error(`internal: no x0 estimate ${h} steps before train step ${i}`);
            return v;
          };
          return dpmSolverStep(b, {
            x_t: x,
            eps,
            alphaT: at(b, alphasT, i),
            cx: at(b, coefsX, i),
            c0: at(b, coefsX0, i),
            ...(order >= 2 ? { hist1: lagged(1), c1: at(b, coefsHist[0]!, i) } : {}),
            ...(order >= 3 ? { hist2: lagged(2), c2: at(b, coefsHist[1]!, i) } : {}),
          });
        },
      };
    },
  };
}

/** The plan's sampler as the reward objective lowers it; a LoweringError for the others. */
export function rewardSamplerLowering(plan: Plan): RewardSamplerLowering {
  const sampler = plan.sampler;
  if (sampler.name === 'ddim') return ddimLowering(sampler);
  if (sampler.name === 'dpm_solver') return dpmLowering(sampler);
  throw new LoweringError(`the reward objective is lowered for the ddim and dpm_solver samplers only (got sampler '${sampler.name}')`);
}
