// Shared helpers of the graph passes: use lists, subgraph captures, byte sizes, rewiring.
//
// Subgraphs (a Loop's `body` attribute) refer to values of the enclosing graph directly (the
// same Value objects; the emitter writes them by name). For dependency analysis, a node with a
// subgraph therefore also "uses" every outer value its subgraph captures.
import { dtypes } from '../ir/dtype.ts';
import { Graph, type Node, type Value, numel } from '../ir/graph.ts';

export function subgraphsOf(node: Node): Graph[] {
  return Object.values(node.attributes).filter((a): a is Graph => a instanceof Graph);
}

/** Values a (sub)graph uses without defining them: produced by an enclosing graph. Recursive. */
export function capturedValues(graph: Graph): Set<Value> {
  const defined = new Set<Value>([...graph.inputs, ...graph.initializers.keys()]);
  for (const node of graph.nodes) for (const o of node.outputs) defined.add(o);
  const captured = new Set<Value>();
  const use = (v: Value | undefined) => {
    if (v && !defined.has(v)) captured.add(v);
  };
  for (const node of graph.nodes) {
    node.inputs.forEach(use);
    for (const sub of subgraphsOf(node)) capturedValues(sub).forEach(use);
  }
  graph.outputs.forEach(use);
  return captured;
}

/** Every value a node depends on: its inputs plus what its subgraphs capture. */
export function nodeUses(node: Node): Value[] {
  const uses = node.inputs.filter((v): v is Value => v !== undefined);
  for (const sub of subgraphsOf(node)) uses.push(...capturedValues(sub));
  return [...new Set(uses)];
}

/** value -> the nodes (of this graph, not its subgraphs) that use it, in node order. */
export function usesMap(graph: Graph): Map<Value, Node[]> {
  const map = new Map<Value, Node[]>();
  for (const node of graph.nodes) {
    for (const v of nodeUses(node)) {
      let list = map.get(v);
      if (!list) map.set(v, (list = []));
      list.push(node);
    }
  }
  return map;
}

export function valueBytes(v: Value): number {
  return numel(v.shape) * dtypes[v.dtype].bytes;
}

/** Replace every use of `from` by `to` in the graph's nodes (and subgraphs) and outputs. */
export function replaceAllUses(graph: Graph, from: Value, to: Value): void {
  applyReplacements(graph, new Map([[from, to]]));
}

/** Rewrite uses by a replacement map (values map to values that are not replaced again). */
export function applyReplacements(graph: Graph, map: ReadonlyMap<Value, Value>, isSubgraph = false): void {
  if (map.size === 0) return;
  for (const node of graph.nodes) {
    node.inputs = node.inputs.map((v) => (v && map.get(v)) ?? v);
    for (const sub of subgraphsOf(node)) applyReplacements(sub, map, true);
  }
  graph.outputs.forEach((from, i) => {
    const to = map.get(from);
    if (!to) return;
    if (isSubgraph) {
      graph.outputs[i] = to; // body outputs are positional, names do not matter
      return;
    }
    // Passes keep graph output names stable (the runtime fetches outputs by name): `to` takes
    // over the name, or, when `to` is an input, an initializer or already an output, an Identity
    // named like the old output does.
    const name = from.name;
    from.name = `${name}__replaced`;
    if (to.producer === undefined || graph.outputs.includes(to) || graph.inputs.includes(to)) {
      const node = graph.addNode('Identity', [to], [to.type], {}, 'passes');
      node.outputs[0].name = name;
      graph.outputs[i] = node.outputs[0];
    } else {
      to.name = name;
      graph.outputs[i] = to;
    }
  });
}

/** Every node, including those of subgraphs (depth-first). */
export function* allNodes(graph: Graph): Generator<Node> {
  for (const node of graph.nodes) {
    yield node;
    for (const sub of subgraphsOf(node)) yield* allNodes(sub);
  }
}
