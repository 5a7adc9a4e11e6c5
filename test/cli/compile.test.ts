import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { vplc } from './run-vplc.ts';

const PYTHON = '/usr/bin/python3';
const hasOnnx = spawnSync(PYTHON, ['-c', 'import onnx'], { encoding: 'utf8' }).status === 0;

describe('vplc compile', () => {
  const out = mkdtempSync(join(tmpdir(), 'vplc-compile-'));

  it('writes one ONNX model per graph and program.json for the tiny demo pipeline', async () => {
    const result = vplc(['compile', 'pipelines/demo.vpl', '--tiny', '--out', out]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/train_step\.onnx\s+\d+ nodes\s+[\d.]+[kMBT]?FLOP\s+peak activations [\d.]+ (KiB|MiB)/);
    const program = JSON.parse(readFileSync(join(out, 'program.json'), 'utf8')) as { graphs: Record<string, { file: string; inputs: { name: string }[] }>; schedule: unknown[] };
    expect(Object.keys(program.graphs).sort()).toEqual(['decode_all', 'sample_step', 'text_encode', 'train_step', 'watch']);
    expect(program.schedule.length).toBeGreaterThan(0);
    // onnxruntime loads what was written, from the folder (external data resolved beside it)
    for (const graph of Object.values(program.graphs)) {
      const session = await ort.InferenceSession.create(join(out, graph.file), { graphOptimizationLevel: 'disabled' });
      expect([...session.inputNames].sort()).toEqual(graph.inputs.map((i) => i.name).sort());
      await session.release();
    }
  }, 180_000);

  it('compiles the tiny world without --tiny from its shipped weights (frozen weights listed by checkpoint key)', () => {
    const shipped = mkdtempSync(join(tmpdir(), 'vplc-compile-shipped-'));
    const result = vplc(['compile', 'pipelines/demo.vpl', '--out', shipped]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const read = (dir: string) => JSON.parse(readFileSync(join(dir, 'program.json'), 'utf8')) as { hash: string; weights: { name: string; source: { key: string } }[] };
    const program = read(shipped);
    expect(program.weights.find((w) => w.name === 'clip.token_embedding.weight')?.source.key).toBe('cond_stage_model.model.token_embedding.weight');
    expect(program.weights.some((w) => w.source.key.startsWith('model.diffusion_model.'))).toBe(true);
    // the --tiny program (random init) has no checkpoint weights, and computes something else
    expect(read(out).weights).toEqual([]);
    expect(read(out).hash).not.toBe(program.hash);
  }, 180_000);

  it.skipIf(!hasOnnx)('writes models that pass onnx.checker (skipped when Debian python3-onnx is missing)', () => {
    const files = ['text_encode.onnx', 'sample_step.onnx', 'train_step.onnx'].map((f) => join(out, f));
    expect(files.every((f) => existsSync(f))).toBe(true);
    const script = 'import sys, onnx\nfor p in sys.argv[1:]: onnx.checker.check_model(p)\nprint("ok")';
    const r = spawnSync(PYTHON, ['-c', script, ...files], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('ok');
  });

  it('compiles a full-size model without its checkpoint: the frozen weights are lazy references', () => {
    const dir = join(out, 'full');
    const result = vplc(['compile', 'pipelines/pickscore.vpl', 'objective.reward=1.0 * brightness', '--out', dir]);
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/note: .*full-size networks built from their configs without reading the checkpoint of 'videocrafter2'/);
    expect(result.stdout).toMatch(/weights\.bin +\d+\.\d GiB of frozen weights: not written/);
    const program = JSON.parse(readFileSync(join(dir, 'program.json'), 'utf8')) as { externalData: { bytes: number; written?: boolean; lazyTensors?: number } };
    // VideoCrafter2's UNet, VAE and text tower in fp32: about 1.8 B parameters, once each although two graphs use them
    expect(program.externalData.bytes).toBeGreaterThan(6.5e9);
    expect(program.externalData.bytes).toBeLessThan(8e9);
    expect(program.externalData.written).toBe(false);
    expect(existsSync(join(dir, 'weights.bin'))).toBe(false);
    for (const graph of ['text_encode', 'sample_step', 'train_step', 'decode_all']) expect(existsSync(join(dir, `${graph}.onnx`))).toBe(true);
  }, 120_000);

  it('diff --graph compares two full-size pipelines without their checkpoints', () => {
    const result = vplc(['diff', 'pipelines/pickscore.vpl', 'pipelines/aesthetic.vpl', '--graph']);
    expect(result.status).toBe(2); // changed
    expect(result.stdout).toMatch(/compiled graphs:/);
    expect(result.stdout).toMatch(/train_step +[\d.]+T -> [\d.]+T FLOP/);
  }, 120_000);

  it("compiles T2V-Turbo's HPS + ViCLIP mix at full size, each reward reading the prompt through its own text tower", () => {
    const result = vplc(['compile', 'pipelines/t2v_turbo_vc2.vpl', '--out', join(out, 'turbo-full')]);
    expect(result.status, result.stderr).toBe(0);
    const program = JSON.parse(readFileSync(join(out, 'turbo-full', 'program.json'), 'utf8')) as { graphs: Record<string, { inputs: { name: string; shape: number[] }[] }> };
    const inputs = (graph: string) => program.graphs[graph]!.inputs.filter((i) => /^(tokens|text_embed)/.test(i.name)).map((i) => `${i.name} [${i.shape.join(', ')}]`);
    // ViCLIP's context is 32 tokens, HPS's (open_clip) 77; both embed in their own 768/1024-d spaces
    expect(inputs('text_encode')).toEqual(['tokens [1, 77]', 'tokens.hps [1, 77]', 'tokens.viclip [1, 32]']);
    expect(inputs('train_step')).toEqual(['text_embed.hps [1, 1024]', 'text_embed.viclip [1, 768]']);
  }, 180_000);
});

describe('vplc explain --graph', () => {
  it('reports parameters, nodes, FLOPs and peak activation memory of each compiled graph', () => {
    const result = vplc(['explain', 'pipelines/demo.vpl', '--graph', '--tiny', '--json']);
    expect(result.status).toBe(0);
    const json = JSON.parse(result.stdout) as { graphs: { parameters: { total: number; trainable: number }; graphs: { graph: string; nodes: number; flops: number; peakActivationBytes: number }[] } };
    const { parameters, graphs } = json.graphs;
    expect(parameters.trainable).toBeGreaterThan(0);
    expect(parameters.trainable).toBeLessThan(parameters.total / 10); // LoRA only
    const train = graphs.find((g) => g.graph === 'train_step')!;
    const sample = graphs.find((g) => g.graph === 'sample_step')!;
    // one training step runs the sampler step with gradient, the decoder and the reward: it costs more
    expect(train.flops).toBeGreaterThan(sample.flops);
    expect(train.peakActivationBytes).toBeGreaterThan(sample.peakActivationBytes);
  }, 180_000);
});

describe('--tiny on a full-size model: the same shrink as `vplc run --tiny`', () => {
  // Before, these lowered the full-size networks (>1B parameters, random-initialised in JS)
  // for minutes; the timeouts below catch that coming back.
  it('explain --graph --tiny on VideoCrafter2 compiles small networks and prints the notes', () => {
    const result = vplc(['explain', 'pipelines/aesthetic.vpl', '--graph', '--tiny'], { timeoutMs: 60_000 });
    expect(result.status).toBe(0);
    expect(result.stderr).toContain('note: videocrafter2: random-initialised tiny networks of its family (UNet 32 channels, tiny VAE, tiny CLIP)\n');
    expect(result.stderr).toContain('note: size 320x512 -> 32x32, frames 12 -> 4\n');
    expect(result.stderr).toContain('note: reward aesthetic -> tiny_aesthetic (random-initialised stand-in of the same kind)\n');
    // the resolved pipeline is shown as written; the graph figures are the small build's
    expect(result.stdout).toMatch(/latent shape +\[4, 12, 40, 64\]/);
    const parameters = /graph figures \(--tiny[^\n]*\n +parameters ([\d.]+)([kM]?),/.exec(result.stdout);
    expect(parameters).not.toBeNull();
    expect(parameters![2] === 'k' || (parameters![2] === 'M' && Number(parameters![1]) < 20)).toBe(true);
  }, 60_000);

  it('explain --graph --tiny --json puts the notes of a consistency pipeline in graphs.notes', () => {
    const result = vplc(['explain', 'pipelines/t2v_turbo_vc2.vpl', '--graph', '--tiny', '--json'], { timeoutMs: 60_000 });
    expect(result.status).toBe(0);
    const json = JSON.parse(result.stdout) as { graphs: { notes: string[]; parameters: { total: number }; graphs: { graph: string }[] } };
    expect(json.graphs.notes).toContain('size 320x512 -> 32x32, frames 16 -> 8');
    expect(json.graphs.notes).toContain('reward hps -> tiny_text_align (random-initialised stand-in of the same kind)');
    expect(json.graphs.parameters.total).toBeLessThan(20e6);
    expect(json.graphs.graphs.map((g) => g.graph)).toContain('consistency_step');
  }, 60_000);

  it('compile --tiny on ModelScope writes the small graphs, at the shrunk latent shape', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vplc-compile-ms-'));
    const result = vplc(['compile', 'pipelines/modelscope_aesthetic.vpl', '--tiny', '--out', dir], { timeoutMs: 60_000 });
    expect(result.status).toBe(0);
    expect(result.stderr).toContain('note: modelscope: random-initialised tiny networks of its family (UNet 32 channels, tiny VAE, tiny CLIP)\n');
    expect(result.stderr).toContain('note: size 384x384 -> 32x32, frames 16 -> 4\n');
    expect(result.stderr).toContain('note: sampler steps 25 -> 2\n');
    const program = JSON.parse(readFileSync(join(dir, 'program.json'), 'utf8')) as { graphs: Record<string, { inputs: { name: string; shape: number[] }[] }> };
    const latents = program.graphs.sample_step!.inputs.find((i) => i.name === 'latents')!;
    expect(latents.shape).toEqual([1, 4, 4, 8, 8]); // batch 1, 4 channels, 4 frames, 32x32 / 4
  }, 60_000);

  it('leaves tiny_vc pipelines as they are: no notes', () => {
    const result = vplc(['explain', 'pipelines/demo.vpl', '--graph', '--tiny', '--json'], { timeoutMs: 60_000 });
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('');
    expect((JSON.parse(result.stdout) as { graphs: object }).graphs).not.toHaveProperty('notes');
  }, 60_000);
});
