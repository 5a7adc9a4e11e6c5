// The viclip reward (T2V-Turbo's ViCLIP video-text reward) at reduced width: the frames it
// strides out of the decoded ones, the folder tools/checkpoints/viclip_files.py writes in the real
// layout (loaded strictly; a renamed key or another width refused with VPL7030 naming them),
// vplc's graph against the PyTorch twin bench/twins/viclip.py on the same files, and the
// gradient with respect to the frames against finite differences.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON, torchAvailable } from '../../../bench/common.ts';
import { openRewardCheckpoint } from '../../../runtime/methods/common/reward-networks.ts';
import { isClean, loadReportError } from '../../../runtime/weights/load-report.ts';
import { readSafetensors, writeSafetensors } from '../../../runtime/weights/safetensors.ts';
import { type ViClipConfig, viclipReducedConfig } from '../../../stdlib/models/viclip/index.ts';
import { type CheckpointTensor, ParameterStore, type WeightSource } from '../../../stdlib/nn/parameters.ts';
import { viclip, viclipFrameIndices, viclipVideoFeatures } from '../../../stdlib/rewards/networks/viclip.ts';
import { emitModel } from '../../../tensor/emit/onnx.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph, type Value } from '../../../tensor/ir/graph.ts';
import { gradcheck, prng } from '../../helpers/gradcheck.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const GENERATOR = path.join(root, 'tools/checkpoints/viclip_files.py');
const TWIN = path.join(root, 'bench/twins/viclip.py');
const FILE = 'ViClip-InternVid-10M-FLT.pth';
const torch = torchAvailable();
const reduced = viclip.reduced;

function python(args: string[]): string {
  const r = spawnSync(PYTHON, args, { cwd: root, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${PYTHON} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The opened tensors with their bytes read in (the graph is run from memory, not next to the file). */
function inline(source: WeightSource): WeightSource {
  return {
    description: source.description,
    keys: () => source.keys(),
    get(key): CheckpointTensor | undefined {
      const t = source.get(key);
      if (!t?.external) return t;
      expect(t.dtype).toBe('float32');
      const bytes = Buffer.alloc(t.external.length);
      const fd = fs.openSync(t.external.file, 'r');
      try {
        fs.readSync(fd, bytes, 0, bytes.length, t.external.offset);
      } finally {
        fs.closeSync(fd);
      }
      return { dtype: t.dtype, shape: t.shape, data: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4).slice() };
    },
  };
}

const relativeError = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0;
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(d / n);
};

describe('the frames ViCLIP scores', () => {
  it('every (T // 8)-th of the decoded frames from the first, the first 8 of them', () => {
    expect(viclipFrameIndices(16, 8)).toEqual([0, 2, 4, 6, 8, 10, 12, 14]);
    expect(viclipFrameIndices(8, 8)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(viclipFrameIndices(12, 8)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(viclipFrameIndices(25, 8)).toEqual([0, 3, 6, 9, 12, 15, 18, 21]);
  });

  it('fewer decoded frames than 8 is VPL3002; frames other than the temporal embedding length is VPL2007', () => {
    expect(() => viclipFrameIndices(7, 8)).toThrow(expect.objectContaining({ code: 'VPL3002', message: expect.stringMatching(/8 frames .* only 7 are decoded/) }));
    const b = new Builder(new Graph('viclip'));
    const nn = { b, params: new ParameterStore({ lazyFrozen: true }) };
    const frames = b.input('frames', [16, 3, 224, 224]);
    const text = b.input('text', [1, reduced.embedDim]);
    expect(() => viclip.score(nn, reduced, { frames, framesPerVideo: 16, text }, { frames: 4 })).toThrow(expect.objectContaining({ code: 'VPL2007', message: expect.stringMatching(/8 positions/) }));
    expect(() => viclip.score(nn, reduced, { frames: b.input('few', [6, 3, 224, 224]), framesPerVideo: 6, text }, { frames: 8 })).toThrow(expect.objectContaining({ code: 'VPL3002' }));
  });

  it('the graph is the strided frames, preprocessed, through one joint space-time sequence', () => {
    const b = new Builder(new Graph('viclip'));
    const nn = { b, params: new ParameterStore({ lazyFrozen: true }) };
    const score = viclip.score(nn, reduced, { frames: b.input('frames', [2 * 16, 3, 40, 64]), framesPerVideo: 16, text: b.input('text', [2, reduced.embedDim]) });
    expect(score.shape).toEqual([2]);
    const names = nn.params.list().map((p) => p.name);
    expect(names).toContain('vision_encoder.temporal_positional_embedding');
    expect(nn.params.list().find((p) => p.name === 'vision_encoder.conv1.weight')!.shape).toEqual([64, 3, 1, 14, 14]);
    // the attention scores of one video: 1 class token + 8 frames x 16 x 16 patches
    const tokens = 1 + 8 * 256;
    expect(b.graph.nodes.some((n) => n.op === 'Softmax' && n.outputs[0].shape.join() === [2, 2, tokens, tokens].join())).toBe(true);
  });
});

describe.skipIf(!torch.ok)(`the generated folder${torch.ok ? '' : ` (skipped: ${torch.why}; the generator writes with torch.save)`}`, () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-viclip-'));
    python([GENERATOR, '--size', 'reduced', '--out', path.join(dir, 'good'), '--seed', '1']);
  }, 60_000);
  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loads strictly: every parameter matched, only temp ignored', async () => {
    const ckpt = await openRewardCheckpoint(viclip, path.join(dir, 'good'), { config: reduced });
    try {
      expect(loadReportError(ckpt.report)).toBeUndefined();
      expect(isClean(ckpt.report)).toBe(true);
      expect(ckpt.report.ignored.flatMap((i) => i.keys)).toEqual(['model.temp']);
      expect(ckpt.report.matched.some((m) => m.name === 'vision_encoder.temporal_positional_embedding' || m.name === 'reward.viclip.vision_encoder.temporal_positional_embedding')).toBe(true);
    } finally {
      await ckpt.close();
    }
  });

  it('refuses a renamed key and another width with VPL7030 naming them', async () => {
    const renamed = path.join(dir, 'renamed');
    fs.mkdirSync(renamed);
    python([
      '-c',
      `import torch; d = torch.load(${JSON.stringify(path.join(dir, 'good', FILE))}); sd = d['model']; sd['vision_encoder.ln_post.gamma'] = sd.pop('vision_encoder.ln_post.weight'); torch.save(d, ${JSON.stringify(path.join(renamed, FILE))})`,
    ]);
    const a = await openRewardCheckpoint(viclip, renamed, { config: reduced });
    try {
      const error = loadReportError(a.report);
      expect(error?.code).toBe('VPL7030');
      expect(error?.message).toMatch(/vision_encoder\.ln_post\.weight/);
      expect(error?.message).toMatch(/model\.vision_encoder\.ln_post\.gamma/);
    } finally {
      await a.close();
    }
    const wider: ViClipConfig = { ...reduced, text: { ...reduced.text, width: 96 } };
    const b = await openRewardCheckpoint(viclip, path.join(dir, 'good'), { config: wider });
    try {
      const error = loadReportError(b.report);
      expect(error?.code).toBe('VPL7030');
      expect(error?.message).toMatch(/shape mismatch/);
      expect(error?.message).toMatch(/text_encoder\.ln_final\.weight/);
    } finally {
      await b.close();
    }
  });

  it("vplc's graph matches the twin on the same files (fp32, relative error <= 1e-4)", async () => {
    const [videos, decoded, h, w] = [2, 16, 40, 64];
    const rand = prng(7);
    const frames = Float32Array.from({ length: videos * decoded * 3 * h * w }, () => 1.8 * rand() - 0.9);
    // start, a few ids of the vocabulary, end, zero padding (CLIP_TEXT.tokenize)
    const tokens = new BigInt64Array(videos * 32);
    [[49406, 320, 1000, 2000, 49407], [49406, 700, 49407]].forEach((ids, v) => ids.forEach((id, i) => (tokens[v * 32 + i] = BigInt(id))));

    const ckpt = await openRewardCheckpoint(viclip, path.join(dir, 'good'), { config: reduced });
    let outputs: Record<string, Float32Array>;
    try {
      const params = new ParameterStore({ weights: inline(ckpt.source) });
      const graph = new Graph('viclip');
      const b = new Builder(graph);
      const nn = { b, params };
      const framesIn = b.input('frames', [videos * decoded, 3, h, w]);
      const tokensIn = b.input('tokens', [videos, 32], 'int64');
      const named: Record<string, Value> = b.within('reward.viclip', () => {
        const text = viclip.encodeText!(nn, reduced, tokensIn);
        return {
          text_embed: text,
          video_embed: viclipVideoFeatures(nn, reduced, framesIn, decoded),
          score: viclip.score(nn, reduced, { frames: framesIn, framesPerVideo: decoded, text }, { frames: 8 }),
          image_embed: viclip.embedImages!(nn, reduced, framesIn),
        };
      });
      expect(params.problems()).toEqual([]);
      expect(params.unusedKeys()).toEqual([]);
      for (const [name, v] of Object.entries(named)) {
        v.name = name;
        graph.markOutput(v);
      }
      const session = await ort.InferenceSession.create(emitModel(graph), { intraOpNumThreads: 2, graphOptimizationLevel: 'all' });
      try {
        const out = await session.run({ frames: new ort.Tensor('float32', frames, [videos * decoded, 3, h, w]), tokens: new ort.Tensor('int64', tokens, [videos, 32]) });
        outputs = Object.fromEntries(Object.keys(named).map((k) => [k, out[k].data as Float32Array]));
      } finally {
        await session.release();
      }
    } finally {
      await ckpt.close();
    }

    const input = path.join(dir, 'in.safetensors');
    const output = path.join(dir, 'out.safetensors');
    await writeSafetensors(input, [
      { name: 'frames', dtype: 'F32', shape: [videos * decoded, 3, h, w], data: frames },
      { name: 'tokens', dtype: 'I64', shape: [videos, 32], data: tokens },
    ]);
    const report = JSON.parse(python([TWIN, '--dir', path.join(dir, 'good'), '--video', input, '--out', output]).trim().split('\n').pop()!);
    expect(report.indices).toEqual([0, 2, 4, 6, 8, 10, 12, 14]);
    const twin = (await readSafetensors(output)).tensors;
    for (const name of ['text_embed', 'video_embed', 'score', 'image_embed']) {
      const expected = twin.get(name)!.data as Float32Array;
      expect(outputs[name].length, name).toBe(expected.length);
      expect(relativeError(outputs[name], expected), name).toBeLessThanOrEqual(1e-4);
    }
    // the scores are cosines of unit vectors, and differ between the two videos
    const score = Array.from(outputs.score);
    expect(score.every((s) => Math.abs(s) <= 1)).toBe(true);
    expect(Math.abs(score[0] - score[1])).toBeGreaterThan(1e-3);
  }, 60_000);
});

describe('the gradient with respect to the frames', () => {
  it('matches central differences in random directions (float64, seeded weights)', async () => {
    // Every one of 16 x 3 x 12 x 20 pixels would be 23,040 forward passes: instead the frames are
    // base + M d for three random directions d (the directional derivatives u^T J M, as torch's
    // gradcheck fast mode checks them). Frames 1, 3, .. are skipped by the stride: M spans them too.
    const [decoded, h, w] = [16, 12, 20];
    const n = decoded * 3 * h * w;
    const params = new ParameterStore({ seed: 5, dtype: 'float64' });
    const config: ViClipConfig = reduced;
    const { ops } = await gradcheck(({ b, input, constant }) => {
      const directions = input('directions', [3, 1], { lo: -1, hi: 1 });
      const frames = b.reshape(b.add(constant([n, 1], -0.7, 0.7), b.matmul(constant([n, 3], -0.05, 0.05), directions)), [decoded, 3, h, w]);
      const text = input('text', [1, config.embedDim], { grad: false });
      const nn = { b, params };
      return [viclip.score(nn, config, { frames, framesPerVideo: decoded, text }), viclip.embedImages!(nn, config, b.slice(frames, 0, 0, 2))];
    });
    expect(ops).toEqual(expect.arrayContaining(['MatMul', 'Slice', 'Softmax', 'Transpose']));
  }, 60_000);
});
