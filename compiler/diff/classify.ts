// What a change does to a training run, by plan path: the one table the semantic diff reads.
//
// - retrain:   old checkpoints no longer apply (the LoRA's shape or meaning changed, or the
//              base model it adapts did).
// - resumable: old checkpoints load and training can continue with the new setting.
// - cosmetic:  nothing about training changes (names, output formats, logging).
//
// The longest matching prefix wins; a path no row matches is `retrain`, the safe answer.

export type ChangeClass = 'retrain' | 'resumable' | 'cosmetic';

export const classificationTable: readonly (readonly [prefix: string, cls: ChangeClass, why: string])[] = [
  ['name', 'cosmetic', 'the pipeline name only labels runs'],
  ['model', 'retrain', 'the LoRA adapts one base model: another model, VAE, text encoder or weights file invalidates it'],
  ['model.frames', 'resumable', 'LoRA shapes do not depend on the video length'],
  ['model.size', 'resumable', 'LoRA shapes do not depend on the resolution'],
  ['model.fps', 'resumable', 'a conditioning value, not a weight shape'],
  ['model.fps_id', 'resumable', 'a conditioning value'],
  ['model.motion_bucket_id', 'resumable', 'a conditioning value'],
  ['model.cond_aug', 'resumable', 'a conditioning value'],
  ['lora', 'retrain', 'the adapter shape changed'],
  ['lora.rank', 'retrain', 'the LoRA matrices change shape'],
  ['lora.targets', 'retrain', 'other layers get adapters'],
  ['lora.alpha', 'resumable', 'a scale on the same weights'],
  ['lora.dropout', 'resumable', 'a training-time regulariser'],
  ['prompts', 'resumable', 'training data, not weights'],
  ['images', 'resumable', 'conditioning data, not weights'],
  ['data', 'resumable', 'training data, not weights'],
  ['sampler', 'resumable', 'how videos are generated, not what is trained'],
  ['objective', 'resumable', 'the loss changes, the weights still load'],
  ['objective.name', 'retrain', 'another objective kind is another training method'],
  ['objective.guidance_embedding', 'retrain', 'adds trainable guidance-embedding weights'],
  ['train', 'resumable', 'a training-loop setting: old checkpoints load and training continues'],
  ['output', 'cosmetic', 'where and how results are written'],
  ['output.dir', 'cosmetic', 'where results are written (a resume looks in the new folder)'],
];

function matches(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}.`);
}

/** The class of a change at `path` (`lora.rank`), with the table row that decided it. */
export function classify(path: string): { cls: ChangeClass; prefix: string; why: string } {
  let best: (typeof classificationTable)[number] | undefined;
  for (const row of classificationTable) {
    if (matches(path, row[0]) && (!best || row[0].length > best[0].length)) best = row;
  }
  if (!best) return { cls: 'retrain', prefix: '', why: 'not in the classification table: assumed to invalidate checkpoints' };
  return { cls: best[1], prefix: best[0], why: best[2] };
}

/** retrain > resumable > cosmetic: the class of a set of changes is its worst one. */
export const classOrder: readonly ChangeClass[] = ['cosmetic', 'resumable', 'retrain'];

export function worstClass(classes: readonly ChangeClass[]): ChangeClass | undefined {
  let worst: ChangeClass | undefined;
  for (const c of classes) if (!worst || classOrder.indexOf(c) > classOrder.indexOf(worst)) worst = c;
  return worst;
}
