// Checker fuzzing: thousands of deterministic mutations of the shipped pipelines go through
// parse + check. The checker must always return, never throw, and every diagnostic must carry
// a catalogued code and a span inside its file.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkSource } from '../../compiler/check/index.ts';
import { catalogue } from '../../diagnostics/catalogue.ts';

/** mulberry32: a small seeded generator, so every failure reproduces. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const fragments = [
  '{', '}', '[', ']', '(', ')', '=', ',', '.', '*', '+', '-', '/', '"', '#', ';', '\n', ' ',
  '0', '-1', '1e9', '2s', '24fps', '90%', '10k', '320x512', '16x320x512', '0x0', '1.5',
  'model', 'lora', 'sampler', 'objective', 'train', 'data', 'images', 'prompts', 'output',
  'ddim', 'rf_euler', 'edm_euler', 'consistency', 'reward', 'denoise', 'svd', 'opensora_1_2',
  'random(1)', 'last(99)', 'frame(100)', 'every(0)', 'all', 'uniform(15, 5)', 'huber()',
  'adamw { lr = 0 }', 'hps(version = v9)', 'viclip', 'actpred', 'extends "pickscore.vpl"',
  'extends "nowhere.vpl"', 'validate every 0 steps', 'checkpoint keep 1 keep 2', 'pipeline x',
  'true', 'off', 'lora.rank = 8', 'train.optimizer.lr = 1', '\u00e9', '\ufffd', '\\q',
];

function mutate(text: string, next: () => number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const at = () => Math.floor(next() * (text.length + 1));
  switch (Math.floor(next() * 6)) {
    case 0: { // delete a range
      const start = at();
      return text.slice(0, start) + text.slice(start + 1 + Math.floor(next() * 12));
    }
    case 1: { // insert a fragment
      const where = at();
      return text.slice(0, where) + pick(fragments) + text.slice(where);
    }
    case 2: { // replace a word with a fragment
      const words = [...text.matchAll(/[A-Za-z0-9_.]+/g)];
      if (!words.length) return text;
      const word = pick(words);
      return text.slice(0, word.index) + pick(fragments) + text.slice(word.index! + word[0].length);
    }
    case 3: { // duplicate a line
      const lines = text.split('\n');
      const i = Math.floor(next() * lines.length);
      lines.splice(i, 0, lines[i]);
      return lines.join('\n');
    }
    case 4: { // swap two lines
      const lines = text.split('\n');
      const i = Math.floor(next() * lines.length);
      const j = Math.floor(next() * lines.length);
      [lines[i], lines[j]] = [lines[j], lines[i]];
      return lines.join('\n');
    }
    default: // truncate
      return text.slice(0, at());
  }
}

const pipelines = readdirSync('pipelines').filter((f) => f.endsWith('.vpl')).sort();
// VPL_FUZZ_SCALE=10 runs ten times as many mutations (for a longer hunt, not for CI).
const mutationsPerPipeline = Math.ceil((2200 * Number(process.env.VPL_FUZZ_SCALE ?? 1)) / pipelines.length);

describe('checker fuzz', () => {
  it(`survive ${mutationsPerPipeline * pipelines.length} mutations of the shipped pipelines`, () => {
    let checked = 0;
    for (const [index, name] of pipelines.entries()) {
      const original = readFileSync(`pipelines/${name}`, 'utf8');
      const next = random(Number(process.env.VPL_FUZZ_SEED ?? 1000) + index);
      for (let m = 0; m < mutationsPerPipeline; m++) {
        let text = original;
        const rounds = 1 + Math.floor(next() * 4);
        for (let r = 0; r < rounds; r++) text = mutate(text, next);
        const file = `pipelines/${name}`;
        const result = checkSource(text, file, { overrides: m % 7 === 0 ? ['lora.rank=4', 'sampler.steps=x'] : [] });
        expect(Array.isArray(result.diagnostics)).toBe(true);
        for (const d of result.diagnostics) {
          expect(d.code in catalogue, `${d.code} in ${name} mutation ${m}`).toBe(true);
          if (/internal checker error/.test(d.message)) { process.env.VPL_DEBUG = "1"; try { checkSource(text, file); } catch (e) { console.log(text, (e as Error).stack); } delete process.env.VPL_DEBUG; }
          expect(d.message, `${name} mutation ${m}`).not.toMatch(/internal checker error/);
          const source = result.sources.get(d.span.file);
          if (source !== undefined) expect(d.span.end.offset).toBeLessThanOrEqual(source.length + 1);
        }
        if (result.plan) expect(result.diagnostics.every((d) => d.severity !== 'error')).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(2000);
  }, 120_000);
});
