// What every training graph ends with, whatever its objective: gradients of the loss into the
// trainable inputs, optional accumulation over micro-steps, global-norm clipping, AdamW, and
// the next state as `<name>_out` outputs. Also the small helpers the lowerings share.
import { differentiate } from '../../tensor/autodiff/grad.ts';
import { Builder } from '../../tensor/ir/builder.ts';
import type { Graph, Value } from '../../tensor/ir/graph.ts';
import { accumulateWithFlag } from '../../tensor/optim/accumulate.ts';
import { adamw } from '../../tensor/optim/adamw.ts';
import { clipByGlobalNorm, globalNorm } from '../../tensor/optim/clip.ts';
import { lowerPrecision } from '../../tensor/optim/precision.ts';
import type { Plan } from '../plan.ts';
import type { WeightManifestEntry } from '../../tensor/program/program.ts';
import type { ParameterStore } from '../../stdlib/nn/parameters.ts';

/** Mark `value` as a graph output called `name` (through an Identity, so names stay stable). */
export function nameOutput(graph: Graph, value: Value, name: string): Value {
  const b = new Builder(graph);
  const out = b.op('Identity', [value]);
  const unique = graph.uniqueName(name);
  if (unique !== name) throw new Error(`internal: output name '${name}' is taken`);
  out.name = name;
  graph.markOutput(out);
  return out;
}

/** Frozen weights that come from a checkpoint, with their source (program.json's manifest). */
export function weightManifest(params: ParameterStore): WeightManifestEntry[] {
  return params
    .list()
    .filter((p) => p.source === 'checkpoint' && !p.trainable)
    .map((p) => ({ name: p.name, dtype: p.dtype, shape: p.shape, source: { file: params.externalData(p.name)?.file ?? '', key: p.key ?? p.name } }));
}

export interface OptimizerStepInputs {
  loss: Value;
  /** Trainable graph inputs (LoRA factors, ...), in optimizer-state order. */
  wrt: Value[];
  /** Learning rate, float32 [] (an input, so the runtime can warm it up). */
  lr: Value;
  /** AdamW step counter, int64 []. */
  adamStep: Value;
  /** When accumulating: the bool [] input that says whether this micro-step applies the update. */
  apply?: Value;
  accumulate: number;
  /** Lower the forward part's activations to this type first (GPUs; trainable weights stay float32). */
  precision?: LowPrecision;
}

export type LowPrecision = 'fp16' | 'bf16';

/** The IR dtype of a plan's low precision. */
export function lowDtype(precision: LowPrecision): 'float16' | 'bfloat16' {
  return precision === 'fp16' ? 'float16' : 'bfloat16';
}

/** Autocast a forward graph to fp16/bf16 (before autodiff, so master-weight gradients stay float32). */
export function applyPrecision(graph: Graph, precision: LowPrecision | undefined): void {
  if (precision) lowerPrecision(graph, lowDtype(precision));
}

/**
 * Append backward pass, accumulation, clipping and AdamW to `b.graph`, and name the outputs:
 * `grad_norm`, `<p>_out`, `adam.m.<p>_out`, `adam.v.<p>_out`, `acc.<p>_out`, `adam.step_out`.
 * Declares the state inputs `adam.m.<p>`, `adam.v.<p>` and (when accumulating) `acc.<p>`.
 * Returns how many leading nodes are the forward pass (precision casts included): the count
 * rematerialize needs.
 */
export function appendOptimizerStep(b: Builder, plan: Plan, inputs: OptimizerStepInputs): { forwardNodes: number } {
  const { loss, wrt, lr, adamStep, apply, accumulate } = inputs;
  const graph = b.graph;
  applyPrecision(graph, inputs.precision);
  const forwardNodes = graph.nodes.length;
  const { grads: gradMap } = differentiate(graph, loss, wrt);
  let grads = wrt.map((v) => gradMap.get(v)!);
  let accNext: Value[] = [];
  if (apply) {
    const accs = wrt.map((v) => b.input(`acc.${v.name}`, [...v.shape]));
    const acc = accumulateWithFlag(b, grads, accs, accumulate, apply);
    grads = acc.mean;
    accNext = acc.next;
  }
  let norm: Value;
  if (plan.train.clip > 0) ({ grads, norm } = clipByGlobalNorm(b, grads, plan.train.clip));
  else norm = globalNorm(b, grads);
  const m = wrt.map((v) => b.input(`adam.m.${v.name}`, [...v.shape]));
  const v = wrt.map((p) => b.input(`adam.v.${p.name}`, [...p.shape]));
  const opt = plan.train.optimizer;
  const upd = adamw(
    b,
    wrt.map((p, i) => ({ param: p, grad: grads[i], m: m[i], v: v[i] })),
    adamStep,
    { lr, beta1: opt.betas[0], beta2: opt.betas[1], eps: opt.eps, weightDecay: opt.weight_decay },
    { apply },
  );
  nameOutput(graph, norm, 'grad_norm');
  wrt.forEach((p, i) => {
    nameOutput(graph, upd.params[i], `${p.name}_out`);
    nameOutput(graph, upd.m[i], `adam.m.${p.name}_out`);
    nameOutput(graph, upd.v[i], `adam.v.${p.name}_out`);
    if (apply) nameOutput(graph, accNext[i], `acc.${p.name}_out`);
  });
  nameOutput(graph, upd.step, 'adam.step_out');
  return { forwardNodes };
}
