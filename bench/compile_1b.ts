// Compile time and compiler memory for a training graph with about 1 B parameters, without
// materialising the weights: build -> autodiff -> AdamW -> passes -> ONNX bytes.
//
//   node --expose-gc --import tsx bench/compile_1b.ts [--variant full,lora] [--layers 8] [--dim 4096] [--check]
//
// The model is a stack of `layers` residual MLP blocks (LayerNorm, Linear dim -> 4 dim, GELU,
// Linear 4 dim -> dim) over x [1, 256, dim]: 8 x 4096 gives 1.07 B parameters.
//   full: every parameter trainable (a graph input: no data); gradients of all; AdamW state as
//         graph inputs and outputs.
//   lora: the base weights frozen as external-data initializers pointing into a safetensors file
//         that is never read (offsets computed from the header), a rank-16 LoRA on both linears of
//         every block is trained.
// Heap figures are V8's heapUsed after a GC (when --expose-gc is given) at the end of each phase
// and the process peak RSS (VmHWM). --check runs onnx.checker on the emitted model (without
// loading external data) where Debian's python3-onnx is installed.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gradients } from '../tensor/autodiff/grad.ts';
import { emitModel } from '../tensor/emit/onnx.ts';
import { Builder } from '../tensor/ir/builder.ts';
import { Graph, numel, type Value } from '../tensor/ir/graph.ts';
import { eliminateCommonSubexpressions, eliminateDeadCode, foldConstants, peakMemory, scheduleForMemory } from '../tensor/passes/index.ts';
import { adamw } from '../tensor/optim/adamw.ts';
import { gelu, init, layerNorm, linear, type NN, parameter, ParameterStore, type WeightSource } from '../stdlib/nn/index.ts';
import { load, machine, MiB, peakRss, PYTHON } from './common.ts';

const { values } = parseArgs({
  options: {
    variant: { type: 'string', default: 'full,lora' },
    layers: { type: 'string', default: '8' },
    dim: { type: 'string', default: '4096' },
    tokens: { type: 'string', default: '256' },
    rank: { type: 'string', default: '16' },
    check: { type: 'boolean', default: false },
  },
});
const layers = Number(values.layers);
const dim = Number(values.dim);
const tokens = Number(values.tokens);
const rank = Number(values.rank);
const gc = (globalThis as { gc?: () => void }).gc;

function heap(): number {
  gc?.();
  return process.memoryUsage().heapUsed;
}

/**
 * A weight source that describes a safetensors file of the frozen base weights without
 * reading or writing it: every tensor is an external-data reference (file, offset, length).
 */
function virtualCheckpoint(file: string, shapes: Map<string, number[]>): WeightSource & { size: number } {
  const entries = new Map<string, { offset: number; length: number; shape: number[] }>();
  let offset = 4096; // room for the (virtual) header
  for (const [key, shape] of shapes) {
    const length = numel(shape) * 4;
    entries.set(key, { offset, length, shape });
    offset += length;
  }
  return {
    size: offset,
    description: file,
    keys: () => entries.keys(),
    get: (key) => {
      const e = entries.get(key);
      return e && { dtype: 'float32', shape: e.shape, external: { file, offset: e.offset, length: e.length } };
    },
  };
}

function baseShapes(): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (let i = 0; i < layers; i++) {
    shapes.set(`blocks.${i}.norm.weight`, [dim]);
    shapes.set(`blocks.${i}.norm.bias`, [dim]);
    shapes.set(`blocks.${i}.fc1.weight`, [4 * dim, dim]);
    shapes.set(`blocks.${i}.fc1.bias`, [4 * dim]);
    shapes.set(`blocks.${i}.fc2.weight`, [dim, 4 * dim]);
    shapes.set(`blocks.${i}.fc2.bias`, [dim]);
  }
  return shapes;
}

/** linear + a trainable rank-r LoRA (lora_down zero-free kaiming, lora_up zeros), scale 1. */
function loraLinear(nn: NN, name: string, x: Value, out: number, lora: boolean): Value {
  const y = linear(nn, name, x, { out });
  if (!lora) return y;
  const { b } = nn;
  return b.within(`${name}.lora`, () => {
    const down = parameter(nn, 'down.weight', [rank, x.shape[x.rank - 1]], { init: init.kaimingUniform(), trainable: true });
    const up = parameter(nn, 'up.weight', [out, rank], { init: init.zeros(), trainable: true });
    return b.add(y, b.matmul(b.matmul(x, b.transpose(down, [1, 0])), b.transpose(up, [1, 0])));
  });
}

async function compile(variant: 'full' | 'lora') {
  const phases: { phase: string; seconds: number; heap: number }[] = [];
  let t = performance.now();
  const mark = (phase: string) => {
    const now = performance.now();
    phases.push({ phase, seconds: (now - t) / 1000, heap: heap() });
    t = performance.now();
  };
  heap();
  const heapStart = process.memoryUsage().heapUsed;
  const graph = new Graph(`mlp_stack_${variant}`);
  const b = new Builder(graph);
  const checkpoint = virtualCheckpoint('base_1b.safetensors', baseShapes());
  const store =
    variant === 'full'
      ? new ParameterStore({ trainable: true })
      : new ParameterStore({ trainable: false, weights: checkpoint, onMissing: 'init' }); // LoRA factors: seeded init
  const nn: NN = { b, params: store };
  let h = b.input('x', [1, tokens, dim]);
  for (let i = 0; i < layers; i++) {
    h = b.within(`blocks.${i}`, () => {
      const n = layerNorm(nn, 'norm', h);
      const up = gelu(b, loraLinear(nn, 'fc1', n, 4 * dim, variant === 'lora'));
      return b.add(h, loraLinear(nn, 'fc2', up, dim, variant === 'lora'));
    });
  }
  const target = b.input('target', [1, tokens, dim]);
  const loss = b.within('loss', () => {
    const d = b.sub(h, target);
    return b.reduceMean(b.mul(d, d), undefined, false);
  });
  graph.markOutput(loss);
  store.assertComplete();
  mark('build forward');

  const trainable = store.trainable();
  const byName = new Map(graph.inputs.map((v) => [v.name, v]));
  const params = trainable.map((p) => byName.get(p.name)!);
  const grads = gradients(graph, loss, params);
  mark('autodiff');

  const step = b.input('adam.step', [], 'int64');
  const slots = params.map((param) => ({ param, grad: grads.get(param)!, m: b.input(`adam.m.${param.name}`, param.shape), v: b.input(`adam.v.${param.name}`, param.shape) }));
  const update = adamw(b, slots, step, { lr: 1e-4 });
  for (const v of [...update.params, ...update.m, ...update.v, update.step]) graph.markOutput(v);
  mark('AdamW');

  await foldConstants(graph);
  eliminateCommonSubexpressions(graph);
  eliminateDeadCode(graph);
  scheduleForMemory(graph);
  mark('passes (fold, CSE, DCE, schedule)');

  const stateNames = new Set(slots.flatMap((s) => [s.param.name, s.m.name, s.v.name]));
  const memory = peakMemory(graph, { params: graph.inputs.filter((v) => stateNames.has(v.name)) });
  mark('liveness');

  const bytes = emitModel(graph);
  mark('emit ONNX');

  const counts = store.count();
  return { variant, phases, heapStart, bytes, counts, nodes: graph.nodes.length, memory, checkpointSize: checkpoint.size };
}

console.log(`machine: ${machine()}`);
console.log(`date: ${new Date().toISOString()}; load average ${load()}; ${gc ? 'heap after GC per phase' : 'no --expose-gc: heap figures include garbage'}`);
console.log(`model: ${layers} residual MLP blocks, dim ${dim} -> ${4 * dim} -> ${dim}, x [1, ${tokens}, ${dim}]`);
for (const variant of values.variant!.split(',') as ('full' | 'lora')[]) {
  const t0 = performance.now();
  const r = await compile(variant);
  const total = (performance.now() - t0) / 1000;
  console.log(`\n[${variant}] ${(r.counts.total / 1e9).toFixed(3)} B parameters, ${(r.counts.trainable / 1e6).toFixed(2)} M trainable; ${r.nodes} nodes`);
  for (const p of r.phases) console.log(`  ${p.phase.padEnd(36)} ${p.seconds.toFixed(3).padStart(8)} s   heap ${MiB(p.heap)}`);
  console.log(`  total compile ${total.toFixed(2)} s; heap at start ${MiB(r.heapStart)}, max after a phase ${MiB(Math.max(...r.phases.map((p) => p.heap)))}; peak RSS so far ${MiB(peakRss())}`);
  console.log(`  ONNX model: ${MiB(r.bytes.byteLength)} (weights ${variant === 'full' ? 'are graph inputs' : 'are external data in base_1b.safetensors'})`);
  console.log(`  liveness peak of one step (activations and outputs): ${MiB(r.memory.peakBytes)}; resident params + state: ${MiB(r.memory.paramBytes)}`);
  console.log(`  largest values alive at the peak: ${r.memory.liveAtPeak.slice(0, 3).map((v) => `${v.name} ${MiB(v.bytes)}`).join(', ')}`);
  if (values.check) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'vplc-1b-'));
    try {
      const file = path.join(dir, 'model.onnx');
      await writeFile(file, r.bytes);
      // the checker wants the external file to exist: a sparse file of the right size (no data written)
      if (r.variant === 'lora') {
        await writeFile(path.join(dir, 'base_1b.safetensors'), '');
        await truncate(path.join(dir, 'base_1b.safetensors'), r.checkpointSize);
      }
      const script = 'import onnx,sys; onnx.checker.check_model(sys.argv[1]); print("onnx.checker (path form, external data resolved next to the model): OK")';
      try {
        console.log(`  ${execFileSync(PYTHON, ['-c', script, file], { encoding: 'utf8' }).trim()}`);
      } catch (error) {
        console.log(`  onnx.checker failed: ${(error as Error).message.split('\n').slice(-3).join(' ')}`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
