// arange: short ones are constants; long ones (a counter per activation element of a full-size
// model) are computed in the graph from two short constants, with the same values.
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../tensor/emit/evaluate.ts';
import { Builder } from '../../tensor/ir/builder.ts';
import { Graph } from '../../tensor/ir/graph.ts';

function arangeGraph(n: number, start: number, step: number): Graph {
  const g = new Graph('arange');
  const b = new Builder(g);
  g.markOutput(b.arange(n, 'int64', start, step));
  return g;
}

const constantElements = (g: Graph) => [...g.initializers.values()].reduce((sum, init) => sum + (init.data?.length ?? 0), 0);

describe('arange', () => {
  it('stays a constant up to 2^16 entries', () => {
    const g = arangeGraph(1 << 16, 0, 1);
    expect(g.nodes).toHaveLength(0);
    expect(constantElements(g)).toBe(1 << 16);
  });

  for (const [n, start, step] of [
    [100_003, 0, 1], // ragged: rows x 4096 is sliced
    [3 * 4096 * 7, 1, 2], // exact rows, odd counters
  ] as const) {
    it(`computes ${n} entries (start ${start}, step ${step}) in the graph from short constants`, async () => {
      const g = arangeGraph(n, start, step);
      expect(constantElements(g)).toBeLessThan(8192);
      const out = Object.values(await evaluate(g, {}))[0] as BigInt64Array;
      expect(out.length).toBe(n);
      for (const i of [0, 1, 4095, 4096, 4097, n - 1]) expect(Number(out[i])).toBe(start + i * step);
    });
  }
});
