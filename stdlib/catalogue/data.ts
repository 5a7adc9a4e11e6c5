// Prompt sets and datasets. The prompt lists themselves live with the stdlib prompt
// functions; the catalogue only needs their names and what they produce.
import type { ComponentEntry } from './types.ts';

export interface PromptSetEntry extends ComponentEntry {
  kind: 'prompt_set';
}

export interface DatasetEntry extends ComponentEntry {
  kind: 'dataset';
}

export const promptSets: readonly PromptSetEntry[] = [
  { kind: 'prompt_set', name: 'animals', doc: 'Animals in scenes: "a fox running through snow".', params: [] },
  { kind: 'prompt_set', name: 'animals_instruments', doc: 'Animals playing instruments: "a raccoon playing the drums".', params: [] },
  { kind: 'prompt_set', name: 'human_activities', doc: 'People doing actions that action recognition can name: "a person juggling".', params: [] },
  { kind: 'prompt_set', name: 'nouns_activities', doc: '"a/an {noun} {activity}" built from two lists.', params: [] },
  { kind: 'prompt_set', name: 'tiny_shapes', doc: 'The tiny world\'s captions: "a red circle moving left".', params: [] },
];

export const datasets: readonly DatasetEntry[] = [
  {
    kind: 'dataset', name: 'tiny_shapes', doc: 'Synthetic captioned videos of coloured shapes moving on backgrounds, generated on the fly.',
    params: [
      { name: 'count', doc: 'Videos in one epoch.', type: { kind: 'int' }, default: 1024, min: 1, max: 10_000_000 },
      { name: 'seed', doc: 'Generator seed (the set is deterministic by seed).', type: { kind: 'int' }, default: 0, min: 0, max: 2 ** 31 - 1 },
    ],
  },
  {
    kind: 'dataset', name: 'video_folder', doc: 'Video files in a folder, with a captions CSV (columns: file, caption).',
    params: [
      { name: 'path', doc: 'Folder of video files.', type: { kind: 'path' } },
      { name: 'captions', doc: 'CSV with one row per video: file, caption (default: captions.csv inside `path`).', type: { kind: 'path' }, optional: true },
    ],
  },
];
