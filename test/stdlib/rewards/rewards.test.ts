// Analytic rewards and the reward mix: values against JS references of the formulas, gradients
// against finite differences (float64), loss forms as the catalogue gives them (those of
// mihirp1998/VADER VADER-VideoCrafter/scripts/main/train_t2v_lora.py).
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../../tensor/emit/evaluate.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph, type Value } from '../../../tensor/ir/graph.ts';
import {
  type AnalyticReward,
  analyticReference,
  analyticRewards,
  brightness,
  colourfulness,
  contrast,
  rewardLoss,
  rewardLossForm,
  rewardLossReference,
  rewardMix,
  saturation,
  temporalSmoothness,
  type RewardTerm,
} from '../../../stdlib/rewards/index.ts';
import { gradcheck } from '../../helpers/gradcheck.ts';

function data(n: number, seed = 1, scale = 1.3): Float32Array {
  let s = seed * 7919 + 17;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return ((s / 2 ** 32) * 2 - 1) * scale; // some pixels outside [-1, 1]: the clamp matters
  });
}

const build = (b: Builder, name: AnalyticReward, x: Value, fpv: number) => {
  switch (name) {
    case 'brightness':
      return brightness(b, x);
    case 'saturation':
      return saturation(b, x);
    case 'contrast':
      return contrast(b, x);
    case 'colourfulness':
      return colourfulness(b, x);
    case 'temporal_smoothness':
      return temporalSmoothness(b, x, fpv);
  }
};

describe('analytic rewards', () => {
  const shape = [6, 3, 5, 4];
  const x = data(6 * 3 * 5 * 4, 3);

  for (const name of analyticRewards) {
    it(`${name}: values match the JS reference`, async () => {
      const g = new Graph(name);
      const b = new Builder(g);
      const r = build(b, name, b.input('frames', shape), 3);
      g.markOutput(r);
      const out = (await evaluate(g, { frames: x }))[r.name] as Float32Array;
      const ref = analyticReference(name, x, shape, 3);
      expect(out.length).toBe(name === 'temporal_smoothness' ? 2 : 6);
      ref.forEach((v, i) => expect(out[i]).toBeCloseTo(v, 5));
    });

    it(`${name}: gradient matches finite differences`, async () => {
      const res = await gradcheck(({ b, input }) => build(b, name, input('frames', [4, 3, 3, 3], { lo: -0.9, hi: 0.9 }), 2), { dtype: 'float64', rtol: 1e-4 });
      expect(res.worst).toBeLessThanOrEqual(1);
    });
  }

  it('known values: a constant grey frame, a saturated red frame', async () => {
    const grey = new Float32Array(3 * 4).fill(0); // 0 in [-1, 1] -> 0.5
    const red = Float32Array.from({ length: 12 }, (_, i) => (i < 4 ? 1 : -1));
    const both = new Float32Array([...grey, ...red]);
    const shape = [2, 3, 2, 2];
    const bright = analyticReference('brightness', both, shape);
    expect(bright[0]).toBeCloseTo(0.5, 12);
    expect(bright[1]).toBeCloseTo(0.299, 12);
    expect(analyticReference('saturation', both, shape)).toEqual([0, 1]);
    expect(analyticReference('contrast', both, shape)[0]).toBeCloseTo(1e-4, 8);
    expect(analyticReference('colourfulness', both, shape)[1]).toBeCloseTo(1e-4 + 0.3 * Math.sqrt(1 + 0.25), 6);
    expect(analyticReference('temporal_smoothness', both, shape, 2)[0]).toBeCloseTo(-(0.25 + 0.25 + 0.25) / 3, 12);
  });

  it('rejects bad shapes with the reward named', () => {
    const b = new Builder(new Graph('bad'));
    expect(() => brightness(b, b.input('x', [2, 4, 3, 3]))).toThrow(/brightness expects frames \[N, 3, H, W\]/);
    expect(() => temporalSmoothness(b, b.input('y', [3, 3, 2, 2]), 2)).toThrow(/temporal_smoothness/);
  });
});

describe('reward mix', () => {
  it('loss forms follow the reference code', () => {
    const r = [9, 11.5, 7];
    expect(rewardLossReference(r, rewardLossForm('aesthetic'))).toBeCloseTo(0.1 * (1 + 1.5 + 3) / 3, 12);
    expect(rewardLossReference(r, rewardLossForm('aesthetic', { target: 8 }))).toBeCloseTo(0.1 * (1 + 3.5 + 1) / 3, 12);
    expect(rewardLossReference([0.3, 0.2], rewardLossForm('hps'))).toBeCloseTo(0.75, 12);
    expect(rewardLossReference([21, 23], rewardLossForm('pickscore'))).toBeCloseTo(0.78, 12);
    expect(rewardLossReference([0.4, 0.6], rewardLossForm('brightness'))).toBeCloseTo(-0.5, 12);
    expect(rewardLossForm('tiny_text_align').kind).toBe('one_minus');
  });

  it('builds every loss form in IR as the reference computes it', async () => {
    const g = new Graph('forms');
    const b = new Builder(g);
    const r = b.input('r', [3]);
    const names = ['aesthetic', 'hps', 'pickscore', 'brightness'];
    const outs = names.map((n) => rewardLoss(b, r, rewardLossForm(n)));
    outs.forEach((o) => g.markOutput(o));
    const rv = Float32Array.of(9.5, 22, 0.3);
    const res = await evaluate(g, { r: rv });
    names.forEach((n, i) => expect((res[outs[i].name] as Float32Array)[0]).toBeCloseTo(rewardLossReference([...rv], rewardLossForm(n)), 5));
  });

  it('weighted sum of terms with per-reward values; learned rewards through builders', async () => {
    const g = new Graph('mix');
    const b = new Builder(g);
    const shape = [4, 3, 3, 3];
    const frames = b.input('frames', shape);
    const text = b.input('text', [2, 5]);
    const terms: RewardTerm[] = [
      { reward: 'brightness', weight: 0.2, params: {} },
      { reward: 'temporal_smoothness', weight: 2, params: {} },
      { reward: 'aesthetic', weight: 1, params: { target: 10 } },
    ];
    // a stand-in learned reward: 10 * mean(frames) per frame + sum(text)
    const fake = (bb: Builder, inp: { frames: Value; text?: Value }) =>
      bb.add(bb.mul(bb.reduceMean(inp.frames, [1, 2, 3], false), bb.scalar(10)), bb.reduceSum(inp.text!, undefined, false));
    const mix = rewardMix(b, terms, { frames, framesPerVideo: 2, text }, { aesthetic: fake });
    g.markOutput(mix.loss);
    for (const v of Object.values(mix.rewards)) g.markOutput(v);
    const x = data(4 * 27, 9);
    const t = data(10, 2, 0.1);
    const out = await evaluate(g, { frames: x, text: t });
    const bright = analyticReference('brightness', x, shape);
    const smooth = analyticReference('temporal_smoothness', x, shape, 2);
    const tsum = t.reduce((a, v) => a + v, 0);
    const aes = Array.from({ length: 4 }, (_, i) => (10 * x.slice(i * 27, (i + 1) * 27).reduce((a, v) => a + v, 0)) / 27 + tsum);
    const expected = 0.2 * -(bright.reduce((a, v) => a + v) / 4) + 2 * -(smooth.reduce((a, v) => a + v) / 2) + 1 * rewardLossReference(aes, rewardLossForm('aesthetic'));
    expect((out[mix.loss.name] as Float32Array)[0]).toBeCloseTo(expected, 4);
    expect((out[mix.rewards.brightness.name] as Float32Array)[0]).toBeCloseTo(bright.reduce((a, v) => a + v) / 4, 5);
    expect(() => rewardMix(new Builder(new Graph('x')), [{ reward: 'hps', weight: 1, params: {} }], { frames, framesPerVideo: 2 })).toThrow(/hps/);
  });
});
