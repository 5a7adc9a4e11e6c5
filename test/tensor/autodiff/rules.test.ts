// Every rule of the VJP table (tensor/autodiff/vjp.ts) against central finite differences, and a
// coverage test that fails for any differentiable op no passing check verified.
//
// The checks live in ./rules/*.ts and register here, in this one test file, because the coverage
// test reads what the checks themselves recorded: each passing gradcheck records the ops whose
// rules its finite differences saw (test/helpers/gradcheck.ts, verifiedOps), and vitest runs each
// test file in its own process. The coverage test is declared last, so it runs after every check
// (vitest runs a file's tests in order); a check that fails or is skipped does not count.
import { describe, expect, it } from 'vitest';
import { nonDifferentiable, vjpRules } from '../../../tensor/autodiff/vjp.ts';
import { verifiedOps } from '../../helpers/gradcheck.ts';
import './rules/elementwise.ts';
import './rules/shape.ts';
import './rules/nn.ts';

/** Ops the table maps to `nonDifferentiable` on purpose, each with the reason. */
const NOT_DIFFERENTIABLE: Record<string, string> = {
  Equal: 'boolean output',
  Less: 'boolean output',
  LessOrEqual: 'boolean output',
  Greater: 'boolean output',
  GreaterOrEqual: 'boolean output',
  And: 'boolean inputs and output',
  Or: 'boolean inputs and output',
  Not: 'boolean input and output',
  Xor: 'boolean inputs and output',
  IsNaN: 'boolean output',
  IsInf: 'boolean output',
  Floor: 'piecewise constant: the derivative is 0 wherever it exists',
  Ceil: 'piecewise constant: the derivative is 0 wherever it exists',
  Round: 'piecewise constant: the derivative is 0 wherever it exists',
  Sign: 'piecewise constant: the derivative is 0 wherever it exists',
  Shape: 'int64 output: the shape, not the values',
  Size: 'int64 output: the element count, not the values',
  ArgMax: 'int64 indices',
  ArgMin: 'int64 indices',
  ConstantOfShape: 'int64 shape input; the value is an attribute',
  Range: 'builds index sequences; its scalar bounds are never trained',
  RandomNormal: 'a sample: no tensor inputs',
  RandomUniform: 'a sample: no tensor inputs',
  RandomNormalLike: "a sample: the input gives only the shape and type, its values do not matter",
  RandomUniformLike: "a sample: the input gives only the shape and type, its values do not matter",
};

describe('VJP table coverage', () => {
  it('lists every op mapped to nonDifferentiable with a reason, and nothing else', () => {
    const mapped = Object.keys(vjpRules).filter((op) => vjpRules[op] === nonDifferentiable).sort();
    expect(mapped).toEqual(Object.keys(NOT_DIFFERENTIABLE).sort());
  });

  it('has a passing finite-difference check for every differentiable op (run after the checks above)', () => {
    const differentiable = Object.keys(vjpRules).filter((op) => vjpRules[op] !== nonDifferentiable);
    const unchecked = differentiable.filter((op) => !verifiedOps.has(op)).sort();
    expect(unchecked, 'ops with a VJP rule but no passing gradcheck in ./rules/*.ts (run the whole file: the checks record what they verify)').toEqual([]);
  });
});
