// LoRA on convolutions (T2V-Turbo: "every linear and conv"): the conv hook, PEFT names and
// shapes, exact no-op at init, forward = base conv with the merged weight, gradients of A and B
// against finite differences, the channels-last (1x1-conv projection) path, and the unet3d
// targets `conv` / `proj` on a tiny UNet.
import { unet3dLoraTargets } from '../../stdlib/models/unet3d/lora-targets.ts';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { differentiate } from '../../tensor/autodiff/grad.ts';
import { emitModel } from '../../tensor/emit/onnx.ts';
import { evaluate } from '../../tensor/emit/evaluate.ts';
import { Builder } from '../../tensor/ir/builder.ts';
import { Graph } from '../../tensor/ir/graph.ts';
import { buildUNet3D, tinyVcConfig, type UNet3DConfig } from '../../stdlib/models/unet3d/index.ts';
import { conv1d, conv2d, ParameterStore } from '../../stdlib/nn/index.ts';
import { loraMatcher, loraScale, mergeLora, peftKey, withLora } from '../../stdlib/nn/lora.ts';
import { harness, maxDiff } from './models/helpers.ts';

function data(n: number, seed = 1, amp = 1): Float32Array {
  let s = seed * 7919 + 17;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return ((s / 2 ** 32) * 2 - 1) * amp;
  });
}

const [N, IN, OUT, R, H, W] = [2, 3, 4, 2, 5, 6];
const PATH = 'blk.conv';
const A = `${PATH}.lora_A.weight`;
const B = `${PATH}.lora_B.weight`;

/** x [N, IN, H, W] -> conv2d 3x3 stride 2 pad 1 (with or without LoRA) -> y, loss = sum(y * probe). */
function build(lora: boolean, options: { alpha?: number; trainableBase?: boolean } = {}) {
  const g = new Graph('conv_lora');
  const b = new Builder(g);
  const params = new ParameterStore({ seed: 3, trainable: options.trainableBase ?? false });
  const x = b.input('x', [N, IN, H, W]);
  const made = lora ? withLora({ b, params }, { rank: R, alpha: options.alpha ?? 4, dropout: 0, targets: ['conv'], table: unet3dLoraTargets }) : undefined;
  const nn = made?.nn ?? { b, params };
  const y = b.within('blk', () => conv2d(nn, 'conv', x, { out: OUT, kernel: 3, stride: 2, padding: 1 }));
  const probe = b.input('probe', [...y.shape]);
  const loss = b.reduceSum(b.mul(y, probe), undefined, false);
  g.markOutput(y);
  return { g, b, y, loss, params, modules: made?.modules ?? [] };
}

describe('LoRA on a conv layer', () => {
  it('PEFT names and shapes; the conv target matches convs only; an exact no-op at init', async () => {
    const lora = build(true);
    const plain = build(false);
    expect(lora.modules).toEqual([{ path: PATH, target: 'conv', in: IN, out: OUT, kernel: [3, 3], a: A, b: B }]);
    expect(peftKey(A)).toBe(`base_model.model.${A}`);
    expect(lora.params.trainable().map((p) => [p.name, p.shape])).toEqual([[A, [R, IN, 3, 3]], [B, [OUT, R, 1, 1]]]);
    const a = lora.params.initialValue(A) as Float32Array;
    const bound = Math.sqrt(1 / (IN * 9)); // kaiming_uniform(a = sqrt 5) over fan_in = in * k * k
    expect(a.every((v) => Math.abs(v) <= bound) && a.some((v) => v !== 0)).toBe(true);
    expect((lora.params.initialValue(B) as Float32Array).every((v) => v === 0)).toBe(true);
    const m = loraMatcher(unet3dLoraTargets, ['conv']);
    expect(m('unet.input_blocks.0.0', 'conv')).toBe('conv');
    expect(m('unet.input_blocks.0.0', 'linear')).toBeUndefined();
    expect(m('unet.time_embed.0')).toBeUndefined();
    expect(loraMatcher(unet3dLoraTargets, ['linear'])('unet.input_blocks.0.0', 'conv')).toBeUndefined();
    const p = loraMatcher(unet3dLoraTargets, ['proj']);
    expect(p('unet.input_blocks.1.1.proj_in', 'linear')).toBe('proj');
    expect(p('unet.init_attn.0.proj_out', 'conv')).toBe('proj');
    expect(p('unet.input_blocks.1.1.transformer_blocks.0.ff.net.0.proj')).toBeUndefined();

    const x = data(N * IN * H * W, 1);
    const withLoraOut = (await evaluate(lora.g, { x, probe: new Float32Array(lora.y.size), [A]: a, [B]: new Float32Array(OUT * R) }))[lora.y.name] as Float32Array;
    const base = (await evaluate(plain.g, { x, probe: new Float32Array(plain.y.size) }))[plain.y.name] as Float32Array;
    expect(Array.from(withLoraOut)).toEqual(Array.from(base));
  });

  it('forward = the base conv with the merged weight W + alpha/r B A', async () => {
    const lora = build(true, { alpha: 8, trainableBase: true });
    const plain = build(false, { trainableBase: true });
    const scale = loraScale({ rank: R, alpha: 8 });
    const [wName, biasName] = [`${PATH}.weight`, `${PATH}.bias`];
    const w = lora.params.initialValue(wName) as Float32Array;
    const bias = lora.params.initialValue(biasName) as Float32Array;
    const a = data(R * IN * 9, 2);
    const bw = data(OUT * R, 3);
    const x = data(N * IN * H * W, 4);
    const probe = new Float32Array(lora.y.size);
    const y = (await evaluate(lora.g, { x, probe, [wName]: w, [biasName]: bias, [A]: a, [B]: bw }))[lora.y.name] as Float32Array;
    const merged = mergeLora(w, a, bw, { out: OUT, in: IN * 9, rank: R }, scale);
    const ref = (await evaluate(plain.g, { x, probe, [wName]: merged, [biasName]: bias }))[plain.y.name] as Float32Array;
    const base = (await evaluate(plain.g, { x, probe, [wName]: w, [biasName]: bias }))[plain.y.name] as Float32Array;
    expect(maxDiff(y, ref)).toBeLessThan(1e-5);
    expect(maxDiff(y, base)).toBeGreaterThan(1e-2);
  });

  it('gradients of A and B match finite differences', async () => {
    const lora = build(true, { alpha: 3 });
    const aIn = lora.g.inputs.find((v) => v.name === A)!;
    const bIn = lora.g.inputs.find((v) => v.name === B)!;
    const { grads } = differentiate(lora.g, lora.loss, [aIn, bIn]);
    lora.g.markOutput(lora.loss);
    for (const v of [aIn, bIn]) lora.g.markOutput(grads.get(v)!);
    const session = await ort.InferenceSession.create(emitModel(lora.g), { intraOpNumThreads: 1 });
    const feeds: Record<string, Float32Array> = { x: data(N * IN * H * W, 5), probe: data(lora.y.size, 6), [A]: data(aIn.size, 7, 0.5), [B]: data(bIn.size, 8, 0.5) };
    const run = async (f: Record<string, Float32Array>) => {
      const inputs = Object.fromEntries(lora.g.inputs.map((v) => [v.name, new ort.Tensor('float32', f[v.name], [...v.shape])]));
      return session.run(inputs);
    };
    const out = await run(feeds);
    const lossOf = async (f: Record<string, Float32Array>) => ((await run(f))[lora.loss.name].data as Float32Array)[0];
    // the loss is linear in each factor given the other, so central differences are exact up to rounding
    const delta = 0.25;
    for (const v of [aIn, bIn]) {
      const analytic = out[grads.get(v)!.name].data as Float32Array;
      expect(analytic.some((g) => Math.abs(g) > 1e-3)).toBe(true);
      for (let i = 0; i < v.size; i++) {
        const plus = Float32Array.from(feeds[v.name]);
        const minus = Float32Array.from(feeds[v.name]);
        plus[i] += delta;
        minus[i] -= delta;
        const fd = ((await lossOf({ ...feeds, [v.name]: plus })) - (await lossOf({ ...feeds, [v.name]: minus }))) / (2 * delta);
        expect(Math.abs(analytic[i] - fd), `${v.name}[${i}]`).toBeLessThan(2e-4 + 1e-3 * Math.abs(fd));
      }
    }
    await session.release();
  });

  it('channels-last (a 1x1 conv computed as a matmul) = the channels-first conv', async () => {
    const L = 5;
    const g = new Graph('pointwise');
    const b = new Builder(g);
    const params = new ParameterStore({ seed: 4 });
    const { nn } = withLora({ b, params }, { rank: R, alpha: 4, dropout: 0, targets: ['conv'], table: unet3dLoraTargets });
    const x = b.input('x', [N, IN, L]);
    const first = b.within('blk', () => conv1d(nn, 'conv', x, { out: OUT, kernel: 1, bias: false }));
    // the same (frozen) base weight, asked for again in the same scope
    const w = params.list().find((p) => p.name === `${PATH}.weight`)!;
    const weight = b.within('blk.conv', () => params.get(b, 'weight', w.shape, { init: w.init }));
    const xt = b.transpose(x, [0, 2, 1]);
    const base = b.matmul(xt, b.transpose(b.reshape(weight, [OUT, IN]), [1, 0]));
    const last = b.within('blk.conv', () =>
      nn.convHook(nn, xt, base, { path: b.scope, in: IN, out: OUT, kernel: [1], strides: [1], pads: [0, 0], dilations: [1], groups: 1, layout: 'channels-last' }),
    );
    const back = b.transpose(last, [0, 2, 1]);
    g.markOutput(first);
    g.markOutput(back);
    expect(params.trainable().map((p) => p.name)).toEqual([A, B]);
    const out = await evaluate(g, { x: data(N * IN * L, 9), [A]: data(R * IN, 10), [B]: data(OUT * R, 11) });
    expect(maxDiff(out[first.name] as Float32Array, out[back.name] as Float32Array)).toBeLessThan(1e-5);
    expect(() =>
      b.within('blk.conv', () => nn.convHook(nn, xt, base, { path: b.scope, in: IN, out: OUT, kernel: [3], strides: [1], pads: [1, 1], dilations: [1], groups: 1, layout: 'channels-last' })),
    ).toThrow(/1x1/);
  });
});

describe('LoRA targets on a tiny UNet3D', () => {
  const config: UNet3DConfig = { ...tinyVcConfig, zeroInit: false };
  const LATENT = [1, 4, 2, 8, 8];

  function unet(targets: string[] | undefined) {
    const h = harness({ seed: 1 });
    const x = h.input('x', LATENT, 11);
    const timesteps = h.inputData('timesteps', [1], Float32Array.of(420));
    const context = h.input('context', [1, 4, config.contextDim], 12);
    const made = targets ? withLora(h.nn, { rank: 2, alpha: 2, dropout: 0, targets, table: unet3dLoraTargets }) : undefined;
    const eps = h.nn.b.within('unet', () => buildUNet3D(made?.nn ?? h.nn, config, { x, timesteps, context, fps: 8 }));
    const params = h.nn.params.list();
    /** One run without graph optimisations (ORT's fusions round the base layers differently once LoRA adds to them). */
    const run = async () => {
      for (const p of h.nn.params.trainable()) if (!(p.name in h.feeds)) h.feeds[p.name] = h.nn.params.initialValue(p.name);
      h.nn.b.graph.markOutput(eps);
      return (await evaluate(h.nn.b.graph, h.feeds, { graphOptimizationLevel: 'disabled' }))[eps.name] as Float32Array;
    };
    return { h, eps, modules: made?.modules ?? [], params, run };
  }

  it('targets = [conv] adapts every conv (1x1 projections included) and nothing else', () => {
    const { modules, params } = unet(['conv']);
    const convs = params.filter((p) => p.name.endsWith('.weight') && p.shape.length >= 3 && !p.name.includes('.lora_')).map((p) => p.name.slice(0, -'.weight'.length));
    expect(convs.length).toBeGreaterThan(15);
    expect(convs).toContain('unet.init_attn.0.proj_in'); // Conv1d projection (channels-last)
    expect(convs).toContain('unet.input_blocks.1.0.temopral_conv.conv1.2'); // Conv3d (3,1,1)
    expect(modules.map((m) => m.path).sort()).toEqual([...convs].sort());
    for (const m of modules) {
      const conv = params.find((p) => p.name === `${m.path}.weight`)!;
      expect(params.find((p) => p.name === m.a)?.shape).toEqual([2, conv.shape[1], ...conv.shape.slice(2)]);
      expect(params.find((p) => p.name === m.b)?.shape).toEqual([conv.shape[0], 2, ...conv.shape.slice(2).map(() => 1)]);
    }
  });

  it('targets = [proj] adapts proj_in/proj_out of every transformer, linear or conv; [linear] now includes linear projections', () => {
    const { modules, params } = unet(['proj']);
    const projs = params.filter((p) => /\.proj_(in|out)\.weight$/.test(p.name)).map((p) => p.name.slice(0, -'.weight'.length));
    expect(projs.length).toBeGreaterThan(4);
    expect(modules.map((m) => m.path).sort()).toEqual([...projs].sort());
    expect(modules.find((m) => m.path === 'unet.init_attn.0.proj_in')?.kernel).toEqual([1]);
    expect(modules.find((m) => m.path === 'unet.input_blocks.3.1.proj_in')?.kernel).toBeUndefined();
    expect(modules.find((m) => m.path === 'unet.input_blocks.3.1.proj_in')?.target).toBe('proj');
    const linear = unet(['linear']).modules.map((m) => m.path);
    expect(linear).toContain('unet.input_blocks.3.1.proj_out');
    expect(linear).not.toContain('unet.init_attn.0.proj_out');
    expect(linear.some((p) => p.endsWith('input_blocks.0.0'))).toBe(false);
  });

  it('starts as the base UNet exactly; non-zero B changes the prediction', async () => {
    const base = unet(undefined);
    const adapted = unet(['conv', 'linear']);
    const y0 = await base.run();
    const y1 = await adapted.run();
    expect(adapted.modules.some((m) => m.kernel) && adapted.modules.some((m) => !m.kernel)).toBe(true);
    expect(maxDiff(y0, y1)).toBe(0);
    const moved = unet(['conv', 'linear']);
    moved.modules.forEach((m, i) => (moved.h.feeds[m.b] = data(moved.params.find((p) => p.name === m.b)!.shape.reduce((a, d) => a * d, 1), 20 + i, 0.1)));
    const y2 = await moved.run();
    expect(maxDiff(y0, y2)).toBeGreaterThan(1e-3);
  });
});
