import { describe, expect, it } from 'vitest';
import { Rng } from '../../../stdlib/nn/random.ts';
import {
  ACTIVITIES,
  NOUNS,
  PROMPT_SET_NAMES,
  PromptSetError,
  indefiniteArticle,
  nounActivity,
  promptSet,
  promptSetFromList,
  withArticle,
} from '../../../stdlib/prompts/index.ts';
import { captionCount, parseCaption } from '../../../stdlib/data/shapes.ts';
import { promptSets as cataloguePromptSets } from '../../../stdlib/catalogue/data.ts';

describe('prompt sets', () => {
  it('cover every prompt set the catalogue names', () => {
    expect([...PROMPT_SET_NAMES].sort()).toEqual(cataloguePromptSets.map((entry) => entry.name).sort());
    for (const name of PROMPT_SET_NAMES) expect(promptSet(name).name).toBe(name);
    expect(() => promptSet('animal')).toThrow(PromptSetError);
    expect(() => promptSet('animal')).toThrow(/unknown prompt set 'animal'.*animals, animals_instruments/);
  });

  it.each([
    ['animals', 45, 60],
    ['animals_instruments', 35, 50],
    ['human_activities', 45, 60],
  ])('%s has %i to %i unique, tidy prompts', (name, min, max) => {
    const set = promptSet(name);
    const list = set.list!;
    expect(list.length).toBeGreaterThanOrEqual(min);
    expect(list.length).toBeLessThanOrEqual(max);
    expect(set.size).toBe(list.length);
    expect(new Set(list.map((p) => p.toLowerCase())).size).toBe(list.length);
    for (const prompt of list) {
      expect(prompt).toBe(prompt.trim());
      expect(prompt).not.toMatch(/\s{2}|[.]$/);
      expect(prompt.length).toBeLessThan(120);
      // Starts with a correct indefinite article.
      const [article, ...rest] = prompt.split(' ');
      expect(article).toBe(indefiniteArticle(rest.join(' ')));
    }
  });

  it('animals_instruments prompts all play an instrument', () => {
    for (const prompt of promptSet('animals_instruments').list!) expect(prompt).toMatch(/ playing (the|a) /);
  });

  it('sample uniformly from their list, deterministically by rng', () => {
    for (const name of ['animals', 'human_activities', 'nouns_activities', 'tiny_shapes']) {
      const set = promptSet(name);
      const a = Array.from({ length: 20 }, ((rng) => () => set.sample(rng))(new Rng(5)));
      const b = Array.from({ length: 20 }, ((rng) => () => set.sample(rng))(new Rng(5)));
      expect(a).toEqual(b);
      expect(new Set(a).size).toBeGreaterThan(10);
      if (name !== 'tiny_shapes') for (const prompt of a) expect(set.list).toContain(prompt);
    }
    // Every animal prompt shows up in a long enough run (uniform over the list).
    const set = promptSet('animals');
    const rng = new Rng(1);
    const counts = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const p = set.sample(rng);
      counts.set(p, (counts.get(p) ?? 0) + 1);
    }
    expect(counts.size).toBe(set.size);
    const expected = 20_000 / set.size!;
    for (const count of counts.values()) expect(Math.abs(count - expected)).toBeLessThan(expected * 0.4);
    // Any uniform source will do, even one at the very top of [0, 1).
    expect(set.list).toContain(set.sample({ uniform: () => 0.9999999999 }));
    expect(set.sample({ uniform: () => 0 })).toBe(set.list![0]);
  });

  it('nouns_activities builds "a/an {noun} {activity}" from every pair', () => {
    const set = promptSet('nouns_activities');
    expect(set.size).toBe(NOUNS.length * ACTIVITIES.length);
    expect(set.list!.length).toBe(set.size);
    expect(new Set(set.list).size).toBe(set.size);
    expect(NOUNS.length).toBeGreaterThanOrEqual(20);
    expect(ACTIVITIES.length).toBeGreaterThanOrEqual(20);
    expect(set.list).toContain('an astronaut riding a bicycle');
    expect(set.list).toContain('a unicorn baking a cake');
    expect(set.list).toContain('an owl playing the piano');
    expect(set.list).toContain('an honest farmer juggling oranges');
    expect(set.list).toContain('a European bison sailing across the sea');
    expect(set.list).toContain('a one-eyed pirate knitting a sweater');
    expect(set.list).toContain('an hour-old foal swimming in a lake');
    expect(set.list).toContain('an umpire dancing in the rain');
    expect(set.list).toContain('a robot eating a bowl of noodles');
    for (const prompt of set.list!) expect(prompt).toMatch(/^(a|an) /);
  });

  it('tiny_shapes samples captions of the tiny world', () => {
    const set = promptSet('tiny_shapes');
    expect(set.size).toBe(captionCount());
    const rng = new Rng(3);
    for (let i = 0; i < 200; i++) expect(parseCaption(set.sample(rng))).not.toBeNull();
    expect(set.list!.length).toBe(set.size);
  });

  it('promptSetFromList refuses an empty list', () => {
    expect(() => promptSetFromList('mine', [])).toThrow(/'mine' has no prompts/);
    expect(promptSetFromList('mine', ['x']).sample(new Rng(0))).toBe('x');
  });
});

describe('indefinite articles', () => {
  it.each([
    ['owl', 'an'], ['elephant', 'an'], ['iguana', 'an'], ['otter', 'an'], ['umpire', 'an'], ['ice sculptor', 'an'],
    ['hour-old foal', 'an'], ['honest farmer', 'an'], ['heir', 'an'], ['uninvited guest', 'an'], ['X-ray', 'an'],
    ['FBI agent', 'an'], ['MRI scan', 'an'], ['8-bit robot', 'an'],
    ['unicorn', 'a'], ['ukulele', 'a'], ['European bison', 'a'], ['one-eyed pirate', 'a'], ['user', 'a'], ['university', 'a'],
    ['horse', 'a'], ['cat', 'a'], ['UFO', 'a'], ['tiger', 'a'], ['yak', 'a'], ['', 'a'],
  ])('%s -> %s', (word, article) => {
    expect(indefiniteArticle(word)).toBe(article);
  });

  it('withArticle and nounActivity put it in front', () => {
    expect(withArticle('orange cat')).toBe('an orange cat');
    expect(nounActivity('unicorn', 'flying a kite')).toBe('a unicorn flying a kite');
  });
});
