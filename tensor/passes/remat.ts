// Rematerialisation (gradient checkpointing) per segment, in place.
//
// Input: a graph whose first `forwardNodes` nodes are the forward pass (nodes tagged with a
// `segment` by Builder.inSegment) and whose remaining nodes are the backward pass appended by
// autodiff. A value produced in segment S is a *boundary* value when a forward node outside S or
// a graph output uses it; the others are S's *internal* activations. Every backward use of an
// internal activation is redirected to a recomputed copy: the nodes of S that the backward pass
// needs (and their ancestors inside S, stopping at boundary values) are cloned once, tagged
// segment "S#remat", and inserted right before the first backward node that needs them. After
// this, the forward originals die at their last forward use, so during the backward pass only the
// boundary values of all segments plus one segment's recomputation are alive.
// Recomputation must be deterministic: ops named Random* inside a segment are an error (the
// stdlib draws noise from seeds with tensor/optim/random.ts, which is deterministic).
import type { Graph, Node, Value } from '../ir/graph.ts';
import { nodeUses } from './util.ts';

export interface RematOptions {
  /** How many leading nodes are the forward pass (graph.nodes.length before autodiff ran). */
  forwardNodes: number;
}

export interface RematReport {
  /** segment -> number of nodes recomputed */
  recomputed: Map<string, number>;
}

export function rematerialize(graph: Graph, options: RematOptions): RematReport {
  const forward = graph.nodes.slice(0, options.forwardNodes);
  const backward = graph.nodes.slice(options.forwardNodes);
  const segmentOf = new Map<Value, string>();
  for (const node of forward) {
    if (node.segment === undefined) continue;
    if (node.op.startsWith('Random')) {
      throw new Error(`rematerialize: segment '${node.segment}' contains ${node.op} ('${node.name}'), which cannot be recomputed identically`);
    }
    for (const o of node.outputs) segmentOf.set(o, node.segment);
  }
  const boundary = new Set<Value>(graph.outputs);
  for (const node of forward) {
    for (const v of nodeUses(node)) {
      const s = segmentOf.get(v);
      if (s !== undefined && s !== node.segment) boundary.add(v);
    }
  }
  const isInternal = (v: Value) => segmentOf.has(v) && !boundary.has(v);

  // which nodes of each segment must be cloned: ancestors (inside the segment, through internal
  // values) of internal values the backward pass uses
  const needed = new Set<Node>();
  const visit = (v: Value) => {
    const p = v.producer;
    if (!p || needed.has(p) || !isInternal(v)) return;
    needed.add(p);
    for (const u of nodeUses(p)) visit(u);
  };
  for (const node of backward) for (const v of node.inputs) if (v) visit(v);

  const clones = new Map<Value, Value>();
  const emitted = new Set<string>();
  const recomputed = new Map<string, number>();
  const result: Node[] = [...forward];
  for (const node of backward) {
    for (const v of node.inputs) {
      if (!v || !isInternal(v)) continue;
      const segment = segmentOf.get(v)!;
      if (emitted.has(segment)) continue;
      emitted.add(segment);
      let count = 0;
      for (const original of forward) {
        if (original.segment !== segment || !needed.has(original)) continue;
        const copy = graph.addNode(
          original.op,
          original.inputs.map((u) => (u && clones.get(u)) ?? u),
          original.outputs.map((o) => o.type),
          original.attributes,
          original.scope,
          `${segment}#remat`,
        );
        graph.nodes.pop(); // addNode appended it; it is placed below
        original.outputs.forEach((o, i) => clones.set(o, copy.outputs[i]));
        result.push(copy);
        count++;
      }
      recomputed.set(segment, count);
    }
    node.inputs = node.inputs.map((v) => (v && isInternal(v) && clones.get(v)) || v);
    result.push(node);
  }
  graph.nodes = result;
  return { recomputed };
}

export function rematPass(forwardNodes: number) {
  return {
    name: 'remat',
    run: (g: Graph) => {
      rematerialize(g, { forwardNodes });
      return g;
    },
  };
}
