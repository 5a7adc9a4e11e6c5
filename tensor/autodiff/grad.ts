// Reverse-mode automatic differentiation over the IR.
//
// `gradients(graph, loss, wrt)` appends the backward pass to the same graph and returns the
// gradient Value of each `wrt` value. Only the part of the graph between `wrt` and `loss` is
// differentiated: a node gets a backward counterpart only if one of its inputs depends on some
// `wrt` value and one of its outputs reaches `loss`. The nodes are visited in reverse
// topological order; each op's vector-Jacobian product comes from the single table in vjp.ts;
// contributions from several consumers of a value are summed with Add.
//
// Conventions:
// - Integer and bool values never carry gradients (a `wrt` of such a type is an error).
// - A `wrt` value that `loss` does not depend on gets zeros (an Expand of a scalar 0, so no
//   stored tensor), never an error: the optimizer step can treat every parameter alike.
// - The seed (cotangent of `loss`) defaults to ones when `loss` has one element; a loss with
//   more elements needs an explicit `seed` of its shape.
// - stopGradient(b, x) is an ONNX Identity node that this module remembers (a WeakSet of
//   nodes): it emits and runs as Identity everywhere, and autodiff treats its output as a
//   constant. Passes that run BEFORE autodiff must keep such nodes (see isStopGradient);
//   after autodiff they are plain Identities and may be removed.
// - Backward nodes get scope `grad/<forward scope>` (`grad` for an empty scope) and no remat
//   segment; `differentiate` also returns the backward -> forward node map, so the remat pass
//   can find which forward segment each backward node belongs to (forward.segment).
import { Builder } from '../ir/builder.ts';
import { isFloat } from '../ir/dtype.ts';
import type { Graph, Node, Value } from '../ir/graph.ts';
import { expandTo, sameShape, scalar, zeros } from './helpers.ts';
import { UnsupportedGradientError, type VjpContext, nonDifferentiable, vjpRules } from './vjp.ts';

export interface GradientOptions {
  /** Cotangent of `loss` (same shape and dtype). Default: ones, for a one-element loss. */
  seed?: Value;
  /** Scope prefix of backward nodes (default 'grad'). */
  scopePrefix?: string;
}

export interface GradientResult {
  /** Gradient of `loss` with respect to each `wrt` value (zeros where loss does not depend on it). */
  grads: Map<Value, Value>;
  /** Every node the backward pass appended, in graph order. */
  backwardNodes: Node[];
  /** The forward node each backward node differentiates (undefined: seed, sums, zeros). */
  forwardOf: Map<Node, Node | undefined>;
}

const stopGradientNodes = new WeakSet<Node>();
const eagerlySummed = new WeakSet<Value>();

/** Identity whose output autodiff treats as a constant (see the module comment). */
export function stopGradient(b: Builder, x: Value): Value {
  const y = b.op('Identity', [x]);
  const node = y.producer as Node;
  node.name = b.graph.uniqueName(`${node.name}_stop_gradient`);
  stopGradientNodes.add(node);
  return y;
}

export function isStopGradient(node: Node): boolean {
  return stopGradientNodes.has(node);
}

/**
 * Sum the gradient contributions to `value` as they arrive (a running Add under each
 * consumer's backward scope) instead of all at once when its producer is reached. For a value
 * that many consumers read one after another, such as K and V of chunked attention: one partial
 * sum is alive instead of one gradient per consumer. The association order is the same.
 */
export function accumulateEagerly(value: Value): void {
  eagerlySummed.add(value);
}

export function gradients(graph: Graph, loss: Value, wrt: Value[], options: GradientOptions = {}): Map<Value, Value> {
  return differentiate(graph, loss, wrt, options).grads;
}

/** Nodes that `loss` depends on, in topological order (iterative DFS: graphs can be deep). */
function ancestorsInOrder(loss: Value, inGraph: Set<Node>): Node[] {
  const order: Node[] = [];
  const state = new Map<Node, 1 | 2>(); // 1: on the stack, 2: done
  const root = loss.producer;
  if (!root || !inGraph.has(root)) return order;
  const stack: [Node, number][] = [[root, 0]];
  state.set(root, 1);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [node, next] = top;
    if (next < node.inputs.length) {
      top[1]++;
      const producer = node.inputs[next]?.producer;
      if (producer && inGraph.has(producer) && !state.has(producer)) {
        state.set(producer, 1);
        stack.push([producer, 0]);
      }
    } else {
      stack.pop();
      state.set(node, 2);
      order.push(node);
    }
  }
  return order;
}

export function differentiate(graph: Graph, loss: Value, wrt: Value[], options: GradientOptions = {}): GradientResult {
  if (!isFloat(loss.dtype)) throw new Error(`gradients: loss '${loss.name}' is ${loss.dtype}, not floating point`);
  for (const v of wrt) {
    if (!isFloat(v.dtype)) throw new Error(`gradients: cannot differentiate with respect to ${v.dtype} value '${v.name}'`);
  }
  const prefix = options.scopePrefix ?? 'grad';
  const b = new Builder(graph);
  const firstNew = graph.nodes.length;
  const forwardOf = new Map<Node, Node | undefined>();
  /** Run `build` under the backward scope of `forward`, recording the nodes it appends. */
  const emitting = <T>(forward: Node | undefined, build: () => T): T => {
    const before = graph.nodes.length;
    const scope = forward?.scope ? `${prefix}/${forward.scope}` : prefix;
    const out = b.within(scope, build);
    for (let i = before; i < graph.nodes.length; i++) forwardOf.set(graph.nodes[i], forward);
    return out;
  };

  // 1. The nodes loss depends on, in topological order.
  const order = ancestorsInOrder(loss, new Set(graph.nodes));

  // 2. Values that depend on a wrt value (floating point only, stopGradient cuts).
  const wrtSet = new Set(wrt);
  const active = new Set<Value>(wrt);
  const activeNodes: Node[] = [];
  for (const node of order) {
    if (stopGradientNodes.has(node)) continue;
    const rule = vjpRules[node.op];
    if (rule === nonDifferentiable) continue;
    if (!node.inputs.some((v) => v && active.has(v))) continue;
    activeNodes.push(node);
    for (const out of node.outputs) if (isFloat(out.dtype)) active.add(out);
  }

  // 3. Seed, then propagate cotangents backwards.
  const contributions = new Map<Value, Value[]>();
  const contribute = (v: Value, g: Value, from?: Node) => {
    const list = contributions.get(v);
    if (list && eagerlySummed.has(v)) list[0] = emitting(from, () => b.add(list[0], g));
    else if (list) list.push(g);
    else contributions.set(v, [g]);
  };
  /** Sum of a value's contributions (built once, under the producer's backward scope). */
  const total = (v: Value): Value | undefined => {
    const list = contributions.get(v);
    if (!list || list.length === 0) return undefined;
    if (list.length > 1) {
      const sum = emitting(v.producer, () => list.reduce((acc, g) => b.add(acc, g)));
      contributions.set(v, [sum]);
    }
    return contributions.get(v)?.[0];
  };

  if (active.has(loss)) {
    let seed = options.seed;
    if (seed) {
      if (!sameShape(seed.shape, loss.shape) || seed.dtype !== loss.dtype) {
        throw new Error(`gradients: seed [${seed.shape}] ${seed.dtype} does not match loss [${loss.shape}] ${loss.dtype}`);
      }
    } else {
      if (loss.size !== 1) throw new Error(`gradients: loss '${loss.name}' has shape [${loss.shape}]; pass a seed for a non-scalar loss`);
      seed = emitting(undefined, () => expandTo(b, scalar(b, 1, loss.dtype), loss.shape));
    }
    contribute(loss, seed);
  }

  for (let n = activeNodes.length - 1; n >= 0; n--) {
    const node = activeNodes[n];
    const grads = node.outputs.map((out) => total(out));
    if (grads.every((g) => g === undefined)) continue;
    const needs = node.inputs.map((v) => v !== undefined && active.has(v));
    const rule = vjpRules[node.op];
    if (!rule) throw new UnsupportedGradientError(node, `no VJP rule for op '${node.op}'`);
    const ctx: VjpContext = { b, graph, node, inputs: node.inputs, outputs: node.outputs, grads, needs };
    const inputGrads = emitting(node, () => rule(ctx));
    node.inputs.forEach((v, i) => {
      const g = inputGrads[i];
      if (!v || !g || !needs[i]) return;
      if (!sameShape(g.shape, v.shape) || g.dtype !== v.dtype) {
        throw new Error(
          `internal: VJP of ${node.op} (${node.name}) gave [${g.shape}] ${g.dtype} for input ${i} of [${v.shape}] ${v.dtype}`,
        );
      }
      contribute(v, g, node);
    });
  }

  // 4. Collect; wrt values loss does not depend on get zeros.
  // Each gradient is a distinct node output (Add's rule hands the same cotangent to both
  // operands; a seed may be a graph input), so callers can mark them as outputs one by one.
  const grads = new Map<Value, Value>();
  const used = new Set<Value>();
  for (const v of wrtSet) {
    let g = total(v) ?? emitting(v.producer, () => zeros(b, v.shape, v.dtype));
    if (used.has(g) || !g.producer || wrtSet.has(g)) g = emitting(v.producer, () => b.op('Identity', [g]));
    used.add(g);
    grads.set(v, g);
  }
  return { grads, backwardNodes: graph.nodes.slice(firstNew), forwardOf };
}
