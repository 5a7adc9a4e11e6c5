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
//
// Segments nest: "S/C" (nestedSegment) is a part of S that is recomputed on its own, later and
// shorter-lived than S's recomputation (attention's query chunks inside a transformer block:
// each chunk's scores are recomputed right before that chunk's backward nodes, one chunk at a
// time). A value's *home* is the innermost segment it is internal to (internal to "S/C" implies
// internal to S). Backward uses read the home's copy. S's recomputation also recomputes what it
// needs from inside its nested segments (as a chain that dies at once: the nested copies the
// backward pass reads are C's own), and a nested recomputation reads its enclosing segments'
// copies, which are therefore emitted first.
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

/** Separates the levels of a nested segment's name ("S/C"); segment names are scopes, which never contain it. */
export const SEGMENT_SEPARATOR = '/';

/** The segment of a part of `parent` that is recomputed on its own (a top-level one without a parent). */
export function nestedSegment(parent: string | undefined, name: string): string {
  return parent === undefined ? name : `${parent}${SEGMENT_SEPARATOR}${name}`;
}

/** Whether `segment` is `outer` or nested in it. */
function within(segment: string | undefined, outer: string): boolean {
  return segment !== undefined && (segment === outer || segment.startsWith(outer + SEGMENT_SEPARATOR));
}

/** "a/b/c" -> ["a", "a/b", "a/b/c"]: the segment and the ones it is nested in, outermost first. */
function levels(segment: string): string[] {
  const parts = segment.split(SEGMENT_SEPARATOR);
  return parts.map((_, i) => parts.slice(0, i + 1).join(SEGMENT_SEPARATOR));
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
  // the segments of each segment value's forward users (undefined: a node outside every segment)
  const users = new Map<Value, (string | undefined)[]>();
  for (const node of forward) {
    for (const v of nodeUses(node)) {
      if (segmentOf.has(v)) (users.get(v) ?? users.set(v, []).get(v)!).push(node.segment);
    }
  }
  const outputs = new Set<Value>(graph.outputs);
  const home = new Map<Value, string>();
  for (const [v, segment] of segmentOf) {
    if (outputs.has(v)) continue;
    const used = users.get(v) ?? [];
    for (const level of levels(segment)) {
      if (!used.every((s) => within(s, level))) break;
      home.set(v, level);
    }
  }

  // which nodes each segment clones: ancestors (through values internal to it) of the values
  // the backward pass and the nested segments' clones read from it
  const needed = new Map<string, Set<Node>>();
  const after = new Map<string, Set<string>>(); // segment -> enclosing segments whose clones it reads
  const demand = (v: Value, segment: string) => {
    const p = v.producer!;
    let set = needed.get(segment);
    if (!set) needed.set(segment, (set = new Set()));
    if (set.has(p)) return;
    set.add(p);
    for (const u of nodeUses(p)) {
      const h = home.get(u);
      if (h === undefined) continue;
      if (within(h, segment)) demand(u, segment);
      else {
        // internal to an enclosing segment (the only other place a node of `segment` reads from)
        demand(u, h);
        (after.get(segment) ?? after.set(segment, new Set()).get(segment)!).add(h);
      }
    }
  };
  for (const node of backward) {
    for (const v of node.inputs) {
      const h = v && home.get(v);
      if (h !== undefined) demand(v!, h);
    }
  }

  const clones = new Map<string, Map<Value, Value>>();
  const latest = new Map<Value, Value>(); // the last copy of any value, whichever segment made it
  const recomputed = new Map<string, number>();
  const result: Node[] = [...forward];
  const emit = (segment: string) => {
    if (clones.has(segment)) return;
    const own = new Map<Value, Value>();
    clones.set(segment, own);
    for (const outer of after.get(segment) ?? []) emit(outer);
    const copyOf = (u: Value | undefined): Value | undefined => {
      if (!u) return u;
      const h = home.get(u);
      if (h !== undefined) return (within(h, segment) ? own : clones.get(h))?.get(u) ?? u;
      return latest.get(u) ?? u;
    };
    const set = needed.get(segment)!;
    let count = 0;
    for (const original of forward) {
      if (!set.has(original)) continue;
      const copy = graph.addNode(
        original.op,
        original.inputs.map(copyOf),
        original.outputs.map((o) => o.type),
        original.attributes,
        original.scope,
        `${segment}#remat`,
      );
      graph.nodes.pop(); // addNode appended it; it is placed below
      original.outputs.forEach((o, i) => {
        own.set(o, copy.outputs[i]);
        latest.set(o, copy.outputs[i]);
      });
      result.push(copy);
      count++;
    }
    recomputed.set(segment, count);
  };
  for (const node of backward) {
    for (const v of node.inputs) {
      const h = v && home.get(v);
      if (h !== undefined) emit(h);
    }
    node.inputs = node.inputs.map((v) => {
      const h = v && home.get(v);
      return (h !== undefined && clones.get(h)?.get(v!)) || v;
    });
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
