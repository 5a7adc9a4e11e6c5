// The reward objective's schedule: which graph runs when in a micro-step and where each of its
// inputs comes from (program.json's `schedule`, `vplc explain --graph`). The runtime drives the
// graphs by the same names.
import type { ScheduleEntry } from '../../../tensor/program/program.ts';
import type { ParameterInfo } from '../../../stdlib/nn/parameters.ts';
import type { Plan } from '../../plan.ts';
import type { ScalarSpec } from './samplers.ts';

export interface ScheduleShape {
  steps: number;
  k: number;
  /** sample_step runs steps 0..from-1, train_step from..from+k-1. */
  from: number;
  trainable: ParameterInfo[];
  useCfg: boolean;
  /** What train_step reads of the prompt for its rewards, with sources (compiler/lower/reward-inputs.ts). */
  promptFeeds: Record<string, string>;
  gated: boolean;
  /** The per-step scalars sample_step / train_step declare. */
  sampleScalars: ScalarSpec[];
  trainScalars: ScalarSpec[];
  /** x0-history inputs of sample_step and of train_step. */
  history: string[];
  trainHistory: string[];
}

export function rewardSchedule(plan: Plan, shape: ScheduleShape): ScheduleEntry[] {
  const { steps, k, from, trainable, useCfg, promptFeeds, gated } = shape;
  const ownTokens = Object.keys(promptFeeds).filter((n) => n.startsWith('text_embed.')).map((n) => [`tokens.${n.slice(11)}`, `data:prompt_tokens of ${n.slice(11)}'s tokenizer`]);
  const last = from + k - 1;
  const state = Object.fromEntries(trainable.map((p) => [p.name, `state:${p.name}`]));
  const name = plan.sampler.name;
  const noisy = plan.sampler.name === 'ddim' && plan.sampler.eta !== 0;
  const tail = `${from}..${last}`;
  const entries: ScheduleEntry[] = [
    { graph: 'text_encode', when: 'every micro-step: the batch prompts', feeds: { tokens: 'data:prompt_tokens', ...Object.fromEntries(ownTokens) } },
  ];
  if (useCfg) entries.push({ graph: 'text_encode', when: 'once: the empty prompt -> uncond_context', feeds: { tokens: 'data:empty_prompt_tokens' } });
  if (from > 0) {
    entries.push({
      graph: 'sample_step',
      when: `every micro-step: sampler steps 0..${from - 1} (no gradient)`,
      repeat: from,
      feeds: {
        latents: 'random:normal at step 0, then output:sample_step/latents_out',
        ...Object.fromEntries(shape.history.map((h, j) => [h, `zeros until step ${j + 1}, then output:sample_step/x0 of step i - ${j + 1}`])),
        ...Object.fromEntries(shape.sampleScalars.map((c) => [c.name, `sampler:${name}[i].${c.field}`])),
        ...(noisy ? { noise: 'random:normal' } : {}),
        context: 'output:text_encode/context',
        ...(useCfg ? { uncond_context: 'output:text_encode(empty)/context' } : {}),
        ...state,
      },
    });
  }
  entries.push({
    graph: 'train_step',
    when: gated
      ? `every micro-step: sampler steps 0..${last}, gradient from a random cutoff (grad_gate), decode, reward, update`
      : plan.objective.name === 'reward' && plan.objective.decode_og
        ? `every micro-step: sampler step ${from} with gradient, its x0 estimate decoded (decode_og), reward, update`
        : `every micro-step: sampler steps ${from}..${last} with gradient, decode, reward, update`,
    feeds: {
      latents: from > 0 ? 'output:sample_step/latents_out' : 'random:normal',
      ...Object.fromEntries(shape.trainHistory.map((h) => [h, `output:sample_step/x0 of step ${from - Number(h.slice(-1))} (no gradient)`])),
      ...Object.fromEntries(shape.trainScalars.map((c) => [c.stacked, `sampler:${name}[${tail}].${c.field}`])),
      ...(noisy ? { noise: 'random:normal' } : {}),
      context: 'output:text_encode/context',
      ...(useCfg ? { uncond_context: 'output:text_encode(empty)/context' } : {}),
      ...promptFeeds,
      frame_indices: `decode:${plan.objective.name === 'reward' ? JSON.stringify(plan.objective.decode) : ''}`,
      ...(gated ? { grad_gate: `random:cutoff c in [0, ${steps}); grad_gate[i] = i >= c ? 1 : 0` } : {}),
      lr: 'optimizer:lr',
      'adam.step': 'state:adam.step',
      ...state,
    },
  });
  return entries;
}
