// The learned rewards' reference preprocessing (stdlib/rewards/preprocess.ts): the resize
// matrices against the kernel evaluated directly and against torch's F.interpolate, the whole
// graph (onnxruntime, float32) against the same steps done in torch (float64), its gradient
// against finite differences, and the table against the reward catalogue.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PYTHON, torchAvailable } from '../../../bench/common.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { rewards as rewardCatalogue, PIXEL_NORMS } from '../../../stdlib/catalogue/rewards.ts';
import {
  antialiasedBicubicWeights,
  type PreprocessSpec,
  type PreprocessedReward,
  preprocessGeometry,
  REWARD_PREPROCESS,
  referencePreprocess,
  resizeWeights,
  type ResizeFilter,
} from '../../../stdlib/rewards/preprocess.ts';
import { evaluate } from '../../../tensor/emit/evaluate.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph } from '../../../tensor/ir/graph.ts';
import { gradcheck, prng } from '../../helpers/gradcheck.ts';

// Debian's python3-torch is optional (large; not a dependency): the torch comparisons need it.
const hasTorch = torchAvailable(['torch', 'numpy']).ok;

/** PIL's bicubic (Keys, a = -0.5), written out piecewise. */
function keys(x: number): number {
  const t = Math.abs(x);
  if (t <= 1) return 1.5 * t ** 3 - 2.5 * t ** 2 + 1;
  if (t < 2) return -0.5 * t ** 3 + 2.5 * t ** 2 - 4 * t + 2;
  return 0;
}

describe('resize matrices', () => {
  it.each([
    [512, 358],
    [320, 224],
    [64, 224],
    [224, 224],
    [5, 2],
  ])('antialiased bicubic %i -> %i: rows sum to 1 and are the stretched kernel at every input pixel centre', (n, m) => {
    const w = antialiasedBicubicWeights(n, m);
    expect(w.length).toBe(n * m);
    const scale = n / m;
    const stretch = Math.max(scale, 1);
    let sumError = 0;
    let kernelError = 0;
    for (let i = 0; i < m; i++) {
      const row = w.subarray(i * n, (i + 1) * n);
      sumError = Math.max(sumError, Math.abs(row.reduce((p, v) => p + v, 0) - 1));
      // every input pixel, no tap window: the kernel at the distance between pixel centres
      const direct = Array.from({ length: n }, (_, j) => keys((j + 0.5 - (i + 0.5) * scale) / stretch));
      const total = direct.reduce((p, v) => p + v, 0);
      for (let j = 0; j < n; j++) kernelError = Math.max(kernelError, Math.abs(row[j] - direct[j] / total));
    }
    expect(sumError).toBeLessThan(1e-12);
    expect(kernelError).toBeLessThan(1e-12);
  });

  it('downscaling widens the kernel to the scale; upscaling keeps 4 taps', () => {
    const taps = (w: Float64Array, n: number, i: number) => Array.from(w.subarray(i * n, (i + 1) * n)).filter((v) => v !== 0).length;
    expect(taps(antialiasedBicubicWeights(512, 128), 512, 20)).toBeGreaterThanOrEqual(15); // support 2 * 4 on each side
    expect(taps(antialiasedBicubicWeights(64, 224), 64, 100)).toBeLessThanOrEqual(4);
  });

  it.each(['bilinear', 'bicubic'] as const)('plain (not antialiased) %s rows sum to 1 and the same size is the identity', (filter) => {
    for (const [n, m] of [[10, 7], [7, 10]]) {
      const w = resizeWeights(n, m, filter, false);
      for (let i = 0; i < m; i++) expect(w.subarray(i * n, (i + 1) * n).reduce((p, v) => p + v, 0)).toBeCloseTo(1, 12);
    }
    const id = resizeWeights(6, 6, filter, false);
    id.forEach((v, k) => expect(v).toBe(k % 7 === 0 ? 1 : 0));
  });
});

describe('geometry', () => {
  it('short side to 224 with the long side floored (PickScore) or rounded half to even (ViCLIP), crop at the centre', () => {
    expect(preprocessGeometry(320, 512, REWARD_PREPROCESS.pickscore)).toEqual({ resized: [224, 358], top: 0, left: 67 });
    expect(preprocessGeometry(512, 320, REWARD_PREPROCESS.pickscore)).toEqual({ resized: [358, 224], top: 67, left: 0 });
    // 513 * 224 // 320 = 359: VADER's start 359 // 2 - 112 = 67 (an odd margin of 135 rounds down)
    expect(preprocessGeometry(320, 513, REWARD_PREPROCESS.pickscore)).toEqual({ resized: [224, 359], top: 0, left: 67 });
    expect(preprocessGeometry(64, 64, REWARD_PREPROCESS.pickscore)).toEqual({ resized: [224, 224], top: 0, left: 0 });
    // 451 * 224 / 448 = 225.5: floor 225, round half to even 226
    expect(preprocessGeometry(448, 451, REWARD_PREPROCESS.pickscore).resized).toEqual([224, 225]);
    expect(preprocessGeometry(448, 451, REWARD_PREPROCESS.viclip).resized).toEqual([224, 226]);
    expect(preprocessGeometry(320, 512, REWARD_PREPROCESS.aesthetic)).toEqual({ resized: [224, 224], top: 0, left: 0 });
    expect(() => preprocessGeometry(320, 512, REWARD_PREPROCESS.viclip, { top: 0, left: 200 })).toThrow(/does not fit/);
  });

  it('builds [N, 3, S, S] and rejects frames that are not [N, 3, H, W]', () => {
    const b = new Builder(new Graph('shape'));
    expect(referencePreprocess(b, b.input('frames', [2, 3, 320, 512]), REWARD_PREPROCESS.pickscore).shape).toEqual([2, 3, 224, 224]);
    expect(() => referencePreprocess(b, b.input('gray', [2, 1, 64, 64]), REWARD_PREPROCESS.aesthetic)).toThrow(/\[N, 3, H, W\]/);
  });
});

describe('the table agrees with the reward catalogue', () => {
  it.each(Object.keys(REWARD_PREPROCESS) as PreprocessedReward[])('%s', (name) => {
    const spec = REWARD_PREPROCESS[name];
    const entry = rewardCatalogue.find((r) => r.name === name);
    const p = entry?.preprocess;
    if (!p || p.kind === 'none' || p.kind === 'tiny_clip') throw new Error(`${name}: the catalogue gives no network preprocessing`);
    expect(spec.size).toBe(p.size);
    expect(spec.mean).toEqual(PIXEL_NORMS[p.kind].mean);
    expect(spec.std).toEqual(PIXEL_NORMS[p.kind].std);
    expect(spec.filter).toBe(p.interpolation);
    const resize = spec.resize === 'square' ? 'square' : spec.crop === 'random' ? 'short_side_random_crop' : 'short_side_centre_crop';
    expect(resize).toBe(p.resize);
  });
});

// The same steps written in torch, float64: unit range, (x255), F.interpolate, crop, (x 1/255), mean/std.
const TORCH_PIPELINE = `
import json, sys, numpy as np, torch
import torch.nn.functional as F
for c in json.load(open(sys.argv[1])):
    x = torch.from_numpy(np.fromfile(c['input'], dtype=np.float32).reshape(c['shape'])).double()
    y = ((x / 2) + 0.5).clamp(0, 1)
    if c['roundTrip']: y = y * 255
    H, W, S = c['shape'][2], c['shape'][3], c['size']
    if c['resize'] == 'square': h, w = S, S
    elif c['longSide'] == 'floor': h, w = (S, W * S // H) if H < W else (H * S // W, S)
    else: scale = S / min(H, W); h, w = round(H * scale), round(W * scale)
    y = F.interpolate(y, size=(h, w), mode=c['filter'], antialias=c['antialias'], align_corners=False)
    top, left = c['cropAt'] if c['cropAt'] else (h // 2 - S // 2, w // 2 - S // 2)
    y = y[:, :, top:top + S, left:left + S]
    if c['roundTrip']: y = y * 0.00392156862745098
    mean = torch.tensor(c['mean'], dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor(c['std'], dtype=torch.float64).view(1, 3, 1, 1)
    ((y - mean) / std).numpy().astype(np.float32).tofile(c['output'])
`;

// torch's interpolate of one-hot rows: its [out, in] matrix, float64.
const TORCH_WEIGHTS = `
import json, sys, torch
import torch.nn.functional as F
out = []
for n, m, mode, aa in json.load(open(sys.argv[1])):
    x = torch.eye(n, dtype=torch.float64).reshape(n, 1, 1, n)
    out.append(F.interpolate(x, size=(1, m), mode=mode, antialias=aa, align_corners=False).reshape(n, m).T.reshape(-1).tolist())
print(json.dumps(out))
`;

describe.skipIf(!hasTorch)('against torch 1.13 (skipped without Debian python3-torch)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vplc-preprocess-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const runPython = (script: string, cases: unknown): string => {
    const scriptPath = join(dir, `script-${Math.random().toString(36).slice(2)}.py`);
    const casesPath = `${scriptPath}.json`;
    writeFileSync(scriptPath, script);
    writeFileSync(casesPath, JSON.stringify(cases));
    return execFileSync(PYTHON, [scriptPath, casesPath], { encoding: 'utf8', maxBuffer: 1 << 28 });
  };

  it('the four torch kernels (bilinear/bicubic, antialiased or not) give the same matrices to 1e-12', () => {
    const cases: [number, number, ResizeFilter, boolean][] = [];
    for (const [n, m] of [[512, 358], [64, 224], [7, 3], [3, 8], [9, 9]]) for (const f of ['bilinear', 'bicubic'] as const) for (const aa of [true, false]) cases.push([n, m, f, aa]);
    const torch = JSON.parse(runPython(TORCH_WEIGHTS, cases)) as number[][];
    cases.forEach(([n, m, f, aa], k) => {
      const ours = resizeWeights(n, m, f, aa);
      const worst = ours.reduce((p, v, j) => Math.max(p, Math.abs(v - torch[k][j])), 0);
      expect(worst, `${n} -> ${m} ${f} antialias=${aa}`).toBeLessThan(1e-12);
    });
  });

  const cases: { name: string; reward: PreprocessedReward; shape: [number, number, number, number]; cropAt?: { top: number; left: number } }[] = [
    { name: 'pickscore 320x512 (downscale, crop)', reward: 'pickscore', shape: [2, 3, 320, 512] },
    { name: 'pickscore 64x64 (upscale)', reward: 'pickscore', shape: [1, 3, 64, 64] },
    { name: 'aesthetic 96x64 (square, bilinear)', reward: 'aesthetic', shape: [1, 3, 96, 64] },
    { name: 'actpred 320x512 (square, bilinear, downscale)', reward: 'actpred', shape: [1, 3, 320, 512] },
    { name: 'viclip 200x300 with a given crop', reward: 'viclip', shape: [1, 3, 200, 300], cropAt: { top: 0, left: 77 } },
  ];

  it('the whole graph (onnxruntime, float32) matches the steps in torch: max abs error <= 1e-4', async () => {
    const rand = prng(7);
    const ours: Float32Array[] = [];
    const jobs = [];
    for (const [k, c] of cases.entries()) {
      const spec: PreprocessSpec = REWARD_PREPROCESS[c.reward];
      const input = Float32Array.from({ length: c.shape.reduce((p, d) => p * d, 1) }, () => 2.4 * rand() - 1.2); // some outside [-1, 1]: the clamp matters
      const graph = new Graph(c.reward);
      const b = new Builder(graph);
      graph.markOutput(referencePreprocess(b, b.input('frames', c.shape), spec, { cropAt: c.cropAt }));
      ours.push((await evaluate(graph, { frames: input }))[graph.outputs[0].name] as Float32Array);
      const inputPath = join(dir, `in-${k}.f32`);
      writeFileSync(inputPath, input);
      jobs.push({
        input: inputPath, output: join(dir, `out-${k}.f32`), shape: c.shape, size: spec.size, resize: spec.resize, longSide: spec.longSide ?? 'floor',
        filter: spec.filter, antialias: spec.antialias, roundTrip: spec.roundTrip255 ?? false, mean: spec.mean, std: spec.std,
        cropAt: c.cropAt ? [c.cropAt.top, c.cropAt.left] : null,
      });
    }
    runPython(TORCH_PIPELINE, jobs);
    for (const [k, c] of cases.entries()) {
      const buf = readFileSync(jobs[k].output);
      const torch = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
      expect(ours[k].length, c.name).toBe(torch.length);
      let worst = 0;
      for (let i = 0; i < torch.length; i++) worst = Math.max(worst, Math.abs(ours[k][i] - torch[i]));
      expect(worst, c.name).toBeLessThanOrEqual(1e-4);
    }
  }, 20_000);
});

describe('gradient with respect to the frames (float64 finite differences)', () => {
  const small = (spec: PreprocessSpec, size: number): PreprocessSpec => ({ ...spec, size });
  it.each([
    ['bicubic short side + centre crop, downscale (PickScore at S = 4)', small(REWARD_PREPROCESS.pickscore, 4), [1, 3, 6, 10]],
    ['bilinear square, upscale (aesthetic at S = 7)', small(REWARD_PREPROCESS.aesthetic, 7), [1, 3, 3, 5]],
    ['bicubic short side, rounded, upscale (ViCLIP at S = 5)', small(REWARD_PREPROCESS.viclip, 5), [2, 3, 4, 3]],
  ] as const)('%s', async (_, spec, shape) => {
    const { ops } = await gradcheck(({ b, input }) => referencePreprocess(b, input('frames', [...shape], { lo: -0.95, hi: 0.95 }), spec));
    expect(ops).toContain('MatMul');
  });
});
