// Figures that follow from a plan alone (graph figures such as parameters, FLOPs and peak
// memory come from the compiled program). Shared by `explain` and the training banner.
import type { Graph, Value } from '../tensor/ir/graph.ts';
import { matmulFlops } from '../tensor/passes/cost.ts';
import { peakMemory } from '../tensor/passes/liveness.ts';
import type { LoweredProgram } from './lower/contract.ts';
import { estimateMemory, type GraphMemory, inputKind, type MemoryAssumptions, type MemoryEstimate } from './memory-estimate.ts';
import type { Plan } from './plan.ts';

export interface Figure {
  label: string;
  value: string;
  note?: string;
}

/** Denoiser calls for one sampler step: two when classifier-free guidance needs an unconditional call. */
function callsPerSamplerStep(plan: Plan): number {
  const sampler = plan.sampler;
  if (sampler.name === 'consistency') return 1; // the guidance scale is embedded, no CFG pass
  if (sampler.name === 'edm_euler') return sampler.guidance_max > 1 || sampler.guidance_min > 1 ? 2 : 1;
  return sampler.guidance > 1 ? 2 : 1;
}

export function derivedFigures(plan: Plan): Figure[] {
  const { train, objective, sampler, derived } = plan;
  const figures: Figure[] = [];
  const effective = derived.effective_batch;
  figures.push({ label: 'effective batch', value: `${effective} videos`, note: `batch ${train.batch} x accumulate ${train.accumulate}` });
  figures.push({ label: 'optimizer steps', value: String(train.steps) });
  figures.push({ label: 'latent shape', value: `[${derived.latent_shape.join(', ')}]`, note: 'channels, frames, height, width' });

  const perStep = callsPerSamplerStep(plan);
  let perVideo: number;
  let withGradient: string;
  switch (objective.name) {
    case 'reward': {
      perVideo = sampler.steps * perStep;
      const backprop = objective.backprop;
      const gradSteps = backprop.mode === 'last' ? backprop.k : backprop.mode === 'all' ? sampler.steps : (sampler.steps + 1) / 2;
      withGradient = `${gradSteps * perStep}${backprop.mode === 'random' ? ' on average' : ''}`;
      break;
    }
    case 'consistency':
      // student prediction, teacher conditional + unconditional, target prediction
      perVideo = 4;
      withGradient = '1';
      break;
    case 'denoise':
      perVideo = 1;
      withGradient = '1';
      break;
  }
  figures.push({ label: 'model evaluations per video', value: String(perVideo), note: `${withGradient} with gradient` });
  figures.push({ label: 'model evaluations per optimizer step', value: String(perVideo * effective) });
  figures.push({ label: 'model evaluations in total', value: String(perVideo * effective * train.steps) });
  if (derived.decoded_frames > 0) figures.push({ label: 'frames decoded per video', value: String(derived.decoded_frames), note: 'through the VAE decoder and the reward' });
  return figures;
}

// ------------------------------------------------------------------ graph figures

/** Figures of one compiled graph: what a step costs. */
export interface GraphFigures {
  graph: string;
  nodes: number;
  /** FLOPs of the matrix products (MatMul, Gemm, Conv, ConvTranspose) of one run. */
  flops: number;
  /** Peak bytes of live activations in graph order (weights and optimizer state excluded). */
  peakActivationBytes: number;
  /** Bytes of weights and optimizer state the graph reads. */
  paramBytes: number;
  /** What its session holds while it runs, by kind (programFigures). */
  memory?: GraphMemory;
}

export function graphFigures(graph: Graph, stateInputs: Iterable<Value> = []): GraphFigures {
  const memory = peakMemory(graph, { params: stateInputs });
  return {
    graph: graph.name,
    nodes: graph.nodes.length,
    flops: matmulFlops(graph).total,
    peakActivationBytes: memory.peakBytes,
    paramBytes: memory.paramBytes,
  };
}

/** Graph figures of a whole lowered program, with the memory estimate (compiler/memory-estimate.ts). */
export interface ProgramFigures {
  parameters: { total: number; trainable: number };
  graphs: GraphFigures[];
  memory: MemoryEstimate;
}

/** Figures of a program lowered at computePrecision(assumptions); shapes only, no tensor data is read. */
export function programFigures(lowered: Pick<LoweredProgram, 'program' | 'trainable' | 'params'>, assumptions: MemoryAssumptions): ProgramFigures {
  const trainable = new Set(lowered.trainable.map((p) => p.name));
  const memory = estimateMemory(lowered, assumptions);
  const graphs = Object.values(lowered.program.graphs).map((g, i) => ({
    ...graphFigures(g, g.inputs.filter((v) => inputKind(v.name, trainable) !== 'inputs')),
    memory: memory.graphs[i]!,
  }));
  return { parameters: lowered.params.count(), graphs, memory };
}
