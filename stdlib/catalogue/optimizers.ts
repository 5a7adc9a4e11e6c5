// Optimizers, written as graph nodes by the compiler.
import type { ComponentEntry } from './types.ts';

export interface OptimizerEntry extends ComponentEntry {
  kind: 'optimizer';
}

export const optimizers: readonly OptimizerEntry[] = [
  {
    kind: 'optimizer', name: 'adamw', doc: 'AdamW with decoupled weight decay and an optional linear warm-up.',
    params: [
      { name: 'lr', doc: 'Learning rate.', type: { kind: 'float' }, default: 2e-4, greaterThan: 0, max: 1 },
      { name: 'betas', doc: 'Moment decay rates [beta1, beta2].', type: { kind: 'list', of: { kind: 'float' }, minLength: 2, maxLength: 2 }, default: [0.9, 0.999], min: 0, max: 0.99999 },
      { name: 'eps', doc: 'Denominator epsilon.', type: { kind: 'float' }, default: 1e-8, greaterThan: 0, max: 1 },
      { name: 'weight_decay', doc: 'Decoupled weight decay.', type: { kind: 'float' }, default: 0.01, min: 0, max: 1 },
      { name: 'warmup', doc: 'Optimizer steps of linear learning-rate warm-up.', type: { kind: 'int' }, unit: 'steps', default: 0, min: 0, max: 10_000_000 },
    ],
  },
];
