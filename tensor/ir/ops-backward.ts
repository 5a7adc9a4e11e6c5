// Ops that only backward passes build, registered into the op table at import time (the
// autodiff module imports this file). An op already in the table is left as it is, so the
// forward op table stays the single source for anything both directions use.
import { type OpSchema, ShapeError, normalizeAxis, opSchemas } from './ops.ts';
import { formatShape } from './graph.ts';

export const backwardOpSchemas: Record<string, OpSchema> = {
  // The adjoint of GatherElements: ScatterElements(data, indices, updates) with reduction 'add'
  // (opset 16) so that repeated indices accumulate.
  ScatterElements: {
    attributes: { axis: 'int', reduction: 'string' },
    infer: ([data, indices, updates], attrs) => {
      if (indices.dtype !== 'int64' && indices.dtype !== 'int32') throw new ShapeError(`ScatterElements indices must be int64 or int32, got ${indices.dtype}`);
      normalizeAxis((attrs.axis as number | undefined) ?? 0, data.shape.length);
      const reduction = (attrs.reduction as string | undefined) ?? 'none';
      if (!['none', 'add', 'mul'].includes(reduction)) throw new ShapeError(`ScatterElements reduction '${reduction}' is unknown`);
      if (indices.shape.length !== data.shape.length || formatShape(indices.shape) !== formatShape(updates.shape)) {
        throw new ShapeError(`ScatterElements indices ${formatShape(indices.shape)} and updates ${formatShape(updates.shape)} must match and have data's rank`);
      }
      if (updates.dtype !== data.dtype) throw new ShapeError(`ScatterElements mixes ${data.dtype} and ${updates.dtype}`);
      return [{ dtype: data.dtype, shape: [...data.shape] }];
    },
  },
};

for (const [op, schema] of Object.entries(backwardOpSchemas)) {
  if (!opSchemas[op]) opSchemas[op] = schema;
}
