// The reward-hacking watch's detector (runtime/methods/common/watch.ts) on synthetic validation
// series: what fires (diversity below its floor; a term or the held-out reward falling while
// the training reward rises), what does not (wobbles inside the tolerance, a term falling with
// the total), the direction of negative weights, the diversity measure and the messages.
import { describe, expect, it } from 'vitest';
import type { RewardTerm } from '../../../compiler/plan.ts';
import { adviceFor, detectHacking, DIVERSITY_MIN_VIDEOS, embeddingDiversity, type HackingSignal, signalMessage, WATCH_TOLERANCE, type WatchPoint, watchPoint } from '../../../runtime/methods/common/watch.ts';
import { isResumeSafe } from '../../../runtime/train/resume.ts';

const mix: RewardTerm[] = [
  { reward: 'tiny_text_align', weight: 1, params: {} },
  { reward: 'brightness', weight: 0.5, params: {} },
];

/** A validation of `mix` from its terms' values (the total as the trainer computes it). */
function point(step: number, text: number, bright: number, extra: { diversity?: number; heldOut?: number } = {}): WatchPoint {
  const values: Record<string, number> = { 'reward.tiny_text_align': text, 'reward.brightness': bright, reward: text + 0.5 * bright };
  if (extra.diversity !== undefined) values['watch.diversity'] = extra.diversity;
  if (extra.heldOut !== undefined) values['watch.tiny_aesthetic'] = extra.heldOut;
  return watchPoint(step, values, mix, 'tiny_aesthetic');
}

const settings = { diversityDrop: 0.25 };
const kinds = (signals: HackingSignal[]) => signals.map((s) => `${s.kind}${'name' in s ? `:${s.name}` : ''}`);

describe('detectHacking', () => {
  const first = point(0, 0.34, 0.36, { diversity: 0.72, heldOut: 3.4 });

  it('stays quiet on the first validation and on wobbles inside the tolerance', () => {
    expect(detectHacking(first, first, settings)).toEqual([]);
    // every value moves by less than the tolerance, in the bad direction
    const shrink = 1 - WATCH_TOLERANCE / 2;
    const wobble = point(20, 0.34 * shrink, 0.36 * (1 + WATCH_TOLERANCE * 2), { diversity: 0.72 * 0.8, heldOut: 3.4 * shrink });
    expect(wobble.total! - first.total!).toBeGreaterThan(0);
    expect(detectHacking(first, wobble, settings)).toEqual([]);
  });

  it('fires when diversity falls below (1 - drop) x its first value, and names the term that rose', () => {
    const collapsed = point(20, 0.34, 0.54, { diversity: 0.72 * 0.74, heldOut: 3.4 });
    const signals = detectHacking(first, collapsed, settings);
    expect(kinds(signals)).toEqual(['diversity']);
    expect(signals[0]).toMatchObject({ from: 0.72, to: 0.72 * 0.74, floor: 0.72 * 0.75 });
    expect(signals[0]!.rising.map((r) => r.name)).toEqual(['brightness']);
    expect(detectHacking(first, point(20, 0.34, 0.36, { diversity: 0.72 * 0.76 }), settings)).toEqual([]);
    // diversity_drop = 1 never fires, nor a diversity of too few videos to judge
    expect(detectHacking(first, collapsed, { diversityDrop: 1 })).toEqual([]);
    expect(kinds(detectHacking(first, collapsed, { ...settings, videos: DIVERSITY_MIN_VIDEOS }))).toEqual(['diversity']);
    expect(detectHacking(first, collapsed, { ...settings, videos: DIVERSITY_MIN_VIDEOS - 1 })).toEqual([]);
  });

  it('fires on a term that falls while the total rises (the demo: brightness up, text alignment down)', () => {
    const hacked = point(60, 0.28, 0.81, { diversity: 0.7, heldOut: 3.4 });
    const signals = detectHacking(first, hacked, settings);
    expect(kinds(signals)).toEqual(['term:tiny_text_align']);
    const s = signals[0]!;
    if (s.kind === 'diversity') throw new Error('unreachable');
    expect(s.total.from).toBeCloseTo(0.52, 10);
    expect(s.total.to).toBeCloseTo(0.685, 10);
    expect(s.rising).toEqual([{ name: 'brightness', weight: 0.5, from: 0.36, to: 0.81 }]);
    expect(signalMessage(s, { embedding: 'tiny_text_align' }, settings)).toBe(
      'step 60: tiny_text_align fell from 0.3400 to 0.2800 while the training reward rose from 0.5200 to 0.6850; brightness rose from 0.3600 to 0.8100',
    );
  });

  it('stays quiet when a term falls with the total (a bad run, not a hacked one)', () => {
    expect(detectHacking(first, point(20, 0.03, 0.53, { diversity: 0.7, heldOut: 3.4 }), settings)).toEqual([]);
  });

  it('fires on the held-out reward falling while the total rises', () => {
    const signals = detectHacking(first, point(40, 0.4, 0.5, { diversity: 0.7, heldOut: 2.9 }), settings);
    expect(kinds(signals)).toEqual(['held_out:tiny_aesthetic']);
    expect(signalMessage(signals[0]!, { embedding: 'tiny_text_align', heldOut: 'tiny_aesthetic' }, settings)).toMatch(/^step 40: the held-out reward tiny_aesthetic \(never trained on\) fell from 3\.400 to 2\.900 while the training reward rose/);
  });

  it('judges a term of negative weight in the mix\'s direction: it gets worse by rising', () => {
    const terms: RewardTerm[] = [{ reward: 'tiny_text_align', weight: 1, params: {} }, { reward: 'saturation', weight: -0.5, params: {} }];
    const at = (step: number, text: number, sat: number) => watchPoint(step, { 'reward.tiny_text_align': text, 'reward.saturation': sat, reward: text - 0.5 * sat }, terms);
    // saturation falls as the mix asks, text alignment rises: fine
    expect(detectHacking(at(0, 0.3, 0.5), at(20, 0.4, 0.3), settings)).toEqual([]);
    // text alignment rises a lot, saturation rises too (against its negative weight): fires on saturation
    const signals = detectHacking(at(0, 0.3, 0.5), at(20, 0.6, 0.6), settings);
    expect(kinds(signals)).toEqual(['term:saturation']);
    expect(signalMessage(signals[0]!, { embedding: 'pixels' }, settings)).toContain('saturation rose from 0.5000 to 0.6000 while the training reward rose');
  });

  it('reads no signal from values a validation did not log (no diversity, no held-out)', () => {
    const bare = watchPoint(0, { reward: 1 }, mix);
    expect(bare).toEqual({ step: 0, total: 1, terms: [] });
    expect(detectHacking(bare, watchPoint(20, { reward: 2 }, mix), settings)).toEqual([]);
  });
});

describe('embeddingDiversity', () => {
  it('is 0 for alike videos, 1 for orthogonal ones, the mean over pairs otherwise', () => {
    const e = (...v: number[]) => Float32Array.from(v);
    expect(embeddingDiversity([e(1, 0), e(2, 0)])).toBeCloseTo(0, 6);
    expect(embeddingDiversity([e(1, 0), e(0, 3)])).toBeCloseTo(1, 6);
    // pairs (a, b) = 1, (a, c) = 1 - cos 45deg, (b, c) = 1 - cos 45deg
    expect(embeddingDiversity([e(1, 0), e(0, 1), e(1, 1)])).toBeCloseTo((1 + 2 * (1 - Math.SQRT1_2)) / 3, 6);
    expect(embeddingDiversity([e(1, 0)])).toBeUndefined();
  });
});

describe('advice and resume', () => {
  it('says which weight to lower, when it was last quiet, and suggests a held-out reward when none is set', () => {
    const first = point(0, 0.34, 0.36);
    const signals = detectHacking(first, point(60, 0.28, 0.81), settings);
    const noWatch = { heldOut: null, onHacking: 'warn' as const, diversityDrop: 0.25 };
    expect(adviceFor(signals, mix, noWatch, 40)).toBe(
      'lower the weight of brightness (0.5 now), or stop earlier (the last validation without this warning was at step 40), or add a held-out reward the mix does not train on (objective.watch = tiny_aesthetic)',
    );
    const watched = { ...noWatch, heldOut: { reward: 'tiny_aesthetic', weight: 1, params: {} } };
    expect(adviceFor(signals, mix, watched, undefined)).toBe('lower the weight of brightness (0.5 now), or stop earlier');
  });

  it('lets a run the watch stopped resume with other watch settings', () => {
    for (const path of ['objective.on_hacking', 'objective.watch', 'objective.watch.name', 'objective.diversity_drop']) {
      expect(isResumeSafe({ path, saved: '"stop"', current: '"warn"' }), path).toBe(true);
    }
    expect(isResumeSafe({ path: 'objective.reward', saved: '', current: '' })).toBe(false);
  });
});
