// The memory model of compiler/memory-estimate.ts on small hand-built graphs whose sizes follow
// from their shapes: every kind lands where the model says, the sessions add up without
// sharing, and a full-size weight known by shape only is costed without being allocated.
import { describe, expect, it } from 'vitest';
import {
  ARENA_EXTRA,
  CUDA_CONTEXT_BYTES,
  computePrecision,
  estimateMemory,
  graphMemory,
  inputKind,
  ORT_BYTES_PER_NODE,
} from '../../compiler/memory-estimate.ts';
import { Builder } from '../../tensor/ir/builder.ts';
import { Graph } from '../../tensor/ir/graph.ts';
import type { Program } from '../../tensor/program/program.ts';
import type { ParameterInfo } from '../../stdlib/nn/parameters.ts';

const KiB = 1024;
const LORA = 'unet.w.lora_A.weight';

/**
 * x [4, 256] -> relu -> relu -> matmul with the frozen w [256, 1024] -> out [4, 1024], plus the
 * LoRA factor, its AdamW moment and its accumulator as inputs (8 x 256 float32 = 8 KiB each).
 * In graph order the peak is the matmul: its input h2 (4 KiB) and the output (16 KiB).
 */
function chain(name: string, weight: Float32Array): Graph {
  const g = new Graph(name);
  const b = new Builder(g);
  const x = b.input('x', [4, 256]);
  for (const input of [LORA, `adam.m.${LORA}`, `acc.${LORA}`]) b.input(input, [8, 256]);
  const w = g.addInitializer('unet.w', { dtype: 'float32', shape: [256, 1024] }, { data: weight });
  g.markOutput(b.matmul(b.relu(b.relu(x)), w));
  return g;
}

const lora: ParameterInfo = { name: LORA, shape: [8, 256], dtype: 'float32', trainable: true, init: { kind: 'zeros' }, source: 'init' };
const program = (...graphs: Graph[]) => ({ program: { name: 'p', graphs: Object.fromEntries(graphs.map((g) => [g.name, g])), schedule: [], weights: [] } as Program, trainable: [lora] });

describe('graphMemory', () => {
  it('puts each input, weight and live tensor in its kind', () => {
    const g = chain('train_step', new Float32Array(256 * 1024));
    const m = graphMemory(g, new Set([LORA]));
    expect(m).toMatchObject({ weights: 1024 * KiB, trainable: 8 * KiB, optimizer: 8 * KiB, accumulators: 8 * KiB, inputs: 4 * KiB });
    expect(m.outputs).toBe(16 * KiB);
    expect(m.activations).toBe(4 * KiB);
    // onnxruntime's arena holds a multiple of the working set on top (the first run's chunks, then the pattern's block)
    expect(m.arena).toBe(ARENA_EXTRA * (m.outputs + m.activations));
    expect(m.total).toBe(m.weights + m.trainable + m.optimizer + m.accumulators + m.inputs + m.outputs + m.activations + m.arena);
    expect(m.nodes).toBe(3);
    expect(m.peakNode).toBe(g.nodes[2]!.name);
  });

  it('names the kinds of state by the lowerings\' input names', () => {
    const trainable = new Set([LORA]);
    expect(inputKind(LORA, trainable)).toBe('trainable');
    expect(inputKind(`adam.v.${LORA}`, trainable)).toBe('optimizer');
    expect(inputKind('adam.step', trainable)).toBe('optimizer');
    expect(inputKind(`ema.${LORA}`, trainable)).toBe('optimizer');
    expect(inputKind(`acc.${LORA}`, trainable)).toBe('accumulators');
    expect(inputKind('latents', trainable)).toBe('inputs');
  });
});

describe('estimateMemory', () => {
  const shared = new Float32Array(256 * 1024);
  const lowered = program(chain('sample_step', shared), chain('train_step', shared));

  it('adds up the sessions without sharing their weights; the host holds the shared array once', () => {
    const e = estimateMemory(lowered, { device: 'cuda', precision: 'fp32' });
    const per = e.graphs.map((g) => g.total);
    expect(e.sessions).toEqual(['sample_step', 'train_step']);
    expect(e.sessionBytes).toBe(per[0]! + per[1]!);
    expect(e.graphs.every((g) => g.weights === 1024 * KiB)).toBe(true);
    expect(e.host.weights).toBe(1024 * KiB);
    // 1 MiB is not under the embedding threshold: the models carry no weights
    expect(e.host.models).toBe(0);
    expect(e.host.sessions).toBe(6 * ORT_BYTES_PER_NODE);
    // LoRA twice (the state and the store's initial values), the moment and accumulator once
    expect(e.host.state).toBe(2 * 8 * KiB + 8 * KiB + 8 * KiB);
    expect(e.contextBytes).toBe(CUDA_CONTEXT_BYTES);
    expect(e.totalBytes).toBe(e.sessionBytes + CUDA_CONTEXT_BYTES);
  });

  it('on cpu has no CUDA context and counts the host RAM in the total', () => {
    const e = estimateMemory(lowered, { device: 'cpu', precision: 'fp16' });
    expect(e.contextBytes).toBe(0);
    expect(e.compute).toBe('fp32');
    expect(e.precision).toBe('fp16');
    expect(e.totalBytes).toBe(e.sessionBytes + e.host.total);
  });

  it('costs a full-size weight known by shape only without allocating it', () => {
    // 1.4 B float32 parameters (5.6 GB): allocating them would fail this test's process
    const g = new Graph('train_step');
    const b = new Builder(g);
    const w = g.addInitializer('unet.big', { dtype: 'float32', shape: [40_000, 35_000] }, { lazy: { key: 'model.diffusion_model.big' } });
    g.markOutput(b.matmul(b.input('x', [1, 40_000]), w));
    const e = estimateMemory(program(g), { device: 'cuda', precision: 'fp16' });
    expect(e.graphs[0]!.weights).toBe(40_000 * 35_000 * 4);
    expect(e.host.weights).toBe(40_000 * 35_000 * 4);
    expect(e.totalBytes).toBeGreaterThan(5.6e9);
  });

  it('leaves weights onnxruntime reads from a file out of the host RAM', () => {
    const g = new Graph('decode_all');
    const b = new Builder(g);
    const w = g.addInitializer('vae.w', { dtype: 'float32', shape: [64, 64] }, { external: { file: 'vae.safetensors', offset: 0, length: 64 * 64 * 4 } });
    g.markOutput(b.matmul(b.input('z', [1, 64]), w));
    const e = estimateMemory(program(g), { device: 'cuda', precision: 'fp32' });
    expect(e.graphs[0]!.weights).toBe(16 * KiB);
    expect(e.host.weights).toBe(0);
    expect(e.host.models).toBe(0);
  });
});

describe('computePrecision', () => {
  it('is fp32 on cpu whatever the pipeline asks, and the pipeline\'s precision on cuda', () => {
    expect(computePrecision({ device: 'cpu', precision: 'bf16' })).toBe('fp32');
    expect(computePrecision({ device: 'cuda', precision: 'bf16' })).toBe('bf16');
    expect(computePrecision({ device: 'cuda', precision: 'fp32' })).toBe('fp32');
  });
});
