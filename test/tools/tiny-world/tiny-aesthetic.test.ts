// The trained tiny_aesthetic head (stdlib/weights/tiny/tiny_aesthetic.safetensors, made by
// tools/tiny-world/train-aesthetic.ts): it loads into the reward exactly as
// stdlib/rewards/tiny.ts builds it (with the committed tiny CLIP, scope 'clip') with no missing
// keys, and the reward ranks crisp held-out shapes frames above blurred + desaturated versions.
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { emitModel } from '../../../tensor/emit/onnx.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph } from '../../../tensor/ir/graph.ts';
import { tinyClipConfig } from '../../../stdlib/models/clip/config.ts';
import { FRAME_SIZE, HELDOUT_SEED, SIZE, videoPool } from '../../../tools/tiny-world/data.ts';
import { CLEAN, degradedFrame } from '../../../tools/tiny-world/train-aesthetic.ts';
import { openTinyWeights } from '../../../runtime/weights/tiny-world.ts';
import { ParameterStore, Rng, type WeightSource } from '../../../stdlib/nn/index.ts';
import { tinyRewardBuilders } from '../../../stdlib/rewards/tiny.ts';

const N = 32;

describe('tiny_aesthetic weights', () => {
  it('load into the reward with no missing keys and rank crisp frames above degraded ones', async () => {
    const [clip, head] = await Promise.all([openTinyWeights('clip'), openTinyWeights('aesthetic')]);
    const weights: WeightSource = {
      description: 'tiny clip + tiny_aesthetic',
      get: (key) => clip.get(key) ?? head.get(key),
      *keys() {
        yield* clip.keys();
        yield* head.keys();
      },
    };
    const store = new ParameterStore({ weights, keyOf: (name) => (name.startsWith('clip.') ? name.slice(5) : name) });
    const graph = new Graph('tiny_aesthetic_test');
    const b = new Builder(graph);
    const frames = b.input('frames', [2 * N, 3, SIZE, SIZE]);
    const score = tinyRewardBuilders({ b, params: store }, tinyClipConfig, 'clip').tiny_aesthetic(b, { frames, framesPerVideo: 1 }, {});
    score.name = 'score';
    graph.markOutput(score);
    expect(store.problems()).toEqual([]);
    expect(store.unusedKeys().filter((k) => k.startsWith('tiny_aesthetic.'))).toEqual([]);
    expect(store.list().filter((p) => p.name.startsWith('tiny_aesthetic.')).map((p) => p.source)).toEqual(['checkpoint', 'checkpoint', 'checkpoint', 'checkpoint']);

    // Held-out frames: N crisp ones, then the same frames blurred and desaturated.
    const rng = new Rng(3, 'tiny-aesthetic-test');
    const data = new Float32Array(2 * N * FRAME_SIZE);
    const targets: number[] = [];
    videoPool(HELDOUT_SEED, N, 5000).forEach((item, i) => {
      const crisp = degradedFrame(item, 3, CLEAN, rng);
      const worse = degradedFrame(item, 3, { ...CLEAN, blur: 1.5, desaturate: 0.8 }, rng);
      data.set(crisp.frame, i * FRAME_SIZE);
      data.set(worse.frame, (N + i) * FRAME_SIZE);
      targets.push(crisp.score, worse.score);
    });
    const session = await ort.InferenceSession.create(emitModel(graph), { intraOpNumThreads: 2, graphOptimizationLevel: 'basic' });
    const out = (await session.run({ frames: new ort.Tensor('float32', data, [2 * N, 3, SIZE, SIZE]) })).score.data as Float32Array;
    await session.release();
    let right = 0;
    for (let i = 0; i < N; i++) if (out[i] > out[N + i]) right++;
    expect(targets.every((t) => t >= 0 && t <= 10)).toBe(true);
    expect(right / N).toBeGreaterThanOrEqual(0.75);
    // The scores are on the 0..10 target scale.
    const mean = (xs: ArrayLike<number>, from: number, to: number) => Array.from(xs).slice(from, to).reduce((a, x) => a + x, 0) / (to - from);
    expect(mean(out, 0, N)).toBeGreaterThan(mean(out, N, 2 * N) + 1);
  }, 15_000);
});
