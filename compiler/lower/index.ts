// Lowering: Plan -> Program (tensor IR graphs + schedule). The contract every method shares is
// in ./contract.ts; each objective's lowering is a method of compiler/methods/registry.ts.
export * from './contract.ts';
export { decodeFrames } from './decode-frames.ts';
export { compilerMethodFor, compilerMethods, lower, unloweredObjectives } from '../methods/registry.ts';
export * from '../methods/reward/index.ts';
export * from '../methods/consistency/index.ts';
