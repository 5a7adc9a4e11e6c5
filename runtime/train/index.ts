// The generic training runtime: the driver (train.ts), its tensors (tensors.ts) and the
// resume-compatibility rules (resume.ts). A method's lowering plugs in through TrainOptions.
export * from './train.ts';
export { describeNonFinite, findNonFinite, numelOf, toWrite } from './tensors.ts';
export { describeChanges, diffPlans, isResumeSafe, resumeSafePaths, type PlanChange } from './resume.ts';
