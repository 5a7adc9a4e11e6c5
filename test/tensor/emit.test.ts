import { describe, expect, it } from 'vitest';
import { evaluate } from '../../tensor/emit/evaluate.ts';
import { Builder } from '../../tensor/ir/builder.ts';
import { Graph } from '../../tensor/ir/graph.ts';
import { ShapeError } from '../../tensor/ir/ops.ts';

describe('emission', () => {
  it('runs a small graph with constant-input ops (Reshape, ReduceSum, Slice) in onnxruntime', async () => {
    const b = new Builder(new Graph('g'));
    const x = b.input('x', [2, 3]);
    const y = b.input('y', [3]);
    const sum = b.reduceSum(b.mul(x, y), [1], false); // broadcast, then reduce
    const reshaped = b.reshape(b.slice(x, 1, 1, 3), [4]);
    b.graph.markOutput(sum);
    b.graph.markOutput(reshaped);
    const out = await evaluate(b.graph, { x: Float32Array.of(1, 2, 3, 4, 5, 6), y: Float32Array.of(1, 10, 100) });
    expect([...out[sum.name]]).toEqual([321, 654]);
    expect([...out[reshaped.name]]).toEqual([2, 3, 5, 6]);
  });

  it('names the layer and both shapes when shapes do not fit', () => {
    const b = new Builder(new Graph('g'));
    const x = b.input('x', [2, 3]);
    const w = b.input('w', [4, 5]);
    expect(() => b.within('unet', () => b.within('proj', () => b.matmul(x, w)))).toThrow(ShapeError);
    expect(() => b.within('unet', () => b.within('proj', () => b.matmul(x, w)))).toThrow(/in unet\.proj: MatMul.*\[2, 3\].*\[4, 5\]/);
  });
});
