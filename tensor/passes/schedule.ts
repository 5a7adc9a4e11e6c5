// A memory-friendly topological order (in place): greedy list scheduling. Among the nodes whose
// inputs are ready, run the one that frees the most bytes net (bytes of inputs it is the last
// user of, minus bytes it allocates) when that is positive; otherwise keep the original order
// (the earliest ready node). Sticking to the original order when nothing frees memory keeps the
// placement of rematerialised nodes ("right before first use") and of the forward pass intact,
// while consumers that end a tensor's life move up as soon as they can. Graph inputs,
// initializers and graph outputs are never "freed". Ties go to the earlier node, so the order is
// deterministic. Also usable as a plain topological sort of a graph whose node list is unordered.
import type { Graph, Node, Value } from '../ir/graph.ts';
import { nodeUses, valueBytes } from './util.ts';

export function scheduleForMemory(graph: Graph): Graph {
  const nodes = graph.nodes;
  const producerIndex = new Map<Value, number>();
  nodes.forEach((n, i) => n.outputs.forEach((o) => producerIndex.set(o, i)));
  const pinned = new Set<Value>([...graph.inputs, ...graph.initializers.keys(), ...graph.outputs]);

  const uses = nodes.map((n) => nodeUses(n));
  const remainingUsers = new Map<Value, number>();
  const consumers = new Map<number, number[]>(); // producer index -> consumer indices
  const waiting = new Int32Array(nodes.length);
  uses.forEach((vs, i) => {
    const deps = new Set<number>();
    for (const v of vs) {
      remainingUsers.set(v, (remainingUsers.get(v) ?? 0) + 1);
      const p = producerIndex.get(v);
      if (p !== undefined && p !== i) deps.add(p);
    }
    waiting[i] = deps.size;
    for (const p of deps) {
      let list = consumers.get(p);
      if (!list) consumers.set(p, (list = []));
      list.push(i);
    }
  });

  const ready = new Set<number>();
  waiting.forEach((w, i) => w === 0 && ready.add(i));
  const order: Node[] = [];
  const score = (i: number) => {
    let freed = 0;
    for (const v of uses[i]) if (!pinned.has(v) && remainingUsers.get(v) === 1) freed += valueBytes(v);
    let allocated = 0;
    for (const o of nodes[i].outputs) allocated += valueBytes(o);
    return freed - allocated;
  };
  while (ready.size > 0) {
    let best = -1;
    let bestScore = 0;
    let earliest = Infinity;
    for (const i of ready) {
      earliest = Math.min(earliest, i);
      const s = score(i);
      if (s > bestScore || (s === bestScore && s > 0 && i < best)) {
        best = i;
        bestScore = s;
      }
    }
    const pick = best >= 0 ? best : earliest;
    ready.delete(pick);
    order.push(nodes[pick]);
    for (const v of uses[pick]) remainingUsers.set(v, remainingUsers.get(v)! - 1);
    for (const c of consumers.get(pick) ?? []) {
      if (--waiting[c] === 0) ready.add(c);
    }
  }
  if (order.length !== nodes.length) {
    const stuck = nodes.filter((n) => !order.includes(n)).map((n) => n.name);
    throw new Error(`scheduleForMemory: the graph has a cycle or an undefined input (nodes ${stuck.slice(0, 5).join(', ')})`);
  }
  graph.nodes = order;
  return graph;
}

export const schedulePass = { name: 'schedule', run: scheduleForMemory };
