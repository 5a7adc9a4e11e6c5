// Prompt sets: the stdlib's named lists (the catalogue's `prompt_set` entries) and users'
// prompt files. A prompt set draws one prompt per call from a random source:
//
//   const set = promptSet('animals');
//   set.sample(new Rng(0))  // one of set.list, the same one for the same seed
//
// Every set here is finite and lists its prompts; `sample` is uniform over `list`.
import { ANIMALS } from './animals.ts';
import { ANIMALS_INSTRUMENTS } from './animals_instruments.ts';
import { HUMAN_ACTIVITIES } from './human_activities.ts';
import { ACTIVITIES, NOUNS } from './nouns_activities.ts';
import { withArticle } from './article.ts';
import { allCaptions, captionCount, captionFor, randomAttributes } from '../data/shapes.ts';
import { readPromptFile, type ReadPromptFileOptions } from './file.ts';

export { indefiniteArticle, withArticle } from './article.ts';
export { MAX_PROMPT_LENGTH, parsePromptText, readPromptFile, type ReadPromptFileOptions } from './file.ts';
export { ACTIVITIES, NOUNS } from './nouns_activities.ts';

/** What a prompt set draws from: anything with a uniform [0, 1) source (stdlib/nn/random.ts `Rng`). */
export interface PromptRng {
  uniform(): number;
}

export interface PromptSet {
  name: string;
  /** How many distinct prompts the set has, when finite. */
  size?: number;
  /** One prompt, drawn with `rng`. */
  sample(rng: PromptRng): string;
  /** Every prompt, when the set is finite (computed on first use). */
  readonly list?: readonly string[];
}

export const PROMPT_SET_NAMES = ['animals', 'animals_instruments', 'human_activities', 'nouns_activities', 'tiny_shapes'] as const;
export type PromptSetName = (typeof PROMPT_SET_NAMES)[number];

export class PromptSetError extends Error {
  override name = 'PromptSetError';
}

function pick<T>(items: readonly T[], rng: PromptRng): T {
  const i = Math.min(items.length - 1, Math.floor(rng.uniform() * items.length));
  return items[i]!;
}

/** A prompt set over a fixed list (uniform sampling). */
export function promptSetFromList(name: string, prompts: readonly string[]): PromptSet {
  if (prompts.length === 0) throw new PromptSetError(`prompt set '${name}' has no prompts`);
  const list = Object.freeze([...prompts]);
  return { name, size: list.length, list, sample: (rng) => pick(list, rng) };
}

/** "a/an {noun} {activity}" for one pair. */
export function nounActivity(noun: string, activity: string): string {
  return `${withArticle(noun)} ${activity}`;
}

function nounsActivities(): PromptSet {
  let list: readonly string[] | undefined;
  return {
    name: 'nouns_activities',
    size: NOUNS.length * ACTIVITIES.length,
    sample: (rng) => nounActivity(pick(NOUNS, rng), pick(ACTIVITIES, rng)),
    get list() {
      return (list ??= Object.freeze(NOUNS.flatMap((noun) => ACTIVITIES.map((activity) => nounActivity(noun, activity)))));
    },
  };
}

function tinyShapes(): PromptSet {
  let list: readonly string[] | undefined;
  const get = () => (list ??= Object.freeze(allCaptions()));
  return {
    name: 'tiny_shapes',
    size: captionCount(),
    // Drawn as the dataset draws its videos (30% two-tone backgrounds), so training and
    // evaluation prompts follow the same distribution.
    sample: (rng) => captionFor(randomAttributes(rng)),
    get list() {
      return get();
    },
  };
}

/** The stdlib prompt set called `name`; an unknown name is an error listing the known ones. */
export function promptSet(name: string): PromptSet {
  switch (name) {
    case 'animals':
      return promptSetFromList(name, ANIMALS);
    case 'animals_instruments':
      return promptSetFromList(name, ANIMALS_INSTRUMENTS);
    case 'human_activities':
      return promptSetFromList(name, HUMAN_ACTIVITIES);
    case 'nouns_activities':
      return nounsActivities();
    case 'tiny_shapes':
      return tinyShapes();
    default:
      throw new PromptSetError(`unknown prompt set '${name}': the stdlib has ${PROMPT_SET_NAMES.join(', ')}, or name a text file`);
  }
}

/** A prompt set from a user's prompt file (see readPromptFile for the format and errors). */
export function promptFileSet(file: string, options: ReadPromptFileOptions = {}): PromptSet {
  return promptSetFromList(file, readPromptFile(file, options));
}
