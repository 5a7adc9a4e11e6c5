// The IR validator: structural invariants every pass must keep. Run after every pass by
// runPasses when VPL_DEBUG is set; tests call it directly.
//
// Checked: every node input is a graph input, an initializer, the output of an earlier node, or
// (in a subgraph) a value of an enclosing graph; every value has one producer; types re-inferred
// from the op table equal the recorded ones; value and node names are unique; graph outputs
// exist; a Loop body has the (iter, cond, carried...) -> (cond, carried...) signature.
import type { Graph, Value } from '../ir/graph.ts';
import { formatShape } from '../ir/graph.ts';
import { inferTypes, opSchemas } from '../ir/ops.ts';
import { subgraphsOf } from './util.ts';

export class ValidationError extends Error {
  constructor(readonly problems: string[], context = '') {
    super(`invalid IR${context ? ` after ${context}` : ''}:\n  ${problems.slice(0, 20).join('\n  ')}${problems.length > 20 ? `\n  ... and ${problems.length - 20} more` : ''}`);
    this.name = 'ValidationError';
  }
}

/** All problems found; empty when the graph is valid. */
export function validationProblems(graph: Graph, outer: ReadonlySet<Value> = new Set()): string[] {
  const problems: string[] = [];
  const where = `graph '${graph.name}'`;
  const defined = new Set<Value>(outer);
  const valueNames = new Map<string, Value>();
  const nodeNames = new Set<string>();
  const outerNames = new Set([...outer].map((v) => v.name));
  const define = (v: Value, what: string) => {
    if (defined.has(v) && !outer.has(v)) problems.push(`${where}: ${what} '${v.name}' is defined twice`);
    defined.add(v);
    if (outerNames.has(v.name) && !outer.has(v)) problems.push(`${where}: '${v.name}' shadows a value of the enclosing graph`);
    const other = valueNames.get(v.name);
    if (other && other !== v) problems.push(`${where}: two values are named '${v.name}'`);
    valueNames.set(v.name, v);
  };
  graph.inputs.forEach((v) => define(v, 'input'));
  for (const [v, init] of graph.initializers) {
    define(v, 'initializer');
    if (!init.data && !init.external) problems.push(`${where}: initializer '${v.name}' has no data`);
    if (init.data && init.data.length !== v.size) {
      problems.push(`${where}: initializer '${v.name}' holds ${init.data.length} elements for shape ${formatShape(v.shape)}`);
    }
  }
  for (const node of graph.nodes) {
    const at = `${where}, node '${node.name}' (${node.op})`;
    if (nodeNames.has(node.name)) problems.push(`${where}: two nodes are named '${node.name}'`);
    nodeNames.add(node.name);
    if (!opSchemas[node.op]) problems.push(`${at}: unknown op`);
    for (const v of node.inputs) {
      if (v && !defined.has(v)) problems.push(`${at}: input '${v.name}' is used before it is produced (or never is)`);
    }
    for (const sub of subgraphsOf(node)) {
      for (const p of validationProblems(sub, defined)) problems.push(`${at} body: ${p}`);
    }
    if (opSchemas[node.op]) {
      try {
        const present = node.inputs.filter((v): v is Value => v !== undefined);
        const types = inferTypes(node.op, present.map((v) => v.type), node.attributes, node.scope);
        if (types.length !== node.outputs.length) problems.push(`${at}: ${node.outputs.length} outputs recorded, ${types.length} inferred`);
        types.forEach((t, i) => {
          const o = node.outputs[i];
          if (o && (o.dtype !== t.dtype || formatShape(o.shape) !== formatShape(t.shape))) {
            problems.push(`${at}: output '${o.name}' is recorded as ${o.dtype}${formatShape(o.shape)} but infers as ${t.dtype}${formatShape(t.shape)}`);
          }
        });
      } catch (error) {
        problems.push(`${at}: ${(error as Error).message}`);
      }
    }
    for (const o of node.outputs) {
      if (o.producer !== node) problems.push(`${at}: output '${o.name}' does not name this node as its producer`);
      define(o, 'value');
    }
  }
  const seen = new Set<Value>();
  for (const v of graph.outputs) {
    if (!defined.has(v)) problems.push(`${where}: output '${v.name}' is not produced`);
    if (seen.has(v)) problems.push(`${where}: output '${v.name}' is listed twice`);
    seen.add(v);
  }
  return problems;
}

export function validate(graph: Graph, context = ''): void {
  const problems = validationProblems(graph);
  if (problems.length > 0) throw new ValidationError(problems, context);
}
