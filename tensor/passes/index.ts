// The pass driver. A pass maps a graph to a graph (most rewrite it in place and return it);
// with VPL_DEBUG set, the IR validator runs after every pass and names the pass that broke it.
import type { Graph } from '../ir/graph.ts';
import { validate } from './validate.ts';

export interface Pass {
  name: string;
  run(graph: Graph): Graph | Promise<Graph>;
}

export function debugEnabled(): boolean {
  const v = process.env.VPL_DEBUG;
  return v !== undefined && v !== '' && v !== '0';
}

export async function runPasses(graph: Graph, passes: Pass[], options: { validate?: boolean } = {}): Promise<Graph> {
  const check = options.validate ?? debugEnabled();
  if (check) validate(graph, 'input to the pass pipeline');
  for (const pass of passes) {
    graph = await pass.run(graph);
    if (check) validate(graph, `pass '${pass.name}'`);
  }
  return graph;
}

export { eliminateDeadCode } from './dce.ts';
export { eliminateCommonSubexpressions } from './cse.ts';
export { foldConstants } from './fold.ts';
export { scheduleForMemory } from './schedule.ts';
export { peakMemory } from './liveness.ts';
export { rematerialize } from './remat.ts';
export { validate, validationProblems, ValidationError } from './validate.ts';
