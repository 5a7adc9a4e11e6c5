// Common-subexpression elimination (in place): two nodes with the same op, the same inputs and
// the same attributes compute the same values, so the later one is dropped and its uses point
// at the earlier one. Small inline constants (initializers up to `maxConstantElements`) with the
// same dtype, shape and bytes are merged first, so `x * 0.5` built twice from two scalar
// initializers is recognised too. Nodes with subgraph or tensor attributes are left alone, and
// rematerialised clones (segment "...#remat") are never merged with the forward originals.
import type { AttributeValue, Graph, Node, Value } from '../ir/graph.ts';
import { Graph as GraphClass } from '../ir/graph.ts';
import { isStopGradient } from '../autodiff/grad.ts';
import { applyReplacements, subgraphsOf } from './util.ts';

export interface CseOptions {
  maxConstantElements?: number;
}

function attributeKey(value: AttributeValue): string | undefined {
  if (value instanceof GraphClass) return undefined;
  if (typeof value === 'object' && !Array.isArray(value) && (value as { kind?: string }).kind === 'tensor') return undefined;
  return JSON.stringify(value);
}

function nodeKey(node: Node, id: (v: Value) => number): string | undefined {
  const attrs: string[] = [];
  for (const name of Object.keys(node.attributes).sort()) {
    const k = attributeKey(node.attributes[name]);
    if (k === undefined) return undefined;
    attrs.push(`${name}=${k}`);
  }
  // stop-gradient Identities must not merge with plain ones; remat clones not with originals
  const remat = (node.segment?.includes('#remat') ? node.segment : '') + (isStopGradient(node) ? '!stop' : '');
  return `${node.op}(${node.inputs.map((v) => (v ? id(v) : '_')).join(',')})[${attrs.join(';')}]${remat}`;
}

function bytesKey(value: Value, data: ArrayBufferView): string {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return `${value.dtype}[${value.shape.join(',')}]:${Buffer.from(bytes).toString('base64')}`;
}

export function eliminateCommonSubexpressions(graph: Graph, options: CseOptions = {}): Graph {
  const maxElements = options.maxConstantElements ?? 64;
  const replace = new Map<Value, Value>();

  // 1. equal small constants
  const constants = new Map<string, Value>();
  for (const [value, init] of graph.initializers) {
    if (!init.data || value.size > maxElements || graph.outputs.includes(value)) continue;
    const key = bytesKey(value, init.data);
    const first = constants.get(key);
    if (first) {
      replace.set(value, first);
      graph.initializers.delete(value);
    } else constants.set(key, value);
  }

  // 2. equal nodes, in order (inputs are already canonical when a node is reached)
  const seen = new Map<string, Node>();
  const kept: Node[] = [];
  for (const node of graph.nodes) {
    node.inputs = node.inputs.map((v) => (v && replace.get(v)) ?? v);
    for (const sub of subgraphsOf(node)) {
      applyReplacements(sub, replace, true);
      eliminateCommonSubexpressions(sub, options);
    }
    const key = subgraphsOf(node).length > 0 ? undefined : nodeKey(node, (v) => v.id);
    const first = key === undefined ? undefined : seen.get(key);
    if (first) {
      node.outputs.forEach((o, i) => replace.set(o, first.outputs[i]));
      continue;
    }
    if (key !== undefined) seen.set(key, node);
    kept.push(node);
  }
  graph.nodes = kept;
  // rewrite graph outputs (keeping their names) and anything a subgraph captured late
  applyReplacements(graph, replace);
  return graph;
}

export const csePass = { name: 'cse', run: (g: Graph) => eliminateCommonSubexpressions(g) };
