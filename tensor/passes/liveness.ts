// Liveness analysis: the peak bytes of tensors alive at once when the nodes run in graph order.
// Used by `vplc explain` (peak memory per step) and by tests of remat and scheduling.
//
// A value is alive from the node that produces it (or the start, for graph inputs) to its last
// use (or the end, for graph outputs). "Params" are counted separately and not in the peak: all
// initializers (frozen weights, constants) and the graph inputs named in `options.params`
// (trainable weights, optimizer state), which stay resident between steps anyway. A node with a
// subgraph (Loop) adds its body's own peak while it runs.
import type { Graph, Value } from '../ir/graph.ts';
import { nodeUses, subgraphsOf, valueBytes } from './util.ts';

export interface MemoryReport {
  /** Peak bytes of live activations (non-param inputs, intermediates, outputs). */
  peakBytes: number;
  /** Index and name of the node during which the peak occurs (-1: before any node runs). */
  peakIndex: number;
  peakNode: string;
  /** Largest values alive at the peak (name, bytes), largest first, at most 10. */
  liveAtPeak: { name: string; bytes: number }[];
  /** Of peakBytes: the non-param graph inputs and the graph outputs alive at the peak (the rest are intermediates). */
  peakInputBytes: number;
  peakOutputBytes: number;
  paramBytes: number;
  /** Non-param graph inputs and graph outputs. */
  inputBytes: number;
  outputBytes: number;
}

export function peakMemory(graph: Graph, options: { params?: Iterable<Value> } = {}): MemoryReport {
  const params = new Set<Value>([...graph.initializers.keys(), ...(options.params ?? [])]);
  const lastUse = new Map<Value, number>();
  graph.nodes.forEach((node, i) => {
    for (const v of nodeUses(node)) lastUse.set(v, i);
  });
  const end = graph.nodes.length;
  for (const v of graph.outputs) lastUse.set(v, end);

  // frees[i]: values whose last use is node i (released after it runs)
  const frees = new Map<number, Value[]>();
  for (const [v, i] of lastUse) {
    if (params.has(v)) continue;
    let list = frees.get(i);
    if (!list) frees.set(i, (list = []));
    list.push(v);
  }
  const live = new Set<Value>();
  let current = 0;
  let inputBytes = 0;
  for (const v of graph.inputs) {
    if (params.has(v)) continue;
    inputBytes += valueBytes(v);
    if (lastUse.has(v)) {
      live.add(v);
      current += valueBytes(v);
    }
  }
  let peakBytes = current;
  let peakIndex = -1;
  let peakLive = [...live];
  graph.nodes.forEach((node, i) => {
    for (const o of node.outputs) {
      live.add(o);
      current += valueBytes(o);
    }
    let transient = 0;
    for (const sub of subgraphsOf(node)) transient = Math.max(transient, peakMemory(sub).peakBytes);
    if (current + transient > peakBytes) {
      peakBytes = current + transient;
      peakIndex = i;
      peakLive = [...live];
    }
    // outputs nobody uses die at once; used values die after their last use
    for (const o of node.outputs) {
      if (!lastUse.has(o)) {
        live.delete(o);
        current -= valueBytes(o);
      }
    }
    for (const v of frees.get(i) ?? []) {
      if (live.delete(v)) current -= valueBytes(v);
    }
  });
  let paramBytes = 0;
  for (const v of params) paramBytes += valueBytes(v);
  const inputs = new Set(graph.inputs);
  const outputs = new Set(graph.outputs);
  let peakInputBytes = 0;
  let peakOutputBytes = 0;
  for (const v of peakLive) {
    if (inputs.has(v)) peakInputBytes += valueBytes(v);
    else if (outputs.has(v)) peakOutputBytes += valueBytes(v);
  }
  return {
    peakBytes,
    peakIndex,
    peakNode: peakIndex >= 0 ? graph.nodes[peakIndex].name : '(inputs)',
    liveAtPeak: peakLive
      .map((v) => ({ name: v.name, bytes: valueBytes(v) }))
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, 10),
    peakInputBytes,
    peakOutputBytes,
    paramBytes,
    inputBytes,
    outputBytes: graph.outputs.reduce((s, v) => s + valueBytes(v), 0),
  };
}
