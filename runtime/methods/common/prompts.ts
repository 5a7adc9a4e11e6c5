// Where a method's prompts come from: the pipeline's prompt source, and the validation prompts
// (the same for a seed, so before/after videos compare like with like).
import * as path from 'node:path';
import type { Plan } from '../../../compiler/plan.ts';
import { type PromptSet, promptFileSet, promptSet, PromptSetError } from '../../../stdlib/prompts/index.ts';
import { VplError } from '../../../diagnostics/error.ts';
import { Rng } from '../../random.ts';

/** The pipeline's prompt source as a PromptSet (a file is relative to the pipeline's folder). */
export function promptSource(plan: Plan): PromptSet {
  const src = plan.prompts?.source;
  if (!src) throw new VplError('VPL3012', 'the pipeline has no prompts', { file: plan.file, help: 'add `prompts = tiny_shapes` (a stdlib set) or `prompts = "my_prompts.txt"`' });
  try {
    return src.kind === 'set' ? promptSet(src.name) : promptFileSet(path.resolve(plan.dir, src.path));
  } catch (error) {
    if (error instanceof PromptSetError) throw new VplError('VPL2008', error.message, { file: plan.file, help: 'name a stdlib prompt set or a text file with one prompt per line' });
    throw error;
  }
}

/** `n` validation prompts, the same every time for a seed (distinct while the set allows). */
export function validationPrompts(set: PromptSet, n: number, seed: number): string[] {
  const rng = new Rng(seed).fixed('validation-prompts');
  const out: string[] = [];
  for (let tries = 0; out.length < n && tries < 50 * n; tries++) {
    const p = set.sample(rng);
    if (!out.includes(p) || (set.size !== undefined && out.length >= set.size)) out.push(p);
  }
  while (out.length < n) out.push(set.sample(rng));
  return out;
}
