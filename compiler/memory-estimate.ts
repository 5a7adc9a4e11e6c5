// The memory a compiled program needs: an upper bound of what `vplc run` allocates around a
// training step, from the graphs' shapes and dtypes alone (no tensor data is read, so a
// full-size program compiled without its checkpoint is costed like a tiny one).
//
// 1. One graph's session while it runs (nodes in graph order, tensor/passes/liveness.ts):
//      weights       frozen initializers (network weights, constants), resident
//      trainable     the LoRA factors, fed as inputs
//      optimizer     AdamW moments and step (`adam.*`), EMA copies of the factors (`ema.*`)
//      accumulators  gradient accumulators (`acc.*`)
//      inputs        every other graph input, for the whole run (the CUDA execution provider
//                    copies each feed to the device before the run starts)
//      outputs       graph outputs alive at the activation peak (new state, losses, frames)
//      activations   intermediates alive at the peak (gradients included; a Loop body's own peak)
//      arena         what onnxruntime holds beyond that working set (outputs + activations),
//                    ARENA_EXTRA times it. runtime/session.ts turns its memory arena and memory
//                    pattern on: one run allocates more than the liveness peak (bin rounding,
//                    kernel scratch space, its own node order), the arena keeps it (it does not
//                    shrink), and from the second run on the pattern's one block of the peak
//                    size comes on top. Assumed alike on CUDA (the same arena and planner).
//    Lowered at fp16/bf16, frozen weights are stored in that precision and only the LoRA
//    factors and optimizer state stay float32 (the master copies of tensor/optim/precision.ts);
//    casts of them are activations.
//
// 2. The sessions held at once: `vplc run` loads every graph of the program into its own
//    session (runtime/session.ts loadProgram, from runtime/methods/*/run.ts) and keeps them all
//    for the run, since validation samples between training steps (`vplc sample` drops
//    train_step). No sharing is assumed: each session holds its own copy of the frozen weights
//    it uses (onnxruntime places initializers per session, so a UNet in sample_step and
//    train_step counts twice) and its own arena. The sessions hold the sum over graphs of part 1.
//
// 3. Around them:
//    - cuda: the CUDA context, cuBLAS/cuDNN handles and workspaces: a fixed allowance
//      (CUDA_CONTEXT_BYTES), not derived from the graphs;
//    - host RAM (on cpu added to the total: the same memory): onnxruntime's graph and kernel
//      objects (ORT_BYTES_PER_NODE a node: they dominate small graphs); the training state the
//      trainer holds in JavaScript (runtime/methods/common/state.ts) plus the initial LoRA
//      values of the parameter store; the JavaScript copies of the largest graph's outputs (the
//      step's new state among them); the frozen weights the program holds in memory, once per
//      parameter (a program compiled from shapes alone counts them all, as a run converting
//      its checkpoint would hold them); the serialised models while the sessions are created,
//      which embed the weights under 1 MiB again (larger ones go to a weights file). On cpu
//      the state then counts twice (the sessions read the feeds in place): kept for
//      simplicity, it is small next to the rest.
//
// Not modelled: node's and onnxruntime's base memory (bench/memory_estimate.ts measures an
// empty session) and the compiler's JavaScript objects. onnxruntime's own choices (node order
// after its graph optimisations, kernel scratch space, bin rounding) are not modelled one by one:
// ARENA_EXTRA covers them as measured on CPU. Unmeasured: the CUDA arena's growth in
// power-of-two regions (`arena_extend_strategy`, its default) and cuDNN's workspaces beyond the
// allowance. bench/memory_estimate.ts compares the estimate with the measured peak RSS of real
// training steps on CPU.
import type { Graph, Value } from '../tensor/ir/graph.ts';
import { peakMemory } from '../tensor/passes/liveness.ts';
import { subgraphsOf, valueBytes } from '../tensor/passes/util.ts';
import type { LoweredProgram } from './lower/contract.ts';

export type Device = 'cpu' | 'cuda';
export type Precision = 'fp32' | 'fp16' | 'bf16';

/** The CUDA context with cuBLAS/cuDNN handles and workspaces: an allowance, not a measurement. */
export const CUDA_CONTEXT_BYTES = 1 << 30;

/**
 * Host memory per graph node while sessions are created and held: 8.5-9.3 KiB a node at
 * session creation, 4.6 KiB still held after it (onnxruntime-node 1.30 on CPU, the tiny world's
 * programs of 14k-20k nodes); rounded up. bench/memory_estimate.ts checks the total.
 */
export const ORT_BYTES_PER_NODE = 10 * 1024;

/**
 * The arena's extra over a graph's liveness working set, as a multiple of it. Measured on CPU
 * (onnxruntime-node 1.30, graphs with 8-135 MiB of working set: the tiny world's train_step,
 * decode_all, encode_video): resident memory grows by 1.03-1.43x the working set on the first
 * run, as much again on the second, and not on the third: 2.4-2.8x in all. Counted as 1 + 2.
 * With the arena and memory pattern off, a run's growth is the working set (1.04x).
 */
export const ARENA_EXTRA = 2;

/** Initializers under this size are embedded in the serialised models (planEmission's default threshold, tensor/program/emit.ts). */
const EMBEDDED_BELOW = 1 << 20;

export interface MemoryAssumptions {
  device: Device;
  /** The pipeline's train.precision; on cpu the graphs compute in fp32 whatever it says. */
  precision: Precision;
}

/** What a graph input is, by the names the lowerings give (compiler/lower/contract.ts sharedDoc). */
export type InputKind = 'trainable' | 'optimizer' | 'accumulators' | 'inputs';

export function inputKind(name: string, trainable: ReadonlySet<string>): InputKind {
  if (trainable.has(name)) return 'trainable';
  if (name.startsWith('adam.') || name.startsWith('ema.')) return 'optimizer';
  if (name.startsWith('acc.')) return 'accumulators';
  return 'inputs';
}

/** Bytes one graph's session holds while it runs, by kind; `total` is their sum. */
export interface GraphMemory {
  graph: string;
  weights: number;
  trainable: number;
  optimizer: number;
  accumulators: number;
  inputs: number;
  outputs: number;
  activations: number;
  /** What onnxruntime's arena holds beyond outputs + activations (ARENA_EXTRA times them). */
  arena: number;
  total: number;
  /** Nodes, those of Loop bodies included. */
  nodes: number;
  /** The node during which the activations peak ('(inputs)' before any node runs). */
  peakNode: string;
}

export interface HostMemory {
  /** onnxruntime's graph and kernel objects (ORT_BYTES_PER_NODE per node). */
  sessions: number;
  /** Training state in JavaScript and the initial LoRA values. */
  state: number;
  /** JavaScript copies of the outputs of the graph with the most output bytes. */
  outputs: number;
  /** Frozen weights the program holds in memory, once per parameter. */
  weights: number;
  /** The serialised models while the sessions are created. */
  models: number;
  total: number;
}

export interface MemoryEstimate {
  device: Device;
  /** The pipeline's train.precision. */
  precision: Precision;
  /** What the graphs compute in: fp32 on cpu, else the pipeline's precision. */
  compute: Precision;
  graphs: GraphMemory[];
  /** The sessions alive at once (every graph of the program). */
  sessions: string[];
  /** Sum of the graphs' totals. */
  sessionBytes: number;
  /** CUDA_CONTEXT_BYTES with device cuda, else 0. */
  contextBytes: number;
  host: HostMemory;
  /** The estimate on the device: cuda: sessions + context (host RAM apart); cpu: sessions + host. */
  totalBytes: number;
}

/** The precision the graphs compute in, and so the one to lower them at: fp32 on cpu. */
export function computePrecision(assumptions: MemoryAssumptions): Precision {
  return assumptions.device === 'cpu' ? 'fp32' : assumptions.precision;
}

/** One graph's part of the model (part 1 of the top comment). */
export function graphMemory(graph: Graph, trainable: ReadonlySet<string>): GraphMemory {
  const byKind: Record<InputKind, number> = { trainable: 0, optimizer: 0, accumulators: 0, inputs: 0 };
  const state: Value[] = [];
  for (const v of graph.inputs) {
    const kind = inputKind(v.name, trainable);
    byKind[kind] += valueBytes(v);
    if (kind !== 'inputs') state.push(v);
  }
  const report = peakMemory(graph, { params: state });
  let weights = 0;
  for (const v of graph.initializers.keys()) weights += valueBytes(v);
  const activations = report.peakBytes - report.peakInputBytes - report.peakOutputBytes;
  const parts = { weights, ...byKind, outputs: report.peakOutputBytes, activations, arena: ARENA_EXTRA * (report.peakOutputBytes + activations) };
  const total = Object.values(parts).reduce((a, b) => a + b, 0);
  return { graph: graph.name, ...parts, total, nodes: nodeCount(graph), peakNode: report.peakNode };
}

function nodeCount(graph: Graph): number {
  return graph.nodes.reduce((n, node) => n + 1 + subgraphsOf(node).reduce((m, sub) => m + nodeCount(sub), 0), 0);
}

/** The estimate of a lowered program (lowered at computePrecision(assumptions)). */
export function estimateMemory(lowered: Pick<LoweredProgram, 'program' | 'trainable'>, assumptions: MemoryAssumptions): MemoryEstimate {
  const trainable = new Set(lowered.trainable.map((p) => p.name));
  const graphs = Object.values(lowered.program.graphs);
  const perGraph = graphs.map((g) => graphMemory(g, trainable));
  const sessionBytes = perGraph.reduce((s, g) => s + g.total, 0);
  const contextBytes = assumptions.device === 'cuda' ? CUDA_CONTEXT_BYTES : 0;
  const host = hostMemory(graphs, trainable, perGraph.reduce((n, g) => n + g.nodes, 0));
  return {
    device: assumptions.device,
    precision: assumptions.precision,
    compute: computePrecision(assumptions),
    graphs: perGraph,
    sessions: graphs.map((g) => g.name),
    sessionBytes,
    contextBytes,
    host,
    totalBytes: sessionBytes + contextBytes + (assumptions.device === 'cpu' ? host.total : 0),
  };
}

/** Part 3's host RAM: onnxruntime's objects, state in JavaScript, output copies, in-memory weights, serialised models. */
function hostMemory(graphs: readonly Graph[], trainable: ReadonlySet<string>, nodes: number): HostMemory {
  const stateInputs = new Map<string, number>();
  const weightsHeld = new Map<unknown, number>();
  let models = 0;
  let outputs = 0;
  for (const g of graphs) {
    for (const v of g.inputs) if (inputKind(v.name, trainable) !== 'inputs') stateInputs.set(v.name, valueBytes(v));
    for (const [v, init] of g.initializers) {
      // weights read by onnxruntime from a file (external data) are not in JavaScript memory
      if (init.external) continue;
      // one parameter's array is shared by the graphs that use it
      weightsHeld.set(init.data ?? init.lazy?.key ?? v, valueBytes(v));
      if (valueBytes(v) < EMBEDDED_BELOW) models += valueBytes(v);
    }
    outputs = Math.max(outputs, g.outputs.reduce((s, v) => s + valueBytes(v), 0));
  }
  let state = 0;
  for (const [name, bytes] of stateInputs) state += bytes * (trainable.has(name) ? 2 : 1);
  const weights = [...weightsHeld.values()].reduce((a, b) => a + b, 0);
  const sessions = nodes * ORT_BYTES_PER_NODE;
  return { sessions, state, outputs, weights, models, total: sessions + state + outputs + weights + models };
}
