// Dead-code elimination (in place): drop nodes that no graph output depends on, recursively in
// subgraphs, and initializers nothing uses. Graph inputs stay: they are the graph's interface.
import type { Graph, Node, Value } from '../ir/graph.ts';
import { nodeUses, subgraphsOf } from './util.ts';

export function eliminateDeadCode(graph: Graph): Graph {
  const live = new Set<Value>(graph.outputs);
  const kept: Node[] = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i];
    if (!node.outputs.some((o) => live.has(o))) continue;
    for (const sub of subgraphsOf(node)) eliminateDeadCode(sub);
    for (const v of nodeUses(node)) live.add(v);
    kept.push(node);
  }
  graph.nodes = kept.reverse();
  for (const v of [...graph.initializers.keys()]) if (!live.has(v)) graph.initializers.delete(v);
  return graph;
}

export const dcePass = { name: 'dce', run: eliminateDeadCode };
