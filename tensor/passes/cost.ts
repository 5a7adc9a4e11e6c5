// Compute cost of a graph: FLOPs of its matrix products (MatMul, Gemm, Conv, ConvTranspose),
// which dominate diffusion models. Used by `vplc explain` and the benchmarks.
import { type Graph, type Node, numel } from '../ir/graph.ts';
import { subgraphsOf } from './util.ts';

/**
 * FLOPs of the matrix products of a graph: 2*M*N*K per MatMul/Gemm and the same for the
 * conv-equivalents (Conv: 2 * N * Cout * out_spatial * Cin/group * kernel; ConvTranspose:
 * 2 * N * Cin * in_spatial * Cout/group * kernel). Elementwise ops are not counted.
 */
export function matmulFlops(graph: Graph): { total: number; byOp: Record<string, number> } {
  const byOp: Record<string, number> = {};
  const add = (op: string, f: number) => (byOp[op] = (byOp[op] ?? 0) + f);
  const visit = (g: Graph) => {
    for (const node of g.nodes) {
      const f = nodeFlops(node);
      if (f > 0) add(node.op, f);
      for (const sub of subgraphsOf(node)) visit(sub);
    }
  };
  visit(graph);
  return { total: Object.values(byOp).reduce((a, b) => a + b, 0), byOp };
}

export function nodeFlops(node: Node): number {
  const [a, b] = node.inputs;
  const out = node.outputs[0];
  if (!a || !b || !out) return 0;
  switch (node.op) {
    case 'MatMul': {
      const k = a.shape[a.rank - 1];
      return 2 * numel(out.shape) * k;
    }
    case 'Gemm': {
      const k = node.attributes.transA ? a.shape[0] : a.shape[1];
      return 2 * numel(out.shape) * k;
    }
    case 'Conv': {
      // every output element is a dot product of length Cin/group * prod(kernel) = numel(w) / Cout
      return 2 * numel(out.shape) * (numel(b.shape) / b.shape[0]);
    }
    case 'ConvTranspose': {
      // every input element scatters into Cout/group * prod(kernel) = numel(w) / Cin outputs
      return 2 * numel(a.shape) * (numel(b.shape) / b.shape[0]);
    }
    default:
      return 0;
  }
}
