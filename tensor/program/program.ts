// A compiled Program: named graphs (e.g. `sample_step` without gradients, `train_step` with
// them), a schedule (which graph runs when, plain JSON the runtime interprets) and a weight
// manifest (where each frozen weight comes from). emit.ts writes it to a directory; cache.ts
// keys that directory by a content hash.
import type { DType } from '../ir/dtype.ts';
import type { Graph, Shape } from '../ir/graph.ts';

/** One entry of the schedule: run `graph` at the given point of a training/sampling step. */
export interface ScheduleEntry {
  graph: string;
  /** When it runs, e.g. 'sample: steps 0..k-1', 'micro-step < accumulate-1', 'every step'. */
  when: string;
  /** How many times in a row (a sampler's steps before the backprop cutoff), default 1. */
  repeat?: number;
  /** graph input <- where its value comes from ('state:w1', 'output:sample_step/latent', 'data:x'). */
  feeds?: Record<string, string>;
}

export interface WeightSource {
  /** Checkpoint file (as the pipeline names it) and the key of the tensor in it. */
  file: string;
  key: string;
}

export interface WeightManifestEntry {
  /** Initializer name in the graphs. */
  name: string;
  dtype: DType;
  shape: Shape;
  source: WeightSource;
}

export interface Program {
  name: string;
  graphs: Record<string, Graph>;
  schedule: ScheduleEntry[];
  weights: WeightManifestEntry[];
}

/** The program.json written next to the models. */
export interface ProgramJson {
  name: string;
  vplcVersion: string;
  hash: string;
  graphs: Record<string, { file: string; inputs: TensorSpec[]; outputs: TensorSpec[]; externalInitializers: number }>;
  schedule: ScheduleEntry[];
  weights: WeightManifestEntry[];
  /**
   * The shared external-data file (frozen initializers over the threshold), or null. `written:
   * false`: the program was compiled from shapes alone (no checkpoint), so the file is not there.
   */
  externalData: { file: string; bytes: number; written?: false; lazyTensors?: number } | null;
}

export interface TensorSpec {
  name: string;
  dtype: DType;
  shape: number[];
}
