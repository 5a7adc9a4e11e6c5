// Opening whole-model checkpoints in their real layouts (written here at reduced width, see
// helpers/checkpoint-layouts.ts): the strict report, lazy external byte ranges, dtype
// conversion, the diffusers key map's transforms and reordering, and the store reading it.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PYTHON, torchAvailable } from '../../../bench/common.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VplError } from '../../../diagnostics/error.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph } from '../../../tensor/ir/graph.ts';
import { buildClipTextEncoder } from '../../../stdlib/models/clip/clip.ts';
import { checkpointKey, modelBuild, reducedBuild } from '../../../stdlib/models/registry.ts';
import { ParameterStore } from '../../../stdlib/nn/parameters.ts';
import { componentCounts, isClean, loadReportError } from '../../../runtime/weights/load-report.ts';
import { type ListedTensor, openModelCheckpoint, reportForListing } from '../../../runtime/weights/model-checkpoint.ts';
import { modelParameters } from '../../../runtime/weights/model-parameters.ts';
import { type DiffusersFixture, type FixtureTensor, lightningKey, lightningTensors, valuesOf, writeDiffusersFolder, writeSafetensorsFile, writeTorchFile } from './helpers/checkpoint-layouts.ts';

const dir = mkdtempSync(join(tmpdir(), 'vplc-model-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const values = (data: ArrayLike<number> | undefined) => Array.from(data as ArrayLike<number>);
const fileBytes = (file: string, offset: number, length: number): Float32Array => {
  const fd = openSync(file, 'r');
  const out = new Uint8Array(length);
  readSync(fd, out, 0, length, offset);
  closeSync(fd);
  return new Float32Array(out.buffer);
};

describe('a reduced VideoCrafter2 Lightning checkpoint (.ckpt: UNet fp16, VAE fp32, text bf16)', () => {
  const build = reducedBuild('videocrafter2');
  const file = join(dir, 'model.ckpt');
  let tensors: FixtureTensor[];
  beforeAll(async () => {
    tensors = lightningTensors(build, { unet: 'F16', vae: 'F32', clip: 'BF16' });
    await writeTorchFile(file, tensors);
  }, 120_000);

  it('opens with a clean report: every parameter matched, the schedule buffers ignored with reasons', async () => {
    const ckpt = await openModelCheckpoint(build, file);
    try {
      const { report } = ckpt;
      expect(ckpt.layout).toBe('lightning');
      expect(isClean(report)).toBe(true);
      expect(loadReportError(report)).toBeUndefined();
      const expected = modelParameters(build);
      expect(report.matched).toHaveLength(expected.length);
      const counts = componentCounts(report);
      expect(counts.unet.dtypes).toEqual({ F16: expected.filter((p) => p.component === 'unet').length });
      expect(counts.clip.dtypes).toEqual({ BF16: expected.filter((p) => p.component === 'clip').length });
      expect(counts.vae.bytes).toBe(expected.filter((p) => p.component === 'vae').reduce((n, p) => n + 4 * p.shape.reduce((a, d) => a * d, 1), 0));
      const ignored = report.ignored.flatMap((i) => i.keys);
      expect(ignored).toEqual(expect.arrayContaining(['betas', 'alphas_cumprod', 'scale_arr', 'cond_stage_model.model.logit_scale']));
      expect(report.ignored.every((i) => i.why.length > 10)).toBe(true);
    } finally {
      await ckpt.close();
    }
  });

  it('hands fp32 tensors over as byte ranges of the zip, and converts fp16 and bf16 to float32 on first read', async () => {
    const ckpt = await openModelCheckpoint(build, file);
    try {
      const keyOf = checkpointKey(build);
      const vaeName = 'vae.decoder.up.1.block.0.conv1.weight';
      const vae = ckpt.source.get(keyOf(vaeName))!;
      expect(vae.external).toBeDefined();
      const { external } = vae;
      const shape = modelParameters(build).find((p) => p.name === vaeName)!.shape;
      expect(external!.length).toBe(4 * shape.reduce((a, d) => a * d, 1));
      // the range is the tensor's own bytes in the file
      expect(Array.from(fileBytes(file, external!.offset, external!.length))).toEqual(Array.from(valuesOf(lightningKey(build, vaeName), shape)));

      for (const name of ['unet.input_blocks.1.0.in_layers.2.weight', 'clip.transformer.resblocks.3.attn.in_proj_weight', 'clip.transformer.resblocks.3.ln_2.weight']) {
        const tensor = ckpt.source.get(keyOf(name))!;
        const p = modelParameters(build).find((q) => q.name === name)!;
        expect(tensor.external, name).toBeUndefined();
        expect(tensor.dtype).toBe('float32');
        expect(tensor.data).toBeInstanceOf(Float32Array);
        expect(values(tensor.data as Float32Array)).toEqual(Array.from(valuesOf(lightningKey(build, name), p.shape)));
      }
      expect(ckpt.report.matched.find((m) => m.name === 'unet.input_blocks.1.0.in_layers.2.weight')!.load).toBe('copied');
    } finally {
      await ckpt.close();
    }
  });
});

describe('a reduced ModelScope diffusers folder (unet fp16 variant, vae .bin with old attention names, sharded text encoder)', () => {
  const build = reducedBuild('modelscope');
  let fixture: DiffusersFixture;
  beforeAll(async () => {
    fixture = await writeDiffusersFolder(join(dir, 'modelscope'), build, { oldAttention: true });
  }, 120_000);

  it('opens with a clean report; position_ids ignored; no pooled projection is asked of CLIPTextModel', async () => {
    const ckpt = await openModelCheckpoint(build, fixture.dir);
    try {
      const { report } = ckpt;
      expect(ckpt.layout).toBe('diffusers (TextToVideoSDPipeline)');
      expect(report.missing).toEqual([]);
      expect(report.unexpected).toEqual([]);
      expect(report.mismatched).toEqual([]);
      expect(isClean(report)).toBe(true);
      // ModelScope's text tower is built without text_projection (stdlib/models/clip/config.ts)
      expect(report.absent).toEqual([]);
      expect(modelParameters(build).some((p) => p.name === 'clip.text_projection')).toBe(false);
      expect(report.ignored.flatMap((i) => i.keys)).toEqual(['text_encoder/text_model.embeddings.position_ids']);
      expect(report.matched.length).toBe(modelParameters(build).length);
      expect(ckpt.files.map((f) => f.slice(fixture.dir.length + 1)).sort()).toEqual([
        'text_encoder/model-00001-of-00002.safetensors',
        'text_encoder/model-00002-of-00002.safetensors',
        'unet/diffusion_pytorch_model.fp16.safetensors',
        'vae/diffusion_pytorch_model.bin',
      ]);
    } finally {
      await ckpt.close();
    }
  });

  it("lands the decoder's up_blocks (deepest first) on LDM's up.{level} by value, and reshapes linear attention to 1x1 convs", async () => {
    const ckpt = await openModelCheckpoint(build, fixture.dir);
    try {
      const keyOf = checkpointKey(build);
      const levels = build.vae.chMult.length;
      const shapeOf = (name: string) => modelParameters(build).find((p) => p.name === name)!.shape;
      for (let level = 0; level < levels; level++) {
        const name = `vae.decoder.up.${level}.block.0.conv1.weight`;
        const tensor = ckpt.source.get(keyOf(name))!;
        expect(values(tensor.data as Float32Array), name).toEqual(Array.from(valuesOf(`decoder.up_blocks.${levels - 1 - level}.resnets.0.conv1.weight`, shapeOf(name))));
      }
      const up = ckpt.source.get(keyOf('vae.decoder.up.3.upsample.conv.weight'))!;
      expect(values(up.data as Float32Array)).toEqual(Array.from(valuesOf('decoder.up_blocks.0.upsamplers.0.conv.weight', shapeOf('vae.decoder.up.3.upsample.conv.weight'))));
      // the old `query` Linear [C, C] is the 1x1 conv q [C, C, 1, 1]: same bytes, handed over as a range
      const q = ckpt.source.get(keyOf('vae.encoder.mid.attn_1.q.weight'))!;
      const c = build.vae.ch * build.vae.chMult[levels - 1];
      expect(q.shape).toEqual([c, c, 1, 1]);
      expect(q.external).toBeDefined();
      expect(Array.from(fileBytes(join(fixture.dir, 'vae', 'diffusion_pytorch_model.bin'), q.external!.offset, q.external!.length))).toEqual(Array.from(valuesOf('encoder.mid_block.attentions.0.query.weight', [c, c])));
      // transformer_in's Linear proj_in -> vplc's Conv1d [o, i, 1], converted from fp16
      const projIn = ckpt.source.get(keyOf('unet.init_attn.0.proj_in.weight'))!;
      expect(projIn.shape).toEqual([256, 64, 1]);
      expect(values(projIn.data as Float32Array)).toEqual(Array.from(valuesOf('transformer_in.proj_in.weight', [256, 64])));
    } finally {
      await ckpt.close();
    }
  });

  it("concatenates CLIPTextModel's q_proj, k_proj and v_proj into open_clip's in_proj tensors", async () => {
    const ckpt = await openModelCheckpoint(build, fixture.dir);
    try {
      const keyOf = checkpointKey(build);
      const w = build.text.text.width;
      const layer = 'text_model.encoder.layers.22.self_attn';
      const weight = ckpt.source.get(keyOf('clip.transformer.resblocks.22.attn.in_proj_weight'))!;
      expect(weight.shape).toEqual([3 * w, w]);
      const parts = ['q_proj', 'k_proj', 'v_proj'].flatMap((p) => Array.from(valuesOf(`${layer}.${p}.weight`, [w, w])));
      expect(values(weight.data as Float32Array)).toEqual(parts);
      const bias = ckpt.source.get(keyOf('clip.transformer.resblocks.22.attn.in_proj_bias'))!;
      expect(values(bias.data as Float32Array)).toEqual(['q_proj', 'k_proj', 'v_proj'].flatMap((p) => Array.from(valuesOf(`${layer}.${p}.bias`, [w]))));
      expect(ckpt.report.matched.find((m) => m.name === 'clip.transformer.resblocks.22.attn.in_proj_weight')).toMatchObject({ load: 'transformed', keys: ['q_proj', 'k_proj', 'v_proj'].map((p) => `text_encoder/${layer}.${p}.weight`) });
      // ModelScope's text tower has 23 layers: there is no 24th to map
      expect(build.text.text.layers).toBe(23);
      expect(ckpt.source.get(keyOf('clip.transformer.resblocks.23.ln_1.weight'))).toBeUndefined();
    } finally {
      await ckpt.close();
    }
  });
});

describe('the strict report (tiny_vc, lightning keys as safetensors)', () => {
  const build = modelBuild('tiny_vc');
  const good = lightningTensors(build);
  const key = (name: string) => lightningKey(build, name);

  it('reports a missing key, an unexpected key with its "did you mean", a shape and an int dtype mismatch together, with the file', async () => {
    const gone = key('unet.out.2.bias');
    const typo = key('vae.decoder.conv_in.weight');
    const wrongShape = key('clip.ln_final.weight');
    const ints = key('unet.time_embed.0.bias');
    const broken: FixtureTensor[] = good
      .filter((t) => t.key !== gone)
      .map((t) => (t.key === typo ? { ...t, key: typo.replace('conv_in.weight', 'conv_in.weights') } : t))
      .map((t) => (t.key === wrongShape ? { ...t, shape: [t.shape[0] + 1] } : t))
      .map((t) => (t.key === ints ? { ...t, dtype: 'I64' as const } : t));
    broken.push({ key: 'model_ema.decay', shape: [], dtype: 'F32' });
    const file = join(dir, 'broken.safetensors');
    await writeSafetensorsFile(file, broken);
    const ckpt = await openModelCheckpoint(build, file);
    try {
      const { report } = ckpt;
      expect(isClean(report)).toBe(false);
      expect(report.missing.map((m) => [m.name, m.looked])).toEqual([
        ['unet.out.2.bias', [gone]],
        ['vae.decoder.conv_in.weight', [typo]],
      ]);
      expect(report.unexpected).toEqual([{ key: `${typo}s`, component: 'vae', file, dtype: 'F32', shape: expect.any(Array), didYouMean: typo }]);
      expect(report.mismatched.map((m) => [m.kind, m.name, m.file])).toEqual([
        ['dtype', 'unet.time_embed.0.bias', file],
        ['shape', 'clip.ln_final.weight', file],
      ]);
      expect(report.ignored.flatMap((i) => i.keys)).toContain('model_ema.decay');
      // one VPL7030 names every kind of problem, the file and a fix
      const error = loadReportError(report)!;
      expect(error).toBeInstanceOf(VplError);
      expect(error.code).toBe('VPL7030');
      expect(error.file).toBe(file);
      expect(error.message).toMatch(/missing 2 parameters: unet\.out\.2\.bias \[4\] \(looked for model\.diffusion_model\.out\.2\.bias\)/);
      expect(error.message).toMatch(/unexpected 1 key: first_stage_model\.decoder\.conv_in\.weights F32 \[.*\] in .*broken\.safetensors \(did you mean first_stage_model\.decoder\.conv_in\.weight\?\)/);
      expect(error.message).toMatch(/1 shape mismatch: clip\.ln_final\.weight wants \[64\], .* gives \[65\]/);
      expect(error.message).toMatch(/1 dtype mismatch: unet\.time_embed\.0\.bias wants float32, .* is I64/);
      // matched tensors are still served; the broken ones are not
      expect(ckpt.source.get(checkpointKey(build)('unet.out.2.weight'))).toBeDefined();
      expect(ckpt.source.get(checkpointKey(build)('clip.ln_final.weight'))).toBeUndefined();
    } finally {
      await ckpt.close();
    }
  });

  it('feeds a ParameterStore: no problems, frozen tensors as external data of the file', async () => {
    const file = join(dir, 'tiny.safetensors');
    await writeSafetensorsFile(file, good);
    const ckpt = await openModelCheckpoint(build, file);
    try {
      expect(isClean(ckpt.report)).toBe(true);
      const params = new ParameterStore({ weights: ckpt.source, keyOf: checkpointKey(build) });
      const graph = new Graph('text');
      const b = new Builder(graph);
      b.within('clip', () => buildClipTextEncoder({ b, params }, build.text, b.input('tokens', [1, build.text.text.contextLength], 'int64')));
      expect(params.problems()).toEqual([]);
      const ln = [...graph.initializers].find(([v]) => v.name === 'clip.transformer.resblocks.1.ln_2.weight')![1];
      expect(ln.external).toMatchObject({ file, length: 4 * build.text.text.width });
      expect(Array.from(fileBytes(file, ln.external!.offset, ln.external!.length))).toEqual(Array.from(valuesOf('cond_stage_model.model.transformer.resblocks.1.ln_2.weight', [build.text.text.width])));
    } finally {
      await ckpt.close();
    }
  });

  it('unwraps a DeepSpeed checkpoint (module._forward_module.*)', async () => {
    const file = join(dir, 'deepspeed.ckpt');
    await writeTorchFile(file, good, 'deepspeed');
    const ckpt = await openModelCheckpoint(build, file);
    try {
      expect(ckpt.layout).toBe('lightning (deepspeed)');
      expect(isClean(ckpt.report)).toBe(true);
    } finally {
      await ckpt.close();
    }
  });

  it('refuses a folder that is not a diffusers folder, and a path that does not exist', async () => {
    await expect(openModelCheckpoint(build, dir)).rejects.toMatchObject({ code: 'VPL7130', message: expect.stringMatching(/no model_index\.json/) });
    await expect(openModelCheckpoint(build, join(dir, 'nope.ckpt'))).rejects.toMatchObject({ code: 'VPL7001' });
  });
});

// tools/checkpoints/synthetic.py writes the real layouts from manifests derived from the
// reference code independently of the key maps: its manifests (pure Python) and, with Debian's
// python3-torch, its files must open cleanly.
const synthetic = fileURLToPath(new URL('../../../tools/checkpoints/synthetic.py', import.meta.url));
const runs = (args: string[]) => spawnSync(PYTHON, [synthetic, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
const haveSynthetic = existsSync(PYTHON) && existsSync(synthetic) && runs(['--layout', 'videocrafter2-ckpt', '--size', 'reduced', '--manifest', '--components', 'schedule']).status === 0;
const haveTorch = haveSynthetic && torchAvailable(['torch', 'numpy']).ok;

interface ManifestRow {
  key: string;
  shape: number[];
  dtype: ListedTensor['dtype'];
  file?: string;
}

/** A layout's manifest as source keys (a diffusers folder's keys are `<folder>/<key>`). */
function manifest(layout: string): ListedTensor[] {
  const run = runs(['--layout', layout, '--size', 'reduced', '--manifest']);
  expect(run.status, run.stderr).toBe(0);
  return run.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as ManifestRow)
    .map((r) => ({ key: r.file && layout.endsWith('diffusers') ? `${r.file.split('/')[0]}/${r.key}` : r.key, shape: r.shape, dtype: r.dtype }));
}

describe.skipIf(!haveSynthetic)("the key maps against tools/checkpoints/synthetic.py's manifests (skipped without python3 or the script)", () => {
  it.each([
    ['videocrafter2-ckpt', 'videocrafter2', 'lightning'],
    ['videocrafter2-safetensors', 'videocrafter2', 'lightning'],
    ['modelscope-diffusers', 'modelscope', 'diffusers'],
  ] as const)('%s maps cleanly onto the reduced %s build', (layout, model, keyLayout) => {
    const report = reportForListing(reducedBuild(model), keyLayout, manifest(layout));
    expect(report.missing).toEqual([]);
    expect(report.unexpected).toEqual([]);
    expect(report.mismatched).toEqual([]);
    expect(report.matched.length).toBe(modelParameters(reducedBuild(model)).length - report.absent.length);
  }, 60_000);
});

interface Checksum {
  sum: number;
  first: number[];
}

describe.skipIf(!haveTorch)("synthetic.py's reduced files (skipped without Debian's python3-torch)", () => {
  const out = join(dir, 'synthetic');
  let sums: { vc: Record<string, Checksum>; ms: Record<string, Checksum> };
  beforeAll(() => {
    const write = (args: string[]) => {
      const run = runs([...args, '--size', 'reduced', '--dtype', 'fp16']);
      expect(run.status, run.stderr).toBe(0);
    };
    write(['--layout', 'videocrafter2-ckpt', '--out', join(out, 'model.ckpt'), '--checksums', join(out, 'vc.json')]);
    write(['--layout', 'modelscope-diffusers', '--variant', 'fp16', '--out', join(out, 'ms'), '--checksums', join(out, 'ms.json')]);
    sums = { vc: JSON.parse(readFileSync(join(out, 'vc.json'), 'utf8')), ms: JSON.parse(readFileSync(join(out, 'ms.json'), 'utf8')) };
  }, 120_000);

  const sum = (data: Float32Array) => data.reduce((n, v) => n + v, 0);
  const close = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));

  it('opens the Lightning .ckpt (torch.save) cleanly, with the values the writer wrote', async () => {
    const build = reducedBuild('videocrafter2');
    const ckpt = await openModelCheckpoint(build, join(out, 'model.ckpt'));
    try {
      expect(isClean(ckpt.report)).toBe(true);
      for (const name of ['unet.input_blocks.4.1.proj_in.weight', 'vae.decoder.up.2.block.1.conv2.bias', 'clip.transformer.resblocks.0.ln_2.weight']) {
        const data = ckpt.source.get(checkpointKey(build)(name))!.data as Float32Array;
        const expected = sums.vc[lightningKey(build, name)];
        expect(Array.from(data.slice(0, expected.first.length)), name).toEqual(expected.first);
        expect(close(sum(data), expected.sum), name).toBe(true);
      }
    } finally {
      await ckpt.close();
    }
  });

  it('opens the diffusers folder (fp16 variant) cleanly: the reversed decoder and the packed in_proj hold the written values', async () => {
    const build = reducedBuild('modelscope');
    const ckpt = await openModelCheckpoint(build, join(out, 'ms'), { variant: 'fp16' });
    try {
      expect(isClean(ckpt.report)).toBe(true);
      const get = (name: string) => ckpt.source.get(checkpointKey(build)(name))!.data as Float32Array;
      const decoder = get('vae.decoder.up.0.block.2.conv1.weight');
      const written = sums.ms['decoder.up_blocks.3.resnets.2.conv1.weight'];
      expect(Array.from(decoder.slice(0, 4))).toEqual(written.first);
      expect(close(sum(decoder), written.sum)).toBe(true);
      const packed = get('clip.transformer.resblocks.5.attn.in_proj_weight');
      const parts = ['q_proj', 'k_proj', 'v_proj'].map((p) => sums.ms[`text_model.encoder.layers.5.self_attn.${p}.weight`]);
      expect(Array.from(packed.slice(0, 4))).toEqual(parts[0].first);
      expect(close(sum(packed), parts.reduce((n, p) => n + p.sum, 0))).toBe(true);
    } finally {
      await ckpt.close();
    }
  });
});
