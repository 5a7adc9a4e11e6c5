// The human_activities prompts each name their own Kinetics-400 class, so the actpred reward finds
// a target for every one (classOfPrompt: whole words, longest label wins).
//
// CLASSES holds only the classes the prompts use, in prompt order, with their Kinetics-400 ids
// (the line numbers, from 0, of google-deepmind/kinetics-i3d data/label_map.txt and
// open-mmlab/mmaction2 tools/data/kinetics/label_map_k400.txt, which agree). That no other of the
// 400 labels wins for any prompt was checked offline against the full list, saved as an id2label
// JSON object ({"0": "abseiling", ...}) or the checkpoint's config.json, with:
//
//   VPL_K400_ID2LABEL=/path/to/config.json npx vitest run test/stdlib/prompts/human-activities-classes.test.ts
//
// which runs the last test below; without the variable that test is skipped (the list is not in the repo).
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HUMAN_ACTIVITIES } from '../../../stdlib/prompts/human_activities.ts';
import { classOfPrompt, type Id2Label } from '../../../stdlib/rewards/networks/actpred-labels.ts';

/** [Kinetics-400 id, class name] of each prompt, in the order of HUMAN_ACTIVITIES. */
const CLASSES: readonly (readonly [number, string])[] = [
  [169, 'juggling balls'], [267, 'riding a bike'], [398, 'yoga'], [311, 'skipping rope'],
  [135, 'frying vegetables'], [339, 'swimming backstroke'], [306, 'skateboarding'], [246, 'playing tennis'],
  [296, 'shooting basketball'], [278, 'rock climbing'], [84, 'dancing ballet'], [56, 'chopping wood'],
  [178, 'knitting'], [160, 'hurdling'], [393, 'windsurfing'], [138, 'getting a haircut'],
  [36, 'brushing hair'], [379, 'washing dishes'], [168, 'jogging'], [255, 'pull ups'], [327, 'spray painting'],
  [310, 'skiing slalom'], [27, 'blowing out candles'], [47, 'catching fish'], [188, 'making pizza'],
  [355, 'texting'], [385, 'watering plants'], [165, 'ironing'], [45, 'cartwheeling'], [31, 'bowling'],
  [258, 'punching bag'], [205, 'paragliding'], [366, 'trimming trees'], [131, 'folding clothes'],
  [230, 'playing drums'], [325, 'somersaulting'], [164, 'ice skating'], [282, 'sailing'], [156, 'hopscotch'],
  [7, 'arranging flowers'], [37, 'brushing teeth'], [191, 'making tea'], [54, 'checking tires'],
  [159, 'hula hooping'], [88, 'deadlifting'], [322, 'snowboarding'], [348, 'tango dancing'], [41, 'busking'],
  [251, 'playing volleyball'], [378, 'walking the dog'], [123, 'feeding birds'], [299, 'shoveling snow'],
];

const FIXTURE: Id2Label = Object.fromEntries(CLASSES.map(([id, label]) => [String(id), label]));
const FULL_LIST = process.env.VPL_K400_ID2LABEL;

describe('human_activities names Kinetics-400 classes', () => {
  it('has one class per prompt and no duplicate prompts or classes', () => {
    expect(CLASSES.length).toBe(HUMAN_ACTIVITIES.length);
    expect(new Set(HUMAN_ACTIVITIES.map((p) => p.toLowerCase())).size).toBe(HUMAN_ACTIVITIES.length);
    expect(new Set(CLASSES.map(([, label]) => label)).size).toBe(CLASSES.length);
    expect(new Set(CLASSES.map(([id]) => id)).size).toBe(CLASSES.length);
  });

  it.each(HUMAN_ACTIVITIES.map((prompt, i) => [prompt, CLASSES[i]![1], CLASSES[i]![0]] as const))(
    '%s -> %s',
    (prompt, label, id) => {
      // Among all the classes the set uses, the prompt's own wins: no prompt also names a longer one.
      expect(classOfPrompt(prompt, FIXTURE)).toEqual({ id, label });
    },
  );

  it.skipIf(!FULL_LIST)('maps every prompt to its class among all 400 (needs VPL_K400_ID2LABEL)', () => {
    const parsed = JSON.parse(fs.readFileSync(FULL_LIST!, 'utf8')) as { id2label?: Id2Label } & Record<string, string>;
    const id2label: Id2Label = parsed.id2label ?? parsed;
    expect(Object.keys(id2label).length).toBe(400);
    HUMAN_ACTIVITIES.forEach((prompt, i) => {
      const [id, label] = CLASSES[i]!;
      expect(classOfPrompt(prompt, id2label), prompt).toEqual({ id, label });
    });
  });
});
