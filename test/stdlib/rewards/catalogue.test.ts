// The reward catalogue is the one source of each reward's facts: modality (and so text need),
// loss form (structured, with its text beside it), preprocessing and --tiny stand-in. These
// tests pin that every entry has them, that they agree with each other, and that the reward
// mix and the tiny-world builders read them.
import { describe, expect, it } from 'vitest';
import {
  componentsOf,
  lookupComponent,
  lossFormula,
  modalityNeedsText,
  modalityScoresVideo,
  PIXEL_NORMS,
  rewardClassOf,
  rewardNeedsText,
  rewardScoresVideo,
  tinyStandInOf,
  tinyStandIns,
  type RewardEntry,
} from '../../../stdlib/catalogue/index.ts';
import { analyticRewards, CLIP_MEAN, CLIP_STD, rewardLossForm, tinyRewardBuilders } from '../../../stdlib/rewards/index.ts';
import { tinyClipConfig } from '../../../stdlib/models/clip/index.ts';
import type { NN } from '../../../stdlib/nn/index.ts';

const entries: readonly RewardEntry[] = componentsOf('reward');
const names = entries.map((r) => r.name);

/**
 * Whether the hand-written `loss` text is a rendering of the structured form over the entry's
 * `score` (r): the formula over r itself, over the score inline, over a named score with a
 * `, score = ...` clause, or for -mean(r) the score negated (a leading '-' cancelling).
 */
function lossTextAgrees(r: RewardEntry): boolean {
  const { lossForm: form, score, loss } = r;
  const renderings = [lossFormula(form), lossFormula(form, score), `${lossFormula(form, 'score')}, score = ${score}`];
  if (form.kind === 'neg') renderings.push(score.startsWith('-') ? score.slice(1) : `-${score}`);
  return renderings.includes(loss);
}

describe('reward catalogue facts', () => {
  it('every reward has modality, loss form and text, score, preprocessing and network', () => {
    expect(entries.length).toBeGreaterThan(0);
    for (const r of entries) {
      expect(['image_text', 'video_text', 'image', 'video'], r.name).toContain(r.modality);
      expect(['abs_to_target', 'one_minus', 'abs_one_minus_scaled', 'neg'], r.name).toContain(r.lossForm.kind);
      expect(r.loss.length, r.name).toBeGreaterThan(0);
      expect(r.score.length, r.name).toBeGreaterThan(0);
      expect(r.network.length, r.name).toBeGreaterThan(0);
      expect(Number.isInteger(r.minFrames) && r.minFrames >= 1, r.name).toBe(true);
      const p = r.preprocess;
      expect(['none', 'tiny_clip', 'clip', 'imagenet'], r.name).toContain(p.kind);
      if (p.kind === 'clip' || p.kind === 'imagenet') {
        expect(Number.isInteger(p.size) && p.size > 0, r.name).toBe(true);
        expect(['square', 'short_side_centre_crop', 'short_side_random_crop', 'height'], r.name).toContain(p.resize);
        expect(['bilinear', 'bicubic'], r.name).toContain(p.interpolation);
      }
    }
  });

  it('names are unique', () => {
    expect(new Set(names).size).toBe(names.length);
  });

  it('text need follows modality, and nothing else', () => {
    for (const r of entries) {
      expect(rewardNeedsText(r.name), r.name).toBe(r.modality === 'image_text' || r.modality === 'video_text');
      expect(rewardNeedsText(r.name), r.name).toBe(modalityNeedsText(r.modality));
      expect(rewardScoresVideo(r.name), r.name).toBe(modalityScoresVideo(r.modality));
    }
    expect(names.filter(rewardNeedsText).sort()).toEqual(['actpred', 'hps', 'pickscore', 'tiny_text_align', 'viclip']);
    expect(rewardNeedsText('no_such_reward')).toBe(false);
    expect(rewardScoresVideo('no_such_reward')).toBe(false);
  });

  it('video rewards need several frames', () => {
    for (const r of entries.filter((e) => modalityScoresVideo(e.modality))) expect(r.minFrames, r.name).toBeGreaterThanOrEqual(2);
  });

  it('the loss text agrees with the structured loss form', () => {
    for (const r of entries) expect(lossTextAgrees(r), `${r.name}: '${r.loss}' vs ${JSON.stringify(r.lossForm)} over '${r.score}'`).toBe(true);
    // the check is not vacuous: a changed constant or form is caught
    const aesthetic = lookupComponent('reward', 'aesthetic')!;
    expect(lossTextAgrees({ ...aesthetic, lossForm: { kind: 'abs_to_target', scale: 0.2, target: { param: 'target' } } })).toBe(false);
    const pick = lookupComponent('reward', 'pickscore')!;
    expect(lossTextAgrees({ ...pick, lossForm: { kind: 'abs_one_minus_scaled', divisor: 10 } })).toBe(false);
    const hps = lookupComponent('reward', 'hps')!;
    expect(lossTextAgrees({ ...hps, lossForm: { kind: 'neg' } })).toBe(false);
  });

  it('a loss constant naming a parameter names a numeric parameter of the reward', () => {
    for (const r of entries) {
      if (r.lossForm.kind !== 'abs_to_target' || typeof r.lossForm.target === 'number') continue;
      const param = r.params.find((p) => p.name === (r.lossForm as { target: { param: string } }).target.param);
      expect(param, r.name).toBeDefined();
      expect(typeof param!.default, r.name).toBe('number');
    }
  });

  it('pins the loss forms of the reference code', () => {
    expect(Object.fromEntries(entries.map((r) => [r.name, rewardLossForm(r.name)]))).toEqual({
      aesthetic: { kind: 'abs_to_target', scale: 0.1, target: 10 },
      hps: { kind: 'one_minus' },
      pickscore: { kind: 'abs_one_minus_scaled', divisor: 100 },
      viclip: { kind: 'neg' },
      actpred: { kind: 'neg' },
      object_detection: { kind: 'neg' },
      compression: { kind: 'neg' },
      brightness: { kind: 'neg' },
      saturation: { kind: 'neg' },
      contrast: { kind: 'neg' },
      colourfulness: { kind: 'neg' },
      temporal_smoothness: { kind: 'neg' },
      tiny_text_align: { kind: 'one_minus' },
      tiny_aesthetic: { kind: 'neg' },
    });
  });
});

describe('the reward mix reads the catalogue', () => {
  it('resolves parameter constants: the term\'s value, else the catalogue default', () => {
    const target = lookupComponent('reward', 'aesthetic')!.params.find((p) => p.name === 'target')!.default;
    expect(rewardLossForm('aesthetic')).toEqual({ kind: 'abs_to_target', scale: 0.1, target });
    expect(rewardLossForm('aesthetic', { target: 7.5 })).toEqual({ kind: 'abs_to_target', scale: 0.1, target: 7.5 });
  });

  it('every loss form is the catalogue\'s, and a reward outside it is maximised', () => {
    for (const r of entries) expect(rewardLossForm(r.name).kind, r.name).toBe(r.lossForm.kind);
    expect(rewardLossForm('my_own_scorer')).toEqual({ kind: 'neg' });
  });
});

describe('preprocessing', () => {
  it('analytic rewards are exactly the ones with no preprocessing, and their builders exist', () => {
    const analytic = entries.filter((r) => rewardClassOf(r) === 'analytic');
    expect(analytic.map((r) => r.name).sort()).toEqual([...analyticRewards].sort());
    for (const r of analytic) expect(r.network, r.name).toBe('analytic');
  });

  it('tiny rewards are exactly the ones the tiny-world builders build', () => {
    const builders = tinyRewardBuilders({} as NN, tinyClipConfig);
    expect(entries.filter((r) => rewardClassOf(r) === 'tiny').map((r) => r.name).sort()).toEqual(Object.keys(builders).sort());
  });

  it('full-size learned rewards name a pixel normalisation, and the tiny CLIP shares the CLIP one', () => {
    for (const r of entries.filter((e) => rewardClassOf(e) === 'learned')) expect(Object.keys(PIXEL_NORMS), r.name).toContain(r.preprocess.kind);
    expect(CLIP_MEAN).toEqual(PIXEL_NORMS.clip.mean);
    expect(CLIP_STD).toEqual(PIXEL_NORMS.clip.std);
  });

  it('pins the reference preprocessing', () => {
    const pre = (n: string) => lookupComponent('reward', n)!.preprocess;
    expect(pre('aesthetic')).toEqual({ kind: 'clip', size: 224, resize: 'square', interpolation: 'bilinear' });
    expect(pre('hps')).toEqual({ kind: 'clip', size: 224, resize: 'square', interpolation: 'bilinear' });
    expect(pre('pickscore')).toEqual({ kind: 'clip', size: 224, resize: 'short_side_centre_crop', interpolation: 'bicubic' });
    expect(pre('viclip')).toEqual({ kind: 'imagenet', size: 224, resize: 'short_side_random_crop', interpolation: 'bicubic' });
    expect(pre('actpred')).toEqual({ kind: 'imagenet', size: 224, resize: 'square', interpolation: 'bilinear' });
    expect(pre('object_detection')).toEqual({ kind: 'imagenet', size: 512, resize: 'height', interpolation: 'bilinear' });
    expect(pre('compression')).toEqual({ kind: 'clip', size: 224, resize: 'square', interpolation: 'bilinear' });
  });
});

describe('tiny stand-ins', () => {
  it('every full-size learned reward has a tiny stand-in: a tiny catalogue reward with the same text need', () => {
    const learned = entries.filter((r) => rewardClassOf(r) === 'learned');
    expect(learned.length).toBeGreaterThan(0);
    for (const r of learned) {
      const standIn = tinyStandInOf(r.name);
      expect(standIn, r.name).toBeDefined();
      const entry = lookupComponent('reward', standIn!);
      expect(entry, `${r.name} -> ${standIn}`).toBeDefined();
      expect(rewardClassOf(entry!), `${r.name} -> ${standIn}`).toBe('tiny');
      expect(rewardNeedsText(standIn!), `${r.name} -> ${standIn}`).toBe(rewardNeedsText(r.name));
      expect(r.tinyStandInReason?.length ?? 0, r.name).toBeGreaterThan(0);
      // the stand-in scores at least as few frames as the reward it replaces
      expect(entry!.minFrames, `${r.name} -> ${standIn}`).toBeLessThanOrEqual(r.minFrames);
    }
  });

  it('analytic and tiny rewards are scored as they are', () => {
    for (const r of entries.filter((e) => rewardClassOf(e) !== 'learned')) {
      expect(r.tinyStandIn, r.name).toBeUndefined();
      expect(r.tinyStandInReason, r.name).toBeUndefined();
    }
  });

  it('the stand-in map is the one --tiny has always applied', () => {
    expect(tinyStandIns).toEqual({
      hps: 'tiny_text_align',
      pickscore: 'tiny_text_align',
      viclip: 'tiny_text_align',
      actpred: 'tiny_text_align',
      aesthetic: 'tiny_aesthetic',
      compression: 'tiny_aesthetic',
      object_detection: 'tiny_aesthetic',
    });
    expect(tinyStandInOf('brightness')).toBeUndefined();
    expect(tinyStandInOf('no_such_reward')).toBeUndefined();
  });
});
