// The actpred reward (VideoMAE Kinetics-400 classifier, stdlib/rewards/networks/actpred.ts) on
// reduced-width folders in the published layout (tools/checkpoints/actpred_files.py): which
// class a prompt names; the folder loads strictly and a renamed key or another width is refused
// (VPL7030 naming it); vplc's graph matches the PyTorch twin (bench/twins/actpred.py) on the same
// files; the score's gradient w.r.t. the frames matches finite differences.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON, torchAvailable } from '../../../bench/common.ts';
import { openRewardCheckpoint, rewardLabels, rewardNetworkParameters } from '../../../runtime/methods/common/reward-networks.ts';
import { loadReportError } from '../../../runtime/weights/load-report.ts';
import { readSafetensors, writeSafetensors } from '../../../runtime/weights/safetensors.ts';
import { sinusoidTable } from '../../../stdlib/models/videomae/index.ts';
import { ParameterStore, type WeightSource } from '../../../stdlib/nn/index.ts';
import { RewardMixError } from '../../../stdlib/rewards/mix.ts';
import { actpred, actpredForward, negCrossEntropy } from '../../../stdlib/rewards/networks/actpred.ts';
import { classOfPrompt, labelWords } from '../../../stdlib/rewards/networks/actpred-labels.ts';
import { rewardScope } from '../../../stdlib/rewards/networks/network.ts';
import { evaluate } from '../../../tensor/emit/evaluate.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import type { TypedArray } from '../../../tensor/ir/dtype.ts';
import { Graph } from '../../../tensor/ir/graph.ts';
import { gradcheck, prng } from '../../helpers/gradcheck.ts';

const root = path.resolve(import.meta.dirname, '..', '..', '..');
const GENERATOR = path.join(root, 'tools/checkpoints/actpred_files.py');
const TWIN = path.join(root, 'bench/twins/actpred.py');
const reduced = actpred.reduced;

const numpy = torchAvailable(['numpy']);
const torch = torchAvailable();

/** The generator's folder (safetensors, or pytorch_model.bin) at `size`. */
function generate(dir: string, size: 'reduced' | 'full', format: 'safetensors' | 'bin' = 'safetensors'): void {
  execFileSync(PYTHON, [GENERATOR, '--size', size, '--out', dir, '--format', format], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** The generator's key manifest at `size`: key -> shape. */
function manifest(size: 'reduced' | 'full'): Map<string, number[]> {
  const out = execFileSync(PYTHON, [GENERATOR, '--size', size, '--manifest'], { encoding: 'utf8' });
  return new Map(out.trim().split('\n').map((line) => {
    const { key, shape } = JSON.parse(line) as { key: string; shape: number[] };
    return [key, shape];
  }));
}

/** Frames [N, 3, H, W] in (-0.9, 0.9), seeded. */
function frames(n: number, h: number, w: number, seed: number): Float32Array {
  const rand = prng(seed);
  return Float32Array.from({ length: n * 3 * h * w }, () => 1.8 * rand() - 0.9);
}

interface Outputs {
  pooled: Float32Array;
  logits: Float32Array;
  score: Float32Array;
}

/** vplc's actpred graph on `source` (keys `reward.actpred.*`): pooled, logits and score. */
async function runVplc(source: WeightSource, data: Float32Array, shape: [number, number, number, number], labels: number[], framesPerVideo: number): Promise<Outputs> {
  const graph = new Graph('actpred');
  const b = new Builder(graph);
  const params = new ParameterStore({ weights: source });
  const input = b.input('frames', shape);
  const label = b.input('label', [labels.length], 'int64');
  const { pooled, logits, score } = b.within(rewardScope('actpred'), () => {
    const out = actpredForward({ b, params }, reduced, input, framesPerVideo);
    return { ...out, score: negCrossEntropy(b, out.logits, label) };
  });
  expect(params.problems()).toEqual([]);
  for (const [v, name] of [[pooled, 'pooled'], [logits, 'logits'], [score, 'score']] as const) {
    v.name = name;
    graph.markOutput(v);
  }
  const out = await evaluate(graph, { frames: data, label: BigInt64Array.from(labels.map(BigInt)) }, { intraOpNumThreads: 2 });
  return { pooled: out.pooled as Float32Array, logits: out.logits as Float32Array, score: out.score as Float32Array };
}

/** `source` with every tensor read into memory (an in-memory model cannot name files by absolute path). */
function inMemory(source: WeightSource): WeightSource {
  return {
    description: source.description,
    keys: () => source.keys(),
    get: (key) => {
      const t = source.get(key);
      if (!t?.external) return t;
      if (t.dtype !== 'float32') throw new Error(`${key}: a ${t.dtype} tensor in a float32 test`);
      const { file, offset, length } = t.external;
      const bytes = Buffer.alloc(length);
      const fd = fs.openSync(file, 'r');
      try {
        fs.readSync(fd, bytes, 0, length, offset);
      } finally {
        fs.closeSync(fd);
      }
      return { dtype: t.dtype, shape: t.shape, data: new Float32Array(bytes.buffer, bytes.byteOffset, length / 4) };
    },
  };
}

/** max |a - b| / max |b|. */
function relativeError(a: TypedArray, b: TypedArray): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(Number(a[i]) - Number(b[i])));
    scale = Math.max(scale, Math.abs(Number(b[i])));
  }
  return diff / scale;
}

describe('actpred: the class a prompt names', () => {
  const labels = ['playing', 'playing guitar', 'playing bass guitar', 'jogging', 'passing American football (in game)', "massaging person's head", 'jogging'];

  it('matches whole words, case-insensitively', () => {
    expect(classOfPrompt('A man JOGGING in the park', labels)).toEqual({ id: 3, label: 'jogging' });
    expect(classOfPrompt('joggingly through town', labels)).toBeUndefined();
    expect(classOfPrompt('a dog', labels)).toBeUndefined();
  });

  it('takes the longest label: "playing guitar" over "playing", "playing bass guitar" over both', () => {
    expect(classOfPrompt('a girl playing guitar on stage', labels)).toEqual({ id: 1, label: 'playing guitar' });
    expect(classOfPrompt('a girl playing bass guitar', labels)).toEqual({ id: 2, label: 'playing bass guitar' });
    expect(classOfPrompt('children playing in the snow', labels)).toEqual({ id: 0, label: 'playing' });
  });

  it('reads punctuation and apostrophes in labels as the words they hold', () => {
    expect(classOfPrompt('players passing american football in game, slow motion', labels)?.id).toBe(4);
    expect(classOfPrompt('a therapist massaging person’s head', labels)?.id).toBe(5);
    expect(labelWords("Massaging person's head (gently)")).toEqual(['massaging', "person's", 'head', 'gently']);
  });

  it('breaks ties by where the prompt names them, then by the lower id; reads id2label objects', () => {
    const id2label = { '0': 'jogging', '1': 'surfing', '2': 'skating', '3': 'skating' };
    expect(classOfPrompt('surfing and then jogging', id2label)).toEqual({ id: 1, label: 'surfing' });
    expect(classOfPrompt('skating', id2label)).toEqual({ id: 2, label: 'skating' });
  });
});

describe('actpred: the graph', () => {
  it('adds the sine-cosine table of the reference: sin on even features, cos on odd', () => {
    const table = sinusoidTable(5, 6);
    for (const [p, j] of [[0, 0], [0, 1], [3, 2], [4, 5], [2, 3]]) {
      const angle = p / 10000 ** ((2 * Math.floor(j / 2)) / 6);
      expect(table[p * 6 + j]).toBeCloseTo(j % 2 === 0 ? Math.sin(angle) : Math.cos(angle), 6);
    }
  });

  it('refuses a frame count the 2-frame tubelet does not divide, naming both', () => {
    const b = new Builder(new Graph('odd'));
    const nn = { b, params: new ParameterStore({ lazyFrozen: true }) };
    const build = () => actpred.score(nn, reduced, { frames: b.input('frames', [6, 3, 32, 32]), framesPerVideo: 3, label: b.input('label', [2], 'int64') });
    expect(build).toThrow(RewardMixError);
    expect(build).toThrow(/tubelets of 2 frames, and 3 decoded frames per video/);
  });

  it('scores every frame: 16 frames per video make 8 x 196 tokens, one score per video', () => {
    const b = new Builder(new Graph('listing'));
    const nn = { b, params: new ParameterStore({ lazyFrozen: true }) };
    const score = actpred.score(nn, reduced, { frames: b.input('frames', [32, 3, 64, 64]), framesPerVideo: 16, label: b.input('label', [2], 'int64') });
    expect(score.shape).toEqual([2]);
    const table = [...b.graph.initializers.keys()].find((v) => v.name.includes('position_table'));
    expect(table?.shape).toEqual([1, 8 * 196, 64]);
  });
});

describe.skipIf(!numpy.ok)(`actpred: files in the published layout (${numpy.why || 'numpy'})`, () => {
  let dir: string;
  let safetensors: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-actpred-'));
    safetensors = path.join(dir, 'st');
    generate(safetensors, 'reduced');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('asks for exactly the keys and shapes of the generated state dict, full and reduced', () => {
    for (const size of ['reduced', 'full'] as const) {
      const asked = rewardNetworkParameters(actpred, size === 'full' ? actpred.config : reduced);
      expect(new Map(asked.map((p) => [p.name, p.shape]))).toEqual(manifest(size));
    }
  });

  it('loads strictly, with the 400 class names of config.json', async () => {
    const checkpoint = await openRewardCheckpoint(actpred, safetensors, { config: reduced });
    try {
      expect(loadReportError(checkpoint.report)).toBeUndefined();
      expect(checkpoint.report.matched.length).toBe(2 + 2 * 15 + 4);
    } finally {
      await checkpoint.close();
    }
    const labels = rewardLabels(actpred, safetensors);
    expect(labels.length).toBe(400);
    expect(classOfPrompt('a woman playing guitar by the sea', labels)?.label).toBe('playing guitar');
  });

  it('refuses a renamed key and another width with VPL7030 naming them', async () => {
    const renamed = path.join(dir, 'renamed');
    fs.mkdirSync(renamed);
    fs.copyFileSync(path.join(safetensors, 'config.json'), path.join(renamed, 'config.json'));
    const { tensors } = await readSafetensors(path.join(safetensors, 'model.safetensors'));
    await writeSafetensors(
      path.join(renamed, 'model.safetensors'),
      [...tensors].map(([name, t]) => ({ name: name === 'fc_norm.weight' ? 'fc_norm.gamma' : name, dtype: t.dtype, shape: t.shape, data: t.data })),
    );
    const bad = await openRewardCheckpoint(actpred, renamed, { config: reduced });
    await bad.close();
    const error = loadReportError(bad.report);
    expect(error?.code).toBe('VPL7030');
    expect(error?.message).toMatch(/fc_norm\.weight/);
    expect(error?.message).toMatch(/fc_norm\.gamma/);

    const wide = await openRewardCheckpoint(actpred, safetensors, { config: { ...reduced, width: 96 } });
    await wide.close();
    const mismatch = loadReportError(wide.report);
    expect(mismatch?.code).toBe('VPL7030');
    expect(mismatch?.message).toMatch(/shape mismatch/);
    expect(mismatch?.message).toMatch(/classifier\.weight/);
  });

  it.skipIf(!torch.ok)('matches the PyTorch twin on the same files (fp32, relative error <= 1e-4), from safetensors and from pytorch_model.bin', async () => {
    const bin = path.join(dir, 'bin');
    generate(bin, 'reduced', 'bin');
    const shape: [number, number, number, number] = [8, 3, 40, 56];
    const data = frames(8, 40, 56, 7);
    const labels = [3, 17];
    const video = path.join(dir, 'in.safetensors');
    await writeSafetensors(video, [
      { name: 'frames', dtype: 'F32', shape, data },
      { name: 'label', dtype: 'I64', shape: [2], data: BigInt64Array.from(labels.map(BigInt)) },
    ]);
    for (const folder of [safetensors, bin]) {
      const out = path.join(dir, `twin-${path.basename(folder)}.safetensors`);
      execFileSync(PYTHON, [TWIN, '--dir', folder, '--video', video, '--out', out], { stdio: ['ignore', 'ignore', 'inherit'] });
      const twin = (await readSafetensors(out)).tensors;
      const checkpoint = await openRewardCheckpoint(actpred, folder, { config: reduced });
      try {
        expect(loadReportError(checkpoint.report)).toBeUndefined();
        const ours = await runVplc(inMemory(checkpoint.source), data, shape, labels, 4);
        for (const name of ['pooled', 'logits', 'score'] as const) {
          expect(relativeError(ours[name], twin.get(name)!.data as TypedArray), `${name} (${path.basename(folder)})`).toBeLessThanOrEqual(1e-4);
        }
        // the score is -cross-entropy: negative, and not the same for both videos
        expect(Math.max(...ours.score)).toBeLessThan(0);
        expect(Math.abs(ours.score[0] - ours.score[1])).toBeGreaterThan(1e-3);
      } finally {
        await checkpoint.close();
      }
    }
  }, 60_000);
});

describe('actpred: gradient', () => {
  it('d score / d frames matches finite differences (fp32: gelu is Erf, float32-only on the CPU)', async () => {
    const { worst, ops } = await gradcheck(
      ({ b, input }) => {
        const params = new ParameterStore({ seed: 5 });
        const nn = { b, params };
        const label = input('label', [1], { dtype: 'int64', data: [7], grad: false });
        return b.within(rewardScope('actpred'), () => actpred.score(nn, reduced, { frames: input('frames', [2, 3, 5, 6], { lo: -0.9, hi: 0.9 }), framesPerVideo: 2, label }));
      },
      { dtype: 'float32', eps: 1e-2, rtol: 2e-2 },
    );
    expect(worst).toBeLessThanOrEqual(1);
    expect(ops).toEqual(expect.arrayContaining(['Conv', 'LayerNormalization', 'LogSoftmax', 'MatMul', 'Softmax']));
  }, 60_000);
});
