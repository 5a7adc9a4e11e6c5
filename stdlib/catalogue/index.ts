// The lookup API over the catalogue: the one place the checker, `explain`, hover and
// completion ask "what is this name, and what does it take?".
import { blocks } from './blocks.ts';
import { datasets, promptSets, type DatasetEntry, type PromptSetEntry } from './data.ts';
import { textEncoders, vaes, type TextEncoderEntry, type VaeEntry } from './encoders.ts';
import { modelCommonParams, models, type ModelEntry } from './models.ts';
import { objectives, type ObjectiveEntry } from './objectives.ts';
import { optimizers, type OptimizerEntry } from './optimizers.ts';
import { rewards, type RewardEntry } from './rewards.ts';
import { samplers, solvers, type SamplerEntry, type SolverEntry } from './samplers.ts';
import type { BlockSpec, ClauseSpec, ComponentKind, ParamSpec } from './types.ts';

export type * from './types.ts';
export type { ModelEntry, ModelFamily, PredictionType } from './models.ts';
export type { LossConstant, LossForm, LossFormOf, LossFormSpec, PixelNorm, ResizeMode, RewardClass, RewardEntry, RewardModality, RewardParamValue, RewardPreprocess, RewardTerm } from './rewards.ts';
export { lossFormula, modalityNeedsText, modalityScoresVideo, PIXEL_NORMS, rewardClassOf, rewardNeedsText, rewardScoresVideo, tinyStandInOf, tinyStandIns } from './rewards.ts';
export type { SamplerEntry, SolverEntry } from './samplers.ts';
export type { ObjectiveEntry } from './objectives.ts';
export type { OptimizerEntry } from './optimizers.ts';
export type { TextEncoderEntry, VaeEntry } from './encoders.ts';
export type { DatasetEntry, PromptSetEntry } from './data.ts';
export { blocks, modelCommonParams };

export interface ComponentEntryByKind {
  model: ModelEntry;
  text_encoder: TextEncoderEntry;
  vae: VaeEntry;
  reward: RewardEntry;
  sampler: SamplerEntry;
  solver: SolverEntry;
  prompt_set: PromptSetEntry;
  dataset: DatasetEntry;
  optimizer: OptimizerEntry;
  objective: ObjectiveEntry;
}

const componentTable: { [K in ComponentKind]: readonly ComponentEntryByKind[K][] } = {
  model: models,
  text_encoder: textEncoders,
  vae: vaes,
  reward: rewards,
  sampler: samplers,
  solver: solvers,
  prompt_set: promptSets,
  dataset: datasets,
  optimizer: optimizers,
  objective: objectives,
};

/** Human words for each kind, for messages: "unknown sampler 'dim'". */
export const componentKindNames: Record<ComponentKind, string> = {
  model: 'model',
  text_encoder: 'text encoder',
  vae: 'VAE',
  reward: 'reward',
  sampler: 'sampler',
  solver: 'solver',
  prompt_set: 'prompt set',
  dataset: 'dataset',
  optimizer: 'optimizer',
  objective: 'objective',
};

export const componentKinds = Object.keys(componentTable) as ComponentKind[];

export function lookupBlock(keyword: string): BlockSpec | undefined {
  return blocks.find((b) => b.keyword === keyword);
}

export function blockKeywords(): string[] {
  return blocks.map((b) => b.keyword);
}

export function lookupComponent<K extends ComponentKind>(kind: K, name: string): ComponentEntryByKind[K] | undefined {
  return (componentTable[kind] as readonly ComponentEntryByKind[K][]).find((c) => c.name === name);
}

export function componentNames(kind: ComponentKind): string[] {
  return componentTable[kind].map((c) => c.name);
}

export function componentsOf<K extends ComponentKind>(kind: K): readonly ComponentEntryByKind[K][] {
  return componentTable[kind];
}

/** The parameters a block takes, given its variant (the component it names, if any). */
export function blockParams(block: BlockSpec, variant?: string): readonly ParamSpec[] {
  if (block.variant === 'none' || !block.component) return block.params;
  const component = variant === undefined ? undefined : lookupComponent(block.component, variant);
  if (!component) return block.component === 'model' ? modelCommonParams : [];
  return block.component === 'model' ? [...modelCommonParams, ...component.params] : component.params;
}

export function lookupParam(params: readonly ParamSpec[], name: string): ParamSpec | undefined {
  return params.find((p) => p.name === name);
}

export function lookupClause(block: BlockSpec, keyword: string): ClauseSpec | undefined {
  return block.clauses?.find((c) => c.keyword === keyword);
}
