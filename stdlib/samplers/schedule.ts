// Noise schedules and timestep grids in plain JS (float64). The runtime feeds the per-step
// numbers (alpha-bar, sigma, scale) to the step graphs as scalar inputs, so one compiled
// `sample_step` serves every step of a sampler.

/** Training timesteps of the epsilon models (VideoCrafter2, ModelScope). */
export const TRAIN_TIMESTEPS = 1000;

function linspace(start: number, end: number, n: number): number[] {
  if (n === 1) return [start];
  return Array.from({ length: n }, (_, i) => start + ((end - start) * i) / (n - 1));
}

/** Scaled-linear betas (LDM / SD / VideoCrafter): linspace(sqrt(start), sqrt(end), n)^2. */
export function scaledLinearBetas(n = TRAIN_TIMESTEPS, start = 0.00085, end = 0.012): number[] {
  return linspace(Math.sqrt(start), Math.sqrt(end), n).map((x) => x * x);
}

/** alpha-bar_t = prod_{s <= t} (1 - beta_s). */
export function alphasCumprod(betas: readonly number[]): number[] {
  const out: number[] = [];
  let p = 1;
  for (const beta of betas) {
    p *= 1 - beta;
    out.push(p);
  }
  return out;
}

/** The scaled-linear alpha-bar table of 1000 steps (cached). */
let cachedAlphas: number[] | undefined;
export function defaultAlphasCumprod(): readonly number[] {
  return (cachedAlphas ??= alphasCumprod(scaledLinearBetas()));
}

export interface DdimGridOptions {
  /** Training timesteps (default 1000). */
  total?: number;
  /**
   * Added to every grid point: LDM/VideoCrafter's `make_ddim_timesteps` uses range(0, T, T/n) + 1
   * ("to get the final alpha values right"), so 25 steps are 1, 41, ..., 961. 0 gives 0, 40, ..., 960.
   */
  offset?: number;
}

/** DDIM's uniform grid, ascending: (0, c, 2c, ...) + offset with stride c = floor(total / n). */
export function ddimTimesteps(n: number, options: DdimGridOptions = {}): number[] {
  const total = options.total ?? TRAIN_TIMESTEPS;
  const offset = options.offset ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > total) throw new Error(`ddim: ${n} steps is not in 1..${total}`);
  const stride = Math.floor(total / n);
  return Array.from({ length: n }, (_, i) => i * stride + offset);
}

/**
 * VideoCrafter2's x0 rescaling factor (`use_scale`): scale_arr = concat(linspace(1, 0.7, 400),
 * full(0.7)), so s_t = 1 - 0.3 t / 399 for t < 400 and 0.7 from t = 400 on.
 */
export function vc2Scale(t: number, options: { a?: number; b?: number; midStep?: number } = {}): number {
  const a = options.a ?? 1.0;
  const bEnd = options.b ?? 0.7;
  const mid = options.midStep ?? 400;
  if (t >= mid) return bEnd;
  return a + ((bEnd - a) * t) / (mid - 1);
}

/** Everything one DDIM step needs, per step in SAMPLING order (high t first). */
export interface DdimStepParams {
  /** Index in sampling order (0 = first, noisiest step). */
  index: number;
  t: number;
  /** The timestep the step goes to (-1 for the last step: the data end). */
  tPrev: number;
  alphaT: number;
  alphaPrev: number;
  /** eta * sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)). */
  sigma: number;
  /** use_scale factors of t and of the previous grid point (1 when use_scale is off). */
  scaleT: number;
  scalePrev: number;
}

export interface DdimScheduleOptions extends DdimGridOptions {
  eta?: number;
  useScale?: boolean;
  alphas?: readonly number[];
}

export function ddimSigma(alphaT: number, alphaPrev: number, eta: number): number {
  return eta * Math.sqrt(((1 - alphaPrev) / (1 - alphaT)) * (1 - alphaT / alphaPrev));
}

/**
 * The DDIM schedule in sampling order. As in LDM/VideoCrafter, the last step's "previous"
 * alpha-bar is alphas_cumprod[0] (not 1) and its previous scale is scale_arr[0] = 1.
 */
export function ddimSchedule(n: number, options: DdimScheduleOptions = {}): DdimStepParams[] {
  const alphas = options.alphas ?? defaultAlphasCumprod();
  const grid = ddimTimesteps(n, { total: options.total ?? alphas.length, offset: options.offset });
  const eta = options.eta ?? 0;
  const scale = (t: number) => (options.useScale ? vc2Scale(t) : 1);
  const steps: DdimStepParams[] = [];
  for (let i = n - 1; i >= 0; i--) {
    const t = grid[i];
    const tPrev = i > 0 ? grid[i - 1] : -1;
    const alphaT = alphas[t];
    const alphaPrev = i > 0 ? alphas[grid[i - 1]] : alphas[0];
    steps.push({
      index: n - 1 - i,
      t,
      tPrev,
      alphaT,
      alphaPrev,
      sigma: ddimSigma(alphaT, alphaPrev, eta),
      scaleT: scale(t),
      scalePrev: i > 0 ? scale(grid[i - 1]) : scale(0),
    });
  }
  return steps;
}

/** JS reference of one DDIM step (elementwise), the formula ddimStep builds as IR. */
export function ddimStepReference(
  x: ArrayLike<number>,
  eps: ArrayLike<number>,
  p: { alphaT: number; alphaPrev: number; sigma: number; scaleT?: number; scalePrev?: number },
  noise?: ArrayLike<number>,
): { prev: number[]; x0: number[] } {
  const prev: number[] = [];
  const x0s: number[] = [];
  const dirCoef = Math.sqrt(Math.max(1 - p.alphaPrev - p.sigma * p.sigma, 0));
  for (let i = 0; i < x.length; i++) {
    let x0 = (x[i] - Math.sqrt(1 - p.alphaT) * eps[i]) / Math.sqrt(p.alphaT);
    x0 /= p.scaleT ?? 1;
    x0s.push(x0);
    prev.push(Math.sqrt(p.alphaPrev) * (p.scalePrev ?? 1) * x0 + dirCoef * eps[i] + p.sigma * (noise ? noise[i] : 0));
  }
  return { prev, x0: x0s };
}
