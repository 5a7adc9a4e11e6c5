// AdamW as graph nodes (PyTorch semantics: decoupled weight decay, bias correction).
//
// Per parameter p with gradient g and state m, v, at step t = step + 1 (`step` is the number
// of updates already applied, an int64 scalar graph input; the graph outputs step + 1):
//   p  <- p * (1 - lr * wd)
//   m  <- b1 * m + (1 - b1) * g
//   v  <- b2 * v + (1 - b2) * g * g
//   p  <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// Hyper-parameters are numbers (folded into the graph) or float32 scalar Values (graph inputs,
// e.g. the learning rate of a schedule computed by the runtime). With `apply` (a bool scalar),
// the update only happens when it is true; otherwise params, state and step pass through
// unchanged: used by gradient accumulation (update on the last micro-step) and by fp16 loss
// scaling (skip steps whose gradients overflowed).
import type { Builder } from '../ir/builder.ts';
import type { Value } from '../ir/graph.ts';

export interface AdamWConfig {
  lr: number | Value;
  beta1?: number | Value;
  beta2?: number | Value;
  eps?: number | Value;
  weightDecay?: number | Value;
}

export interface AdamWSlot {
  param: Value;
  grad: Value;
  m: Value;
  v: Value;
}

export interface AdamWResult {
  params: Value[];
  m: Value[];
  v: Value[];
  /** step + 1 (or step when `apply` is false) */
  step: Value;
}

export const ADAMW_DEFAULTS = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

export function adamw(b: Builder, slots: AdamWSlot[], step: Value, config: AdamWConfig, options: { apply?: Value } = {}): AdamWResult {
  if (step.dtype !== 'int64' || step.rank !== 0) throw new Error(`adamw: step must be an int64 scalar, got ${step.dtype}[${step.shape}]`);
  return b.within('adamw', () => {
    const s = (x: number | Value) => (typeof x === 'number' ? b.scalar(x) : x);
    const one = b.scalar(1);
    const lr = s(config.lr);
    const beta1 = s(config.beta1 ?? ADAMW_DEFAULTS.beta1);
    const beta2 = s(config.beta2 ?? ADAMW_DEFAULTS.beta2);
    const eps = s(config.eps ?? ADAMW_DEFAULTS.eps);
    const wd = s(config.weightDecay ?? ADAMW_DEFAULTS.weightDecay);
    const nextStep = b.add(step, b.scalar(1, 'int64'));
    const t = b.cast(nextStep, 'float32');
    const bc1 = b.sub(one, b.pow(beta1, t));
    const bc2sqrt = b.sqrt(b.sub(one, b.pow(beta2, t)));
    const stepSize = b.div(lr, bc1);
    const decay = b.sub(one, b.mul(lr, wd));
    const oneMinusB1 = b.sub(one, beta1);
    const oneMinusB2 = b.sub(one, beta2);
    const result: AdamWResult = { params: [], m: [], v: [], step: nextStep };
    for (const { param, grad, m, v } of slots) {
      if (param.dtype !== 'float32' || grad.dtype !== 'float32' || m.dtype !== 'float32' || v.dtype !== 'float32') {
        throw new Error(`adamw: '${param.name}': params, grads and optimizer state are float32 master copies`);
      }
      const decayed = b.mul(param, decay);
      const m2 = b.add(b.mul(beta1, m), b.mul(oneMinusB1, grad));
      const v2 = b.add(b.mul(beta2, v), b.mul(oneMinusB2, b.mul(grad, grad)));
      const denom = b.add(b.div(b.sqrt(v2), bc2sqrt), eps);
      const p2 = b.sub(decayed, b.mul(stepSize, b.div(m2, denom)));
      result.params.push(options.apply ? b.where(options.apply, p2, param) : p2);
      result.m.push(options.apply ? b.where(options.apply, m2, m) : m2);
      result.v.push(options.apply ? b.where(options.apply, v2, v) : v2);
    }
    if (options.apply) result.step = b.add(step, b.cast(options.apply, 'int64'));
    return result;
  });
}

/** The JS reference of one AdamW update in float32 (same operation order as the graph). */
export function adamwReference(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  step: number,
  cfg: { lr: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number },
): void {
  const f = Math.fround;
  const lr = f(cfg.lr);
  const b1 = f(cfg.beta1 ?? ADAMW_DEFAULTS.beta1);
  const b2 = f(cfg.beta2 ?? ADAMW_DEFAULTS.beta2);
  const eps = f(cfg.eps ?? ADAMW_DEFAULTS.eps);
  const wd = f(cfg.weightDecay ?? ADAMW_DEFAULTS.weightDecay);
  const t = step + 1;
  const bc1 = f(1 - f(Math.pow(b1, t)));
  const bc2sqrt = f(Math.sqrt(f(1 - f(Math.pow(b2, t)))));
  const stepSize = f(lr / bc1);
  const decay = f(1 - f(lr * wd));
  for (let i = 0; i < p.length; i++) {
    const decayed = f(p[i] * decay);
    m[i] = f(f(b1 * m[i]) + f(f(1 - b1) * g[i]));
    v[i] = f(f(b2 * v[i]) + f(f(1 - b2) * f(g[i] * g[i])));
    const denom = f(f(Math.sqrt(v[i]) / bc2sqrt) + eps);
    p[i] = f(decayed - f(stepSize * f(m[i] / denom)));
  }
}
